//! The sync API on real databases: each case runs on SQLite (a file in a
//! temporary directory) and on PostgreSQL (a fresh database on the server
//! `cargo xtask test` starts), through the gateway's router in process, or
//! through the real binary where a process matters (killed mid-upload,
//! refusing to start).

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use clap::Parser;
use prompt_runs::model::{PromptRun, RunStatus, Timestamp};
use prompt_runs_gateway::history::open::{known_schema, Location};
use prompt_runs_gateway::{router, GatewayConfig, History, Settings};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::database::{on_both_engines, Engine, TestDatabase};
use support::process::{refused_start, GatewayProcess};
use support::{send, Answer};

on_both_engines!(
    uploaded_runs_come_back_as_they_were,
    uploading_the_same_batch_twice_changes_nothing,
    the_later_state_wins_whatever_the_order,
    deleted_runs_never_come_back,
    the_feed_comes_in_pages,
    the_feed_never_skips_a_commit_with_concurrent_writers_on_two_gateways,
    garbage_cursors_are_refused,
    an_invalid_run_is_refused_naming_it_and_nothing_is_stored,
    workspaces_are_named_plainly_and_kept_apart,
    uploads_are_json_up_to_16_mib_and_1000_items,
    a_newer_schema_is_refused_and_left_untouched,
    a_gateway_killed_mid_upload_loses_nothing_and_duplicates_nothing,
);

// ---- helpers ----

/// A gateway in process on `history`, without the per-minute limit (the
/// tests send hundreds of requests from one client).
fn app(history: History) -> Router {
    app_with(history, &[])
}

fn app_with(history: History, flags: &[&str]) -> Router {
    let mut args = vec!["gw"];
    if !flags.contains(&"--requests-per-minute") {
        args.extend(["--requests-per-minute", "0"]);
    }
    args.extend_from_slice(flags);
    let settings = Settings::from_config(GatewayConfig::parse_from(args));
    router(settings.expect("a usable configuration"), Some(history))
}

/// A run of `status`, completed at `completed_ms` (if at all).
fn run(id: &str, status: RunStatus, completed_ms: Option<i64>) -> PromptRun {
    let mut run = PromptRun::pending(id, "offline-echo", format!("prompt of {id}"));
    run.workspace_id = "team".to_owned();
    run.started_at = Timestamp::from_unix_millis(1_714_564_800_000);
    run.status = status;
    run.completed_at = completed_ms.map(|ms| Timestamp::from_unix_millis(1_714_564_800_000 + ms));
    if status == RunStatus::Success {
        run.output = Some(format!("answer of {id}"));
        run.total_tokens = Some(12);
    }
    run
}

fn tombstone(id: &str) -> Value {
    json!({"id": id, "deletedAt": "2024-05-01T12:30:00.000Z"})
}

async fn upload(app: &Router, workspace: &str, body: Value) -> Answer {
    upload_raw(app, workspace, "application/json", body.to_string()).await
}

