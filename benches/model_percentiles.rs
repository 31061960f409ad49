//! What keeping per-model percentiles costs, at 1,000 / 10,000 / 100,000
//! runs: the store's way (each model's figures kept in order as runs change,
//! `src/store/ranked.rs`) against recomputing the changed model's
//! percentiles from its runs after each change (O(k), with
//! `model::percentile`), and the one-pass records a filtered view builds
//! (`ModelStats::of`, O(n)).
//!
//! Each store operation is followed by reading every model's record, as
//! ModelPerformance does. Medians of many samples; compare the ratios.
//!
//! Run with `cargo bench --bench model_percentiles` (or `cargo xtask bench`).

#[path = "../tests/support/runs.rs"]
mod runs;

use leptos::prelude::Owner;
use prompt_runs::model::{
    percentile, Figure, PromptRun, PromptRunUpdate, RunMetrics, RunStatus, METRICS_KEY,
};
use prompt_runs::store::{ModelStats, RunsStore};
use runs::a_run;
use std::hint::black_box;
use std::time::Instant;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const MODELS: [&str; 3] = ["gpt-4o", "claude", "llama"];
const SAMPLES: usize = 41;
const BATCH: usize = 8;

/// Metadata with figures that vary from run to run.
fn metadata(index: usize) -> serde_json::Map<String, serde_json::Value> {
    let spread = (index * 7_919) % 1_000;
    let metrics = RunMetrics {
        ttft_ms: Some(Figure::measured(200 + spread as u64)),
        output_tokens_per_second: Some(Figure::measured(20.0 + spread as f64 / 10.0)),
        ..RunMetrics::default()
    };
    serde_json::Map::from_iter([(METRICS_KEY.to_owned(), metrics.to_json())])
}

fn run(index: usize, status: RunStatus) -> PromptRun {
    let run = (a_run(format!("run-{index}")).model(MODELS[index % 3]))
        .prompt("prompt")
        .status(status)
        .started_ms(1_700_000_000_000 + index as i64 * 1_000);
    match status {
        RunStatus::Success => run
            .duration(500 + (index as u64 * 31) % 3_000)
            .metadata(metadata(index)),
        _ => run,
    }
    .build()
}

fn finish(index: usize) -> PromptRunUpdate {
    PromptRunUpdate {
        status: Some(RunStatus::Success),
        duration_ms: Some(900 + index as u64 % 700),
        metadata_changes: Some(metadata(index)),
        ..PromptRunUpdate::default()
    }
}

/// Every model's record, as ModelPerformance reads it.
fn read(store: &RunsStore) {
    for stats in store.model_stats() {
        black_box((
            stats.ttft_ms,
            stats.output_tokens_per_second,
            stats.latency_ms,
        ));
    }
}

/// The O(k) alternative: the changed model's percentiles from its runs.
fn recompute(store: &RunsStore, model: &str) {
    let runs = store.get_runs_by_model(model);
    let (mut ttft, mut speed, mut latency) = (Vec::new(), Vec::new(), Vec::new());
    for run in runs.iter().filter(|run| run.status == RunStatus::Success) {
        let metrics = run.metrics();
        ttft.extend(metrics.ttft_ms.map(|figure| figure.value));
        speed.extend(
            metrics
                .output_tokens_per_second
                .map(|figure| figure.value.to_bits()),
        );
        latency.extend(run.duration_ms);
    }
    for values in [&mut ttft, &mut speed, &mut latency] {
        black_box((percentile(values, 50.0), percentile(values, 95.0)));
    }
}

/// Median µs per operation of `operation` (called with a fresh index),
/// timed in batches.
fn median_us(next: &mut usize, mut operation: impl FnMut(usize)) -> f64 {
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..BATCH {
                *next += 1;
                operation(*next);
            }
            started.elapsed().as_secs_f64() * 1e6 / BATCH as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn main() {
    println!("per-model percentiles (p50, p95 of time to first token, tokens/s, latency), natively: median µs per operation");
    println!("| Runs | add + read: kept / recomputed | update + read: kept / recomputed | one-pass records of all runs (a filtered view) |");
    println!("| --- | --- | --- | --- |");
    for size in SIZES {
        let owner = Owner::new();
        let store = owner.with(RunsStore::new);
        store
            .set_runs(
                (0..size)
                    .map(|index| run(index, RunStatus::Success))
                    .collect(),
            )
            .unwrap();
        read(&store);
        let mut next = size;

        let add_kept = median_us(&mut next, |index| {
            store.add_run(run(index, RunStatus::Success)).unwrap();
            read(&store);
        });
        let add_recomputed = median_us(&mut next, |index| {
            store.add_run(run(index, RunStatus::Success)).unwrap();
            recompute(&store, MODELS[index % 3]);
        });
        // Updates finish a run that was added running (not timed).
        let mut update = |read_after: fn(&RunsStore, usize)| {
            let mut pending = Vec::new();
            let mut samples = Vec::new();
            for _ in 0..SAMPLES {
                pending.clear();
                for _ in 0..BATCH {
                    next += 1;
                    store.add_run(run(next, RunStatus::Running)).unwrap();
                    pending.push(next);
                }
                read(&store);
                let started = Instant::now();
                for &index in &pending {
                    store
                        .update_run(&format!("run-{index}"), finish(index))
                        .unwrap();
                    read_after(&store, index);
                }
                samples.push(started.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
            }
            samples.sort_by(f64::total_cmp);
            samples[SAMPLES / 2]
        };
        let update_kept = update(|store, _| read(store));
        let update_recomputed = update(|store, index| recompute(store, MODELS[index % 3]));

        let runs = store.runs();
        let mut passes: Vec<f64> = (0..5)
            .map(|_| {
                let started = Instant::now();
                black_box(ModelStats::of(runs.iter().map(|run| &**run)));
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        passes.sort_by(f64::total_cmp);
        println!(
            "| {size} | {add_kept:.1} / {add_recomputed:.1} | {update_kept:.1} / {update_recomputed:.1} | {:.0} |",
            passes[2]
        );
    }
}
