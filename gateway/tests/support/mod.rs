//! What the gateway's tests share: a gateway in process, and requests to
//! it through `router` (tower's `oneshot`) with their answers read whole;
//! fake providers on loopback ([`fake_provider`], also the command line's).
#![allow(dead_code)] // each test file uses its own share of it

pub mod database;
pub mod fake_provider;
pub mod logs;
pub mod process;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use clap::Parser;
use http_body_util::BodyExt;
use prompt_runs_gateway::{router, GatewayConfig, Settings};
use serde_json::Value;
use tower::ServiceExt;

/// A gateway with `extra` flags, streaming fast so that tests are quick.
pub fn gateway(extra: &[&str]) -> Router {
    let mut args = vec![
        "prompt-runs-gateway",
        "--offline-tokens-per-second",
        "100000",
    ];
    args.extend_from_slice(extra);
    let settings = Settings::from_config(GatewayConfig::parse_from(args));
    router(settings.expect("a usable configuration"), None)
}

/// A fast gateway with the models that simulate failures.
pub fn test_gateway() -> Router {
    gateway(&["--test-models"])
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics, showing it, if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("{error}: {}", self.body))
    }

    /// The `detail` of an error body.
    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .expect("a {\"detail\"} body")
            .to_owned()
    }
}

pub async fn send(app: Router, request: Request<Body>) -> Answer {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(app: Router, path: &str) -> Answer {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

/// POSTs `body` declared as JSON.
pub async fn post(app: Router, path: &str, body: impl Into<Body>) -> Answer {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    send(app, request).await
}
