//! `bag validate`: validate a bag in a folder or a zip file.

use std::path::Path;

use crate::bagit::{validate, Finding, FindingKind, ValidateOptions, ValidateReport};
use crate::error::Error;
use crate::fs::open_source;
use crate::fs::zip::ZipLimits;

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
                FindingKind::ZipCorrupt,
                detail,
            )))
        }
        Err(e) => return Err(e),
    };
    validate(source.as_ref(), opts)
}

/// The zip limits to use outside any command that names an archive: those of the
/// archive at `root` (the CLI passes `CAIRN_ROOT`, or the current folder) when there is
/// one, with the variables of `env` laid over its cairn.toml; else the defaults.
pub fn zip_limits_at(root: &Path, env: &crate::config::Env) -> Result<ZipLimits, Error> {
    if !root.join(crate::config::CONFIG_FILE).is_file() {
        return Ok(ZipLimits::default());
    }
    let archive = crate::fs::archive::Archive::open_with(root, env)?;
    archive
        .config
        .zip
        .limits()
        .map_err(|e| Error::Usage(format!("cairn.toml: {e}")))
}
