//! Forwarding to an OpenAI-compatible upstream (OpenAI, Ollama, llama.cpp's
//! server, vLLM): its model list, and prompts run through its
//! `/chat/completions`, plainly or streamed. The API key stays here: it is
//! sent to the upstream only, never to the browser.

use crate::problem::Problem;
use axum::body::Bytes;
use axum::http::StatusCode;
use futures::stream::{BoxStream, Stream, StreamExt};
use prompt_runs::api::wire::{ExecuteRequest, Timings, Usage};
use prompt_runs::api::SseDecoder;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

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
    /// The longest silence allowed from the upstream.
    timeout: Duration,
    /// One permit per request the upstream may be running for us at once.
    slots: Arc<Semaphore>,
    /// How many there are, to say so when they are all taken.
    max_requests: usize,
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
#[derive(Debug)]
pub enum Piece {
    /// More text of the answer.
    Text(String),
    /// The upstream's token count (sent at the end by servers that report
    /// it), with its details (cached and reasoning tokens) when it gives them.
    Usage(Usage),
    /// llama.cpp's `timings` (sent with its last chunk).
    Timings(Timings),
}

/// A whole answer: its text and, if the upstream reported them, the usage
/// (with its details) and llama.cpp's timings.
pub struct Completion {
    pub output: String,
    pub usage: Option<Usage>,
    pub timings: Option<Timings>,
}

impl Upstream {
    /// An upstream at `base_url` (the part before `/chat/completions`),
    /// offering `offered` models, or all it lists when that is empty, asked
    /// at most `max_requests` at once, and given up on after `timeout` of
    /// silence.
    pub fn new(
        base_url: &str,
        key: Option<String>,
        offered: Vec<String>,
        max_requests: usize,
        timeout: Duration,
    ) -> Upstream {
        Upstream {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: key.filter(|key| !key.is_empty()),
            offered: offered.into_iter().filter(|id| !id.is_empty()).collect(),
            http: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                // Silence, not length: a long answer streams for minutes.
                .read_timeout(timeout)
                .build()
                .expect("an HTTP client with default TLS settings"),
            timeout,
            slots: Arc::new(Semaphore::new(max_requests)),
            max_requests,
            listing: Mutex::new(None),
        }
    }

    /// A permit to send one more request, or 429 when `max_requests` are
    /// running. Refused at once rather than queued: a queue would hold the
    /// client's connection with no word of why it waits.
    fn slot(&self) -> Result<OwnedSemaphorePermit, Problem> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            Problem::too_many_requests(
                format!(
                    "the upstream is already running {} requests for this gateway (--max-upstream-requests)",
                    self.max_requests
                ),
                Duration::from_secs(1),
            )
        })
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
            timings: Option<Timings>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Message,
        }
        #[derive(Deserialize)]
        struct Message {
            content: Option<String>,
        }
        let _slot = self.slot()?;
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
            timings: answer.timings,
        })
    }

    /// Runs `request` streamed: fails before the first piece if the upstream
    /// refuses it, else yields its pieces (and an error if it breaks off).
    pub async fn stream(
        &self,
        request: &ExecuteRequest,
    ) -> Result<BoxStream<'static, Result<Piece, Problem>>, Problem> {
        let slot = self.slot()?;
        let body = chat_body(request, true);
        let response = self
            .send(self.authorized(self.http.post(self.url("/chat/completions")).json(&body)))
            .await?;
        let chunks = response.bytes_stream().map({
            let base_url = self.base_url.clone();
            let timeout = self.timeout;
            move |chunk| chunk.map_err(|error| broken_off(&base_url, timeout, &error))
        });
        // The slot is held until the stream is dropped: finished, failed, or
        // abandoned by the client.
        let pieces = stream_pieces(chunks, self.base_url.clone()).map(move |piece| {
            let _held = &slot;
            piece
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
        let response = request
            .send()
            .await
            .map_err(|error| broken_off(&self.base_url, self.timeout, &error))?;
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
            .map_err(|error| broken_off(&self.base_url, self.timeout, &error))?;
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

/// A failed exchange with the upstream at `base_url`: 504 when it stayed
/// silent for `timeout`, else 502 (unreachable, or the connection broke).
fn broken_off(base_url: &str, timeout: Duration, error: &reqwest::Error) -> Problem {
    if error.is_timeout() {
        Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "upstream {base_url} said nothing for {} s (--upstream-timeout): {error}",
                timeout.as_secs()
            ),
        )
    } else if error.is_connect() || error.is_request() {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("upstream {base_url} could not be reached: {error}"),
        )
    } else {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("upstream {base_url} broke off: {error}"),
        )
    }
}

