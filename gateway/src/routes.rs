//! The HTTP routes: the NeuroForge API under `/api/v1` and the static app
//! everywhere else.

use crate::access;
use crate::body::json_body;
use crate::experiment_routes::{self, ExperimentsApi};
use crate::experiment_workers::{WorkerOptions, Workers};
use crate::history::History;
use crate::limits::{self, RateLimit};
use crate::logging;
use crate::offline::{self, Behaviour, OfflineModel};
use crate::prices::PriceTable;
use crate::problem::Problem;
use crate::providers::wire::Report;
use crate::providers::{Kind as ProviderKind, Piece, Provider, Providers};
use crate::settings::Settings;
use crate::sync_routes;
use crate::tokens;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use prompt_runs::api::wire::{
    BatchExecuteRequest, ErrorBody, ExecuteRequest, ExecuteResponse, ProviderStatus,
    Providers as ProviderStatuses, StreamDelta, Usage, BATCH_EXECUTE_PATH, EVENT_DELTA, EVENT_DONE,
    EVENT_ERROR, EXECUTE_PATH, EXECUTE_STREAM_PATH, MODELS_PATH, PROVIDERS_PATH,
};
use prompt_runs::model::{Model, PromptRun, RunStatus, Timestamp, BATCH_ID_KEY, PARAMETERS_KEY};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

/// Largest request body accepted: prompts are text, 1 MiB is plenty.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The `maxTokens` reported for upstream models, whose listing does not say.
const UPSTREAM_MAX_TOKENS: u64 = 4_096;
/// Most models one batch execution may name: each is a request upstream.
pub const MAX_BATCH_MODELS: usize = 16;

/// What answers requests: the offline models and the providers, with the
/// price table. The API's routes and the experiment workers share one.
pub(crate) struct Gateway {
    models: Vec<OfflineModel>,
    providers: Providers,
    prices: PriceTable,
    tokens_per_second: f64,
    next_run: AtomicU64,
}

