//! The event log's Merkle tree, checkpoints and proofs (issue 19), end to end through
//! the real binary on temporary archives:
//!
//! - roots, inclusion proofs (every leaf) and consistency proofs, for trees grown by
//!   real appends from 3 to over 1,000 events, against an independent RFC 9162
//!   implementation in Python (hashlib) written here;
//! - the tree rebuilt from the log when it is missing or damaged;
//! - a checkpoint's signature verified by OpenSSL alone, with the exact commands of
//!   docs/auditing.md;
//! - the forger of SECURITY.md (rewrites line 2, re-chains the whole log) caught by
//!   `audit --checkpoint`, as are a truncated, a reordered log and a fake event.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{blake3_hex, cairn, describe, fresh_dir, run};
use serde_json::Value;

fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", describe(&out));
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", describe(out)))
}

/// An archive named `name` with `items` small items ingested.
fn archive(parent: &Path, name: &str, items: usize) -> PathBuf {
    let root = parent.join(name);
    ok(cairn().arg("init").arg(&root));
    add_items(&root, 0, items);
    ok(cairn().args(["ingest", "--root"]).arg(&root));
    root
}

fn add_items(root: &Path, from: usize, count: usize) {
    let intake = root.join("intake");
    let mut csv = String::from("filename,dc.title,dc.date,dc.type\n");
    for i in from..from + count {
        let name = format!("item-{i:03}");
        fs::create_dir_all(intake.join(&name)).expect("mkdir");
        fs::write(
            intake.join(&name).join("page.txt"),
            format!("Synthetic S-21 prisoner record {i}\n"),
        )
        .expect("write");
        csv.push_str(&format!(
            "{name},\"Sample: synthetic record {i}, S-21\",1977,Text\n"
        ));
    }
    fs::write(intake.join("metadata.csv"), csv).expect("csv");
}

fn ingest_more(root: &Path, from: usize, count: usize) {
    // The earlier items are archived; intake/ only holds the new ones.
    for entry in fs::read_dir(root.join("intake")).expect("intake") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            fs::remove_dir_all(&p).expect("clear intake");
        }
    }
    add_items(root, from, count);
    ok(cairn().args(["ingest", "--root"]).arg(root));
}

fn keygen(root: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join(format!(
        "{}.key",
        root.file_name().unwrap().to_string_lossy()
    ));
    ok(cairn()
        .args(["key", "generate", "--root"])
        .arg(root)
        .arg("--out")
        .arg(&key));
    let public = PathBuf::from(format!("{}.pub", key.display()));
    (key, public)
}

/// `cairn checkpoint` exits `code` with `why` on stderr.
fn refused_checkpoint(root: &Path, key: &Path, code: i32, why: &str) {
    let out = run(cairn()
        .args(["checkpoint", "--root"])
        .arg(root)
        .arg("--key")
        .arg(key));
    assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(why),
        "{}",
        describe(&out)
    );
}

/// Signs a checkpoint; returns (size, root, path of the kept note).
fn checkpoint(root: &Path, key: &Path) -> (u64, String, PathBuf) {
    let out = ok(cairn()
        .args(["checkpoint", "--json", "--root"])
        .arg(root)
        .arg("--key")
        .arg(key));
    let v = json(&out);
    (
        v["tree_size"].as_u64().expect("size"),
        v["root"].as_str().expect("root").to_string(),
        root.join(v["kept"].as_str().expect("kept")),
    )
}

fn log_lines(root: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(root.join("manifests/events.jsonl")).expect("log");
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    assert_eq!(
        lines.pop().as_deref(),
        Some(&b""[..]),
        "the log ends with a newline"
    );
    lines
}

fn write_log(root: &Path, lines: &[Vec<u8>]) {
    let mut bytes = lines.join(&b'\n');
    bytes.push(b'\n');
    fs::write(root.join("manifests/events.jsonl"), bytes).expect("write log");
}

