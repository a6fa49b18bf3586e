//! The digitisation profile of cairn.toml's `[qc]` section: the rules a master's
//! measures (resolution, bit depth, colour, ICC profile, compression, dimensions) and
//! its validation are judged by, each with its outcome (`warn` or `refuse`), and the
//! presets for the published levels (FADGI, Metamorfoze). Pure.
//!
//! A profile is a preset's name or a table of `[qc.profiles.NAME]`: `preset` to start
//! from, then any of the rule keys ([`RULES`]) and `on_fail.RULE = "warn" | "refuse"`.
//! A rule not set is not checked; `validation` is `"valid"` unless set otherwise. Only
//! what the file's headers say is judged: the guidelines' criteria measured on a target
//! (ΔE colour accuracy, noise, MTF / sampling efficiency, tone response) are not, and
//! docs/scan-qc.md says so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Validation;
use crate::techmd::TechMd;

mod measure;
mod preset;

pub use measure::{colour, compression, ppi, COLOURS, COMPRESSIONS};
pub use preset::{preset, PRESETS};

/// The rule keys of a profile, in the order they are judged.
pub const RULES: &[&str] = &[
    "validation",
    "min_ppi",
    "bit_depths",
    "colour",
    "icc",
    "compressions",
    "max_width",
    "max_height",
];

/// The other keys of a `[qc.profiles.NAME]` table.
const OTHER_KEYS: &[&str] = &["preset", "on_fail"];

/// cairn.toml's `[qc]`. Empty (the default): no profile, nothing judged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QcSection {
    /// The profile applied at ingest and revise: a preset's name or one of `profiles`.
    pub profile: String,
    /// `[qc.profiles.NAME]`: custom profiles, each read by [`Profile::from_table`].
    pub profiles: BTreeMap<String, toml::Table>,
}

impl QcSection {
    /// Checks the section (called when cairn.toml is read): every custom profile, and
    /// that `profile` names a preset or one of them.
    pub fn check(&self) -> Result<(), String> {
        for (name, table) in &self.profiles {
            if PRESETS.contains(&name.as_str()) {
                return Err(format!(
                    "qc.profiles.{name}: the name of a preset; name a custom profile otherwise (it may start from the preset with preset = \"{name}\")"
                ));
            }
            Profile::from_table(name, table)?;
        }
        if !self.profile.is_empty() {
            self.profile(None).map_err(|e| format!("qc.profile: {e}"))?;
        }
        Ok(())
    }

    /// The profile named `name`, or else the section's own (`None`: no profile set).
    /// An unknown name is an error with the nearest known one.
    pub fn profile(&self, name: Option<&str>) -> Result<Option<Profile>, String> {
        let name = name.unwrap_or(self.profile.as_str());
        if name.is_empty() {
            return Ok(None);
        }
        if let Some(t) = self.profiles.get(name) {
            return Profile::from_table(name, t).map(Some);
        }
        if let Some(p) = preset(name) {
            return Ok(Some(p));
        }
        let mut known: Vec<&str> = PRESETS.to_vec();
        known.extend(self.profiles.keys().map(String::as_str));
        Err(unknown_word("profile", name, &known))
    }
}

/// `unknown WHAT "given" (did you mean "x"?); the WHATs are ...`, in the style of
/// [`crate::vocab`].
fn unknown_word(what: &str, given: &str, known: &[&str]) -> String {
    let mut msg = format!("unknown {what} {}", crate::quoted(given));
    if let Some(n) = crate::vocab::nearest_of(given, known) {
        msg.push_str(&format!(" (did you mean {}?)", crate::quoted(n)));
    }
    let list: Vec<String> = known.iter().map(|k| crate::quoted(k)).collect();
    msg.push_str(&format!("; the {what}s are {}", list.join(", ")));
    msg
}

/// A compiled profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    /// Lowest resolution, pixels per inch, both directions.
    pub min_ppi: Option<u32>,
    /// Bits per sample allowed (every sample must be one of them).
    pub bit_depths: Option<Vec<u16>>,
    /// Colours allowed ([`COLOURS`]).
    pub colour: Option<Vec<String>>,
    /// An embedded ICC profile is required.
    pub icc_required: bool,
    /// Compressions allowed ([`COMPRESSIONS`]).
    pub compressions: Option<Vec<String>>,
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    /// `valid`, `well-formed` or `none`.
    pub validation: String,
    /// Each rule's outcome when it fails (`Fail` unless `on_fail` says `warn`).
    pub on_fail: BTreeMap<String, Outcome>,
}

