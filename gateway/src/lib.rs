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
//! PostgreSQL ([`history`]), for browsers to sync with ([`sync_routes`]),
//! pushing each commit to the browsers that follow ([`sync_stream`]), and
//! runs experiments posted to it ([`experiment_routes`]) with the other
//! gateways on its database ([`experiment_workers`]).
//!
//! Its configuration is checked once ([`Settings::from_config`]); the binary
//! and the tests start it the same way ([`start`], [`serve`]); it logs with
//! `tracing` ([`logging`]).

#![deny(missing_docs)]

pub mod access;
mod body;
pub mod config;
pub mod experiment_routes;
pub mod experiment_workers;
pub mod history;
pub mod limits;
pub mod logging;
pub mod offline;
pub mod people;
pub mod prices;
mod problem;
pub mod providers;
mod routes;
pub mod server;
pub mod settings;
pub mod sync_routes;
pub mod sync_stream;
pub mod tokens;

pub use config::GatewayConfig;
pub use history::History;
pub use routes::{router, router_with_workers, MAX_BATCH_MODELS, MAX_BODY_BYTES};
pub use server::{serve, start, Server, StartError};
pub use settings::{ConfigError, Settings};
