//! The prompt-runs gateway: a small axum server that speaks the NeuroForge
//! HTTP contract (see `prompt_runs::api::wire`) so the app works on a fresh
//! machine with no account and no network.
//!
//! It serves the built static app and the API from one address, with CORS so
//! pages on other origins (Trunk's dev server, test pages) can call it. Its
//! models are the built-in offline models ([`offline`]); what it is not (yet):
//! a proxy to OpenAI-compatible upstreams.

pub mod config;
pub mod offline;
pub mod prices;
mod problem;
mod routes;
pub mod tokens;

pub use config::GatewayConfig;
pub use routes::{router, MAX_BODY_BYTES};

use tokio::net::TcpListener;

/// Serves `config` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: GatewayConfig) -> std::io::Result<()> {
    axum::serve(listener, router(config)).await
}