impl Profile {
    fn empty(name: &str) -> Profile {
        Profile {
            name: name.to_string(),
            min_ppi: None,
            bit_depths: None,
            colour: None,
            icc_required: false,
            compressions: None,
            max_width: None,
            max_height: None,
            validation: "valid".into(),
            on_fail: BTreeMap::new(),
        }
    }

    /// Reads a `[qc.profiles.NAME]` table: `preset` first, then each key over it.
    pub fn from_table(name: &str, t: &toml::Table) -> Result<Profile, String> {
        let key = |k: &str| format!("qc.profiles.{name}.{k}");
        let mut p = match t.get("preset") {
            None => Profile::empty(name),
            Some(toml::Value::String(s)) => {
                let mut p = preset(s).ok_or_else(|| {
                    format!("{}: {}", key("preset"), unknown_word("preset", s, PRESETS))
                })?;
                p.name = name.to_string();
                p
            }
            Some(_) => return Err(format!("{}: a preset's name, in quotes", key("preset"))),
        };
        for (k, v) in t {
            let bad = |what: &str| format!("{}: {what}", key(k));
            match k.as_str() {
                "preset" => {}
                "min_ppi" | "max_width" | "max_height" => {
                    let n = v
                        .as_integer()
                        .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
                        .ok_or_else(|| bad("a whole number, at least 1"))?
                        as u32;
                    match k.as_str() {
                        "min_ppi" => p.min_ppi = Some(n),
                        "max_width" => p.max_width = Some(n),
                        _ => p.max_height = Some(n),
                    }
                }
                "bit_depths" => {
                    let list = v
                        .as_array()
                        .ok_or_else(|| bad("a list of bit depths, such as [8, 16]"))?;
                    let mut out = Vec::new();
                    for x in list {
                        let n = x
                            .as_integer()
                            .filter(|n| (1..=64).contains(n))
                            .ok_or_else(|| bad("each bit depth a whole number from 1 to 64"))?;
                        out.push(n as u16);
                    }
                    if out.is_empty() {
                        return Err(bad(
                            "at least one bit depth (leave the key out to allow any)",
                        ));
                    }
                    p.bit_depths = Some(out);
                }
                "colour" | "compressions" => {
                    let (what, known) = if k == "colour" {
                        ("colour", COLOURS)
                    } else {
                        ("compression", COMPRESSIONS)
                    };
                    let list = v
                        .as_array()
                        .ok_or_else(|| bad("a list of names in quotes"))?;
                    let mut out = Vec::new();
                    for x in list {
                        let s = x.as_str().ok_or_else(|| bad("a list of names in quotes"))?;
                        if !known.contains(&s) {
                            return Err(bad(&unknown_word(what, s, known)));
                        }
                        out.push(s.to_string());
                    }
                    if out.is_empty() {
                        return Err(bad("at least one name (leave the key out to allow any)"));
                    }
                    if k == "colour" {
                        p.colour = Some(out);
                    } else {
                        p.compressions = Some(out);
                    }
                }
                "icc" => match v.as_str() {
                    Some("required") => p.icc_required = true,
                    Some("any") => p.icc_required = false,
                    _ => return Err(bad("\"required\" or \"any\"")),
                },
                "validation" => match v.as_str() {
                    Some(s @ ("valid" | "well-formed" | "none")) => p.validation = s.to_string(),
                    _ => return Err(bad("\"valid\", \"well-formed\" or \"none\"")),
                },
                "on_fail" => {
                    let table = v
                        .as_table()
                        .ok_or_else(|| bad("a table of RULE = \"warn\" or \"refuse\""))?;
                    for (rule, o) in table {
                        if !RULES.contains(&rule.as_str()) {
                            return Err(format!(
                                "{}.{rule}: {}",
                                key("on_fail"),
                                unknown_word("rule", rule, RULES)
                            ));
                        }
                        let outcome = match o.as_str() {
                            Some("warn") => Outcome::Warn,
                            Some("refuse") => Outcome::Fail,
                            _ => {
                                return Err(format!(
                                    "{}.{rule}: \"warn\" or \"refuse\"",
                                    key("on_fail")
                                ))
                            }
                        };
                        p.on_fail.insert(rule.clone(), outcome);
                    }
                }
                other => {
                    let mut known: Vec<&str> = RULES.to_vec();
                    known.extend(OTHER_KEYS);
                    return Err(format!(
                        "{}: {}",
                        key(other),
                        unknown_word("key", other, &known)
                    ));
                }
            }
        }
        Ok(p)
    }