/// Which model answers a request.
enum Target<'g> {
    Offline(&'g OfflineModel),
    /// A provider, and the model by its own name there.
    Provider(&'g Provider, String),
}

/// What the gateway says of an answer beyond NeuroForge's fields (our
/// extension; clients that do not know them ignore them).
#[derive(serde::Serialize)]
struct Answer {
    #[serde(flatten)]
    response: ExecuteResponse,
    /// The provider that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    /// Why the answer ended, in the provider's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_reason: Option<String>,
    /// Prompt tokens written to the provider's cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_write_tokens: Option<u64>,
    /// How often the provider was tried for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    tries: Option<u32>,
}

/// The whole app: API, static files, and the rules in front of them (host,
/// origin, token, rate, time and body limits), with the sync API when given
/// a `history` (without one, its paths are unknown), and every request
/// logged ([`logging`]). The settings were checked already, so nothing here
/// can fail.
pub fn router(settings: Settings, history: Option<History>) -> Router {
    let gateway = Gateway::new(&settings);
    let experiments = history.map(|history| ExperimentsApi::new(history, gateway.clone()));
    router_with(settings, gateway, experiments)
}

/// The app as [`router`] builds it, with the experiments run on the gateway
/// (their routes, and the workers that run their cells): what a served
/// gateway runs. The workers stop when [`Workers`] is dropped.
pub fn router_with_workers(settings: Settings, history: History) -> (Router, Workers) {
    let gateway = Gateway::new(&settings);
    let options = WorkerOptions::from_config(settings.config());
    let experiments = ExperimentsApi::new(history.clone(), gateway.clone());
    let workers = Workers::start(history, gateway.clone(), options, experiments.wake());
    (router_with(settings, gateway, Some(experiments)), workers)
}

fn router_with(
    settings: Settings,
    gateway: Arc<Gateway>,
    experiments: Option<ExperimentsApi>,
) -> Router {
    let access = settings.access().clone();
    let config = settings.config();
    let rate_limit = Arc::new(RateLimit::new(config.requests_per_minute, access.clone()));
    let index = config.static_dir.join("index.html");
    // Layers run outside in: the last added runs first. For the API: rate
    // (before the token, so that guesses are counted too), token, time.
    let api = Router::new()
        .route(
            "/api/v1/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(MODELS_PATH, get(list_models))
        .route(&format!("{MODELS_PATH}/{{id}}"), get(one_model))
        .route(PROVIDERS_PATH, get(providers))
        .route(limits::LIMITS_PATH, limits::describe(config))
        .route(EXECUTE_PATH, post(execute))
        .route(EXECUTE_STREAM_PATH, post(execute_stream))
        .route(BATCH_EXECUTE_PATH, post(execute_batch))
        .route("/api/{*rest}", get(unknown_api).post(unknown_api))
        .with_state(gateway);
    let api = match experiments {
        Some(experiments) => api
            .merge(sync_routes::routes(experiments.history().clone()))
            .merge(experiment_routes::routes(experiments)),
        None => api,
    };
    let api = match config.test_buffering {
        true => api.layer(middleware::from_fn(buffer_whole)),
        false => api,
    }
    .layer(middleware::from_fn_with_state(
        Duration::from_secs(config.request_timeout),
        limits::limit_time,
    ))
    .layer(middleware::from_fn_with_state(
        access.clone(),
        access::require_token,
    ))
    .layer(middleware::from_fn_with_state(
        rate_limit,
        limits::limit_rate,
    ));
    let allowed = access.clone();
    // CORS answers preflights before the token is asked for (browsers send
    // none with them), and lets allowed pages read answers, `Retry-After`
    // included. Which origins: the guard's rule, asked again here rather
    // than restated.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            allowed.allows_origin(origin, access::request_host(&parts.headers, &parts.uri))
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT])
        .expose_headers([header::RETRY_AFTER]);
    api.fallback_service(ServeDir::new(&config.static_dir).fallback(ServeFile::new(index)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .layer(middleware::from_fn_with_state(access, access::guard))
        // Outermost: refusals by the rules above are logged too.
        .layer(middleware::from_fn(logging::log_requests))
}

/// `--test-buffering`: holds each answer back until it is complete, as a
/// proxy that buffers does; a stream that never ends is never answered.
async fn buffer_whole(request: axum::extract::Request, next: middleware::Next) -> Response {
    let (parts, body) = next.run(request).await.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Response::from_parts(parts, axum::body::Body::from(bytes)),
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn unknown_api() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such API endpoint")
}

impl Gateway {
    fn new(settings: &Settings) -> Arc<Gateway> {
        let config = settings.config();
        Arc::new(Gateway {
            models: offline::models(config.test_models),
            providers: Providers::new(settings.providers().to_vec()),
            prices: settings.prices().clone(),
            tokens_per_second: config.offline_tokens_per_second.max(0.001),
            next_run: AtomicU64::new(0),
        })
    }

    /// Every model served, with its price (see [`Gateway::all_models`]).
    pub(crate) async fn models(&self) -> Vec<Model> {
        self.all_models().await
    }

    /// The whole answer to `request`, by the same path as the execute
    /// endpoint's (the same adapters, caps and retries), or why there is none.
    pub(crate) async fn answer(
        &self,
        request: &ExecuteRequest,
    ) -> Result<ExecuteResponse, Problem> {
        let started = Instant::now();
        let target = self.target(&request.model_id).await?;
        Ok(complete(self, request, target, started).await?.response)
    }

    fn price_per_1k_tokens(&self, model_id: &str) -> Option<f64> {
        self.prices
            .lookup(model_id)
            .map(|price| price.per_1k_tokens())
    }

    /// Every model served: the offline ones, then each provider's (none
    /// from one that cannot be reached: the providers endpoint says so),
    /// asked all at once so that a slow provider delays the list once.
    async fn all_models(&self) -> Vec<Model> {
        let mut models: Vec<Model> = self
            .models
            .iter()
            .map(|model| model.describe(self.price_per_1k_tokens(model.id)))
            .collect();
        let providers = self.providers.all();
        let listed =
            futures::future::join_all(providers.iter().map(|provider| provider.models())).await;
        for (provider, listed) in providers.iter().zip(listed) {
            for model in listed.unwrap_or_default() {
                models.push(Model {
                    id: provider.id_of(&model),
                    provider: provider.model_provider(),
                    max_tokens: UPSTREAM_MAX_TOKENS,
                    supports_streaming: true,
                    cost_per_1k_tokens: provider
                        .prices()
                        .lookup(&model)
                        .map(|price| price.per_1k_tokens()),
                    metadata: serde_json::json!({"provider": provider.name(), "adapter": provider.kind().as_str()})
                        .as_object()
                        .cloned(),
                    name: model,
                });
            }
        }
        models
    }

    /// Which model answers `id`: an offline one (they keep their ids), else
    /// a provider's (see [`Providers::resolve`]).
    async fn target(&self, id: &str) -> Result<Target<'_>, Problem> {
        if let Some(model) = self.models.iter().find(|model| model.id == id) {
            return Ok(Target::Offline(model));
        }
        let (provider, model) = self.providers.resolve(id).await?;
        Ok(Target::Provider(provider, model))
    }

    fn run_id(&self) -> String {
        let millis = Timestamp::now().unix_millis().unwrap_or_default();
        format!(
            "run_{millis:x}_{:x}",
            self.next_run.fetch_add(1, Ordering::Relaxed)
        )
    }
}

async fn list_models(State(gateway): State<Arc<Gateway>>) -> Json<Vec<Model>> {
    Json(gateway.all_models().await)
}

async fn one_model(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<Model>, Problem> {
    gateway
        .all_models()
        .await
        .into_iter()
        .find(|model| model.id == id)
        .map(Json)
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, format!("unknown model: {id}")))
}

