//! The digitisation profile of cairn.toml's `[qc]` section (to be written).