/// Recomputes every `prev`, as a forger who controls the machine would.
fn rechain(lines: &mut [Vec<u8>]) {
    let mut prev = "0".repeat(64);
    for line in lines.iter_mut() {
        let text = String::from_utf8(line.clone()).expect("UTF-8");
        let at = text.rfind("\"prev\":\"").expect("prev") + 8;
        *line = format!("{}{prev}{}", &text[..at], &text[at + 64..]).into_bytes();
        prev = blake3_hex(line);
    }
}

/// Sets `seq` of a line.
fn set_seq(line: &[u8], seq: usize) -> Vec<u8> {
    let text = String::from_utf8(line.to_vec()).expect("UTF-8");
    let rest = &text["{\"seq\":".len()..];
    let end = rest.find(',').expect("seq,");
    format!("{{\"seq\":{seq}{}", &rest[end..]).into_bytes()
}

fn audit_cp(root: &Path, cp: &Path, public: &Path) -> (Option<i32>, Value, Output) {
    let out = run(cairn()
        .args(["audit", "--json", "--root"])
        .arg(root)
        .arg("--checkpoint")
        .arg(cp)
        .arg("--key")
        .arg(public));
    let v = json(&out);
    (out.status.code(), v, out)
}

/// RFC 9162 section 2.1, written from the RFC alone with hashlib: MTH, PATH, PROOF
/// and the two verification algorithms. Reads the log and a JSON file of claims made
/// by Cairn and checks every one; prints "checked N" or the first failure.
const PYTHON_RFC9162: &str = r#"
import base64, hashlib, json, sys
from functools import lru_cache

log, claims = sys.argv[1], json.load(open(sys.argv[2]))
data = open(log, 'rb').read()
assert data.endswith(b'\n')
D = data[:-1].split(b'\n')

def H(b): return hashlib.sha256(b).digest()

@lru_cache(maxsize=None)
def MTH(a, b):
    n = b - a
    if n == 0: return H(b'')
    if n == 1: return H(b'\x00' + D[a])
    k = 1
    while k * 2 < n: k *= 2
    return H(b'\x01' + MTH(a, a + k) + MTH(a + k, b))

def PATH(m, a, b):
    n = b - a
    if n <= 1: return []
    k = 1
    while k * 2 < n: k *= 2
    if m < k: return PATH(m, a, a + k) + [MTH(a + k, b)]
    return PATH(m - k, a + k, b) + [MTH(a, a + k)]

def SUBPROOF(m, a, b, whole):
    n = b - a
    if m == n: return [] if whole else [MTH(a, b)]
    k = 1
    while k * 2 < n: k *= 2
    if m <= k: return SUBPROOF(m, a, a + k, whole) + [MTH(a + k, b)]
    return SUBPROOF(m - k, a + k, b, False) + [MTH(a, a + k)]

