//! Workloads the benchmarks share, natively and in the browser: typical runs
//! for storage, and the store against a naive baseline for scaling. Times are
//! taken with a clock the caller passes (`Instant` natively, `performance.now()`
//! in the browser), in milliseconds.
#![allow(dead_code)] // each benchmark uses its part

use leptos::prelude::Owner;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use prompt_runs::store::RunsStore;
use std::hint::black_box;

/// A monotonic clock in milliseconds.
pub type Clock = fn() -> f64;

/// Deterministic prose: words drawn from a vocabulary by a small LCG, so the
/// text compresses like real model output rather than like a repeated string.
pub struct Prose(pub u64);

impl Prose {
    const WORDS: [&'static str; 48] = [
        "the",
        "model",
        "returns",
        "a",
        "summary",
        "of",
        "report",
        "which",
        "covers",
        "quarterly",
        "revenue",
        "growth",
        "and",
        "risks",
        "in",
        "three",
        "markets",
        "customers",
        "reported",
        "latency",
        "improved",
        "after",
        "migration",
        "to",
        "new",
        "infrastructure",
        "however",
        "costs",
        "increased",
        "by",
        "percent",
        "we",
        "recommend",
        "reviewing",
        "contracts",
        "before",
        "renewal",
        "next",
        "steps",
        "include",
        "testing",
        "prompts",
        "against",
        "baseline",
        "evaluation",
        "set",
        "with",
        "tokens",
    ];

    pub fn text(&mut self, characters: usize) -> String {
        let mut text = String::with_capacity(characters + 16);
        while text.len() < characters {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let word = Self::WORDS[(self.0 >> 33) as usize % Self::WORDS.len()];
            text.push_str(word);
            // Packages without a `rust-version` (the gateway's and the
            // e2e's, which include this file) get this lint; `is_multiple_of`
            // needs Rust 1.87, newer than the app's 1.85.
            #[allow(clippy::manual_is_multiple_of)]
            let ends_sentence = (self.0 >> 20) % 11 == 0;
            text.push(if ends_sentence { '.' } else { ' ' });
        }
        text
    }
}

