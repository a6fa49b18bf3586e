//! Crash safety: each command killed (a failpoint's abort, or SIGKILL at many moments)
//! and the next run recovering (docs/crash-safety.md).

mod bag_create;
mod ingest;
mod lifecycle;