/// NeuroForge's `openai`, `anthropic` and `ollama` (what its client's
/// `getProviderStatus` reads) and our `google`, each summarising the
/// configured providers of that kind (`ollama`: those on this machine),
/// configured if there is one and available if one is; and beside them,
/// under `providers`, every configured provider in the order configured,
/// with what was last seen of it. The summaries are fixed names and the
/// list is a list, so no provider's name can hide another's entry.
async fn providers(State(gateway): State<Arc<Gateway>>) -> Json<ProviderStatuses> {
    let all = gateway.providers.all();
    let statuses = futures::future::join_all(all.iter().map(|provider| provider.status())).await;
    let mut summaries: std::collections::BTreeMap<String, ProviderStatus> = [
        ("openai", "api"),
        ("anthropic", "api"),
        ("google", "api"),
        ("ollama", "local"),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let status = ProviderStatus {
            kind: kind.to_owned(),
            ..ProviderStatus::default()
        };
        (name.to_owned(), status)
    })
    .collect();
    for (provider, status) in all.iter().zip(&statuses) {
        let summary = match (provider.kind(), status.kind.as_str()) {
            (_, "local") | (ProviderKind::Ollama, _) => "ollama",
            (ProviderKind::Anthropic, _) => "anthropic",
            (ProviderKind::Openai, _) => "openai",
            (ProviderKind::Gemini, _) => "google",
        };
        let entry = summaries
            .get_mut(summary)
            .expect("each summary is in the map");
        entry.url = entry.url.take().or_else(|| status.url.clone());
        entry.configured = true;
        entry.available |= status.available;
    }
    Json(ProviderStatuses {
        summaries,
        providers: statuses,
    })
}

/// Reads and checks an execute request: 415 unless it says it is JSON, 413
/// over the size limit, 400 for malformed JSON or an empty prompt, 422 for
/// missing or mistyped fields, 404 for an unknown model.
async fn parse_request<'g>(
    gateway: &'g Gateway,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(ExecuteRequest, Target<'g>), Problem> {
    let request: ExecuteRequest = parse_json(headers, body)?;
    check_prompt(&request.prompt)?;
    let target = gateway.target(&request.model_id).await?;
    Ok((request, target))
}

/// An execute endpoint's body as `T`: see [`json_body`]; then 400 for
/// malformed JSON, 422 for missing or mistyped fields.
fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
    let body = json_body(headers, body, MAX_BODY_BYTES)?;
    // Syntax first, so that broken JSON is always a 400, whatever it holds.
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {error}"))
    })?;
    serde_json::from_value(json).map_err(|error| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid request: {error}"),
        )
    })
}

fn check_prompt(prompt: &str) -> Result<(), Problem> {
    if prompt.trim().is_empty() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "prompt is empty"));
    }
    Ok(())
}

/// The offline answer as it streams: its pieces, limited by `max_tokens`.
fn answer_pieces(request: &ExecuteRequest) -> Vec<String> {
    let text = offline::answer_of(&request.model_id, &request.prompt, &request.context_blocks);
    let limit = request
        .parameters
        .as_ref()
        .and_then(|parameters| parameters.max_tokens)
        .map_or(usize::MAX, |max| max as usize);
    tokens::split(&text)
        .into_iter()
        .take(limit)
        .map(str::to_owned)
        .collect()
}

