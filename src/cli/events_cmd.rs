//! `cairn events`: the event log listed, filtered by item, type, outcome and time, as
//! text, JSON or CSV.

use clap::Args;

use cairn::units::count;
use cairn::vocab::{EventType, Outcome};

use super::common::{note, open_archive, printable, RootArg};
use super::outcome::{error_exit, exit};

pub(super) const EVENTS_HELP: &str = "\
Examples:
  cairn events --root s21-archive --id cairn-000006 --type 'fixity check'
  cairn events --root s21-archive --outcome failure --since 2026-11-01 --csv > failures.csv

Exit codes:
  0  listed (possibly nothing)
  1  the event log's chain is broken: the events before the break were listed
     (checked when the whole log is read, that is without --id)
  2  bad usage, an unreadable --since or --until
  3  could not run: I/O error, permission denied";

#[derive(Args)]
pub(super) struct EventsArgs {
    /// Only the events of this item, read through the event index (its own lines, not
    /// the whole log; the log's chain is then not checked: `cairn audit` does that).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Only events of this type, as the log spells it: ingestion, message digest
    /// calculation, validation, format identification, fixity check, metadata
    /// modification (amend), modification (revise), deaccession (withdraw), export,
    /// replication, recovery (repair), log repair.
    #[arg(long = "type", value_name = "TYPE", value_parser = clap::builder::ValueParser::new(parse_word::<EventType>))]
    event_type: Option<EventType>,
    /// Only events of this outcome: success, warning or failure.
    #[arg(long, value_name = "OUTCOME", value_parser = clap::builder::ValueParser::new(parse_word::<Outcome>))]
    outcome: Option<Outcome>,
    /// From this date (YYYY-MM-DD, UTC) or time (RFC 3339) on.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Up to this date (the whole day) or time.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    #[command(flatten)]
    root: RootArg,
    /// Print a JSON array of the events on stdout (streamed).
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV on stdout: seq, time, type, outcome, object, agent, detail, id.
    #[arg(long)]
    csv: bool,
}

/// A word of one of the log's vocabularies, for clap: the error names the words known
/// and the nearest one.
fn parse_word<T: std::str::FromStr<Err = cairn::vocab::UnknownWord>>(s: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|e| e.to_string())
}

pub(super) fn run_events(args: EventsArgs) -> u8 {
    use cairn::ops::events::{parse_bound, query, EventFilter};
    use std::io::Write;
    let bound =
        |v: &Option<String>, until: bool| v.as_deref().map(|t| parse_bound(t, until)).transpose();
    let (since, until) = match (bound(&args.since, false), bound(&args.until, true)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return error_exit("events", &e),
    };
    let archive = match open_archive(&args.root, "events") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let filter = EventFilter {
        id: args.id,
        event_type: args.event_type,
        outcome: args.outcome,
        since,
        until,
    };
    let out = std::io::BufWriter::new(super::out::checked());
    let io = |e: std::io::Error| cairn::Error::io("write", "standard output", e);
    let csv_io = |e: csv::Error| io(std::io::Error::other(e));
    let cell = cairn::ops::report::spreadsheet_cell;
    enum Sink<W: Write> {
        Text(W),
        Json(W, bool),
        Csv(Box<csv::Writer<W>>),
    }
    let mut sink = if args.json {
        Sink::Json(out, true)
    } else if args.csv {
        Sink::Csv(Box::new(csv::Writer::from_writer(out)))
    } else {
        Sink::Text(out)
    };
    let mut started = Ok(());
    match &mut sink {
        Sink::Json(w, _) => started = w.write_all(b"[").map_err(io),
        Sink::Csv(w) => {
            started = w
                .write_record([
                    "seq", "time", "type", "outcome", "object", "agent", "detail", "id",
                ])
                .map_err(csv_io)
        }
        Sink::Text(_) => {}
    }
    let result = started.and_then(|_| {
        query(&archive, &filter, |e| match &mut sink {
            Sink::Json(w, first) => {
                w.write_all(if *first { b"\n" } else { b",\n" })
                    .map_err(io)?;
                *first = false;
                serde_json::to_writer(&mut *w, e).map_err(|x| io(std::io::Error::other(x)))
            }
            Sink::Csv(w) => w
                .write_record([
                    e.seq.to_string().as_str(),
                    &e.time,
                    &cell(&e.event_type),
                    &cell(&e.outcome),
                    &cell(&e.object),
                    &cell(&e.agent),
                    &cell(&e.detail),
                    &cell(&e.id),
                ])
                .map_err(csv_io),
            Sink::Text(w) => writeln!(
                w,
                "{}  {}  {}  {}: {}",
                e.time,
                if e.object.is_empty() { "-" } else { &e.object },
                e.event_type,
                e.outcome,
                printable(&e.detail)
            )
            .map_err(io),
        })
    });
    let flushed = match sink {
        Sink::Json(mut w, first) => w
            .write_all(if first { b"]\n" } else { b"\n]\n" })
            .and_then(|_| w.flush()),
        Sink::Csv(mut w) => w.flush(),
        Sink::Text(mut w) => w.flush(),
    };
    match result {
        Ok(r) => {
            if let Err(e) = flushed {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return error_exit("events", &io(e));
                }
            }
            if !args.json && !args.csv {
                if r.indexed {
                    note!(
                        "{} of the item's {} (read through the event index; `cairn audit` checks the log's chain)",
                        r.matched,
                        count(r.lines, "event", "events")
                    );
                } else {
                    note!("{} of {}", r.matched, count(r.lines, "event", "events"));
                }
            }
            if let Some(b) = r.broken {
                errln!("cairn: events: the event log's chain is broken at {b}");
                return exit::DATA;
            }
            exit::OK
        }
        Err(cairn::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            exit::OK
        }
        Err(e) => error_exit("events", &e),
    }
}
