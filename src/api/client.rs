//! The HTTP client for NeuroForge-compatible servers, over the browser's
//! `fetch` (gloo-net).
//!
//! Every request carries an `AbortController` that aborts when its future is
//! dropped, so cancelling (dropping) or timing out really stops the request.
//! Executions try the streaming endpoint first and fall back to the plain one
//! when the server does not have it (404/405).

use super::executor::{PromptExecutor, TextSink};
use super::sse::SseDecoder;
use super::wire::{
    ErrorBody, ExecuteRequest, ExecuteResponse, Providers, ServerLimits, StreamDelta,
    DEFAULT_BASE_URL, EVENT_CHANGES, EVENT_DELTA, EVENT_DONE, EVENT_ERROR, EXECUTE_PATH,
    EXECUTE_STREAM_PATH, LIMITS_PATH, MODELS_PATH, PROVIDERS_PATH, SYNC_PATH,
};
use super::wire::{SyncChanges, SyncUploadAnswer};
use super::ApiError;
use crate::model::{Model, Timestamp};
use futures::future::{self, Either, LocalBoxFuture};
use futures::{FutureExt, Stream, StreamExt};
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsCast;

/// How the client reaches the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    base_url: String,
    token: Option<String>,
    timeout: Duration,
    streaming: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token: None,
            timeout: Duration::from_secs(120),
            streaming: true,
        }
    }
}

impl ClientConfig {
    /// The server's base URL, e.g. `http://localhost:8000` or the page's own origin.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// A bearer token sent as `Authorization: Bearer <token>`.
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The longest wait for the server to say anything: the answer's headers,
    /// or the next streamed event (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to ask for streamed answers (default `true`). `false` uses
    /// the plain endpoint only, for a proxy that holds Server-Sent Events
    /// back: the answer then arrives whole, with no time to first token.
    pub fn streaming(mut self, streaming: bool) -> Self {
        self.streaming = streaming;
        self
    }
}

/// A client of one NeuroForge-compatible server. Cheap to clone.
#[derive(Clone, Debug)]
pub struct NeuroForgeClient {
    config: Rc<ClientConfig>,
}