def verify_inclusion(leaf, index, size, path, root):
    if index >= size: return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = H(b'\x01' + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1; sn >>= 1
        else:
            r = H(b'\x01' + r + p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root

def verify_consistency(m, n, old, new, proof):
    if m == n: return not proof and old == new
    if m == 0: return not proof
    path = ([old] if m & (m - 1) == 0 else []) + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1; sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            fr = H(b'\x01' + c + fr); sr = H(b'\x01' + c + sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1; sn >>= 1
        else:
            sr = H(b'\x01' + sr + c)
        fn >>= 1; sn >>= 1
    return sn == 0 and fr == old and sr == new

b64 = lambda s: base64.b64decode(s, validate=True)
checked = 0
for size, root in claims['roots']:
    assert size <= len(D), (size, len(D))
    assert MTH(0, size) == b64(root), f'root of {size}'
    checked += 1
for index, size, path, root in claims['inclusion']:
    path = [b64(p) for p in path]
    assert path == PATH(index, 0, size), f'path of leaf {index} in {size}'
    leaf = H(b'\x00' + D[index])
    assert verify_inclusion(leaf, index, size, path, b64(root)), f'leaf {index} in {size}'
    assert not verify_inclusion(H(b'\x00fake'), index, size, path, b64(root))
    checked += 1
for m, n, proof in claims['consistency']:
    proof = [b64(p) for p in proof]
    want = SUBPROOF(m, 0, n, True) if 0 < m < n else []
    assert proof == want, f'consistency {m} -> {n}'
    assert verify_consistency(m, n, MTH(0, m), MTH(0, n), proof), f'verify {m} -> {n}'
    if 0 < m < n:
        assert not verify_consistency(m, n, H(b'other'), MTH(0, n), proof)
    checked += 1
print('checked', checked)
"#;

fn python_check(dir: &Path, log: &Path, claims: &Value) -> String {
    let script = dir.join("rfc9162.py");
    fs::write(&script, PYTHON_RFC9162).expect("script");
    let claims_path = dir.join("claims.json");
    fs::write(&claims_path, claims.to_string()).expect("claims");
    let out = match Command::new("python3")
        .arg(&script)
        .arg(log)
        .arg(&claims_path)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            common::skip(&format!("python3 not found ({e})"));
            return String::new();
        }
    };
    assert_eq!(out.status.code(), Some(0), "python: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn proof_of(root: &Path, event: u64, cp: Option<&Path>) -> Value {
    let mut cmd = cairn();
    cmd.args(["proof", "--root"])
        .arg(root)
        .arg("--event")
        .arg(event.to_string());
    if let Some(cp) = cp {
        cmd.arg("--checkpoint").arg(cp);
    }
    json(&ok(&mut cmd))
}

#[test]
fn roots_and_proofs_agree_with_an_independent_rfc9162_implementation() {
    let tmp = fresh_dir("tlog-python");
    let keys = tmp.path().join("keys");
    fs::create_dir(&keys).expect("keys");
    // One item (4 events: digest calculation, validation, format identification,
    // ingestion); then one fixity event per run: every size from 4 to 40, each tree grown
    // by real appends (sizes 1 to 3 are cut by hand in the rebuild test).
    let root = archive(tmp.path(), "grown", 1);
    let (key, public) = keygen(&root, &keys);
    let mut checkpoints: Vec<(u64, String, PathBuf)> = Vec::new();
    let mut claims = serde_json::json!({"roots": [], "inclusion": [], "consistency": []});
    let push =
        |claims: &mut Value, k: &str, v: Value| claims[k].as_array_mut().expect("array").push(v);
    loop {
        let cp = checkpoint(&root, &key);
        push(&mut claims, "roots", serde_json::json!([cp.0, cp.1]));
        // Every leaf of every tree up to 24 events (then roots only, to 40).
        for event in (1..=cp.0).filter(|_| cp.0 <= 24) {
            let p = proof_of(&root, event, Some(&cp.2));
            assert_eq!(p["tree_size"], cp.0);
            push(
                &mut claims,
                "inclusion",
                serde_json::json!([event - 1, cp.0, p["path"], p["root"]]),
            );
        }
        checkpoints.push(cp);
        if checkpoints.last().map(|c| c.0) >= Some(40) {
            break;
        }
        ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
    }
    assert_eq!(
        checkpoints.iter().map(|c| c.0).collect::<Vec<_>>(),
        (4..=40).collect::<Vec<_>>()
    );
    // Then five more items, and six events a run, past 1,000 events.
    ingest_more(&root, 1, 5);
    let mut runs = 0;
    loop {
        let cp = checkpoint(&root, &key);
        push(&mut claims, "roots", serde_json::json!([cp.0, cp.1]));
        checkpoints.push(cp.clone());
        // Now and then, consistency from a spread of earlier checkpoints to now.
        if runs % 20 == 0 {
            for old in checkpoints.iter().step_by(7) {
                let (code, v, out) = audit_cp(&root, &old.2, &public);
                assert_eq!(code, Some(0), "{}", describe(&out));
                let c = &v["checkpoint"];
                assert_eq!(c["extends"], true);
                assert_eq!(c["log_size"], cp.0);
                push(
                    &mut claims,
                    "consistency",
                    serde_json::json!([old.0, cp.0, c["consistency_proof"]]),
                );
            }
        }
        if cp.0 >= 1000 {
            break;
        }
        ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
        runs += 1;
    }
    let last = checkpoints.last().expect("checkpoints").clone();
    assert!(last.0 >= 1000, "{}", last.0);
    // Every leaf of the last tree, in it; and with no --checkpoint, in the newest kept
    // checkpoint (the same tree).
    // (Two at a time: the machine has two cores.)
    let proofs: Vec<(u64, Value)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2u64)
            .map(|w| {
                let (root, last) = (&root, &last);
                scope.spawn(move || {
                    (1..=last.0)
                        .filter(|e| e % 2 == w)
                        .map(|event| {
                            let cp = if event % 4 < 2 {
                                Some(last.2.as_path())
                            } else {
                                None
                            };
                            (event, proof_of(root, event, cp))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("proof worker"))
            .collect()
    });
    assert_eq!(proofs.len() as u64, last.0);
    for (event, p) in proofs {
        assert_eq!(p["tree_size"], last.0, "event {event}");
        assert!(p["checkpoint"].is_string(), "event {event}: {p}");
        push(
            &mut claims,
            "inclusion",
            serde_json::json!([event - 1, last.0, p["path"], p["root"]]),
        );
    }
    // Consistency from every checkpoint to the last.
    for old in &checkpoints {
        let (code, v, out) = audit_cp(&root, &old.2, &public);
        assert_eq!(code, Some(0), "{}", describe(&out));
        push(
            &mut claims,
            "consistency",
            serde_json::json!([old.0, last.0, v["checkpoint"]["consistency_proof"]]),
        );
    }
    let n_claims = ["roots", "inclusion", "consistency"]
        .iter()
        .map(|k| claims[k].as_array().map_or(0, Vec::len))
        .sum::<usize>();
    let said = python_check(tmp.path(), &root.join("manifests/events.jsonl"), &claims);
    if !said.is_empty() {
        assert_eq!(said, format!("checked {n_claims}"));
        eprintln!("python confirmed {n_claims} roots and proofs");
    }
}

#[test]
fn the_tree_is_rebuilt_from_the_log_when_missing_or_damaged() {
    let tmp = fresh_dir("tlog-rebuild");
    let root = archive(tmp.path(), "rebuilt", 3);
    let (key, _) = keygen(&root, tmp.path());
    for _ in 0..4 {
        ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
    }
    let want = checkpoint(&root, &key);
    // Three items of four events each, then four runs of three fixity events.
    assert_eq!(want.0, 12 + 12);
    let tree = root.join("manifests/tlog");
    let level = |n: usize| tree.join(format!("level-{n:02}"));
    type Damage<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let damages: Vec<Damage> = vec![
        (
            "missing",
            Box::new(|| fs::remove_dir_all(&tree).expect("rm")),
        ),
        (
            "short level 0",
            Box::new(|| {
                let b = fs::read(level(0)).expect("read");
                fs::write(level(0), &b[..b.len() - 32]).expect("write");
            }),
        ),
        (
            "torn level 0",
            Box::new(|| {
                let b = fs::read(level(0)).expect("read");
                fs::write(level(0), &b[..b.len() - 5]).expect("write");
            }),
        ),
        (
            "wrong last leaf",
            Box::new(|| {
                let mut b = fs::read(level(0)).expect("read");
                let n = b.len();
                b[n - 1] ^= 1;
                fs::write(level(0), b).expect("write");
            }),
        ),
        (
            "missing level 2",
            Box::new(|| fs::remove_file(level(2)).expect("rm")),
        ),
        (
            "long level 1",
            Box::new(|| {
                let mut b = fs::read(level(1)).expect("read");
                b.extend_from_slice(&[0u8; 32]);
                fs::write(level(1), b).expect("write");
            }),
        ),
    ];
    for (what, damage) in &damages {
        damage();
        let got = checkpoint(&root, &key);
        assert_eq!((got.0, &got.1), (want.0, &want.1), "after {what}");
    }
    // And an append repairs it as well: the next run's tree is the log's.
    fs::remove_dir_all(&tree).expect("rm");
    ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
    assert!(tree.join("level-00").is_file());
    let after = checkpoint(&root, &key);
    assert_eq!(after.0, want.0 + 3);
    let claims = serde_json::json!({"roots": [[want.0, want.1], [after.0, after.1]],
        "inclusion": [], "consistency": []});
    let said = python_check(tmp.path(), &root.join("manifests/events.jsonl"), &claims);
    assert!(said.is_empty() || said == "checked 2", "{said}");
    // Trees of 1 to 3 events: the log cut short by hand (a tree is over lines). Cairn
    // refuses a log that lacks lines it appended, until the operator moves the tree
    // aside as evidence (docs/auditing.md): the tree is then built from the log.
    let all = log_lines(&root);
    for n in [3usize, 2, 1] {
        let lines = all[..n].to_vec();
        write_log(&root, &lines);
        refused_checkpoint(&root, &key, 1, "were removed");
        fs::rename(&tree, root.join(format!("manifests/tlog.replaced-cut-{n}"))).expect("aside");
        let got = checkpoint(&root, &key);
        assert_eq!(got.0, n as u64);
        let claims = serde_json::json!({"roots": [[got.0, got.1]], "inclusion": [],
            "consistency": []});
        let said = python_check(tmp.path(), &root.join("manifests/events.jsonl"), &claims);
        assert!(said.is_empty() || said == "checked 1", "{said}");
    }
}

/// The ```sh block of docs/auditing.md that verifies a checkpoint with OpenSSL.
fn openssl_commands() -> String {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/auditing.md"))
        .expect("docs/auditing.md");
    let mut blocks = doc
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""));
    blocks
        .find(|b| b.contains("openssl pkeyutl"))
        .expect("docs/auditing.md has a ```sh block running openssl pkeyutl")
        .to_string()
}

#[test]
fn openssl_alone_verifies_a_checkpoint_signature_with_the_documented_commands() {
    let have = Command::new("openssl").arg("version").output();
    if have.is_err() {
        common::skip("the openssl command is not installed (apt-get install openssl)");
        return;
    }
    let tmp = fresh_dir("tlog-openssl");
    let root = archive(tmp.path(), "openssl", 2);
    let (key, public) = keygen(&root, tmp.path());
    let (_, _, kept) = checkpoint(&root, &key);
    let work = tmp.path().join("auditor");
    fs::create_dir(&work).expect("mkdir");
    fs::copy(&kept, work.join("checkpoint.txt")).expect("copy");
    fs::copy(&public, work.join("archive.pub")).expect("copy");
    let script = openssl_commands();
    let verify = |dir: &Path| {
        Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(dir)
            .output()
            .expect("sh")
    };
    let out = verify(&work);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully"),
        "{}",
        describe(&out)
    );
    // A checkpoint whose size was changed fails, as does another key.
    let text = fs::read_to_string(work.join("checkpoint.txt")).expect("read");
    let mut lines: Vec<&str> = text.split('\n').collect();
    let bumped = (lines[1].parse::<u64>().expect("size") + 1).to_string();
    lines[1] = &bumped;
    fs::write(work.join("checkpoint.txt"), lines.join("\n")).expect("write");
    let out = verify(&work);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    fs::copy(&kept, work.join("checkpoint.txt")).expect("copy");
    let other = tmp.path().join("other");
    ok(cairn()
        .args(["key", "generate", "--name", "openssl", "--out"])
        .arg(&other));
    fs::copy(format!("{}.pub", other.display()), work.join("archive.pub")).expect("copy");
    let out = verify(&work);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn the_rechaining_forger_is_caught_by_an_older_checkpoint() {
    let tmp = fresh_dir("tlog-forger");
    let root = archive(tmp.path(), "forged", 3);
    let (key, public) = keygen(&root, tmp.path());
    // The auditor keeps a checkpoint elsewhere; the archive goes on.
    let (old_size, _, kept) = checkpoint(&root, &key);
    let auditor = tmp.path().join("auditor-copy.txt");
    fs::copy(&kept, &auditor).expect("copy");
    ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
    let (code, v, out) = audit_cp(&root, &auditor, &public);
    assert_eq!(code, Some(0), "{}", describe(&out));
    assert_eq!(v["checkpoint"]["extends"], true);

    // The forger rewrites line 2 and re-chains the whole log: the chain is intact.
    let genuine = log_lines(&root);
    let mut forged = genuine.clone();
    let text = String::from_utf8(forged[1].clone()).expect("UTF-8");
    forged[1] = text
        .replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1)
        .into_bytes();
    assert_ne!(forged[1], genuine[1]);
    rechain(&mut forged);
    write_log(&root, &forged);
    let plain = json(&run(cairn().args(["audit", "--json", "--root"]).arg(&root)));
    assert!(
        plain["log"]["broken"].is_null(),
        "the forgery re-chains: {plain}"
    );

    let (code, v, out) = audit_cp(&root, &auditor, &public);
    assert_eq!(code, Some(1), "{}", describe(&out));
    let c = &v["checkpoint"];
    assert_eq!(c["signature_verified"], true);
    assert_eq!(c["extends"], false);
    assert_eq!(c["first_differing_event"], 2, "{c}");
    let detail = c["detail"].as_str().expect("detail");
    assert!(
        detail.contains("the first event that differs is event 2"),
        "{detail}"
    );
    // The text report says it too, on stderr.
    let text = run(cairn()
        .args(["audit", "--root"])
        .arg(&root)
        .arg("--checkpoint")
        .arg(&auditor)
        .arg("--key")
        .arg(&public));
    assert_eq!(text.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&text.stderr)
            .contains("checkpoint: FAILED: today's log does NOT extend the checkpoint"),
        "{}",
        describe(&text)
    );

    // The forger's next run through Cairn is refused, naming event 2: the tree is the
    // record of the lines Cairn appended, and is never rebuilt over a changed log.
    let out = run(cairn()
        .args(["fixity", "--all", "--quiet", "--root"])
        .arg(&root));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("line 2 of the event log is not the line Cairn appended there"),
        "{}",
        describe(&out)
    );
    assert_eq!(log_lines(&root), forged, "nothing appended");
    let (code, v, out) = audit_cp(&root, &auditor, &public);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert_eq!(v["checkpoint"]["first_differing_event"], 2);

    // A forger who also deletes every tree and kept checkpoint is still caught; the
    // event is then only bracketed.
    for entry in fs::read_dir(root.join("manifests")).expect("manifests") {
        let p = entry.expect("entry").path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_file() && name.starts_with("tlog") {
            fs::remove_file(&p).expect("rm");
        } else if name.starts_with("tlog") || name == "checkpoints" {
            fs::remove_dir_all(&p).expect("rm");
        }
    }
    let (code, v, out) = audit_cp(&root, &auditor, &public);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert_eq!(v["checkpoint"]["extends"], false);
    assert_eq!(
        v["checkpoint"]["differing_between"],
        serde_json::json!([1, old_size])
    );

    // A checkpoint signed by another key, or altered, is refused outright.
    let other = tmp.path().join("other");
    ok(cairn()
        .args(["key", "generate", "--name", "forged", "--out"])
        .arg(&other));
    let (code, v, _) = audit_cp(
        &root,
        &auditor,
        Path::new(&format!("{}.pub", other.display())),
    );
    assert_eq!(code, Some(1));
    assert_eq!(v["checkpoint"]["signature_verified"], false);
}

