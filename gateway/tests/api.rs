//! The gateway's HTTP contract, in process: every endpoint and error path
//! through `router` (tower's `oneshot`), plus one real server on loopback.

mod support;

use axum::http::{header, StatusCode};
use axum::Router;
use clap::Parser;
use prompt_runs::api::wire::{ExecuteResponse, Providers};
use prompt_runs::model::{Model, PromptRun, RunStatus};
use prompt_runs_gateway::prices::PriceTable;
use prompt_runs_gateway::{offline, router, GatewayConfig, Settings};
use serde_json::{json, Value};
use std::path::PathBuf;
use support::{gateway, get, post, test_gateway, Answer};

async fn execute(app: Router, body: Value) -> Answer {
    post(app, "/api/v1/workbench/execute", body.to_string()).await
}

#[tokio::test]
async fn health_answers_ok() {
    let answer = get(gateway(&[]), "/api/v1/health").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"status": "ok"}));
}

#[tokio::test]
async fn models_are_the_offline_demo_models_with_their_prices() {
    let answer = get(gateway(&[]), "/api/v1/models").await;
    assert_eq!(answer.status, StatusCode::OK);
    let models: Vec<Model> = serde_json::from_str(&answer.body).unwrap();
    let ids: Vec<&str> = models.iter().map(|model| model.id.as_str()).collect();
    assert_eq!(
        ids,
        ["offline-echo", "offline-slow", "offline-judge"],
        "no test models unless asked"
    );
    assert!(models
        .iter()
        .all(|model| model.name.to_lowercase().contains("offline")));
    let echo_price = PriceTable::builtin()
        .lookup("offline-echo")
        .unwrap()
        .per_1k_tokens();
    assert_eq!(models[0].cost_per_1k_tokens, Some(echo_price));
    assert_eq!(models[1].cost_per_1k_tokens, None);
    assert!(
        answer.body.contains("\"costPer1kTokens\"")
            && answer.body.contains("\"supportsStreaming\""),
        "camelCase as in the data model: {}",
        answer.body
    );

    let with_tests: Vec<Model> =
        serde_json::from_str(&get(test_gateway(), "/api/v1/models").await.body).unwrap();
    assert_eq!(with_tests.len(), 8);
}

#[tokio::test]
async fn one_model_or_a_404_naming_it() {
    let found = get(gateway(&[]), "/api/v1/models/offline-echo").await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Model>(&found.body).unwrap().id,
        "offline-echo"
    );

    let missing = get(gateway(&[]), "/api/v1/models/gpt-9").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.detail(), "unknown model: gpt-9");
}

#[tokio::test]
async fn providers_report_every_upstream_kind() {
    let answer = get(gateway(&[]), "/api/v1/providers").await;
    assert_eq!(answer.status, StatusCode::OK);
    let providers: Providers = serde_json::from_str(&answer.body).unwrap();
    for name in ["openai", "anthropic", "ollama", "google"] {
        assert!(
            providers.summaries.contains_key(name),
            "{name} missing from {}",
            answer.body
        );
    }
    assert_eq!(answer.json()["ollama"]["type"], "local");
    assert_eq!(answer.json()["openai"]["type"], "api");
}

#[tokio::test]
async fn execute_answers_deterministically_with_honest_usage_and_exact_cost() {
    let request = json!({
        "prompt": "Explain ownership in Rust",
        "model_id": "offline-echo",
        "context_blocks": ["Be brief."],
        "workspace_id": "ws-1",
        "some_future_field": true
    });
    let answer = execute(gateway(&[]), request.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let response: ExecuteResponse = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(response.model_id, "offline-echo");
    assert_eq!(
        response.output,
        offline::answer("Explain ownership in Rust", &["Be brief.".into()])
    );
    let usage = response.usage;
    assert_eq!(
        usage.prompt_tokens,
        prompt_runs_gateway::tokens::count("Explain ownership in Rust")
            + prompt_runs_gateway::tokens::count("Be brief.")
    );
    assert_eq!(
        usage.completion_tokens,
        prompt_runs_gateway::tokens::count(&response.output)
    );
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    let price = PriceTable::builtin().lookup("offline-echo").unwrap();
    assert_eq!(
        response.cost,
        Some(
            price
                .cost(usage.prompt_tokens, usage.completion_tokens)
                .dollars()
        )
    );
    assert!(response.created_at.ends_with('Z'));

    let again: ExecuteResponse =
        serde_json::from_str(&execute(gateway(&[]), request).await.body).unwrap();
    assert_eq!(
        again.output, response.output,
        "the same prompt, the same answer"
    );
}

#[tokio::test]
async fn an_unpriced_model_reports_no_cost_rather_than_zero() {
    let answer = execute(
        gateway(&[]),
        json!({"prompt": "hi", "model_id": "offline-slow"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.json().get("cost").is_none(), "{}", answer.body);
}

#[tokio::test]
async fn max_tokens_limits_the_answer() {
    let request = json!({
        "prompt": "Explain ownership in Rust",
        "model_id": "offline-echo",
        "parameters": {"max_tokens": 5, "temperature": 0.2}
    });
    let response: ExecuteResponse =
        serde_json::from_str(&execute(gateway(&[]), request).await.body).unwrap();
    assert_eq!(response.usage.completion_tokens, 5);
    assert!(response.output.len() < offline::answer("Explain ownership in Rust", &[]).len());
}

/// The events of a Server-Sent Events body: (event name, data).
fn events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .filter_map(|line| line.strip_prefix(name))
                    .map(|value| value.strip_prefix(' ').unwrap_or(value))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (field("event:"), field("data:"))
        })
        .collect()
}

