//! Replicas on another disk (folder replicas, `file://`), end to end (issue 15):
//! replicate (idempotent, verified, conflicts refused), fixity --replica, audit
//! --replicas, repair in both directions and its refusal, restore into a new archive
//! root that audits and validates, a full disk, replicate_on_ingest.
//!
//! The same commands against a real S3 server (Garage) are in tests/replica_s3.rs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common;
use common::{cairn, describe, file_bytes, run, skip};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/s21");

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn expect(out: &Output, want: i32, what: &str) {
    assert_eq!(code(out), want, "{what}:\n{}", describe(out));
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(out)))
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

/// A fresh archive with the sample collection ingested, and a folder replica `nas`
/// configured (not yet filled).
struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    replica: PathBuf,
}

impl Fixture {
    fn new(label: &str) -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("cairn-replica-{label}-"))
            .tempdir()
            .unwrap();
        let root = tmp.path().join("archive-root");
        let replica = tmp.path().join("nas");
        expect(&run(cairn().arg("init").arg(&root)), 0, "init");
        copy_dir(Path::new(SAMPLES), &root.join("intake"));
        let f = Fixture {
            _tmp: tmp,
            root,
            replica,
        };
        f.add_replica("nas", &format!("url = \"file://{}\"", f.replica.display()));
        fs::create_dir(&f.replica).unwrap();
        expect(
            &f.cairn(&["replicate", "--init", "nas"]),
            0,
            "replicate --init",
        );
        expect(&f.cairn(&["ingest"]), 0, "ingest");
        f
    }

    fn add_replica(&self, name: &str, body: &str) {
        let path = self.root.join("cairn.toml");
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str(&format!("\n[[replica]]\nname = \"{name}\"\n{body}\n"));
        fs::write(&path, text).unwrap();
    }

    fn cairn(&self, args: &[&str]) -> Output {
        run(cairn().args(args).arg("--root").arg(&self.root))
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.root.join("manifests"))
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.strip_suffix(".json")
                    .filter(|s| !s.starts_with('.'))
                    .map(str::to_string)
            })
            .collect();
        ids.sort();
        ids
    }

    /// The first payload file of item `id`, relative to the archive root.
    fn payload(&self, id: &str) -> String {
        let entry: Value = serde_json::from_slice(
            &fs::read(self.root.join(format!("manifests/{id}.json"))).unwrap(),
        )
        .unwrap();
        format!(
            "archive/{id}/{}",
            entry["files"][0]["path"].as_str().unwrap()
        )
    }

    /// `cairn restore --from nas` into a new folder beside the archive root (exit 0);
    /// the restored archive must hold exactly `replicated` (the archive's records as
    /// they were replicated) and pass `cairn audit`.
    fn restore_from_nas(&self, replicated: &BTreeMap<PathBuf, Vec<u8>>) -> PathBuf {
        let restored = self._tmp.path().join("restored");
        let out = self.cairn(&["restore", "--from", "nas", restored.to_str().unwrap()]);
        expect(&out, 0, "restore --from nas");
        same_files(&restored_records(&restored), replicated, "restored archive");
        expect(
            &run(cairn().arg("audit").arg("--root").arg(&restored)),
            0,
            "audit of the restored archive",
        );
        restored
    }

    fn events(&self) -> Vec<Value> {
        fs::read_to_string(self.root.join("manifests/events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The archive's records a replica must mirror: bags, register entries, event log.
fn mirrored(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    file_bytes(root)
        .into_iter()
        .filter(|(p, _)| {
            let s = p.to_string_lossy();
            (s.starts_with("archive/") && !s.starts_with("archive/.") && !s.ends_with("README.md"))
                || (s.starts_with("manifests/")
                    && (s.ends_with(".json") || s.ends_with("events.jsonl"))
                    && !s.ends_with("events.head.json")
                    && !s.contains("/."))
        })
        .collect()
}

/// [`mirrored`] of a restored archive, its log without the `recovery` event the
/// restore appended after the restored lines (asserted to be there).
fn restored_records(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = mirrored(root);
    let log = files
        .get_mut(Path::new("manifests/events.jsonl"))
        .expect("a restored log");
    let body = &log[..log.len() - 1];
    let cut = body.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let last: Value = serde_json::from_slice(&body[cut..]).expect("an event");
    assert_eq!(last["type"], "recovery", "the restore's last event: {last}");
    log.truncate(cut);
    files
}

/// Asserts two file maps are equal, naming the paths that differ (not their bytes).
fn same_files(got: &BTreeMap<PathBuf, Vec<u8>>, want: &BTreeMap<PathBuf, Vec<u8>>, what: &str) {
    let differ: Vec<&PathBuf> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(differ.is_empty(), "{what}: these files differ: {differ:?}");
}

/// Every file but hidden ones (lock files, which every run rewrites).
fn visible(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    file_bytes(root)
        .into_iter()
        .filter(|(p, _)| {
            !p.components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        })
        .collect()
}

#[test]
fn replicate_is_verified_idempotent_and_mirrors_the_archive() {
    let f = Fixture::new("round");
    let out = f.cairn(&["replicate", "--json"]);
    expect(&out, 0, "replicate");
    let report = json(&out);
    let copied: u64 = report["replicas"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["copied"].as_u64().unwrap())
        .sum();
    assert!(copied > 10, "objects copied: {copied}");

    // Plain files, the same bytes at the same paths as in the archive root.
    let local = mirrored(&f.root);
    let remote = mirrored(&f.replica);
    assert_eq!(
        local.keys().collect::<Vec<_>>(),
        remote.keys().collect::<Vec<_>>()
    );
    assert!(
        local == remote,
        "the replica's files differ from the archive's"
    );
    assert!(f.replica.join(".cairn/events.head.json").is_file());
    assert!(f.replica.join("cairn.toml").is_file());

    // One replication event per item, naming the replica.
    let events = f.events();
    for id in f.ids() {
        assert!(
            events.iter().any(|e| e["type"] == "replication"
                && e["object"] == id.as_str()
                && e["outcome"] == "success"
                && e["data"]["replica"] == "nas"),
            "no replication event for {id}"
        );
    }

    // A rerun copies nothing and logs nothing.
    let before = f.events().len();
    let out = f.cairn(&["replicate", "--json"]);
    expect(&out, 0, "second replicate");
    let report = json(&out);
    for item in report["replicas"][0]["items"].as_array().unwrap() {
        assert_eq!(item["copied"], 0, "rerun copied {item}");
    }
    assert_eq!(f.events().len(), before, "a rerun appended events");

    expect(&f.cairn(&["audit", "--replicas"]), 0, "audit --replicas");
    let out = f.cairn(&["fixity", "--replica", "nas"]);
    expect(&out, 0, "fixity --replica");
    // The replica's checks do not count as checks of the archive's bags.
    let out = f.cairn(&["audit", "--json"]);
    expect(&out, 0, "audit");
}

#[test]
fn a_differing_object_is_a_conflict_and_is_never_overwritten() {
    let f = Fixture::new("conflict");
    let id = &f.ids()[0];
    let rel = f.payload(id);
    let planted = f.replica.join(&rel);
    fs::create_dir_all(planted.parent().unwrap()).unwrap();
    fs::write(&planted, b"someone else's bytes").unwrap();
    let out = f.cairn(&["replicate"]);
    expect(&out, 1, "replicate over a conflicting object");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&rel) && stderr.contains("conflict"),
        "the conflict is not named:\n{}",
        describe(&out)
    );
    assert_eq!(fs::read(&planted).unwrap(), b"someone else's bytes");
    // The other items were replicated; a failure event names the conflict.
    assert!(f.events().iter().any(|e| e["type"] == "replication"
        && e["outcome"] == "failure"
        && e["object"] == id.as_str()));
}

#[test]
fn damaged_replica_objects_are_found_and_repaired_from_the_archive() {
    let f = Fixture::new("replica-damage");
    expect(&f.cairn(&["replicate"]), 0, "replicate");
    let ids = f.ids();
    let (a, b) = (&ids[0], &ids[1]);
    let changed = f.payload(a);
    let missing = format!("archive/{b}/bag-info.txt");
    fs::write(f.replica.join(&changed), b"bit rot").unwrap();
    fs::remove_file(f.replica.join(&missing)).unwrap();
    fs::write(f.replica.join(format!("archive/{a}/data/stray.txt")), b"x").unwrap();

    let out = f.cairn(&["fixity", "--replica", "nas", "--json"]);
    expect(&out, 1, "fixity --replica on a damaged replica");
    let report = json(&out);
    let findings: Vec<(String, String)> = report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().clone())
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        findings.contains(&(changed.clone(), "changed".into())),
        "{findings:?}"
    );
    assert!(
        findings.contains(&(missing.clone(), "missing".into())),
        "{findings:?}"
    );
    assert!(
        findings.contains(&(format!("archive/{a}/data/stray.txt"), "unexpected".into())),
        "{findings:?}"
    );
    assert!(f.events().iter().any(|e| e["type"] == "fixity check"
        && e["outcome"] == "failure"
        && e["data"]["replica"] == "nas"));
    let out = f.cairn(&["audit", "--replicas"]);
    expect(&out, 1, "audit --replicas");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&missing));
    // The archive's own audit is not failed by the replica's damage, nor are its items
    // listed as failed.
    expect(&f.cairn(&["audit"]), 0, "audit of the archive");
    let out = f.cairn(&["list", "--status", "failed"]);
    expect(&out, 0, "list --status failed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "the replica's failure is not the archive's"
    );

    // The stray object is listed (exit 1), not removed without --remove-unexpected.
    let out = f.cairn(&["repair", a, "--dry-run"]);
    expect(&out, 1, "repair --dry-run");
    assert_eq!(fs::read(f.replica.join(&changed)).unwrap(), b"bit rot");
    expect(&f.cairn(&["repair", a]), 1, "repair a");
    expect(&f.cairn(&["repair", b]), 0, "repair b");
    assert_eq!(
        fs::read(f.replica.join(&changed)).unwrap(),
        fs::read(f.root.join(&changed)).unwrap()
    );
    let events = f.events();
    let recovery = events
        .iter()
        .find(|e| e["type"] == "recovery" && e["object"] == a.as_str())
        .expect("a recovery event");
    assert!(recovery["detail"].as_str().unwrap().contains(&changed));
    fs::remove_file(f.replica.join(format!("archive/{a}/data/stray.txt"))).unwrap();
    expect(
        &f.cairn(&["fixity", "--replica", "nas"]),
        0,
        "fixity --replica after repair",
    );
}

