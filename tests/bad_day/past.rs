//! Scenarios: past (filled in by the work on issues 27 and 28).
