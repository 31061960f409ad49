//! Forwarding to an OpenAI-compatible upstream, against a fake one: a real
//! axum server on loopback that answers as OpenAI's API does (and fails on
//! request), recording what the gateway sent it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use http_body_util::BodyExt;
use prompt_runs::api::wire::ExecuteResponse;
use prompt_runs::model::{Model, Provider};
use prompt_runs_gateway::prices::PriceTable;
use prompt_runs_gateway::{router, GatewayConfig, Settings};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const KEY: &str = "sk-test-secret";

/// What the fake upstream received: (authorization header, JSON body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// The authorization header, if it carries the right key.
fn authorized(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    (auth == format!("Bearer {KEY}")).then(|| auth.to_owned())
}

/// OpenAI's answer to a wrong key.
fn refused() -> Response {
    let body = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}});
    (StatusCode::UNAUTHORIZED, Json(body)).into_response()
}

fn sse(chunks: &[Value], finish: bool) -> Response {
    let mut body: String = chunks
        .iter()
        .map(|chunk| format!("data: {chunk}\n\n"))
        .collect();
    if finish {
        body.push_str("data: [DONE]\n\n");
    }
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

async fn fake_models(headers: HeaderMap) -> Response {
    if authorized(&headers).is_none() {
        return refused();
    }
    Json(json!({"object": "list", "data": [{"id": "llama3", "object": "model"}, {"id": "gpt-4o-2024-08-06", "object": "model"}]}))
        .into_response()
}

async fn fake_chat(
    State(received): State<Received>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some(auth) = authorized(&headers) else {
        return refused();
    };
    received.lock().unwrap().push((auth, body.clone()));
    let model = body["model"].as_str().unwrap_or_default();
    let usage = json!({"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11,
        "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 2, "accepted_prediction_tokens": 0}});
    // As llama.cpp's server sends them, with its answer or its last chunk.
    let timings = json!({"prompt_n": 4, "prompt_ms": 12.5, "prompt_per_second": 320.0,
        "predicted_n": 4, "predicted_ms": 80.0, "predicted_per_second": 50.0, "cache_n": 3});
    if model == "silent" {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    }
    if model == "broken" {
        let error = json!({"error": {"message": "upstream exploded", "type": "server_error"}});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(error)).into_response();
    }
    if body["stream"] == true {
        let delta = |text: &str| json!({"choices": [{"index": 0, "delta": {"content": text}}]});
        return match model {
            "cutoff" => sse(
                &[delta("Hal"), json!({"error": {"message": "overloaded"}})],
                false,
            ),
            _ => sse(
                &[
                    json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
                    delta("Hel"),
                    delta("lo"),
                    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "timings": timings}),
                    json!({"choices": [], "usage": usage}),
                ],
                true,
            ),
        };
    }
    let mut answer = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": format!("Hello from {model}")}}]});
    if model != "no-usage" {
        answer["usage"] = usage;
        answer["timings"] = timings;
    }
    Json(answer).into_response()
}

/// How many times the fake upstream was asked for its models.
type Listings = Arc<AtomicUsize>;

/// Starts the fake upstream; returns its base URL (`…/v1`), what it receives
/// and how often it listed its models.
async fn fake_upstream() -> (String, Received, Listings) {
    let received = Received::default();
    let listings = Listings::default();
    let counted = listings.clone();
    let app = Router::new()
        .route(
            "/v1/models",
            get(move |headers| {
                counted.fetch_add(1, Ordering::SeqCst);
                fake_models(headers)
            }),
        )
        .route("/v1/chat/completions", post(fake_chat))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received, listings)
}

/// The gateway's access token in these tests: with an upstream key, one is
/// required (see tests/access.rs); `call` sends it.
const TOKEN: &str = "gateway-token";

fn gateway(upstream: &str, extra: &[&str]) -> Router {
    let mut args = vec!["gw", "--upstream-url", upstream, "--token", TOKEN];
    args.extend_from_slice(extra);
    router(
        Settings::from_config(GatewayConfig::parse_from(args)).unwrap(),
        None,
    )
}