#[test]
fn a_damaged_archive_file_is_restored_from_the_replica() {
    let f = Fixture::new("archive-damage");
    expect(&f.cairn(&["replicate"]), 0, "replicate");
    let id = f.ids()[2].clone();
    let rel = f.payload(&id);
    let good = fs::read(f.root.join(&rel)).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 1;
    fs::write(f.root.join(&rel), &bad).unwrap();
    let tag = format!("archive/{id}/bagit.txt");
    fs::remove_file(f.root.join(&tag)).unwrap();

    let out = f.cairn(&["fixity", "--id", &id]);
    expect(&out, 1, "fixity on the damaged bag");
    // Replicating the damaged item sends nothing new and says why.
    let out = f.cairn(&["repair", &id, "--json"]);
    expect(&out, 0, "repair");
    let report = json(&out);
    let repaired: Vec<&str> = report["repaired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert!(
        repaired.contains(&rel.as_str()) && repaired.contains(&tag.as_str()),
        "{report}"
    );
    assert_eq!(fs::read(f.root.join(&rel)).unwrap(), good);
    assert!(!f
        .root
        .join("archive/.staging")
        .read_dir()
        .unwrap()
        .any(|_| true));
    expect(&f.cairn(&["fixity", "--id", &id]), 0, "fixity after repair");
    let out = run(cairn()
        .args(["bag", "validate"])
        .arg(f.root.join(format!("archive/{id}"))));
    expect(&out, 0, "bag validate after repair");
    let recovery = f
        .events()
        .into_iter()
        .find(|e| e["type"] == "recovery")
        .expect("recovery event");
    assert!(recovery["detail"].as_str().unwrap().contains("from nas"));
    // Running it again finds nothing to do.
    expect(&f.cairn(&["repair", &id]), 0, "repair again");
}

