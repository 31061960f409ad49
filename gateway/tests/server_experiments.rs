//! Experiments run on the gateway, on real databases: posted to one
//! gateway, run by the workers of every gateway on the database, their runs
//! read back through the changes feed as a browser reads them. Each case
//! runs on SQLite and on PostgreSQL (two gateways on one SQLite file take
//! turns at its one writer, as two on one PostgreSQL take cells with `SKIP
//! LOCKED`). The models are the offline ones, so the answers are known. The
//! gateways run in process, but for the one that is killed: a real process.

mod support;

use axum::Router;
use clap::Parser;
use prompt_runs::api::wire::ExecuteParameters;
use prompt_runs::experiment::{export_experiment, Experiment, InputTable};
use prompt_runs::model::{PromptRun, RunStatus, Usd};
use prompt_runs_gateway::experiment_workers::Workers;
use prompt_runs_gateway::{router, router_with_workers, GatewayConfig, Settings};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::database::{on_both_engines, Engine, TestDatabase};
use support::process::GatewayProcess;
use support::{get, post, Answer};

on_both_engines!(
    a_thousand_cells_on_two_gateways_are_each_answered_once,
    a_gateway_killed_mid_run_leaves_its_cells_to_the_other,
    the_budget_stops_both_gateways,
    cancel_stops_both_gateways,
    cancel_drops_the_requests_in_flight,
    bad_experiments_are_refused_saying_why,
    unknown_experiments_are_not_found,
);

const WORKSPACE: &str = "team";

// ---- helpers ----

/// A gateway with its experiment worker on `database`, its offline models
/// answering at `tokens_per_second`. Leases of 5 s: the machine is shared,
/// and a worker that cannot renew in time (a busy SQLite writer) would
/// have its cells sent again.
async fn gateway(database: &TestDatabase, tokens_per_second: u32) -> (Router, Workers) {
    gateway_with(database, tokens_per_second, &[]).await
}

async fn gateway_with(
    database: &TestDatabase,
    tokens_per_second: u32,
    flags: &[&str],
) -> (Router, Workers) {
    let speed = tokens_per_second.to_string();
    let mut args = vec![
        "gw",
        "--requests-per-minute",
        "0",
        "--offline-tokens-per-second",
        &speed,
    ];
    if !flags.contains(&"--experiment-lease-seconds") {
        args.extend(["--experiment-lease-seconds", "5"]);
    }
    args.extend_from_slice(flags);
    let settings = Settings::from_config(GatewayConfig::parse_from(args)).unwrap();
    router_with_workers(settings, database.open().await)
}

/// An experiment of `rows` rows on `models`, `repeats` times.
fn experiment(id: &str, rows: usize, models: &[&str], repeats: u32) -> Experiment {
    let mut experiment = Experiment::new(id, "server test");
    experiment.template = "Say something about {{topic}}".to_owned();
    experiment.inputs = InputTable::from_rows(
        vec!["topic".to_owned()],
        (0..rows)
            .map(|row| vec![Some(format!("topic {row}"))])
            .collect(),
    )
    .unwrap();
    experiment.models = models.iter().map(|model| model.to_string()).collect();
    experiment.repeats = repeats;
    experiment
}

/// The experiment file the app exports, without runs.
fn file_of(experiment: &Experiment) -> String {
    export_experiment(experiment, [])
}