impl NeuroForgeClient {
    /// A client with `config`.
    pub fn new(config: ClientConfig) -> NeuroForgeClient {
        NeuroForgeClient {
            config: Rc::new(config),
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// `GET /api/v1/models`.
    pub async fn models(&self) -> Result<Vec<Model>, ApiError> {
        parse(&self.get_text(MODELS_PATH.to_owned()).await?)
    }

    /// `GET /api/v1/models/{id}`.
    pub async fn model(&self, id: &str) -> Result<Model, ApiError> {
        parse(
            &self
                .get_text(format!("{MODELS_PATH}/{}", encode(id)))
                .await?,
        )
    }

    /// `GET /api/v1/providers`.
    pub async fn providers(&self) -> Result<Providers, ApiError> {
        parse(&self.get_text(PROVIDERS_PATH.to_owned()).await?)
    }

    /// `GET /api/v1/limits`: the rate and size limits the server holds
    /// clients to (a server without the endpoint answers 404: nothing is known).
    pub async fn limits(&self) -> Result<ServerLimits, ApiError> {
        parse(&self.get_text(LIMITS_PATH.to_owned()).await?)
    }

    /// `POST {SYNC_PATH}/{workspace}/runs` with `body`, a [`SyncUpload`](super::wire::SyncUpload)'s
    /// JSON (built by the caller, who may hold the runs as JSON already).
    pub async fn upload_runs(
        &self,
        workspace: &str,
        body: String,
    ) -> Result<SyncUploadAnswer, ApiError> {
        let abort = AbortOnDrop::new();
        let path = format!("{SYNC_PATH}/{}/runs", encode(workspace));
        let request = self
            .post(&path, &abort)
            .header("Content-Type", "application/json")
            .body(body);
        let response = self.send(request).await?;
        parse(&self.read_text(response).await?)
    }

    /// `GET {SYNC_PATH}/{workspace}/changes`: what changed after `since`
    /// (empty: everything), at most `limit` ids.
    pub async fn changes(
        &self,
        workspace: &str,
        since: &str,
        limit: usize,
    ) -> Result<SyncChanges, ApiError> {
        let path = format!(
            "{SYNC_PATH}/{}/changes?since={}&limit={limit}",
            encode(workspace),
            encode(since)
        );
        parse(&self.get_text(path).await?)
    }

    /// `GET {SYNC_PATH}/{workspace}/changes` with `Accept:
    /// text/event-stream`: the changes after `since`, then each one as it is
    /// committed, for as long as the stream is held; `None` when the server
    /// answers a plain page instead (it does not push). Gives up when its
    /// answer has not started within `within` (a proxy holding it back).
    pub async fn follow_changes(
        &self,
        workspace: &str,
        since: &str,
        within: Duration,
    ) -> Result<Option<ChangesStream>, ApiError> {
        let abort = AbortOnDrop::new();
        let url = self.url(&format!(
            "{SYNC_PATH}/{}/changes?since={}",
            encode(workspace),
            encode(since)
        ));
        let request = self
            .authorized(Request::get(&url))
            .header("Accept", "text/event-stream")
            .abort_signal(Some(&abort.signal()))
            .build()
            .map_err(|error| ApiError::InvalidRequest {
                reason: error.to_string(),
            })?;
        let response =
            within_time(within, request.send())
                .await?
                .map_err(|_| ApiError::Unreachable {
                    url: self.config.base_url.clone(),
                })?;
        let response = error_for_status(response).await?;
        let pushed = response
            .headers()
            .get("content-type")
            .is_some_and(|kind| kind.starts_with("text/event-stream"));
        let Some(body) = response.body().filter(|_| pushed) else {
            return Ok(None);
        };
        Ok(Some(ChangesStream {
            chunks: Box::pin(body_chunks(body)),
            decoder: SseDecoder::new(),
            lost: self.connection_lost(),
            _abort: abort,
        }))
    }

    /// Executes `request`, streaming its text to `on_text` when the server
    /// streams, else with the plain endpoint.
    pub async fn execute_request(
        &self,
        request: &ExecuteRequest,
        mut on_text: TextSink,
    ) -> Result<ExecuteResponse, ApiError> {
        if self.config.streaming {
            let abort = AbortOnDrop::new();
            let streamed = self
                .send(
                    self.post(EXECUTE_STREAM_PATH, &abort)
                        .header("Accept", "text/event-stream")
                        .json(request),
                )
                .await?;
            if !matches!(streamed.status(), 404 | 405) {
                let streamed = error_for_status(streamed).await?;
                return self.read_events(streamed, &mut on_text).await;
            }
        }
        let abort = AbortOnDrop::new();
        let plain = self
            .send(self.post(EXECUTE_PATH, &abort).json(request))
            .await?;
        parse(&self.read_text(plain).await?)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    fn post(&self, path: &str, abort: &AbortOnDrop) -> RequestBuilder {
        self.authorized(Request::post(&self.url(path)))
            .abort_signal(Some(&abort.signal()))
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.config.token {
            Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
            None => builder,
        }
    }

    /// A `GET`'s whole answer. Not generic, and nor is [`Self::read_text`]:
    /// each answer type then adds only its parsing to the app bundle, not a
    /// copy of the request's state machine.
    async fn get_text(&self, path: String) -> Result<String, ApiError> {
        let abort = AbortOnDrop::new();
        let request = self
            .authorized(Request::get(&self.url(&path)))
            .abort_signal(Some(&abort.signal()))
            .build();
        let response = self.send(request).await?;
        self.read_text(response).await
    }

    /// A whole answer (JSON, for [`parse`]); a body cut off on the way is a
    /// lost connection.
    async fn read_text(&self, response: Response) -> Result<String, ApiError> {
        let response = error_for_status(response).await?;
        response.text().await.map_err(|_| self.connection_lost())
    }

    /// Sends, waiting at most the timeout for the answer's headers.
    async fn send(&self, request: Result<Request, gloo_net::Error>) -> Result<Response, ApiError> {
        let request = request.map_err(|error| ApiError::InvalidRequest {
            reason: error.to_string(),
        })?;
        self.within_timeout(request.send())
            .await?
            .map_err(|_| ApiError::Unreachable {
                url: self.config.base_url.clone(),
            })
    }

    async fn within_timeout<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, ApiError> {
        within_time(self.config.timeout, work).await
    }

    async fn read_events(
        &self,
        response: Response,
        on_text: &mut TextSink,
    ) -> Result<ExecuteResponse, ApiError> {
        let body = response.body().ok_or_else(|| ApiError::Stream {
            detail: "the streamed answer had no body".to_owned(),
        })?;
        let mut chunks = Box::pin(body_chunks(body));
        let mut decoder = SseDecoder::new();
        let mut events = VecDeque::new();
        loop {
            let Some(event) = events.pop_front() else {
                match self.within_timeout(chunks.next()).await? {
                    Some(Ok(chunk)) => match decoder.push(&chunk) {
                        Ok(more) => events.extend(more),
                        Err(error) => {
                            return Err(ApiError::Stream {
                                detail: error.to_string(),
                            })
                        }
                    },
                    Some(Err(ConnectionBroke)) => return Err(self.connection_lost()),
                    None => {
                        return Err(ApiError::Stream {
                            detail: "the answer stream ended before the run finished".to_owned(),
                        })
                    }
                }
                continue;
            };
            match event.event.as_str() {
                EVENT_DELTA => on_text(&parse::<StreamDelta>(&event.data)?.text),
                EVENT_DONE => return parse(&event.data),
                EVENT_ERROR => {
                    return Err(ApiError::Stream {
                        detail: parse::<ErrorBody>(&event.data)?.detail,
                    })
                }
                _ => {} // comments, keep-alives, future event kinds
            }
        }
    }
}

/// `work`, unless `timeout` passes first.
async fn within_time<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ApiError> {
    match future::select(
        Box::pin(work),
        Box::pin(gloo_timers::future::sleep(timeout)),
    )
    .await
    {
        Either::Left((done, _)) => Ok(done),
        Either::Right(_) => Err(ApiError::Timeout {
            seconds: timeout.as_secs(),
        }),
    }
}

/// A held stream of a workspace's changes ([`NeuroForgeClient::follow_changes`]);
/// dropping it ends the request.
pub struct ChangesStream {
    chunks: std::pin::Pin<Box<dyn Stream<Item = Result<Vec<u8>, ConnectionBroke>>>>,
    decoder: SseDecoder,
    lost: ApiError,
    _abort: AbortOnDrop,
}

impl ChangesStream {
    /// What the server sent next, waiting at most `within` for anything:
    /// the pages it completes (none for a heartbeat, which only says the
    /// stream is alive). [`ApiError::Timeout`] when nothing came: the stream
    /// is not reaching here.
    pub async fn next(&mut self, within: Duration) -> Result<Vec<SyncChanges>, ApiError> {
        let chunk = within_time(within, self.chunks.next()).await?;
        let Some(Ok(chunk)) = chunk else {
            return Err(self.lost.clone());
        };
        let events = self
            .decoder
            .push(&chunk)
            .map_err(|error| ApiError::Stream {
                detail: error.to_string(),
            })?;
        events
            .iter()
            .filter(|event| event.event == EVENT_CHANGES)
            .map(|event| parse(&event.data))
            .collect()
    }
}

impl NeuroForgeClient {
    fn connection_lost(&self) -> ApiError {
        ApiError::ConnectionLost {
            url: self.config.base_url.clone(),
        }
    }
}

impl Default for NeuroForgeClient {
    fn default() -> Self {
        NeuroForgeClient::new(ClientConfig::default())
    }
}

impl PromptExecutor for NeuroForgeClient {
    fn execute(
        &self,
        request: ExecuteRequest,
        on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<ExecuteResponse, ApiError>> {
        let client = self.clone();
        async move { client.execute_request(&request, on_text).await }.boxed_local()
    }
}

/// An `AbortController` that aborts its request when dropped, unless the
/// request already finished (aborting then is a no-op).
struct AbortOnDrop {
    controller: Option<web_sys::AbortController>,
}

impl AbortOnDrop {
    fn new() -> AbortOnDrop {
        AbortOnDrop {
            controller: web_sys::AbortController::new().ok(),
        }
    }

    fn signal(&self) -> web_sys::AbortSignal {
        match &self.controller {
            Some(controller) => controller.signal(),
            None => web_sys::AbortController::new()
                .expect("AbortController exists")
                .signal(),
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = &self.controller {
            controller.abort();
        }
    }
}

/// A non-2xx answer as an error naming the status and the server's `detail`.
/// `text` as one URI component.
fn encode(text: &str) -> String {
    js_sys::encode_uri_component(text).into()
}

async fn error_for_status(response: Response) -> Result<Response, ApiError> {
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    // Read before the body: the browser hands it over only to pages the
    // server lets read it (ours exposes it to allowed origins).
    let retry_after = (response.headers().get("retry-after"))
        .and_then(|value| super::retry_after(&value, Timestamp::now().unix_millis()?));
    let body = response.text().await.unwrap_or_default();
    Err(status_error(status, &body, retry_after, || {
        response.status_text()
    }))
}

/// The error for a non-2xx answer: what to do about a missing token (401:
/// the app knows where it goes), else the status and the server's `detail`
/// (or its body, or the status's reason). The gateway's details already say
/// what to do about a 403 (the flag that allows the page) and a 429 (how
/// many seconds to wait), so they are shown as they are. A 429 or 503 is
/// [`ApiError::TryLater`], with the `Retry-After` wait when there was one.
fn status_error(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    status_text: impl FnOnce() -> String,
) -> ApiError {
    if status == 401 {
        return ApiError::Unauthorized;
    }
    let detail = match serde_json::from_str::<ErrorBody>(body) {
        Ok(error) => error.detail,
        Err(_) if !body.trim().is_empty() => body.trim().chars().take(300).collect(),
        Err(_) => status_text(),
    };
    match status {
        429 | 503 => ApiError::TryLater {
            status,
            detail,
            retry_after,
        },
        _ => ApiError::Http { status, detail },
    }
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|error| ApiError::InvalidJson {
        reason: error.to_string(),
    })
}

/// The body stopped arriving before its end. What the browser says about it
/// ("TypeError: network error") tells a person nothing more, so it is dropped.
struct ConnectionBroke;

/// The response body as a stream of byte chunks.
fn body_chunks(
    body: web_sys::ReadableStream,
) -> impl Stream<Item = Result<Vec<u8>, ConnectionBroke>> {
    wasm_streams::ReadableStream::from_raw(body.unchecked_into())
        .into_stream()
        .map(|chunk| match chunk {
            Ok(chunk) => Ok(js_sys::Uint8Array::new(&chunk).to_vec()),
            Err(_) => Err(ConnectionBroke),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_says_where_the_token_goes_and_other_statuses_keep_the_servers_words() {
        fn text(text: &'static str) -> impl FnOnce() -> String {
            move || text.to_owned()
        }
        let missing = status_error(401, r#"{"detail": "x"}"#, None, text("Unauthorized"));
        assert_eq!(missing, ApiError::Unauthorized);
        assert!(missing.to_string().contains("paste the token in Settings"));
        let busy = r#"{"detail": "too many requests: 600 a minute; try again in 7 s"}"#;
        let wait = Some(Duration::from_secs(7));
        let slow_down = status_error(429, busy, wait, text("Too Many Requests"));
        assert_eq!(
            slow_down.to_string(),
            "HTTP 429: too many requests: 600 a minute; try again in 7 s"
        );
        assert_eq!(slow_down.try_later(), Some(wait), "to wait, not to fail");
        let unavailable = status_error(503, "", None, text("Service Unavailable"));
        assert_eq!(unavailable.try_later(), Some(None), "to wait, backing off");
        let refused = r#"{"detail": "start the gateway with --allow-origin http://a"}"#;
        assert_eq!(
            status_error(403, refused, None, text("Forbidden")).to_string(),
            "HTTP 403: start the gateway with --allow-origin http://a"
        );
        assert_eq!(
            status_error(502, "", None, text("Bad Gateway")).to_string(),
            "HTTP 502: Bad Gateway"
        );
        assert_eq!(
            status_error(500, " oops ", None, text("x")).to_string(),
            "HTTP 500: oops"
        );
    }
}