async fn upload_raw(app: &Router, workspace: &str, content_type: &str, body: String) -> Answer {
    let request = Request::post(format!("/api/v1/sync/{workspace}/runs"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    send(app.clone(), request).await
}

/// Uploads `runs`, expecting 200; its `(accepted, unchanged)`.
async fn upload_runs(app: &Router, workspace: &str, runs: &[PromptRun]) -> (u64, u64) {
    let answer = upload(app, workspace, json!({ "runs": runs })).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let outcome = answer.json();
    (
        outcome["accepted"].as_u64().unwrap(),
        outcome["unchanged"].as_u64().unwrap(),
    )
}

async fn changes(app: &Router, workspace: &str, query: &str) -> Answer {
    let request = Request::get(format!("/api/v1/sync/{workspace}/changes?{query}"))
        .body(Body::empty())
        .unwrap();
    send(app.clone(), request).await
}

/// What a client following the feed from the beginning ends up with.
#[derive(Debug, Default, PartialEq)]
struct Synced {
    runs: HashMap<String, PromptRun>,
    deleted: HashSet<String>,
    cursor: String,
    /// Every id in the order read, to count repeats.
    read: Vec<String>,
}

impl Synced {
    /// Applies one page; whether more follow.
    fn apply(&mut self, page: &Value) -> bool {
        let mut on_this_page = HashSet::new();
        for change in page["changes"].as_array().expect("changes") {
            let id = if let Some(run) = change.get("run") {
                let run: PromptRun = serde_json::from_value(run.clone()).expect("a run");
                let id = run.id.clone();
                self.deleted.remove(&id);
                self.runs.insert(id.clone(), run);
                id
            } else {
                let id = change["deleted"]["id"]
                    .as_str()
                    .expect("a deleted id")
                    .to_owned();
                self.runs.remove(&id);
                self.deleted.insert(id.clone());
                id
            };
            assert!(on_this_page.insert(id.clone()), "{id} twice on one page");
            self.read.push(id);
        }
        self.cursor = page["cursor"].as_str().expect("a cursor").to_owned();
        page["more"].as_bool().expect("more")
    }
}

/// Follows the feed of `workspace` from `synced.cursor` until nothing more
/// follows, `limit` at a time.
async fn follow(app: &Router, workspace: &str, synced: &mut Synced, limit: usize) {
    loop {
        let page = changes(
            app,
            workspace,
            &format!("since={}&limit={limit}", synced.cursor),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        if !synced.apply(&page.json()) {
            return;
        }
    }
}

async fn read_all(app: &Router, workspace: &str) -> Synced {
    let mut synced = Synced::default();
    follow(app, workspace, &mut synced, 1_000).await;
    synced
}

// ---- the cases ----

async fn uploaded_runs_come_back_as_they_were(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let mut done = run("r1", RunStatus::Success, Some(1_843));
    done.metadata = json!({"batchId": "b1", "parameters": {"temperature": 0.5}})
        .as_object()
        .cloned();
    done.cost = Some(0.00389);
    done.output = Some("<b>not html</b> ünïcödé 🙂".to_owned());
    let runs = [
        done,
        run("r2", RunStatus::Running, None),
        run("r3", RunStatus::Error, Some(20)),
    ];
    assert_eq!(upload_runs(&app, "team", &runs).await, (3, 0));

    let synced = read_all(&app, "team").await;
    assert_eq!(synced.read, ["r1", "r2", "r3"], "in the order committed");
    for sent in &runs {
        assert_eq!(synced.runs[&sent.id], *sent);
    }
    // Byte for byte, as the crate writes it.
    let page = changes(&app, "team", "").await;
    assert_eq!(
        page.json()["changes"][0]["run"],
        serde_json::to_value(&runs[0]).unwrap()
    );
    assert_eq!(synced.cursor, "3");
    let nothing_new = changes(&app, "team", "since=3").await.json();
    assert_eq!(
        nothing_new,
        json!({"changes": [], "cursor": "3", "more": false})
    );
    let empty = changes(&app, "nobody-here", "").await.json();
    assert_eq!(empty, json!({"changes": [], "cursor": "0", "more": false}));
}

async fn uploading_the_same_batch_twice_changes_nothing(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let body = json!({
        "runs": [run("a", RunStatus::Success, Some(5)), run("b", RunStatus::Running, None)],
        "deleted": [tombstone("c")],
    });
    let first = upload(&app, "team", body.clone()).await.json();
    assert_eq!(first, json!({"accepted": 3, "unchanged": 0, "cursor": "3"}));
    let before = read_all(&app, "team").await;
    let again = upload(&app, "team", body).await.json();
    assert_eq!(again, json!({"accepted": 0, "unchanged": 3, "cursor": "3"}));
    assert_eq!(read_all(&app, "team").await, before);
}

async fn the_later_state_wins_whatever_the_order(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let pending = run("a", RunStatus::Pending, None);
    let running = run("a", RunStatus::Running, None);
    let cancelled = run("a", RunStatus::Cancelled, Some(10));
    let succeeded = run("a", RunStatus::Success, Some(30));

    assert_eq!(
        upload_runs(&app, "forward", std::slice::from_ref(&pending)).await,
        (1, 0)
    );
    assert_eq!(
        upload_runs(&app, "forward", std::slice::from_ref(&running)).await,
        (1, 0)
    );
    assert_eq!(
        upload_runs(&app, "forward", std::slice::from_ref(&cancelled)).await,
        (1, 0)
    );
    assert_eq!(
        upload_runs(&app, "forward", std::slice::from_ref(&succeeded)).await,
        (1, 0),
        "completed later"
    );
    assert_eq!(read_all(&app, "forward").await.runs["a"], succeeded);

    assert_eq!(
        upload_runs(&app, "backward", std::slice::from_ref(&succeeded)).await,
        (1, 0)
    );
    for older in [&cancelled, &running, &pending] {
        assert_eq!(
            upload_runs(&app, "backward", std::slice::from_ref(older)).await,
            (0, 1),
            "{older:?}"
        );
    }
    let synced = read_all(&app, "backward").await;
    assert_eq!(synced.runs["a"], succeeded);
    assert_eq!(synced.cursor, "1", "unchanged uploads commit no change");
}

async fn deleted_runs_never_come_back(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    upload_runs(
        &app,
        "team",
        &[
            run("kept", RunStatus::Success, Some(1)),
            run("gone", RunStatus::Running, None),
        ],
    )
    .await;
    let mut synced = read_all(&app, "team").await;
    let deleted = upload(
        &app,
        "team",
        json!({"deleted": [tombstone("gone"), tombstone("never-seen")]}),
    )
    .await;
    assert_eq!(
        deleted.json()["accepted"],
        2,
        "an unknown id gets a tombstone too"
    );

    // A browser that still held the run uploads a later state of it.
    let comeback = upload(
        &app,
        "team",
        json!({"runs": [run("gone", RunStatus::Success, Some(99))]}),
    )
    .await;
    assert_eq!(comeback.json()["unchanged"], 1);
    let again = upload(&app, "team", json!({"deleted": [tombstone("gone")]})).await;
    assert_eq!(again.json()["unchanged"], 1);

    follow(&app, "team", &mut synced, 10).await;
    assert_eq!(synced.runs.keys().collect::<Vec<_>>(), ["kept"]);
    assert_eq!(
        synced.deleted,
        HashSet::from(["gone".to_owned(), "never-seen".to_owned()])
    );
    let page = changes(&app, "team", "").await.json();
    assert_eq!(
        page["changes"][2],
        json!({"deleted": {"id": "never-seen", "deletedAt": "2024-05-01T12:30:00.000Z"}})
    );
}

async fn the_feed_comes_in_pages(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let runs: Vec<PromptRun> = (0..25)
        .map(|n| run(&format!("r{n:02}"), RunStatus::Running, None))
        .collect();
    upload_runs(&app, "team", &runs).await;

    let first = changes(&app, "team", "limit=10").await.json();
    assert_eq!(first["changes"].as_array().unwrap().len(), 10);
    assert_eq!(
        (first["cursor"].as_str(), first["more"].as_bool()),
        (Some("10"), Some(true))
    );
    let second = changes(&app, "team", "since=10&limit=10").await.json();
    assert_eq!(second["changes"][0]["run"]["id"], "r10");
    assert_eq!(second["more"], true);
    let third = changes(&app, "team", "since=20&limit=10").await.json();
    assert_eq!(third["changes"].as_array().unwrap().len(), 5);
    assert_eq!(
        (third["cursor"].as_str(), third["more"].as_bool()),
        (Some("25"), Some(false))
    );
    let exact = changes(&app, "team", "since=15&limit=10").await.json();
    assert_eq!(exact["more"], false, "exactly the last ten: nothing more");

    // A run changed again moves to the end, once, with its latest state.
    let finished = run("r03", RunStatus::Success, Some(7));
    upload_runs(&app, "team", std::slice::from_ref(&finished)).await;
    let later = changes(&app, "team", "since=25").await.json();
    assert_eq!(later["changes"], json!([{"run": finished}]));
    let from_start = read_all(&app, "team").await;
    assert_eq!(from_start.read.len(), 25, "each id once");
    assert_eq!(from_start.read.last().map(String::as_str), Some("r03"));

    let default = changes(&app, "team", "").await.json();
    assert_eq!(
        default["changes"].as_array().unwrap().len(),
        25,
        "500 by default"
    );
    for bad in ["limit=0", "limit=-1", "limit=ten"] {
        let refused = changes(&app, "team", bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            refused.detail().contains("from 1 to 1000"),
            "{}",
            refused.detail()
        );
    }
    let capped = changes(&app, "team", "limit=5000").await;
    assert_eq!(
        capped.status,
        StatusCode::OK,
        "more than 1,000 is read as 1,000"
    );
}

async fn the_feed_never_skips_a_commit_with_concurrent_writers_on_two_gateways(engine: Engine) {
    const WRITERS: usize = 8;
    const BATCHES: usize = 6;
    const RUNS: usize = 5;
    let db = TestDatabase::new(engine).await;
    // Two pools on one database: two gateways.
    let gateways = [app(db.open().await), app(db.open().await)];
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let app = gateways[writer % 2].clone();
            tokio::spawn(async move {
                for batch in 0..BATCHES {
                    let ids: Vec<String> = (0..RUNS)
                        .map(|n| format!("w{writer}-b{batch}-{n}"))
                        .collect();
                    let running: Vec<_> = ids
                        .iter()
                        .map(|id| run(id, RunStatus::Running, None))
                        .collect();
                    let done: Vec<_> = ids
                        .iter()
                        .map(|id| run(id, RunStatus::Success, Some(5)))
                        .collect();
                    // Each run's last change is its success: a reader that
                    // skipped that commit would never see it.
                    assert_eq!(upload_runs(&app, "busy", &running).await, (RUNS as u64, 0));
                    assert_eq!(upload_runs(&app, "busy", &done).await, (RUNS as u64, 0));
                }
            })
        })
        .collect();
    let mut synced = Synced::default();
    let mut pages = 0;
    let mut turn = 0;
    while writers.iter().any(|writer| !writer.is_finished()) {
        let previous: i64 = synced.cursor.parse().unwrap_or(0);
        follow(&gateways[turn % 2], "busy", &mut synced, 7).await;
        turn += 1;
        pages += 1;
        assert!(
            synced.cursor.parse::<i64>().unwrap() >= previous,
            "the cursor never goes back"
        );
    }
    for writer in writers {
        writer.await.expect("a writer finished");
    }
    follow(&gateways[0], "busy", &mut synced, 7).await;
    assert!(
        pages > 1,
        "the reader followed the feed while it was written"
    );
    assert_eq!(synced.runs.len(), WRITERS * BATCHES * RUNS);
    let unfinished: Vec<_> = synced
        .runs
        .values()
        .filter(|run| run.status != RunStatus::Success)
        .map(|run| run.id.clone())
        .collect();
    assert!(
        unfinished.is_empty(),
        "the reader missed the last change of {unfinished:?}"
    );
    assert_eq!(synced.cursor, (WRITERS * BATCHES * RUNS * 2).to_string());
}

async fn garbage_cursors_are_refused(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    upload_runs(&app, "team", &[run("a", RunStatus::Running, None)]).await;
    for garbage in ["abc", "-1", "1.0", "01", "%20", "99999999999999999999999"] {
        let refused = changes(&app, "team", &format!("since={garbage}")).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{garbage}: {}",
            refused.body
        );
        assert!(
            refused.detail().contains("not a cursor this server issued"),
            "{}",
            refused.detail()
        );
    }
    let ahead = changes(&app, "team", "since=2").await;
    assert_eq!(ahead.status, StatusCode::BAD_REQUEST);
    assert!(
        ahead.detail().contains("ahead of this workspace's changes"),
        "{}",
        ahead.detail()
    );
    assert_eq!(
        changes(&app, "team", "since=1").await.status,
        StatusCode::OK
    );
}