#[test]
fn truncated_reordered_and_faked_logs_are_each_caught() {
    let tmp = fresh_dir("tlog-tamper");
    let root = archive(tmp.path(), "tampered", 3);
    let (key, public) = keygen(&root, tmp.path());
    ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
    let (size, _, kept) = checkpoint(&root, &key);
    let genuine = log_lines(&root);
    assert_eq!(size as usize, genuine.len());

    // Truncated: the last three events removed.
    write_log(&root, &genuine[..genuine.len() - 3]);
    let (code, v, out) = audit_cp(&root, &kept, &public);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert_eq!(v["checkpoint"]["first_differing_event"], size - 2);
    assert!(
        v["checkpoint"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("are gone")),
        "{}",
        describe(&out)
    );

    // Reordered: events 4 and 5 swapped, seqs fixed, and re-chained.
    let mut swapped = genuine.clone();
    swapped.swap(3, 4);
    swapped[3] = set_seq(&swapped[3], 4);
    swapped[4] = set_seq(&swapped[4], 5);
    rechain(&mut swapped);
    write_log(&root, &swapped);
    let plain = json(&run(cairn().args(["audit", "--json", "--root"]).arg(&root)));
    assert!(plain["log"]["broken"].is_null(), "{plain}");
    let (code, v, out) = audit_cp(&root, &kept, &public);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert_eq!(
        v["checkpoint"]["first_differing_event"],
        4,
        "{}",
        describe(&out)
    );

    // A fake event appended (well chained) after the checkpoint: the checkpoint's
    // events are intact, but Cairn's tree never recorded the new one.
    write_log(&root, &genuine);
    let mut faked = genuine.clone();
    let last = String::from_utf8(faked[faked.len() - 1].clone()).expect("UTF-8");
    let fake = set_seq(
        last.replacen("\"outcome\":\"failure\"", "\"outcome\":\"success\"", 1)
            .as_bytes(),
        faked.len() + 1,
    );
    faked.push(fake);
    rechain(&mut faked);
    write_log(&root, &faked);
    let (code, v, out) = audit_cp(&root, &kept, &public);
    assert_eq!(code, Some(1), "{}", describe(&out));
    assert_eq!(v["checkpoint"]["extends"], true);
    let stored = v["checkpoint"]["stored_tree"]
        .as_str()
        .expect("stored_tree");
    assert!(
        stored.contains(&format!("events {}..{}", size + 1, size + 1)),
        "{stored}"
    );
    // It is not in the checkpoint's tree: no proof can be had (Cairn refuses a log
    // with lines it did not write), and one forged from a genuine proof fails offline.
    let out = run(cairn()
        .args(["proof", "--root"])
        .arg(&root)
        .args(["--event", &(size + 1).to_string(), "--checkpoint"])
        .arg(&kept));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "lines {}..{} of the event log were not written by Cairn",
            size + 1,
            size + 1
        )),
        "{}",
        describe(&out)
    );
    write_log(&root, &genuine);
    let mut p = proof_of(&root, size, Some(&kept));
    p["event"] = Value::String(
        String::from_utf8(set_seq(&faked[size as usize], size as usize)).expect("UTF-8"),
    );
    let pf = tmp.path().join("forged-proof.json");
    fs::write(&pf, p.to_string()).expect("write");
    let out = run(cairn()
        .arg("verify-proof")
        .arg(&pf)
        .arg("--key")
        .arg(&public));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
}

