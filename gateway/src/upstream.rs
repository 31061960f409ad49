//! Forwarding to an OpenAI-compatible upstream (OpenAI, Ollama, llama.cpp's
//! server, vLLM): its model list, and prompts run through its
//! `/chat/completions`, plainly or streamed. The API key stays here: it is
//! sent to the upstream only, never to the browser.

use crate::problem::Problem;
use axum::http::StatusCode;
use futures::stream::{BoxStream, StreamExt};
use prompt_runs::api::wire::{ExecuteRequest, Usage};
use prompt_runs::api::SseDecoder;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a model listing may take before the upstream counts as unavailable.
const LISTING_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a model listing is reused: the app asks on every page load and
/// every settings change, and a slow upstream should not slow each of them.
const LISTING_FRESH_FOR: Duration = Duration::from_secs(30);
/// How long a failed listing is reused, so that requests arriving while the
/// upstream is down do not each wait out the timeout again.
const FAILED_LISTING_FRESH_FOR: Duration = Duration::from_secs(5);
/// How long connecting to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A configured upstream.
pub struct Upstream {
    base_url: String,
    key: Option<String>,
    offered: Vec<String>,
    http: reqwest::Client,
    /// The last listing; the lock is held while asking, so concurrent
    /// requests share one listing.
    listing: Mutex<Option<Listing>>,
}

/// A model listing and when the upstream was asked for it.
struct Listing {
    asked: Instant,
    models: Result<Vec<String>, Problem>,
}

/// What arrives from a streamed completion.
pub enum Piece {
    /// More text of the answer.
    Text(String),
    /// The upstream's token count (sent at the end by servers that report it).
    Usage(Usage),
}

/// A whole answer: its text and, if the upstream reported it, the usage.
pub struct Completion {
    pub output: String,
    pub usage: Option<Usage>,
}

