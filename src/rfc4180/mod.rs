//! CSV as RFC 4180 defines it, for the files this crate writes and reads: the
//! history and experiment-grid exports ([`push_record`], [`defuse_formula`])
//! and the experiment input tables ([`read_records`]).
//!
//! Hand-written rather than taken from the `csv` crate (whose I/O machinery
//! would join the app bundle) or `csv-core` (see `read.rs` for the measured
//! reason): the format is small, and the reader's errors must say where a
//! person should look.

mod read;
mod write;

pub(crate) use read::{read_records, CsvError};
pub(crate) use write::{defuse_formula, push_record};
