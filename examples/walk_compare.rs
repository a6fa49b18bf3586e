//! Cairn's tree walk against jwalk's and ignore's parallel walkers (issue 17), for
//! bench/walk.py: each lists every regular file below a folder with its size, links not
//! followed, on the same two threads, into one list sorted by path (what Cairn's walk
//! hands its callers).
//!
//!     cargo run --release --example walk_compare -- cairn|jwalk|ignore DIR
//!     cargo run --release --example walk_compare -- check DIR
//!
//! A walker prints `files bytes seconds` (the walk alone: no process start-up);
//! `check` runs all three and exits 1 unless their lists are equal.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

type Listing = Vec<(PathBuf, u64)>;

/// A walker: the files below a folder, with their sizes, sorted by path.
type Walker = fn(&Path) -> Listing;

/// `cairn::fs::walk::list_tree`, what `walk_source` (ingest, `bag create`) runs on.
fn cairn_walk(root: &Path) -> Listing {
    cairn::fs::walk::list_tree(root, &|_, _| true)
        .into_iter()
        .filter_map(|l| match (l.kind, l.meta) {
            (Ok(kind), Some(Ok(meta))) if kind.is_file() => Some((l.disk, meta.len)),
            _ => None,
        })
        .collect()
}

/// jwalk on the same rayon pool, each folder's files stat'ed on the thread that read it
/// (`process_read_dir`, jwalk's way of doing per-entry work in parallel).
fn jwalk_walk(root: &Path) -> Listing {
    let walk = jwalk::WalkDirGeneric::<((), Option<u64>)>::new(root)
        .skip_hidden(false)
        .follow_links(false)
        .sort(true)
        .parallelism(jwalk::Parallelism::RayonDefaultPool {
            busy_timeout: std::time::Duration::from_secs(5),
        })
        .process_read_dir(|_, _, _, entries| {
            for e in entries.iter_mut().flatten() {
                if e.file_type.is_file() {
                    e.client_state = e.metadata().ok().map(|m| m.len());
                }
            }
        });
    let mut out: Listing = walk
        .into_iter()
        .filter_map(|e| {
            let e = e.ok()?;
            let size = e.client_state?;
            Some((e.path(), size))
        })
        .collect();
    // jwalk sorts each folder's entries, but yields a folder's files before the
    // files of its subfolders in an order that is not the byte order of whole paths.
    out.sort();
    out
}

/// ignore's parallel walker, every filter off, two threads. Each thread gathers its
/// files and hands them over once, when the walk drops its visitor.
fn ignore_walk(root: &Path) -> Listing {
    struct Gather<'a> {
        found: &'a Mutex<Listing>,
        mine: Listing,
    }
    impl ignore::ParallelVisitor for Gather<'_> {
        fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
            if let Ok(e) = entry {
                if e.file_type().is_some_and(|t| t.is_file()) {
                    if let Ok(m) = e.metadata() {
                        self.mine.push((e.into_path(), m.len()));
                    }
                }
            }
            ignore::WalkState::Continue
        }
    }
    impl Drop for Gather<'_> {
        fn drop(&mut self) {
            self.found
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(&mut self.mine);
        }
    }
    struct Builder<'a>(&'a Mutex<Listing>);
    impl<'s> ignore::ParallelVisitorBuilder<'s> for Builder<'s> {
        fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
            Box::new(Gather {
                found: self.0,
                mine: Vec::new(),
            })
        }
    }
    let found = Mutex::new(Vec::new());
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .threads(2)
        .build_parallel()
        .visit(&mut Builder(&found));
    let mut out = found.into_inner().unwrap_or_else(|p| p.into_inner());
    out.sort();
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(which), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: walk_compare cairn|jwalk|ignore|check DIR");
        std::process::exit(2);
    };
    let root = Path::new(dir);
    let walkers: [(&str, Walker); 3] = [
        ("cairn", cairn_walk),
        ("jwalk", jwalk_walk),
        ("ignore", ignore_walk),
    ];
    if which == "check" {
        let lists: Vec<(&str, Listing)> = walkers.iter().map(|(n, f)| (*n, f(root))).collect();
        let (first, rest) = lists.split_first().expect("three walkers");
        let mut same = true;
        for (name, list) in rest {
            if list != &first.1 {
                eprintln!(
                    "{name} listed {} files, {} {}: the lists differ",
                    list.len(),
                    first.0,
                    first.1.len()
                );
                same = false;
            }
        }
        println!(
            "{} files, the three lists {}",
            first.1.len(),
            if same { "equal" } else { "differ" }
        );
        std::process::exit(if same { 0 } else { 1 });
    }
    let Some((_, walk)) = walkers.iter().find(|(n, _)| n == which) else {
        eprintln!("unknown walker {which}: cairn, jwalk, ignore or check");
        std::process::exit(2);
    };
    let started = Instant::now();
    let list = walk(root);
    let secs = started.elapsed().as_secs_f64();
    let bytes: u64 = list.iter().map(|(_, s)| s).sum();
    println!("{} {} {:.6}", list.len(), bytes, secs);
}