/// A typical run: a 200-character prompt, about 1 KB of prose output, usage,
/// cost, timestamps, metadata.
pub fn typical_run(index: usize, prose: &mut Prose) -> PromptRun {
    let started = 1_714_564_800_000 + index as i64 * 61_000;
    let mut run = PromptRun::pending(
        format!(
            "run_{:032x}",
            (index as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
        ),
        [
            "gpt-4o-2024-08-06",
            "claude-3-5-sonnet-20241022",
            "llama3.1:8b",
        ][index % 3],
        prose.text(200),
    );
    run.workspace_id = "workspace-main".into();
    run.context_block_ids = vec!["block-style-guide".into(), format!("block-{}", index % 7)];
    run.status = RunStatus::Success;
    run.started_at = Timestamp::from_unix_millis(started);
    run.completed_at = Some(Timestamp::from_unix_millis(started + 1_843));
    run.duration_ms = Some(1_843);
    run.input_tokens = Some(212);
    run.output_tokens = Some(236);
    run.total_tokens = Some(448);
    run.cost = Some(0.003_89);
    run.output = Some(prose.text(1_024));
    run.metadata =
        serde_json::json!({"temperature": 0.7, "batchId": format!("batch-{}", index / 3)})
            .as_object()
            .cloned();
    run
}

// ---- the store against the baseline ----

pub const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
pub const OPERATIONS: [&str; 3] = ["add", "update", "remove"];
/// Store operations are timed in batches (the browser's clock is coarse):
/// this many samples of this many operations each.
const STORE_SAMPLES: usize = 41;
const STORE_BATCH: usize = 8;
/// The baseline is slow at scale: fewer samples, one operation each.
const BASELINE_SAMPLES: [usize; 3] = [41, 15, 5];

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
        // Each derived list re-filters every run, as the TypeScript getters do.
        let with_status = |status: RunStatus| {
            self.runs
                .iter()
                .filter(|run| run.status == status)
                .cloned()
                .collect::<Vec<_>>()
        };
        for status in RunStatus::ALL {
            black_box(with_status(status));
        }
        black_box(with_status(RunStatus::Success)); // successful runs
        black_box(with_status(RunStatus::Error)); // failed runs
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

/// Median over `samples` of the time per operation, in µs, of `batch`
/// consecutive calls of `operation` (numbered from 0 across all samples).
fn median_micros(
    now: Clock,
    samples: usize,
    batch: usize,
    mut operation: impl FnMut(usize),
) -> f64 {
    let mut times: Vec<f64> = (0..samples)
        .map(|sample| {
            let started = now();
            for step in 0..batch {
                operation(sample * batch + step);
            }
            (now() - started) * 1_000.0 / batch as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[samples / 2]
}

/// Median time of add, update and remove (each followed by every read) on the store.
fn measure_store(now: Clock, owner: &Owner, size: usize) -> [f64; 3] {
    let store = owner.with(RunsStore::new);
    store.set_runs((0..size).map(run).collect()).unwrap();
    store.set_active_run(Some("run-7")).unwrap();
    let live: Vec<PromptRun> = (0..STORE_SAMPLES * STORE_BATCH)
        .map(|iteration| live_run(size, iteration))
        .collect();
    for run in &live {
        store.add_run(run.clone()).unwrap();
    }
    let time = |operation: &mut dyn FnMut(usize)| {
        median_micros(now, STORE_SAMPLES, STORE_BATCH, operation)
    };
    let update = time(&mut |iteration| {
        store
            .update_run(&live[iteration].id, finish(&live[iteration].id))
            .unwrap();
        read_store(&store);
    });
    let remove = time(&mut |iteration| {
        store.remove_run(&live[iteration].id).unwrap();
        read_store(&store);
    });
    let add = time(&mut |iteration| {
        store.add_run(live[iteration].clone()).unwrap();
        read_store(&store);
    });
    store.clear_runs();
    [add, update, remove]
}

/// The same on the baseline.
fn measure_baseline(now: Clock, size: usize, samples: usize) -> [f64; 3] {
    let mut baseline = Baseline {
        runs: (0..size).map(run).collect(),
        active: Some("run-7".into()),
    };
    let live: Vec<PromptRun> = (0..samples)
        .map(|iteration| live_run(size, iteration))
        .collect();
    for run in &live {
        baseline.runs.insert(0, run.clone());
    }
    let update = median_micros(now, samples, 1, |iteration| {
        baseline.update(&live[iteration].id, finish(&live[iteration].id));
        baseline.read();
    });
    let remove = median_micros(now, samples, 1, |iteration| {
        let index = baseline
            .runs
            .iter()
            .position(|run| run.id == live[iteration].id)
            .unwrap();
        baseline.runs.remove(index);
        baseline.read();
    });
    let add = median_micros(now, samples, 1, |iteration| {
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

/// Median µs per operation (add, update, remove, each followed by every
/// read) at each of [`SIZES`], for the store and for the baseline.
pub struct Scaling {
    pub store: Vec<[f64; 3]>,
    pub baseline: Vec<[f64; 3]>,
}

impl Scaling {
    /// Measures both sides, each alone, the store first, so that neither
    /// measures the other's memory churn.
    pub fn measure(now: Clock) -> Scaling {
        let owner = Owner::new();
        let store = SIZES
            .iter()
            .map(|&size| measure_store(now, &owner, size))
            .collect();
        let baseline = SIZES
            .iter()
            .zip(BASELINE_SAMPLES)
            .map(|(&size, samples)| measure_baseline(now, size, samples))
            .collect();
        Scaling { store, baseline }
    }

    /// The figures as a Markdown table, then how each operation scales.
    pub fn table(&self) -> String {
        let mut table = String::from(
            "| runs | op | store µs | baseline µs | speedup |\n| ---: | --- | ---: | ---: | ---: |\n",
        );
        for (index, size) in SIZES.iter().enumerate() {
            for (op_index, op) in OPERATIONS.into_iter().enumerate() {
                let (store, baseline) =
                    (self.store[index][op_index], self.baseline[index][op_index]);
                table += &format!(
                    "| {size} | {op} | {store:.1} | {baseline:.1} | {:.0}x |\n",
                    baseline / store
                );
            }
        }
        for (op_index, op) in OPERATIONS.into_iter().enumerate() {
            table += &format!(
                "\nstore {op} + reads at 100,000 runs / at 1,000 runs: {:.2} (flat means within 2)",
                self.store[2][op_index] / self.store[0][op_index]
            );
        }
        table + "\n"
    }
}

// ---- experiments at scale ----

/// An experiment of 1,000 rows × 4 models × 3 repeats with three checks, its
/// inputs as CSV, and one finished run per cell (12,000, each with about
/// 1 KB of answer), as the grid would find them in the store.
pub struct ExperimentWorkload {
    pub inputs_csv: String,
    pub experiment: prompt_runs::experiment::Experiment,
    pub runs: Vec<std::sync::Arc<PromptRun>>,
}

pub const EXPERIMENT_ROWS: usize = 1_000;
pub const EXPERIMENT_MODELS: [&str; 4] =
    ["gpt-4o", "claude-3-5-sonnet", "llama3.1:8b", "offline-echo"];
pub const EXPERIMENT_REPEATS: u32 = 3;

impl ExperimentWorkload {
    pub fn new() -> ExperimentWorkload {
        use prompt_runs::experiment::{plan, Check, Experiment, InputFormat, InputTable};
        let mut prose = Prose(13);
        let mut inputs_csv = String::from("id,country,text\r\n");
        for row in 0..EXPERIMENT_ROWS {
            let text = prose.text(200).replace('.', ",");
            inputs_csv += &format!("{row},country {},\"{text}\"\r\n", row % 50);
        }
        let mut experiment = Experiment::new("exp-bench", "Scale");
        experiment.template =
            "Summarise this for a reader in {{country}} (item {{id}}):\n\n{{text}}".into();
        experiment.inputs = InputTable::parse(inputs_csv.as_bytes(), InputFormat::Csv).unwrap();
        experiment.models = EXPERIMENT_MODELS.map(str::to_owned).to_vec();
        experiment.repeats = EXPERIMENT_REPEATS;
        experiment.checks = vec![
            Check::Contains {
                text: "REVENUE".into(),
                case_sensitive: false,
            },
            Check::regex(r"\b(risks?|costs?)\b").unwrap(),
            Check::MaxLatency { ms: 2_000 },
        ];
        let plan = plan(&experiment, &[]).unwrap();
        let runs = (plan.cells.iter().enumerate())
            .map(|(index, cell)| {
                let mut run = cell.pending_run(&experiment.id);
                let started = 1_714_564_800_000 + index as i64 * 700;
                run.status = RunStatus::Success;
                run.started_at = Timestamp::from_unix_millis(started);
                run.completed_at = Some(Timestamp::from_unix_millis(started + 1_500));
                run.duration_ms = Some(500 + (index as u64 * 37) % 2_500);
                run.cost = Some(0.000_4);
                // Repeats agree two times in three, so cells collapse to 1–2 answers.
                let mut answer =
                    Prose((cell.row * 4 + cell.model) as u64 + u64::from(cell.repeat / 2));
                run.output = Some(answer.text(1_024));
                std::sync::Arc::new(run)
            })
            .collect();
        ExperimentWorkload {
            inputs_csv,
            experiment,
            runs,
        }
    }

    /// Median milliseconds of: reading the inputs' CSV, planning (rendering
    /// and expanding every cell, with the estimate), building the grid from
    /// the 12,000 runs (checks included), writing the grid as CSV, and a word
    /// diff of two 1 KB answers. With the planned and grid cell counts.
    pub fn measure(&self, now: Clock, samples: usize) -> ExperimentFigures {
        use prompt_runs::experiment::{grid_csv, plan, Grid, InputFormat, InputTable, WordDiff};
        let median = |operation: &mut dyn FnMut()| {
            let mut times: Vec<f64> = (0..samples)
                .map(|_| {
                    let started = now();
                    operation();
                    now() - started
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times[samples / 2]
        };
        let parse_ms = median(&mut || {
            black_box(InputTable::parse(self.inputs_csv.as_bytes(), InputFormat::Csv).unwrap());
        });
        let mut cells = 0;
        let plan_ms = median(&mut || {
            cells = black_box(plan(&self.experiment, &[]).unwrap()).requests();
        });
        let mut grid = None;
        let grid_ms = median(&mut || {
            grid = Some(black_box(Grid::build(&self.experiment, &self.runs)));
        });
        let grid = grid.expect("measured at least once");
        let mut one_changed = self.runs.clone();
        let mut changed = (*one_changed[0]).clone();
        changed.output = Some("A different answer.".into());
        one_changed[0] = std::sync::Arc::new(changed);
        let rebuild_ms = median(&mut || {
            black_box(grid.rebuild(&self.experiment, &one_changed));
        });
        let mut unchecked = self.experiment.clone();
        unchecked.checks.clear();
        let grid_unchecked_ms = median(&mut || {
            black_box(Grid::build(&unchecked, &self.runs));
        });
        let csv_ms = median(&mut || {
            black_box(grid_csv(&self.experiment, &grid));
        });
        let (a, b) = (
            self.runs[0].output.as_deref().unwrap(),
            self.runs[4].output.as_deref().unwrap(),
        );
        let diff_ms = median(&mut || {
            black_box(WordDiff::new(a, b));
        });
        ExperimentFigures {
            cells,
            grid_cells: grid.rows.iter().map(|row| row.cells.len()).sum(),
            runs: self.runs.len(),
            parse_ms,
            plan_ms,
            grid_ms,
            grid_unchecked_ms,
            rebuild_ms,
            csv_ms,
            diff_ms,
        }
    }
}

/// What [`ExperimentWorkload::measure`] found.
pub struct ExperimentFigures {
    pub cells: usize,
    pub grid_cells: usize,
    pub runs: usize,
    pub parse_ms: f64,
    pub plan_ms: f64,
    pub grid_ms: f64,
    pub grid_unchecked_ms: f64,
    pub rebuild_ms: f64,
    pub csv_ms: f64,
    pub diff_ms: f64,
}

impl ExperimentFigures {
    pub fn table(&self) -> String {
        format!(
            "| What | Median ms |\n| --- | ---: |\n\
             | read the inputs: CSV of {rows} rows (~220 bytes each) | {:.2} |\n\
             | plan: render {rows} prompts, expand {} cells ({rows} × {models} × {repeats}), estimate | {:.2} |\n\
             | build the grid: {} runs → {} cells, 3 checks each | {:.2} |\n\
             | the same without checks | {:.2} |\n\
             | rebuild it after one run changed (other outcomes reused) | {:.2} |\n\
             | write the grid as CSV | {:.2} |\n\
             | word diff of two ~1 KB answers | {:.3} |\n",
            self.parse_ms,
            self.cells,
            self.plan_ms,
            self.runs,
            self.grid_cells,
            self.grid_ms,
            self.grid_unchecked_ms,
            self.rebuild_ms,
            self.csv_ms,
            self.diff_ms,
            rows = EXPERIMENT_ROWS,
            models = EXPERIMENT_MODELS.len(),
            repeats = EXPERIMENT_REPEATS,
        )
    }
}
