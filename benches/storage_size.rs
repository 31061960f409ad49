//! How much localStorage a typical run takes, and how many fit.
//!
//! Chromium limits an origin's localStorage to 5,242,880 UTF-16 code units of
//! keys plus values (measured: the same count fits for ASCII and for CJK
//! text), so sizes here are in code units. A typical run: a 200-character
//! prompt, about 1 KB of prose output, usage, cost, timestamps, metadata.
//!
//! Run with `cargo bench --bench storage_size` (or `cargo xtask bench`).

mod workload;

use prompt_runs::model::PromptRun;
use prompt_runs::persist::layout::{decode_run, encode_run, StorageKeys};
use std::time::Instant;
use workload::{typical_run, Prose};

const CHROMIUM_QUOTA_CODE_UNITS: usize = 5 * 1024 * 1024;
const RUNS: usize = 2_000;

fn code_units(text: &str) -> usize {
    text.encode_utf16().count()
}

fn main() {
    let mut prose = Prose(42);
    let runs: Vec<PromptRun> = (0..RUNS)
        .map(|index| typical_run(index, &mut prose))
        .collect();
    let keys = StorageKeys::default();

    let plain: usize = runs
        .iter()
        .map(|run| {
            code_units(&keys.run(&run.id)) + code_units(&serde_json::to_string(run).unwrap())
        })
        .sum();
    let started = Instant::now();
    let encoded: Vec<String> = runs.iter().map(encode_run).collect();
    let encode_time = started.elapsed();
    let compressed: usize = runs
        .iter()
        .zip(&encoded)
        .map(|(run, value)| code_units(&keys.run(&run.id)) + code_units(value))
        .sum();
    let started = Instant::now();
    for value in &encoded {
        decode_run(value).unwrap();
    }
    let decode_time = started.elapsed();

    let per_run_plain = plain as f64 / RUNS as f64;
    let per_run_compressed = compressed as f64 / RUNS as f64;
    println!("storage size of a typical run (1 KB output), {RUNS} runs, key included");
    println!(
        "{:<34} {:>14} {:>16} {:>22}",
        "layout", "code units/run", "bytes/run (x2)", "runs in Chromium quota"
    );
    for (layout, per_run) in [
        ("plain JSON (TypeScript store)", per_run_plain),
        ("lz-string UTF-16 (prompt-runs:v1)", per_run_compressed),
    ] {
        println!(
            "{layout:<34} {per_run:>14.0} {:>16.0} {:>22}",
            per_run * 2.0,
            (CHROMIUM_QUOTA_CODE_UNITS as f64 / per_run) as usize
        );
    }
    println!(
        "compressed / plain: {:.2}",
        per_run_compressed / per_run_plain
    );
    println!(
        "encode {:.1} µs/run, decode {:.1} µs/run (native release build)",
        encode_time.as_secs_f64() * 1e6 / RUNS as f64,
        decode_time.as_secs_f64() * 1e6 / RUNS as f64
    );
}
