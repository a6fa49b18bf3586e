//! Property tests (issue 7), run with the normal suite and bounded to a few seconds each.
//!
//! 1. Manifest path percent-encoding (RFC 8493 §2.1.3) round-trips for any string, never
//!    writes a raw CR or LF, and decoding touches `%25`, `%0D`, `%0A` (either case) only.
//! 2. `cairn bag create` then `cairn bag validate` is valid for any small tree of awkward
//!    names, and the bag's payload equals the source byte for byte, names included.
//! 3. Any single mutation of a valid bag is detected by `cairn bag validate` (exit 1),
//!    except the one mutation RFC 8493 allows (see [`Mutation::TagManifestDeleteLine`]).
//!
//! The binary runs are driven by a hand-held [`TestRunner`] so that each test can print a
//! summary (cases, tried/caught per mutation kind) with `eprintln!` when it finishes; run
//! `cargo test --test it properties:: -- --nocapture` to see it. A failure panics with the
//! minimal (shrunk) input.

use crate::common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use unicode_normalization::UnicodeNormalization;

use cairn::bagit::path::{decode_path, encode_path};

fn config(cases: u32) -> Config {
    Config {
        cases,
        // No regression files: the runner is driven by hand, outside `proptest!`.
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// Runs `test` on `strategy`; on failure panics with the minimal failing input.
fn run_property<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(reason, minimal)) => {
            panic!("property `{name}` failed: {reason}\nminimal failing input: {minimal:#?}")
        }
        Err(TestError::Abort(reason)) => panic!("property `{name}` aborted: {reason}"),
    }
}

// ---------------------------------------------------------------------------------------
// 1. Percent-encoding
// ---------------------------------------------------------------------------------------

/// Strings rich in the interesting characters and in text that already looks encoded.
fn tricky_string() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        4 => any::<String>(),
        2 => any::<char>().prop_map(String::from),
        1 => Just("%".to_string()),
        1 => Just("\r".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("%25".to_string()),
        1 => Just("%0A".to_string()),
        1 => Just("%0a".to_string()),
        1 => Just("%0D".to_string()),
        1 => Just("%0d".to_string()),
        1 => Just("%2".to_string()),
        1 => Just("%7E".to_string()),
        1 => Just("%%".to_string()),
        1 => Just("é".to_string()),
        1 => Just("e\u{301}".to_string()),
        1 => Just("ទួលស្លែង".to_string()),
        1 => "[0-9a-fA-F%]{1,4}",
    ];
    prop::collection::vec(fragment, 0..8).prop_map(|v| v.concat())
}