#[tokio::test]
async fn the_stream_sends_deltas_then_the_full_response() {
    let body = json!({"prompt": "Stream this please", "model_id": "offline-echo"});
    let answer = post(
        gateway(&[]),
        "/api/v1/workbench/execute/stream",
        body.to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));

    let events = events(&answer.body);
    let (done, deltas) = events.split_last().unwrap();
    assert_eq!(done.0, "done");
    assert!(deltas.len() > 5, "streamed piece by piece");
    let streamed: String = deltas
        .iter()
        .map(|(event, data)| {
            assert_eq!(event, "delta");
            serde_json::from_str::<Value>(data).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let response: ExecuteResponse = serde_json::from_str(&done.1).unwrap();
    assert_eq!(streamed, response.output);
    assert_eq!(response.output, offline::answer("Stream this please", &[]));
    assert!(
        response.first_token_ms.is_some(),
        "a stream says when its first text went out"
    );
    let timings = response.timings.expect("the offline model's own figures");
    assert_eq!(timings.predicted_n, Some(response.usage.completion_tokens));
    assert_eq!(
        timings.predicted_per_second,
        Some(100_000.0),
        "its configured speed (tests run at --offline-tokens-per-second 100000)"
    );
    assert_eq!(response.cost_source.as_deref(), Some("estimated"));
}

#[tokio::test]
async fn the_delayed_test_model_reports_its_first_token_time_and_speed() {
    let body = json!({"prompt": "Stream this please", "model_id": "offline-delayed",
        "parameters": {"max_tokens": 4}});
    let answer = post(
        test_gateway(),
        "/api/v1/workbench/execute/stream",
        body.to_string(),
    )
    .await;
    let events = events(&answer.body);
    let response: ExecuteResponse = serde_json::from_str(&events.last().unwrap().1).unwrap();
    let first = response.first_token_ms.unwrap();
    let delay = offline::DELAYED_FIRST_TOKEN.as_millis() as u64;
    assert!(
        (delay..delay + 2_000).contains(&first),
        "{first} ms for a first token configured at {delay} ms"
    );
    let rate = response.timings.unwrap().predicted_per_second.unwrap();
    assert!(
        (rate - 100_000.0 * offline::DELAYED_SPEED).abs() < 1e-6,
        "{rate}"
    );
    assert!(response.latency_ms >= delay, "{}", response.latency_ms);

    let plain = execute(test_gateway(), body).await;
    let response: ExecuteResponse = serde_json::from_str(&plain.body).unwrap();
    assert_eq!(
        response.first_token_ms, None,
        "a plain answer has no first token to time"
    );
    assert!(response.timings.is_some());
    assert!(response.latency_ms >= delay);
}

#[tokio::test]
async fn stream_failures_are_http_errors_or_an_error_event() {
    let fail = json!({"prompt": "x", "model_id": "offline-fail-500"});
    let answer = post(
        test_gateway(),
        "/api/v1/workbench/execute/stream",
        fail.to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.detail(), "simulated failure");

    let unknown = json!({"prompt": "x", "model_id": "nope"});
    let answer = post(
        test_gateway(),
        "/api/v1/workbench/execute/stream",
        unknown.to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    let malformed = json!({"prompt": "x", "model_id": "offline-malformed"});
    let answer = post(
        test_gateway(),
        "/api/v1/workbench/execute/stream",
        malformed.to_string(),
    )
    .await;
    let events = events(&answer.body);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "done");
    assert!(
        serde_json::from_str::<Value>(&events[0].1).is_err(),
        "the test model's done is not JSON"
    );
}

#[tokio::test]
async fn bad_requests_get_4xx_with_a_detail_naming_the_problem() {
    let cases: [(&str, StatusCode, &str); 6] = [
        ("{\"prompt\": ", StatusCode::BAD_REQUEST, "malformed JSON"),
        ("[1, 2", StatusCode::BAD_REQUEST, "malformed JSON"),
        (
            "{\"model_id\": \"offline-echo\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "prompt",
        ),
        (
            "{\"prompt\": \"hi\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "model_id",
        ),
        (
            "{\"prompt\": 42, \"model_id\": \"offline-echo\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid type",
        ),
        (
            "{\"prompt\": \"  \", \"model_id\": \"offline-echo\"}",
            StatusCode::BAD_REQUEST,
            "prompt is empty",
        ),
    ];
    for (body, status, named) in cases {
        let answer = post(gateway(&[]), "/api/v1/workbench/execute", body).await;
        assert_eq!(answer.status, status, "{body} → {}", answer.body);
        assert!(
            answer.detail().contains(named),
            "{body} → {}",
            answer.detail()
        );
    }

    let unknown = execute(gateway(&[]), json!({"prompt": "hi", "model_id": "gpt-9"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.detail(), "unknown model: gpt-9");

    let huge = json!({"prompt": "a".repeat(prompt_runs_gateway::MAX_BODY_BYTES), "model_id": "offline-echo"});
    let answer = execute(gateway(&[]), huge).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer.detail().contains("larger than 1048576 bytes"),
        "{}",
        answer.detail()
    );
}

#[tokio::test]
async fn simulated_failures_behave_as_named() {
    let failed = execute(
        test_gateway(),
        json!({"prompt": "x", "model_id": "offline-fail-500"}),
    )
    .await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.detail(), "simulated failure");

    let malformed = execute(
        test_gateway(),
        json!({"prompt": "x", "model_id": "offline-malformed"}),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&malformed.body).is_err());

    let hang = execute(
        test_gateway(),
        json!({"prompt": "x", "model_id": "offline-hang"}),
    );
    let waited = tokio::time::timeout(std::time::Duration::from_millis(200), hang).await;
    assert!(waited.is_err(), "offline-hang never answers");

    let hidden = execute(
        gateway(&[]),
        json!({"prompt": "x", "model_id": "offline-fail-500"}),
    )
    .await;
    assert_eq!(
        hidden.status,
        StatusCode::NOT_FOUND,
        "test models only with --test-models"
    );
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    for answer in [
        get(gateway(&[]), "/api/v1/nothing-here").await,
        post(gateway(&[]), "/api/v2/workbench/execute", "{}").await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.detail(), "no such API endpoint");
    }
}

