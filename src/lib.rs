//! prompt-runs: a reactive Leptos store for running LLM prompts and keeping their history.
//!
//! The crate is laid out as its architecture:
//! - [`model`]: the run and model types, wire-compatible with the TypeScript store's JSON.
//! - [`store`]: the reactive runs store (signals, memos, actions) and its context helpers.
//! - [`persist`]: saving the store to localStorage without ever losing a run.
//! - [`api`]: the HTTP contract with NeuroForge-compatible servers.
//! - [`app`]: the static app that puts the pieces together.

pub mod api;
pub mod app;
pub mod components;
pub mod model;
pub mod persist;
pub mod store;