/// Independent reference for `decode_path`: one left-to-right pass over characters,
/// replacing `%25`, `%0D`, `%0A` (hex digits in either case) and nothing else.
fn reference_decode(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '%' && i + 2 < chars.len() {
            let code: String = chars[i + 1..i + 3]
                .iter()
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let replacement = match code.as_str() {
                "25" => Some('%'),
                "0D" => Some('\r'),
                "0A" => Some('\n'),
                _ => None,
            };
            if let Some(r) = replacement {
                out.push(r);
                i += 3;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Independent reference for `encode_path`.
fn reference_encode(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[test]
fn percent_encoding_round_trips() {
    const CASES: u32 = 4000;
    run_property("percent-encoding", CASES, tricky_string(), |s| {
        let encoded = encode_path(&s);
        prop_assert_eq!(decode_path(&encoded), s.clone(), "round trip of {:?}", s);
        prop_assert!(
            !encoded.contains('\r') && !encoded.contains('\n'),
            "raw CR/LF in {:?}",
            encoded
        );
        prop_assert_eq!(
            &encoded,
            &reference_encode(&s),
            "encode changed more than %, CR, LF"
        );
        if !s.contains(['%', '\r', '\n']) {
            prop_assert_eq!(&encoded, &s);
        }
        // Decoding an arbitrary string (not only encoder output) touches the three
        // sequences only.
        prop_assert_eq!(decode_path(&s), reference_decode(&s), "decode of {:?}", s);
        if !s.contains('%') {
            prop_assert_eq!(decode_path(&s), s.clone());
        }
        Ok(())
    });
    eprintln!("percent-encoding: {CASES} cases passed");
}

// ---------------------------------------------------------------------------------------
// 2. Create then validate
// ---------------------------------------------------------------------------------------

/// Longest name component generated, in bytes (ext4 and most others allow 255).
const MAX_COMPONENT_BYTES: usize = 200;

/// One file or folder name: spaces, NFC and NFD accents, Khmer, `%`, encoded-looking text,
/// CR, LF, other control and arbitrary characters, leading dots, long runs. Never `/`,
/// NUL or `\`: `\` is refused on purpose by cairn (`a\..\b` escapes on Windows, see
/// `BagPath::parse`), which is not what this property is about.
fn component() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        6 => "[a-zA-Z0-9_-]{1,12}",
        2 => Just(" ".to_string()),
        2 => Just("\u{e9}".to_string()),
        2 => Just("e\u{301}".to_string()),
        2 => Just("ទួលស្លែង".to_string()),
        1 => Just("ខ្មែរ".to_string()),
        2 => Just("%".to_string()),
        1 => Just("%25".to_string()),
        1 => Just("%0A".to_string()),
        1 => Just("%0d".to_string()),
        2 => Just("\r".to_string()),
        2 => Just("\n".to_string()),
        1 => Just(".".to_string()),
        2 => any::<char>()
            .prop_filter("no / NUL \\", |c| !matches!(c, '/' | '\0' | '\\'))
            .prop_map(String::from),
        1 => "[a-z\u{e9}ក]{100,200}",
    ];
    (any::<bool>(), prop::collection::vec(fragment, 1..5)).prop_map(|(dot, parts)| {
        let mut s = if dot { ".".to_string() } else { String::new() };
        s.push_str(&parts.concat());
        if s.len() > MAX_COMPONENT_BYTES {
            let mut cut = MAX_COMPONENT_BYTES;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        if s == "." || s == ".." {
            s.push('x');
        }
        s
    })
}

/// A tree as (folder components, file name, contents), 1–6 files, up to 3 levels.
#[derive(Debug, Clone)]
struct Tree {
    files: Vec<(Vec<String>, String, Vec<u8>)>,
}

/// Collision key: names that are equal after NFC and lowercasing would be reported as
/// normalisation or case collisions (warnings), so the generator keeps them apart.
fn collision_key(name: &str) -> String {
    name.nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

fn tree() -> impl Strategy<Value = Tree> {
    // Folder names come from a small pool so that files share folders.
    let file = (
        prop::collection::vec(0usize..3, 0..3),
        component(),
        prop::collection::vec(any::<u8>(), 0..64),
    );
    (
        prop::collection::vec(component(), 3),
        prop::collection::vec(file, 1..7),
    )
        .prop_map(|(pool, files)| {
            let mut kept = Vec::new();
            // (parent folder, key) -> (actual name, is folder)
            let mut seen: HashMap<(Vec<String>, String), (String, bool)> = HashMap::new();
            for (dirs, name, contents) in files {
                let dirs: Vec<String> = dirs.iter().map(|&i| pool[i].clone()).collect();
                let mut entries = Vec::new();
                for (depth, d) in dirs.iter().enumerate() {
                    entries.push((dirs[..depth].to_vec(), d.clone(), true));
                }
                entries.push((dirs.clone(), name.clone(), false));
                let clash = entries.iter().any(|(parent, n, is_dir)| {
                    match seen.get(&(parent.clone(), collision_key(n))) {
                        None => false,
                        // The same folder again is fine; anything else collides.
                        Some((other, other_dir)) => !(*is_dir && *other_dir && other == n),
                    }
                });
                if clash {
                    continue;
                }
                for (parent, n, is_dir) in entries {
                    seen.insert((parent, collision_key(&n)), (n, is_dir));
                }
                kept.push((dirs, name, contents));
            }
            Tree { files: kept }
        })
}

fn rel_path(dirs: &[String], name: &str) -> PathBuf {
    let mut p = PathBuf::new();
    for d in dirs {
        p.push(d);
    }
    p.push(name);
    p
}

#[test]
fn create_then_validate_is_valid() {
    const CASES: u32 = 40;
    let files_total = std::cell::Cell::new(0usize);
    let runs = std::cell::Cell::new(0usize);
    // How many generated names (folders and files) had each feature, to show the
    // generator reaches them.
    let features: std::cell::RefCell<BTreeMap<&str, usize>> = Default::default();
    run_property("create-then-validate", CASES, tree(), |tree| {
        runs.set(runs.get() + 1);
        files_total.set(files_total.get() + tree.files.len());
        for (dirs, name, _) in &tree.files {
            for n in dirs.iter().chain(std::iter::once(name)) {
                let mut f = features.borrow_mut();
                let checks: [(&str, bool); 8] = [
                    ("CR or LF", n.contains(['\r', '\n'])),
                    ("%", n.contains('%')),
                    ("space", n.contains(' ')),
                    ("NFD (not NFC)", n.nfc().collect::<String>() != *n),
                    (
                        "Khmer",
                        n.chars().any(|c| ('\u{1780}'..='\u{17ff}').contains(&c)),
                    ),
                    ("leading dot", n.starts_with('.')),
                    ("> 100 bytes", n.len() > 100),
                    (
                        "other control char",
                        n.chars().any(|c| c.is_control() && c != '\r' && c != '\n'),
                    ),
                ];
                for (feature, has) in checks {
                    if has {
                        *f.entry(feature).or_default() += 1;
                    }
                }
            }
        }
        let tmp = fresh_dir("prop-create");
        let src = tmp.path().join("src");
        let bag = tmp.path().join("bag");
        fs::create_dir(&src).unwrap();
        for (dirs, name, contents) in &tree.files {
            write_file(&src, rel_path(dirs, name), contents);
        }
        let created = create(&src, &bag, &[]);
        prop_assert_eq!(
            created.code,
            Some(0),
            "create failed\n{}",
            created.describe()
        );
        let checked = validate(&bag, &[]);
        prop_assert_eq!(
            checked.code,
            Some(0),
            "validate failed\n{}",
            checked.describe()
        );
        prop_assert!(
            checked.problems().is_empty(),
            "problems\n{}",
            checked.describe()
        );
        prop_assert!(
            checked.warnings().is_empty(),
            "warnings on a fresh bag of non-colliding names\n{}",
            checked.describe()
        );
        let before = snapshot(&src);
        let after = snapshot(&bag.join("data"));
        prop_assert!(
            before == after,
            "payload differs from the source:\n{}",
            snapshot_diff(&before, &after)
        );
        Ok(())
    });
    eprintln!(
        "create-then-validate: {CASES} cases passed ({} runs incl. shrinking, {} files)",
        runs.get(),
        files_total.get()
    );
    eprintln!("  names (with repeats) having: {:?}", features.borrow());
}

// ---------------------------------------------------------------------------------------
// 3. Single mutations are detected
// ---------------------------------------------------------------------------------------

/// Payload of the template bag (relative to data/). All non-empty, so every bit flip,
/// truncation and append changes a file. Names exercise the manifest encoding.
fn template_payload() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"alpha.txt".to_vec(), b"alpha contents\n".to_vec()),
        (
            "sub dir/caf\u{e9}.txt".as_bytes().to_vec(),
            b"nfc e-acute\n".to_vec(),
        ),
        (
            "sub dir/cafe\u{301} nfd.txt".as_bytes().to_vec(),
            b"nfd e-acute\n".to_vec(),
        ),
        ("ទួលស្លែង/ខ្មែរ.bin".as_bytes().to_vec(), (0u8..=255).collect()),
        (b"new\nline%0A 100%.txt".to_vec(), b"LF and %\n".to_vec()),
        (b"cr\rname".to_vec(), b"x".to_vec()),
        (b".hidden".to_vec(), b"leading dot\n".to_vec()),
    ]
}

const PAYLOAD_MANIFESTS: &[&str] = &["manifest-blake3.txt", "manifest-sha512.txt"];
const TAG_MANIFESTS: &[(&str, &str)] = &[
    ("tagmanifest-blake3.txt", "blake3"),
    ("tagmanifest-sha512.txt", "sha512"),
];

/// One mutation. Indices are taken modulo whatever they index at apply time.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        file: usize,
        offset: usize,
        bit: u8,
    },
    Truncate {
        file: usize,
        len: usize,
    },
    AppendByte {
        file: usize,
        byte: u8,
    },
    DeletePayload {
        file: usize,
    },
    AddFile {
        dir: usize,
        name: String,
        contents: Vec<u8>,
    },
    RenamePayload {
        file: usize,
        suffix: String,
    },
    /// Change one hex digit of a payload manifest line. With `reseal`, the tag manifests
    /// are rewritten to match, so only the payload check can catch it.
    ManifestHexDigit {
        manifest: usize,
        line: usize,
        pos: usize,
        delta: u8,
        reseal: bool,
    },
    ManifestDeleteLine {
        manifest: usize,
        line: usize,
        reseal: bool,
    },
    ManifestDuplicateLine {
        manifest: usize,
        line: usize,
        reseal: bool,
    },
    /// XOR one byte of bag-info.txt with a non-zero mask (never resealed: a resealed edit
    /// of, say, Bag-Software-Agent is a legitimate valid bag).
    BagInfoEdit {
        pos: usize,
        mask: u8,
    },
    BagInfoAppend {
        label: String,
        value: String,
    },
    BagitTxtEdit {
        pos: usize,
        mask: u8,
    },
    /// Delete one tag manifest line. RFC 8493 §2.2.1: a tag manifest MUST list every
    /// payload manifest, so deleting such a line is a problem (1.0). Listing bagit.txt or
    /// bag-info.txt is optional ("MAY"), so deleting their line leaves a VALID bag: for
    /// those lines the property expects exit 0, not 1.
    TagManifestDeleteLine {
        manifest: usize,
        line: usize,
    },
    TagManifestHexDigit {
        manifest: usize,
        line: usize,
        pos: usize,
        delta: u8,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use Mutation::*;
    let idx = || 0usize..1000;
    let delta = || 1u8..16;
    prop_oneof![
        (idx(), idx(), 0u8..8).prop_map(|(file, offset, bit)| FlipBit { file, offset, bit }),
        (idx(), idx()).prop_map(|(file, len)| Truncate { file, len }),
        (idx(), any::<u8>()).prop_map(|(file, byte)| AppendByte { file, byte }),
        idx().prop_map(|file| DeletePayload { file }),
        (
            idx(),
            "[a-z é%\n]{1,10}",
            prop::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(dir, name, contents)| AddFile {
                dir,
                name,
                contents
            }),
        (idx(), "[a-z0-9 %\n]{1,6}").prop_map(|(file, suffix)| RenamePayload { file, suffix }),
        (idx(), idx(), idx(), delta(), any::<bool>()).prop_map(
            |(manifest, line, pos, delta, reseal)| ManifestHexDigit {
                manifest,
                line,
                pos,
                delta,
                reseal
            }
        ),
        (idx(), idx(), any::<bool>()).prop_map(|(manifest, line, reseal)| ManifestDeleteLine {
            manifest,
            line,
            reseal
        }),
        (idx(), idx(), any::<bool>()).prop_map(|(manifest, line, reseal)| {
            ManifestDuplicateLine {
                manifest,
                line,
                reseal,
            }
        }),
        (idx(), 1u8..=255).prop_map(|(pos, mask)| BagInfoEdit { pos, mask }),
        ("[A-Z][A-Za-z-]{0,12}", "[ -~]{0,20}")
            .prop_map(|(label, value)| BagInfoAppend { label, value }),
        (idx(), 1u8..=255).prop_map(|(pos, mask)| BagitTxtEdit { pos, mask }),
        (idx(), idx()).prop_map(|(manifest, line)| TagManifestDeleteLine { manifest, line }),
        (idx(), idx(), idx(), delta()).prop_map(|(manifest, line, pos, delta)| {
            TagManifestHexDigit {
                manifest,
                line,
                pos,
                delta,
            }
        }),
    ]
}

