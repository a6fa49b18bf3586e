//! The checking commands: fixity, audit, verify.

use chrono::{DateTime, Utc};

use cairn::clock::{Clock, FixedClock, SystemClock};
use cairn::digest::Algorithm;
use cairn::ops::audit::{audit, AuditOptions, AuditReport};
use cairn::ops::bag_check::{BagCheck, FixityFinding};
use cairn::ops::fixity::{
    fixity, parse_duration, parse_size, AlgorithmChoice, BagOutcome, FixityOptions, FixityReport,
    Selection, Stop,
};
use cairn::ops::verify::verify;
use cairn::units::count;
use cairn::Error;

use super::args::{AuditArgs, FixityArgs, VerifyArgs};
use super::common::{open_archive, print_json, printable, quiet, require_exists, say};
use super::outcome::{error_exit, exit_code, AuditWithReplicas, Outcome};
use super::progress::with_progress;
use cairn::ops::replica_check::ReplicaInventory;

fn usage(context: &str, msg: String) -> u8 {
    error_exit(context, &Error::Usage(msg))
}

/// The clock: the system's, or `--now` (fixity allows it only with --dry-run). Test
/// builds also take `CAIRN_TEST_NOW` (fs::failpoint::test_now, behind the same gate as
/// the failpoints).
fn clock_from(now: Option<&str>) -> Result<Box<dyn Clock>, String> {
    let test_now = cairn::fs::failpoint::test_now();
    match now.or(test_now.as_deref()) {
        None => Ok(Box::new(SystemClock)),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|t| Box::new(FixedClock(t.with_timezone(&Utc))) as Box<dyn Clock>)
            .map_err(|e| {
                format!(
                    "--now {}: {e} (use RFC 3339, e.g. 2026-11-21T03:00:00Z)",
                    cairn::quoted(t)
                )
            }),
    }
}