#[test]
fn repair_refuses_when_every_copy_is_damaged_and_changes_nothing() {
    let f = Fixture::new("both-damaged");
    expect(&f.cairn(&["replicate"]), 0, "replicate");
    let id = f.ids()[0].clone();
    let rel = f.payload(&id);
    fs::write(f.root.join(&rel), b"damaged here").unwrap();
    fs::write(f.replica.join(&rel), b"damaged there").unwrap();
    let before = (visible(&f.root), visible(&f.replica));
    let out = f.cairn(&["repair", &id]);
    expect(&out, 1, "repair with no good copy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&rel) && stderr.contains("no good copy"),
        "{}",
        describe(&out)
    );
    assert!(
        (visible(&f.root), visible(&f.replica)) == before,
        "a copy changed"
    );
}

#[test]
fn restore_rebuilds_an_archive_root_that_audits_and_validates() {
    let f = Fixture::new("restore");
    expect(&f.cairn(&["replicate"]), 0, "replicate");
    let dest = f._tmp.path().join("restored");
    let out = f.cairn(&["restore", "--from", "nas", dest.to_str().unwrap()]);
    expect(&out, 0, "restore");
    assert!(
        mirrored(&f.root) == restored_records(&dest),
        "restored files differ"
    );
    expect(
        &run(cairn().arg("audit").arg("--root").arg(&dest)),
        0,
        "audit of the restored archive",
    );
    for id in f.ids() {
        let out = run(cairn()
            .args(["bag", "validate"])
            .arg(dest.join("archive").join(&id)));
        expect(&out, 0, &format!("bag validate {id}"));
    }
    expect(
        &run(cairn().args(["fixity", "--all", "--root"]).arg(&dest)),
        0,
        "fixity of the restored archive",
    );
    // DIR must not exist.
    let out = f.cairn(&["restore", "--from", "nas", dest.to_str().unwrap()]);
    expect(&out, 2, "restore over an existing folder");
    // A damaged replica restores nothing.
    let id = f.ids()[1].clone();
    fs::write(f.replica.join(f.payload(&id)), b"rot").unwrap();
    let dest2 = f._tmp.path().join("restored-2");
    let out = f.cairn(&["restore", "--from", "nas", dest2.to_str().unwrap()]);
    expect(&out, 1, "restore from a damaged replica");
    assert!(!dest2.exists());
}