/// Lines of a tag file, each with its LF.
fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// Replaces one hex digit of the checksum on `line` by a different one.
fn bump_hex(line: &mut [u8], pos: usize, delta: u8) {
    let hex_len = line.iter().position(|&b| b == b' ').unwrap();
    let p = pos % hex_len;
    let v = (line[p] as char).to_digit(16).unwrap() as u8;
    line[p] = b"0123456789abcdef"[((v + delta) % 16) as usize];
}

/// Rewrites the tag manifests' line for `tag_file` to its current digest.
fn reseal(bag: &Path, tag_file: &str) {
    let data = fs::read(bag.join(tag_file)).unwrap();
    for (tm, alg) in TAG_MANIFESTS {
        let path = bag.join(tm);
        let text = String::from_utf8(fs::read(&path).unwrap()).unwrap();
        let out: String = text
            .lines()
            .map(|l| match l.split_once("  ") {
                Some((_, name)) if name == tag_file => {
                    format!("{}  {name}\n", digest_hex(alg, &data))
                }
                _ => format!("{l}\n"),
            })
            .collect();
        fs::write(&path, out).unwrap();
    }
}

/// Applies `m` to the bag; returns (kind label, whether the bag must now be invalid).
fn apply(bag: &Path, payload: &[PathBuf], m: &Mutation) -> (String, bool) {
    use Mutation::*;
    let data = bag.join("data");
    let pick = |i: usize| data.join(&payload[i % payload.len()]);
    match m {
        FlipBit { file, offset, bit } => {
            let p = pick(*file);
            let mut bytes = fs::read(&p).unwrap();
            let o = offset % bytes.len();
            bytes[o] ^= 1 << bit;
            fs::write(&p, bytes).unwrap();
            ("payload: flip bit".into(), true)
        }
        Truncate { file, len } => {
            let p = pick(*file);
            let bytes = fs::read(&p).unwrap();
            fs::write(&p, &bytes[..len % bytes.len()]).unwrap();
            ("payload: truncate".into(), true)
        }
        AppendByte { file, byte } => {
            let p = pick(*file);
            let mut bytes = fs::read(&p).unwrap();
            bytes.push(*byte);
            fs::write(&p, bytes).unwrap();
            ("payload: append byte".into(), true)
        }
        DeletePayload { file } => {
            fs::remove_file(pick(*file)).unwrap();
            ("payload: delete file".into(), true)
        }
        AddFile {
            dir,
            name,
            contents,
        } => {
            // In data/ or in the folder of some payload file, under a fresh name.
            let parent = match dir % (payload.len() + 1) {
                0 => data.clone(),
                i => pick(i - 1).parent().unwrap().to_path_buf(),
            };
            let p = parent.join(format!("added {name}"));
            assert!(!p.exists());
            fs::write(&p, contents).unwrap();
            ("payload: add file".into(), true)
        }
        RenamePayload { file, suffix } => {
            let p = pick(*file);
            let mut to = p.clone().into_os_string();
            to.push(format!(".renamed{suffix}"));
            assert!(!Path::new(&to).exists());
            fs::rename(&p, &to).unwrap();
            ("payload: rename file".into(), true)
        }
        ManifestHexDigit {
            manifest,
            line,
            pos,
            delta,
            reseal: rs,
        } => {
            let name = PAYLOAD_MANIFESTS[manifest % PAYLOAD_MANIFESTS.len()];
            let mut lines = lines_of(&fs::read(bag.join(name)).unwrap());
            let n = line % lines.len();
            bump_hex(&mut lines[n], *pos, *delta);
            fs::write(bag.join(name), lines.concat()).unwrap();
            if *rs {
                reseal(bag, name);
            }
            (label("manifest: change hex digit", *rs), true)
        }
        ManifestDeleteLine {
            manifest,
            line,
            reseal: rs,
        } => {
            let name = PAYLOAD_MANIFESTS[manifest % PAYLOAD_MANIFESTS.len()];
            let mut lines = lines_of(&fs::read(bag.join(name)).unwrap());
            let n = line % lines.len();
            lines.remove(n);
            fs::write(bag.join(name), lines.concat()).unwrap();
            if *rs {
                reseal(bag, name);
            }
            (label("manifest: delete line", *rs), true)
        }
        ManifestDuplicateLine {
            manifest,
            line,
            reseal: rs,
        } => {
            let name = PAYLOAD_MANIFESTS[manifest % PAYLOAD_MANIFESTS.len()];
            let mut lines = lines_of(&fs::read(bag.join(name)).unwrap());
            let n = line % lines.len();
            let dup = lines[n].clone();
            lines.insert(n, dup);
            fs::write(bag.join(name), lines.concat()).unwrap();
            if *rs {
                reseal(bag, name);
            }
            (label("manifest: duplicate line", *rs), true)
        }
        BagInfoEdit { pos, mask } => {
            xor_byte(&bag.join("bag-info.txt"), *pos, *mask);
            ("bag-info.txt: edit byte".into(), true)
        }
        BagInfoAppend { label, value } => {
            let p = bag.join("bag-info.txt");
            let mut bytes = fs::read(&p).unwrap();
            bytes.extend_from_slice(format!("{label}: {value}\n").as_bytes());
            fs::write(&p, bytes).unwrap();
            ("bag-info.txt: append line".into(), true)
        }
        BagitTxtEdit { pos, mask } => {
            xor_byte(&bag.join("bagit.txt"), *pos, *mask);
            ("bagit.txt: edit byte".into(), true)
        }
        TagManifestDeleteLine { manifest, line } => {
            let (name, _) = TAG_MANIFESTS[manifest % TAG_MANIFESTS.len()];
            let mut lines = lines_of(&fs::read(bag.join(name)).unwrap());
            let n = line % lines.len();
            let removed = lines.remove(n);
            fs::write(bag.join(name), lines.concat()).unwrap();
            let listed = String::from_utf8(removed).unwrap();
            let listed = listed.trim_end_matches('\n').split_once("  ").unwrap().1;
            if PAYLOAD_MANIFESTS.contains(&listed) {
                ("tagmanifest: delete payload-manifest line".into(), true)
            } else {
                // bagit.txt / bag-info.txt: optional in a tag manifest (RFC 8493 §2.2.1).
                (
                    "tagmanifest: delete other tag-file line (valid)".into(),
                    false,
                )
            }
        }
        TagManifestHexDigit {
            manifest,
            line,
            pos,
            delta,
        } => {
            let (name, _) = TAG_MANIFESTS[manifest % TAG_MANIFESTS.len()];
            let mut lines = lines_of(&fs::read(bag.join(name)).unwrap());
            let n = line % lines.len();
            bump_hex(&mut lines[n], *pos, *delta);
            fs::write(bag.join(name), lines.concat()).unwrap();
            ("tagmanifest: change hex digit".into(), true)
        }
    }
}

