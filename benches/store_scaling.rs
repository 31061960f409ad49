//! The store against a naive baseline at 1,000 / 10,000 / 100,000 runs.
//!
//! Each operation (add, update with status + cost + tokens, remove) is
//! followed by reading every derived value, as a page showing them does. The
//! baseline is what the TypeScript store does: a plain `Vec` re-filtered and
//! re-summed on every read. Figures are medians of many iterations, measured
//! side by side in one run; compare the ratios, not the absolute times.
//!
//! Run with `cargo bench --bench store_scaling` (or `cargo xtask bench`).

mod workload;

use std::sync::LazyLock;
use std::time::Instant;
use workload::Scaling;

/// Milliseconds since the benchmark started.
fn now() -> f64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_secs_f64() * 1_000.0
}

fn main() {
    let scaling = Scaling::measure(now);
    println!("store vs naive Vec baseline, natively: median µs per operation followed by reading every derived value");
    println!("{}", scaling.table());
}