/// Who answered: an offline model, or a provider (its model by its own
/// name there, and how often it was tried).
#[derive(Clone, Copy)]
enum Answerer<'g> {
    Offline,
    Provider(&'g Provider, &'g str, u32),
}

/// The answer to `request`: `output`, with the usage the model reported or,
/// when it reported none, counted here, and its cost with where that comes
/// from: as the provider reported it; else the price table's of the day
/// (an estimate, and said to be one); else $0 for Ollama (it runs on this
/// machine); else none.
fn finish(
    gateway: &Gateway,
    request: &ExecuteRequest,
    output: String,
    report: Report,
    started: Instant,
    answerer: Answerer<'_>,
) -> Answer {
    let usage = report.usage.unwrap_or_else(|| {
        let prompt_tokens = tokens::count(&request.prompt)
            + request
                .context_blocks
                .iter()
                .map(|block| tokens::count(block))
                .sum::<u64>();
        Usage::new(prompt_tokens, tokens::count(&output))
    });
    let now = Timestamp::now();
    let at = now.unix_millis().unwrap_or(i64::MAX);
    let written = report.cache_write_tokens.unwrap_or(0);
    let (table, model, provider) = match answerer {
        Answerer::Offline => (&gateway.prices, request.model_id.as_str(), None),
        Answerer::Provider(provider, model, _) => (provider.prices(), model, Some(provider)),
    };
    let estimated = || {
        table
            .cost_with_writes(model, &usage, written, at)
            .map(|cost| cost.dollars())
    };
    let (cost, cost_source) = match (report.cost, estimated()) {
        (Some(reported), _) => (Some(reported), Some("reported")),
        (None, Some(estimated)) => (Some(estimated), Some("estimated")),
        (None, None)
            if provider.is_some_and(|provider| provider.kind() == ProviderKind::Ollama) =>
        {
            (Some(0.0), Some("local"))
        }
        (None, None) => (None, None),
    };
    Answer {
        response: ExecuteResponse {
            run_id: gateway.run_id(),
            model_id: request.model_id.clone(),
            output,
            usage,
            latency_ms: started.elapsed().as_millis() as u64,
            created_at: now.to_string(),
            cost,
            cost_source: cost_source.map(str::to_owned),
            first_token_ms: None,
            timings: report.timings,
        },
        provider: provider.map(|provider| provider.name().to_owned()),
        stop_reason: report.stop_reason,
        cache_write_tokens: report.cache_write_tokens,
        tries: match answerer {
            Answerer::Provider(_, _, tries) => Some(tries),
            Answerer::Offline => None,
        },
    }
}

async fn execute(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, target) = parse_request(&gateway, &headers, body).await?;
    if let Target::Offline(model) = target {
        match model.behaviour {
            Behaviour::Malformed => {
                return Ok((
                    [(header::CONTENT_TYPE, "application/json")],
                    "{\"run_id\": oops",
                )
                    .into_response());
            }
            Behaviour::Disconnect => return Ok(offline::disconnecting_answer(&request, false)),
            _ => {}
        }
    }
    let response = complete(&gateway, &request, target, started).await?;
    Ok(Json(response).into_response())
}

/// The whole answer of `target` to `request`, or why there is none.
async fn complete(
    gateway: &Gateway,
    request: &ExecuteRequest,
    target: Target<'_>,
    started: Instant,
) -> Result<Answer, Problem> {
    let model = match target {
        Target::Offline(model) => model,
        Target::Provider(provider, model) => {
            let answered = provider.complete(request, &model).await?;
            let completion = answered.completion;
            let answerer = Answerer::Provider(provider, &model, answered.tries);
            return Ok(finish(
                gateway,
                request,
                completion.output,
                completion.report,
                started,
                answerer,
            ));
        }
    };
    match model.behaviour {
        Behaviour::Fail => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated failure",
        )),
        // The plain endpoint sends its broken body itself; anywhere else a
        // broken answer is a failure of the model.
        Behaviour::Malformed => Err(Problem::new(
            StatusCode::BAD_GATEWAY,
            "simulated malformed answer",
        )),
        Behaviour::Disconnect => Err(Problem::new(
            StatusCode::BAD_GATEWAY,
            "simulated broken connection",
        )),
        Behaviour::Hang => futures::future::pending().await,
        Behaviour::Answer { speed } => {
            let pacing = model.pacing(gateway.tokens_per_second * speed);
            let pieces = answer_pieces(request);
            tokio::time::sleep(pacing.total(pieces.len())).await;
            let report = Report {
                timings: Some(pacing.timings(pieces.len())),
                ..Report::default()
            };
            Ok(finish(
                gateway,
                request,
                pieces.concat(),
                report,
                started,
                Answerer::Offline,
            ))
        }
    }
}

