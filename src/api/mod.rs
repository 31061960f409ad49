//! Talking to NeuroForge-compatible servers: the wire types of the HTTP
//! contract, the errors a person can act on, the seam the store executes
//! through, and (in the browser) the HTTP client.

#[cfg(feature = "client")]
mod client;
mod error;
mod executor;
mod retry_after;
mod sse;
pub mod wire;

#[cfg(feature = "client")]
pub use client::{ChangesStream, ClientConfig, NeuroForgeClient};
pub use error::ApiError;
pub use executor::{PromptExecutor, TextSink};
pub use retry_after::retry_after;
pub use sse::{SseDecoder, SseEvent, SseTooLarge, MAX_EVENT_BYTES};