#[test]
fn a_full_replica_disk_fails_with_exit_3_and_changes_nothing_in_the_archive() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-replica-full-")
        .tempdir()
        .unwrap();
    let mnt = tmp.path().join("small");
    fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        skip("cannot mount a small tmpfs here (needs root): the full-disk test did not run");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());

    let root = tmp.path().join("archive-root");
    expect(&run(cairn().arg("init").arg(&root)), 0, "init");
    let item = root.join("intake/big-scan");
    fs::create_dir_all(&item).unwrap();
    let data: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    fs::write(item.join("scan.tif"), &data).unwrap();
    fs::write(
        item.join("cairn.dc.json"),
        r#"{"dc.title": "A scan too big for the disk"}"#,
    )
    .unwrap();
    let mut text = fs::read_to_string(root.join("cairn.toml")).unwrap();
    text.push_str(&format!(
        "\n[[replica]]\nname = \"usb\"\nurl = \"file://{}/copy\"\n",
        mnt.display()
    ));
    fs::write(root.join("cairn.toml"), text).unwrap();
    fs::create_dir(mnt.join("copy")).unwrap();
    let init = run(cairn()
        .args(["replicate", "--init", "usb", "--root"])
        .arg(&root));
    expect(&init, 0, "replicate --init");
    expect(
        &run(cairn().arg("ingest").arg("--root").arg(&root)),
        0,
        "ingest",
    );
    let before = file_bytes(&root);
    let out = run(cairn().arg("replicate").arg("--root").arg(&root));
    expect(&out, 3, "replicate to a full disk");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("replica usb"), "{}", describe(&out));
    let after = file_bytes(&root);
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(b) && !p.to_string_lossy().contains("/."))
        .map(|(p, _)| p.clone())
        .collect();
    assert!(changed.is_empty(), "the archive changed: {changed:?}");
}