async fn call(app: Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(body.map_or_else(Body::empty, |body| Body::from(body.to_string())))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn detail(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn upstream_models_are_listed_beside_the_offline_ones_with_prices() {
    let (upstream, _, _) = fake_upstream().await;
    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "GET",
        "/api/v1/models",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(KEY), "the key never leaves the server");
    let models: Vec<Model> = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = models.iter().map(|model| model.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "offline-echo",
            "offline-slow",
            "offline-judge",
            "llama3",
            "gpt-4o-2024-08-06"
        ]
    );
    assert_eq!(
        models[3].provider,
        Provider::Local,
        "a loopback upstream is local"
    );
    assert_eq!(models[3].cost_per_1k_tokens, None, "no price for llama3");
    let gpt_4o = PriceTable::builtin()
        .lookup("gpt-4o")
        .unwrap()
        .per_1k_tokens();
    assert_eq!(
        models[4].cost_per_1k_tokens,
        Some(gpt_4o),
        "dated ids find their price"
    );

    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "GET",
        "/api/v1/models/llama3",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_upstreams_model_list_is_reused_across_requests() {
    let (upstream, _, listings) = fake_upstream().await;
    let app = gateway(&upstream, &["--upstream-key", KEY]);
    let (first, _) = call(app.clone(), "GET", "/api/v1/models", None).await;
    let (second, body) = call(app.clone(), "GET", "/api/v1/models", None).await;
    let (providers, _) = call(app.clone(), "GET", "/api/v1/providers", None).await;
    assert_eq!(
        (first, second, providers),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );
    assert!(body.contains("llama3"), "{body}");
    assert_eq!(
        listings.load(Ordering::SeqCst),
        1,
        "one listing for three requests"
    );

    let (upstream, _, listings) = fake_upstream().await;
    let refused = gateway(&upstream, &["--upstream-key", "wrong"]);
    for _ in 0..2 {
        let (status, body) = call(refused.clone(), "GET", "/api/v1/models", None).await;
        assert_eq!(status, StatusCode::OK, "offline models are still listed");
        assert!(!body.contains("llama3"), "{body}");
    }
    assert_eq!(
        listings.load(Ordering::SeqCst),
        1,
        "a failed listing is remembered for a few seconds too"
    );
}

#[tokio::test]
async fn providers_say_whether_the_upstream_is_configured_and_reachable() {
    let (upstream, _, _) = fake_upstream().await;
    let (_, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "GET",
        "/api/v1/providers",
        None,
    )
    .await;
    let providers: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        providers["ollama"],
        json!({"configured": true, "available": true, "type": "local", "url": upstream})
    );
    assert_eq!(providers["openai"]["configured"], false);
    assert!(!body.contains(KEY));

    let (_, body) = call(
        gateway(&upstream, &["--upstream-key", "wrong"]),
        "GET",
        "/api/v1/providers",
        None,
    )
    .await;
    let providers: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        providers["ollama"]["available"], false,
        "a refused key is not available"
    );

    let remote = gateway("https://api.example.test/v1", &[]);
    let (_, body) = call(remote, "GET", "/api/v1/providers", None).await;
    let providers: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(providers["openai"]["configured"], true);
    assert_eq!(providers["openai"]["type"], "api");
}

#[tokio::test]
async fn execute_forwards_the_prompt_and_reports_the_upstreams_usage_and_cost() {
    let (upstream, received, _) = fake_upstream().await;
    let request = json!({
        "prompt": "Say hello",
        "model_id": "gpt-4o-2024-08-06",
        "context_blocks": ["You are terse."],
        "parameters": {"max_tokens": 64, "temperature": 0.5}
    });
    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "POST",
        "/api/v1/workbench/execute",
        Some(request),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response: ExecuteResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(response.output, "Hello from gpt-4o-2024-08-06");
    assert_eq!(
        (
            response.usage.prompt_tokens,
            response.usage.completion_tokens,
            response.usage.total_tokens
        ),
        (7, 4, 11)
    );
    let price = PriceTable::builtin().lookup("gpt-4o").unwrap();
    assert_eq!(
        response.cost,
        Some(price.cost_with_cached(7, 3, 4).dollars()),
        "the 3 cached prompt tokens at the cached rate"
    );
    assert_ne!(price.cost_with_cached(7, 3, 4), price.cost(7, 4));
    assert_eq!(response.cost_source.as_deref(), Some("estimated"));
    assert_eq!(
        (
            response.usage.cached_tokens(),
            response.usage.reasoning_tokens()
        ),
        (Some(3), Some(2)),
        "the upstream's usage details pass through"
    );
    let timings = response.timings.expect("llama.cpp's timings pass through");
    assert_eq!(
        (
            timings.prompt_per_second,
            timings.predicted_per_second,
            timings.cache_n
        ),
        (Some(320.0), Some(50.0), Some(3))
    );
    assert_eq!(response.first_token_ms, None, "not streamed");

    let (auth, sent) = received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        auth,
        format!("Bearer {KEY}"),
        "the key goes to the upstream"
    );
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}])
    );
    assert_eq!(
        (
            sent["max_tokens"].clone(),
            sent["temperature"].clone(),
            sent["stream"].clone()
        ),
        (json!(64), json!(0.5), json!(false))
    );
}

