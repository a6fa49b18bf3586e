//! Descriptive metadata: Dublin Core records, from the batch sheet (`intake/metadata.csv`)
//! and item sidecars ([`SIDECAR_NAME`]), to metadata/dc.json and metadata/dc.xml (oai_dc).
//!
//! Pure: parses and renders bytes and strings; no filesystem, no clock, no environment.
//! Reading the files and deciding what a problem means for an ingest is the caller's job.
//!
//! The flow for one item: its sheet row ([`Sheet::row_for`], matched in NFC) overlaid by
//! its sidecar ([`DublinCore::overlay`], the sidecar wins term by term), then
//! [`validate_record`], then [`DublinCore::render_json`] and [`render_oai_dc`].
//!
//! Decisions that hold throughout:
//! - Values are kept byte for byte (after trimming surrounding whitespace): never
//!   Unicode-normalised, never re-cased. Only item *names* are compared in NFC.
//! - Term names are matched ignoring ASCII case and stored in DCMI's spelling.
//! - Parsers report every problem, not the first; validation problems are data.

pub mod dublin_core;
mod json;
pub mod oai_dc;
pub mod rules;
pub mod sheet;
pub mod sidecar;
pub mod stored;

pub use dublin_core::{DublinCore, Element, Namespace, Term, UnknownTerm};
pub use json::MemberProblem;
pub use oai_dc::{
    parse_oai_dc, render_oai_dc, OaiDcError, OaiDcProblem, OaiDcProblemKind, OAI_DC_NAMESPACE,
};
pub use rules::{oversized_values, validate_record, RecordProblem};
pub use sheet::{parse_sheet, same_item_name, Sheet, SheetError, SheetErrors, SheetRow};
pub use sidecar::{parse_sidecar, SidecarError, SidecarErrors, SIDECAR_NAME};
pub use stored::StoredDublinCore;
