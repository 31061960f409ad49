//! prompt-runs: a reactive Leptos store for running LLM prompts and keeping their history.
//!
//! The crate is laid out as its architecture:
//! - [`model`]: the run and model types, wire-compatible with the TypeScript store's JSON.
//! - [`store`]: the reactive runs store (signals, memos, actions) and its context helpers.
//! - [`persist`]: keeping the history in the browser without ever losing a run: IndexedDB
//!   for the app (`persist_history`), localStorage for small embeds (`persist_to_local_storage`).
//! - [`experiment`]: a prompt template run over a table of inputs on several models: plan, checks, grid, diff.
//! - [`api`]: the HTTP contract with NeuroForge-compatible servers.
//! - [`components`]: the views other Leptos apps embed.
//! - [`app`]: the static app that puts the pieces together.
//! - [`clock`]: the monotonic clock runs are timed with.
//! - [`text`]: rules about text every layer applies alike (word characters, token estimates, case-insensitive search).
//!
//! Cargo features (all on by default; README.md's "Cargo features" says what
//! each costs): `client` (`api::NeuroForgeClient`), `persist` (saving in the
//! browser; with `client` too, keeping the history on a server), `components`
//! (the views; turns on `persist` and `client`),
//! `app` (the static app; turns on `components`). Without any, the model, the
//! store, experiments and the wire types remain.

#![deny(missing_docs)]

pub mod api;
#[cfg(feature = "app")]
pub mod app;
pub mod clock;
#[cfg(feature = "components")]
pub mod components;
pub mod experiment;
pub mod model;
pub mod persist;
mod rfc4180;
pub mod store;
pub mod text;