#[tokio::test]
async fn execute_runs_one_prompt_on_every_model_one_run_each_failures_included() {
    let request = json!({
        "workspace_id": "ws-1",
        "prompt": "Compare us",
        "context_blocks": ["Be brief."],
        "model_ids": ["offline-echo", "offline-fail-500", "gpt-9", "offline-slow"],
        "stream": false
    });
    let answer = post(test_gateway(), "/api/v1/execute", request.to_string()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.contains("\"promptSnapshot\"") && answer.body.contains("\"modelId\""),
        "camelCase, as the data model: {}",
        answer.body
    );
    let runs: Vec<PromptRun> = serde_json::from_str(&answer.body).unwrap();
    let models: Vec<&str> = runs.iter().map(|run| run.model_id.as_str()).collect();
    assert_eq!(
        models,
        ["offline-echo", "offline-fail-500", "gpt-9", "offline-slow"]
    );
    let statuses: Vec<RunStatus> = runs.iter().map(|run| run.status).collect();
    use RunStatus::{Error, Success};
    assert_eq!(statuses, [Success, Error, Error, Success]);

    let echo = &runs[0];
    assert_eq!(
        echo.output.as_deref(),
        Some(offline::answer("Compare us", &["Be brief.".into()]).as_str())
    );
    assert_eq!(
        (echo.workspace_id.as_str(), echo.prompt_snapshot.as_str()),
        ("ws-1", "Compare us")
    );
    assert!(echo.total_tokens.is_some_and(|tokens| tokens > 0) && echo.cost.is_some());
    assert!(echo.completed_at.is_some() && echo.duration_ms.is_some());
    assert_eq!(runs[1].error.as_deref(), Some("simulated failure"));
    assert_eq!(runs[2].error.as_deref(), Some("unknown model: gpt-9"));
    assert_eq!(runs[3].cost, None, "unpriced, not free");
    let batch = echo
        .batch_id()
        .expect("runs of one execution share a batch id");
    assert!(runs.iter().all(|run| run.batch_id() == Some(batch)));
    let mut ids: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every run has its own id");

    let streamed = json!({"prompt": "Compare us", "model_ids": ["offline-echo"], "stream": true});
    let answer = post(test_gateway(), "/api/v1/execute", streamed.to_string()).await;
    let runs: Vec<PromptRun> = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(
        (runs.len(), runs[0].status),
        (1, Success),
        "stream: true gets the same array"
    );
}

