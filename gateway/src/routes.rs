//! The HTTP routes: the NeuroForge API under `/api/v1` and the static app
//! everywhere else.

use crate::access::{self, Access};
use crate::history::History;
use crate::limits::{self, RateLimit};
use crate::offline::{self, Behaviour, OfflineModel};
use crate::prices::PriceTable;
use crate::problem::Problem;
use crate::sync_routes;
use crate::tokens;
use crate::upstream::{Piece, Upstream};
use crate::GatewayConfig;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use prompt_runs::api::wire::{
    BatchExecuteRequest, ErrorBody, ExecuteRequest, ExecuteResponse, ProviderStatus, Providers,
    StreamDelta, Timings, Usage, BATCH_EXECUTE_PATH, EVENT_DELTA, EVENT_DONE, EVENT_ERROR,
    EXECUTE_PATH, EXECUTE_STREAM_PATH, MODELS_PATH, PROVIDERS_PATH,
};
use prompt_runs::model::{
    Model, PromptRun, Provider, RunStatus, Timestamp, BATCH_ID_KEY, PARAMETERS_KEY,
};
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

struct Gateway {
    models: Vec<OfflineModel>,
    upstream: Option<Upstream>,
    prices: PriceTable,
    tokens_per_second: f64,
    next_run: AtomicU64,
}

