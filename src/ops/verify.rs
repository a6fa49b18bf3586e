//! `cairn verify`: one bag anywhere (a folder or a zip, inside the archive or not)
//! checked in full against its manifests and, with `--against`, against a register
//! entry. Reads only.

use std::path::Path;

use crate::error::Error;
use crate::fs::register::RegisterEntry;
use crate::ops::bag_check::{check_bag, BagCheck};

/// Checks a bag anywhere: full validation of every manifest and, with a register
/// entry, agreement with it. A zip is read with the limits of the archive at
/// `zip_limits_root` when there is one there, `env` laid over its cairn.toml
/// ([`crate::ops::bag_validate::zip_limits_at`]).
pub fn verify(
    bag: &Path,
    against: Option<&Path>,
    zip_limits_root: &Path,
    env: &crate::config::Env,
) -> Result<BagCheck, Error> {
    let entry = against.map(RegisterEntry::read).transpose()?;
    let limits = crate::ops::bag_validate::zip_limits_at(zip_limits_root, env)?;
    let source = match crate::fs::open_source(bag, limits) {
        Ok(s) => s,
        Err(Error::Corrupt { path, detail }) => {
            return Ok(BagCheck {
                findings: vec![crate::ops::bag_check::FixityFinding::new(
                    crate::ops::bag_check::FixityKind::Structure,
                    path.display().to_string(),
                    format!("zip-corrupt: {detail}"),
                )],
                errors: Vec::new(),
                files: 0,
                bytes: 0,
                algorithms: Vec::new(),
            })
        }
        Err(e) => return Err(e),
    };
    let mut check = check_bag(source.as_ref(), None, entry.as_ref())?;
    if let Some(entry) = &entry {
        if let Some(f) = different_item(source.as_ref(), entry, check.findings.len()) {
            check.findings.insert(0, f);
        }
    }
    Ok(check)
}

/// When the bag's bag-info.txt names another identifier (External-Identifier) or
/// another Payload-Oxum than the register entry: one finding saying so, shown before the
/// per-file details that follow from it (`follow`: how many there are).
///
/// An identifier is compared as the register and the bag record it: the register entry
/// names the item by its folder (`DC-Cam_D_0002`) and keeps its dc.identifier values
/// (`DC-Cam/D/0002`); bag-info.txt's External-Identifier is the first dc.identifier, or
/// the folder name when there is none. The bag is the same item when one of its
/// External-Identifier values is any of these.
fn different_item(
    source: &dyn crate::bagit::source::BagSource,
    entry: &RegisterEntry,
    follow: usize,
) -> Option<crate::ops::bag_check::FixityFinding> {
    let info = source.read("bag-info.txt").ok()?;
    let info = String::from_utf8_lossy(&info);
    let fields = |name: &str| -> Vec<String> {
        info.lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
            .collect()
    };
    let idents = fields("External-Identifier");
    let oxum = fields("Payload-Oxum").into_iter().next();
    let mut known: Vec<&str> = vec![entry.id.as_str()];
    let mut dc_identifiers = entry
        .dublin_core
        .strings(crate::metadata::Term::DC_IDENTIFIER);
    dc_identifiers.extend(
        entry
            .dublin_core
            .strings(crate::metadata::Term::DCTERMS_IDENTIFIER),
    );
    known.extend(dc_identifiers.iter().copied());
    let other_id = !idents.is_empty() && !idents.iter().any(|i| known.contains(&i.as_str()));
    let other_oxum = oxum.as_deref().is_some_and(|o| o != entry.payload_oxum);
    if !other_id && !other_oxum {
        return None;
    }
    let named = format!(
        "{}{}",
        entry.id,
        if dc_identifiers.is_empty() {
            String::new()
        } else {
            format!(" (dc.identifier {})", dc_identifiers.join(", "))
        }
    );
    let differs = [
        if other_id {
            format!(
                "this bag's External-Identifier is {}, the register entry names the item {named}",
                idents.join(", ")
            )
        } else {
            format!("the identifier is the same ({named})")
        },
        if other_oxum {
            format!(
                "this bag's Payload-Oxum is {}, the register entry records {}",
                oxum.as_deref().unwrap_or("(none)"),
                entry.payload_oxum
            )
        } else {
            format!("the Payload-Oxum is the same ({})", entry.payload_oxum)
        },
    ];
    let then = match follow {
        0 => "nothing else differs".to_string(),
        n => format!(
            "the {} below follow from that",
            crate::units::count(n as u64, "finding", "findings")
        ),
    };
    Some(crate::ops::bag_check::FixityFinding::new(
        crate::ops::bag_check::FixityKind::DifferentItem,
        "",
        format!(
            "the register entry {}.json describes a different item: {}; {then}",
            entry.id,
            differs.join("; "),
        ),
    ))
}
