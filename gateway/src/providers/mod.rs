//! The model providers the gateway forwards to, each through a native
//! adapter ([`openai`], [`anthropic`], [`gemini`], [`ollama`]), configured
//! once ([`config`]: the providers file and the `--upstream-url` shortcut).
//!
//! A [`Provider`] owns what is its own: its HTTP client and key (sent to it
//! only, never logged nor answered), its caps (requests at once, requests
//! per minute: a slow provider holds up no other), its retries ([`retry`]),
//! its model listing (reused for 30 s) and its health as last seen (for
//! `GET /api/v1/providers`). [`Providers`] finds which provider serves a
//! model id: `name/model`, or a bare id that exactly one provider offers.

pub mod anthropic;
pub mod config;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod retry;
pub mod wire;

use crate::limits::Bucket;
use crate::problem::Problem;
use axum::http::StatusCode;
pub use config::{Kind, ProviderSettings};
use futures::stream::{self, BoxStream, StreamExt};
use prompt_runs::api::wire::{ExecuteRequest, ProviderStatus};
use prompt_runs::model::Timestamp;
use retry::Tries;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wire::{Completion, Decoder, Failure, Report, Step};

/// How long a model listing may take before the provider counts as unreachable.
const LISTING_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a model listing is reused: the app asks on every page load and
/// every settings change, and a slow provider should not slow each of them.
const LISTING_FRESH_FOR: Duration = Duration::from_secs(30);
/// How long a failed listing is reused, so that requests arriving while the
/// provider is down do not each wait out the timeout again.
const FAILED_LISTING_FRESH_FOR: Duration = Duration::from_secs(5);
/// How long connecting to a provider may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What arrives from a streamed answer.
#[derive(Debug)]
pub enum Piece {
    /// More text of the answer.
    Text(String),
    /// The answer is complete: what the provider reported with it.
    Done(Report),
}

/// A whole answer, and how many tries it took.
pub struct Answered {
    /// The answer.
    pub completion: Completion,
    /// Tries, the successful one included.
    pub tries: u32,
}

/// One configured provider, as it runs.
pub struct Provider {
    settings: ProviderSettings,
    http: reqwest::Client,
    /// One permit per request it may be running for us at once.
    slots: Arc<Semaphore>,
    /// Its per-minute allowance, when it has one.
    minute: Option<Mutex<Bucket>>,
    /// The last listing; the lock is held while asking, so concurrent
    /// requests share one listing.
    listing: tokio::sync::Mutex<Option<Listing>>,
    /// What was last seen of it.
    health: Mutex<Health>,
}

/// What one exchange with a provider showed, for its [`Health`].
enum Seen<'p> {
    /// It answered, and the answer served.
    Served,
    /// It answered, but with a failure (an error status, a refusal in its
    /// answer, an answer we cannot read).
    Failed(&'p Problem),
    /// It did not answer at all.
    Unreachable(&'p Problem),
}

/// A model listing and when the provider was asked for it.
struct Listing {
    asked: Instant,
    models: Result<Vec<String>, Problem>,
}

/// What was last seen of a provider: when, how, and whether it answered.
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// When it was last asked anything.
    pub checked_at: Option<Timestamp>,
    /// How: `"listing its models"` or `"a run"`.
    pub checked_by: Option<&'static str>,
    /// Whether it answered then (an error answer is an answer; a refused
    /// connection, a reset before any answer or a silence past its timeout
    /// is none).
    pub reachable: Option<bool>,
    /// Its last failure, in words, and when.
    pub last_error: Option<(String, Timestamp)>,
}

impl Provider {
    /// The provider `settings` describe.
    pub fn new(settings: ProviderSettings) -> Provider {
        Provider {
            http: reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                // Silence, not length: a long answer streams for minutes.
                .read_timeout(settings.timeout)
                .build()
                .expect("an HTTP client with default TLS settings"),
            slots: Arc::new(Semaphore::new(settings.max_concurrent)),
            minute: (settings.requests_per_minute > 0)
                .then(|| Mutex::new(Bucket::full(settings.requests_per_minute, Instant::now()))),
            listing: tokio::sync::Mutex::new(None),
            health: Mutex::new(Health::default()),
            settings,
        }
    }

    /// Its name (the prefix of its model ids).
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// The API it speaks.
    pub fn kind(&self) -> Kind {
        self.settings.kind
    }