/// Posts `experiment` to `app`; its gateway id (202 asserted).
async fn post_experiment(app: &Router, experiment: &Experiment) -> String {
    let answer = post(
        app.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments"),
        file_of(experiment),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let accepted = answer.json();
    assert_eq!(accepted["experimentId"], experiment.id.as_str());
    accepted["id"].as_str().unwrap().to_owned()
}

async fn progress(app: &Router, id: &str) -> Value {
    let answer = get(
        app.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments/{id}"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// Polls the progress until `done` says so (at most 60 s); the last.
async fn wait_for(app: &Router, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = progress(app, id).await;
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "waited 60 s for {what}: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(progress: &Value, state: &str) -> u64 {
    progress["counts"][state].as_u64().unwrap()
}

/// Every run of the workspace, read through the changes feed as a browser
/// reads it.
async fn feed_runs(app: &Router) -> Vec<PromptRun> {
    let mut runs = Vec::new();
    let mut since = String::new();
    loop {
        let answer: Answer = get(
            app.clone(),
            &format!("/api/v1/sync/{WORKSPACE}/changes?since={since}&limit=1000"),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let page = answer.json();
        for change in page["changes"].as_array().unwrap() {
            if let Some(run) = change.get("run") {
                runs.push(serde_json::from_value(run.clone()).unwrap());
            }
        }
        since = page["cursor"].as_str().unwrap().to_owned();
        if page["more"] != true {
            return runs;
        }
    }
}

/// The runs of `experiment`, by their cell (row, model, repeat); panics
/// on a cell with two runs.
fn runs_by_cell(runs: &[PromptRun], experiment: &str) -> HashMap<(usize, String, u32), PromptRun> {
    let mut cells = HashMap::new();
    for run in runs {
        let Some(tag) = run.experiment_cell() else {
            continue;
        };
        if tag.experiment_id != experiment {
            continue;
        }
        let key = (tag.row, tag.model_id.to_owned(), tag.repeat);
        let earlier = cells.insert(key.clone(), run.clone());
        assert!(earlier.is_none(), "cell {key:?} has two runs");
    }
    cells
}

fn dollars(value: &Value) -> Usd {
    Usd::from_dollars(value.as_f64().unwrap())
}

// ---- cases ----

async fn a_thousand_cells_on_two_gateways_are_each_answered_once(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    let (first, _first_workers) = gateway(&database, 2_000).await;
    let (second, _second_workers) = gateway(&database, 2_000).await;
    let planned = experiment("exp-1000", 250, &["offline-echo", "offline-judge"], 2);
    let id = post_experiment(&first, &planned).await;

    // Found and followed from the other gateway, as another browser would.
    let listed = get(
        second.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments"),
    )
    .await
    .json();
    assert_eq!(listed["experiments"][0]["id"], id.as_str(), "{listed}");
    let end = wait_for(&second, &id, "every cell", |now| now["state"] == "finished").await;
    assert_eq!(end["cells"], 1_000);
    assert_eq!(count(&end, "done"), 1_000, "{end}");
    assert_eq!(end["resent"], 0, "{end}");
    let by_gateway = end["byGateway"].as_object().unwrap();
    assert_eq!(by_gateway.len(), 2, "both gateways answered cells: {end}");
    assert_eq!(
        by_gateway
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        1_000
    );

    let runs = runs_by_cell(&feed_runs(&second).await, "exp-1000");
    assert_eq!(runs.len(), 1_000);
    for ((row, model, _), run) in &runs {
        assert_eq!(run.status, RunStatus::Success, "{run:?}");
        assert_eq!(&run.model_id, model);
        assert_eq!(
            run.prompt_snapshot,
            format!("Say something about topic {row}")
        );
        assert!(!run.output.as_deref().unwrap_or_default().is_empty());
    }
    let spent: Usd = runs.values().filter_map(PromptRun::cost_usd).sum();
    assert_eq!(dollars(&end["spent"]), spent);
}

async fn a_gateway_killed_mid_run_leaves_its_cells_to_the_other(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    // A real gateway process, killed (SIGKILL) with cells in flight: slow,
    // so that they are; short leases, so that they are taken over soon.
    let mut flags = database.flags();
    flags.extend(
        [
            "--offline-tokens-per-second",
            "200",
            "--experiment-lease-seconds",
            "2",
        ]
        .map(String::from),
    );
    let doomed = GatewayProcess::start(&flags);
    let http = reqwest::Client::new();
    let posted = http
        .post(format!(
            "{}/api/v1/sync/{WORKSPACE}/experiments",
            doomed.url
        ))
        .header("content-type", "application/json")
        .body(file_of(&experiment("exp-killed", 60, &["offline-echo"], 1)))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 202);
    let id = posted.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Watched through a gateway of no worker of its own.
    let settings = Settings::from_config(GatewayConfig::parse_from(["gw"])).unwrap();
    let watcher = router(settings, Some(database.open().await));
    wait_for(&watcher, &id, "a few cells", |now| count(now, "done") >= 5).await;
    doomed.kill();
    let before = progress(&watcher, &id).await;
    let held = count(&before, "leased");
    assert!(held > 0, "the killed gateway held cells: {before}");
    let doomed_id = before["byGateway"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();

    let short = ["--experiment-lease-seconds", "2"];
    let (_survivor, survivor_workers) = gateway_with(&database, 20_000, &short).await;
    let end = wait_for(&watcher, &id, "every cell", |now| {
        now["state"] == "finished"
    })
    .await;
    assert_eq!(count(&end, "done"), 60, "{end}");
    // The cells it held were sent again, and said to be.
    assert_eq!(end["resent"], held, "{end}");
    let by_gateway = end["byGateway"].as_object().unwrap();
    assert_eq!(
        by_gateway[&doomed_id], before["byGateway"][&doomed_id],
        "{end}"
    );
    assert_eq!(
        by_gateway[survivor_workers.id()].as_u64().unwrap() + count(&before, "done"),
        60,
        "{end}"
    );

    let runs = runs_by_cell(&feed_runs(&watcher).await, "exp-killed");
    assert_eq!(runs.len(), 60);
    assert!(runs.values().all(|run| run.status == RunStatus::Success));
}

async fn the_budget_stops_both_gateways(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    let (first, _first_workers) = gateway(&database, 5_000).await;
    let (second, _second_workers) = gateway(&database, 5_000).await;
    let mut planned = experiment("exp-budget", 400, &["offline-echo"], 1);
    planned.parameters = ExecuteParameters {
        max_tokens: Some(2),
        ..ExecuteParameters::default()
    };
    // offline-echo costs $0.50 per million prompt tokens and $1.50 per
    // million answer tokens; a cell is estimated at its 7 tokens × $1 per
    // million (their mean), more than it costs: a budget for about a third
    // of the cells.
    let budget = Usd::from_dollars(0.0009);
    planned.budget = Some(budget);
    let id = post_experiment(&first, &planned).await;

    let end = wait_for(&second, &id, "the budget to stop it", |now| {
        now["state"] == "budget" && count(now, "leased") == 0
    })
    .await;
    let (done, cancelled) = (count(&end, "done"), count(&end, "cancelled"));
    assert!(done > 0 && cancelled > 0, "{end}");
    assert_eq!(done + cancelled, 400, "{end}");
    let spent = dollars(&end["spent"]);
    assert!(spent <= budget, "spent {spent} of {budget}: {end}");
    assert_eq!(dollars(&end["reserved"]), Usd::ZERO);

    // Neither gateway sends another cell.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let later = progress(&first, &id).await;
    assert_eq!(later["counts"], end["counts"]);
    let runs = runs_by_cell(&feed_runs(&first).await, "exp-budget");
    assert_eq!(runs.len() as u64, done);
    let paid: Usd = runs.values().filter_map(PromptRun::cost_usd).sum();
    // A cell sent twice (its lease expired) is paid twice, written once.
    match end["resent"].as_u64().unwrap() {
        0 => assert_eq!(paid, spent),
        _ => assert!(paid < spent),
    }
}

async fn cancel_stops_both_gateways(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    let (first, _first_workers) = gateway(&database, 400).await;
    let (second, _second_workers) = gateway(&database, 400).await;
    let planned = experiment("exp-cancel", 300, &["offline-echo"], 1);
    let id = post_experiment(&first, &planned).await;
    wait_for(&first, &id, "a few cells", |now| count(now, "done") >= 10).await;

    let answer = post(
        second.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments/{id}/cancel"),
        "",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["state"], "cancelled");
    let end = wait_for(&first, &id, "the cells in flight to end", |now| {
        count(now, "leased") == 0
    })
    .await;
    let (done, cancelled) = (count(&end, "done"), count(&end, "cancelled"));
    assert!(cancelled > 0, "{end}");
    assert_eq!(done + cancelled, 300, "{end}");

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let later = progress(&second, &id).await;
    assert_eq!(later["counts"], end["counts"], "nothing sent after cancel");
    assert_eq!(later["state"], "cancelled");
    let runs = runs_by_cell(&feed_runs(&first).await, "exp-cancel");
    assert_eq!(runs.len() as u64, done);

    // Cancelling again changes nothing.
    let again = post(
        first.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments/{id}/cancel"),
        "",
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["counts"], end["counts"]);
}

async fn cancel_drops_the_requests_in_flight(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    // offline-slow answers at 4% of this: each answer takes seconds.
    let (app, _workers) = gateway(&database, 20).await;
    let planned = experiment("exp-slow", 4, &["offline-slow"], 1);
    let id = post_experiment(&app, &planned).await;
    wait_for(&app, &id, "every cell in flight", |now| {
        count(now, "leased") == 4
    })
    .await;

    let cancelled = Instant::now();
    let answer = post(
        app.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments/{id}/cancel"),
        "",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let end = wait_for(&app, &id, "the requests in flight to be dropped", |now| {
        count(now, "leased") == 0
    })
    .await;
    // Within a renewal (a third of the 5 s lease) and a look, long before
    // the answers would have come.
    assert!(cancelled.elapsed() < Duration::from_secs(4), "{end}");
    assert_eq!(count(&end, "cancelled"), 4, "{end}");
    assert_eq!(end["spent"], 0.0);
    assert_eq!(end["reserved"], 0.0);
    assert!(runs_by_cell(&feed_runs(&app).await, "exp-slow").is_empty());
}

async fn bad_experiments_are_refused_saying_why(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    // An upstream model without a price (the upstream is never asked: its
    // models are listed here).
    let upstream = [
        "--upstream-url",
        "http://upstream.invalid/v1",
        "--upstream-models",
        "mystery-7b",
    ];
    let (app, _workers) = gateway_with(&database, 20_000, &upstream).await;
    let path = format!("/api/v1/sync/{WORKSPACE}/experiments");
    let refused = |answer: &Answer, status: u16, words: &str| {
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(answer.detail().contains(words), "{}", answer.body);
    };

    let answer = post(app.clone(), &path, "{not json").await;
    refused(&answer, 400, "");
    let answer = post(app.clone(), &path, json!({"runs": []}).to_string()).await;
    refused(&answer, 422, "not an experiment file");
    let answer = post(app.clone(), &path, file_of(&experiment("e", 2, &[], 1))).await;
    refused(&answer, 422, "choose at least one model");
    let answer = post(
        app.clone(),
        &path,
        file_of(&experiment("e", 2, &["gpt-nowhere"], 1)),
    )
    .await;
    refused(&answer, 422, "does not offer gpt-nowhere");
    let mut unpriced = experiment("e", 2, &["offline-echo", "mystery-7b"], 1);
    unpriced.budget = Some(Usd::from_dollars(1.0));
    let answer = post(app.clone(), &path, file_of(&unpriced)).await;
    refused(&answer, 422, "mystery-7b has no price");
    let answer = post(
        app.clone(),
        "/api/v1/sync/no%20spaces/experiments",
        file_of(&experiment("e", 2, &["offline-echo"], 1)),
    )
    .await;
    refused(&answer, 400, "not a workspace name");

    // Nothing was stored: no cell ran, no run was written.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(feed_runs(&app).await.is_empty());
}

async fn unknown_experiments_are_not_found(engine: Engine) {
    let database = TestDatabase::new(engine).await;
    let (app, _workers) = gateway(&database, 20_000).await;
    let answer = get(
        app.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments/sx_nothing"),
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert!(answer.detail().contains("no experiment sx_nothing"));
    let answer = post(
        app.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments/sx_nothing/cancel"),
        "",
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);

    // Another workspace's experiment is not this one's.
    let id = post_experiment(&app, &experiment("mine", 1, &["offline-echo"], 1)).await;
    let answer = get(
        app.clone(),
        &format!("/api/v1/sync/elsewhere/experiments/{id}"),
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    let listed = get(app.clone(), "/api/v1/sync/elsewhere/experiments").await;
    assert_eq!(listed.json(), json!({"experiments": []}));
    let listed = get(
        app.clone(),
        &format!("/api/v1/sync/{WORKSPACE}/experiments"),
    )
    .await;
    assert_eq!(listed.json()["experiments"][0]["experimentId"], "mine");
}