/// `POST /api/v1/execute`: one prompt on each of `model_ids`, at once; one
/// [`PromptRun`] per model, in their order, a failed one with status
/// `error` and its message (never a missing entry). `stream: true` is
/// answered the same way: NeuroForge's client reads a JSON array either way.
async fn execute_batch(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<PromptRun>>, Problem> {
    let batch: BatchExecuteRequest = parse_json(&headers, body)?;
    check_prompt(&batch.prompt)?;
    if batch.model_ids.is_empty() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "model_ids is empty: name at least one model",
        ));
    }
    if batch.model_ids.len() > MAX_BATCH_MODELS {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!(
                "model_ids names {} models; at most {MAX_BATCH_MODELS} at once",
                batch.model_ids.len()
            ),
        ));
    }
    let batch_id = gateway.run_id().replacen("run_", "batch_", 1);
    let runs = batch.model_ids.iter().map(|model_id| {
        let request = ExecuteRequest {
            prompt: batch.prompt.clone(),
            model_id: model_id.clone(),
            context_blocks: batch.context_blocks.clone(),
            parameters: batch.parameters.clone(),
            workspace_id: batch.workspace_id.clone(),
        };
        let (gateway, batch_id) = (&gateway, &batch_id);
        async move {
            let started_at = Timestamp::now();
            let started = Instant::now();
            let outcome = match gateway.target(model_id).await {
                Ok(target) => complete(gateway, &request, target, started)
                    .await
                    .map(|answer| answer.response),
                Err(problem) => Err(problem),
            };
            batch_run(gateway, &request, batch_id, started_at, started, outcome)
        }
    });
    Ok(Json(futures::future::join_all(runs).await))
}

/// One model's run of a batch, finished: its answer, or the error.
fn batch_run(
    gateway: &Gateway,
    request: &ExecuteRequest,
    batch_id: &str,
    started_at: Timestamp,
    started: Instant,
    outcome: Result<ExecuteResponse, Problem>,
) -> PromptRun {
    let mut run = PromptRun::pending(String::new(), &request.model_id, &request.prompt);
    run.workspace_id = request.workspace_id.clone().unwrap_or_default();
    run.started_at = started_at;
    run.completed_at = Some(Timestamp::now());
    run.duration_ms = Some(started.elapsed().as_millis() as u64);
    let mut metadata = serde_json::Map::new();
    metadata.insert(BATCH_ID_KEY.to_owned(), batch_id.into());
    if let Some(parameters) = &request.parameters {
        let sent = serde_json::to_value(parameters).unwrap_or_default();
        metadata.insert(PARAMETERS_KEY.to_owned(), sent);
    }
    run.metadata = Some(metadata);
    run.id = match &outcome {
        Ok(response) => response.run_id.clone(),
        Err(_) => gateway.run_id(),
    };
    record_outcome(&mut run, outcome);
    run
}

/// Ends `run` with `outcome`: `success` with the answer, its time, tokens
/// and cost, or `error` with the problem in words.
pub(crate) fn record_outcome(run: &mut PromptRun, outcome: Result<ExecuteResponse, Problem>) {
    match outcome {
        Ok(response) => {
            run.status = RunStatus::Success;
            run.duration_ms = Some(response.latency_ms);
            run.input_tokens = Some(response.usage.prompt_tokens);
            run.output_tokens = Some(response.usage.completion_tokens);
            run.total_tokens = Some(response.usage.total_tokens);
            run.cost = response.cost;
            run.output = Some(response.output);
        }
        Err(problem) => {
            run.status = RunStatus::Error;
            run.error = Some(problem.detail);
        }
    }
}