    /// Where it is.
    pub fn base_url(&self) -> &str {
        &self.settings.base_url
    }

    /// Its prices.
    pub fn prices(&self) -> &crate::prices::PriceTable {
        &self.settings.prices
    }

    /// How it is named in messages: `upstream <url>` for the
    /// `--upstream-url` shortcut (as before there were providers),
    /// `provider <name>` otherwise.
    pub fn who(&self) -> String {
        if self.settings.prefixed {
            format!("provider {}", self.settings.name)
        } else {
            format!("upstream {}", self.settings.base_url)
        }
    }

    /// True when it runs on this machine (Ollama, llama.cpp).
    pub fn is_local(&self) -> bool {
        use url::Host;
        let url = reqwest::Url::parse(&self.settings.base_url).ok();
        match url.as_ref().and_then(reqwest::Url::host) {
            Some(Host::Domain(name)) => name == "localhost",
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
    }

    /// Who serves its models, as the models list says: `local` for Ollama
    /// and for an OpenAI-compatible server on this machine (llama.cpp, LM
    /// Studio: the app counts their runs $0); Anthropic and Gemini stay
    /// themselves wherever they are reached (a proxy on loopback still
    /// spends a paid account).
    pub fn model_provider(&self) -> prompt_runs::model::Provider {
        use prompt_runs::model::Provider as Serves;
        match self.settings.kind {
            Kind::Ollama => Serves::Local,
            Kind::Openai if self.is_local() => Serves::Local,
            Kind::Openai => Serves::Openai,
            Kind::Anthropic => Serves::Anthropic,
            Kind::Gemini => Serves::Google,
        }
    }

    /// The id the gateway lists its `model` under.
    pub fn id_of(&self, model: &str) -> String {
        if self.settings.prefixed {
            format!("{}/{model}", self.settings.name)
        } else {
            model.to_owned()
        }
    }

    /// Whether its model ids carry its name.
    pub fn prefixed(&self) -> bool {
        self.settings.prefixed
    }

    /// Whether it was given its models (else it offers what it lists).
    pub fn lists_its_own(&self) -> bool {
        self.settings.models.is_empty()
    }

    /// Whether `model` may be sent to it: any model when none were named,
    /// else only the named ones.
    pub fn offers(&self, model: &str) -> bool {
        self.settings.models.is_empty() || self.settings.models.iter().any(|id| id == model)
    }

    /// The models to offer: the named ones, else those it lists (asked at
    /// most every 30 s; a failure is remembered for 5 s).
    pub async fn models(&self) -> Result<Vec<String>, Problem> {
        if !self.settings.models.is_empty() {
            return Ok(self.settings.models.clone());
        }
        self.listing().await
    }

    /// Its model listing, as fresh as described at [`Provider::models`]:
    /// also how whether it is reachable is checked.
    async fn listing(&self) -> Result<Vec<String>, Problem> {
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

    /// Asks it for its models, noting what that showed of it.
    async fn list_models(&self) -> Result<Vec<String>, Problem> {
        const HOW: &str = "listing its models";
        let path = match self.settings.kind {
            Kind::Openai => openai::MODELS_PATH,
            Kind::Anthropic => anthropic::MODELS_PATH,
            Kind::Gemini => gemini::MODELS_PATH,
            Kind::Ollama => ollama::MODELS_PATH,
        };
        let request = self.authorized(self.http.get(self.url(path)));
        let mut tries = Tries::start();
        tries.count = 1;
        let response = match request.timeout(LISTING_TIMEOUT).send().await {
            Ok(response) => response,
            Err(error) => {
                let problem = self.broken_off(&error, &tries);
                self.note(HOW, Seen::Unreachable(&problem));
                return Err(problem);
            }
        };
        let listed = if response.status().is_success() {
            self.read_json(response, &tries).await.and_then(|body| {
                let listed = match self.settings.kind {
                    Kind::Openai => openai::listed(&body),
                    Kind::Anthropic => anthropic::listed(&body),
                    Kind::Gemini => gemini::listed(&body),
                    Kind::Ollama => ollama::listed(&body),
                };
                listed.ok_or_else(|| {
                    self.bad_gateway("listed its models in a shape we do not know", &tries)
                })
            })
        } else {
            Err(self.refused(response, &tries).await)
        };
        self.note(
            HOW,
            listed.as_ref().err().map_or(Seen::Served, Seen::Failed),
        );
        listed
    }

    /// Runs `request` on its `model` and waits for the whole answer.
    pub async fn complete(
        &self,
        request: &ExecuteRequest,
        model: &str,
    ) -> Result<Answered, Problem> {
        let _slot = self.slot().await?;
        let mut tries = Tries::start();
        let response = self.send(request, model, false, &mut tries).await?;
        let completion = self.whole_answer(response, &tries).await?;
        Ok(Answered {
            completion,
            tries: tries.count,
        })
    }

    /// A whole answer from `response`, read by its kind's adapter.
    async fn answer(
        &self,
        response: reqwest::Response,
        tries: &Tries,
    ) -> Result<Completion, Problem> {
        let body = self.read_json(response, tries).await?;
        let answered = match self.settings.kind {
            Kind::Openai => openai::answer(&body),
            Kind::Anthropic => anthropic::answer(&body),
            Kind::Gemini => gemini::answer(&body),
            Kind::Ollama => ollama::answer(&body),
        };
        answered.map_err(|failure| self.failed(&failure, tries))
    }

    /// [`Provider::answer`], noting a failure of it (its success was noted
    /// when the answer began).
    async fn whole_answer(
        &self,
        response: reqwest::Response,
        tries: &Tries,
    ) -> Result<Completion, Problem> {
        let answered = self.answer(response, tries).await;
        if let Err(problem) = &answered {
            self.note("a run", Seen::Failed(problem));
        }
        answered
    }

    /// Runs `request` on its `model`, streamed: fails before the first
    /// piece if the provider refuses it (after the retries it allows, an
    /// overload before the first text included), else yields its pieces,
    /// ending with `Done` or an error.
    pub async fn stream(
        &self,
        request: &ExecuteRequest,
        model: &str,
    ) -> Result<(BoxStream<'static, Result<Piece, Problem>>, u32), Problem> {
        let slot = self.slot().await?;
        let mut tries = Tries::start();
        let (held, rest) = loop {
            let response = self.send(request, model, true, &mut tries).await?;
            // Some servers answer a stream request whole (LiteLLM's mock
            // answers of Anthropic's API): the same answer, in one piece.
            let whole = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/json"));
            let mut steps = if whole {
                let completion = self.whole_answer(response, &tries).await?;
                let steps = [Step::Text(completion.output), Step::Done(completion.report)];
                stream::iter(steps.map(Ok)).boxed()
            } else {
                self.steps(response, tries)
            };
            // Look ahead to the first text: a failure before it has shown
            // the person nothing, so it may be tried again.
            let first = steps.next().await;
            if let Some(Ok(Step::Failed(failure))) = &first {
                if failure.retryable && tries.count <= self.settings.retries {
                    if let Some(wait) = retry::wait_before(tries.count, None) {
                        tracing::warn!(provider = %self.settings.name, what = %failure.what, wait_ms = wait.as_millis() as u64, "trying again");
                        tokio::time::sleep(wait).await;
                        self.wait_for_minute().await?;
                        continue;
                    }
                }
            }
            break (first, steps);
        };
        let who = self.who();
        let count = tries.count;
        let pieces = stream::iter(held).chain(rest).map(move |step| {
            // The slot is held until the stream is dropped: finished,
            // failed, or abandoned by the client.
            let _held = &slot;
            match step {
                Ok(Step::Text(text)) => Ok(Piece::Text(text)),
                Ok(Step::Done(report)) => Ok(Piece::Done(report)),
                Ok(Step::Failed(failure)) => Err(Problem::new(
                    StatusCode::BAD_GATEWAY,
                    format!("{who} {}{}", failure.what, tries.told()),
                )),
                Err(problem) => Err(problem),
            }
        });
        Ok((pieces.boxed(), count))
    }

    /// The body of `response`, decoded into steps, ending after the first
    /// `Done` or `Failed` (or a broken connection, as an `Err`).
    fn steps(
        &self,
        response: reqwest::Response,
        tries: Tries,
    ) -> BoxStream<'static, Result<Step, Problem>> {
        struct Reading {
            bytes: BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
            decoder: Box<dyn Decoder>,
            queue: VecDeque<Step>,
            body_ended: bool,
            ended: bool,
        }
        let reading = Reading {
            bytes: response.bytes_stream().boxed(),
            decoder: self.decoder(),
            queue: VecDeque::new(),
            body_ended: false,
            ended: false,
        };
        let (who, timeout) = (self.who(), self.settings.timeout);
        stream::unfold(reading, move |mut reading| {
            let who = who.clone();
            async move {
                loop {
                    if reading.ended {
                        return None;
                    }
                    if let Some(step) = reading.queue.pop_front() {
                        if !matches!(step, Step::Text(_)) {
                            reading.ended = true;
                        }
                        return Some((Ok(step), reading));
                    }
                    if reading.body_ended {
                        return None;
                    }
                    match reading.bytes.next().await {
                        Some(Ok(chunk)) => reading.queue.extend(reading.decoder.push(&chunk)),
                        Some(Err(error)) => {
                            reading.ended = true;
                            let problem = broken_off(&who, timeout, &error, &tries);
                            return Some((Err(problem), reading));
                        }
                        None => {
                            reading.body_ended = true;
                            reading.queue.extend(reading.decoder.end());
                        }
                    }
                }
            }
        })
        .boxed()
    }

    fn decoder(&self) -> Box<dyn Decoder> {
        match self.settings.kind {
            Kind::Openai => openai::decoder(),
            Kind::Anthropic => anthropic::decoder(),
            Kind::Gemini => gemini::decoder(),
            Kind::Ollama => ollama::decoder(),
        }
    }

    /// Sends `request` for `model`, trying again on 429, 5xx and overload
    /// as [`retry`] says, and when the connection failed before any answer
    /// (refused, reset: nothing was shown, so nothing is repeated; not a
    /// silence past its timeout, which would only be waited out again);
    /// the response when it is a success, else a 502 (504 for a silence)
    /// saying what the provider answered and how often it was tried.
    async fn send(
        &self,
        request: &ExecuteRequest,
        model: &str,
        stream: bool,
        tries: &mut Tries,
    ) -> Result<reqwest::Response, Problem> {
        let (path, body) = match self.settings.kind {
            Kind::Openai => openai::call(request, model, stream),
            Kind::Anthropic => anthropic::call(request, model, stream, self.settings.max_tokens),
            Kind::Gemini => gemini::call(request, model, stream),
            Kind::Ollama => ollama::call(request, model, stream),
        };
        self.take_minute()?;
        loop {
            tries.count += 1;
            let sent = self
                .authorized(self.http.post(self.url(&path)).json(&body))
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    if !error.is_timeout() && tries.count <= self.settings.retries {
                        if let Some(wait) = retry::wait_before(tries.count, None) {
                            tracing::warn!(provider = %self.settings.name, %error, wait_ms = wait.as_millis() as u64, "trying again");
                            tokio::time::sleep(wait).await;
                            self.wait_for_minute().await?;
                            continue;
                        }
                    }
                    let problem = self.broken_off(&error, tries);
                    self.note("a run", Seen::Unreachable(&problem));
                    return Err(problem);
                }
            };
            let status = response.status();
            if status.is_success() {
                self.note("a run", Seen::Served);
                return Ok(response);
            }
            let asked = retry::asked_to_wait(response.headers(), SystemTime::now());
            if retry::retryable(status) && tries.count <= self.settings.retries {
                if let Some(wait) = retry::wait_before(tries.count, asked) {
                    tracing::warn!(provider = %self.settings.name, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "trying again");
                    drop(response);
                    tokio::time::sleep(wait).await;
                    self.wait_for_minute().await?;
                    continue;
                }
            }
            let mut problem = self.refused(response, tries).await;
            if let Some(asked) = asked.filter(|asked| *asked > retry::LONGEST_WAIT) {
                problem
                    .detail
                    .push_str(&format!("; it asked to wait {} s", asked.as_secs()));
            }
            self.note("a run", Seen::Failed(&problem));
            return Err(problem);
        }
    }

    /// A permit to send one more request: at once while fewer than
    /// `max_concurrent` are running, else after waiting for a turn (first
    /// come, first served), so that a batch of many cells on one provider
    /// runs in turn rather than failing; 429 naming the provider after
    /// `queue_timeout` without one.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, Problem> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let queue_timeout = self.settings.queue_timeout;
        tracing::debug!(provider = %self.settings.name, "waiting for a turn");
        let waited = tokio::time::timeout(queue_timeout, self.slots.clone().acquire_owned()).await;
        match waited {
            // The semaphore is never closed.
            Ok(permit) => Ok(permit.expect("the provider's semaphore stays open")),
            Err(_) => {
                let (who, setting, wait_setting) = if self.settings.prefixed {
                    (
                        format!("provider {}", self.settings.name),
                        "max_concurrent in the providers file",
                        "queue_timeout_seconds",
                    )
                } else {
                    (
                        "the upstream".to_owned(),
                        "--max-upstream-requests",
                        "--upstream-queue-timeout",
                    )
                };
                Err(Problem::too_many_requests(
                    format!(
                        "{who} is already running {} requests for this gateway ({setting}), and this one waited {} s for a turn ({wait_setting})",
                        self.settings.max_concurrent,
                        queue_timeout.as_secs()
                    ),
                    Duration::from_secs(1),
                ))
            }
        }
    }

    /// One request of its per-minute allowance, or 429 with the wait.
    fn take_minute(&self) -> Result<(), Problem> {
        let Some(minute) = &self.minute else {
            return Ok(());
        };
        let per_minute = self.settings.requests_per_minute;
        let taken = minute
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take(per_minute, Instant::now());
        taken.map_err(|wait| {
            Problem::too_many_requests(
                format!(
                    "provider {} takes {per_minute} requests a minute (requests_per_minute in the providers file)",
                    self.settings.name
                ),
                wait,
            )
        })
    }

    /// One request of its per-minute allowance for a retry, waiting for it
    /// (at most [`retry::LONGEST_WAIT`]).
    async fn wait_for_minute(&self) -> Result<(), Problem> {
        loop {
            match self.take_minute() {
                Ok(()) => return Ok(()),
                Err(problem) => match problem.retry_after {
                    Some(seconds) if seconds <= retry::LONGEST_WAIT.as_secs() => {
                        tokio::time::sleep(Duration::from_secs(seconds)).await
                    }
                    _ => return Err(problem),
                },
            }
        }
    }

    fn url(&self, path: &str) -> String {
        let base = match self.settings.kind {
            Kind::Ollama => ollama::root(&self.settings.base_url),
            _ => &self.settings.base_url,
        };
        format!("{base}{path}")
    }

    /// `request` with the key, where this kind of API takes it.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let Some(key) = &self.settings.key else {
            return match self.settings.kind {
                Kind::Anthropic => request.header("anthropic-version", anthropic::VERSION),
                _ => request,
            };
        };
        match self.settings.kind {
            Kind::Openai | Kind::Ollama => request.bearer_auth(key.expose()),
            Kind::Anthropic => request
                .header("x-api-key", key.expose())
                .header("anthropic-version", anthropic::VERSION),
            Kind::Gemini => request.header("x-goog-api-key", key.expose()),
        }
    }

    async fn read_json(
        &self,
        response: reqwest::Response,
        tries: &Tries,
    ) -> Result<Value, Problem> {
        let body = response
            .bytes()
            .await
            .map_err(|error| self.broken_off(&error, tries))?;
        serde_json::from_slice(&body).map_err(|error| {
            self.bad_gateway(
                &format!("sent an answer that is not the expected JSON: {error}"),
                tries,
            )
        })
    }

    /// A non-2xx answer as a 502 naming the provider, repeating its
    /// message, and saying how often it was tried.
    async fn refused(&self, response: reqwest::Response, tries: &Tries) -> Problem {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let what = if status.as_u16() == 529 {
            "is overloaded (529)".to_owned()
        } else {
            format!("answered {}", status.as_u16())
        };
        self.bad_gateway(&format!("{what}: {}", wire::error_message(&body)), tries)
    }

    /// An adapter's failure as a 502 naming the provider.
    fn failed(&self, failure: &Failure, tries: &Tries) -> Problem {
        self.bad_gateway(&failure.what, tries)
    }

    fn bad_gateway(&self, what: &str, tries: &Tries) -> Problem {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("{} {what}{}", self.who(), tries.told()),
        )
    }

    fn broken_off(&self, error: &reqwest::Error, tries: &Tries) -> Problem {
        broken_off(&self.who(), self.settings.timeout, error, tries)
    }

    /// Records what was just `seen` of it, and `how`.
    fn note(&self, how: &'static str, seen: Seen<'_>) {
        let mut health = self
            .health
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let now = Timestamp::now();
        health.checked_at = Some(now.clone());
        health.checked_by = Some(how);
        health.reachable = Some(!matches!(seen, Seen::Unreachable(_)));
        if let Seen::Failed(problem) | Seen::Unreachable(problem) = seen {
            tracing::warn!(provider = %self.settings.name, detail = %problem.detail, "provider failed");
            health.last_error = Some((problem.detail.clone(), now));
        }
    }

    /// Whether it is reachable (checked by listing its models, reused as
    /// the listing is), with what was last seen of it.
    pub async fn status(&self) -> ProviderStatus {
        let listed = self.listing().await;
        let health = self
            .health
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        let local = self.model_provider() == prompt_runs::model::Provider::Local;
        ProviderStatus {
            configured: true,
            available: listed.is_ok(),
            reachable: health.reachable,
            kind: if local { "local" } else { "api" }.to_owned(),
            url: Some(self.settings.base_url.clone()),
            name: Some(self.settings.name.clone()),
            adapter: Some(self.settings.kind.as_str().to_owned()),
            checked_at: health.checked_at.map(|at| at.to_string()),
            checked_by: health.checked_by.map(str::to_owned),
            last_error: health.last_error.as_ref().map(|(error, _)| error.clone()),
            last_error_at: health.last_error.map(|(_, at)| at.to_string()),
        }
    }
}