/// The pieces of a streamed chat completion from its body's `chunks`
/// (Server-Sent Events of OpenAI chunks, up to `data: [DONE]`). Whatever the
/// bytes, it ends cleanly: at `[DONE]`, at the end of the body, or right
/// after its first error, a 502 naming the upstream at `base_url`.
pub fn stream_pieces(
    chunks: impl Stream<Item = Result<Bytes, Problem>> + Send + 'static,
    base_url: String,
) -> impl Stream<Item = Result<Piece, Problem>> + Send + 'static {
    /// What one event means for the stream.
    enum Step {
        Piece(Piece),
        Failed(Problem),
        Done,
    }
    let broken = move |what: String| {
        Step::Failed(Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("upstream {base_url} {what}"),
        ))
    };
    let mut decoder = SseDecoder::new();
    let mut steps = move |chunk: Result<Bytes, Problem>| -> Vec<Step> {
        let events = match chunk.map(|bytes| decoder.push(&bytes)) {
            Err(problem) => return vec![Step::Failed(problem)],
            Ok(Err(error)) => {
                return vec![broken(format!("sent a stream we cannot read: {error}"))]
            }
            Ok(Ok(events)) => events,
        };
        let mut steps = Vec::new();
        for event in events {
            if event.data.trim() == "[DONE]" {
                steps.push(Step::Done);
                continue;
            }
            match serde_json::from_str::<Value>(&event.data) {
                Err(error) => steps.push(broken(format!("sent invalid JSON: {error}"))),
                Ok(chunk) => match chunk_pieces(&chunk) {
                    Ok(pieces) => steps.extend(pieces.into_iter().map(Step::Piece)),
                    Err(message) => steps.push(broken(format!("failed: {message}"))),
                },
            }
        }
        steps
    };
    chunks
        .flat_map(move |chunk| futures::stream::iter(steps(chunk)))
        // Nothing after `[DONE]` or an error: the relay reports the first
        // error and stops.
        .scan(false, |ended, step| {
            let item = match step {
                _ if *ended => None,
                Step::Done => None,
                Step::Failed(problem) => {
                    *ended = true;
                    Some(Err(problem))
                }
                Step::Piece(piece) => Some(Ok(piece)),
            };
            std::future::ready(item)
        })
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

