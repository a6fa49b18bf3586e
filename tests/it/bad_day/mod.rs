//! A preservation system is judged by its worst day. Each module here is a scenario
//! in which a normal day's work (revise, withdraw, ingest, restore, replicate, cron) or
//! an adversary once broke one of Cairn's promises (issues 27 and 28), or
//! what it said was not exactly true (issue 29, `words`), driven end to end
//! through the real binary on temporary folders.

mod audit;
mod fixity;
mod past;
mod precheck;
mod replica;
mod restore;
mod serve;
mod words;
