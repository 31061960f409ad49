//! Runs kept on the server, measured (`cargo bench -p prompt-runs-gateway
//! --bench sync`; `cargo xtask bench` runs it with a PostgreSQL server of its
//! own, flushing every commit as shipped, and keeps its report):
//!
//! 1. upsert throughput of the history itself, in process: 20,000 typical
//!    runs (as in the app's storage benchmark) uploaded in batches of 1,000,
//!    first new (inserts), then each superseded by a later state (updates);
//! 2. through the HTTP API of the real gateway (release build) on loopback:
//!    the first upload of 10,000 and 100,000 runs, in requests of 1,000 one
//!    after another as a browser's first sync sends them, then their first
//!    download through the changes feed, 1,000 a page; with the gateway's peak
//!    memory (VmHWM);
//! 3. change streams: the gateway's memory with 1,000 open streams (and per
//!    stream), and commits per second while 1,000 streams follow the
//!    workspace (each commit pushed to all of them);
//! 4. experiments run on the gateway: cells per second of an experiment of
//!    2,000 cells on the offline model (answering at once, so that the
//!    figure is the gateways' own work: claims, runs written, cells
//!    settled), with one gateway and with two on one database, in process.
//!
//! On SQLite (a file in a temporary directory) and on PostgreSQL (a fresh
//! database on the server named by `PROMPT_RUNS_TEST_POSTGRES_URL`). Every
//! answer is checked (counts, and every run back); figures, not pass/fail on
//! time: the machine is shared.

mod support;
#[path = "../../benches/workload/mod.rs"]
mod workload;

use clap::Parser;
use prompt_runs::model::{PromptRun, RunStatus, Timestamp};
use prompt_runs_gateway::history::open::Location;
use prompt_runs_gateway::history::wire::Upload;
use prompt_runs_gateway::History;
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};
use support::{thousands, Gateway};
use workload::{typical_run, Prose};

const BATCH: usize = 1_000;
const UPSERTS: usize = 20_000;
const TRANSFERS: [usize; 2] = [10_000, 100_000];
const STREAMS: usize = 1_000;
const COMMITS: usize = 200;
const POSTGRES_URL_ENV: &str = "PROMPT_RUNS_TEST_POSTGRES_URL";
/// Cells of the experiment run on the gateway.
const CELLS: usize = 2_000;

/// A fresh database for one measurement, and what keeps it alive.
struct Database {
    location: Location,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    async fn fresh(engine: &str, name: &str) -> Database {
        if engine == "SQLite" {
            let dir = tempfile::tempdir().expect("a temporary directory");
            return Database {
                location: Location::Sqlite(dir.path().join("history.sqlite3")),
                _dir: Some(dir),
            };
        }
        let server = std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| {
            panic!("{POSTGRES_URL_ENV} is not set: run with `cargo xtask bench` (it starts PostgreSQL)")
        });
        sqlx::any::install_default_drivers();
        let mut admin = sqlx::AnyConnection::connect(&server)
            .await
            .expect("the PostgreSQL server");
        let name = format!("bench_{name}_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await
        .expect("no old database");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("a new database");
        let mut url = url::Url::parse(&server).expect("the server's URL");
        url.set_path(&name);
        Database {
            location: Location::Postgres(url.to_string()),
            _dir: None,
        }
    }

    fn flags(&self) -> Vec<String> {
        match &self.location {
            Location::Sqlite(path) => vec![
                "--data-dir".to_owned(),
                path.parent().unwrap().display().to_string(),
            ],
            Location::Postgres(url) => vec!["--database-url".to_owned(), url.clone()],
        }
    }
}

fn typical_runs(count: usize) -> Vec<PromptRun> {
    let mut prose = Prose(7);
    (0..count)
        .map(|index| typical_run(index, &mut prose))
        .collect()
}

/// Runs per second uploading `runs` into `history` in batches, each batch
/// checked to have changed every run.
async fn upsert(history: &History, runs: &[PromptRun]) -> f64 {
    let started = Instant::now();
    for batch in runs.chunks(BATCH) {
        let upload = Upload {
            runs: batch.to_vec(),
            ..Upload::default()
        };
        let outcome = history.upload("bench", upload).await.expect("an upload");
        assert_eq!(outcome.accepted, batch.len(), "every run changed");
    }
    runs.len() as f64 / started.elapsed().as_secs_f64()
}

async fn measure_upserts(engine: &str) -> String {
    let database = Database::fresh(engine, "upserts").await;
    let history = History::open_at(&database.location, Duration::from_secs(30))
        .await
        .expect("the database opens");
    let runs = typical_runs(UPSERTS);
    let inserts = upsert(&history, &runs).await;
    // A later state of each: the stored copy is read, compared and replaced.
    let later: Vec<PromptRun> = runs
        .into_iter()
        .map(|mut run| {
            run.status = RunStatus::Error;
            let completed = run.completed_at.as_ref().and_then(Timestamp::unix_millis);
            run.completed_at = completed.map(|ms| Timestamp::from_unix_millis(ms + 1));
            run
        })
        .collect();
    let updates = upsert(&history, &later).await;
    history.close().await;
    format!(
        "| {engine} | {} | {} |",
        thousands(inserts as usize),
        thousands(updates as usize)
    )
}

