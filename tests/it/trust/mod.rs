//! Issue 12, trust: blind spots, false alarms, intake real people leave behind, and the
//! words and exit codes Cairn answers with.

mod blind_spots;
mod fixity;
mod intake;
mod words;