/// checkpoint_on_write: every command that appends events leaves a checkpoint of the
/// whole log, and says so, as ingest and fixity always did.
#[test]
fn checkpoint_on_write_follows_replicate_fixity_replica_repair_and_import() {
    let f = Fixture::new("checkpoint-on-write");
    let key = f._tmp.path().join("archive.key");
    let out = run(cairn()
        .args(["key", "generate", "--root"])
        .arg(&f.root)
        .arg("--out")
        .arg(&key));
    expect(&out, 0, "key generate");
    let toml = f.root.join("cairn.toml");
    let text = fs::read_to_string(&toml)
        .unwrap()
        .replace(
            "checkpoint_key = \"\"",
            &format!("checkpoint_key = \"{}\"", key.display()),
        )
        .replace("checkpoint_on_write = false", "checkpoint_on_write = true");
    fs::write(&toml, text).unwrap();
    let kept_at_head = |what: &str, out: &Output| {
        let log = fs::read(f.root.join("manifests/events.jsonl")).unwrap();
        let n = log.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
        let kept: Vec<String> = fs::read_dir(f.root.join("manifests/checkpoints"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            kept.iter().any(|k| k.starts_with(&format!("{n:012}-"))),
            "{what}: no checkpoint of the log's {n} events in {kept:?}\n{}",
            describe(out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains(&format!("checkpoint of {n} events kept in")),
            "{what}: the checkpoint is not reported\n{}",
            describe(out)
        );
    };

    let out = f.cairn(&["replicate"]);
    expect(&out, 0, "replicate");
    kept_at_head("replicate", &out);

    let out = f.cairn(&["fixity", "--replica", "nas", "--all"]);
    expect(&out, 0, "fixity --replica");
    kept_at_head("fixity --replica", &out);

    let id = f.ids()[0].clone();
    let rel = f.payload(&id);
    let mut bytes = fs::read(f.root.join(&rel)).unwrap();
    bytes[0] ^= 1;
    fs::write(f.root.join(&rel), &bytes).unwrap();
    let out = f.cairn(&["repair", &id]);
    expect(&out, 0, "repair");
    kept_at_head("repair", &out);

    let src = f._tmp.path().join("letters");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("letter.txt"), b"a letter no other item holds\n").unwrap();
    let bag = f._tmp.path().join("letters-bag");
    let out = run(cairn()
        .args(["bag", "create"])
        .arg(&src)
        .arg("--output")
        .arg(&bag));
    expect(&out, 0, "bag create");
    let out = run(cairn().arg("import").arg(&bag).arg("--root").arg(&f.root));
    expect(&out, 0, "import");
    kept_at_head("import", &out);
}

#[test]
fn replicate_on_ingest_copies_each_new_item() {
    let tmp = tempfile::Builder::new()
        .prefix("cairn-replica-on-ingest-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("archive-root");
    let replica = tmp.path().join("nas");
    expect(&run(cairn().arg("init").arg(&root)), 0, "init");
    copy_dir(Path::new(SAMPLES), &root.join("intake"));
    let mut text = fs::read_to_string(root.join("cairn.toml")).unwrap();
    text.push_str(&format!(
        "\n[[replica]]\nname = \"nas\"\nurl = \"file://{}\"\n",
        replica.display()
    ));
    fs::write(root.join("cairn.toml"), text).unwrap();
    fs::create_dir(&replica).unwrap();
    let init = run(cairn()
        .args(["replicate", "--init", "nas", "--root"])
        .arg(&root));
    expect(&init, 0, "replicate --init");
    let out = run(cairn()
        .arg("ingest")
        .arg("--root")
        .arg(&root)
        .env("CAIRN_ARCHIVE_REPLICATE_ON_INGEST", "true"));
    expect(&out, 0, "ingest with replicate_on_ingest");
    let (a, b) = (mirrored(&root), mirrored(&replica));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a == b, "the replica's files differ from the archive's");
    let out = run(cairn().args(["audit", "--replicas", "--root"]).arg(&root));
    expect(&out, 0, "audit --replicas");
}

#[test]
fn unknown_replica_names_are_usage_errors() {
    let f = Fixture::new("usage");
    let out = f.cairn(&["replicate", "--to", "nowhere"]);
    expect(&out, 2, "replicate --to an unknown replica");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
    let out = f.cairn(&["fixity", "--replica", "nowhere"]);
    expect(&out, 2, "fixity --replica unknown");
    let out = f.cairn(&["repair", "no-such-item"]);
    expect(&out, 2, "repair of an unknown item");
}

#[test]
fn replica_settings_show_in_config_and_the_environment_overrides_them() {
    let f = Fixture::new("config");
    let out = f.cairn(&["config"]);
    expect(&out, 0, "config");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "replica.nas.url = \"file://{}\"  # cairn.toml",
            f.replica.display()
        )),
        "{text}"
    );
    let elsewhere = f._tmp.path().join("elsewhere");
    let url = format!("file://{}", elsewhere.display());
    fs::create_dir(&elsewhere).unwrap();
    let init = run(cairn()
        .args(["replicate", "--init", "nas", "--root"])
        .arg(&f.root)
        .env("CAIRN_REPLICA_NAS_URL", &url));
    expect(&init, 0, "replicate --init at the overridden URL");
    let out = run(cairn()
        .args(["replicate", "--root"])
        .arg(&f.root)
        .env("CAIRN_REPLICA_NAS_URL", &url));
    expect(&out, 0, "replicate to the overridden URL");
    assert!(elsewhere.join("manifests/events.jsonl").is_file());
    assert!(
        !f.replica.join("manifests").exists(),
        "the configured folder was written"
    );
    let out = run(cairn()
        .args(["config", "--root"])
        .arg(&f.root)
        .env("CAIRN_REPLICA_NAS_URL", &url));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!(
        "replica.nas.url = \"{url}\"  # environment CAIRN_REPLICA_NAS_URL"
    )));
    // A bad URL names the variable's replica and the key.
    let out = run(cairn()
        .args(["replicate", "--root"])
        .arg(&f.root)
        .env("CAIRN_REPLICA_NAS_URL", "ftp://nowhere"));
    expect(&out, 3, "a bad replica URL");
    assert!(String::from_utf8_lossy(&out.stderr).contains("replica.url"));
}

