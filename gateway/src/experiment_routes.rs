//! The routes of experiments run on the gateway, under
//! `/api/v1/sync/{workspace}/experiments`: post one (it is checked, planned
//! and stored with its cells, for the workers of every gateway on the
//! database to run), read its progress, cancel it. Thin, like the sync
//! routes: [`crate::history::experiments`] keeps the state,
//! [`crate::experiment_workers`] runs the cells. See
//! `docs/server-experiments.md`.

use crate::access::Person;
use crate::body::json_body;
use crate::history::experiments::{NewCell, NewExperiment, Progress};
use crate::history::History;
use crate::problem::Problem;
use crate::routes::Gateway;
use crate::sync_routes::{check_workspace, MAX_SYNC_BODY_BYTES};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use prompt_runs::experiment::{import_experiment, plan};
use prompt_runs::model::{Timestamp, Usd};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Notify;

/// Where experiments are posted (`{workspace}` is the workspace's name).
pub const EXPERIMENTS_PATH: &str = "/api/v1/sync/{workspace}/experiments";
/// Where an experiment's progress is read.
pub const EXPERIMENT_PATH: &str = "/api/v1/sync/{workspace}/experiments/{id}";
/// Where an experiment is cancelled.
pub const EXPERIMENT_CANCEL_PATH: &str = "/api/v1/sync/{workspace}/experiments/{id}/cancel";
/// How many experiments the list answers, the latest.
pub const LISTED_EXPERIMENTS: usize = 50;
/// The most cells one posted experiment may have: a plan of rows × models
/// × repeats is stored whole, a row per cell.
pub const MAX_SERVER_CELLS: usize = 100_000;

/// What the experiment routes answer from: the history, the gateway's
/// models (their prices plan the budget), and the local workers to wake.
#[derive(Clone)]
pub struct ExperimentsApi {
    history: History,
    gateway: Arc<Gateway>,
    wake: Arc<Notify>,
}

impl ExperimentsApi {
    pub(crate) fn new(history: History, gateway: Arc<Gateway>) -> ExperimentsApi {
        ExperimentsApi {
            history,
            gateway,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The history they answer from.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// What wakes this gateway's workers when an experiment is posted here
    /// (those of other gateways find it at their next look).
    pub(crate) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// The answer to a posted experiment (202).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    /// The gateway's id for it: its progress is at `…/experiments/{id}`.
    id: String,
    /// The experiment's own id.
    experiment_id: String,
    /// How many cells its plan has.
    cells: usize,
    /// The plan's estimate of their cost in dollars, when every model is priced.
    estimate: Option<Usd>,
}

/// The experiment routes.
pub fn routes(api: ExperimentsApi) -> Router {
    Router::new()
        .route(
            EXPERIMENTS_PATH,
            post(post_experiment)
                .layer(DefaultBodyLimit::max(MAX_SYNC_BODY_BYTES))
                .get(list),
        )
        .route(EXPERIMENT_PATH, get(progress))
        .route(EXPERIMENT_CANCEL_PATH, post(cancel))
        .with_state(api)
}

/// `POST …/experiments`: the experiment file (as the app exports it and
/// `prompt-runs eval` reads it; its runs are not used), checked and planned
/// as the app plans it, stored with one queued row per cell.
async fn post_experiment(
    State(api): State<ExperimentsApi>,
    workspace: Result<Path<String>, PathRejection>,
    person: Option<Extension<Person>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let workspace = check_workspace(workspace)?;
    let body = json_body(&headers, body, MAX_SYNC_BODY_BYTES)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "the body is not UTF-8 text"))?;
    let experiment = import_experiment(text)
        .map_err(|error| {
            let status = match error {
                prompt_runs::experiment::ExperimentImportError::NotJson(_) => {
                    StatusCode::BAD_REQUEST
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            Problem::new(status, error.to_string())
        })?
        .experiment;
    let unprocessable = |detail: String| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{detail}; nothing was stored"),
        )
    };
    let models = api.gateway.models().await;
    let offered: HashSet<&str> = models.iter().map(|model| model.id.as_str()).collect();
    let missing: Vec<&str> = (experiment.models.iter())
        .map(String::as_str)
        .filter(|model| !model.trim().is_empty() && !offered.contains(model))
        .collect();
    if !missing.is_empty() {
        return Err(unprocessable(format!(
            "this gateway does not offer {}",
            missing.join(", ")
        )));
    }
    let planned = plan(&experiment, &models).map_err(|error| unprocessable(error.to_string()))?;
    if planned.cells.len() > MAX_SERVER_CELLS {
        return Err(unprocessable(format!(
            "its plan has {} cells; the gateway runs at most {MAX_SERVER_CELLS} at once",
            planned.cells.len()
        )));
    }
    let unpriced = planned.estimate.unpriced_models();
    if experiment.budget.is_some() && !unpriced.is_empty() {
        return Err(unprocessable(format!(
            "it has a budget, but {} {} no price, so the budget cannot hold: remove the budget or those models",
            unpriced.join(", "),
            if unpriced.len() == 1 { "has" } else { "have" }
        )));
    }
    let definition = serde_json::to_string(&experiment).map_err(|error| {
        Problem::internal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the experiment could not be stored; nothing was stored",
            &error.to_string(),
        )
    })?;
    let id = new_id();
    let by = person.and_then(|Extension(Person(name))| name);
    let cells = (planned.cells.iter())
        .map(|cell| NewCell {
            row: cell.row,
            model: &cell.model_id,
            repeat: cell.repeat,
            estimate: planned.estimate.of_cell(cell).unwrap_or(Usd::ZERO),
        })
        .collect();
    api.history
        .create_experiment(NewExperiment {
            id: &id,
            workspace: &workspace,
            experiment_id: &experiment.id,
            definition: &definition,
            budget: experiment.budget,
            created_by: by.as_deref(),
            cells,
        })
        .await?;
    api.wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            id,
            experiment_id: experiment.id,
            cells: planned.cells.len(),
            estimate: planned.estimate.total(),
        }),
    ))
}

