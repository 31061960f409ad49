//! A team's history (issue #25), on real databases: each case on SQLite (a
//! file in a temporary directory) and on PostgreSQL (a fresh database on the
//! server `cargo xtask test` starts), through the gateway's router in
//! process. The changes pushed as Server-Sent Events: a stream cut mid-way
//! resumes without a gap or a duplicate, and a commit through one gateway
//! reaches a stream on another. A trash: a deleted run is restorable until
//! the trash is emptied or expires, and its marks merge the same in any
//! order. Who did it: per-person tokens record the author of each run,
//! judgement and trashing (never what the upload claims), the shared token
//! still works as no one in particular, and a revoked token gets 401.
//! Backups: one taken while uploads go on restores a consistent history
//! (every upload whole or not at all) that serves the same runs, trash and
//! feed numbers.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use clap::Parser;
use http_body_util::BodyExt;
use prompt_runs::api::{SseDecoder, SseEvent};
use prompt_runs::model::{PromptRun, RunStatus, Timestamp};
use prompt_runs_gateway::{router, GatewayConfig, History, Settings};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use support::database::{on_both_engines, Engine, TestDatabase};
use support::{send, Answer};
use tower::ServiceExt;

on_both_engines!(
    a_stream_sends_the_backlog_then_each_commit_as_it_happens,
    a_stream_cut_mid_way_resumes_without_a_gap_or_a_duplicate,
    a_bad_cursor_is_refused_before_the_stream_starts,
    a_trashed_run_is_kept_restorable_until_the_trash_is_emptied,
    trash_marks_end_the_same_whatever_order_they_came_in,
    the_trash_empties_itself_of_what_expired,
    each_person_is_recorded_as_author_judge_and_trasher_and_a_revoked_token_gets_401,
    a_backup_taken_under_load_restores_the_same_history,
);

// ---- helpers ----

/// A gateway in process on `history`, without the per-minute limit.
fn app(history: History) -> Router {
    app_with(history, &[])
}

fn app_with(history: History, flags: &[&str]) -> Router {
    let mut args = vec!["gw", "--requests-per-minute", "0"];
    args.extend_from_slice(flags);
    let settings = Settings::from_config(GatewayConfig::parse_from(args));
    router(settings.expect("a usable configuration"), Some(history))
}

fn run(id: &str, status: RunStatus, completed_ms: Option<i64>) -> PromptRun {
    let mut run = PromptRun::pending(id, "offline-echo", format!("prompt of {id}"));
    run.started_at = Timestamp::from_unix_millis(1_714_564_800_000);
    run.status = status;
    run.completed_at = completed_ms.map(|ms| Timestamp::from_unix_millis(1_714_564_800_000 + ms));
    run
}

