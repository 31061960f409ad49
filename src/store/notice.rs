//! What the store shows a person above the views: one message, with the
//! part of the library it comes from, so that the part that raised it can
//! take it back when the problem is over and leave anyone else's alone.

/// The part of the library a [`Notice`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoticeSource {
    /// An execution: a failed run or batch, a refused request. Also what
    /// [`set_error`](super::RunsStore::set_error) shows.
    Execution,
    /// Saving the history (storage full or unavailable, a newer version in
    /// another tab): taken back by the next save that works.
    Saving,
    /// Reading the history back or keeping it (damaged runs set aside, a
    /// history found missing, another tab's database).
    History,
    /// The server: its models, the access token, a setting not kept.
    Server,
}

/// A message for a person, and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Which part raised it (and may clear it).
    pub source: NoticeSource,
    /// The message, in words.
    pub message: String,
}