    fn failing(&self, rule: &str) -> Outcome {
        self.on_fail.get(rule).copied().unwrap_or(Outcome::Fail)
    }
}

/// A rule's or a file's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

/// One rule's result for one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// The rule's key in `[qc]` (`min_ppi`, `bit_depths`, ...).
    pub rule: String,
    pub outcome: Outcome,
    /// What was required and what was measured.
    pub message: String,
}

/// What a profile says of one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub profile: String,
    /// The worst of the rules' outcomes.
    pub outcome: Outcome,
    /// Every rule that applied, passed or not.
    pub results: Vec<RuleResult>,
}

impl Profile {
    /// Judges one file by its measures and validation (`None`: a format not measured or
    /// not validated). A measure a rule needs and the file does not have fails the rule.
    pub fn judge(&self, t: Option<&TechMd>, v: Option<&Validation>) -> Judgement {
        let none = TechMd::default();
        let t = t.unwrap_or(&none);
        let mut results = Vec::new();
        let mut push = |rule: &str, ok: bool, message: String| {
            results.push(RuleResult {
                rule: rule.to_string(),
                outcome: if ok {
                    Outcome::Pass
                } else {
                    self.failing(rule)
                },
                message,
            })
        };
        match (self.validation.as_str(), v) {
            ("none", _) => {}
            (_, None) => push(
                "validation",
                false,
                "not validated: not a TIFF, JPEG, JP2, PNG or PDF file".into(),
            ),
            (want, Some(v)) => {
                let ok = if want == "valid" {
                    v.valid()
                } else {
                    v.well_formed()
                };
                push(
                    "validation",
                    ok,
                    format!("{want} required; the file is {}", v.status()),
                );
            }
        }
        if let Some(min) = self.min_ppi {
            match ppi(t) {
                Ok(p) => push(
                    "min_ppi",
                    p.round() >= f64::from(min),
                    format!(
                        "at least {min} ppi required; the file has {} ppi",
                        round2(p)
                    ),
                ),
                Err(why) => push(
                    "min_ppi",
                    false,
                    format!("at least {min} ppi required; {why}"),
                ),
            }
        }
        if let Some(allowed) = &self.bit_depths {
            let want = join(allowed);
            if t.bits_per_sample.is_empty() {
                push(
                    "bit_depths",
                    false,
                    format!("{want} bits per sample required; not measured"),
                );
            } else {
                let ok = t.bits_per_sample.iter().all(|b| allowed.contains(b));
                push(
                    "bit_depths",
                    ok,
                    format!(
                        "{want} bits per sample required; the file has {}",
                        join(&t.bits_per_sample)
                    ),
                );
            }
        }
        if let Some(allowed) = &self.colour {
            let want = allowed.join(" or ");
            match colour(t) {
                Some(c) => push(
                    "colour",
                    allowed.iter().any(|a| a == c),
                    format!("colour {want} required; the file is {c}"),
                ),
                None => push(
                    "colour",
                    false,
                    format!("colour {want} required; not measured"),
                ),
            }
        }
        if self.icc_required {
            let ok = t.icc_profile == Some(true);
            push(
                "icc",
                ok,
                format!(
                    "an embedded ICC profile required; {}",
                    match t.icc_profile {
                        Some(true) => "the file has one",
                        Some(false) => "the file has none",
                        None => "not measured",
                    }
                ),
            );
        }
        if let Some(allowed) = &self.compressions {
            let want = allowed.join(" or ");
            match compression(t) {
                Some(c) => push(
                    "compressions",
                    allowed.iter().any(|a| a == c),
                    format!("compression {want} required; the file has {c}"),
                ),
                None => push(
                    "compressions",
                    false,
                    format!("compression {want} required; not measured"),
                ),
            }
        }
        for (rule, max, got, what) in [
            ("max_width", self.max_width, t.width, "wide"),
            ("max_height", self.max_height, t.height, "high"),
        ] {
            if let Some(max) = max {
                match got {
                    Some(g) => push(
                        rule,
                        g <= max,
                        format!("at most {max} pixels {what} allowed; the file is {g}"),
                    ),
                    None => push(
                        rule,
                        false,
                        format!("at most {max} pixels {what} allowed; not measured"),
                    ),
                }
            }
        }
        Judgement {
            profile: self.name.clone(),
            outcome: results
                .iter()
                .map(|r| r.outcome)
                .max()
                .unwrap_or(Outcome::Pass),
            results,
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qc::{Finding, Severity};

    fn tiff(ppi: f64, unit: &str) -> TechMd {
        TechMd {
            kind: "tiff".into(),
            width: Some(2480),
            height: Some(3508),
            components: Some(3),
            bits_per_sample: vec![8, 8, 8],
            compression: Some("none".into()),
            photometric: Some("RGB".into()),
            x_resolution: Some(ppi),
            y_resolution: Some(ppi),
            resolution_unit: Some(unit.into()),
            icc_profile: Some(true),
            ..TechMd::default()
        }
    }

    fn valid() -> Validation {
        Validation {
            kind: "tiff".into(),
            ..Validation::default()
        }
    }

    fn rule<'a>(j: &'a Judgement, r: &str) -> &'a RuleResult {
        j.results
            .iter()
            .find(|x| x.rule == r)
            .unwrap_or_else(|| panic!("no {r} in {j:?}"))
    }