#[tokio::test]
async fn without_reported_usage_tokens_are_counted_and_unpriced_models_have_no_cost() {
    let (upstream, _, _) = fake_upstream().await;
    let request = json!({"prompt": "Say hello", "model_id": "no-usage"});
    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "POST",
        "/api/v1/workbench/execute",
        Some(request),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response: ExecuteResponse = serde_json::from_str(&body).unwrap();
    let count = prompt_runs_gateway::tokens::count;
    assert_eq!(response.usage.prompt_tokens, count("Say hello"));
    assert_eq!(
        response.usage.completion_tokens,
        count("Hello from no-usage")
    );
    assert_eq!(response.cost, None);
}

#[tokio::test]
async fn the_stream_relays_the_upstreams_deltas_and_usage() {
    let (upstream, received, _) = fake_upstream().await;
    let request = json!({"prompt": "Say hello", "model_id": "llama3"});
    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "POST",
        "/api/v1/workbench/execute/stream",
        Some(request),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events: Vec<(&str, Value)> = body
        .split("\n\n")
        .filter_map(|block| {
            let event = block
                .lines()
                .find_map(|line| line.strip_prefix("event: "))?;
            let data = block.lines().find_map(|line| line.strip_prefix("data: "))?;
            Some((event, serde_json::from_str(data).unwrap()))
        })
        .collect();
    assert_eq!(events[0], ("delta", json!({"text": "Hel"})));
    assert_eq!(events[1], ("delta", json!({"text": "lo"})));
    assert_eq!(events[2].0, "done");
    let done: ExecuteResponse = serde_json::from_value(events[2].1.clone()).unwrap();
    assert_eq!(done.output, "Hello");
    assert_eq!(
        done.usage.total_tokens, 11,
        "the upstream's usage, from its last chunk"
    );
    assert_eq!(
        (done.usage.cached_tokens(), done.usage.reasoning_tokens()),
        (Some(3), Some(2)),
        "with its details"
    );
    assert_eq!(
        done.timings
            .and_then(|timings| timings.predicted_per_second),
        Some(50.0),
        "and llama.cpp's timings, from the chunk that ended the answer"
    );
    assert!(
        done.first_token_ms.is_some_and(|ms| ms <= done.latency_ms),
        "when the first text came: {:?} of {} ms",
        done.first_token_ms,
        done.latency_ms
    );
    assert_eq!(events.len(), 3);
    let (_, sent) = received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn upstream_failures_are_502s_naming_the_upstream_and_its_message() {
    let (upstream, _, _) = fake_upstream().await;
    let broken = json!({"prompt": "x", "model_id": "broken"});
    for path in [
        "/api/v1/workbench/execute",
        "/api/v1/workbench/execute/stream",
    ] {
        let (status, body) = call(
            gateway(&upstream, &["--upstream-key", KEY]),
            "POST",
            path,
            Some(broken.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{path}");
        // A 500 is tried again (twice, by default) before the run fails.
        let detail = detail(&body);
        assert!(
            detail.starts_with(&format!(
                "upstream {upstream} answered 500: upstream exploded; tried 3 times over "
            )),
            "{path}: {detail}"
        );
    }

    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", "wrong"]),
        "POST",
        "/api/v1/workbench/execute",
        Some(json!({"prompt": "x", "model_id": "llama3"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        detail(&body),
        format!("upstream {upstream} answered 401: Incorrect API key provided")
    );

    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "POST",
        "/api/v1/workbench/execute/stream",
        Some(json!({"prompt": "x", "model_id": "cutoff"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the stream had begun");
    assert!(body.contains("event: error"), "{body}");
    assert!(body.contains("overloaded"), "{body}");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_and_the_offline_models_still_work() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let (status, body) = call(
        gateway(&nowhere, &[]),
        "POST",
        "/api/v1/workbench/execute",
        Some(json!({"prompt": "x", "model_id": "llama3"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(
        detail(&body).starts_with(&format!("upstream {nowhere} could not be reached")),
        "{body}"
    );

    let (status, body) = call(gateway(&nowhere, &[]), "GET", "/api/v1/models", None).await;
    assert_eq!(status, StatusCode::OK);
    let models: Vec<Model> = serde_json::from_str(&body).unwrap();
    assert_eq!(models.len(), 3, "the offline models, nothing invented");
    let (status, _) = call(
        gateway(&nowhere, &[]),
        "POST",
        "/api/v1/workbench/execute",
        Some(json!({"prompt": "x", "model_id": "offline-echo"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn named_upstream_models_are_the_only_ones_offered() {
    let (upstream, received, _) = fake_upstream().await;
    let app = || {
        gateway(
            &upstream,
            &["--upstream-key", KEY, "--upstream-models", "llama3,mistral"],
        )
    };
    let (_, body) = call(app(), "GET", "/api/v1/models", None).await;
    let models: Vec<Model> = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = models.iter().map(|model| model.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "offline-echo",
            "offline-slow",
            "offline-judge",
            "llama3",
            "mistral"
        ]
    );

    let (status, body) = call(
        app(),
        "POST",
        "/api/v1/workbench/execute",
        Some(json!({"prompt": "x", "model_id": "gpt-4o"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(detail(&body), "unknown model: gpt-4o");
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing was sent upstream"
    );
}

#[tokio::test]
async fn an_upstream_silent_for_too_long_is_a_504_naming_the_flag() {
    let (upstream, _, _) = fake_upstream().await;
    let started = std::time::Instant::now();
    for path in [
        "/api/v1/workbench/execute",
        "/api/v1/workbench/execute/stream",
    ] {
        let (status, body) = call(
            gateway(
                &upstream,
                &["--upstream-key", KEY, "--upstream-timeout", "1"],
            ),
            "POST",
            path,
            Some(json!({"prompt": "x", "model_id": "silent"})),
        )
        .await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{path}: {body}");
        assert!(
            detail(&body).starts_with(&format!(
                "upstream {upstream} said nothing for 1 s (--upstream-timeout)"
            )),
            "{body}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test]
async fn requests_past_the_upstream_cap_get_429_and_a_slot_frees_when_a_stream_ends() {
    let (upstream, _, _) = fake_upstream().await;
    // Past the cap a request waits for a turn: here at most 1 s.
    let app = gateway(
        &upstream,
        &[
            "--upstream-key",
            KEY,
            "--max-upstream-requests",
            "1",
            "--upstream-queue-timeout",
            "1",
        ],
    );
    let request = |path: &str| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::from(
                json!({"prompt": "x", "model_id": "llama3"}).to_string(),
            ))
            .unwrap()
    };
    // A stream holds its slot while its answer is read.
    let streaming = app
        .clone()
        .oneshot(request("/api/v1/workbench/execute/stream"))
        .await
        .unwrap();
    assert_eq!(streaming.status(), StatusCode::OK);
    for path in [
        "/api/v1/workbench/execute",
        "/api/v1/workbench/execute/stream",
    ] {
        let refused = app.clone().oneshot(request(path)).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        let body = refused.into_body().collect().await.unwrap().to_bytes();
        let detail = detail(&String::from_utf8_lossy(&body));
        assert!(detail.contains("--max-upstream-requests"), "{detail}");
        assert!(
            detail.contains("waited 1 s for a turn (--upstream-queue-timeout)"),
            "{detail}"
        );
    }
    // Offline models are not the upstream's to count.
    let (status, _) = call(
        app.clone(),
        "POST",
        "/api/v1/workbench/execute",
        Some(json!({"prompt": "x", "model_id": "offline-echo"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Read to its end, the stream gives its slot back.
    let body = streaming.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("event: done"));
    let again = app
        .oneshot(request("/api/v1/workbench/execute"))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn execute_sends_each_model_of_a_batch_upstream_and_reports_each_failure_as_a_run() {
    let (upstream, _, _) = fake_upstream().await;
    let (status, body) = call(
        gateway(&upstream, &["--upstream-key", KEY]),
        "POST",
        "/api/v1/execute",
        Some(json!({"prompt": "x", "model_ids": ["llama3", "broken", "offline-echo"], "workspace_id": "w"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs: Vec<prompt_runs::model::PromptRun> = serde_json::from_str(&body).unwrap();
    assert_eq!(runs[0].output.as_deref(), Some("Hello from llama3"));
    assert_eq!(runs[0].total_tokens, Some(11));
    let error = runs[1].error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "upstream {upstream} answered 500: upstream exploded; tried 3 times"
        )),
        "{error}"
    );
    assert_eq!(runs[2].status, prompt_runs::model::RunStatus::Success);
}
