//! Reading a request's body: JSON only, and no larger than the route
//! allows. Shared by the execute routes and the sync routes, which
//! otherwise know nothing of each other.

use crate::problem::Problem;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};

/// A request body that must be JSON: 415 unless it is declared so (which
/// also makes a browser ask first, with a preflight, before sending it from
/// another origin: a `text/plain` POST needs none), 413 over `limit` bytes
/// (the route's body limit).
pub fn json_body(
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
