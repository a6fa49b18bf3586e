//! Fixity: injected faults found and blamed on the right bag and file, and the schedule
//! as cron runs it.

mod faults;
mod schedule;
