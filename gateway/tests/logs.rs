//! What the gateway logs and what it answers when it fails inside: one log
//! line per request (its id, route, status and latency, never its query
//! string), and the history database's failures answered in words, without
//! the SQLite file's path or a database code (issue #21 saw `…/history.sqlite3:
//! error returned from database: (code: 5) database is locked` in a
//! browser), while the log keeps the details. On a real SQLite file, locked
//! by a second connection as another process would lock it.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use clap::Parser;
use prompt_runs::model::{PromptRun, RunStatus};
use prompt_runs_gateway::history::open::Location;
use prompt_runs_gateway::{router, GatewayConfig, History, Settings};
use serde_json::json;
use support::database::{Engine, TestDatabase};
use support::logs::Captured;
use support::{send, Answer};

fn app(history: Option<History>) -> Router {
    let config = GatewayConfig::parse_from(["gw", "--requests-per-minute", "0"]);
    router(Settings::from_config(config).unwrap(), history)
}

async fn get(app: Router, path: &str) -> Answer {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn each_request_is_logged_with_its_id_route_status_and_latency_but_not_its_query() {
    let logs = Captured::default();
    let _capturing = logs.start(tracing::Level::INFO);
    let app = app(None);
    assert_eq!(
        get(app.clone(), "/api/v1/models?token=secret-in-the-query")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(app, "/api/v1/nothing-here").await.status,
        StatusCode::NOT_FOUND
    );

    let models = logs.answered("/api/v1/models");
    assert_eq!(models.len(), 1, "one line per request: {}", logs.text());
    let line = &models[0];
    for field in [
        "INFO",
        "request{id=",
        "method=GET",
        "status=200",
        "latency_ms=",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let unknown = logs.answered("/api/v1/nothing-here");
    assert_eq!(unknown.len(), 1, "{}", logs.text());
    assert!(unknown[0].contains("status=404"), "{}", unknown[0]);
    let id = |line: &str| {
        let at = line.find("id=").unwrap() + 3;
        line[at..].split(' ').next().unwrap().to_owned()
    };
    assert_ne!(id(line), id(&unknown[0]), "each request its own id");
    assert!(
        !logs.text().contains("secret-in-the-query"),
        "the query is never logged: {}",
        logs.text()
    );
}

fn run_json(id: &str) -> serde_json::Value {
    let mut run = PromptRun::pending(id, "offline-echo", "a prompt");
    run.workspace_id = "team".to_owned();
    run.status = RunStatus::Success;
    run.output = Some("an answer".to_owned());
    json!({"runs": [run]})
}

async fn upload(app: &Router, id: &str) -> Answer {
    let request = Request::post("/api/v1/sync/team/runs")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(run_json(id).to_string()))
        .unwrap();
    send(app.clone(), request).await
}

/// `answer` names no file and no database code; the log has what it hides.
fn in_words(answer: &Answer, database: &TestDatabase, logged: &str, hidden: &str) {
    let Location::Sqlite(path) = &database.location else {
        unreachable!()
    };
    let dir = path.parent().unwrap().display().to_string();
    let detail = answer.detail();
    for leak in [
        dir.as_str(),
        "history.sqlite3",
        "code",
        "error returned from database",
        hidden,
    ] {
        assert!(
            !answer.body.contains(leak),
            "{leak:?} in the answer: {}",
            answer.body
        );
    }
    assert!(
        logged.contains(&dir) && logged.contains(hidden),
        "the log has the details: {logged}"
    );
    assert!(
        logged.contains("ERROR"),
        "a failure inside is logged as an error: {logged}"
    );
    assert!(!detail.is_empty());
}

#[tokio::test]
async fn a_locked_sqlite_database_is_answered_503_in_words_and_the_path_stays_in_the_log() {
    let database = TestDatabase::new(Engine::Sqlite).await;
    let app = app(Some(database.open().await));
    assert_eq!(upload(&app, "r1").await.status, StatusCode::OK);

    // Another writer holds SQLite's one write lock, past the busy timeout.
    let mut other = database.connect().await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let logs = Captured::default();
    let capturing = logs.start(tracing::Level::INFO);
    let busy = upload(&app, "r2").await;
    drop(capturing);
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();

    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        busy.body
    );
    assert!(busy.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(
        busy.detail(),
        "the history database cannot be reached or is busy; nothing was changed: try again later"
    );
    in_words(&busy, &database, &logs.text(), "database is locked");
    assert_eq!(
        upload(&app, "r2").await.status,
        StatusCode::OK,
        "lock released, it works again"
    );
}

#[tokio::test]
async fn a_failing_sqlite_database_is_answered_500_in_words_and_the_path_stays_in_the_log() {
    let database = TestDatabase::new(Engine::Sqlite).await;
    let app = app(Some(database.open().await));
    // The runs' table gone behind the gateway's back: every query fails.
    let mut other = database.connect().await;
    sqlx::query("DROP TABLE sync_runs")
        .execute(&mut other)
        .await
        .unwrap();
    let logs = Captured::default();
    let capturing = logs.start(tracing::Level::INFO);
    let failed = upload(&app, "r1").await;
    drop(capturing);

    assert_eq!(
        failed.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        failed.body
    );
    assert!(
        failed
            .detail()
            .starts_with("the history database failed while ")
            && failed
                .detail()
                .ends_with("; nothing was changed, and the gateway's log has the details"),
        "{}",
        failed.detail()
    );
    in_words(&failed, &database, &logs.text(), "no such table");
}
