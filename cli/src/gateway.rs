//! The gateway, over HTTP: the store's [`PromptExecutor`] (its
//! `/api/v1/workbench/execute` endpoints, streamed or not) and where the
//! plan's prices and the rate limit come from. A gateway elsewhere
//! (`--gateway`), or the one this process starts for `--providers`
//! ([`crate::providers`]): the same client talks to both.
//!
//! Errors are the library's [`ApiError`]s, read from an answer by the same
//! rules the browser's client uses ([`ApiError::from_status`]): a 429 or 503
//! is [`ApiError::TryLater`], which the store's runner waits out, with the
//! gateway's `Retry-After`.

use futures::future::LocalBoxFuture;
use futures::{FutureExt, StreamExt};
use prompt_runs::api::wire::{
    ExecuteRequest, ExecuteResponse, Providers, ServerLimits, EXECUTE_PATH, EXECUTE_STREAM_PATH,
    LIMITS_PATH, MODELS_PATH, PROVIDERS_PATH,
};
use prompt_runs::api::{retry_after, stream_step, ApiError, PromptExecutor, SseDecoder, TextSink};
use prompt_runs::model::{Model, Timestamp};
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use std::rc::Rc;
use std::time::Duration;

/// A gateway at a base URL, with its access token. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gateway {
    base_url: Rc<str>,
    /// How messages name it: `the gateway at <URL>`.
    who: Rc<str>,
    /// What the request cache keys its answers by (see [`Gateway::cache_scope`]).
    scope: Rc<str>,
    token: Option<Rc<str>>,
    http: reqwest::Client,
    timeout: Duration,
    streaming: bool,
}

impl Gateway {
    /// The gateway at `base_url` (`http://host:port`, a path prefix allowed),
    /// sending `token` as a bearer token when given, waiting at most
    /// `timeout` for an answer to start and between two pieces of a
    /// streamed one, asking for streamed answers when `streaming`. Refused
    /// when `base_url` is not an http(s) URL.
    pub fn new(
        base_url: &str,
        token: Option<String>,
        timeout: Duration,
        streaming: bool,
    ) -> Result<Gateway, String> {
        let base_url = base_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|error| format!("--gateway {base_url:?} is not a URL ({error})"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(format!(
                "--gateway {base_url:?} is not an http:// or https:// address"
            ));
        }
        let http = reqwest::Client::builder()
            .build()
            .map_err(|error| format!("the HTTP client could not start: {error}"))?;
        Ok(Gateway {
            base_url: base_url.into(),
            who: format!("the gateway at {base_url}").into(),
            scope: format!("gateway {base_url}").into(),
            token: token.filter(|token| !token.is_empty()).map(Rc::from),
            http,
            timeout,
            streaming,
        })
    }

    /// Its base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The same gateway, named `who` in messages and keying the cache by
    /// `scope`: for one whose address says nothing to a person, and changes
    /// from run to run (the one [`crate::providers`] starts).
    pub fn named(mut self, who: String, scope: String) -> Gateway {
        self.who = who.into();
        self.scope = scope.into();
        self
    }

    /// How messages name it: `the gateway at http://…` unless
    /// [`named`](Self::named) otherwise.
    pub fn who(&self) -> &str {
        &self.who
    }

    /// What the request cache keys its answers by, beside the request:
    /// this gateway (another gateway may serve another model by one id),
    /// `gateway <URL>` unless [`named`](Self::named) otherwise.
    pub fn cache_scope(&self) -> String {
        self.scope.to_string()
    }

    /// `GET /api/v1/models`: the models it offers, with their prices.
    pub async fn models(&self) -> Result<Vec<Model>, ApiError> {
        let response = self.send(self.get(MODELS_PATH)).await?;
        parse(&self.text(response).await?)
    }