impl Upstream {
    /// An upstream at `base_url` (the part before `/chat/completions`),
    /// offering `offered` models, or all it lists when that is empty.
    pub fn new(base_url: &str, key: Option<String>, offered: Vec<String>) -> Upstream {
        Upstream {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: key.filter(|key| !key.is_empty()),
            offered: offered.into_iter().filter(|id| !id.is_empty()).collect(),
            http: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build()
                .expect("an HTTP client with default TLS settings"),
            listing: Mutex::new(None),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// True when the upstream runs on this machine (Ollama, llama.cpp).
    pub fn is_local(&self) -> bool {
        use url::Host;
        let url = reqwest::Url::parse(&self.base_url).ok();
        match url.as_ref().and_then(reqwest::Url::host) {
            Some(Host::Domain(name)) => name == "localhost",
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// Whether `model_id` may be sent upstream: any model when none were
    /// named, else only the named ones.
    pub fn offers(&self, model_id: &str) -> bool {
        self.offered.is_empty() || self.offered.iter().any(|id| id == model_id)
    }

    /// The models to offer: the named ones, else those the upstream lists
    /// (asked at most every 30 s; a failure is remembered for 5 s).
    pub async fn models(&self) -> Result<Vec<String>, Problem> {
        if !self.offered.is_empty() {
            return Ok(self.offered.clone());
        }
        let mut listing = self.listing.lock().await;
        if let Some(Listing { asked, models }) = listing.as_ref() {
            let fresh_for = if models.is_ok() {
                LISTING_FRESH_FOR
            } else {
                FAILED_LISTING_FRESH_FOR
            };
            if asked.elapsed() < fresh_for {
                return models.clone();
            }
        }
        let models = self.list_models().await;
        *listing = Some(Listing {
            asked: Instant::now(),
            models: models.clone(),
        });
        models
    }

    async fn list_models(&self) -> Result<Vec<String>, Problem> {
        /// OpenAI's `GET /models` answer.
        #[derive(Deserialize)]
        struct ModelList {
            data: Vec<Listed>,
        }
        #[derive(Deserialize)]
        struct Listed {
            id: String,
        }
        let request = self.authorized(self.http.get(self.url("/models")));
        let response = self.send(request.timeout(LISTING_TIMEOUT)).await?;
        let list: ModelList = self.read_json(response).await?;
        Ok(list.data.into_iter().map(|model| model.id).collect())
    }

    /// Runs `request` and waits for the whole answer.
    pub async fn complete(&self, request: &ExecuteRequest) -> Result<Completion, Problem> {
        #[derive(Deserialize)]
        struct Answer {
            choices: Vec<Choice>,
            usage: Option<Usage>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Message,
        }
        #[derive(Deserialize)]
        struct Message {
            content: Option<String>,
        }
        let body = chat_body(request, false);
        let response = self
            .send(self.authorized(self.http.post(self.url("/chat/completions")).json(&body)))
            .await?;
        let answer: Answer = self.read_json(response).await?;
        let output = answer
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| self.bad_gateway("answered without a message".to_owned()))?;
        Ok(Completion {
            output,
            usage: answer.usage,
        })
    }

    /// Runs `request` streamed: fails before the first piece if the upstream
    /// refuses it, else yields its pieces (and an error if it breaks off).
    pub async fn stream(
        &self,
        request: &ExecuteRequest,
    ) -> Result<BoxStream<'static, Result<Piece, Problem>>, Problem> {
        let body = chat_body(request, true);
        let response = self
            .send(self.authorized(self.http.post(self.url("/chat/completions")).json(&body)))
            .await?;
        let base_url = self.base_url.clone();
        let broken = move |what: String| {
            Problem::new(
                StatusCode::BAD_GATEWAY,
                format!("upstream {base_url} {what}"),
            )
        };
        let mut decoder = SseDecoder::new();
        let pieces = response
            .bytes_stream()
            .flat_map(move |chunk| {
                let events: Vec<Result<_, String>> = match chunk {
                    Ok(bytes) => decoder.push(&bytes).into_iter().map(Ok).collect(),
                    Err(error) => vec![Err(error.to_string())],
                };
                futures::stream::iter(events)
            })
            .take_while(|event| {
                let done = matches!(event, Ok(event) if event.data.trim() == "[DONE]");
                std::future::ready(!done)
            })
            .flat_map(move |event| {
                let pieces = match event {
                    Err(error) => vec![Err(broken(format!("broke off: {error}")))],
                    Ok(event) => match serde_json::from_str::<Value>(&event.data) {
                        Err(error) => vec![Err(broken(format!("sent invalid JSON: {error}")))],
                        Ok(chunk) => match chunk_pieces(&chunk) {
                            Ok(pieces) => pieces.into_iter().map(Ok).collect(),
                            Err(message) => vec![Err(broken(format!("failed: {message}")))],
                        },
                    },
                };
                futures::stream::iter(pieces)
            });
        Ok(pieces.boxed())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends, turning "unreachable" and any non-2xx answer into a 502 that
    /// names the upstream and repeats what it said.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Problem> {
        let response = request.send().await.map_err(|error| {
            let what = if error.is_timeout() {
                "did not answer in time"
            } else {
                "could not be reached"
            };
            self.bad_gateway(format!("{what}: {error}"))
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        Err(self.bad_gateway(format!(
            "answered {}: {}",
            status.as_u16(),
            error_message(&body)
        )))
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, Problem> {
        let body = response
            .bytes()
            .await
            .map_err(|error| self.bad_gateway(format!("broke off: {error}")))?;
        serde_json::from_slice(&body).map_err(|error| {
            self.bad_gateway(format!(
                "sent an answer that is not the expected JSON: {error}"
            ))
        })
    }

    fn bad_gateway(&self, what: String) -> Problem {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("upstream {} {what}", self.base_url),
        )
    }
}

/// The OpenAI chat request for `request`: context blocks as system messages,
/// the prompt as the user's, the parameters passed through.
fn chat_body(request: &ExecuteRequest, stream: bool) -> Value {
    let mut messages: Vec<Value> = request
        .context_blocks
        .iter()
        .map(|block| json!({"role": "system", "content": block}))
        .collect();
    messages.push(json!({"role": "user", "content": request.prompt}));
    let mut body = json!({"model": request.model_id, "messages": messages, "stream": stream});
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(parameters) = &request.parameters {
        for (name, value) in [
            ("temperature", parameters.temperature.map(Value::from)),
            ("max_tokens", parameters.max_tokens.map(Value::from)),
            ("top_p", parameters.top_p.map(Value::from)),
        ] {
            if let Some(value) = value {
                body[name] = value;
            }
        }
    }
    body
}

/// The text and usage in one streamed chunk, or the error it reports.
fn chunk_pieces(chunk: &Value) -> Result<Vec<Piece>, String> {
    if let Some(error) = chunk.get("error") {
        return Err(error_message(&error.to_string()));
    }
    let mut pieces = Vec::new();
    let text = chunk
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str);
    if let Some(text) = text.filter(|text| !text.is_empty()) {
        pieces.push(Piece::Text(text.to_owned()));
    }
    if let Some(usage) = chunk
        .get("usage")
        .and_then(|usage| Usage::deserialize(usage).ok())
    {
        pieces.push(Piece::Usage(usage));
    }
    Ok(pieces)
}

/// The message in an OpenAI-style error body (`{"error": {"message"}}`,
/// `{"error": "…"}`, `{"message"}`, `{"detail"}`), else the body itself.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|value| {
        ["/error/message", "/error", "/message", "/detail"]
            .iter()
            .find_map(|pointer| value.pointer(pointer).and_then(Value::as_str))
            .map(str::to_owned)
    });
    found.unwrap_or_else(|| {
        let body = body.trim();
        if body.is_empty() {
            "(no message)".to_owned()
        } else {
            body.chars().take(500).collect()
        }
    })
}
