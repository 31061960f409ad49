//! What can go wrong talking to the server, in words a person can act on.

use thiserror::Error;

/// A failed request, or an execution that could not start.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ApiError {
    /// The server answered with a non-2xx status.
    #[error("HTTP {status}: {detail}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The server's `detail`, or its body, or the status's reason.
        detail: String,
    },
    /// The server wants an access token (HTTP 401): ours prints an address
    /// carrying it when it starts.
    #[error("the server needs its access token: open the address the gateway printed, or paste the token in Settings")]
    Unauthorized,
    /// Nothing answered (server down, wrong URL, CORS refused, offline).
    #[error("could not reach the server at {url}; is it running?")]
    Unreachable {
        /// The URL that was tried.
        url: String,
    },
    /// The connection broke while the answer was arriving (the server
    /// stopped, the network went away): not something the server reported.
    #[error(
        "the connection to the server at {url} was lost while the answer was arriving; \
         the text received so far is kept. Is the server still running?"
    )]
    ConnectionLost {
        /// The server's base URL.
        url: String,
    },
    /// No complete answer within the client's timeout.
    #[error("timed out after {seconds} s")]
    Timeout {
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// The answer was not the JSON the contract promises.
    #[error("the server's answer was not valid JSON: {reason}")]
    InvalidJson {
        /// What the parser said.
        reason: String,
    },
    /// The server reported a failure in the middle of a streamed answer.
    #[error("the server stopped the run: {detail}")]
    Stream {
        /// The server's `detail`.
        detail: String,
    },
    /// The request could not be built (e.g. a token with a line break).
    #[error("the request could not be built: {reason}")]
    InvalidRequest {
        /// What was wrong.
        reason: String,
    },
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Another execution is in flight; nothing was sent.
    #[error("another prompt is still executing; wait for it or cancel it first")]
    Busy,
    /// The store has no client to execute with.
    #[error("no executor is configured: call RunsStore::set_executor with a NeuroForgeClient")]
    NoExecutor,
}
