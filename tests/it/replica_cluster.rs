//! A replica on a 3-node Garage cluster on loopback (issue 33, "A cluster, not one
//! node"): three `garage server` processes with their own ports and data folders,
//! replication factor 3 (scripts/s3-test-server --nodes 3), Cairn talking to node 1.
//! One node (node 3, never the endpoint) is killed in the middle of a `replicate` and of
//! a `fixity --replica` (at pause points, not after a timer): both finish on the two
//! nodes left (a quorum), report nothing lost, and a rerun once the node is back has
//! nothing to do. A `restore` with one node down rebuilds an archive that audits clean.
//!
//! Without Garage installed each test prints "skipped:" (a failure under
//! CAIRN_REQUIRE_ALL=1, as in CI).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{cairn, describe};
use crate::replica::s3::{
    expect, ids, lose_and_restore, mirrored, new_archive, noise, out_of, Garage,
};

/// A cairn command against the cluster's replica `offsite`, on the archive at `root`.
fn run(garage: &Garage, root: &Path, args: &[&str]) -> Output {
    out_of(garage.cairn("offsite").args(args).arg("--root").arg(root))
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(out)))
}

/// Starts `args` paused at the pause point `point` and returns once it waits there.
fn paused_at(garage: &Garage, root: &Path, args: &[&str], point: &str, flag: &Path) -> Child {
    let child = garage
        .cairn("offsite")
        .args(args)
        .arg("--root")
        .arg(root)
        .env("CAIRN_PAUSEPOINT", point)
        .env("CAIRN_PAUSEPOINT_FILE", flag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cairn starts");
    let t0 = Instant::now();
    while !flag.exists() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        flag.exists(),
        "{args:?} never reached the pause point {point}"
    );
    child
}

/// Bytes under `dir` (a node's data folder).
fn stored(dir: &str) -> u64 {
    crate::replica::s3::stored_bytes(Path::new(dir))
}

/// An archive with the sample collection and a 33 MiB scan (a multipart upload of five
/// parts: the pause point `replica-after-part` is reached in the middle of it), its
/// replica `offsite` on the cluster initialised.
fn archive_on_cluster(tmp: &Path, garage: &Garage) -> PathBuf {
    let root = new_archive(tmp, garage, "s21");
    let item = root.join("intake/reel");
    fs::create_dir_all(&item).unwrap();
    fs::write(item.join("reel.bin"), noise(33 << 20)).unwrap();
    fs::write(
        item.join("cairn.dc.json"),
        r#"{"dc.title": "A reel scan, larger than one part"}"#,
    )
    .unwrap();
    expect(
        &out_of(cairn().arg("ingest").arg("--root").arg(&root)),
        0,
        "ingest the reel",
    );
    root
}

/// Every item of a `replicate --json` report: no problem; returns (copied, changed),
/// changed counting objects updated or removed.
fn replicated(out: &Output) -> (u64, u64) {
    let report = json(out);
    let mut copied = 0;
    let mut changed = 0;
    for item in report["replicas"][0]["items"].as_array().expect("items") {
        assert_eq!(item["problems"], Value::Array(Vec::new()), "{item}");
        copied += item["copied"].as_u64().unwrap();
        changed += item["updated"].as_u64().unwrap() + item["removed"].as_u64().unwrap();
    }
    (copied, changed)
}