/// A failed exchange with `who`: 504 when it stayed silent
/// for `timeout`, else 502 (unreachable, or the connection broke).
fn broken_off(who: &str, timeout: Duration, error: &reqwest::Error, tries: &Tries) -> Problem {
    // reqwest names the URL; ours never carries a key (keys go in headers).
    let tried = tries.told();
    if error.is_timeout() {
        Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "{who} said nothing for {} s (--upstream-timeout): {error}{tried}",
                timeout.as_secs()
            ),
        )
    } else if error.is_connect() || error.is_request() {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("{who} could not be reached: {error}{tried}"),
        )
    } else {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            format!("{who} broke off: {error}{tried}"),
        )
    }
}

/// Every configured provider, in the order configured.
pub struct Providers {
    all: Vec<Provider>,
}

impl Providers {
    /// The providers `settings` describe.
    pub fn new(settings: Vec<ProviderSettings>) -> Providers {
        Providers {
            all: settings.into_iter().map(Provider::new).collect(),
        }
    }

    /// All of them.
    pub fn all(&self) -> &[Provider] {
        &self.all
    }

    /// Which provider serves model `id`, and under which of its own names:
    /// `name/model` names the provider; a bare id goes to the one provider
    /// that lists it (its named models, or its listing), else to the
    /// `--upstream-url` shortcut when it offers any model. `Err` 404 for
    /// an id no provider serves, 400 for one that several list.
    pub async fn resolve(&self, id: &str) -> Result<(&Provider, String), Problem> {
        if let Some((prefix, model)) = id.split_once('/') {
            if let Some(provider) = self
                .all
                .iter()
                .find(|provider| provider.prefixed() && provider.name() == prefix)
            {
                return if provider.offers(model) {
                    Ok((provider, model.to_owned()))
                } else {
                    Err(unknown_model(id))
                };
            }
        }
        let mut listing = Vec::new();
        for provider in &self.all {
            let listed = if provider.lists_its_own() {
                provider.models().await.unwrap_or_default()
            } else {
                provider.settings.models.clone()
            };
            if listed.iter().any(|model| model == id) {
                listing.push(provider);
            }
        }
        match listing.as_slice() {
            [only] => Ok((only, id.to_owned())),
            [] => self
                .all
                .iter()
                .find(|provider| !provider.prefixed() && provider.offers(id))
                .map(|provider| (provider, id.to_owned()))
                .ok_or_else(|| unknown_model(id)),
            several => {
                let names: Vec<String> =
                    several.iter().map(|provider| provider.id_of(id)).collect();
                Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "model {id} is offered by several providers: name one of {}",
                        names.join(", ")
                    ),
                ))
            }
        }
    }
}

fn unknown_model(id: &str) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("unknown model: {id}"))
}