async fn an_invalid_run_is_refused_naming_it_and_nothing_is_stored(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let mut bad = serde_json::to_value(run("b", RunStatus::Success, Some(1))).unwrap();
    bad["status"] = json!("finished");
    let body =
        json!({"runs": [run("a", RunStatus::Success, Some(1)), bad], "deleted": [tombstone("c")]});
    let refused = upload(&app, "team", body).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .detail()
            .starts_with("runs[1]: unknown variant `finished`")
            && refused
                .detail()
                .ends_with("nothing of this upload was stored"),
        "{}",
        refused.detail()
    );
    let bad_deletion = upload(&app, "team", json!({"runs": [run("a", RunStatus::Success, Some(1))], "deleted": [{"id": "c", "deletedAt": "soon"}]})).await;
    assert_eq!(bad_deletion.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad_deletion
            .detail()
            .starts_with("deleted[0]: deletedAt \"soon\""),
        "{}",
        bad_deletion.detail()
    );
    let malformed = upload_raw(&app, "team", "application/json", "{\"runs\": [".to_owned()).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.detail().starts_with("malformed JSON"),
        "{}",
        malformed.detail()
    );

    assert_eq!(
        read_all(&app, "team").await,
        Synced {
            cursor: "0".to_owned(),
            ..Synced::default()
        }
    );
}