    fn custom(text: &str) -> Result<Profile, String> {
        let t: toml::Table = text.parse().unwrap();
        Profile::from_table("mine", &t)
    }

    #[test]
    fn a_good_master_passes_every_preset_it_meets() {
        let p = preset("fadgi-3-star-text").unwrap();
        let j = p.judge(Some(&tiff(400.0, "inch")), Some(&valid()));
        assert_eq!(j.outcome, Outcome::Pass, "{j:?}");
        assert_eq!(j.results.len(), 5, "{j:?}");
        let m = preset("metamorfoze-light").unwrap();
        assert_eq!(
            m.judge(Some(&tiff(300.0, "inch")), Some(&valid())).outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn resolution_is_converted_and_rounded() {
        let p = custom("min_ppi = 300").unwrap();
        // 118.11 pixels per centimetre is 300 ppi; a PNG's 11811 per metre too.
        for (x, unit) in [(300.0, "inch"), (118.11, "centimetre"), (11811.0, "metre")] {
            let j = p.judge(Some(&tiff(x, unit)), Some(&valid()));
            assert_eq!(j.outcome, Outcome::Pass, "{x} {unit}: {j:?}");
        }
        let j = p.judge(Some(&tiff(150.0, "inch")), Some(&valid()));
        assert_eq!(j.outcome, Outcome::Fail);
        assert_eq!(
            rule(&j, "min_ppi").message,
            "at least 300 ppi required; the file has 150 ppi"
        );
        let j = p.judge(Some(&tiff(59.06, "centimetre")), Some(&valid()));
        assert_eq!(j.outcome, Outcome::Fail, "150 ppi in centimetres");
        // The lower direction counts.
        let mut t = tiff(300.0, "inch");
        t.y_resolution = Some(200.0);
        assert_eq!(p.judge(Some(&t), Some(&valid())).outcome, Outcome::Fail);
    }

    #[test]
    fn an_aspect_ratio_or_no_resolution_fails_the_rule() {
        let p = custom("min_ppi = 300").unwrap();
        let j = p.judge(Some(&tiff(300.0, "none")), Some(&valid()));
        assert_eq!(rule(&j, "min_ppi").outcome, Outcome::Fail);
        assert!(
            rule(&j, "min_ppi").message.contains("aspect ratio"),
            "{j:?}"
        );
        let mut t = tiff(300.0, "inch");
        t.x_resolution = None;
        let j = p.judge(Some(&t), Some(&valid()));
        assert!(
            rule(&j, "min_ppi").message.contains("no resolution"),
            "{j:?}"
        );
        assert_eq!(j.outcome, Outcome::Fail);
    }

    #[test]
    fn bit_depth_colour_icc_compression_and_size_rules() {
        let p = custom(
            "bit_depths = [16]\ncolour = [\"grey\"]\nicc = \"required\"\ncompressions = [\"lzw\"]\nmax_width = 1000\nmax_height = 5000",
        )
        .unwrap();
        let mut t = tiff(300.0, "inch");
        t.icc_profile = Some(false);
        let j = p.judge(Some(&t), Some(&valid()));
        for r in ["bit_depths", "colour", "icc", "compressions", "max_width"] {
            assert_eq!(rule(&j, r).outcome, Outcome::Fail, "{r}: {j:?}");
        }
        assert_eq!(rule(&j, "max_height").outcome, Outcome::Pass);
        assert_eq!(
            rule(&j, "colour").message,
            "colour grey required; the file is rgb"
        );
        t.bits_per_sample = vec![16];
        t.photometric = Some("BlackIsZero".into());
        t.icc_profile = Some(true);
        t.compression = Some("LZW".into());
        t.width = Some(1000);
        assert_eq!(p.judge(Some(&t), Some(&valid())).outcome, Outcome::Pass);
    }

    #[test]
    fn validation_rule_and_warn_outcome() {
        let bad = Validation {
            kind: "tiff".into(),
            pages: None,
            findings: vec![Finding {
                code: "X".into(),
                severity: Severity::NotValid,
                offset: None,
                message: "m".into(),
            }],
        };
        let t = tiff(400.0, "inch");
        let p = custom("min_ppi = 300").unwrap();
        let j = p.judge(Some(&t), Some(&bad));
        assert_eq!(rule(&j, "validation").outcome, Outcome::Fail);
        assert_eq!(j.outcome, Outcome::Fail);
        let p = custom("validation = \"well-formed\"").unwrap();
        assert_eq!(p.judge(Some(&t), Some(&bad)).outcome, Outcome::Pass);
        let p = custom("min_ppi = 600\non_fail.min_ppi = \"warn\"").unwrap();
        let j = p.judge(Some(&t), Some(&valid()));
        assert_eq!(j.outcome, Outcome::Warn, "{j:?}");
        // Nothing measured, nothing validated: every rule fails.
        let j = preset("fadgi-3-star-text").unwrap().judge(None, None);
        assert!(
            j.results.iter().all(|r| r.outcome == Outcome::Fail),
            "{j:?}"
        );
    }

    #[test]
    fn presets_hold_the_guidelines_numbers() {
        let p = preset("fadgi-3-star-text").unwrap();
        assert_eq!(
            (p.min_ppi, p.bit_depths.clone()),
            (Some(294), Some(vec![8, 16]))
        );
        let p = preset("fadgi-4-star-text").unwrap();
        assert_eq!(
            (p.min_ppi, p.colour.clone()),
            (Some(396), Some(vec!["rgb".to_string()]))
        );
        let p = preset("metamorfoze-light").unwrap();
        assert_eq!(
            (p.min_ppi, p.bit_depths.clone()),
            (Some(300), Some(vec![8]))
        );
        for name in PRESETS {
            assert!(preset(name).is_some(), "{name}");
        }
        // A custom profile starts from its preset and changes what it sets.
        let p = custom("preset = \"fadgi-3-star-text\"\nmin_ppi = 600").unwrap();
        assert_eq!((p.min_ppi, p.icc_required), (Some(600), true));
    }

    #[test]
    fn typos_are_refused_with_the_nearest_name() {
        let e = custom("min_pi = 300").unwrap_err();
        assert!(e.starts_with("qc.profiles.mine.min_pi: unknown key"), "{e}");
        assert!(e.contains("did you mean \"min_ppi\"?"), "{e}");
        let e = custom("preset = \"fadgi-3-star-txt\"").unwrap_err();
        assert!(e.contains("did you mean \"fadgi-3-star-text\"?"), "{e}");
        let e = custom("colour = [\"gray\"]").unwrap_err();
        assert!(e.contains("did you mean \"grey\"?"), "{e}");
        let e = custom("on_fail.icc = \"maybe\"").unwrap_err();
        assert!(e.contains("\"warn\" or \"refuse\""), "{e}");
        let e = custom("min_ppi = 0").unwrap_err();
        assert!(e.starts_with("qc.profiles.mine.min_ppi:"), "{e}");
        let section = QcSection {
            profile: "fadgi-4-star-txt".into(),
            profiles: BTreeMap::new(),
        };
        let e = section.check().unwrap_err();
        assert!(e.starts_with("qc.profile: unknown profile"), "{e}");
        assert!(e.contains("did you mean \"fadgi-4-star-text\"?"), "{e}");
        assert_eq!(QcSection::default().profile(None), Ok(None));
    }
}