/// Bytes in regular files under `dir`.
fn stored_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[test]
fn a_replication_killed_midway_is_completed_by_the_next_run() {
    let f = Fixture::new("killed");
    // A large item, so that the run is still copying it when it is killed.
    let item = f.root.join("intake/reel");
    fs::create_dir_all(&item).unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let data: Vec<u8> = (0..(160u64 << 20) / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    fs::write(item.join("reel.bin"), &data).unwrap();
    drop(data);
    fs::write(
        item.join("cairn.dc.json"),
        r#"{"dc.title": "A large reel scan"}"#,
    )
    .unwrap();
    expect(&f.cairn(&["ingest"]), 0, "ingest the reel");

    let mut child = cairn()
        .args(["replicate", "--root"])
        .arg(&f.root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while stored_bytes(&f.replica) < 24 << 20 && t0.elapsed() < std::time::Duration::from_secs(120)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run finished before it could be killed"
    );
    // Nothing half-written is visible as an object.
    let out = f.cairn(&["fixity", "--replica", "nas", "--json", "--dry-run"]);
    let report = json(&out);
    for c in report["checked"].as_array().unwrap() {
        for finding in c["findings"].as_array().unwrap() {
            assert_eq!(
                finding["kind"], "missing",
                "a partial object is visible: {finding}"
            );
        }
    }
    let out = f.cairn(&["replicate"]);
    expect(&out, 0, "the next run");
    let (a, b) = (mirrored(&f.root), mirrored(&f.replica));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(a == b, "the replica's files differ from the archive's");
    // Nothing the interrupted write left behind remains beside the objects.
    assert_eq!(stored_bytes(&f.replica), {
        let files = walkdir::WalkDir::new(&f.replica)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter(|e| !e.file_name().to_string_lossy().contains('#'))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>();
        files
    });
    expect(
        &f.cairn(&["fixity", "--replica", "nas"]),
        0,
        "fixity --replica",
    );
}

/// An item changed after it was replicated: `amend` rewrites its tag files and register
/// entry, `revise` makes a new version (a file changed, one removed, one added). Until
/// the next `replicate`, `fixity --replica` calls the replica's copies out of date (not
/// damaged); `replicate` then brings them up to date, deletes the removed file from the
/// item's folder, copies the kept version and the superseded entries, and the replica
/// mirrors the archive again. Bytes nobody recorded are still a conflict.
#[test]
fn replicate_brings_an_amended_and_revised_item_up_to_date() {
    let f = Fixture::new("changed");
    expect(&f.cairn(&["replicate"]), 0, "first replicate");
    // An item of two files or more, so a revision can change one and remove another.
    let files_of = |id: &str| -> Vec<String> {
        let entry: Value =
            serde_json::from_slice(&fs::read(f.root.join(format!("manifests/{id}.json"))).unwrap())
                .unwrap();
        entry["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["path"].as_str().unwrap().to_string())
            .collect()
    };
    let id = f
        .ids()
        .into_iter()
        .find(|id| files_of(id).len() >= 2)
        .expect("a sample item with two files");

    let out = f.cairn(&[
        "amend",
        &id,
        "--set",
        "dc.date=1977-03",
        "--reason",
        "date read from the register's stamp",
    ]);
    expect(&out, 0, "amend");
    let out = f.cairn(&["fixity", "--replica", "nas", "--id", &id, "--json"]);
    expect(&out, 1, "fixity --replica after amend");
    let findings: Vec<Value> = json(&out)["checked"][0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!findings.is_empty(), "{}", describe(&out));
    // Out of date, and the superseded entry not there yet: nothing called damaged.
    assert!(
        findings.iter().all(|x| x["kind"] == "outdated"
            || (x["kind"] == "missing"
                && x["key"]
                    .as_str()
                    .is_some_and(|k| k.starts_with(&format!("manifests/history/{id}/"))))),
        "only out-of-date objects after an amend:\n{}",
        describe(&out)
    );
    assert!(findings
        .iter()
        .any(|x| x["key"] == format!("manifests/{id}.json").as_str()));

    let out = f.cairn(&["replicate", "--json"]);
    expect(&out, 0, "replicate after amend");
    let item = json(&out)["replicas"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert!(item["updated"].as_u64().unwrap() >= 2, "{item}");
    assert_eq!(
        mirrored(&f.replica),
        mirrored(&f.root),
        "replica after amend"
    );
    expect(
        &f.cairn(&["fixity", "--replica", "nas", "--id", &id]),
        0,
        "fixity --replica after replicate",
    );

    // A revision: one file changed, one removed, one added.
    let files = files_of(&id);
    let new = f._tmp.path().join("revised");
    copy_dir(&f.root.join(format!("archive/{id}/data")), &new);
    let changed = files[0].strip_prefix("data/").unwrap();
    let removed = files[1].strip_prefix("data/").unwrap();
    fs::write(new.join(changed), b"Sample: re-scanned page\n").unwrap();
    fs::remove_file(new.join(removed)).unwrap();
    fs::write(
        new.join("added-page.txt"),
        b"Sample: a page that turned up\n",
    )
    .unwrap();
    let out = run(cairn()
        .args(["revise", &id, "--from"])
        .arg(&new)
        .args([
            "--reason",
            "page re-scanned, one dropped, one found",
            "--root",
        ])
        .arg(&f.root));
    expect(&out, 0, "revise");
    let out = f.cairn(&["replicate", "--json"]);
    expect(&out, 0, "replicate after revise");
    assert!(
        !f.replica
            .join(format!("archive/{id}/{}", files[1]))
            .exists(),
        "the removed file left the item's folder on the replica"
    );
    assert!(f.replica.join(format!("archive/.versions/{id}")).is_dir());
    let replicated = mirrored(&f.root);
    same_files(&mirrored(&f.replica), &replicated, "replica after revise");
    let versions = |root: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        file_bytes(&root.join(format!("archive/.versions/{id}")))
    };
    assert_eq!(versions(&f.replica), versions(&f.root), "kept version");
    // The whole replica, kept version and superseded entries included, is as it should be.
    expect(
        &f.cairn(&["fixity", "--replica", "nas", "--all"]),
        0,
        "fixity --replica --all after revise and replicate",
    );
    expect(
        &f.cairn(&["audit", "--replicas"]),
        0,
        "audit --replicas after revise and replicate",
    );

    // Restored from the replica alone: the current bags, the kept version and the
    // superseded entries all come back, and the restored archive audits.
    // Compared with the archive as it was replicated (the checks since added events).
    let restored = f.restore_from_nas(&replicated);
    same_files(
        &versions(&restored),
        &versions(&f.root),
        "restored kept version",
    );
    expect(
        &run(cairn().args(["fixity", "--all", "--root"]).arg(&restored)),
        0,
        "fixity of the restored archive, kept version included",
    );

    // Bytes that no state of the item ever had are still a conflict, never replaced.
    let info = f.replica.join(format!("archive/{id}/bag-info.txt"));
    fs::write(&info, b"Bag-Software-Agent: someone else\n").unwrap();
    let out = f.cairn(&[
        "amend",
        &id,
        "--set",
        "dc.date=1977-04",
        "--reason",
        "second reading of the stamp",
    ]);
    expect(&out, 0, "second amend");
    let out = f.cairn(&["replicate"]);
    expect(&out, 1, "replicate over foreign bytes");
    assert_eq!(
        fs::read(&info).unwrap(),
        b"Bag-Software-Agent: someone else\n",
        "foreign bytes are not overwritten"
    );
}

/// `fixity --replica` chooses items as the archive's own check does, by their last
/// check on that replica: `--due` (the default) takes the never-checked and the
/// overdue ones, so a cron line checks each copy once per interval; `--all` takes every
/// item; a check of the archive does not count as a check of the replica.
#[test]
fn replica_fixity_is_scheduled_by_the_last_check_on_that_replica() {
    let f = Fixture::new("due");
    expect(&f.cairn(&["replicate"]), 0, "replicate");
    let n = f.ids().len();
    expect(&f.cairn(&["fixity", "--all"]), 0, "the archive's own check");
    let checked = |out: &Output| json(out)["checked"].as_array().unwrap().len();
    let out = f.cairn(&["fixity", "--replica", "nas", "--json"]);
    expect(&out, 0, "first replica check");
    assert_eq!(checked(&out), n, "every item is due on the replica");
    assert_eq!(json(&out)["due"].as_u64(), Some(n as u64));
    let out = f.cairn(&["fixity", "--replica", "nas", "--json"]);
    expect(&out, 0, "second replica check");
    assert_eq!(checked(&out), 0, "nothing is due right after a check");
    let out = f.cairn(&[
        "fixity",
        "--replica",
        "nas",
        "--shard",
        "1/2",
        "--all",
        "--json",
    ]);
    expect(&out, 0, "a shard");
    let half = checked(&out);
    let out = f.cairn(&[
        "fixity",
        "--replica",
        "nas",
        "--shard",
        "2/2",
        "--all",
        "--json",
    ]);
    assert_eq!(half + checked(&out), n, "two shards cover every item once");

    // Damage is found by the next check that reaches the item.
    let id = f.ids()[0].clone();
    let key = f.payload(&id);
    fs::write(f.replica.join(&key), b"flipped").unwrap();
    let out = f.cairn(&["fixity", "--replica", "nas", "--all", "--json"]);
    expect(&out, 1, "fixity --replica --all over a damaged object");
    assert!(json(&out)["checked"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["findings"].as_array().unwrap().clone())
        .any(|x| x["key"] == key.as_str() && x["kind"] == "changed"));
}

/// A withdrawal reaches the replicas: the tombstone and the kept entry are copied, a
/// quarantined bag goes to archive/.quarantine/ID/ there too, and the item's live copy
/// (archive/ID/, manifests/ID.json) is removed, so that a restore does not bring a
/// withdrawn item back. Until then the replica's checks call that copy unexpected.
#[test]
fn a_withdrawal_reaches_the_replica_and_survives_a_restore() {
    let f = Fixture::new("withdrawn");
    expect(&f.cairn(&["replicate"]), 0, "first replicate");
    let ids = f.ids();
    let (kept, purged) = (ids[0].clone(), ids[1].clone());
    expect(
        &f.cairn(&[
            "withdraw",
            &kept,
            "--reason",
            "the donor withdrew the deposit",
        ]),
        0,
        "withdraw into quarantine",
    );
    expect(
        &f.cairn(&[
            "withdraw",
            &purged,
            "--reason",
            "court order",
            "--purge",
            "--yes",
        ]),
        0,
        "withdraw and purge",
    );
    let out = f.cairn(&["fixity", "--replica", "nas", "--all", "--json"]);
    expect(
        &out,
        1,
        "the replica still holds the withdrawn items' live copies",
    );
    let unexpected = json(&out)["unexpected"].as_array().cloned().unwrap();
    for id in [&kept, &purged] {
        assert!(
            unexpected
                .iter()
                .any(|x| x["key"] == format!("manifests/{id}.json").as_str()
                    && x["detail"].as_str().unwrap().contains("withdrawn")),
            "{}",
            describe(&out)
        );
    }

    let out = f.cairn(&["replicate", "--json"]);
    expect(&out, 0, "replicate after the withdrawals");
    for id in [&kept, &purged] {
        assert!(!f
            .replica
            .join(format!("archive/{id}"))
            .join("bagit.txt")
            .exists());
        assert!(!f.replica.join(format!("manifests/{id}.json")).exists());
        assert!(f
            .replica
            .join(format!("manifests/withdrawn/{id}.json"))
            .is_file());
    }
    let replicated = mirrored(&f.root);
    same_files(
        &mirrored(&f.replica),
        &replicated,
        "replica after the withdrawals",
    );
    let quarantine = |root: &Path| file_bytes(&root.join(format!("archive/.quarantine/{kept}")));
    assert!(!quarantine(&f.root).is_empty());
    same_files(
        &quarantine(&f.replica),
        &quarantine(&f.root),
        "quarantined bag",
    );
    assert!(!f
        .replica
        .join(format!("archive/.quarantine/{purged}"))
        .exists());
    expect(
        &f.cairn(&["fixity", "--replica", "nas", "--all"]),
        0,
        "fixity --replica after the withdrawals were replicated",
    );
    expect(&f.cairn(&["audit", "--replicas"]), 0, "audit --replicas");

    let restored = f.restore_from_nas(&replicated);
    same_files(
        &quarantine(&restored),
        &quarantine(&f.root),
        "restored quarantine",
    );
    let out = run(cairn()
        .args(["list", "--withdrawn", "--json", "--root"])
        .arg(&restored));
    expect(&out, 0, "list --withdrawn");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains(&kept) && listed.contains(&purged),
        "{listed}"
    );
}

/// Files under `dir` whose name is a folder write's temporary name (`NAME#1`).
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().contains('#'))
        .map(|e| e.into_path())
        .collect()
}