/// Which model answers a request.
enum Target<'g> {
    Offline(&'g OfflineModel),
    Upstream(&'g Upstream),
}

/// The whole app: API, static files, and the rules in front of them (host,
/// origin, token, rate, time and body limits), with the sync API when given
/// a `history` (without one, its paths are unknown). `config.addr` must be
/// the address actually listened on (see [`GatewayConfig::settle`]). Fails,
/// naming the problem, when the configuration cannot be used (an
/// unreadable price file, a bad flag, a required token missing).
pub fn router(config: GatewayConfig, history: Option<History>) -> Result<Router, String> {
    let access = Arc::new(Access::new(&config)?);
    let prices = match &config.prices {
        Some(path) => PriceTable::builtin_with_overrides(path)?,
        None => PriceTable::builtin(),
    };
    let upstream = config.upstream_url.as_deref().map(|url| {
        Upstream::new(
            url,
            config.upstream_key.clone(),
            config.upstream_models.clone(),
            config.max_upstream_requests,
            Duration::from_secs(config.upstream_timeout),
        )
    });
    let gateway = Arc::new(Gateway {
        models: offline::models(config.test_models),
        upstream,
        prices,
        tokens_per_second: config.offline_tokens_per_second.max(0.001),
        next_run: AtomicU64::new(0),
    });
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
        .route(limits::LIMITS_PATH, limits::describe(&config))
        .route(EXECUTE_PATH, post(execute))
        .route(EXECUTE_STREAM_PATH, post(execute_stream))
        .route(BATCH_EXECUTE_PATH, post(execute_batch))
        .route("/api/{*rest}", get(unknown_api).post(unknown_api))
        .with_state(gateway);
    let api = match history {
        Some(history) => api.merge(sync_routes::routes(history)),
        None => api,
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
    Ok(api
        .fallback_service(ServeDir::new(&config.static_dir).fallback(ServeFile::new(index)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .layer(middleware::from_fn_with_state(access, access::guard)))
}

async fn unknown_api() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such API endpoint")
}

impl Gateway {
    fn price_per_1k_tokens(&self, model_id: &str) -> Option<f64> {
        self.prices
            .lookup(model_id)
            .map(|price| price.per_1k_tokens())
    }

    /// Every model served: the offline ones, then the upstream's (none when
    /// it cannot be reached: the providers endpoint says so).
    async fn all_models(&self) -> Vec<Model> {
        let mut models: Vec<Model> = self
            .models
            .iter()
            .map(|model| model.describe(self.price_per_1k_tokens(model.id)))
            .collect();
        if let Some(upstream) = &self.upstream {
            let provider = if upstream.is_local() {
                Provider::Local
            } else {
                Provider::Openai
            };
            for id in upstream.models().await.unwrap_or_default() {
                models.push(Model {
                    name: id.clone(),
                    provider,
                    max_tokens: UPSTREAM_MAX_TOKENS,
                    supports_streaming: true,
                    cost_per_1k_tokens: self.price_per_1k_tokens(&id),
                    metadata: None,
                    id,
                });
            }
        }
        models
    }

    fn target(&self, id: &str) -> Result<Target<'_>, Problem> {
        if let Some(model) = self.models.iter().find(|model| model.id == id) {
            return Ok(Target::Offline(model));
        }
        match &self.upstream {
            Some(upstream) if upstream.offers(id) => Ok(Target::Upstream(upstream)),
            _ => Err(Problem::new(
                StatusCode::NOT_FOUND,
                format!("unknown model: {id}"),
            )),
        }
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

/// The upstream, if configured, under `ollama` when it runs on this machine
/// and `openai` otherwise, available if it listed its models just now. The
/// others are reported unconfigured.
async fn providers(State(gateway): State<Arc<Gateway>>) -> Json<Providers> {
    let unconfigured = |kind: &str| ProviderStatus {
        configured: false,
        available: false,
        kind: kind.to_owned(),
        url: None,
    };
    let mut providers = Providers::from([
        ("openai".to_owned(), unconfigured("api")),
        ("anthropic".to_owned(), unconfigured("api")),
        ("ollama".to_owned(), unconfigured("local")),
    ]);
    if let Some(upstream) = &gateway.upstream {
        let (name, kind) = if upstream.is_local() {
            ("ollama", "local")
        } else {
            ("openai", "api")
        };
        let status = ProviderStatus {
            configured: true,
            available: upstream.models().await.is_ok(),
            kind: kind.to_owned(),
            url: Some(upstream.base_url().to_owned()),
        };
        providers.insert(name.to_owned(), status);
    }
    Json(providers)
}

/// Reads and checks an execute request: 415 unless it says it is JSON, 413
/// over the size limit, 400 for malformed JSON or an empty prompt, 422 for
/// missing or mistyped fields, 404 for an unknown model.
fn parse_request<'g>(
    gateway: &'g Gateway,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(ExecuteRequest, Target<'g>), Problem> {
    let request: ExecuteRequest = parse_json(headers, body)?;
    check_prompt(&request.prompt)?;
    let target = gateway.target(&request.model_id)?;
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

/// A request body that must be JSON: 415 unless it is declared so (which
/// also makes a browser ask first, with a preflight, before sending it from
/// another origin: a `text/plain` POST needs none), 413 over `limit` bytes
/// (the route's body limit).
pub(crate) fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    let essence = content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    if !essence.is_some_and(|essence| essence.eq_ignore_ascii_case("application/json")) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "send the request body as JSON, with Content-Type: application/json (this one had {})",
                content_type.map_or_else(|| "none".to_owned(), |value| format!("Content-Type: {value}"))
            ),
        ));
    }
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {limit} bytes"),
        ),
        status => Problem::new(status, rejection.body_text()),
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

/// The answer to `request`: `output`, with the usage the model reported or,
/// when it reported none, counted here, and the cost at the table's price
/// of the day (an estimate, and said to be one).
fn finish(
    gateway: &Gateway,
    request: &ExecuteRequest,
    output: String,
    reported: Option<Usage>,
    started: Instant,
) -> ExecuteResponse {
    let usage = reported.unwrap_or_else(|| {
        let prompt_tokens = tokens::count(&request.prompt)
            + request
                .context_blocks
                .iter()
                .map(|block| tokens::count(block))
                .sum::<u64>();
        Usage::new(prompt_tokens, tokens::count(&output))
    });
    let now = Timestamp::now();
    let cost = gateway.prices.cost(
        &request.model_id,
        &usage,
        now.unix_millis().unwrap_or(i64::MAX),
    );
    ExecuteResponse {
        run_id: gateway.run_id(),
        model_id: request.model_id.clone(),
        output,
        usage,
        latency_ms: started.elapsed().as_millis() as u64,
        created_at: now.to_string(),
        cost: cost.map(|cost| cost.dollars()),
        cost_source: cost.map(|_| "estimated".to_owned()),
        first_token_ms: None,
        timings: None,
    }
}

