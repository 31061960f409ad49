//! What the gateway logs, with `tracing`, to stderr: one line per request
//! (its id, method, path, status and how long until the answer started),
//! and the details of failures that the answer itself only names in words
//! (a database error, a provider's raw answer). Standard output is left to
//! the start-up lines that tools read (`prompt-runs gateway listening on …`).
//!
//! Which lines are written is chosen with `PROMPT_RUNS_LOG` (else
//! `RUST_LOG`), in `tracing-subscriber`'s filter syntax: `info` by default,
//! `warn` for failures only, `prompt_runs_gateway=debug` for more.
//! The query string is never logged: it may carry the access token
//! (`/?token=…`), and keys never reach a log at all (see `providers`).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// The environment variable that chooses what is logged (before `RUST_LOG`).
pub const LOG_ENV: &str = "PROMPT_RUNS_LOG";

/// The filter from `PROMPT_RUNS_LOG`, else `RUST_LOG`, else `info`.
pub fn filter() -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV)
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Sends the process's `tracing` events to stderr, filtered as [`filter`]
/// says. Called once by the binary; a second call (or a test's own
/// subscriber) is left in place.
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Middleware around every request: a span carrying the request's id,
/// method and path (so that whatever a handler logs is tied to its
/// request), and one line when the answer starts: its status and latency,
/// at `error` for 5xx, `info` otherwise. A stream's latency is the time to
/// its first byte; its end is not waited for.
pub async fn log_requests(request: Request, next: Next) -> Response {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!(
        "request",
        id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1_000.0;
    let _entered = span.enter();
    if response.status().is_server_error() {
        tracing::error!(status, latency_ms, "answered");
    } else {
        tracing::info!(status, latency_ms, "answered");
    }
    response
}
