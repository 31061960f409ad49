//! The store against a naive baseline at 1,000 / 10,000 / 100,000 runs.
//!
//! Each operation (add, update with status + cost + tokens, remove) is
//! followed by reading every derived value, as a page showing them does. The
//! baseline is what the TypeScript store does: a plain `Vec` re-filtered and
//! re-summed on every read. Figures are medians of many iterations, measured
//! side by side in one run; compare the ratios, not the absolute times.
//!
//! Run with `cargo bench --bench store_scaling` (or `cargo xtask bench`).

use leptos::prelude::Owner;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use prompt_runs::store::RunsStore;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const ITERATIONS: usize = 301;

fn run(index: usize) -> PromptRun {
    let mut run = PromptRun::pending(
        format!("run-{index}"),
        ["gpt-4o", "claude", "llama"][index % 3],
        "prompt",
    );
    run.status = [
        RunStatus::Success,
        RunStatus::Error,
        RunStatus::Success,
        RunStatus::Cancelled,
    ][index % 4];
    run.started_at = Timestamp::from_unix_millis(1_700_000_000_000 + index as i64 * 1_000);
    run.total_tokens = Some(100 + index as u64 % 50);
    run.cost = Some(0.0001 * (index % 7) as f64);
    run.duration_ms = Some(500 + index as u64 % 300);
    run
}

fn finish(id: &str) -> PromptRunUpdate {
    PromptRunUpdate {
        status: Some(RunStatus::Success),
        total_tokens: Some(321),
        cost: Some(0.0042),
        duration_ms: Some(900),
        completed_at: Some(Timestamp::from_unix_millis(1_800_000_000_000)),
        output: Some(format!("answer for {id}")),
        ..PromptRunUpdate::default()
    }
}

/// Everything a page shows, read from the store.
fn read_store(store: &RunsStore) {
    black_box(store.runs().len());
    black_box(store.active_run());
    black_box(store.latest_run());
    black_box(store.runs_by_status().count(RunStatus::Running));
    black_box(store.successful_runs().len());
    black_box(store.failed_runs().len());
    black_box(store.total_tokens_used());
    black_box(store.total_cost());
    black_box(store.average_duration());
    black_box(store.model_stats().len());
}

/// The TypeScript store's way: every derived value recomputed from the vector.
struct Baseline {
    runs: Vec<PromptRun>,
    active: Option<String>,
}

impl Baseline {
    fn read(&self) {
        black_box(self.runs.len());
        black_box(
            self.active
                .as_ref()
                .and_then(|id| self.runs.iter().find(|run| &run.id == id)),
        );
        black_box(
            self.runs
                .iter()
                .max_by(|a, b| a.started_at.cmp(&b.started_at)),
        );
        for status in RunStatus::ALL {
            black_box(
                self.runs
                    .iter()
                    .filter(|run| run.status == status)
                    .cloned()
                    .collect::<Vec<_>>(),
            );
        }
        black_box(
            self.runs
                .iter()
                .filter(|run| run.status == RunStatus::Success)
                .cloned()
                .collect::<Vec<_>>(),
        );
        black_box(
            self.runs
                .iter()
                .filter(|run| run.status == RunStatus::Error)
                .cloned()
                .collect::<Vec<_>>(),
        );
        black_box(
            self.runs
                .iter()
                .map(|run| run.total_tokens.unwrap_or(0))
                .sum::<u64>(),
        );
        black_box(self.runs.iter().filter_map(|run| run.cost).sum::<f64>());
        let durations: Vec<u64> = self.runs.iter().filter_map(|run| run.duration_ms).collect();
        black_box(durations.iter().sum::<u64>() / durations.len().max(1) as u64);
    }

    fn update(&mut self, id: &str, update: PromptRunUpdate) {
        if let Some(run) = self.runs.iter_mut().find(|run| run.id == id) {
            *run = update.apply_to(run).unwrap();
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(mut operation: impl FnMut(usize)) -> Duration {
    median(
        (0..ITERATIONS)
            .map(|iteration| {
                let started = Instant::now();
                operation(iteration);
                started.elapsed()
            })
            .collect(),
    )
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// Median time of add, update and remove (each followed by every read) on the store.
fn measure_store(owner: &Owner, size: usize) -> [Duration; 3] {
    let store = owner.with(RunsStore::new);
    store.set_runs((0..size).map(run).collect()).unwrap();
    store.set_active_run(Some("run-7")).unwrap();
    let live: Vec<PromptRun> = (0..ITERATIONS)
        .map(|iteration| live_run(size, iteration))
        .collect();
    for run in &live {
        store.add_run(run.clone()).unwrap();
    }
    let update = time(|iteration| {
        store
            .update_run(&live[iteration].id, finish(&live[iteration].id))
            .unwrap();
        read_store(&store);
    });
    let remove = time(|iteration| {
        store.remove_run(&live[iteration].id).unwrap();
        read_store(&store);
    });
    let add = time(|iteration| {
        store.add_run(live[iteration].clone()).unwrap();
        read_store(&store);
    });
    store.clear_runs();
    [add, update, remove]
}

/// The same on the baseline.
fn measure_baseline(size: usize) -> [Duration; 3] {
    let mut baseline = Baseline {
        runs: (0..size).map(run).collect(),
        active: Some("run-7".into()),
    };
    let live: Vec<PromptRun> = (0..ITERATIONS)
        .map(|iteration| live_run(size, iteration))
        .collect();
    for run in &live {
        baseline.runs.insert(0, run.clone());
    }
    let update = time(|iteration| {
        baseline.update(&live[iteration].id, finish(&live[iteration].id));
        baseline.read();
    });
    let remove = time(|iteration| {
        let index = baseline
            .runs
            .iter()
            .position(|run| run.id == live[iteration].id)
            .unwrap();
        baseline.runs.remove(index);
        baseline.read();
    });
    let add = time(|iteration| {
        baseline.runs.insert(0, live[iteration].clone());
        baseline.read();
    });
    [add, update, remove]
}

/// A run in flight, to be finished, removed and added back.
fn live_run(size: usize, iteration: usize) -> PromptRun {
    let mut live = run(size + iteration);
    live.id = format!("live-{iteration}");
    live.status = RunStatus::Running;
    live
}

fn main() {
    // Each side runs alone, the store first, so neither measures the other's
    // memory churn; both in this one process, on the same machine state.
    let owner = Owner::new();
    let ours: Vec<[Duration; 3]> = SIZES
        .iter()
        .map(|&size| measure_store(&owner, size))
        .collect();
    let theirs: Vec<[Duration; 3]> = SIZES.iter().map(|&size| measure_baseline(size)).collect();

    println!("store vs naive Vec baseline: median µs per operation followed by reading every derived value");
    println!(
        "{:>8} {:<8} {:>12} {:>12} {:>10}",
        "runs", "op", "store µs", "baseline µs", "speedup"
    );
    for (index, size) in SIZES.iter().enumerate() {
        for (op_index, op) in ["add", "update", "remove"].into_iter().enumerate() {
            let (store, baseline) = (ours[index][op_index], theirs[index][op_index]);
            println!(
                "{size:>8} {op:<8} {:>12.1} {:>12.1} {:>9.0}x",
                micros(store),
                micros(baseline),
                baseline.as_secs_f64() / store.as_secs_f64()
            );
        }
    }
    for (op_index, op) in ["add", "update", "remove"].into_iter().enumerate() {
        println!(
            "store {op} + reads at 100,000 runs / at 1,000 runs: {:.2} (flat scaling means close to 1)",
            ours[2][op_index].as_secs_f64() / ours[0][op_index].as_secs_f64()
        );
    }
}
