//! `bag validate`: validate a bag in a folder or a zip file.

use std::path::Path;

use crate::bagit::source::BagSource;
use crate::bagit::{validate, Finding, Kind, ValidateOptions, ValidateReport};
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

/// Validates the bag at `bag` (a folder or a zip file). A zip that cannot be read at
/// all is an invalid bag (`zip-corrupt`), not a failure to run.
pub fn validate_bag(
    bag: &Path,
    opts: &ValidateOptions,
    limits: ZipLimits,
) -> Result<ValidateReport, Error> {
    let source = match open_source(bag, limits) {
        Ok(s) => s,
        Err(Error::Corrupt { path, detail }) => {
            return Ok(ValidateReport::unreadable(Finding::new(
                path.display().to_string(),
                Kind::ZipCorrupt,
                detail,
            )))
        }
        Err(e) => return Err(e),
    };
    validate(source.as_ref(), opts)
}

/// The zip limits to use outside any command that names an archive: those of the
/// archive at `CAIRN_ROOT`, or in the current folder, when there is one; else the
/// defaults.
pub fn ambient_zip_limits() -> Result<ZipLimits, Error> {
    let root = std::env::var_os("CAIRN_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    if !root.join(crate::config::CONFIG_FILE).is_file() {
        return Ok(ZipLimits::default());
    }
    let archive = crate::fs::archive::Archive::open(&root)?;
    archive
        .config
        .zip
        .limits()
        .map_err(|e| Error::Usage(format!("cairn.toml: {e}")))
}