    /// `GET /api/v1/limits`: the limits it holds clients to; `None` from a
    /// server without the endpoint (404).
    pub async fn limits(&self) -> Result<Option<ServerLimits>, ApiError> {
        let response = self.send(self.get(LIMITS_PATH)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse(&self.text(response).await?).map(Some)
    }

    /// `GET /api/v1/providers`: its providers and whether each answered;
    /// `None` from a server without the endpoint (404).
    pub async fn providers(&self) -> Result<Option<Providers>, ApiError> {
        let response = self.send(self.get(PROVIDERS_PATH)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse(&self.text(response).await?).map(Some)
    }

    /// Runs `request`: streamed to `on_text` when streaming (falling back to
    /// the plain endpoint on a server without the streamed one), else whole.
    pub async fn execute_request(
        &self,
        request: &ExecuteRequest,
        on_text: &mut TextSink,
    ) -> Result<ExecuteResponse, ApiError> {
        if self.streaming {
            let streamed = self
                .send(
                    self.post(EXECUTE_STREAM_PATH)
                        .header(ACCEPT, "text/event-stream")
                        .json(request),
                )
                .await?;
            if !matches!(streamed.status().as_u16(), 404 | 405) {
                return self.read_events(streamed, on_text).await;
            }
        }
        let plain = self.send(self.post(EXECUTE_PATH).json(request)).await?;
        parse(&self.text(plain).await?)
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.authorized(self.http.get(format!("{}{path}", self.base_url)))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.authorized(self.http.post(format!("{}{path}", self.base_url)))
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends, waiting at most the timeout for the answer's headers.
    async fn send(&self, request: RequestBuilder) -> Result<Response, ApiError> {
        match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(error)) if error.is_builder() => Err(ApiError::InvalidRequest {
                reason: error.to_string(),
            }),
            Ok(Err(_)) => Err(ApiError::Unreachable {
                url: self.base_url.to_string(),
            }),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// A whole answer's text; a non-2xx answer as its error.
    async fn text(&self, response: Response) -> Result<String, ApiError> {
        let response = error_for_status(response).await?;
        match tokio::time::timeout(self.timeout, response.text()).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(_)) => Err(self.connection_lost()),
            Ok(Ok(text)) => Ok(text),
        }
    }

    async fn read_events(
        &self,
        response: Response,
        on_text: &mut TextSink,
    ) -> Result<ExecuteResponse, ApiError> {
        let response = error_for_status(response).await?;
        let mut chunks = response.bytes_stream();
        let mut decoder = SseDecoder::new();
        loop {
            let chunk = match tokio::time::timeout(self.timeout, chunks.next()).await {
                Err(_) => return Err(self.timed_out()),
                Ok(None) => {
                    return Err(ApiError::Stream {
                        detail: "the answer stream ended before the run finished".to_owned(),
                    })
                }
                Ok(Some(Err(_))) => return Err(self.connection_lost()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            let events = decoder.push(&chunk).map_err(|error| ApiError::Stream {
                detail: error.to_string(),
            })?;
            for event in events {
                if let Some(response) = stream_step(&event, on_text)? {
                    return Ok(response);
                }
            }
        }
    }

    fn timed_out(&self) -> ApiError {
        ApiError::Timeout {
            seconds: self.timeout.as_secs(),
        }
    }

    fn connection_lost(&self) -> ApiError {
        ApiError::ConnectionLost {
            url: self.base_url.to_string(),
        }
    }
}

impl PromptExecutor for Gateway {
    fn execute(
        &self,
        request: ExecuteRequest,
        mut on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<ExecuteResponse, ApiError>> {
        // Dropped by the store's Cancel: reqwest then closes the connection,
        // and the gateway stops answering.
        let gateway = self.clone();
        async move { gateway.execute_request(&request, &mut on_text).await }.boxed_local()
    }

    /// On this process's tokio timer, rather than the library's native
    /// default (a thread per wait).
    fn pause(&self, wait: Duration) -> LocalBoxFuture<'static, ()> {
        tokio::time::sleep(wait).boxed_local()
    }
}

/// A non-2xx answer as its error, by the browser client's rules.
async fn error_for_status(response: Response) -> Result<Response, ApiError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let now = Timestamp::now().unix_millis().unwrap_or_default();
    let wait = (response.headers().get(RETRY_AFTER))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| retry_after(value, now));
    let body = response.text().await.unwrap_or_default();
    Err(ApiError::from_status(status.as_u16(), &body, wait, || {
        status.canonical_reason().unwrap_or("error").to_owned()
    }))
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|error| ApiError::InvalidJson {
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_http_address_is_a_gateway() {
        let gateway = Gateway::new(
            " http://127.0.0.1:8000/ ",
            None,
            Duration::from_secs(1),
            true,
        );
        assert_eq!(gateway.unwrap().base_url(), "http://127.0.0.1:8000");
        for bad in ["127.0.0.1:8000", "ftp://host", "not a url", ""] {
            assert!(
                Gateway::new(bad, None, Duration::from_secs(1), true).is_err(),
                "{bad}"
            );
        }
    }
}
