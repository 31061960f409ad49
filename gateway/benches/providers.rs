//! The gateway's own cost per request through each provider adapter
//! (`cargo bench -p prompt-runs-gateway --bench providers`; `cargo xtask
//! bench` runs it and keeps its report). Four mock providers run in this
//! process on loopback, each answering at once in its API's wire format
//! (OpenAI's chat completions, Anthropic's Messages, Gemini's
//! generateContent, Ollama's /api/chat); the real gateway binary (release
//! build) is started with a providers file naming them. Then:
//!
//! 1. for each adapter, streamed and plain: the same request sent 500
//!    times, one at a time, straight to the mock and through the gateway;
//!    the gateway's overhead is the difference of the two;
//! 2. 500 streams at once, spread over the four providers, each mock now
//!    spreading its answer over 200 ms (so that the streams overlap), and
//!    the Gemini one answering 429 to every other request: the gateway's
//!    peak memory (VmHWM), and how the requests ended.
//!
//! Every request through the gateway is checked: the whole answer, exactly
//! (for streams, a last `done` event carrying it), or a clear error that
//! names the provider. Anything else fails the benchmark. Figures, not
//! pass/fail on time: the machine is shared. Bounded in count; it sends
//! nothing beyond 127.0.0.1 and stops by itself.

mod support;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::stream::{self, StreamExt};
use prompt_runs::api::wire::ExecuteResponse;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{thousands, Gateway};

/// Requests per row of the overhead table, one at a time.
const SEQUENTIAL: usize = 500;
/// Streams at once in the memory phase.
const STREAMS: usize = 500;
/// The answer every mock gives, in these pieces.
const PIECES: [&str; 8] = [
    "The ", "gateway ", "relays ", "this ", "answer ", "piece ", "by ", "piece.",
];
/// How long a paced answer takes, spread over its pieces.
const PACED_OVER: Duration = Duration::from_millis(200);
const PROMPT: &str = "Say something a benchmark can check";

/// The four adapters, as the providers file names them.
const KINDS: [&str; 4] = ["openai", "anthropic", "gemini", "ollama"];

/// What a mock was asked to do, from the model named in the request:
/// `now` answers at once, `paced` spreads its answer over [`PACED_OVER`],
/// `flaky` is paced and answers 429 to every other request.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Now,
    Paced,
    Flaky,
}

impl Mode {
    fn of(model: &str) -> Mode {
        match model {
            "paced" => Mode::Paced,
            "flaky" => Mode::Flaky,
            _ => Mode::Now,
        }
    }
}

/// A mock of one provider kind, counting requests (for `flaky`).
#[derive(Clone)]
struct Mock {
    kind: &'static str,
    asked: Arc<AtomicUsize>,
}

/// The answer's pieces in `kind`'s stream format, then its end.
fn stream_events(kind: &str, model: &str) -> Vec<String> {
    let data = |value: Value| format!("data: {value}\n\n");
    let mut events: Vec<String> = Vec::new();
    match kind {
        "openai" => {
            for piece in PIECES {
                events.push(data(json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]})));
            }
            events.push(data(
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ));
            events.push(data(json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17}})));
            events.push("data: [DONE]\n\n".to_owned());
        }
        "anthropic" => {
            let event = |value: Value| {
                format!(
                    "event: {}\ndata: {value}\n\n",
                    value["type"].as_str().unwrap()
                )
            };
            events.push(event(json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model, "usage": {"input_tokens": 9, "output_tokens": 1}}})));
            events.push(event(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
            for piece in PIECES {
                events.push(event(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
            }
            events.push(event(json!({"type": "content_block_stop", "index": 0})));
            events.push(event(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 8}})));
            events.push(event(json!({"type": "message_stop"})));
        }
        "gemini" => {
            for (at, piece) in PIECES.iter().enumerate() {
                let mut chunk = json!({"candidates": [{"content": {"parts": [{"text": piece}], "role": "model"}, "index": 0}]});
                if at == PIECES.len() - 1 {
                    chunk["candidates"][0]["finishReason"] = json!("STOP");
                    chunk["usageMetadata"] = json!({"promptTokenCount": 9, "candidatesTokenCount": 8, "totalTokenCount": 17});
                }
                events.push(format!("data: {chunk}\r\n\r\n"));
            }
        }
        _ => {
            for piece in PIECES {
                events.push(format!("{}\n", json!({"model": model, "message": {"role": "assistant", "content": piece}, "done": false})));
            }
            events.push(format!("{}\n", json!({"model": model, "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
                "prompt_eval_count": 9, "prompt_eval_duration": 1_000_000, "eval_count": 8, "eval_duration": 8_000_000})));
        }
    }
    events
}

