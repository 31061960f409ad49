//! The gateway under load, on loopback (`cargo bench -p prompt-runs-gateway
//! --bench load`; `cargo xtask bench` runs it and keeps its report). Starts
//! the real gateway binary (release build) on a free port with the offline
//! models streaming fast, then:
//!
//! 1. 500 streaming requests at once;
//! 2. 10,000 plain requests, 64 at a time;
//! 3. 1,000 plain requests, 64 at a time, to a second gateway with the
//!    default per-minute limit, to see it answer 429 with `Retry-After`.
//!
//! Every answer is checked: a complete answer (the offline model's exact
//! text, with a `done` event for streams) or a 429. It prints throughput,
//! p50/p99 latency and the gateway's peak memory (VmHWM), and fails if any
//! answer was neither. Figures, not pass/fail on time: the machine is shared.
//! Bounded in count; it sends nothing beyond 127.0.0.1 and stops by itself.

mod support;

use futures::stream::{self, StreamExt};
use prompt_runs::api::wire::ExecuteResponse;
use prompt_runs_gateway::offline;
use std::time::{Duration, Instant};
use support::{thousands, Gateway};

const STREAMS: usize = 500;
const PLAIN: usize = 10_000;
const PLAIN_AT_ONCE: usize = 64;
const LIMITED: usize = 1_000;
const PROMPT: &str =
    "Summarise the trade-offs of streaming answers over plain ones for a prompt workbench";

/// How one request ended.
enum Outcome {
    /// The whole answer, exactly as expected, after this long.
    Complete(Duration),
    /// 429, with a `Retry-After`.
    TooMany,
    /// Anything else: what went wrong.
    Broken(String),
}

async fn one_request(http: &reqwest::Client, url: &str, streamed: bool) -> Outcome {
    let started = Instant::now();
    let path = if streamed {
        "/api/v1/workbench/execute/stream"
    } else {
        "/api/v1/workbench/execute"
    };
    let body = serde_json::json!({"prompt": PROMPT, "model_id": "offline-echo"});
    let response = match http.post(format!("{url}{path}")).json(&body).send().await {
        Ok(response) => response,
        Err(error) => return Outcome::Broken(error.to_string()),
    };
    let status = response.status();
    if status == 429 {
        return match response.headers().get("retry-after") {
            Some(_) => Outcome::TooMany,
            None => Outcome::Broken("429 without Retry-After".to_owned()),
        };
    }
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) => return Outcome::Broken(format!("{status}: body broke off: {error}")),
    };
    if status != 200 {
        return Outcome::Broken(format!("{status}: {text}"));
    }
    let json = if streamed {
        // The last event must be `done`, carrying the whole answer.
        match support::last_event(&text) {
            Some(("done", data)) => data.to_owned(),
            _ => return Outcome::Broken(format!("the stream did not end with done: {text:.200}")),
        }
    } else {
        text
    };
    match serde_json::from_str::<ExecuteResponse>(&json) {
        Ok(answer) if answer.output == offline::answer(PROMPT, &[]) => {
            Outcome::Complete(started.elapsed())
        }
        Ok(answer) => Outcome::Broken(format!("a wrong answer: {:.200}", answer.output)),
        Err(error) => Outcome::Broken(format!("not an answer ({error}): {json:.200}")),
    }
}

/// What a phase measured, as one row of the report; `Err` if any request
/// ended neither complete nor 429.
fn report(what: &str, outcomes: &[Outcome], wall: Duration) -> Result<String, String> {
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Complete(latency) => Some(*latency),
            _ => None,
        })
        .collect();
    latencies.sort_unstable();
    let too_many = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Outcome::TooMany))
        .count();
    let broken: Vec<&str> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Broken(why) => Some(why.as_str()),
            _ => None,
        })
        .collect();
    if let Some(first) = broken.first() {
        return Err(format!(
            "{what}: {} requests broke; the first: {first}",
            broken.len()
        ));
    }
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or("-".to_owned(), |latency| {
                format!("{:.1} ms", latency.as_secs_f64() * 1e3)
            })
    };
    Ok(format!(
        "| {what} | {} complete, {too_many} × 429 | {:.0} req/s | {} / {} |",
        thousands(latencies.len()),
        outcomes.len() as f64 / wall.as_secs_f64(),
        percentile(0.5),
        percentile(0.99),
    ))
}

async fn phase(
    url: &str,
    count: usize,
    at_once: usize,
    streamed: bool,
) -> (Vec<Outcome>, Duration) {
    // One connection pool per phase, as many connections as requests at once.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(at_once)
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let outcomes = stream::iter(0..count)
        .map(|_| one_request(&http, url, streamed))
        .buffer_unordered(at_once)
        .collect()
        .await;
    (outcomes, started.elapsed())
}

#[tokio::main]
async fn main() {
    // No per-minute limit here: these phases measure the gateway, not it.
    let gateway = Gateway::start(&["--requests-per-minute", "0"]);
    let mut rows = Vec::new();

    let (outcomes, wall) = phase(&gateway.url, STREAMS, STREAMS, true).await;
    rows.push(report(
        &format!("{} streams at once", thousands(STREAMS)),
        &outcomes,
        wall,
    ));
    let (outcomes, wall) = phase(&gateway.url, PLAIN, PLAIN_AT_ONCE, false).await;
    rows.push(report(
        &format!(
            "{} plain requests, {PLAIN_AT_ONCE} at a time",
            thousands(PLAIN)
        ),
        &outcomes,
        wall,
    ));
    let peak = gateway.peak_memory_kib();
    drop(gateway);

    let limited = Gateway::start(&[]);
    let (outcomes, wall) = phase(&limited.url, LIMITED, PLAIN_AT_ONCE, false).await;
    rows.push(report(
        &format!(
            "{} plain requests at the default limit (600/min)",
            thousands(LIMITED)
        ),
        &outcomes,
        wall,
    ));
    drop(limited);

    println!(
        "## The gateway under load (loopback, release build, offline-echo at 100,000 tokens/s)\n"
    );
    println!("| what | answers | throughput | p50 / p99 of complete answers |\n| --- | --- | ---: | ---: |");
    let mut failed = false;
    for row in rows {
        match row {
            Ok(row) => println!("{row}"),
            Err(problem) => {
                failed = true;
                println!("| FAILED: {problem} | | | |");
            }
        }
    }
    match peak {
        Some(kib) => println!(
            "\nGateway peak memory (VmHWM) over the first two: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("\nGateway peak memory: unknown (no /proc/<pid>/status)"),
    }
    if failed {
        eprintln!("some requests got neither a complete answer nor a 429");
        std::process::exit(1);
    }
}