async fn upload(app: &Router, workspace: &str, body: Value) -> Answer {
    let request = Request::post(format!("/api/v1/sync/{workspace}/runs"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app.clone(), request).await
}

async fn upload_runs(app: &Router, workspace: &str, runs: &[PromptRun]) {
    let answer = upload(app, workspace, json!({ "runs": runs })).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// An open change stream, read event by event.
struct Stream {
    body: Body,
    decoder: SseDecoder,
    events: VecDeque<SseEvent>,
    /// Everything received, to check the `id:` lines.
    raw: String,
}

/// How long a test waits for an event before it fails: far beyond what a
/// commit takes to arrive, short enough to fail rather than hang.
const PATIENCE: Duration = Duration::from_secs(20);

impl Stream {
    /// Opens the stream of `workspace` with `query` and `headers`.
    async fn open(app: &Router, workspace: &str, query: &str, headers: &[(&str, &str)]) -> Stream {
        let answer = Stream::request(app, workspace, query, headers).await;
        let response = answer.expect("the stream opens");
        Stream {
            body: response.into_body(),
            decoder: SseDecoder::new(),
            events: VecDeque::new(),
            raw: String::new(),
        }
    }

    /// The answer to a stream request: the response when it is a stream,
    /// else the refusal, read whole.
    async fn request(
        app: &Router,
        workspace: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<axum::response::Response, Answer> {
        let mut request = Request::get(format!("/api/v1/sync/{workspace}/changes?{query}"))
            .header(header::ACCEPT, "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/event-stream"
            );
            return Ok(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Err(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// The next event (comments are not events); fails after [`PATIENCE`],
    /// heartbeats or not.
    async fn next(&mut self) -> SseEvent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .expect("an event within the patience of the test")
                .expect("the stream goes on")
                .expect("a frame");
            if let Ok(data) = frame.into_data() {
                self.raw.push_str(&String::from_utf8_lossy(&data));
                self.events.extend(self.decoder.push(&data).unwrap());
            }
        }
    }

    /// The next page of changes.
    async fn page(&mut self) -> Value {
        let event = self.next().await;
        assert_eq!(event.event, "changes", "{event:?}");
        serde_json::from_str(&event.data).unwrap()
    }
}

/// The ids and statuses of a page's changes, in order.
fn states(page: &Value) -> Vec<(String, String)> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| match change.get("run") {
            Some(run) => (
                run["id"].as_str().unwrap().to_owned(),
                run["status"].as_str().unwrap().to_owned(),
            ),
            None => (
                change["deleted"]["id"].as_str().unwrap().to_owned(),
                "deleted".to_owned(),
            ),
        })
        .collect()
}

async fn changes(app: &Router, workspace: &str) -> Value {
    let request = Request::get(format!("/api/v1/sync/{workspace}/changes"))
        .body(Body::empty())
        .unwrap();
    let answer = send(app.clone(), request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()
}

/// The one change the feed holds for `id`.
async fn change_of(app: &Router, workspace: &str, id: &str) -> Value {
    let page = changes(app, workspace).await;
    let found: Vec<&Value> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| {
            [&change["run"]["id"], &change["deleted"]["id"]]
                .iter()
                .any(|named| named.as_str() == Some(id))
        })
        .collect();
    assert_eq!(found.len(), 1, "{page}");
    found[0].clone()
}

fn at(ms: i64) -> String {
    Timestamp::from_unix_millis(1_714_564_800_000 + ms)
        .as_str()
        .to_owned()
}

// ---- the cases ----

async fn a_stream_sends_the_backlog_then_each_commit_as_it_happens(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    upload_runs(&app, "team", &[run("a", RunStatus::Running, None)]).await;
    let mut stream = Stream::open(&app, "team", "", &[]).await;
    let backlog = stream.page().await;
    assert_eq!(states(&backlog), [("a".into(), "running".into())]);
    assert_eq!(backlog["cursor"], "1");
    assert!(stream.raw.starts_with(": live"), "{}", stream.raw);
    assert!(stream.raw.contains("id: 1\n"), "{}", stream.raw);

    upload_runs(&app, "team", &[run("a", RunStatus::Success, Some(5))]).await;
    let pushed = stream.page().await;
    assert_eq!(states(&pushed), [("a".into(), "success".into())]);
    assert_eq!(pushed["cursor"], "2");
    upload(
        &app,
        "team",
        json!({"deleted": [{"id": "b", "deletedAt": "2024-05-01T12:30:00.000Z"}]}),
    )
    .await;
    assert_eq!(
        states(&stream.page().await),
        [("b".into(), "deleted".into())]
    );
    // Another workspace's commits are not this stream's.
    upload_runs(&app, "others", &[run("x", RunStatus::Running, None)]).await;
    upload_runs(&app, "team", &[run("c", RunStatus::Running, None)]).await;
    assert_eq!(
        states(&stream.page().await),
        [("c".into(), "running".into())]
    );
}

async fn a_stream_cut_mid_way_resumes_without_a_gap_or_a_duplicate(engine: Engine) {
    const BATCHES: usize = 12;
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    // Uploads go on throughout, in the background.
    let writer = tokio::spawn({
        let app = app.clone();
        async move {
            for batch in 0..BATCHES {
                let runs: Vec<_> = (0..3)
                    .map(|n| run(&format!("b{batch}-{n}"), RunStatus::Success, Some(1)))
                    .collect();
                upload_runs(&app, "team", &runs).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor = 0;
    let mut connections = 0;
    while seen.len() < BATCHES * 3 {
        // Each connection takes up to two pages, then is cut; the next
        // resumes from the last id it saw, by `Last-Event-ID` or `since`.
        connections += 1;
        let last = cursor.to_string();
        let mut stream = if connections % 2 == 0 {
            Stream::open(&app, "team", "since=0", &[("last-event-id", &last)]).await
        } else {
            Stream::open(&app, "team", &format!("since={last}"), &[]).await
        };
        for _ in 0..2 {
            if seen.len() == BATCHES * 3 {
                break;
            }
            let page = stream.page().await;
            let next: i64 = page["cursor"].as_str().unwrap().parse().unwrap();
            assert!(next > cursor, "the cursor moves on: {next} after {cursor}");
            cursor = next;
            for (id, _) in states(&page) {
                *seen.entry(id).or_default() += 1;
            }
        }
        drop(stream);
    }
    writer.await.unwrap();
    assert!(connections > 2, "the stream was cut and resumed");
    let twice: Vec<_> = seen.iter().filter(|(_, times)| **times > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
    assert_eq!(seen.len(), BATCHES * 3, "nothing skipped");
    assert_eq!(cursor, (BATCHES * 3) as i64);
}

async fn a_bad_cursor_is_refused_before_the_stream_starts(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    for (query, headers, says) in [
        ("since=abc", vec![], "not a cursor this server issued"),
        ("since=5", vec![], "ahead of this workspace's changes"),
        (
            "",
            vec![("last-event-id", "x1")],
            "not a cursor this server issued",
        ),
    ] {
        let refused = Stream::request(&app, "team", query, &headers)
            .await
            .expect_err(query);
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(refused.detail().contains(says), "{}", refused.detail());
    }
}

async fn a_trashed_run_is_kept_restorable_until_the_trash_is_emptied(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let done = run("a", RunStatus::Success, Some(1));
    upload_runs(
        &app,
        "team",
        &[done.clone(), run("b", RunStatus::Success, Some(2))],
    )
    .await;

    let trashed = upload(
        &app,
        "team",
        json!({"trash": [{"id": "a", "trashedAt": at(100)}]}),
    )
    .await;
    assert_eq!(trashed.json()["accepted"], 1, "{}", trashed.body);
    let in_trash = change_of(&app, "team", "a").await;
    // A browser that knows no trash reads a deletion; one that does, the
    // run in the trash.
    assert_eq!(
        in_trash["deleted"],
        json!({"id": "a", "deletedAt": at(100)})
    );
    assert!(in_trash.get("run").is_none(), "{in_trash}");
    assert_eq!(in_trash["trash"]["trashedAt"], at(100));
    assert_eq!(
        in_trash["trash"]["run"],
        serde_json::to_value(&done).unwrap()
    );

    // Restored later: a run again, its marks kept.
    upload(
        &app,
        "team",
        json!({"trash": [{"id": "a", "restoredAt": at(200)}]}),
    )
    .await;
    let restored = change_of(&app, "team", "a").await;
    assert_eq!(restored["run"], serde_json::to_value(&done).unwrap());
    assert!(restored.get("deleted").is_none(), "{restored}");
    assert_eq!(
        restored["trash"],
        json!({"trashedAt": at(100), "restoredAt": at(200)})
    );
    // A browser that put it in the trash before the restore (at 150; its
    // upload comes late) moves that mark on, and the run stays restored.
    upload(
        &app,
        "team",
        json!({"trash": [{"id": "a", "trashedAt": at(150)}]}),
    )
    .await;
    let still = change_of(&app, "team", "a").await;
    assert!(still["run"].is_object(), "{still}");
    assert_eq!(
        still["trash"],
        json!({"trashedAt": at(150), "restoredAt": at(200)})
    );
    let older = upload(
        &app,
        "team",
        json!({"trash": [{"id": "a", "trashedAt": at(120), "restoredAt": at(130)}]}),
    )
    .await;
    assert_eq!(older.json()["unchanged"], 1, "older marks change nothing");
    // A later state of a run in the trash is kept, in the trash.
    upload(
        &app,
        "team",
        json!({"trash": [{"id": "b", "trashedAt": at(300)}]}),
    )
    .await;
    let later = run("b", RunStatus::Success, Some(9));
    upload_runs(&app, "team", std::slice::from_ref(&later)).await;
    let b = change_of(&app, "team", "b").await;
    assert_eq!(b["trash"]["run"], serde_json::to_value(&later).unwrap());

    // Emptying the trash is a deletion for good: nothing brings it back.
    upload(
        &app,
        "team",
        json!({"deleted": [{"id": "b", "deletedAt": at(400)}]}),
    )
    .await;
    upload(
        &app,
        "team",
        json!({"trash": [{"id": "b", "restoredAt": at(500)}]}),
    )
    .await;
    upload_runs(&app, "team", &[run("b", RunStatus::Success, Some(20))]).await;
    assert_eq!(
        change_of(&app, "team", "b").await,
        json!({"deleted": {"id": "b", "deletedAt": at(400)}})
    );

    let refused = upload(&app, "team", json!({"trash": [{"id": "a"}]})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .detail()
            .contains("trash[0]: give trashedAt, restoredAt or both"),
        "{}",
        refused.detail()
    );
    let refused = upload(
        &app,
        "team",
        json!({"trash": [{"id": "a", "trashedAt": "soon"}]}),
    )
    .await;
    assert!(
        refused
            .detail()
            .contains("trash[0]: trashedAt \"soon\" is not an RFC 3339 instant"),
        "{}",
        refused.detail()
    );
}

async fn trash_marks_end_the_same_whatever_order_they_came_in(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let app = app(db.open().await);
    let marks = [
        json!({"id": "a", "trashedAt": at(10)}),
        json!({"id": "a", "restoredAt": at(20)}),
        json!({"id": "a", "trashedAt": at(30)}),
        json!({"id": "a", "trashedAt": at(5), "restoredAt": at(15)}),
    ];
    let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
    let mut ends = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        let workspace = format!("order-{n}");
        upload_runs(&app, &workspace, &[run("a", RunStatus::Success, Some(1))]).await;
        for index in order {
            upload(&app, &workspace, json!({"trash": [marks[*index]]})).await;
        }
        ends.push(change_of(&app, &workspace, "a").await["trash"].clone());
    }
    assert!(ends.iter().all(|end| *end == ends[0]), "{ends:?}");
    assert_eq!(ends[0]["trashedAt"], at(30), "in the trash since 30");
    assert_eq!(ends[0]["restoredAt"], at(20));
}

async fn the_trash_empties_itself_of_what_expired(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let history = db.open().await;
    let app = app(history.clone());
    upload_runs(
        &app,
        "team",
        &[
            run("old", RunStatus::Success, Some(1)),
            run("recent", RunStatus::Success, Some(1)),
            run("restored", RunStatus::Success, Some(1)),
        ],
    )
    .await;
    upload(
        &app,
        "team",
        json!({"trash": [
            {"id": "old", "trashedAt": at(1_000)},
            {"id": "recent", "trashedAt": at(9_000)},
            {"id": "restored", "trashedAt": at(1_000), "restoredAt": at(2_000)},
        ]}),
    )
    .await;
    let before = Timestamp::from_unix_millis(1_714_564_800_000 + 5_000);
    assert_eq!(history.expire_trash(before.clone()).await, Ok(1));
    assert_eq!(history.expire_trash(before).await, Ok(0), "once");
    let old = change_of(&app, "team", "old").await;
    assert!(
        old.get("trash").is_none() && old["deleted"]["id"] == "old",
        "{old}"
    );
    assert!(change_of(&app, "team", "recent").await["trash"]["run"].is_object());
    assert!(change_of(&app, "team", "restored").await["run"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_through_one_gateway_reaches_a_stream_on_another() {
    let db = TestDatabase::new(Engine::Postgres).await;
    // Two gateways on one PostgreSQL: each its own pool and listener.
    let (first, second) = (app(db.open().await), app(db.open().await));
    // Open: it follows the workspace from here on.
    let mut on_second = Stream::open(&second, "team", "", &[]).await;
    for n in 0..3 {
        let id = format!("r{n}");
        upload_runs(&first, "team", &[run(&id, RunStatus::Success, Some(1))]).await;
        let page = on_second.page().await;
        assert_eq!(states(&page), [(id, "success".to_owned())]);
    }
}

/// Sends `body` to the upload route with `token`.
async fn upload_as(app: &Router, token: &str, workspace: &str, body: Value) -> Answer {
    let request = Request::post(format!("/api/v1/sync/{workspace}/runs"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app.clone(), request).await
}

/// The feed's change for `id`, read with `token`.
async fn change_as(app: &Router, token: &str, workspace: &str, id: &str) -> Value {
    let request = Request::get(format!("/api/v1/sync/{workspace}/changes"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let answer = send(app.clone(), request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let page = answer.json();
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["run"]["id"] == id || change["deleted"]["id"] == id)
        .unwrap_or_else(|| panic!("no change for {id}: {page}"))
        .clone()
}

async fn each_person_is_recorded_as_author_judge_and_trasher_and_a_revoked_token_gets_401(
    engine: Engine,
) {
    let db = TestDatabase::new(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    let (ana, ana_line) = prompt_runs_gateway::people::new_token_line("ana").unwrap();
    let (bob, bob_line) = prompt_runs_gateway::people::new_token_line("bob").unwrap();
    std::fs::write(&file, format!("# the team\n{ana_line}\n{bob_line}\n")).unwrap();
    let tokens = file.to_str().unwrap();
    let app = app_with(
        db.open().await,
        &["--tokens", tokens, "--token", "shared-s3cret"],
    );

    // Ana's run says she made it, whatever its upload claimed.
    let mut made = run("a", RunStatus::Success, Some(1));
    made.metadata = Some(
        json!({"author": "mallory", "judgedBy": "mallory", "tag": "kept"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let answer = upload_as(&app, &ana, "team", json!({ "runs": [made] })).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let stored = change_as(&app, &ana, "team", "a").await;
    assert_eq!(stored["run"]["metadata"]["author"], "ana", "{stored}");
    assert!(
        stored["run"]["metadata"].get("judgedBy").is_none(),
        "{stored}"
    );
    assert_eq!(stored["run"]["metadata"]["tag"], "kept");

    // Bob rates it: he is its judge; Ana stays its author.
    let made: PromptRun = serde_json::from_value(stored["run"].clone()).unwrap();
    let judged = prompt_runs::model::PromptRunUpdate::rate(Some(prompt_runs::model::Rating::Up))
        .apply_to(&made)
        .unwrap();
    let answer = upload_as(&app, &bob, "team", json!({ "runs": [judged] })).await;
    assert_eq!(answer.json()["accepted"], 1, "{}", answer.body);
    let stored = change_as(&app, &bob, "team", "a").await;
    assert_eq!(stored["run"]["metadata"]["author"], "ana", "{stored}");
    assert_eq!(stored["run"]["metadata"]["judgedBy"], "bob", "{stored}");

    // The same copy again through the shared token changes nothing (and
    // names no one).
    let again: PromptRun = serde_json::from_value(stored["run"].clone()).unwrap();
    let answer = upload_as(&app, "shared-s3cret", "team", json!({ "runs": [again] })).await;
    assert_eq!(answer.json()["unchanged"], 1, "{}", answer.body);

    // Bob puts it in the trash: the trash says so.
    let answer = upload_as(
        &app,
        &bob,
        "team",
        json!({"trash": [{"id": "a", "trashedAt": at(100)}]}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let trashed = change_as(&app, &ana, "team", "a").await;
    assert_eq!(trashed["trash"]["trashedBy"], "bob", "{trashed}");

    // The shared token still works, as no one in particular.
    let shared = run("s", RunStatus::Success, Some(2));
    let answer = upload_as(&app, "shared-s3cret", "team", json!({ "runs": [shared] })).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let stored = change_as(&app, &ana, "team", "s").await;
    assert!(stored["run"].get("metadata").is_none(), "{stored}");

    // Bob's line removed: his token is refused, Ana's still works.
    std::fs::write(&file, format!("{ana_line}\n")).unwrap();
    let app = app_with(db.open().await, &["--tokens", tokens]);
    let refused = upload_as(&app, &bob, "team", json!({ "runs": [] })).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let nobody = send(
        app.clone(),
        Request::get("/api/v1/sync/team/changes")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
    change_as(&app, &ana, "team", "a").await;
}

/// Batch `k` of the load: five runs `k-0`…`k-4`, and batch `k-1`'s first
/// run put in the trash, in one upload.
fn batch(k: u32) -> Value {
    let runs: Vec<PromptRun> = (0..5)
        .map(|n| run(&format!("{k}-{n}"), RunStatus::Success, Some(i64::from(k))))
        .collect();
    json!({
        "runs": runs,
        "trash": [{"id": format!("{}-0", k - 1), "trashedAt": at(i64::from(k))}],
    })
}

/// Every id of a feed page with whether it is in the trash.
fn ids_and_trash(page: &Value) -> std::collections::BTreeMap<String, bool> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| match change.get("run") {
            Some(run) => (run["id"].as_str().unwrap().to_owned(), false),
            None => (change["deleted"]["id"].as_str().unwrap().to_owned(), true),
        })
        .collect()
}

async fn a_backup_taken_under_load_restores_the_same_history(engine: Engine) {
    let db = TestDatabase::new(engine).await;
    let source = db.open().await;
    let app = app(source.clone());
    const BATCHES: u32 = 150;
    let loading = app.clone();
    let load = tokio::spawn(async move {
        for k in 1..=BATCHES {
            let answer = upload(&loading, "load", batch(k)).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
    });
    // Taken while the uploads go on (some in, not all).
    loop {
        let page = changes(&app, "load").await;
        if page["changes"].as_array().unwrap().len() >= 25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut backup = Vec::new();
    let taken = source.backup(&mut backup).await.unwrap();
    load.await.unwrap();
    assert_eq!(taken.workspaces, 1);

    let copy = TestDatabase::new(engine).await;
    let restored = copy.open().await;
    assert_eq!(restored.restore(&backup[..]).await.unwrap(), taken);
    let restored_app = app_with(restored.clone(), &[]);
    let page = changes(&restored_app, "load").await;
    let held = ids_and_trash(&page);

    // A snapshot: batches 1..=K whole, none after, each with its trash mark.
    let whole = (taken.rows / 5) as u32;
    assert!(
        (5..BATCHES).contains(&whole),
        "taken under load: {whole} of {BATCHES} batches"
    );
    let mut expected = std::collections::BTreeMap::new();
    for k in 1..=whole {
        for n in 0..5 {
            // Batch k's first run is in the trash if batch k+1 is in.
            expected.insert(format!("{k}-{n}"), n == 0 && k < whole);
        }
    }
    assert_eq!(held, expected, "every upload is whole or absent");

    // The same states as the source's, and the same feed numbers: the
    // source's cursor for the last change in the backup is the restored
    // feed's cursor.
    for (id, _) in expected
        .iter()
        .filter(|(id, _)| **id != format!("{whole}-0"))
    {
        assert_eq!(
            change_of(&restored_app, "load", id).await,
            change_of(&app, "load", id).await,
            "{id}"
        );
    }
    let source_page = changes(&app, "load").await;
    let numbered = |page: &Value| page["cursor"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(numbered(&page) <= numbered(&source_page));
    // The feed goes on from there: a browser that read up to the backup
    // reads only what comes after.
    let next = upload(&restored_app, "load", batch(whole + 1)).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    let request = Request::get(format!(
        "/api/v1/sync/load/changes?since={}",
        page["cursor"].as_str().unwrap()
    ))
    .body(Body::empty())
    .unwrap();
    let after = send(restored_app.clone(), request).await.json();
    assert_eq!(after["changes"].as_array().unwrap().len(), 6, "{after}");

    // Restoring again into a database that holds a history is refused, and
    // a backup cut short restores nothing.
    let refused = restored.restore(&backup[..]).await.unwrap_err();
    assert!(refused.contains("restore into an empty one"), "{refused}");
    let empty = TestDatabase::new(engine).await;
    let fresh = empty.open().await;
    // Cut at a line's end: every line read is whole, only the end is missing.
    let last_line = backup[..backup.len() - 1]
        .iter()
        .rposition(|byte| *byte == b'\n')
        .unwrap();
    let refused = fresh.restore(&backup[..=last_line]).await.unwrap_err();
    assert!(
        refused.contains("cut short") && refused.contains("nothing was restored"),
        "{refused}"
    );
    let none = changes(&app_with(fresh, &[]), "load").await;
    assert!(none["changes"].as_array().unwrap().is_empty(), "{none}");
}