async fn execute(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, target) = parse_request(&gateway, &headers, body)?;
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
) -> Result<ExecuteResponse, Problem> {
    let model = match target {
        Target::Offline(model) => model,
        Target::Upstream(upstream) => {
            let completion = upstream.complete(request).await?;
            let mut response = finish(
                gateway,
                request,
                completion.output,
                completion.usage,
                started,
            );
            response.timings = completion.timings;
            return Ok(response);
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
            let mut response = finish(gateway, request, pieces.concat(), None, started);
            response.timings = Some(pacing.timings(pieces.len()));
            Ok(response)
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
            let outcome = match gateway.target(model_id) {
                Ok(target) => complete(gateway, &request, target, started).await,
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
    match outcome {
        Ok(response) => {
            run.id = response.run_id;
            run.status = RunStatus::Success;
            run.duration_ms = Some(response.latency_ms);
            run.input_tokens = Some(response.usage.prompt_tokens);
            run.output_tokens = Some(response.usage.completion_tokens);
            run.total_tokens = Some(response.usage.total_tokens);
            run.cost = response.cost;
            run.output = Some(response.output);
        }
        Err(problem) => {
            run.id = gateway.run_id();
            run.status = RunStatus::Error;
            run.error = Some(problem.detail);
        }
    }
    run
}

async fn execute_stream(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, target) = parse_request(&gateway, &headers, body)?;
    let model = match target {
        Target::Offline(model) => model,
        Target::Upstream(upstream) => {
            let pieces = upstream.stream(&request).await?;
            let events = relay(pieces, gateway.clone(), request, started);
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
                    let mut response = finish(&gateway, &request, pieces.concat(), None, started);
                    response.first_token_ms = first_token.get().copied();
                    response.timings = Some(pacing.timings(pieces.len()));
                    Ok(json_event(EVENT_DONE, &response))
                });
                Box::pin(deltas.chain(done))
            }
        };
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The upstream's pieces as our events: a `delta` per piece of text, then
/// `done` with the whole answer (with when its first text came, and the
/// upstream's usage details and timings), or `error` if the upstream broke off.
fn relay(
    pieces: futures::stream::BoxStream<'static, Result<Piece, Problem>>,
    gateway: Arc<Gateway>,
    request: ExecuteRequest,
    started: Instant,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    struct Relay {
        pieces: futures::stream::BoxStream<'static, Result<Piece, Problem>>,
        output: String,
        usage: Option<Usage>,
        timings: Option<Timings>,
        first_token_ms: Option<u64>,
    }
    let relay = Relay {
        pieces,
        output: String::new(),
        usage: None,
        timings: None,
        first_token_ms: None,
    };
    stream::unfold(Some(relay), move |state| {
        let (gateway, request) = (gateway.clone(), request.clone());
        async move {
            let mut relay = state?;
            loop {
                match relay.pieces.next().await {
                    Some(Ok(Piece::Text(text))) => {
                        let elapsed = started.elapsed().as_millis() as u64;
                        relay.first_token_ms.get_or_insert(elapsed);
                        relay.output.push_str(&text);
                        let event = json_event(EVENT_DELTA, &StreamDelta { text });
                        return Some((Ok(event), Some(relay)));
                    }
                    Some(Ok(Piece::Usage(usage))) => relay.usage = Some(usage),
                    Some(Ok(Piece::Timings(timings))) => relay.timings = Some(timings),
                    Some(Err(problem)) => {
                        let error = ErrorBody {
                            detail: problem.detail,
                        };
                        return Some((Ok(json_event(EVENT_ERROR, &error)), None));
                    }
                    None => {
                        let mut response =
                            finish(&gateway, &request, relay.output, relay.usage, started);
                        response.first_token_ms = relay.first_token_ms;
                        response.timings = relay.timings;
                        return Some((Ok(json_event(EVENT_DONE, &response)), None));
                    }
                }
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