pub(super) fn run_fixity(args: FixityArgs) -> u8 {
    let archive = match open_archive(&args.root, "fixity") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let selection = if args.all {
        Selection::All
    } else if !args.id.is_empty() {
        Selection::Ids(args.id.clone())
    } else {
        Selection::Due
    };
    let shard = match args.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => return usage("fixity", e),
    };
    let parse_opt_size = |v: &Option<String>, flag: &str| {
        v.as_deref()
            .map(|s| parse_size(s).map_err(|e| format!("{flag}: {e}")))
            .transpose()
    };
    let max_bytes = match parse_opt_size(&args.max_bytes, "--max-bytes") {
        Ok(v) => v,
        Err(e) => return usage("fixity", e),
    };
    // --rate, else fixity.rate (cairn.toml or CAIRN_FIXITY_RATE, checked when read).
    let rate = match parse_opt_size(&args.rate, "--rate") {
        Ok(Some(v)) => Some(v),
        Ok(None) => archive.config.fixity_rate().unwrap_or(None),
        Err(e) => return usage("fixity", e),
    };
    let max_time = match args.max_time.as_deref().map(parse_duration).transpose() {
        Ok(v) => v,
        Err(e) => return usage("fixity", format!("--max-time: {e}")),
    };
    // --algorithms is taken exactly (a bag without one is an `algorithm-absent` finding);
    // fixity.algorithm is a preference (a bag without it is checked with the strongest
    // algorithm it and its register entry share).
    let (list, exact) = match args.algorithms.as_deref() {
        Some(list) => (list, true),
        None => (archive.config.fixity.algorithm.as_str(), false),
    };
    let algorithms = match list {
        "all" => AlgorithmChoice::All,
        list => match list
            .split(',')
            .map(|a| a.trim().parse::<Algorithm>())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(v) if exact => AlgorithmChoice::Exactly(v),
            Ok(v) => AlgorithmChoice::Preferred(v),
            Err(e) => return usage("fixity", format!("--algorithms: {e}")),
        },
    };
    let clock = match clock_from(args.now.as_deref()) {
        Ok(c) => c,
        Err(e) => return usage("fixity", e),
    };
    if let Some(name) = &args.replica {
        let opts = cairn::ops::replica_check::ReplicaFixityOptions {
            replica: name.clone(),
            selection,
            shard,
            max_bytes,
            max_time,
            dry_run: args.dry_run,
        };
        return super::replica_cmds::run_replica_fixity(&archive, &opts, args.json);
    }
    let opts = FixityOptions {
        selection,
        shard,
        max_bytes,
        max_time,
        rate,
        algorithms,
        dry_run: args.dry_run,
    };
    let report = match with_progress("fixity", || fixity(&archive, &opts, clock.as_ref())) {
        Ok(r) => r,
        Err(e) => return error_exit("fixity", &e),
    };
    let failed = report
        .checked
        .iter()
        .filter(|b| b.outcome == BagOutcome::Failed)
        .count();
    let errors = report
        .checked
        .iter()
        .filter(|b| b.outcome == BagOutcome::Error)
        .count();
    tracing::info!(
        bags = report.checked.len(),
        failed,
        failures = failed + errors,
        files = report.checked.iter().map(|b| b.files).sum::<u64>(),
        bytes = report.bytes,
        seconds = report.seconds,
        "fixity finished"
    );
    if args.json {
        print_json(&report);
    } else {
        print_fixity(&report, quiet());
    }
    let code = exit_code(&report);
    super::after_write::report(&report.after_write, "fixity", code)
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || {
        format!(
            "--shard {}: expected K/N with 1 <= K <= N, e.g. 2/7",
            cairn::quoted(s)
        )
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn finding_line(f: &FixityFinding) -> String {
    let kind = f.kind.code();
    let path = if f.path.is_empty() {
        String::new()
    } else {
        format!("{} ", printable(&f.path))
    };
    let mut line = format!("  {kind}: {path}");
    if let Some(to) = &f.moved_to {
        line.push_str(&format!("-> {} ", printable(to)));
    }
    match (&f.expected, &f.actual) {
        (Some(e), Some(a)) => line.push_str(&format!("(expected {e}, found {a})")),
        _ => line.push_str(&format!("({})", printable(&f.detail))),
    }
    line
}

fn algorithm_names(algs: &[Algorithm]) -> String {
    if algs.is_empty() {
        return "no digest".into();
    }
    algs.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
}

fn print_fixity(r: &FixityReport, quiet: bool) {
    for b in &r.checked {
        match b.outcome {
            BagOutcome::Passed => {
                if !quiet {
                    outln!(
                        "ok      {}  {}, {}, {}",
                        b.id,
                        count(b.files, "file", "files"),
                        count(b.bytes, "byte", "bytes"),
                        algorithm_names(&b.algorithms)
                    );
                }
            }
            BagOutcome::Failed => {
                let how = if b.presence_only {
                    "found by the presence check of every bag".to_string()
                } else {
                    format!("checked with {}", algorithm_names(&b.algorithms))
                };
                errln!(
                    "FAILED  {}  {}, {how}",
                    b.id,
                    count(b.findings.len() as u64, "problem", "problems"),
                );
                for f in &b.findings {
                    errln!("{}", finding_line(f));
                }
            }
            BagOutcome::Error => {
                errln!("ERROR   {}  could not be checked", b.id);
                for e in &b.errors {
                    errln!("  {}", printable(e));
                }
            }
        }
    }
    let failed = r
        .checked
        .iter()
        .filter(|b| b.outcome != BagOutcome::Passed)
        .count();
    if let Some(b) = &r.log_broken {
        let object = if b.object.is_empty() {
            String::new()
        } else {
            format!(" (object {})", printable(&b.object))
        };
        errln!(
            "event log: the chain is broken at line {}{object}: {}",
            b.line,
            printable(&b.detail)
        );
        errln!(
            "event log: nothing was appended (no fixity check event for the {} above); run `cairn audit` and investigate",
            count(r.checked.len() as u64, "bag", "bags")
        );
    }
    if quiet && failed == 0 && r.log_broken.is_none() {
        return;
    }
    let stop = match r.stopped {
        Stop::Complete => String::new(),
        Stop::ByteBudget => format!(
            "; stopped at the byte budget, {} due bags left for the next run",
            r.due_not_reached
        ),
        Stop::TimeBudget => format!(
            "; stopped at the time budget, {} due bags left for the next run",
            r.due_not_reached
        ),
    };
    let line = format!(
        "fixity: {} checked ({}, {:.1} s): {} passed, {} failed{stop}",
        count(r.checked.len() as u64, "bag", "bags"),
        count(r.bytes, "byte", "bytes"),
        r.seconds,
        r.checked.len() - failed,
        failed
    );
    if failed > 0 || r.log_broken.is_some() {
        errln!("{line}");
    } else {
        outln!("{line}");
    }
}

pub(super) fn run_audit(args: AuditArgs) -> u8 {
    let archive = match open_archive(&args.root, "audit") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let clock = match clock_from(args.now.as_deref()) {
        Ok(c) => c,
        Err(e) => return usage("audit", e),
    };
    let checkpoint =
        match super::tlog_cmds::audit_checkpoint_arg(args.checkpoint.as_ref(), args.key.as_deref())
        {
            Ok(c) => c,
            Err(code) => return code,
        };
    let opts = AuditOptions {
        since_head: args.since_head.clone(),
        checkpoint,
    };
    let report = match audit(&archive, &opts, clock.as_ref()) {
        Ok(r) => r,
        Err(e) => return error_exit("audit", &e),
    };
    if !args.replicas {
        if args.json {
            print_json(&report);
        } else {
            print_audit(&report);
        }
        return exit_code(&report);
    }
    if !args.json {
        print_audit_details(&report);
    }
    let replicas = match super::replica_cmds::run_audit_replicas(&archive, args.json) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if !args.json {
        // One verdict for the archive and its replicas, after both (it said "audit
        // passed" for the archive, then a replica's discrepancies, exit 1).
        print_audit_summary(&report, &replicas);
    }
    if args.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert(
                "replicas".into(),
                serde_json::to_value(&replicas).unwrap_or_default(),
            );
        }
        print_json(&v);
    }
    exit_code(&AuditWithReplicas(&report, &replicas))
}