async fn workspaces_are_named_plainly_and_kept_apart(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    upload_runs(&app, "alpha", &[run("a", RunStatus::Running, None)]).await;
    upload_runs(&app, "beta.2_x-y", &[run("b", RunStatus::Running, None)]).await;
    assert_eq!(read_all(&app, "alpha").await.read, ["a"]);
    assert_eq!(read_all(&app, "beta.2_x-y").await.read, ["b"]);
    let long = "w".repeat(65);
    for bad in ["a%20b", "%C3%A9t%C3%A9", "a;b", long.as_str()] {
        let refused = upload(&app, bad, json!({"runs": []})).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            refused.detail().contains("is not a workspace name"),
            "{}",
            refused.detail()
        );
        assert_eq!(
            changes(&app, bad, "").await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        upload(&app, &"w".repeat(64), json!({})).await.status,
        StatusCode::OK
    );
}

async fn uploads_are_json_up_to_16_mib_and_1000_items(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let refused = upload_raw(&app, "team", "text/plain", json!({"runs": []}).to_string()).await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        refused.detail().contains("Content-Type: application/json"),
        "{}",
        refused.detail()
    );

    // Over the rest of the API's 1 MiB, within this route's 16 MiB.
    let mut big = run("big", RunStatus::Success, Some(1));
    big.output = Some("x".repeat(3 * 1024 * 1024));
    assert_eq!(upload_runs(&app, "team", &[big.clone()]).await, (1, 0));
    assert_eq!(read_all(&app, "team").await.runs["big"], big);
    let mut huge = big;
    huge.output = Some("x".repeat(17 * 1024 * 1024));
    let too_big = upload(&app, "team", json!({"runs": [huge]})).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        too_big.detail().contains("16777216 bytes"),
        "{}",
        too_big.detail()
    );

    let many: Vec<Value> = (0..1_001).map(|n| tombstone(&format!("t{n}"))).collect();
    let too_many = upload(&app, "team", json!({"deleted": many[..1_001]})).await;
    assert_eq!(too_many.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        too_many.detail().contains("at most 1000"),
        "{}",
        too_many.detail()
    );
    let most = upload(&app, "team", json!({"deleted": many[..1_000]})).await;
    assert_eq!(most.json()["accepted"], 1_000);
}

