//! `prompt-runs eval`'s own cost, printed (`cargo xtask bench`; no pass or
//! fail on time):
//!
//! - **overhead per cell**: an experiment of offline-echo cells against a
//!   gateway on loopback that answers as fast as it can (no rate limit,
//!   a million tokens a second), run by the binary with the cache off, less
//!   the same requests sent straight with an HTTP client at the same
//!   concurrency: what planning, the store's runner, recording the runs
//!   and writing the outputs add to each cell;
//! - **a warm cache**: the same experiment again, every cell answered from
//!   the cache: cells per second, the process's start included.

use futures::stream::{self, StreamExt};
use prompt_runs::api::wire::{ExecuteRequest, EXECUTE_STREAM_PATH};
use prompt_runs::experiment::{example, export_experiment, plan, InputFormat, InputTable};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CELLS: usize = 1_000;
const AT_ONCE: usize = 8;
const TRIES: usize = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_owned();
    let config = <prompt_runs_gateway::GatewayConfig as clap::Parser>::parse_from([
        "prompt-runs-gateway",
        "--static-dir",
        &dir,
        "--data-dir",
        &dir,
        "--offline-tokens-per-second",
        "1000000",
        "--requests-per-minute",
        "0",
    ]);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(prompt_runs_gateway::serve(listener, config));

    let mut experiment = example();
    let mut csv = String::from("country\n");
    for row in 0..CELLS {
        csv += &format!("Country {row}\n");
    }
    experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
    let file = data.path().join("bench.json");
    std::fs::write(&file, export_experiment(&experiment, [])).unwrap();
    let requests: Vec<ExecuteRequest> = (plan(&experiment, &[]).unwrap().cells.iter())
        .map(|cell| cell.request(&experiment.parameters))
        .collect();

    let straight = best_of(|| {
        let started = Instant::now();
        runtime.block_on(send_straight(&url, &requests));
        started.elapsed()
    });
    let cache = data.path().join("cache");
    let uncached = best_of(|| eval(&file, &url, &cache, &["--no-cache"]));
    eval(&file, &url, &cache, &[]);
    let warm = best_of(|| eval(&file, &url, &cache, &[]));

    let per_cell = |took: Duration| took.as_secs_f64() * 1_000.0 / CELLS as f64;
    println!("## The command line (native)\n");
    println!("{CELLS} offline-echo cells against a gateway on loopback answering at once, {AT_ONCE} at a time; best of {TRIES}.\n");
    println!("| | total, s | per cell, ms | cells per second |");
    println!("| --- | ---: | ---: | ---: |");
    for (what, took) in [
        ("straight HTTP requests (streamed), no store", straight),
        ("`prompt-runs eval --no-cache`", uncached),
        ("`prompt-runs eval`, every cell in the cache", warm),
    ] {
        println!(
            "| {what} | {:.2} | {:.3} | {:.0} |",
            took.as_secs_f64(),
            per_cell(took),
            CELLS as f64 / took.as_secs_f64()
        );
    }
    // Signed: under the run-to-run noise the difference may be negative,
    // and a clamped 0 would hide that.
    let overhead_ms = (uncached.as_secs_f64() - straight.as_secs_f64()) * 1_000.0 / CELLS as f64;
    println!(
        "\nThe command line's own overhead per cell: {overhead_ms:+.3} ms (its time less the straight requests', over {CELLS} cells; within the noise when near 0).",
    );
}

fn best_of(mut measure: impl FnMut() -> Duration) -> Duration {
    (0..TRIES).map(|_| measure()).min().unwrap()
}

/// The binary on `file`, as a CI job runs it; how long it took.
fn eval(file: &Path, url: &str, cache: &Path, extra: &[&str]) -> Duration {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_prompt-runs"))
        .args(["eval", file.to_str().unwrap(), "--gateway", url])
        .args(["--max-concurrency", &AT_ONCE.to_string()])
        .args(extra)
        .env("PROMPT_RUNS_CACHE_DIR", cache)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

/// Every request sent straight to the gateway's streamed endpoint, `AT_ONCE`
/// at a time, each answer read to its end.
async fn send_straight(url: &str, requests: &[ExecuteRequest]) {
    let client = reqwest::Client::new();
    let endpoint = format!("{url}{EXECUTE_STREAM_PATH}");
    stream::iter(requests)
        .map(|request| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move {
                let response = client.post(endpoint).json(request).send().await.unwrap();
                assert!(response.status().is_success());
                let body = response.text().await.unwrap();
                assert!(body.contains("event: done"));
            }
        })
        .buffer_unordered(AT_ONCE)
        .for_each(|()| async {})
        .await;
}