#[test]
fn cluster_of_three_survives_a_lost_node() {
    let Some(garage) = Garage::start_cluster(3) else {
        return;
    };
    let tmp = tempfile::Builder::new()
        .prefix("cairn-replica-cluster-")
        .tempdir()
        .unwrap();
    let root = archive_on_cluster(tmp.path(), &garage);
    let all = ids(&root);
    let flag = tmp.path().join("paused");

    // replicate: node 3 is killed once the first part of the reel reached the cluster.
    let child = paused_at(
        &garage,
        &root,
        &["replicate", "--json"],
        "replica-after-part",
        &flag,
    );
    let node1 = garage.get("S3_DATA_DIR").to_string();
    let node3 = garage.get("S3_STOP_NODE_DATA_DIR").to_string();
    // Two nodes of three acknowledged each block of the part: node 1 or node 3 holds it.
    let at_pause = stored(&node1);
    assert!(
        at_pause + stored(&node3) >= 8 << 20,
        "the first part reached the cluster before node 3 is killed"
    );
    garage.stop_node();
    fs::remove_file(&flag).unwrap();
    let out = child.wait_with_output().unwrap();
    expect(&out, 0, "replicate with node 3 killed midway");
    let (copied, _) = replicated(&out);
    assert!(copied > 0, "{}", describe(&out));
    // Parts travel three at a time (PARTS_IN_FLIGHT) and the pause comes when the first
    // of three is acknowledged: the fourth and fifth parts (9 MiB) are read only after
    // it, so they were written after node 3 was killed, on node 1 (with
    // node 2, the quorum left).
    assert!(
        stored(&node1) >= at_pause + (8 << 20),
        "node 1 holds {} bytes, {at_pause} at the pause",
        stored(&node1)
    );
    // Everything is on the two nodes left: listed, and read back in full.
    let out = run(&garage, &root, &["audit", "--replicas"]);
    expect(&out, 0, "audit --replicas with node 3 down");
    let out = run(
        &garage,
        &root,
        &["fixity", "--replica", "offsite", "--all", "--dry-run"],
    );
    expect(&out, 0, "fixity --replica with node 3 down");

    // Node 3 back: a rerun has nothing to do.
    garage.restart_node();
    let out = run(&garage, &root, &["replicate", "--json"]);
    expect(&out, 0, "replicate once node 3 is back");
    assert_eq!(replicated(&out), (0, 0), "the rerun had nothing to do");

    // fixity --replica: node 3 is killed once the first item was checked.
    let child = paused_at(
        &garage,
        &root,
        &["fixity", "--replica", "offsite", "--all", "--json"],
        "fixity-replica-item-checked",
        &flag,
    );
    garage.stop_node();
    fs::remove_file(&flag).unwrap();
    let out = child.wait_with_output().unwrap();
    expect(&out, 0, "fixity --replica with node 3 killed midway");
    let report = json(&out);
    let checked = report["checked"].as_array().expect("checked");
    assert_eq!(checked.len(), all.len(), "{report}");
    for item in checked {
        assert_eq!(item["findings"], Value::Array(Vec::new()), "{item}");
        assert!(item["objects"].as_u64().unwrap() > 0, "{item}");
    }
    assert_eq!(report["unexpected"], Value::Array(Vec::new()));
    assert_eq!(report["not_reached"], 0);

    // Node 3 back: every item was checked, none is due, replicate copies nothing.
    garage.restart_node();
    let out = run(
        &garage,
        &root,
        &["fixity", "--replica", "offsite", "--json"],
    );
    expect(&out, 0, "fixity --replica --due once node 3 is back");
    let report = json(&out);
    assert_eq!(report["checked"], Value::Array(Vec::new()), "{report}");
    assert_eq!(report["due"], 0, "{report}");
    let out = run(&garage, &root, &["replicate", "--json"]);
    expect(&out, 0, "replicate after the fixity run");
    assert_eq!(replicated(&out), (0, 0), "nothing of the items to copy");

    // The archive root lost, and node 3 with it: restore from the two nodes left.
    let original = mirrored(&root);
    garage.stop_node();
    let restored = lose_and_restore(
        tmp.path(),
        &garage,
        &root,
        &original,
        "restore with node 3 down",
    );
    let out = out_of(cairn().args(["fixity", "--all", "--root"]).arg(&restored));
    expect(&out, 0, "fixity of the restored archive");
    assert_eq!(ids(&restored), all);
}