/// The whole answer in `kind`'s format.
fn whole_answer(kind: &str, model: &str) -> Value {
    let text = PIECES.concat();
    match kind {
        "openai" => {
            json!({"id": "c1", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 8, "total_tokens": 17}})
        }
        "anthropic" => {
            json!({"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "usage": {"input_tokens": 9, "output_tokens": 8}})
        }
        "gemini" => {
            json!({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 8, "totalTokenCount": 17}})
        }
        _ => {
            json!({"model": model, "message": {"role": "assistant", "content": text}, "done": true, "done_reason": "stop",
            "prompt_eval_count": 9, "eval_count": 8})
        }
    }
}

/// Answers one request: the model (and, for Gemini, the method) comes from
/// the body or the path, as the provider's API puts it.
async fn answer(mock: Mock, model: String, streamed: bool) -> Response {
    let mode = Mode::of(&model);
    let asked = mock.asked.fetch_add(1, Ordering::Relaxed);
    if mode == Mode::Flaky && asked.is_multiple_of(2) {
        let error = json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}});
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "0")],
            Json(error),
        )
            .into_response();
    }
    if !streamed {
        return Json(whole_answer(mock.kind, &model)).into_response();
    }
    let events = stream_events(mock.kind, &model);
    let content_type = if mock.kind == "ollama" {
        "application/x-ndjson"
    } else {
        "text/event-stream"
    };
    let body = if mode == Mode::Now {
        axum::body::Body::from(events.concat())
    } else {
        let gap = PACED_OVER / events.len() as u32;
        let paced = stream::iter(events).then(move |event| async move {
            tokio::time::sleep(gap).await;
            Ok::<_, std::convert::Infallible>(event)
        });
        axum::body::Body::from_stream(paced)
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn by_body(State(mock): State<Mock>, Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    answer(mock, model, body["stream"] == true).await
}

async fn by_path(State(mock): State<Mock>, Path(call): Path<String>) -> Response {
    let (model, method) = call.split_once(':').unwrap_or((&call, ""));
    answer(mock, model.to_owned(), method == "streamGenerateContent").await
}

/// Starts the mock of `kind` on loopback; its base URL as the providers
/// file gives it.
async fn start_mock(kind: &'static str) -> String {
    let mock = Mock {
        kind,
        asked: Arc::default(),
    };
    let (app, suffix) = match kind {
        "openai" => (
            Router::new().route("/v1/chat/completions", post(by_body)),
            "/v1",
        ),
        "anthropic" => (Router::new().route("/v1/messages", post(by_body)), ""),
        "gemini" => (
            Router::new().route("/v1beta/models/{call}", post(by_path)),
            "/v1beta",
        ),
        _ => (Router::new().route("/api/chat", post(by_body)), ""),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let url = format!("http://{}{suffix}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app.with_state(mock)).await });
    url
}

/// The request the gateway sends to `kind`'s mock for `model`: the path
/// under its base URL and the body (for the straight-to-the-mock baseline).
fn direct_request(kind: &str, model: &str, streamed: bool) -> (String, Value) {
    let messages = json!([{"role": "user", "content": PROMPT}]);
    match kind {
        "openai" => (
            "/chat/completions".to_owned(),
            json!({"model": model, "messages": messages, "stream": streamed}),
        ),
        "anthropic" => (
            "/v1/messages".to_owned(),
            json!({"model": model, "messages": messages, "stream": streamed, "max_tokens": 4096}),
        ),
        "gemini" => {
            let method = if streamed {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            (
                format!("/models/{model}:{method}"),
                json!({"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}),
            )
        }
        _ => (
            "/api/chat".to_owned(),
            json!({"model": model, "messages": messages, "stream": streamed}),
        ),
    }
}

/// How one request through the gateway ended.
enum Outcome {
    /// The whole answer, exactly, after this long.
    Complete(Duration),
    /// An error that names the provider (its status, or `stream` for an
    /// `error` event), in words.
    ClearError(String),
    /// Anything else: what went wrong.
    Broken(String),
}

/// One request through the gateway to `provider/model`, checked.
async fn through_gateway(
    http: &reqwest::Client,
    gateway: &str,
    provider: &str,
    model: &str,
    streamed: bool,
) -> Outcome {
    let started = Instant::now();
    let path = if streamed {
        "/api/v1/workbench/execute/stream"
    } else {
        "/api/v1/workbench/execute"
    };
    let body = json!({"prompt": PROMPT, "model_id": format!("{provider}/{model}")});
    let response = match http
        .post(format!("{gateway}{path}"))
        .json(&body)
        .send()
        .await
    {
        Ok(response) => response,
        Err(error) => return Outcome::Broken(error.to_string()),
    };
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(error) => return Outcome::Broken(format!("{status}: the body broke off: {error}")),
    };
    let names_provider = |detail: &str| detail.contains(&format!("provider {provider} "));
    if status != 200 {
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|body| body["detail"].as_str().map(str::to_owned));
        return match detail {
            Some(detail) if names_provider(&detail) => {
                Outcome::ClearError(format!("{}", status.as_u16()))
            }
            _ => Outcome::Broken(format!("{status} without a clear detail: {text:.200}")),
        };
    }
    let json = if streamed {
        match support::last_event(&text) {
            Some(("error", error)) => {
                return match serde_json::from_str::<Value>(error) {
                    Ok(error) if error["detail"].as_str().is_some_and(names_provider) => {
                        Outcome::ClearError("stream".to_owned())
                    }
                    _ => Outcome::Broken(format!("an unclear error event: {error:.200}")),
                }
            }
            Some(("done", data)) => data.to_owned(),
            _ => return Outcome::Broken(format!("the stream did not end with done: {text:.200}")),
        }
    } else {
        text
    };
    match serde_json::from_str::<ExecuteResponse>(&json) {
        Ok(answer) if answer.output == PIECES.concat() => Outcome::Complete(started.elapsed()),
        Ok(answer) => Outcome::Broken(format!("a wrong answer: {:.200}", answer.output)),
        Err(error) => Outcome::Broken(format!("not an answer ({error}): {json:.200}")),
    }
}

/// One request straight to a mock, its whole body read: the baseline.
async fn straight_to_mock(
    http: &reqwest::Client,
    base: &str,
    kind: &str,
    streamed: bool,
) -> Result<Duration, String> {
    let started = Instant::now();
    let (path, body) = direct_request(kind, "now", streamed);
    let response = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the {kind} mock answered {}", response.status()));
    }
    let body = response.bytes().await.map_err(|error| error.to_string())?;
    if body.is_empty() {
        return Err(format!("the {kind} mock answered nothing"));
    }
    Ok(started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// The overhead row of `kind`, streamed or plain; `Err` if a request broke.
async fn overhead_row(
    http: &reqwest::Client,
    gateway: &str,
    base: &str,
    kind: &'static str,
    streamed: bool,
) -> Result<String, String> {
    let mut direct = Vec::with_capacity(SEQUENTIAL);
    let mut through = Vec::with_capacity(SEQUENTIAL);
    // Alternated, so that both see the machine in the same state.
    for _ in 0..SEQUENTIAL {
        direct.push(straight_to_mock(http, base, kind, streamed).await?);
        match through_gateway(http, gateway, kind, "now", streamed).await {
            Outcome::Complete(latency) => through.push(latency),
            Outcome::ClearError(status) => {
                return Err(format!(
                    "{kind}: an error ({status}) from a mock that always answers"
                ))
            }
            Outcome::Broken(why) => return Err(format!("{kind}: {why}")),
        }
    }
    direct.sort_unstable();
    through.sort_unstable();
    let (d50, d99, t50, t99) = (
        percentile(&direct, 0.5),
        percentile(&direct, 0.99),
        percentile(&through, 0.5),
        percentile(&through, 0.99),
    );
    Ok(format!(
        "| {kind} | {} | {} / {} | {} / {} | {} / {} |",
        if streamed { "streamed" } else { "plain" },
        ms(d50),
        ms(d99),
        ms(t50),
        ms(t99),
        ms(t50.saturating_sub(d50)),
        ms(t99.saturating_sub(d99)),
    ))
}

#[tokio::main]
async fn main() {
    let mut bases = Vec::new();
    for kind in KINDS {
        bases.push(start_mock(kind).await);
    }
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    let mut providers = String::new();
    for (kind, base) in KINDS.iter().zip(&bases) {
        // Named like its kind; as many requests at once as the memory phase
        // sends it, so that it measures streams, not the queue.
        providers += &format!(
            "[[providers]]\nname = \"{kind}\"\nkind = \"{kind}\"\nbase_url = \"{base}\"\nmodels = [\"now\", \"paced\", \"flaky\"]\nmax_concurrent = {STREAMS}\n\n"
        );
    }
    std::fs::write(file.path(), providers).expect("the providers file written");
    let gateway = Gateway::start(&[
        "--requests-per-minute",
        "0",
        "--providers",
        file.path().to_str().unwrap(),
    ]);
    let at_start = gateway.peak_memory_kib();

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(STREAMS)
        .build()
        .expect("an HTTP client");
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for (kind, base) in KINDS.iter().zip(&bases) {
        for streamed in [true, false] {
            match overhead_row(&http, &gateway.url, base, kind, streamed).await {
                Ok(row) => rows.push(row),
                Err(problem) => failed.push(problem),
            }
        }
    }

    let started = Instant::now();
    let outcomes: Vec<(usize, Outcome)> = stream::iter(0..STREAMS)
        .map(|at| {
            let (http, url) = (&http, &gateway.url);
            async move {
                let kind = KINDS[at % KINDS.len()];
                let model = if kind == "gemini" { "flaky" } else { "paced" };
                (
                    at % KINDS.len(),
                    through_gateway(http, url, kind, model, true).await,
                )
            }
        })
        .buffer_unordered(STREAMS)
        .collect()
        .await;
    let wall = started.elapsed();
    let peak = gateway.peak_memory_kib();
    drop(gateway);

    let mut ended = String::new();
    for (at, kind) in KINDS.iter().enumerate() {
        let mine = outcomes
            .iter()
            .filter(|(of, _)| *of == at)
            .map(|(_, outcome)| outcome);
        let (mut complete, mut errors, mut latencies) = (0, Vec::new(), Vec::new());
        for outcome in mine {
            match outcome {
                Outcome::Complete(latency) => {
                    complete += 1;
                    latencies.push(*latency);
                }
                Outcome::ClearError(status) => errors.push(status.clone()),
                Outcome::Broken(why) => failed.push(format!("{kind} in the crowd: {why}")),
            }
        }
        latencies.sort_unstable();
        errors.sort();
        errors.dedup_by(|a, b| a == b);
        ended += &format!(
            "| {kind}{} | {complete} complete (p50 {}, p99 {}) | {} |\n",
            if *kind == "gemini" {
                " (429 to every other request)"
            } else {
                ""
            },
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            if errors.is_empty() {
                "none".to_owned()
            } else {
                format!(
                    "{} clear errors ({})",
                    STREAMS / 4 - complete,
                    errors.join(", ")
                )
            },
        );
    }

    println!(
        "## The providers' adapters (loopback, release build, mock providers answering at once)\n"
    );
    println!(
        "{} requests per row, one at a time, straight to the mock and through the gateway (alternated); the overhead is the difference.\n",
        thousands(SEQUENTIAL)
    );
    println!("| adapter | answer | straight to the mock, p50 / p99 | through the gateway, p50 / p99 | gateway overhead, p50 / p99 |\n| --- | --- | ---: | ---: | ---: |");
    for row in rows {
        println!("{row}");
    }
    println!(
        "\n{} streams at once, a quarter on each provider, each answer spread over {} ms; wall time {:.2} s:\n",
        thousands(STREAMS),
        PACED_OVER.as_millis(),
        wall.as_secs_f64()
    );
    println!("| provider | answers | errors (naming the provider) |\n| --- | --- | --- |");
    print!("{ended}");
    match (at_start, peak) {
        (Some(start), Some(peak)) => println!(
            "\nGateway peak memory (VmHWM): {:.1} MiB after start, {:.1} MiB after the {} streams",
            start as f64 / 1024.0,
            peak as f64 / 1024.0,
            thousands(STREAMS)
        ),
        _ => println!("\nGateway peak memory: unknown (no /proc/<pid>/status)"),
    }
    if !failed.is_empty() {
        eprintln!(
            "{} requests got neither the whole answer nor a clear error; the first: {}",
            failed.len(),
            failed[0]
        );
        std::process::exit(1);
    }
}