#[test]
fn proofs_verify_offline_and_name_what_is_wrong() {
    let tmp = fresh_dir("tlog-proof");
    let root = archive(tmp.path(), "proofs", 2);
    let (key, public) = keygen(&root, tmp.path());
    let (size, _, kept) = checkpoint(&root, &key);
    let pf = tmp.path().join("proof.json");
    ok(cairn()
        .args(["proof", "cairn-000002", "--root"])
        .arg(&root)
        .arg("--out")
        .arg(&pf));
    let p: Value = serde_json::from_str(&fs::read_to_string(&pf).expect("proof")).expect("JSON");
    assert_eq!(p["tree_size"], size);
    assert!(p["event"]
        .as_str()
        .expect("event")
        .contains("\"type\":\"ingestion\""));
    assert!(p["event"]
        .as_str()
        .expect("event")
        .contains("\"object\":\"cairn-000002\""));
    // Offline: the archive is gone.
    let away = tmp.path().join("elsewhere");
    fs::create_dir(&away).expect("mkdir");
    fs::rename(&root, away.join("moved")).expect("move the archive away");
    let v = json(&ok(cairn()
        .arg("verify-proof")
        .arg(&pf)
        .arg("--key")
        .arg(&public)
        .arg("--json")));
    assert_eq!(v["ok"], true);
    assert!(v["signed_by"].is_string());
    // Without the key: refused, exit 1 (anyone can make a tree and a proof that
    // agree); with --unsigned-ok, verified, the signature said to be unchecked.
    let out = run(cairn().arg("verify-proof").arg(&pf));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("signature was not checked"),
        "{}",
        describe(&out)
    );
    let out = ok(cairn().arg("verify-proof").arg(&pf).arg("--unsigned-ok"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NOT checked"),
        "{}",
        describe(&out)
    );
    // Each alteration fails, exit 1.
    let alter = |f: &dyn Fn(&mut Value)| {
        let mut q = p.clone();
        f(&mut q);
        let path = tmp.path().join("altered.json");
        fs::write(&path, q.to_string()).expect("write");
        let out = run(cairn()
            .arg("verify-proof")
            .arg(&path)
            .arg("--key")
            .arg(&public));
        assert_eq!(out.status.code(), Some(1), "{q}\n{}", describe(&out));
    };
    alter(&|q| {
        q["event"] = Value::String(q["event"].as_str().unwrap().replace("success", "failure"))
    });
    alter(&|q| q["path"][0] = Value::String(q["path"][1].as_str().unwrap().to_string()));
    alter(&|q| q["tree_size"] = Value::from(size + 1));
    alter(&|q| {
        q["checkpoint"] = Value::String(q["checkpoint"].as_str().unwrap().replacen(
            &format!("\n{size}\n"),
            &format!("\n{}\n", size - 1),
            1,
        ))
    });
    let _ = kept;
}

