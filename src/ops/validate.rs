//! `bag validate`: validate a bag in a folder or a zip file.

use std::path::Path;

use crate::bagit::source::BagSource;
use crate::bagit::{validate, ValidateOptions, ValidateReport};
use crate::error::Error;
use crate::fs::dir::DirSource;
use crate::fs::zip::{is_zip, ZipLimits, ZipSource};

/// Opens a bag: a folder, or a zip file read in place (never extracted).
pub fn open_source(path: &Path, limits: ZipLimits) -> Result<Box<dyn BagSource>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("open bag", path, e))?;
    if meta.is_file() {
        if is_zip(path) {
            return Ok(Box::new(ZipSource::open(path, limits)?));
        }
        return Err(Error::Usage(format!(
            "{} is a file but not a zip file; a bag is a folder or a zip of one",
            path.display()
        )));
    }
    Ok(Box::new(DirSource::open(path)?))
}

/// Validates the bag at `bag` (a folder or a zip file).
pub fn validate_bag(bag: &Path, opts: &ValidateOptions) -> Result<ValidateReport, Error> {
    let source = open_source(bag, ZipLimits::default())?;
    validate(source.as_ref(), opts)
}