async fn a_newer_schema_is_refused_and_left_untouched(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let history = db.open().await;
    upload_runs(
        &app(history.clone()),
        "team",
        &[run("a", RunStatus::Success, Some(1))],
    )
    .await;
    history.close().await;
    // What a newer gateway would have recorded.
    let mut connection = db.connect().await;
    let newer = known_schema() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer gateway', TRUE, $2, 0)",
    )
    .bind(newer)
    .bind(vec![0u8; 48])
    .execute(&mut connection)
    .await
    .unwrap();
    let before = snapshot(&mut connection).await;

    let Err(refused) = db.open_within(Duration::from_secs(5)).await else {
        panic!("a database of schema {newer} was opened");
    };
    let expected = format!(
        "was upgraded by a newer prompt-runs gateway (schema {newer}, this one knows {}); use that version or another database",
        known_schema()
    );
    assert!(refused.contains(&expected), "{refused}");
    assert!(refused.contains(&db.location.shown()), "{refused}");

    let (code, stderr) = refused_start(&db.flags());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&expected), "{stderr}");

    assert_eq!(
        snapshot(&mut connection).await,
        before,
        "the database was not altered"
    );
}

/// Everything the gateway keeps, as text, to compare before and after.
async fn snapshot(connection: &mut sqlx::AnyConnection) -> Vec<String> {
    use sqlx::Row;
    let mut rows = Vec::new();
    for (table, columns) in [
        ("_sqlx_migrations", "version, description"),
        ("sync_counter", "workspace, last_seq"),
        ("sync_runs", "workspace, id, seq, run, deleted_at"),
    ] {
        let sql = format!("SELECT {columns} FROM {table} ORDER BY 1, 2");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *connection)
            .await
            .unwrap()
        {
            let cells: Vec<String> = (0..row.len())
                .map(|index| {
                    row.try_get::<Option<String>, _>(index)
                        .map(|text| text.unwrap_or_default())
                        .or_else(|_| {
                            row.try_get::<i64, _>(index)
                                .map(|number| number.to_string())
                        })
                        .unwrap()
                })
                .collect();
            rows.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    rows
}

async fn a_gateway_killed_mid_upload_loses_nothing_and_duplicates_nothing(engine: Engine) {
    const WRITERS: usize = 4;
    const BATCHES: usize = 6;
    const RUNS: usize = 100;
    let db = TestDatabase::new(engine).await;
    let batches: Vec<Vec<PromptRun>> = (0..WRITERS * BATCHES)
        .map(|batch| {
            (0..RUNS)
                .map(|n| {
                    let mut run = run(&format!("b{batch}-{n}"), RunStatus::Success, Some(n as i64));
                    run.output = Some("words of an answer ".repeat(50));
                    run
                })
                .collect()
        })
        .collect();
    let gateway = GatewayProcess::start(&db.flags());
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/sync/team/runs", gateway.url);
    let (acknowledged_tx, mut acknowledged) = tokio::sync::mpsc::unbounded_channel();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (http, url, acknowledged) = (http.clone(), url.clone(), acknowledged_tx.clone());
            let mine: Vec<(usize, Vec<PromptRun>)> = (0..BATCHES)
                .map(|n| writer * BATCHES + n)
                .map(|batch| (batch, batches[batch].clone()))
                .collect();
            tokio::spawn(async move {
                for (batch, runs) in mine {
                    match http.post(&url).json(&json!({ "runs": runs })).send().await {
                        Ok(answer) if answer.status() == 200 => {
                            let _ = acknowledged.send(batch);
                        }
                        Ok(answer) => panic!("batch {batch}: {}", answer.status()),
                        Err(_) => return, // the gateway is gone
                    }
                }
            })
        })
        .collect();
    // Kill it once uploads are under way: the others are in flight.
    let first = tokio::time::timeout(Duration::from_secs(30), acknowledged.recv())
        .await
        .expect("an upload finished")
        .unwrap();
    gateway.kill();
    for writer in writers {
        writer.await.expect("a writer ended");
    }
    drop(acknowledged_tx);
    let mut acked = vec![first];
    while let Some(batch) = acknowledged.recv().await {
        acked.push(batch);
    }
    assert!(
        acked.len() < WRITERS * BATCHES,
        "the kill came before the end"
    );

    let restarted = GatewayProcess::start(&db.flags());
    let url = format!("{}/api/v1/sync/team/runs", restarted.url);
    let feed = format!("{}/api/v1/sync/team/changes", restarted.url);
    let read = |http: reqwest::Client, feed: String| async move {
        let mut synced = Synced::default();
        loop {
            let page: Value = http
                .get(&feed)
                .query(&[("since", synced.cursor.as_str()), ("limit", "1000")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !synced.apply(&page) {
                return synced;
            }
        }
    };
    let after_crash = read(http.clone(), feed.clone()).await;
    for batch in &acked {
        for run in &batches[*batch] {
            assert_eq!(
                after_crash.runs.get(&run.id),
                Some(run),
                "acknowledged, then lost"
            );
        }
    }
    // A batch is whole or absent: one transaction each.
    for (batch, runs) in batches.iter().enumerate() {
        let present = runs
            .iter()
            .filter(|run| after_crash.runs.contains_key(&run.id))
            .count();
        assert!(
            present == 0 || present == RUNS,
            "batch {batch} is {present}/{RUNS} stored"
        );
    }

    for runs in &batches {
        let answer = http
            .post(&url)
            .json(&json!({ "runs": runs }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let outcome: Value = answer.json().await.unwrap();
        assert_eq!(
            outcome["accepted"].as_u64().unwrap() + outcome["unchanged"].as_u64().unwrap(),
            RUNS as u64
        );
    }
    let complete = read(http, feed).await;
    assert_eq!(
        complete.read.len(),
        WRITERS * BATCHES * RUNS,
        "each run once"
    );
    for runs in &batches {
        for run in runs {
            assert_eq!(complete.runs.get(&run.id), Some(run));
        }
    }
}

// ---- on one engine, or none ----

/// A copy of a run, or its deletion, as one client holds it.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // a few dozen per case
enum Item {
    Copy(PromptRun),
    Delete(String),
}

/// Copies of up to three runs (each at distinct points along the status
/// flow, so the rule orders them), some deleted, spread over two clients
/// that upload them in batches, in any order, interleaved any way.
fn two_clients() -> impl Strategy<Value = (Vec<Item>, Vec<Item>, Vec<bool>, Vec<bool>)> {
    let finished = [RunStatus::Success, RunStatus::Error, RunStatus::Cancelled];
    let one_run = (
        proptest::collection::vec(any::<bool>(), 5),
        proptest::collection::vec(0..3usize, 3),
        proptest::bool::weighted(0.25),
    );
    proptest::collection::vec(one_run, 1..=3)
        .prop_map(move |runs| {
            let mut items = Vec::new();
            for (index, (held, statuses, deleted)) in runs.into_iter().enumerate() {
                let id = format!("run-{index}");
                let stages = [
                    (RunStatus::Pending, None),
                    (RunStatus::Running, None),
                    (finished[statuses[0]], Some(10)),
                    (finished[statuses[1]], Some(20)),
                    (finished[statuses[2]], Some(30)),
                ];
                for ((status, completed), held) in stages.into_iter().zip(held) {
                    if held {
                        items.push(Item::Copy(run(&id, status, completed)));
                    }
                }
                if deleted {
                    items.push(Item::Delete(id));
                }
            }
            items
        })
        .prop_flat_map(|items| {
            let count = items.len();
            (
                Just(items).prop_shuffle(),
                proptest::collection::vec(any::<bool>(), count),
                proptest::collection::vec(any::<bool>(), count),
                proptest::collection::vec(any::<bool>(), count * 2),
            )
        })
        .prop_map(|(items, client_b, cuts, interleaving)| {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for (item, in_b) in items.into_iter().zip(client_b) {
                if in_b {
                    b.push(item)
                } else {
                    a.push(item)
                }
            }
            (a, b, cuts, interleaving)
        })
}

/// A client's items as upload bodies: a batch ends where `cuts` says.
fn batches(items: &[Item], cuts: &[bool]) -> Vec<Value> {
    let mut bodies = Vec::new();
    let (mut runs, mut deleted) = (Vec::new(), Vec::new());
    for (index, item) in items.iter().enumerate() {
        match item {
            Item::Copy(run) => runs.push(serde_json::to_value(run).unwrap()),
            Item::Delete(id) => deleted.push(tombstone(id)),
        }
        if cuts[index] || index + 1 == items.len() {
            bodies.push(json!({"runs": runs, "deleted": deleted}));
            (runs, deleted) = (Vec::new(), Vec::new());
        }
    }
    bodies
}

/// Every copy merged by the crate's rule, every deletion kept: what the
/// server must end with, in whatever order the uploads came.
fn merged(items: &[Item]) -> (HashMap<String, PromptRun>, HashSet<String>) {
    let deleted: HashSet<String> = items
        .iter()
        .filter_map(|item| match item {
            Item::Delete(id) => Some(id.clone()),
            Item::Copy(_) => None,
        })
        .collect();
    let mut runs: HashMap<String, PromptRun> = HashMap::new();
    for item in items {
        if let Item::Copy(copy) = item {
            let best = runs.entry(copy.id.clone()).or_insert_with(|| copy.clone());
            if copy.supersedes(best) {
                *best = copy.clone();
            }
        }
    }
    runs.retain(|id, _| !deleted.contains(id));
    (runs, deleted)
}

fn any_interleaving_of_two_clients_converges(engine: Engine) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDatabase::new(engine));
    let app = app(runtime.block_on(db.open()));
    let case = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 32,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    });
    runner
        .run(&two_clients(), |(a, b, cuts, interleaving)| {
            // Each case in a workspace of its own.
            let workspace = format!(
                "case-{}",
                case.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let (uploads_a, uploads_b) =
                (batches(&a, &cuts[..a.len()]), batches(&b, &cuts[a.len()..]));
            let (mut next_a, mut next_b) = (0, 0);
            let mut order = interleaving.into_iter();
            runtime.block_on(async {
                while next_a < uploads_a.len() || next_b < uploads_b.len() {
                    let a_next = order.next().unwrap_or(true);
                    let body = if (a_next && next_a < uploads_a.len()) || next_b == uploads_b.len()
                    {
                        next_a += 1;
                        uploads_a[next_a - 1].clone()
                    } else {
                        next_b += 1;
                        uploads_b[next_b - 1].clone()
                    };
                    let answer = upload(&app, &workspace, body).await;
                    prop_assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
                }
                let synced = read_all(&app, &workspace).await;
                let all: Vec<Item> = a.iter().chain(&b).cloned().collect();
                let (runs, deleted) = merged(&all);
                prop_assert_eq!(synced.runs, runs);
                prop_assert_eq!(synced.deleted, deleted);
                Ok(())
            })
        })
        .unwrap();
}