/// A folder replica is written in batches: every object under a temporary name, one
/// `syncfs`, the renames, a second `syncfs` after the last batch (the register
/// entries), the read-back, and only then the items' `replication` events. A kill after
/// the first `syncfs` leaves temporary files and no object; a kill after the last leaves
/// complete objects that no event records. In
/// both cases the next run completes the replica, removes the temporary files, and the
/// replica mirrors the archive and passes `fixity --replica`.
#[test]
fn a_replication_killed_inside_a_batch_is_completed_by_the_next_run() {
    for point in ["replica-batch-staged", "replica-batch-published"] {
        let f = Fixture::new("batch-kill");
        let out = run(cairn()
            .args(["replicate", "--root"])
            .arg(&f.root)
            .env("CAIRN_FAILPOINT", point));
        assert_eq!(
            out.status.code(),
            None,
            "{point}: the failpoint did not fire: {}",
            describe(&out)
        );
        let replication_events = |f: &Fixture| {
            f.events()
                .iter()
                .filter(|e| e["type"] == "replication")
                .count()
        };
        assert_eq!(
            replication_events(&f),
            0,
            "{point}: an event before the read-back"
        );
        let staged = temporary_files(&f.replica);
        let published: Vec<PathBuf> = walkdir::WalkDir::new(f.replica.join("archive"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .filter(|e| !e.file_name().to_string_lossy().contains('#'))
            .map(|e| e.into_path())
            .collect();
        if point == "replica-batch-staged" {
            assert!(!staged.is_empty(), "{point}: no temporary file was written");
            assert!(
                published.is_empty(),
                "{point}: objects published: {published:?}"
            );
        } else {
            assert!(
                staged.is_empty(),
                "{point}: temporary files left: {staged:?}"
            );
            assert!(!published.is_empty(), "{point}: no object published");
        }
        let out = f.cairn(&["replicate", "--json"]);
        expect(&out, 0, &format!("{point}: the next run"));
        assert!(
            temporary_files(&f.replica).is_empty(),
            "{point}: temporary files remain"
        );
        assert_eq!(
            replication_events(&f),
            f.ids().len(),
            "{point}: one event per item: {}",
            describe(&out)
        );
        let (a, b) = (mirrored(&f.root), mirrored(&f.replica));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        assert!(
            a == b,
            "{point}: the replica's files differ from the archive's"
        );
        expect(
            &f.cairn(&["fixity", "--replica", "nas"]),
            0,
            &format!("{point}: fixity --replica"),
        );
    }
}
