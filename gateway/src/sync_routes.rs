//! The sync API's routes, under `/api/v1/sync/{workspace}`: upload runs and
//! deletions, read the changes feed. Thin: they check the request and turn
//! outcomes into answers; [`crate::history`] does the work. They sit behind
//! the same rules as the rest of `/api` (host, origin, token, rate, time).

use crate::access::Person;
use crate::body::json_body;
use crate::history::wire::{
    ChangesPage, Upload, UploadOutcome, UploadRefusal, DEFAULT_PAGE, MAX_PAGE,
};
use crate::history::{History, HistoryError};
use crate::problem::Problem;
use crate::sync_stream;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use serde::Deserialize;

/// Largest upload accepted: 1,000 runs with long answers. Only this route
/// takes more than the rest of the API's 1 MiB.
pub const MAX_SYNC_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Where uploads go (`{workspace}` is the workspace's name).
pub const SYNC_RUNS_PATH: &str = "/api/v1/sync/{workspace}/runs";
/// Where the changes feed is read.
pub const SYNC_CHANGES_PATH: &str = "/api/v1/sync/{workspace}/changes";
/// Longest workspace name.
const MAX_WORKSPACE_CHARS: usize = 64;
/// Seconds a client is told to wait when the database is out of reach.
const RETRY_AFTER_UNAVAILABLE: u64 = 5;

/// The sync routes, answering from `history`.
pub fn routes(history: History) -> Router {
    Router::new()
        .route(
            SYNC_RUNS_PATH,
            post(upload).layer(DefaultBodyLimit::max(MAX_SYNC_BODY_BYTES)),
        )
        .route(SYNC_CHANGES_PATH, get(changes))
        .with_state(history)
}

/// `POST /api/v1/sync/{workspace}/runs`: merges the uploaded runs and
/// deletions; all checked before anything is written.
async fn upload(
    State(history): State<History>,
    workspace: Result<Path<String>, PathRejection>,
    person: Option<Extension<Person>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UploadOutcome>, Problem> {
    let workspace = check_workspace(workspace)?;
    let body = json_body(&headers, body, MAX_SYNC_BODY_BYTES)?;
    let upload = Upload::parse(&body).map_err(|refusal| match refusal {
        UploadRefusal::Malformed(detail) => Problem::new(StatusCode::BAD_REQUEST, detail),
        UploadRefusal::TooMany(items) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{items} items (runs and deletions); send at most {} per request",
                crate::history::wire::MAX_UPLOAD_ITEMS
            ),
        ),
        UploadRefusal::Invalid(detail) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{detail}; nothing of this upload was stored"),
        ),
    })?;
    // Who sent it is the token's holder, never what the upload says.
    let by = person.and_then(|Extension(Person(name))| name);
    Ok(Json(
        history.upload_by(&workspace, upload, by.as_deref()).await?,
    ))
}

/// What the changes feed is asked: `since` a cursor, at most `limit`.
#[derive(Deserialize)]
struct ChangesQuery {
    since: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/sync/{workspace}/changes?since=…&limit=…`: a page of the
/// changes committed after `since`; or, asked with `Accept:
/// text/event-stream`, every change as it is committed ([`sync_stream`]).
async fn changes(
    State(history): State<History>,
    workspace: Result<Path<String>, PathRejection>,
    query: Result<Query<ChangesQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let workspace = check_workspace(workspace)?;
    let Query(query) =
        query.map_err(|rejection| Problem::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    if sync_stream::wants_stream(&headers) {
        let since = sync_stream::resume_from(&headers, query.since.as_deref());
        return sync_stream::stream(history, workspace, since).await;
    }
    let limit = match query.limit.as_deref() {
        None | Some("") => DEFAULT_PAGE,
        Some(limit) => match limit.parse::<usize>() {
            Ok(limit) if limit > 0 => limit.min(MAX_PAGE),
            _ => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!("limit={limit:?}: give a whole number from 1 to {MAX_PAGE}"),
                ))
            }
        },
    };
    let page: ChangesPage = history
        .changes(&workspace, query.since.as_deref(), limit)
        .await?;
    Ok(Json(page).into_response())
}

/// The workspace a request names, if it is a name: 1 to 64 of
/// `A-Z a-z 0-9 _ - .`.
pub(crate) fn check_workspace(
    workspace: Result<Path<String>, PathRejection>,
) -> Result<String, Problem> {
    let Path(workspace) = workspace
        .map_err(|rejection| Problem::new(StatusCode::BAD_REQUEST, rejection.body_text()))?;
    check_workspace_name(&workspace)?;
    Ok(workspace)
}

fn check_workspace_name(workspace: &str) -> Result<(), Problem> {
    let allowed = workspace
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(&byte));
    if allowed && (1..=MAX_WORKSPACE_CHARS).contains(&workspace.len()) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::BAD_REQUEST,
        format!(
            "workspace {workspace:?} is not a workspace name: 1 to {MAX_WORKSPACE_CHARS} of A-Z a-z 0-9 _ - ."
        ),
    ))
}

impl From<HistoryError> for Problem {
    fn from(error: HistoryError) -> Problem {
        match error {
            HistoryError::Unavailable(fault) => Problem {
                retry_after: Some(RETRY_AFTER_UNAVAILABLE),
                ..Problem::internal(StatusCode::SERVICE_UNAVAILABLE, fault.answer, &fault.detail)
            },
            HistoryError::BadCursor(detail) => Problem::new(StatusCode::BAD_REQUEST, detail),
            HistoryError::Failed(fault) => Problem::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                fault.answer,
                &fault.detail,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_are_short_and_plain() {
        for good in ["a", "team-1", "Runs_2024.v2", &"w".repeat(64)] {
            assert!(check_workspace_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "é", "a%2Fb", &"w".repeat(65)] {
            let refused = check_workspace_name(bad).unwrap_err();
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
