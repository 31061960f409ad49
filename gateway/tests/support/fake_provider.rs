//! Fake providers on loopback: real axum servers answering in a provider's
//! published wire format and recording what they were sent. The gateway's
//! provider tests build their fakes on these parts; the command line's
//! tests (`cli/tests/`) include this file too, for [`openai`], to run
//! `prompt-runs eval --providers` against it.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// What a fake received: (path, headers, body), and how often each model
/// was asked (for failures that pass after a few tries).
#[derive(Clone, Default)]
pub struct Fake {
    received: Arc<Mutex<Vec<(String, HeaderMap, Value)>>>,
}

impl Fake {
    /// Records a request; how many requests named its model so far.
    pub fn record(&self, path: &str, headers: &HeaderMap, body: &Value) -> usize {
        let mut received = self.received.lock().unwrap();
        received.push((path.to_owned(), headers.clone(), body.clone()));
        received
            .iter()
            .filter(|(_, _, sent)| sent.get("model") == body.get("model"))
            .count()
    }

    /// The last request recorded.
    pub fn last(&self) -> (String, HeaderMap, Value) {
        self.received.lock().unwrap().last().cloned().unwrap()
    }

    /// Every request recorded, in order.
    pub fn all(&self) -> Vec<(String, HeaderMap, Value)> {
        self.received.lock().unwrap().clone()
    }
}

/// Serves `app` on a free loopback port, on the current runtime; its URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A server-sent event stream of `events`, each already framed.
pub fn sse(events: &[String]) -> Response {
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        events.concat(),
    )
        .into_response()
}

/// An OpenAI-compatible provider (`POST /v1/chat/completions`, `GET
/// /v1/models` listing `models`) that lets in only `Authorization: Bearer
/// <key>` (else OpenAI's 401), records each completion request in `fake`,
/// and answers `You said: <the user's message>`, streamed (with the usage
/// chunk `stream_options.include_usage` asks for) or whole.
pub fn openai(fake: Fake, key: &'static str, models: &'static [&'static str]) -> Router {
    let authorized = move |headers: &HeaderMap| {
        headers
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes())
            == Some(format!("Bearer {key}").as_bytes())
    };
    let refused = || {
        let error = json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}});
        (StatusCode::UNAUTHORIZED, Json(error)).into_response()
    };
    let listing = move |headers: HeaderMap| async move {
        if !authorized(&headers) {
            return refused();
        }
        let data: Vec<Value> = (models.iter())
            .map(|id| json!({"id": id, "object": "model", "owned_by": "fake"}))
            .collect();
        Json(json!({"object": "list", "data": data})).into_response()
    };
    let completions = move |headers: HeaderMap, Json(body): Json<Value>| async move {
        if !authorized(&headers) {
            return refused();
        }
        fake.record("/v1/chat/completions", &headers, &body);
        let asked = (body["messages"].as_array().into_iter().flatten())
            .filter(|message| message["role"] == "user")
            .filter_map(|message| message["content"].as_str())
            .next_back()
            .unwrap_or_default()
            .to_owned();
        let answer = format!("You said: {asked}");
        let usage = json!({"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13});
        if body["stream"] != true {
            return Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": usage}))
            .into_response();
        }
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            )
        };
        let (first, rest) = answer.split_at(answer.len().min("You said:".len()));
        sse(&[
            chunk(json!({"role": "assistant", "content": first}), Value::Null),
            chunk(json!({"content": rest}), Value::Null),
            chunk(json!({}), json!("stop")),
            format!("data: {}\n\n", json!({"choices": [], "usage": usage})),
            "data: [DONE]\n\n".to_owned(),
        ])
    };
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(listing))
}
