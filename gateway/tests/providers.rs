//! Several providers at once, each against a fake of its own on loopback:
//! a real axum server answering in that provider's published wire format
//! (OpenAI's chat completions, Anthropic's Messages, Gemini's
//! generateContent, Ollama's /api/chat), recording what the gateway sent,
//! and failing on request (529 then success, 429 with Retry-After, an
//! error event mid-stream, a safety block, malformed JSON).

mod support;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use prompt_runs_gateway::{router, GatewayConfig, Settings};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_provider::{serve, sse, Fake};
use support::{send, Answer};

const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789";
const GEMINI_KEY: &str = "AIza-test-0123456789";
const OPENAI_KEY: &str = "sk-openai-test-0123456789";
const TOKEN: &str = "gateway-token";

fn anthropic_event(data: Value) -> String {
    format!(
        "event: {}\ndata: {data}\n\n",
        data["type"].as_str().unwrap()
    )
}

/// Anthropic's Messages API, as its reference describes it.
async fn anthropic(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("x-api-key").map(|key| key.as_bytes()) != Some(ANTHROPIC_KEY.as_bytes()) {
        let error = json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let asked = fake.record("/v1/messages", &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let overloaded =
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    match model.as_str() {
        "claude-overloaded" if asked < 3 => {
            return (StatusCode::from_u16(529).unwrap(), Json(overloaded)).into_response()
        }
        "claude-always-overloaded" => {
            return (StatusCode::from_u16(529).unwrap(), Json(overloaded)).into_response()
        }
        "claude-limited" if asked < 2 => {
            let error = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}});
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                Json(error),
            )
                .into_response();
        }
        "claude-invalid" => {
            let error = json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: must be at most 8192"}});
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
        _ => {}
    }
    let usage = json!({"input_tokens": 10, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2000, "output_tokens": 1});
    if body["stream"] != true {
        return Json(json!({"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello from Claude"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2000, "output_tokens": 4}}))
        .into_response();
    }
    let delta = |text: &str| {
        anthropic_event(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        )
    };
    let start = anthropic_event(
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model, "usage": usage}}),
    );
    let mut events = vec![start];
    if model == "claude-overloaded-mid-stream" {
        events.push(delta("Hal"));
        events.push(anthropic_event(overloaded));
        return sse(&events);
    }
    if model == "claude-overloaded-at-start" && asked < 2 {
        events.push(anthropic_event(overloaded));
        return sse(&events);
    }
    if model == "claude-cut" {
        events.push(delta("Hal"));
        events.push("event: content_block_delta\ndata: {\"type\": \"content_bl".to_owned());
        return sse(&events);
    }
    events.extend([
        anthropic_event(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        anthropic_event(json!({"type": "ping"})),
        delta("Hello"),
        delta(" from Claude"),
        anthropic_event(json!({"type": "content_block_stop", "index": 0})),
        anthropic_event(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 4}})),
        anthropic_event(json!({"type": "message_stop"})),
    ]);
    sse(&events)
}

async fn anthropic_models() -> Json<Value> {
    Json(
        json!({"data": [{"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5"}], "has_more": false}),
    )
}

