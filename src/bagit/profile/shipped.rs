//! The profiles shipped with Cairn, byte for byte as their publishers published them
//! (profiles/ at the repository root; profiles/README.md names each source, commit
//! and licence). `--profile NAME` picks one by its short name.

/// A shipped profile.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    /// The short name for `--profile` and `[profiles]`.
    pub name: &'static str,
    /// The file name under profiles/.
    pub file: &'static str,
    pub text: &'static str,
    /// One line for `--help` and docs.
    pub about: &'static str,
}

/// Every shipped profile, in the order docs list them.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        name: "aptrust",
        file: "aptrust-v2.3.json",
        text: include_str!("../../../profiles/aptrust-v2.3.json"),
        about: "APTrust 2.3 (DART format, as APTrust publishes it)",
    },
    Shipped {
        name: "btr",
        file: "btr-bagit-profile-1.0.json",
        text: include_str!("../../../profiles/btr-bagit-profile-1.0.json"),
        about: "Beyond the Repository 1.0",
    },
    Shipped {
        name: "bagit-profiles-foo",
        file: "bagProfileFoo.json",
        text: include_str!("../../../profiles/bagProfileFoo.json"),
        about: "the specification's first example (Yale disk images)",
    },
    Shipped {
        name: "bagit-profiles-bar",
        file: "bagProfileBar.json",
        text: include_str!("../../../profiles/bagProfileBar.json"),
        about: "the specification's second example (Canadiana TDR)",
    },
];

/// The shipped profile named `name` (case-insensitive).
pub fn shipped(name: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::SHIPPED;

    #[test]
    fn every_shipped_profile_parses() {
        for s in SHIPPED {
            let p = parse(s.text).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert!(!p.identifier.is_empty(), "{}", s.name);
        }
    }
}