/// Uploads `count` runs through the gateway, then reads them all back
/// through the changes feed: (upload, download, peak memory in KiB).
async fn transfer(engine: &str, count: usize) -> (Duration, Duration, Option<u64>) {
    let database = Database::fresh(engine, &format!("transfer_{count}")).await;
    let flags = database.flags();
    let mut args: Vec<&str> = vec!["--requests-per-minute", "0"];
    args.extend(flags.iter().map(String::as_str));
    let gateway = Gateway::start(&args);
    let http = reqwest::Client::new();
    let runs = typical_runs(count);
    let bodies: Vec<String> = runs
        .chunks(BATCH)
        .map(|batch| json!({ "runs": batch }).to_string())
        .collect();

    let started = Instant::now();
    for body in bodies {
        let answer = http
            .post(format!("{}/api/v1/sync/bench/runs", gateway.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(
            answer.status(),
            200,
            "{}",
            answer.text().await.unwrap_or_default()
        );
    }
    let uploaded = started.elapsed();

    let started = Instant::now();
    let (mut cursor, mut received) = (String::new(), 0);
    loop {
        let page: Value = http
            .get(format!("{}/api/v1/sync/bench/changes", gateway.url))
            .query(&[("since", cursor.as_str()), ("limit", "1000")])
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("a page");
        for change in page["changes"].as_array().expect("changes") {
            let run: PromptRun = serde_json::from_value(change["run"].clone()).expect("a run");
            assert_eq!(run, runs[received], "the runs come back in order, as sent");
            received += 1;
        }
        cursor = page["cursor"].as_str().expect("a cursor").to_owned();
        if page["more"] == false {
            break;
        }
    }
    let downloaded = started.elapsed();
    assert_eq!(received, count);
    (uploaded, downloaded, gateway.peak_memory_kib())
}

/// Opens `STREAMS` change streams on a fresh gateway, then commits
/// `COMMITS` uploads of one run each: (memory before in KiB, after, commits
/// per second until every stream had every commit, and with no stream).
async fn streams(engine: &str) -> (u64, u64, f64, f64) {
    let database = Database::fresh(engine, "streams").await;
    let flags = database.flags();
    let mut args: Vec<&str> = vec!["--requests-per-minute", "0"];
    args.extend(flags.iter().map(String::as_str));
    let gateway = Gateway::start(&args);
    let http = reqwest::Client::new();
    let commit = |n: usize| {
        let (http, url) = (http.clone(), gateway.url.clone());
        async move {
            let mut prose = Prose(n as u64);
            let body = json!({ "runs": [typical_run(n, &mut prose)] }).to_string();
            let answer = http
                .post(format!("{url}/api/v1/sync/bench/runs"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert_eq!(answer.status(), 200);
        }
    };
    // Without followers, for comparison.
    let started = Instant::now();
    for n in 0..COMMITS {
        commit(n).await;
    }
    let alone = COMMITS as f64 / started.elapsed().as_secs_f64();
    let before = gateway.memory_kib().unwrap_or(0);

    // Each stream counts the commits it was pushed (one event each, as they
    // come one at a time) and says when it has them all.
    let (done, mut finished) = tokio::sync::mpsc::channel::<()>(STREAMS);
    let (opened, mut open) = tokio::sync::mpsc::channel::<()>(STREAMS);
    let last = (2 * COMMITS).to_string();
    for _ in 0..STREAMS {
        let (http, url, done, opened, last) = (
            http.clone(),
            gateway.url.clone(),
            done.clone(),
            opened.clone(),
            last.clone(),
        );
        tokio::spawn(async move {
            let mut response = http
                .get(format!("{url}/api/v1/sync/bench/changes?since={COMMITS}"))
                .header("accept", "text/event-stream")
                .send()
                .await
                .expect("a stream");
            let mut seen = String::new();
            let mut said_open = false;
            while let Some(chunk) = response.chunk().await.expect("the stream goes on") {
                if !said_open {
                    said_open = true;
                    let _ = opened.send(()).await;
                }
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains(&format!("id: {last}\n")) {
                    let _ = done.send(()).await;
                    return;
                }
                // Only the tail matters: the next ids follow it.
                if seen.len() > 4_096 {
                    seen.drain(..seen.len() - 64);
                }
            }
        });
    }
    for _ in 0..STREAMS {
        open.recv().await.expect("a stream opened");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = gateway.memory_kib().unwrap_or(0);
    let started = Instant::now();
    for n in COMMITS..2 * COMMITS {
        commit(n).await;
    }
    for _ in 0..STREAMS {
        finished.recv().await.expect("a stream had every commit");
    }
    let followed = COMMITS as f64 / started.elapsed().as_secs_f64();
    (before, after, followed, alone)
}

/// Cells per second of an experiment of [`CELLS`] cells run by `gateways`
/// gateways in process on one fresh database of `engine`, each with its
/// worker (8 cells at once).
async fn experiment_cells(engine: &str, gateways: usize) -> f64 {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use prompt_runs::experiment::{export_experiment, Experiment, InputTable};
    use tower::ServiceExt;

    let database = Database::fresh(engine, &format!("experiments_{gateways}")).await;
    let mut running = Vec::new();
    for _ in 0..gateways {
        let history = History::open_at(&database.location, Duration::from_secs(5))
            .await
            .expect("the database opens");
        let config = prompt_runs_gateway::GatewayConfig::parse_from([
            "gw",
            "--requests-per-minute",
            "0",
            "--offline-tokens-per-second",
            "1000000",
        ]);
        let settings = prompt_runs_gateway::Settings::from_config(config).unwrap();
        running.push(prompt_runs_gateway::router_with_workers(settings, history));
    }
    let mut experiment = Experiment::new("bench", "bench");
    experiment.template = "Say something about {{topic}}".to_owned();
    experiment.inputs = InputTable::from_rows(
        vec!["topic".to_owned()],
        (0..CELLS)
            .map(|row| vec![Some(format!("topic {row}"))])
            .collect(),
    )
    .unwrap();
    experiment.models = vec!["offline-echo".to_owned()];
    let app = running[0].0.clone();
    let call = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let answer = app.oneshot(request).await.unwrap();
            let bytes = answer.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let started = Instant::now();
    let posted = call(
        Request::post("/api/v1/sync/bench/experiments")
            .header("content-type", "application/json")
            .body(Body::from(export_experiment(&experiment, [])))
            .unwrap(),
    )
    .await;
    let id = posted["id"]
        .as_str()
        .expect("the experiment was taken")
        .to_owned();
    loop {
        let progress = call(
            Request::get(format!("/api/v1/sync/bench/experiments/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        if progress["state"] == "finished" {
            assert_eq!(progress["counts"]["done"], CELLS, "{progress}");
            assert_eq!(
                progress["byGateway"].as_object().unwrap().len(),
                gateways,
                "{progress}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    CELLS as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let engines = ["SQLite", "PostgreSQL"];
    println!("## Runs kept on the server (sync API, loopback, release build)\n");
    println!(
        "Upsert throughput of the history in process, {} typical runs in batches of {} (runs/s):\n",
        thousands(UPSERTS),
        thousands(BATCH)
    );
    println!("| engine | new runs | later states of them |\n| --- | ---: | ---: |");
    for engine in engines {
        println!("{}", measure_upserts(engine).await);
    }
    println!(
        "\nThrough the gateway's HTTP API: first upload in requests of {} runs, then first download \
         through the changes feed, {} a page (the client parses every run and checks it):\n",
        thousands(BATCH),
        thousands(BATCH)
    );
    println!("| engine | runs | upload | download | gateway peak memory (VmHWM) |\n| --- | ---: | ---: | ---: | ---: |");
    for engine in engines {
        for count in TRANSFERS {
            let (up, down, peak) = transfer(engine, count).await;
            let rate = |time: Duration| count as f64 / time.as_secs_f64();
            println!(
                "| {engine} | {} | {:.2} s ({} runs/s) | {:.2} s ({} runs/s) | {} |",
                thousands(count),
                up.as_secs_f64(),
                thousands(rate(up) as usize),
                down.as_secs_f64(),
                thousands(rate(down) as usize),
                peak.map_or("unknown".to_owned(), |kib| format!(
                    "{:.1} MiB",
                    kib as f64 / 1024.0
                ))
            );
        }
    }
    println!();
    println!(
        "Change streams: the gateway's memory with {} open streams, and commits (one run each, one \
         after another) per second until every stream was pushed every one:\n",
        thousands(STREAMS)
    );
    println!("| engine | memory before | with {} streams | per stream | commits/s, {} streams | commits/s, none |\n| --- | ---: | ---: | ---: | ---: | ---: |", thousands(STREAMS), thousands(STREAMS));
    for engine in engines {
        let (before, after, followed, alone) = streams(engine).await;
        println!(
            "| {engine} | {:.1} MiB | {:.1} MiB | {:.1} KiB | {followed:.0} | {alone:.0} |",
            before as f64 / 1024.0,
            after as f64 / 1024.0,
            after.saturating_sub(before) as f64 / STREAMS as f64
        );
    }
    println!();
    println!(
        "Experiments run on the gateway: an experiment of {} cells on the offline model (answering \
         at once), posted to one gateway and run by the workers of one or two gateways on one \
         database, in process, each sending 8 cells at once (cells/s, until the last was settled):\n",
        thousands(CELLS)
    );
    println!("| engine | one gateway | two gateways |\n| --- | ---: | ---: |");
    for engine in engines {
        let one = experiment_cells(engine, 1).await;
        let two = experiment_cells(engine, 2).await;
        println!("| {engine} | {one:.0} | {two:.0} |");
    }
}
