//! The HTTP routes: the NeuroForge API under `/api/v1` and the static app
//! everywhere else.

use crate::offline::{self, Behaviour, OfflineModel};
use crate::prices::PriceTable;
use crate::problem::Problem;
use crate::tokens;
use crate::upstream::{Piece, Upstream};
use crate::GatewayConfig;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use prompt_runs::api::wire::{
    ErrorBody, ExecuteRequest, ExecuteResponse, ProviderStatus, Providers, StreamDelta, Usage,
    EVENT_DELTA, EVENT_DONE, EVENT_ERROR, EXECUTE_PATH, EXECUTE_STREAM_PATH, MODELS_PATH,
    PROVIDERS_PATH,
};
use prompt_runs::model::{Model, Provider, Timestamp};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

/// Largest request body accepted: prompts are text, 1 MiB is plenty.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The `maxTokens` reported for upstream models, whose listing does not say.
const UPSTREAM_MAX_TOKENS: u64 = 4_096;

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

/// The whole app: API, static files, CORS, body limit. Fails, naming the
/// problem, when the configuration cannot be used (an unreadable price file).
pub fn router(config: GatewayConfig) -> Result<Router, String> {
    let prices = match &config.prices {
        Some(path) => PriceTable::builtin_with_overrides(path)?,
        None => PriceTable::builtin(),
    };
    let upstream = config.upstream_url.as_deref().map(|url| {
        Upstream::new(
            url,
            config.upstream_key.clone(),
            config.upstream_models.clone(),
        )
    });
    let gateway = Arc::new(Gateway {
        models: offline::models(config.test_models),
        upstream,
        prices,
        tokens_per_second: config.offline_tokens_per_second.max(0.001),
        next_run: AtomicU64::new(0),
    });
    let index = config.static_dir.join("index.html");
    let api = Router::new()
        .route(
            "/api/v1/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(MODELS_PATH, get(list_models))
        .route(&format!("{MODELS_PATH}/{{id}}"), get(one_model))
        .route(PROVIDERS_PATH, get(providers))
        .route(EXECUTE_PATH, post(execute))
        .route(EXECUTE_STREAM_PATH, post(execute_stream))
        .route("/api/{*rest}", get(unknown_api).post(unknown_api))
        .with_state(gateway);
    Ok(api
        .fallback_service(ServeDir::new(&config.static_dir).fallback(ServeFile::new(index)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT]),
        ))
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

/// Reads and checks an execute request: 413 over the size limit, 400 for
/// malformed JSON or an empty prompt, 422 for missing or mistyped fields, 404
/// for an unknown model.
fn parse_request(
    gateway: &Gateway,
    body: Result<Bytes, BytesRejection>,
) -> Result<(ExecuteRequest, Target<'_>), Problem> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
        ),
        status => Problem::new(status, rejection.body_text()),
    })?;
    // Syntax first, so that broken JSON is always a 400, whatever it holds.
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {error}"))
    })?;
    let request: ExecuteRequest = serde_json::from_value(json).map_err(|error| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid request: {error}"),
        )
    })?;
    if request.prompt.trim().is_empty() {
        return Err(Problem::new(StatusCode::BAD_REQUEST, "prompt is empty"));
    }
    let target = gateway.target(&request.model_id)?;
    Ok((request, target))
}

/// The offline answer as it streams: its pieces, limited by `max_tokens`.
fn answer_pieces(request: &ExecuteRequest) -> Vec<String> {
    let text = offline::answer(&request.prompt, &request.context_blocks);
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
/// when it reported none, counted here, and the cost at the table's price.
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
        let completion_tokens = tokens::count(&output);
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    });
    let Usage {
        prompt_tokens,
        completion_tokens,
        ..
    } = usage;
    ExecuteResponse {
        run_id: gateway.run_id(),
        model_id: request.model_id.clone(),
        output,
        usage,
        latency_ms: started.elapsed().as_millis() as u64,
        created_at: Timestamp::now().to_string(),
        cost: gateway
            .prices
            .lookup(&request.model_id)
            .map(|price| price.cost(prompt_tokens, completion_tokens).dollars()),
    }
}

fn token_delay(gateway: &Gateway, speed: f64) -> Duration {
    Duration::from_secs_f64(1.0 / (gateway.tokens_per_second * speed))
}

async fn execute(
    State(gateway): State<Arc<Gateway>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, target) = parse_request(&gateway, body)?;
    let model = match target {
        Target::Offline(model) => model,
        Target::Upstream(upstream) => {
            let completion = upstream.complete(&request).await?;
            let response = finish(
                &gateway,
                &request,
                completion.output,
                completion.usage,
                started,
            );
            return Ok(Json(response).into_response());
        }
    };
    match model.behaviour {
        Behaviour::Fail => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "simulated failure",
        )),
        Behaviour::Malformed => Ok((
            [(header::CONTENT_TYPE, "application/json")],
            "{\"run_id\": oops",
        )
            .into_response()),
        Behaviour::Hang => futures::future::pending().await,
        Behaviour::Disconnect => Ok(offline::disconnecting_answer(&request, false)),
        Behaviour::Answer { speed } => {
            let pieces = answer_pieces(&request);
            tokio::time::sleep(token_delay(&gateway, speed) * pieces.len() as u32).await;
            let response = finish(&gateway, &request, pieces.concat(), None, started);
            Ok(Json(response).into_response())
        }
    }
}

async fn execute_stream(
    State(gateway): State<Arc<Gateway>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, target) = parse_request(&gateway, body)?;
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
                let delay = token_delay(&gateway, speed);
                let pieces = answer_pieces(&request);
                let deltas = stream::iter(pieces.clone()).then(move |text| async move {
                    tokio::time::sleep(delay).await;
                    Ok(json_event(EVENT_DELTA, &StreamDelta { text }))
                });
                // Built lazily, after the last delta: dropping the stream (the
                // client went away) stops generation there and then.
                let done = stream::once(async move {
                    let response = finish(&gateway, &request, pieces.concat(), None, started);
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
/// `done` with the whole answer, or `error` if the upstream broke off.
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
    }
    let relay = Relay {
        pieces,
        output: String::new(),
        usage: None,
    };
    stream::unfold(Some(relay), move |state| {
        let (gateway, request) = (gateway.clone(), request.clone());
        async move {
            let mut relay = state?;
            loop {
                match relay.pieces.next().await {
                    Some(Ok(Piece::Text(text))) => {
                        relay.output.push_str(&text);
                        let event = json_event(EVENT_DELTA, &StreamDelta { text });
                        return Some((Ok(event), Some(relay)));
                    }
                    Some(Ok(Piece::Usage(usage))) => relay.usage = Some(usage),
                    Some(Err(problem)) => {
                        let error = ErrorBody {
                            detail: problem.detail,
                        };
                        return Some((Ok(json_event(EVENT_ERROR, &error)), None));
                    }
                    None => {
                        let response =
                            finish(&gateway, &request, relay.output, relay.usage, started);
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
