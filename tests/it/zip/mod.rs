//! Zipped bags: hostile archives refused, and zip transfer (export, import) end to end.

mod hostile;
mod transfer;
