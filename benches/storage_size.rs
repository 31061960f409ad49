//! How much localStorage a typical run takes, and how many fit.
//!
//! Chromium limits an origin's localStorage to 5,242,880 UTF-16 code units of
//! keys plus values (measured: the same count fits for ASCII and for CJK
//! text), so sizes here are in code units. A typical run: a 200-character
//! prompt, about 1 KB of prose output, usage, cost, timestamps, metadata.
//!
//! Run with `cargo bench --bench storage_size` (or `cargo xtask bench`).

use prompt_runs::model::{PromptRun, RunStatus, Timestamp};
use prompt_runs::persist::layout::{decode_run, encode_run, StorageKeys};
use std::time::Instant;

const CHROMIUM_QUOTA_CODE_UNITS: usize = 5 * 1024 * 1024;
const RUNS: usize = 2_000;

/// Deterministic prose: words drawn from a vocabulary by a small LCG, so the
/// text compresses like real model output rather than like a repeated string.
struct Prose(u64);

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

    fn text(&mut self, characters: usize) -> String {
        let mut text = String::with_capacity(characters + 16);
        while text.len() < characters {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let word = Self::WORDS[(self.0 >> 33) as usize % Self::WORDS.len()];
            text.push_str(word);
            text.push(if (self.0 >> 20) % 11 == 0 { '.' } else { ' ' });
        }
        text
    }
}

fn typical_run(index: usize, prose: &mut Prose) -> PromptRun {
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