#[tokio::test]
async fn execute_refuses_what_cannot_run_with_a_detail() {
    let too_many: Vec<String> = (0..=prompt_runs_gateway::MAX_BATCH_MODELS)
        .map(|n| format!("m{n}"))
        .collect();
    let cases = [
        (
            json!({"prompt": "x", "model_ids": []}),
            StatusCode::BAD_REQUEST,
            "model_ids is empty",
        ),
        (
            json!({"prompt": " ", "model_ids": ["offline-echo"]}),
            StatusCode::BAD_REQUEST,
            "prompt is empty",
        ),
        (
            json!({"prompt": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "model_ids",
        ),
        (
            json!({"prompt": "x", "model_ids": too_many}),
            StatusCode::BAD_REQUEST,
            "at most 16",
        ),
    ];
    for (body, status, named) in cases {
        let answer = post(gateway(&[]), "/api/v1/execute", body.to_string()).await;
        assert_eq!(answer.status, status, "{body} → {}", answer.body);
        assert!(
            answer.detail().contains(named),
            "{body} → {}",
            answer.detail()
        );
    }
}

/// A directory holding a tiny built app.
fn static_app() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("prompt-runs-gateway-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>the app</title>",
    )
    .unwrap();
    std::fs::write(dir.join("app.js"), "console.log('app')").unwrap();
    dir
}

#[tokio::test]
async fn serves_the_app_and_its_index_for_client_routes() {
    let dir = static_app();
    let app = || gateway(&["--static-dir", dir.to_str().unwrap()]);
    for path in ["/", "/index.html", "/runs/some-client-route"] {
        let answer = get(app(), path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(
            answer.body.contains("<title>the app</title>"),
            "{path}: {}",
            answer.body
        );
    }
    assert_eq!(get(app(), "/app.js").await.body, "console.log('app')");
}

#[tokio::test]
async fn a_real_server_on_loopback_keeps_serving_after_errors() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // `serve` opens the history database too: in a directory of its own.
    let data = tempfile::tempdir().unwrap();
    tokio::spawn(prompt_runs_gateway::serve(
        listener,
        GatewayConfig::parse_from([
            "gw",
            "--offline-tokens-per-second",
            "100000",
            "--data-dir",
            data.path().to_str().unwrap(),
        ]),
    ));

    let http = reqwest::Client::new();
    let url = format!("http://{address}/api/v1/workbench/execute");
    let bad = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let good = http
        .post(&url)
        .json(&json!({"prompt": "still there?", "model_id": "offline-echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    let response: ExecuteResponse = good.json().await.unwrap();
    assert_eq!(response.output, offline::answer("still there?", &[]));
}

#[tokio::test]
async fn a_price_file_sets_the_prices_and_a_bad_one_stops_the_gateway() {
    let path = std::env::temp_dir().join(format!(
        "prompt-runs-api-prices-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, r#"{"offline-slow": {"input_per_million": 1.0, "output_per_million": 3.0}, "offline-echo": null}"#).unwrap();
    let settings = Settings::from_config(GatewayConfig::parse_from([
        "gw",
        "--prices",
        path.to_str().unwrap(),
    ]));
    let app = router(settings.unwrap(), None);
    let models: Vec<Model> = serde_json::from_str(&get(app, "/api/v1/models").await.body).unwrap();
    assert_eq!(
        models[0].cost_per_1k_tokens, None,
        "offline-echo's price removed"
    );
    assert_eq!(
        models[1].cost_per_1k_tokens,
        Some(0.002),
        "offline-slow priced: mean of 1 and 3 per million, per 1k"
    );

    std::fs::write(&path, "{not json").unwrap();
    let refused = Settings::from_config(GatewayConfig::parse_from([
        "gw",
        "--prices",
        path.to_str().unwrap(),
    ]));
    let problem = refused
        .expect_err("a bad price file is refused")
        .to_string();
    assert!(
        problem.starts_with(&format!("price file {}", path.display())),
        "{problem}"
    );
}
