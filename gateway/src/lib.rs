//! The prompt-runs gateway: a small axum server that speaks the NeuroForge
//! HTTP contract (see `prompt_runs::api::wire`) so the app works on a fresh
//! machine with no account and no network.
//!
//! It serves the built static app and the API from one address, with CORS so
//! pages on other origins (Trunk's dev server, test pages) can call it. Its
//! models are the built-in offline models ([`offline`]) and, when configured,
//! those of an OpenAI-compatible upstream (Ollama, llama.cpp, vLLM, OpenAI),
//! whose API key stays on the server.

pub mod config;
pub mod offline;
pub mod prices;
mod problem;
mod routes;
pub mod tokens;
mod upstream;

pub use config::GatewayConfig;
pub use routes::{router, MAX_BODY_BYTES};

use tokio::net::TcpListener;

/// Serves `config` on `listener` until the process ends; an error at once if
/// the configuration cannot be used.
pub async fn serve(listener: TcpListener, config: GatewayConfig) -> std::io::Result<()> {
    let app = router(config).map_err(std::io::Error::other)?;
    axum::serve(listener, app).await
}