/// Gemini's generateContent, as its reference describes it.
async fn gemini(
    State(fake): State<Fake>,
    Path(call): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("x-goog-api-key").map(|key| key.as_bytes()) != Some(GEMINI_KEY.as_bytes()) {
        let error = json!({"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}});
        return (StatusCode::FORBIDDEN, Json(error)).into_response();
    }
    let (model, method) = call.split_once(':').unwrap();
    let mut recorded = body.clone();
    recorded["model"] = json!(model);
    fake.record(&format!("/v1beta/models/{call}"), &headers, &recorded);
    let usage = json!({"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 57, "cachedContentTokenCount": 8, "thoughtsTokenCount": 40});
    if model == "gemini-blocked" {
        let blocked = json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]}, "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}});
        if method == "streamGenerateContent" {
            return sse(&[format!("data: {blocked}\r\n\r\n")]);
        }
        return Json(blocked).into_response();
    }
    if model == "gemini-malformed" {
        return (
            [(header::CONTENT_TYPE, "application/json")],
            "{\"candidates\": [",
        )
            .into_response();
    }
    let chunk = |text: &str, last: bool| {
        let mut candidate =
            json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
        if last {
            candidate["finishReason"] = json!("STOP");
        }
        let mut response = json!({"candidates": [candidate], "modelVersion": model});
        if last {
            response["usageMetadata"] = usage.clone();
        }
        response
    };
    if method == "streamGenerateContent" {
        return sse(&[
            format!("data: {}\r\n\r\n", chunk("Hello", false)),
            format!("data: {}\r\n\r\n", chunk(" from Gemini", true)),
        ]);
    }
    Json(chunk("Hello from Gemini", true)).into_response()
}

/// Ollama's /api/chat, as its reference describes it.
async fn ollama(State(fake): State<Fake>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    fake.record("/api/chat", &headers, &body);
    let last = json!({"model": body["model"], "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
        "total_duration": 5_000_000_000u64, "prompt_eval_count": 26, "prompt_eval_duration": 260_000_000, "eval_count": 100, "eval_duration": 2_000_000_000u64});
    if body["stream"] == true {
        let piece = |text: &str| {
            format!(
                "{}\n",
                json!({"model": body["model"], "message": {"role": "assistant", "content": text}, "done": false})
            )
        };
        let text = [piece("Hello"), piece(" from Llama"), format!("{last}\n")].concat();
        return ([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response();
    }
    let mut whole = last;
    whole["message"]["content"] = json!("Hello from Llama");
    Json(whole).into_response()
}

/// OpenAI's chat completions as OpenRouter answers them (with its cost).
async fn openrouter(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    fake.record("/v1/chat/completions", &headers, &body);
    Json(json!({"id": "gen-1", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from OpenRouter"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11, "cost": 0.000123}}))
    .into_response()
}

struct Fakes {
    anthropic: Fake,
    gemini: Fake,
    ollama: Fake,
    openrouter: Fake,
    file: tempfile::NamedTempFile,
}

/// Starts the four fakes and writes a providers file naming them.
async fn fakes() -> Fakes {
    let (anthropic_fake, gemini_fake, ollama_fake, openrouter_fake) = (
        Fake::default(),
        Fake::default(),
        Fake::default(),
        Fake::default(),
    );
    let anthropic_url = serve(
        Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/models", get(anthropic_models))
            .with_state(anthropic_fake.clone()),
    )
    .await;
    let gemini_url = serve(
        Router::new()
            .route("/v1beta/models/{call}", post(gemini))
            .route("/v1beta/models", get(|| async { Json(json!({"models": [{"name": "models/gemini-2.0-flash", "supportedGenerationMethods": ["generateContent"]}]})) }))
            .with_state(gemini_fake.clone()),
    )
    .await;
    let ollama_url = serve(
        Router::new()
            .route("/api/chat", post(ollama))
            .route("/api/tags", get(|| async { Json(json!({"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest"}]})) }))
            .with_state(ollama_fake.clone()),
    )
    .await;
    let openrouter_url = serve(
        Router::new()
            .route("/v1/chat/completions", post(openrouter))
            .with_state(openrouter_fake.clone()),
    )
    .await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            r#"
[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "{anthropic_url}"
api_key_env = "PROVIDERS_TEST_ANTHROPIC_KEY"
models = ["claude-haiku-4-5", "claude-overloaded", "claude-always-overloaded", "claude-limited", "claude-invalid", "claude-overloaded-mid-stream", "claude-overloaded-at-start", "claude-cut", "shared"]
max_tokens = 1024
[providers.prices]
"claude-haiku-4-5" = {{ input_per_million = 1.0, output_per_million = 5.0, cached_input_per_million = 0.10, cache_write_per_million = 1.25 }}

[[providers]]
name = "google"
kind = "gemini"
base_url = "{gemini_url}/v1beta"
api_key_env = "PROVIDERS_TEST_GEMINI_KEY"
models = ["gemini-2.0-flash", "gemini-blocked", "gemini-malformed", "shared"]

[[providers]]
name = "local"
kind = "ollama"
base_url = "{ollama_url}"

[[providers]]
name = "openrouter"
kind = "openai"
base_url = "{openrouter_url}/v1"
api_key_env = "PROVIDERS_TEST_OPENAI_KEY"
models = ["anthropic/claude-3.5-haiku"]
requests_per_minute = 2
"#
        ),
    )
    .unwrap();
    Fakes {
        anthropic: anthropic_fake,
        gemini: gemini_fake,
        ollama: ollama_fake,
        openrouter: openrouter_fake,
        file,
    }
}

fn set_keys() {
    // Every test sets the same values: no race between them matters.
    std::env::set_var("PROVIDERS_TEST_ANTHROPIC_KEY", ANTHROPIC_KEY);
    std::env::set_var("PROVIDERS_TEST_GEMINI_KEY", GEMINI_KEY);
    std::env::set_var("PROVIDERS_TEST_OPENAI_KEY", OPENAI_KEY);
}

fn gateway(fakes: &Fakes) -> Router {
    set_keys();
    let config = GatewayConfig::parse_from([
        "gw",
        "--token",
        TOKEN,
        "--providers",
        fakes.file.path().to_str().unwrap(),
    ]);
    router(
        Settings::from_config(config).expect("a usable providers file"),
        None,
    )
}

async fn run(app: Router, path: &str, body: Value) -> Answer {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

async fn get_path(app: Router, path: &str) -> Answer {
    let request = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

fn done_of(answer: &Answer) -> Value {
    let block = answer
        .body
        .rsplit("\n\n")
        .find(|block| !block.trim().is_empty())
        .unwrap();
    let data = block
        .strip_prefix("event: done\ndata: ")
        .unwrap_or_else(|| panic!("{}", answer.body));
    serde_json::from_str(data).unwrap()
}

const EXECUTE: &str = "/api/v1/workbench/execute";
const STREAM: &str = "/api/v1/workbench/execute/stream";

#[tokio::test]
async fn anthropic_gets_the_messages_shape_and_its_usage_prices_cache_reads_and_writes() {
    let fakes = fakes().await;
    let request = json!({"prompt": "Say hello", "model_id": "anthropic/claude-haiku-4-5",
        "context_blocks": ["Be terse.", "Be kind."], "parameters": {"temperature": 0.2, "top_p": 0.9}});
    let answer = run(gateway(&fakes), STREAM, request.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let done = done_of(&answer);
    assert_eq!(done["output"], "Hello from Claude");
    assert_eq!(done["model_id"], "anthropic/claude-haiku-4-5");
    assert_eq!(
        done["usage"]["prompt_tokens"], 3010,
        "input + cache reads + cache writes"
    );
    assert_eq!(
        done["usage"]["prompt_tokens_details"]["cached_tokens"],
        2000
    );
    assert_eq!(
        (
            done["cache_write_tokens"].clone(),
            done["stop_reason"].clone(),
            done["provider"].clone()
        ),
        (json!(1000), json!("end_turn"), json!("anthropic"))
    );
    // 10 at $1, 2,000 read at $0.10, 1,000 written at $1.25, 4 out at $5 per million.
    let expected = (10.0 * 1.0 + 2_000.0 * 0.10 + 1_000.0 * 1.25 + 4.0 * 5.0) / 1e6;
    assert!(
        (done["cost"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{done}"
    );
    assert_eq!(done["cost_source"], "estimated");

    let (path, headers, sent) = fakes.anthropic.last();
    assert_eq!(path, "/v1/messages");
    assert_eq!(headers["x-api-key"], ANTHROPIC_KEY);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert!(
        headers.get(header::AUTHORIZATION).is_none(),
        "Anthropic's key goes in x-api-key only"
    );
    assert_eq!(
        sent,
        json!({"model": "claude-haiku-4-5", "max_tokens": 1024, "stream": true,
        "system": "Be terse.\n\nBe kind.", "temperature": 0.2, "top_p": 0.9,
        "messages": [{"role": "user", "content": "Say hello"}]})
    );

    let plain = run(gateway(&fakes), EXECUTE, request).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_eq!(plain.json()["output"], "Hello from Claude");
    assert_eq!(plain.json()["usage"]["completion_tokens"], 4);
    assert_eq!(fakes.anthropic.last().2["stream"], false);
}

#[tokio::test]
async fn an_overloaded_provider_is_tried_again_and_a_failed_run_says_how_often() {
    let fakes = fakes().await;
    let started = Instant::now();
    let answer = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "anthropic/claude-overloaded"}),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "529, 529, then an answer: {}",
        answer.body
    );
    assert_eq!(answer.json()["tries"], 3);
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "backed off: {:?}",
        started.elapsed()
    );

    let failed = run(
        gateway(&fakes),
        STREAM,
        json!({"prompt": "x", "model_id": "anthropic/claude-always-overloaded"}),
    )
    .await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    let detail = failed.detail();
    assert!(
        detail
            .starts_with("provider anthropic is overloaded (529): Overloaded; tried 3 times over "),
        "{detail}"
    );

    let invalid = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "anthropic/claude-invalid"}),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        invalid.detail(),
        "provider anthropic answered 400: max_tokens: must be at most 8192",
        "another 4xx is not tried again"
    );
    let asked = fakes
        .anthropic
        .all()
        .iter()
        .filter(|(_, _, body)| body["model"] == "claude-invalid")
        .count();
    assert_eq!(asked, 1);
}

#[tokio::test]
async fn a_429_is_tried_again_after_its_retry_after() {
    let fakes = fakes().await;
    let started = Instant::now();
    let answer = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "anthropic/claude-limited"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["tries"], 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_error_event_before_the_first_token_is_tried_again_and_after_it_ends_the_stream() {
    let fakes = fakes().await;
    let answer = run(
        gateway(&fakes),
        STREAM,
        json!({"prompt": "x", "model_id": "anthropic/claude-overloaded-at-start"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(done_of(&answer)["output"], "Hello from Claude");
    assert_eq!(done_of(&answer)["tries"], 2);

    let answer = run(
        gateway(&fakes),
        STREAM,
        json!({"prompt": "x", "model_id": "anthropic/claude-overloaded-mid-stream"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "the stream had begun");
    assert!(
        answer
            .body
            .contains("event: delta\ndata: {\"text\":\"Hal\"}"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("event: error\ndata: {\"detail\":\"provider anthropic is overloaded (overloaded_error): Overloaded\"}"), "{}", answer.body);
    let asked = fakes
        .anthropic
        .all()
        .iter()
        .filter(|(_, _, body)| body["model"] == "claude-overloaded-mid-stream")
        .count();
    assert_eq!(asked, 1, "never tried again once text was passed on");

    let cut = run(
        gateway(&fakes),
        STREAM,
        json!({"prompt": "x", "model_id": "anthropic/claude-cut"}),
    )
    .await;
    assert!(cut.body.contains("event: error\ndata: {\"detail\":\"provider anthropic broke off: its stream ended before the answer was complete\"}"), "{}", cut.body);
}

#[tokio::test]
async fn gemini_gets_its_shape_reports_thinking_tokens_and_a_safety_block_in_words() {
    let fakes = fakes().await;
    let request = json!({"prompt": "Say hello", "model_id": "google/gemini-2.0-flash", "context_blocks": ["Be terse."], "parameters": {"max_tokens": 64}});
    let answer = run(gateway(&fakes), STREAM, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let done = done_of(&answer);
    assert_eq!(done["output"], "Hello from Gemini");
    assert_eq!(
        done["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 45, "total_tokens": 57,
        "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 40}})
    );
    assert_eq!(done["stop_reason"], "STOP");
    let (path, headers, sent) = fakes.gemini.last();
    assert_eq!(
        path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    );
    assert_eq!(
        headers["x-goog-api-key"], GEMINI_KEY,
        "the key in a header, never in the URL"
    );
    assert_eq!(
        sent["systemInstruction"],
        json!({"parts": [{"text": "Be terse."}]})
    );
    assert_eq!(sent["generationConfig"], json!({"maxOutputTokens": 64}));

    for path in [EXECUTE, STREAM] {
        let blocked = run(
            gateway(&fakes),
            path,
            json!({"prompt": "x", "model_id": "google/gemini-blocked"}),
        )
        .await;
        let detail = if blocked.status == StatusCode::OK {
            blocked.body.clone()
        } else {
            blocked.detail()
        };
        assert!(detail.contains("provider google blocked the prompt (SAFETY: HARM_CATEGORY_DANGEROUS_CONTENT rated HIGH)"), "{path}: {detail}");
    }
    let malformed = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "google/gemini-malformed"}),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_GATEWAY);
    assert!(
        malformed
            .detail()
            .starts_with("provider google sent an answer that is not the expected JSON"),
        "{}",
        malformed.detail()
    );
}

#[tokio::test]
async fn ollama_reports_its_servers_timings_and_costs_nothing() {
    let fakes = fakes().await;
    let answer = run(gateway(&fakes), STREAM, json!({"prompt": "Say hello", "model_id": "local/llama3.2:latest", "parameters": {"max_tokens": 32}})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let done = done_of(&answer);
    assert_eq!(done["output"], "Hello from Llama");
    assert_eq!(
        done["timings"],
        json!({"prompt_n": 26, "prompt_ms": 260.0, "prompt_per_second": 100.0,
        "predicted_n": 100, "predicted_ms": 2000.0, "predicted_per_second": 50.0})
    );
    assert_eq!(
        (done["cost"].clone(), done["cost_source"].clone()),
        (json!(0.0), json!("local"))
    );
    let (path, _, sent) = fakes.ollama.last();
    assert_eq!(path, "/api/chat");
    assert_eq!(
        sent,
        json!({"model": "llama3.2:latest", "stream": true, "options": {"num_predict": 32},
        "messages": [{"role": "user", "content": "Say hello"}]})
    );
}

#[tokio::test]
async fn a_cost_the_provider_reports_is_recorded_as_reported_and_its_minute_cap_holds() {
    let fakes = fakes().await;
    let app = gateway(&fakes);
    let id = "openrouter/anthropic/claude-3.5-haiku";
    let answer = run(app.clone(), EXECUTE, json!({"prompt": "x", "model_id": id})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        (
            answer.json()["cost"].clone(),
            answer.json()["cost_source"].clone()
        ),
        (json!(0.000123), json!("reported"))
    );
    assert_eq!(
        fakes.openrouter.last().2["model"],
        "anthropic/claude-3.5-haiku",
        "the id after the provider's name, slashes and all"
    );
    assert_eq!(
        fakes.openrouter.last().1[header::AUTHORIZATION],
        format!("Bearer {OPENAI_KEY}")
    );
    assert_eq!(
        run(app.clone(), EXECUTE, json!({"prompt": "x", "model_id": id}))
            .await
            .status,
        StatusCode::OK
    );
    let capped = run(app, EXECUTE, json!({"prompt": "x", "model_id": id})).await;
    assert_eq!(capped.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        capped
            .detail()
            .contains("provider openrouter takes 2 requests a minute"),
        "{}",
        capped.detail()
    );
    assert!(capped.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn every_providers_models_are_listed_namespaced_and_bare_ids_resolve_when_unique() {
    let fakes = fakes().await;
    let models = get_path(gateway(&fakes), "/api/v1/models").await.json();
    let ids: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    for id in [
        "offline-echo",
        "anthropic/claude-haiku-4-5",
        "google/gemini-2.0-flash",
        "local/llama3.2:latest",
        "openrouter/anthropic/claude-3.5-haiku",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let gemini = models
        .as_array()
        .unwrap()
        .iter()
        .find(|model| model["id"] == "google/gemini-2.0-flash")
        .unwrap();
    assert_eq!(
        (gemini["provider"].clone(), gemini["metadata"].clone()),
        (
            json!("google"),
            json!({"provider": "google", "adapter": "gemini"})
        )
    );

    let bare = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "claude-haiku-4-5"}),
    )
    .await;
    assert_eq!(
        bare.status,
        StatusCode::OK,
        "one provider offers it: {}",
        bare.body
    );
    assert_eq!(bare.json()["provider"], "anthropic");
    let ambiguous = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "shared"}),
    )
    .await;
    assert_eq!(ambiguous.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        ambiguous.detail(),
        "model shared is offered by several providers: name one of anthropic/shared, google/shared"
    );
    let unknown = run(
        gateway(&fakes),
        EXECUTE,
        json!({"prompt": "x", "model_id": "anthropic/claude-9"}),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.detail()),
        (
            StatusCode::NOT_FOUND,
            "unknown model: anthropic/claude-9".to_owned()
        )
    );
}

#[tokio::test]
async fn one_batch_runs_on_four_providers_side_by_side() {
    let fakes = fakes().await;
    let ids = [
        "anthropic/claude-haiku-4-5",
        "google/gemini-2.0-flash",
        "local/llama3.2:latest",
        "openrouter/anthropic/claude-3.5-haiku",
        "offline-echo",
    ];
    let answer = run(
        gateway(&fakes),
        "/api/v1/execute",
        json!({"prompt": "Say hello", "model_ids": ids}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let outputs: Vec<String> = answer
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["output"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        &outputs[..4],
        [
            "Hello from Claude",
            "Hello from Gemini",
            "Hello from Llama",
            "Hello from OpenRouter"
        ]
    );
    assert!(outputs[4].starts_with("Offline demo answer"), "{outputs:?}");
}

/// The entry of provider `name` in a providers answer's list.
fn entry<'a>(providers: &'a Value, name: &str) -> &'a Value {
    providers["providers"]
        .as_array()
        .expect("a list of providers")
        .iter()
        .find(|entry| entry["name"] == name)
        .unwrap_or_else(|| panic!("no provider {name} in {providers}"))
}

#[tokio::test]
async fn providers_report_each_configured_provider_and_neuroforges_summaries() {
    let fakes = fakes().await;
    let app = gateway(&fakes);
    let _ = run(
        app.clone(),
        EXECUTE,
        json!({"prompt": "x", "model_id": "anthropic/claude-invalid"}),
    )
    .await;
    let providers = get_path(app, "/api/v1/providers").await.json();
    let names: Vec<&str> = providers["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["anthropic", "google", "local", "openrouter"],
        "in the order configured"
    );
    assert_eq!(
        providers["anthropic"]["configured"], true,
        "a configured anthropic provider makes anthropic configured"
    );
    assert_eq!(providers["anthropic"]["available"], true);
    assert_eq!(
        providers["anthropic"].get("name"),
        None,
        "the summary keeps NeuroForge's shape"
    );
    // The provider named like the summary still has its own full entry.
    let anthropic = entry(&providers, "anthropic");
    assert_eq!(
        (anthropic["adapter"].clone(), anthropic["reachable"].clone()),
        (json!("anthropic"), json!(true))
    );
    assert_eq!(
        anthropic["last_error"],
        "provider anthropic answered 400: max_tokens: must be at most 8192"
    );
    assert!(anthropic["last_error_at"].is_string(), "{anthropic}");
    assert_eq!(providers["ollama"]["configured"], true);
    assert_eq!(
        (
            providers["google"]["configured"].clone(),
            providers["google"]["available"].clone()
        ),
        (json!(true), json!(true)),
        "Gemini has a summary too"
    );
    assert_eq!(
        (
            entry(&providers, "openrouter")["type"].clone(),
            providers["openai"]["configured"].clone()
        ),
        (json!("local"), json!(false)),
        "an OpenAI-compatible server on loopback counts as local, as before"
    );
    let google = entry(&providers, "google");
    assert_eq!(
        (
            google["configured"].clone(),
            google["available"].clone(),
            google["adapter"].clone()
        ),
        (json!(true), json!(true), json!("gemini"))
    );
    assert_eq!(google["checked_by"], "listing its models");
    assert!(
        google["checked_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{google}"
    );
    let openrouter = entry(&providers, "openrouter");
    assert_eq!(
        (
            openrouter["available"].clone(),
            openrouter["reachable"].clone()
        ),
        (json!(false), json!(true)),
        "the fake lists no models, but answers: {openrouter}"
    );
    assert!(
        openrouter["last_error"]
            .as_str()
            .unwrap()
            .starts_with("provider openrouter answered 404"),
        "{openrouter}"
    );
}

/// An OpenAI-compatible fake whose answer takes as many milliseconds as
/// its model's name says (`wait-300`), counting the requests at once.
async fn slow_openai(
    State(running): State<Arc<Mutex<(usize, usize)>>>,
    Json(body): Json<Value>,
) -> Response {
    let millis: u64 = body["model"]
        .as_str()
        .and_then(|model| model.strip_prefix("wait-"))
        .and_then(|millis| millis.parse().ok())
        .unwrap_or(0);
    {
        let mut running = running.lock().unwrap();
        running.0 += 1;
        running.1 = running.1.max(running.0);
    }
    tokio::time::sleep(Duration::from_millis(millis)).await;
    running.lock().unwrap().0 -= 1;
    Json(json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "in turn"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}))
    .into_response()
}

/// A gateway whose only providers are written in `file_text`, `{url}`
/// replaced by the URL of a fresh [`slow_openai`]; and the fake's
/// (running now, most at once).
async fn slow_gateway(
    file_text: &str,
) -> (Router, Arc<Mutex<(usize, usize)>>, tempfile::NamedTempFile) {
    let running = Arc::new(Mutex::new((0, 0)));
    let url = serve(
        Router::new()
            .route("/v1/chat/completions", post(slow_openai))
            .with_state(running.clone()),
    )
    .await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), file_text.replace("{url}", &url)).unwrap();
    let config = GatewayConfig::parse_from([
        "gw",
        "--token",
        TOKEN,
        "--providers",
        file.path().to_str().unwrap(),
    ]);
    (
        router(Settings::from_config(config).unwrap(), None),
        running,
        file,
    )
}

#[tokio::test]
async fn past_its_cap_a_request_waits_its_turn_and_only_a_long_wait_is_refused() {
    let (app, running, _file) = slow_gateway(
        r#"
[[providers]]
name = "patient"
kind = "openai"
base_url = "{url}/v1"
models = ["wait-300"]
max_concurrent = 1
queue_timeout_seconds = 10

[[providers]]
name = "hurried"
kind = "openai"
base_url = "{url}/v1"
models = ["wait-2500"]
max_concurrent = 1
queue_timeout_seconds = 1
"#,
    )
    .await;
    // A batch of four cells on one provider that takes one at a time.
    let started = Instant::now();
    let batch = run(
        app.clone(),
        "/api/v1/execute",
        json!({"prompt": "x", "model_ids": ["patient/wait-300", "patient/wait-300", "patient/wait-300", "patient/wait-300"]}),
    )
    .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    for cell in batch.json().as_array().unwrap() {
        assert_eq!(cell["output"], "in turn", "each waited its turn: {cell}");
    }
    assert_eq!(running.lock().unwrap().1, 1, "never two at once");
    assert!(
        started.elapsed() >= Duration::from_millis(1_200),
        "one after another: {:?}",
        started.elapsed()
    );

    // Waiting longer than queue_timeout_seconds is refused, naming why.
    let request = || {
        run(
            app.clone(),
            EXECUTE,
            json!({"prompt": "x", "model_id": "hurried/wait-2500"}),
        )
    };
    let (first, second) = tokio::join!(request(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        request().await
    });
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        second.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        second.body
    );
    assert_eq!(
        second.detail(),
        "provider hurried is already running 1 requests for this gateway (max_concurrent in the providers file), and this one waited 1 s for a turn (queue_timeout_seconds); try again in 1 s"
    );
    assert_eq!(second.headers[header::RETRY_AFTER], "1");
}

/// A listener that closes its first `drop` connections unanswered, as a
/// provider restarting, or a flaky proxy in front of it, does.
struct Resetting {
    inner: tokio::net::TcpListener,
    drop: usize,
}

impl axum::serve::Listener for Resetting {
    type Io = tokio::net::TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, address) = self.inner.accept().await.unwrap();
            if self.drop == 0 {
                return (stream, address);
            }
            self.drop -= 1;
            drop(stream);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[tokio::test]
async fn a_connection_reset_before_any_answer_is_tried_again_and_a_provider_never_reached_is_reported_so(
) {
    let inner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", inner.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/chat/completions", post(openrouter))
        .with_state(Fake::default());
    tokio::spawn(async move { axum::serve(Resetting { inner, drop: 2 }, app).await });
    // Nothing listens where `nowhere` is: a port bound, then let go.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "[[providers]]\nname = \"flaky\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\nmodels = [\"m\"]\n\n\
             [[providers]]\nname = \"nowhere\"\nkind = \"openai\"\nbase_url = \"http://{nowhere}/v1\"\nmodels = [\"m\"]\n"
        ),
    )
    .unwrap();
    let config = GatewayConfig::parse_from([
        "gw",
        "--token",
        TOKEN,
        "--providers",
        file.path().to_str().unwrap(),
    ]);
    let app = router(Settings::from_config(config).unwrap(), None);

    let answer = run(
        app.clone(),
        EXECUTE,
        json!({"prompt": "x", "model_id": "flaky/m"}),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "two resets, then an answer: {}",
        answer.body
    );
    assert_eq!(answer.json()["tries"], 3);

    let failed = run(
        app.clone(),
        STREAM,
        json!({"prompt": "x", "model_id": "nowhere/m"}),
    )
    .await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    assert!(
        failed
            .detail()
            .starts_with("provider nowhere could not be reached: ")
            && failed.detail().contains("; tried 3 times over "),
        "{}",
        failed.detail()
    );
    let providers = get_path(app, "/api/v1/providers").await.json();
    let nowhere = entry(&providers, "nowhere");
    assert_eq!(
        (nowhere["reachable"].clone(), nowhere["available"].clone()),
        (json!(false), json!(false)),
        "{nowhere}"
    );
    assert!(
        nowhere["last_error"]
            .as_str()
            .unwrap()
            .starts_with("provider nowhere could not be reached"),
        "{nowhere}"
    );
    assert_eq!(entry(&providers, "flaky")["reachable"], true);
}

