//! `bag validate`: validate a bag on disk.

use std::path::Path;

use crate::bagit::{validate, ValidateOptions, ValidateReport};
use crate::error::Error;
use crate::fs::dir::DirSource;

/// Validates the bag in the folder `bag`.
pub fn validate_bag(bag: &Path, opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    let source = DirSource::open(bag)?;
    validate(&source, opts)
}
