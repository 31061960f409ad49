//! The seam between the store and whatever runs prompts.

use super::wire::{ExecuteRequest, ExecuteResponse};
use super::ApiError;
use futures::future::LocalBoxFuture;
use std::time::Duration;

/// Receives the answer's text as it streams in, piece by piece.
pub type TextSink = Box<dyn FnMut(&str)>;

/// Runs prompts for [`RunsStore::execute`](crate::store::RunsStore::execute):
/// [`NeuroForgeClient`](super::NeuroForgeClient) over HTTP, or a test double.
///
/// Dropping the returned future must stop the work (the HTTP client aborts
/// its request): that is how the store cancels.
pub trait PromptExecutor {
    /// Executes `request`, passing streamed text to `on_text` if the server
    /// streams (a server that does not simply never calls it).
    fn execute(
        &self,
        request: ExecuteRequest,
        on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<ExecuteResponse, ApiError>>;

    /// Resolves after `wait`: how the store waits before trying again when
    /// the server asked it to ([`ApiError::TryLater`]). By default the
    /// platform's timer ([`clock::sleep`](crate::clock::sleep)); a test
    /// double may answer at once, or when its test says.
    fn pause(&self, wait: Duration) -> LocalBoxFuture<'static, ()> {
        crate::clock::sleep(wait)
    }
}