fn label(base: &str, resealed: bool) -> String {
    if resealed {
        format!("{base} (tag manifests resealed)")
    } else {
        base.to_string()
    }
}

fn xor_byte(path: &Path, pos: usize, mask: u8) {
    let mut bytes = fs::read(path).unwrap();
    let p = pos % bytes.len();
    bytes[p] ^= mask;
    fs::write(path, bytes).unwrap();
}

/// Payload files of the template, relative to data/, as the filesystem names them.
fn payload_files(data: &Path) -> Vec<PathBuf> {
    snapshot(data)
        .into_iter()
        .filter(|(_, node)| matches!(node, Node::File(_)))
        .map(|(p, _)| p)
        .collect()
}

#[derive(Default)]
struct Tally {
    tried: usize,
    caught: usize,
    warned: usize,
    expected_invalid: bool,
}

#[test]
fn every_single_mutation_is_detected() {
    const CASES: u32 = 200;
    let tmp = fresh_dir("prop-mutate");
    let src = tmp.path().join("src");
    let template = tmp.path().join("template");
    for (name, contents) in template_payload() {
        write_file(&src, bpath(&name), &contents);
    }
    create(&src, &template, &[]).assert_code(0);
    validate(&template, &[]).assert_code(0).assert_no_problems();
    let payload = payload_files(&template.join("data"));
    assert_eq!(payload.len(), template_payload().len());

    let tally: std::cell::RefCell<BTreeMap<String, Tally>> = Default::default();
    let counter = std::cell::Cell::new(0usize);
    run_property("single-mutation", CASES, mutation(), |m| {
        counter.set(counter.get() + 1);
        let bag = tmp.path().join(format!("case-{}", counter.get()));
        copy_tree(&template, &bag);
        let (kind, must_be_invalid) = apply(&bag, &payload, &m);
        let run = validate(&bag, &[]);
        {
            let mut t = tally.borrow_mut();
            let entry = t.entry(kind.clone()).or_default();
            entry.tried += 1;
            entry.expected_invalid = must_be_invalid;
            if run.code == Some(1) {
                entry.caught += 1;
            }
            if !run.warnings().is_empty() {
                entry.warned += 1;
            }
        }
        fs::remove_dir_all(&bag).unwrap();
        if must_be_invalid {
            prop_assert_eq!(
                run.code,
                Some(1),
                "mutation `{}` not detected: {:?}\n{}",
                kind,
                m,
                run.describe()
            );
            prop_assert!(!run.problems().is_empty(), "exit 1 without a problem line");
        } else {
            prop_assert_eq!(
                run.code,
                Some(0),
                "mutation `{}` leaves a valid bag (RFC 8493) but was refused: {:?}\n{}",
                kind,
                m,
                run.describe()
            );
        }
        Ok(())
    });

    eprintln!(
        "single-mutation: {CASES} cases ({} runs incl. shrinking)",
        counter.get()
    );
    eprintln!(
        "{:<52} {:>6} {:>7} {:>7}  expected",
        "mutation kind", "tried", "exit 1", "warned"
    );
    let (mut tried, mut caught) = (0, 0);
    for (kind, t) in tally.borrow().iter() {
        tried += t.tried;
        caught += t.caught;
        eprintln!(
            "{:<52} {:>6} {:>7} {:>7}  {}",
            kind,
            t.tried,
            t.caught,
            t.warned,
            if t.expected_invalid {
                "invalid"
            } else {
                "valid"
            }
        );
    }
    eprintln!("{:<52} {:>6} {:>7}", "total", tried, caught);
}
