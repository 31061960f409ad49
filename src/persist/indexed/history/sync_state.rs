//! How the history stands with a server it is kept on: a type of its own,
//! so that a build without the HTTP client (the `client` feature) still has
//! a status to show (always [`SyncState::Off`] there).

/// How the history stands with the server, as a person should know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Not kept on a server.
    Off,
    /// Starting, or reading what the server has.
    Connecting,
    /// The first upload of a history: `sent` of `total` runs.
    Uploading {
        /// Runs uploaded so far.
        sent: u64,
        /// Runs to upload.
        total: u64,
    },
    /// Every change here is on the server, as of the last exchange.
    Synced,
    /// Changes wait to be uploaded (a transfer is under way).
    Pending(u64),
    /// The server cannot be reached: local work goes on, `pending` changes
    /// wait, and the next attempt comes in `retry_in_secs` seconds.
    Offline {
        /// Changes waiting.
        pending: u64,
        /// Seconds until the next attempt.
        retry_in_secs: u64,
    },
    /// The server refused (the reason, as it said); tried again later.
    Failed(String),
}

/// How other browsers' changes reach this one while the history is kept on
/// a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncFeed {
    /// Not following the server (not syncing, or between two exchanges).
    Waiting,
    /// Pushed by the server as they are committed ("live").
    Live,
    /// Read every 10 s: the server's stream does not reach this browser (a
    /// proxy holds it back, or the server does not push).
    Polling,
}
