//! What can go wrong talking to the server, in words a person can act on.

use crate::text::thousands;
use std::time::Duration;
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
    /// The server asked to be called again later: HTTP 429 (too many
    /// requests) or 503 (unavailable for now). The store waits and tries
    /// again (see [`RunsStore::execute`](crate::store::RunsStore::execute));
    /// it reads as an [`ApiError::Http`] does.
    #[error("HTTP {status}: {detail}")]
    TryLater {
        /// 429 or 503.
        status: u16,
        /// The server's `detail`, or its body, or the status's reason.
        detail: String,
        /// How long the server asked to wait (its `Retry-After`), when it said.
        retry_after: Option<Duration>,
    },
    /// The server kept asking to wait ([`ApiError::TryLater`]) and the store
    /// stopped trying.
    #[error("{last} (gave up after {tries} tries)")]
    GaveUp {
        /// How many times the request was sent.
        tries: u32,
        /// What the server said the last time.
        last: Box<ApiError>,
    },
    /// The request is larger than the server accepts, so it was not sent.
    #[error(
        "this request is {}; the server accepts requests up to {}: shorten the prompt or its context",
        size(*.bytes),
        size(*.limit)
    )]
    TooLarge {
        /// The request body's size in bytes.
        bytes: u64,
        /// The most the server accepts (its `max_request_bytes`).
        limit: u64,
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

impl ApiError {
    /// Whether the server asked to be called again later
    /// ([`ApiError::TryLater`]), and how long it asked to wait if it said.
    pub fn try_later(&self) -> Option<Option<Duration>> {
        match self {
            ApiError::TryLater { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// A size as a person reads it, exact enough to compare with a limit:
/// `"1.1 MB (1,100,213 bytes)"`, `"1 MiB (1,048,576 bytes)"`, `"812 bytes"`.
/// Integer arithmetic only: no float formatting for one message.
fn size(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    let exact = format!("{} bytes", thousands(bytes));
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB ({exact})", thousands(bytes / MIB))
    } else if bytes >= 1_000_000 {
        let tenths = bytes / 100_000;
        format!("{}.{} MB ({exact})", thousands(tenths / 10), tenths % 10)
    } else {
        exact
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversize_request_names_its_size_and_the_limit() {
        let refused = ApiError::TooLarge {
            bytes: 1_100_213,
            limit: 1_048_576,
        };
        assert_eq!(
            refused.to_string(),
            "this request is 1.1 MB (1,100,213 bytes); the server accepts requests up to \
             1 MiB (1,048,576 bytes): shorten the prompt or its context"
        );
        assert_eq!(size(812), "812 bytes");
    }

    #[test]
    fn giving_up_keeps_the_servers_words_and_counts_the_tries() {
        let last = ApiError::TryLater {
            status: 429,
            detail: "too many requests".into(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(last.to_string(), "HTTP 429: too many requests");
        assert_eq!(last.try_later(), Some(Some(Duration::from_secs(3))));
        let gave_up = ApiError::GaveUp {
            tries: 8,
            last: Box::new(last),
        };
        assert_eq!(
            gave_up.to_string(),
            "HTTP 429: too many requests (gave up after 8 tries)"
        );
        assert_eq!(gave_up.try_later(), None, "it is final");
    }
}