#[tokio::test]
async fn no_key_appears_in_logs_answers_or_errors() {
    let logs = support::logs::Captured::default();
    let _guard = logs.start(tracing::Level::TRACE);

    let fakes = fakes().await;
    let mut seen = String::new();
    for (path, model) in [
        (EXECUTE, "anthropic/claude-haiku-4-5"),
        (STREAM, "anthropic/claude-invalid"),
        (STREAM, "anthropic/claude-always-overloaded"),
        (EXECUTE, "google/gemini-blocked"),
        (STREAM, "google/gemini-malformed"),
        (EXECUTE, "openrouter/anthropic/claude-3.5-haiku"),
    ] {
        let answer = run(
            gateway(&fakes),
            path,
            json!({"prompt": "x", "model_id": model}),
        )
        .await;
        seen.push_str(&answer.body);
    }
    for path in ["/api/v1/models", "/api/v1/providers"] {
        seen.push_str(&get_path(gateway(&fakes), path).await.body);
    }
    // A wrong key: the provider's refusal is relayed, the key is not.
    std::env::set_var("PROVIDERS_TEST_WRONG_KEY", "sk-ant-wrong-0123456789");
    let file = std::fs::read_to_string(fakes.file.path())
        .unwrap()
        .replace("PROVIDERS_TEST_ANTHROPIC_KEY", "PROVIDERS_TEST_WRONG_KEY");
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), file).unwrap();
    let config = GatewayConfig::parse_from([
        "gw",
        "--token",
        TOKEN,
        "--providers",
        wrong.path().to_str().unwrap(),
    ]);
    let settings = Settings::from_config(config).unwrap();
    seen.push_str(&format!("{settings:?}"));
    let refused = run(
        router(settings, None),
        EXECUTE,
        json!({"prompt": "x", "model_id": "anthropic/claude-haiku-4-5"}),
    )
    .await;
    assert_eq!(
        refused.detail(),
        "provider anthropic answered 401: invalid x-api-key"
    );
    seen.push_str(&refused.body);

    let logged = logs.text();
    assert!(
        logged.contains("provider failed"),
        "the failures were logged: {logged}"
    );
    for key in [
        ANTHROPIC_KEY,
        GEMINI_KEY,
        OPENAI_KEY,
        "sk-ant-wrong-0123456789",
    ] {
        assert!(!seen.contains(key), "{key} in an answer");
        assert!(!logged.contains(key), "{key} in the log");
    }
}

#[test]
fn a_bad_providers_file_stops_the_gateway_at_start_with_its_line() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[[providers]]\nname = \"anthropic\"\nkind = \"anthropic\"\napi_key = \"sk-ant-in-the-file\"\n").unwrap();
    let (code, stderr) =
        support::process::refused_start(&["--providers".into(), file.path().display().to_string()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("providers file {}, line 4: provider anthropic has an api_key: keys are never written in the file", file.path().display())), "{stderr}");
    assert!(!stderr.contains("sk-ant-in-the-file"), "{stderr}");
}