/// The answer to the list.
#[derive(Serialize)]
struct Listed {
    /// The progress of each, newest first.
    experiments: Vec<Progress>,
}

/// `GET …/experiments`: the workspace's latest experiments run on the
/// gateway, newest first, with their progress: how a browser that did not
/// post one finds it.
async fn list(
    State(api): State<ExperimentsApi>,
    workspace: Result<Path<String>, PathRejection>,
) -> Result<Json<Listed>, Problem> {
    let workspace = check_workspace(workspace)?;
    let experiments = api
        .history
        .experiments(&workspace, LISTED_EXPERIMENTS)
        .await?;
    Ok(Json(Listed { experiments }))
}

/// `GET …/experiments/{id}`: its progress.
async fn progress(
    State(api): State<ExperimentsApi>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Progress>, Problem> {
    let (workspace, id) = check_path(path)?;
    let progress = api.history.experiment_progress(&workspace, &id).await?;
    progress.map(Json).ok_or_else(|| unknown(&workspace, &id))
}

/// `POST …/experiments/{id}/cancel`: no more of its cells are sent; its
/// progress after.
async fn cancel(
    State(api): State<ExperimentsApi>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Progress>, Problem> {
    let (workspace, id) = check_path(path)?;
    let progress = api.history.cancel_experiment(&workspace, &id).await?;
    progress.map(Json).ok_or_else(|| unknown(&workspace, &id))
}

fn check_path(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), Problem> {
    let Path((workspace, id)) =
        path.map_err(|rejection| Problem::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    let workspace = check_workspace(Ok(Path(workspace)))?;
    Ok((workspace, id))
}

fn unknown(workspace: &str, id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!("workspace {workspace} has no experiment {id} on this gateway's database"),
    )
}

/// A new id for a posted experiment: `sx_<ms since 1970, hex>_<12 random
/// hex digits>`, in the order they were posted.
fn new_id() -> String {
    let millis = Timestamp::now().unix_millis().unwrap_or_default();
    format!("sx_{millis:x}_{}", &crate::access::generate_token()[..12])
}