mod convergence {
    #[test]
    fn sqlite() {
        super::any_interleaving_of_two_clients_converges(super::Engine::Sqlite);
    }

    #[test]
    fn postgres() {
        super::any_interleaving_of_two_clients_converges(super::Engine::Postgres);
    }
}

/// A TCP relay to the tests' PostgreSQL, which the test cuts (connections
/// dropped, the port closed: as a server that stopped) and restores.
struct Relay {
    port: u16,
    accepting: tokio::task::JoinHandle<()>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    /// Relays `port` (0: any free one) on loopback to `target`.
    async fn start(port: u16, target: SocketAddr) -> Relay {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => break listener,
                // The cut relay's port may not be released yet.
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(error) => panic!("cannot relay port {port}: {error}"),
            }
        };
        let port = listener.local_addr().unwrap().port();
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accepting = tokio::spawn({
            let links = links.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Relay {
            port,
            accepting,
            links,
        }
    }

    /// Closes the port and every connection through it.
    async fn cut(self) {
        self.accepting.abort();
        let _ = self.accepting.await;
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_out_of_reach_is_a_503_the_rest_works_and_sync_resumes() {
    let db = TestDatabase::new(Engine::Postgres).await;
    let Location::Postgres(direct) = &db.location else {
        unreachable!()
    };
    let mut url = url::Url::parse(direct).unwrap();
    let target: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
        .parse()
        .unwrap();
    let relay = Relay::start(0, target).await;
    url.set_port(Some(relay.port)).unwrap();
    let history = History::open_at(&Location::Postgres(url.to_string()), Duration::from_secs(1))
        .await
        .unwrap();
    let app = app(history);
    upload_runs(&app, "team", &[run("before", RunStatus::Success, Some(1))]).await;

    let port = relay.port;
    relay.cut().await;
    let (up, down) = tokio::join!(
        upload(
            &app,
            "team",
            json!({"runs": [run("during", RunStatus::Success, Some(2))]})
        ),
        changes(&app, "team", "")
    );
    for answer in [&up, &down] {
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.body
        );
        assert!(
            answer
                .detail()
                .contains("the history database cannot be reached or is busy")
                && answer.detail().contains(&format!("127.0.0.1:{port}")),
            "{}",
            answer.detail()
        );
        assert_eq!(answer.headers[header::RETRY_AFTER], "5");
    }
    assert!(
        up.detail().contains("nothing was changed: try again later"),
        "{}",
        up.detail()
    );
    for path in ["/api/v1/health", "/api/v1/models"] {
        assert_eq!(
            support::get(app.clone(), path).await.status,
            StatusCode::OK,
            "{path}"
        );
    }

    let _relay = Relay::start(port, target).await;
    let after = run("after", RunStatus::Success, Some(3));
    let mut answer = upload(&app, "team", json!({"runs": [after]})).await;
    for _ in 0..50 {
        if answer.status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = upload(
            &app,
            "team",
            json!({"runs": [run("after", RunStatus::Success, Some(3))]}),
        )
        .await;
    }
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let synced = read_all(&app, "team").await;
    assert_eq!(
        synced.read,
        ["before", "after"],
        "the upload refused during the outage left nothing"
    );
}

#[tokio::test]
async fn the_sync_api_is_behind_the_gateways_access_rules() {
    let db = TestDatabase::new(Engine::Sqlite).await;
    let history = db.open().await;
    let guarded = app_with(history.clone(), &["--token", "s3cret"]);
    let request = |token: Option<&str>| {
        let mut request = Request::get("/api/v1/sync/team/changes");
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        request.body(Body::empty()).unwrap()
    };
    assert_eq!(
        send(guarded.clone(), request(None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(guarded.clone(), request(Some("wrong"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(guarded, request(Some("s3cret"))).await.status,
        StatusCode::OK
    );

    let open = app(history.clone());
    let from_evil = Request::post("/api/v1/sync/team/runs")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"runs": [run("a", RunStatus::Running, None)]}).to_string(),
        ))
        .unwrap();
    assert_eq!(
        send(open.clone(), from_evil).await.status,
        StatusCode::FORBIDDEN
    );
    let rebinding = Request::get("/api/v1/sync/team/changes")
        .header(header::HOST, "evil.example:8000")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(open.clone(), rebinding).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        read_all(&open, "team").await.read.is_empty(),
        "nothing stored"
    );

    let limited = app_with(history, &["--requests-per-minute", "1"]);
    assert_eq!(changes(&limited, "team", "").await.status, StatusCode::OK);
    assert_eq!(
        changes(&limited, "team", "").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[test]
fn a_database_that_cannot_be_opened_stops_the_gateway_at_start() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://prompt:hunter2@127.0.0.1:{closed_port}/runs");
    let (code, stderr) = refused_start(&[
        "--database-url".into(),
        url,
        "--database-timeout".into(),
        "2".into(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot open the history database at postgres://prompt:***@127.0.0.1:{closed_port}/runs")),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");

    let (code, stderr) = refused_start(&["--database-url".into(), "mysql://db/runs".into()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("only PostgreSQL URLs"), "{stderr}");

    // A bad flag is refused before the database is touched.
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("never-created");
    let (code, stderr) = refused_start(&[
        "--data-dir".into(),
        data.display().to_string(),
        "--allow-origin".into(),
        "not-an-origin".into(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--allow-origin not-an-origin is not an origin"),
        "{stderr}"
    );
    assert!(!data.exists(), "a refused start created {}", data.display());

    let file = tempfile::NamedTempFile::new().unwrap();
    let (code, stderr) = refused_start(&[
        "--data-dir".into(),
        file.path().join("sub").display().to_string(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot create the data directory"),
        "{stderr}"
    );
}