#[test]
fn keys_are_private_and_checkpoints_follow_runs_when_configured() {
    let tmp = fresh_dir("tlog-keys");
    let root = archive(tmp.path(), "keys", 1);
    let (key, public) = keygen(&root, tmp.path());
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&key).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let vkey = fs::read_to_string(&public).expect("pub");
    assert!(vkey.starts_with("keys+"), "{vkey}");
    // Never overwritten.
    let out = run(cairn()
        .args(["key", "generate", "--root"])
        .arg(&root)
        .arg("--out")
        .arg(&key));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // A key others may read is refused.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    // A key others can read is a setting to fix (exit 3), not a problem in the data.
    refused_checkpoint(&root, &key, 3, "chmod 600");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).expect("chmod");

    // checkpoint_on_write: ingest and fixity each leave a checkpoint.
    let toml = fs::read_to_string(root.join("cairn.toml")).expect("toml");
    let toml = toml
        .replace(
            "checkpoint_key = \"\"",
            &format!("checkpoint_key = \"{}\"", key.display()),
        )
        .replace("checkpoint_on_write = false", "checkpoint_on_write = true")
        .replace("name = \"keys\"", "name = \"archive.example.org/s21\"");
    fs::write(root.join("cairn.toml"), toml).expect("toml");
    ok(cairn().args(["fixity", "--all", "--root"]).arg(&root));
    ingest_more(&root, 1, 1);
    let kept: Vec<String> = fs::read_dir(root.join("manifests/checkpoints"))
        .expect("checkpoints")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let n = log_lines(&root).len();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        kept.iter().any(|k| k.starts_with(&format!("{n:012}-"))),
        "{kept:?}"
    );
    // The origin is the configured name; the key, named otherwise, still signs.
    let note = fs::read_to_string(
        root.join("manifests/checkpoints")
            .join(kept.iter().max().unwrap()),
    )
    .expect("note");
    assert!(
        note.starts_with(&format!("archive.example.org/s21\n{n}\n")),
        "{note}"
    );
}

#[test]
fn a_log_with_a_broken_chain_is_never_signed() {
    let tmp = fresh_dir("tlog-broken-sign");
    let root = archive(tmp.path(), "broken", 2);
    let (key, _public) = keygen(&root, tmp.path());
    // An edited line, not re-chained: the chain breaks at the next line.
    let mut lines = log_lines(&root);
    let text = String::from_utf8(lines[1].clone()).expect("UTF-8");
    lines[1] = text
        .replacen("\"outcome\":\"success\"", "\"outcome\":\"failure\"", 1)
        .into_bytes();
    write_log(&root, &lines);
    let out = run(cairn()
        .args(["checkpoint", "--root"])
        .arg(&root)
        .arg("--key")
        .arg(&key));
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("chain is broken at line 3") && stderr.contains("No checkpoint was signed"),
        "{}",
        describe(&out)
    );
    let kept = root.join("manifests/checkpoints");
    let signed = fs::read_dir(&kept).map(|d| d.count()).unwrap_or(0);
    assert_eq!(signed, 0, "no checkpoint kept in {}", kept.display());
}