async fn execute_stream(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, target) = parse_request(&gateway, &headers, body).await?;
    let model = match target {
        Target::Offline(model) => model,
        Target::Provider(provider, model) => {
            let (pieces, tries) = provider.stream(&request, &model).await?;
            let source = Source {
                provider: provider.name().to_owned(),
                model,
                tries,
            };
            let events = relay(pieces, gateway.clone(), request, started, source);
            return Ok(Sse::new(events)
                .keep_alive(KeepAlive::default())
                .into_response());
        }
    };
    let events: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        match model.behaviour {
            Behaviour::Fail => {
                return Err(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "simulated failure",
                ))
            }
            Behaviour::Malformed => Box::pin(stream::iter([Ok(Event::default()
                .event(EVENT_DONE)
                .data("{\"run_id\": oops"))])),
            Behaviour::Hang => Box::pin(stream::pending()),
            Behaviour::Disconnect => return Ok(offline::disconnecting_answer(&request, true)),
            Behaviour::Answer { speed } => {
                let pacing = model.pacing(gateway.tokens_per_second * speed);
                let pieces = answer_pieces(&request);
                let first_token = Arc::new(OnceLock::new());
                let sent = first_token.clone();
                let deltas = stream::iter(pieces.clone().into_iter().enumerate()).then(
                    move |(index, text)| {
                        let sent = sent.clone();
                        async move {
                            tokio::time::sleep(pacing.before(index)).await;
                            let _ = sent.set(started.elapsed().as_millis() as u64);
                            Ok(json_event(EVENT_DELTA, &StreamDelta { text }))
                        }
                    },
                );
                // Built lazily, after the last delta: dropping the stream (the
                // client went away) stops generation there and then.
                let done = stream::once(async move {
                    let report = Report {
                        timings: Some(pacing.timings(pieces.len())),
                        ..Report::default()
                    };
                    let mut answer = finish(
                        &gateway,
                        &request,
                        pieces.concat(),
                        report,
                        started,
                        Answerer::Offline,
                    );
                    answer.response.first_token_ms = first_token.get().copied();
                    Ok(json_event(EVENT_DONE, &answer))
                });
                Box::pin(deltas.chain(done))
            }
        };
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Which provider a stream comes from (owned: the stream outlives the
/// request's borrow of the gateway).
struct Source {
    provider: String,
    model: String,
    tries: u32,
}

/// A provider's pieces as our events: a `delta` per piece of text, then
/// `done` with the whole answer (with when its first text came, and the
/// provider's usage, cost and timings), or `error` if it broke off.
fn relay(
    pieces: BoxStream<'static, Result<Piece, Problem>>,
    gateway: Arc<Gateway>,
    request: ExecuteRequest,
    started: Instant,
    source: Source,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    struct Relay {
        pieces: BoxStream<'static, Result<Piece, Problem>>,
        output: String,
        first_token_ms: Option<u64>,
    }
    let relay = Relay {
        pieces,
        output: String::new(),
        first_token_ms: None,
    };
    let source = Arc::new(source);
    stream::unfold(Some(relay), move |state| {
        let (gateway, request, source) = (gateway.clone(), request.clone(), source.clone());
        async move {
            let mut relay = state?;
            match relay.pieces.next().await {
                Some(Ok(Piece::Text(text))) => {
                    let elapsed = started.elapsed().as_millis() as u64;
                    relay.first_token_ms.get_or_insert(elapsed);
                    relay.output.push_str(&text);
                    let event = json_event(EVENT_DELTA, &StreamDelta { text });
                    Some((Ok(event), Some(relay)))
                }
                Some(Ok(Piece::Done(report))) => {
                    let provider = gateway
                        .providers
                        .all()
                        .iter()
                        .find(|provider| provider.name() == source.provider)?;
                    let answerer = Answerer::Provider(provider, &source.model, source.tries);
                    let mut answer =
                        finish(&gateway, &request, relay.output, report, started, answerer);
                    answer.response.first_token_ms = relay.first_token_ms;
                    Some((Ok(json_event(EVENT_DONE, &answer)), None))
                }
                Some(Err(problem)) => {
                    let error = ErrorBody {
                        detail: problem.detail,
                    };
                    Some((Ok(json_event(EVENT_ERROR, &error)), None))
                }
                // The provider's stream ends with `Done` or an error; a
                // stream that just stops is the decoder's to report.
                None => None,
            }
        }
    })
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|error| {
            Event::default().event(EVENT_ERROR).data(
                serde_json::to_string(&ErrorBody {
                    detail: error.to_string(),
                })
                .unwrap_or_default(),
            )
        })
}
