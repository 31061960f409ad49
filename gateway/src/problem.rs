//! Error answers: every failure is JSON `{"detail": …}` naming the problem.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prompt_runs::api::wire::ErrorBody;
use std::time::Duration;

/// A failed request: its status and what to tell the person.
#[derive(Clone, Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
    /// Whole seconds to wait before trying again (`Retry-After`), for 429s.
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A failure inside the gateway: the client is answered `answer`, in
    /// words, and the log gets `detail` (paths, what a database or a
    /// provider said), tied to the request by its span.
    pub fn internal(status: StatusCode, answer: impl Into<String>, detail: &str) -> Problem {
        let answer = answer.into();
        if status.is_server_error() {
            tracing::error!(%detail, %answer, "internal failure");
        } else {
            tracing::warn!(%detail, %answer, "internal failure");
        }
        Problem::new(status, answer)
    }

    /// 429: come back after `wait` (rounded up to a whole second, and at
    /// least one, since `Retry-After` counts whole seconds).
    pub fn too_many_requests(detail: impl Into<String>, wait: Duration) -> Problem {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let detail = format!("{}; try again in {seconds} s", detail.into());
        Problem {
            retry_after: Some(seconds),
            ..Problem::new(StatusCode::TOO_MANY_REQUESTS, detail)
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                detail: self.detail,
            }),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
