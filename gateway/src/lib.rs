//! The prompt-runs gateway: a small axum server that speaks the NeuroForge
//! HTTP contract (see `prompt_runs::api::wire`) so the app works on a fresh
//! machine with no account and no network.
//!
//! It serves the built static app and the API from one address. Its models
//! are the built-in offline models ([`offline`]) and, when configured, those
//! of an OpenAI-compatible upstream (Ollama, llama.cpp, vLLM, OpenAI), whose
//! API key stays on the server. Only the pages, hosts and token holders it
//! was told about may use it ([`access`]), and no client may flood it
//! ([`limits`]). It keeps runs per workspace in a database, SQLite or
//! PostgreSQL ([`history`]), for browsers to sync with ([`sync_routes`]).

#![deny(missing_docs)]

pub mod access;
pub mod config;
pub mod history;
pub mod limits;
pub mod offline;
pub mod prices;
mod problem;
mod routes;
pub mod sync_routes;
pub mod tokens;
mod upstream;

pub use config::GatewayConfig;
pub use history::History;
pub use routes::{router, MAX_BATCH_MODELS, MAX_BODY_BYTES};

use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves `config` on `listener` until the process ends, with the history
/// database it names (see [`history::open::Location::from_config`]); an error
/// at once if the configuration cannot be used or the database cannot be
/// opened. A token that is required but was not given is generated and
/// printed, as the binary does.
pub async fn serve(listener: TcpListener, mut config: GatewayConfig) -> std::io::Result<()> {
    if let Some(token) = config.settle(listener.local_addr()?) {
        println!("prompt-runs gateway: generated access token {token}");
    }
    // Every flag checked before the database is touched (a first start
    // creates it), as the binary does.
    let _checked = router(config.clone(), None).map_err(std::io::Error::other)?;
    let history = History::open(&config)
        .await
        .map_err(std::io::Error::other)?;
    let app = router(config, Some(history)).map_err(std::io::Error::other)?;
    // The peer's address identifies clients for the per-minute limit.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
