//! Experiments at scale, natively: reading a 1,000-row input CSV, planning
//! 1,000 rows × 4 models × 3 repeats (12,000 cells), building the grid from
//! 12,000 runs with three checks each, writing it as CSV, and a word diff.
//! Medians of several runs, in milliseconds.
//!
//! Run with `cargo bench --bench experiment_scale`.

mod workload;

use std::sync::LazyLock;
use std::time::Instant;
use workload::ExperimentWorkload;

/// Milliseconds since the benchmark started.
fn now() -> f64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_secs_f64() * 1_000.0
}

fn main() {
    let workload = ExperimentWorkload::new();
    let figures = workload.measure(now, 11);
    println!("experiments at scale, natively: median ms of 11");
    println!("{}", figures.table());
}
