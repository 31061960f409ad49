//! The HTTP routes: the NeuroForge API under `/api/v1` and the static app
//! everywhere else.

use crate::offline::{self, Behaviour, OfflineModel};
use crate::prices::PriceTable;
use crate::problem::Problem;
use crate::tokens;
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
use prompt_runs::model::{Model, Timestamp};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

/// Largest request body accepted: prompts are text, 1 MiB is plenty.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

struct Gateway {
    models: Vec<OfflineModel>,
    prices: PriceTable,
    tokens_per_second: f64,
    next_run: AtomicU64,
}

/// The whole app: API, static files, CORS, body limit.
pub fn router(config: GatewayConfig) -> Router {
    let gateway = Arc::new(Gateway {
        models: offline::models(config.test_models),
        prices: PriceTable::builtin(),
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
    api.fallback_service(ServeDir::new(&config.static_dir).fallback(ServeFile::new(index)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT]),
        )
}

async fn unknown_api() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such API endpoint")
}

impl Gateway {
    fn describe(&self, model: &OfflineModel) -> Model {
        model.describe(
            self.prices
                .lookup(model.id)
                .map(|price| price.per_1k_tokens()),
        )
    }

    fn model(&self, id: &str) -> Result<&OfflineModel, Problem> {
        self.models
            .iter()
            .find(|model| model.id == id)
            .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, format!("unknown model: {id}")))
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
    Json(
        gateway
            .models
            .iter()
            .map(|model| gateway.describe(model))
            .collect(),
    )
}

async fn one_model(
    State(gateway): State<Arc<Gateway>>,
    Path(id): Path<String>,
) -> Result<Json<Model>, Problem> {
    Ok(Json(gateway.describe(gateway.model(&id)?)))
}

/// No upstream providers are wired yet: all are reported unconfigured.
async fn providers() -> Json<Providers> {
    let status = |kind: &str, url: Option<&str>| ProviderStatus {
        configured: false,
        available: false,
        kind: kind.to_owned(),
        url: url.map(str::to_owned),
    };
    Json(Providers::from([
        ("openai".to_owned(), status("api", None)),
        ("anthropic".to_owned(), status("api", None)),
        (
            "ollama".to_owned(),
            status("local", Some("http://127.0.0.1:11434")),
        ),
    ]))
}

/// Reads and checks an execute request: 413 over the size limit, 400 for
/// malformed JSON or an empty prompt, 422 for missing or mistyped fields, 404
/// for an unknown model.
fn parse_request<'g>(
    gateway: &'g Gateway,
    body: Result<Bytes, BytesRejection>,
) -> Result<(ExecuteRequest, &'g OfflineModel), Problem> {
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
    let model = gateway.model(&request.model_id)?;
    Ok((request, model))
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

fn finish(
    gateway: &Gateway,
    request: &ExecuteRequest,
    output: String,
    started: Instant,
) -> ExecuteResponse {
    let prompt_tokens = tokens::count(&request.prompt)
        + request
            .context_blocks
            .iter()
            .map(|block| tokens::count(block))
            .sum::<u64>();
    let completion_tokens = tokens::count(&output);
    ExecuteResponse {
        run_id: gateway.run_id(),
        model_id: request.model_id.clone(),
        output,
        usage: Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        },
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
    let (request, model) = parse_request(&gateway, body)?;
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
        Behaviour::Answer { speed } => {
            let pieces = answer_pieces(&request);
            tokio::time::sleep(token_delay(&gateway, speed) * pieces.len() as u32).await;
            Ok(Json(finish(&gateway, &request, pieces.concat(), started)).into_response())
        }
    }
}

async fn execute_stream(
    State(gateway): State<Arc<Gateway>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let started = Instant::now();
    let (request, model) = parse_request(&gateway, body)?;
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
                    let response = finish(&gateway, &request, pieces.concat(), started);
                    Ok(json_event(EVENT_DONE, &response))
                });
                Box::pin(deltas.chain(done))
            }
        };
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
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