/// The text, usage and timings in one streamed chunk, or the error it reports.
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
    if let Some(timings) = chunk
        .get("timings")
        .and_then(|timings| Timings::deserialize(timings).ok())
    {
        pieces.push(Piece::Timings(timings));
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

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_runs::api::MAX_EVENT_BYTES;
    use proptest::prelude::*;

    const BASE_URL: &str = "http://upstream.test/v1";

    fn pieces_of(chunks: Vec<Vec<u8>>) -> Vec<Result<Piece, Problem>> {
        let chunks = futures::stream::iter(chunks.into_iter().map(|chunk| Ok(Bytes::from(chunk))));
        futures::executor::block_on(stream_pieces(chunks, BASE_URL.to_owned()).collect())
    }

    fn text_of(pieces: &[Result<Piece, Problem>]) -> String {
        pieces
            .iter()
            .filter_map(|piece| match piece {
                Ok(Piece::Text(text)) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn delta(text: &str) -> String {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"delta": {"content": text}}]})
        )
    }

    /// `bytes` cut at `cuts` (positions modulo its length).
    fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        let mut chunks = Vec::new();
        for cut in cuts.into_iter().chain([bytes.len()]) {
            chunks.push(bytes[start..cut].to_vec());
            start = cut;
        }
        chunks
    }

    #[test]
    fn the_stream_stops_at_done_and_at_its_first_error() {
        let body = format!("{}data: [DONE]\n\n{}", delta("Hi"), delta("after"));
        let pieces = pieces_of(vec![body.into_bytes()]);
        assert_eq!(text_of(&pieces), "Hi");
        assert_eq!(pieces.len(), 1);

        let body = format!(
            "{}data: {{oops\n\n{}data: [1,\n\n",
            delta("Hi"),
            delta("more")
        );
        let pieces = pieces_of(vec![body.into_bytes()]);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        let problem = pieces[1].as_ref().unwrap_err();
        assert_eq!(problem.status, StatusCode::BAD_GATEWAY);
        assert!(
            problem
                .detail
                .starts_with(&format!("upstream {BASE_URL} sent invalid JSON")),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn an_event_that_never_ends_is_a_clean_error_not_unbounded_memory() {
        let endless = vec![b'x'; 1024 * 1024];
        let chunks = std::iter::repeat_n(endless, MAX_EVENT_BYTES / (1024 * 1024) + 2).collect();
        let pieces = pieces_of(chunks);
        assert_eq!(pieces.len(), 1);
        let problem = pieces[0].as_ref().unwrap_err();
        assert_eq!(
            problem.detail,
            format!("upstream {BASE_URL} sent a stream we cannot read: an event was larger than {MAX_EVENT_BYTES} bytes")
        );
    }

    /// Bytes that look like an upstream's stream: fields, line ends, JSON
    /// chunks whole and broken, `[DONE]`, and noise.
    fn upstream_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            "[a-z ]{0,6}".prop_map(|text| delta(&text).into_bytes()),
            Just(b"data: ".to_vec()),
            Just(b"\n\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"data: [DONE]\n\n".to_vec()),
            Just(br#"data: {"error": {"message": "overloaded"}}"#.to_vec()),
            Just(br#"data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}"#.to_vec()),
            Just(br#"data: {"choices": [{"delta": {"content": 7}}]}"#.to_vec()),
            Just(b"data: {\"choices\": [{".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..16),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_bytes_end_cleanly_with_at_most_one_error_naming_the_upstream(
            bytes in upstream_bytes(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let pieces = pieces_of(split(&bytes, &cuts));
            let errors: Vec<usize> = pieces.iter().enumerate().filter(|(_, piece)| piece.is_err()).map(|(at, _)| at).collect();
            prop_assert!(errors.len() <= 1, "{pieces:?}");
            if let Some(&at) = errors.first() {
                prop_assert_eq!(at, pieces.len() - 1, "nothing after the error");
                let problem = pieces[at].as_ref().unwrap_err();
                prop_assert_eq!(problem.status, StatusCode::BAD_GATEWAY);
                prop_assert!(problem.detail.starts_with(&format!("upstream {BASE_URL} ")), "{}", problem.detail);
            }
            // However it is cut, the same pieces come out.
            let whole = pieces_of(vec![bytes.clone()]);
            prop_assert_eq!(format!("{whole:?}"), format!("{pieces:?}"));
        }

        #[test]
        fn well_formed_deltas_come_through_whole_however_they_are_cut(
            texts in proptest::collection::vec("[^\u{0}]{0,12}", 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let body: String = texts.iter().map(|text| delta(text)).collect::<String>() + "data: [DONE]\n\n";
            let pieces = pieces_of(split(body.as_bytes(), &cuts));
            prop_assert!(pieces.iter().all(Result::is_ok), "{pieces:?}");
            prop_assert_eq!(text_of(&pieces), texts.concat());
        }
    }
}