fn print_audit(r: &AuditReport) {
    print_audit_details(r);
    print_audit_summary(r, &[]);
}

fn print_audit_details(r: &AuditReport) {
    match &r.log.broken {
        None => say!("event log: {} lines, chain intact", r.log.lines),
        Some(b) => errln!(
            "event log: chain BROKEN at line {}: {}",
            b.line,
            printable(&b.detail)
        ),
    }
    say!("head: {}", r.log.head);
    if let Some(t) = &r.log.torn_tail {
        errln!(
            "event log: line {} is incomplete ({} bytes{}): a write cut short (a full disk, a crash), never acknowledged and not part of the chain; the next command that writes removes it and logs a `log repair` event",
            t.line,
            t.bytes,
            if t.newline { ", not an event" } else { ", no newline" }
        );
    }
    for repair in &r.log.repairs {
        errln!(
            "event log: line {} is a `log repair` ({}): an incomplete last line left by an interrupted write was removed; its bytes are in the event",
            repair.line, repair.time
        );
    }
    if r.register_log.not_logged > 0 {
        say!(
            "register: {} files were written by a Cairn that did not log their digests: checked against their bags only (Dublin Core, tag manifests), not against the log",
            r.register_log.not_logged
        );
    }
    if let Some(s) = &r.log.since_head {
        match s.found_at_line {
            Some(l) => say!("since-head: the log extends {} (line {l}): nothing before it was rewritten", s.head),
            None => errln!(
                "since-head: {} is not in the log's intact chain: the log was rewritten or truncated since it was recorded",
                s.head
            ),
        }
    }
    if let Some(c) = &r.checkpoint {
        super::tlog_cmds::print_checkpoint_audit(c);
    }
    for d in &r.discrepancies {
        let at = if d.path.is_empty() {
            String::new()
        } else {
            format!(" {}", printable(&d.path))
        };
        errln!(
            "discrepancy: {}: {}{at}: {}",
            d.kind,
            d.id,
            printable(&d.detail)
        );
    }
    for skipped in &r.skipped {
        errln!("skipped (the chain is broken): {}", printable(skipped));
    }
    for c in &r.last_check_failed {
        errln!(
            "last check failed: {} ({})",
            c.id,
            c.last_check.as_deref().unwrap_or("-")
        );
    }
    if !r.never_checked.is_empty() {
        say!(
            "never fixity-checked since ingest: {}",
            r.never_checked.join(", ")
        );
    }
    for c in &r.overdue {
        say!(
            "overdue: {} (last checked {})",
            c.id,
            c.last_check.as_deref().unwrap_or("never")
        );
    }
}

/// The one line that gives the audit's verdict, agreeing with its exit code: the
/// archive's counts, then each replica that is not in step.
fn print_audit_summary(r: &AuditReport, replicas: &[ReplicaInventory]) {
    let ok = AuditWithReplicas(r, replicas).exit_code() == super::outcome::exit::OK;
    if quiet() && ok {
        return;
    }
    let mut line = format!(
        "audit {}: {}, {}, {}, {} overdue",
        if ok { "passed" } else { "FAILED" },
        count(r.items as u64, "item", "items"),
        count(r.discrepancies.len() as u64, "discrepancy", "discrepancies"),
        count(
            r.last_check_failed.len() as u64,
            "failed last check",
            "failed last checks"
        ),
        r.overdue.len()
    );
    for inv in replicas.iter().filter(|i| !i.findings.is_empty()) {
        line.push_str(&format!(
            "; replica {}: {}",
            inv.replica,
            count(inv.findings.len() as u64, "discrepancy", "discrepancies")
        ));
    }
    outln!("{line}");
}

pub(super) fn run_verify(args: VerifyArgs) -> u8 {
    if let Err(code) = require_exists("verify", "bag", &args.bag) {
        return code;
    }
    if let Some(against) = &args.against {
        if let Err(code) = require_exists("verify", "register entry", against) {
            return code;
        }
    }
    let root = super::common::ambient_root();
    let report: BagCheck = match with_progress("verify", || {
        verify(
            &args.bag,
            args.against.as_deref(),
            &root,
            super::common::env(),
        )
    }) {
        Ok(r) => r,
        Err(e) => return error_exit("verify", &e),
    };
    if args.json {
        print_json(&report);
    } else {
        for f in &report.findings {
            errln!("{}", finding_line(f));
        }
        for e in &report.errors {
            errln!("  error: {}", printable(e));
        }
        let against = args
            .against
            .as_ref()
            .map(|a| format!(" and agrees with {}", a.display()))
            .unwrap_or_default();
        if report.passed() {
            say!(
                "{}: verified: {}, {}{against}",
                args.bag.display(),
                count(report.files, "file", "files"),
                count(report.bytes, "byte", "bytes")
            );
        } else {
            errln!(
                "{}: FAILED: {}",
                args.bag.display(),
                count(report.findings.len() as u64, "problem", "problems")
            );
        }
    }
    exit_code(&report)
}
