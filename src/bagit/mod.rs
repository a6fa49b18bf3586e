//! BagIt (RFC 8493): paths, manifests, tag files and validation rules.
//!
//! Pure except through a [`source::BagSource`], which decides where bytes come from.

pub mod builder;
pub mod finding;
pub mod manifest;
pub mod path;
pub mod profile;
pub mod source;
pub mod tags;
pub mod validate;

pub use finding::{Finding, FindingKind};
pub use path::BagPath;
pub use tags::{BagInfo, Version};
pub use validate::{validate, validate_listed, Mode, ValidateOptions, ValidateReport};
