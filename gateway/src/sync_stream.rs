//! The changes feed pushed as Server-Sent Events: `GET
//! /api/v1/sync/{workspace}/changes?since=N` with `Accept:
//! text/event-stream` stays open and sends each commit as it happens.
//!
//! - Each event is `event: changes`, `id: <cursor>`, and a changes page as
//!   its data (the JSON the plain feed answers), so a client applies it as
//!   it applies a page, and resumes from its `id`: `since`, or
//!   `Last-Event-ID` (which wins, as EventSource sends it on reconnecting).
//! - It starts with a comment (`: live`) and sends another after 15 s
//!   without changes: a client that hears nothing for longer than that
//!   knows the stream is not reaching it (a proxy that buffers) and reads
//!   the feed by polling instead.
//! - What was committed after `since` comes first, in pages; then each
//!   commit, woken by the gateway's [`Feed`](crate::history::feed::Feed)
//!   (no stream polls the database).
//! - A bad `since` is answered 400 before the stream starts; a database
//!   failure later ends the stream, and the client's reconnection gets the
//!   plain answer (503 with `Retry-After`).

use crate::history::feed::{Follower, Tip};
use crate::history::wire::{ChangesPage, MAX_PAGE};
use crate::history::History;
use crate::problem::Problem;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use prompt_runs::api::wire::EVENT_CHANGES;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// How long a stream stays silent at most: a comment follows.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Whether the request asks for the stream rather than one page.
pub fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/event-stream"))
}

/// Where the stream starts: `Last-Event-ID` when sent, else `since`.
pub fn resume_from<'a>(headers: &'a HeaderMap, since: Option<&'a str>) -> Option<&'a str> {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .or(since)
}

/// The stream of `workspace`'s changes after `since`.
pub async fn stream(
    history: History,
    workspace: String,
    since: Option<&str>,
) -> Result<Response, Problem> {
    // Following first: a commit made while the backlog is read wakes it.
    let follower = history.feed().follow(&workspace);
    let first = history.changes(&workspace, since, MAX_PAGE).await?;
    let mut state = Following {
        // Checked by `changes` above: a number, or nothing (the start).
        cursor: since.and_then(|since| since.parse().ok()).unwrap_or(0),
        more: false,
        pending: VecDeque::from([Event::default().comment("live")]),
        history,
        workspace,
        follower,
    };
    state.queue(&first);
    state.history.feed().learn(&state.workspace, state.cursor);
    let events = stream::unfold(state, |mut state| async move {
        let event = state.next().await?;
        Some((Ok::<_, Infallible>(event), state))
    });
    Ok(sse(events))
}

fn sse(events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(HEARTBEAT))
        .into_response();
    // Asks nginx not to hold the stream back (its `X-Accel-Buffering`).
    response
        .headers_mut()
        .insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    response
}

/// One stream's state: where its client stands, and what to send next.
struct Following {
    history: History,
    workspace: String,
    follower: Follower,
    /// The number of the last change sent.
    cursor: i64,
    /// The database holds more after `cursor` than the last page read.
    more: bool,
    pending: VecDeque<Event>,
}

impl Following {
    /// The next event to send; `None` ends the stream (the gateway stops,
    /// or the database failed: the client reconnects and is told why).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.more {
                self.read().await?;
                continue;
            }
            tokio::select! {
                changed = self.follower.tip.changed() => changed.ok()?,
                _ = self.follower.closing.changed() => return None,
            }
            let tip: Tip = self.follower.tip.borrow_and_update().clone();
            match tip.read_ahead {
                Some(read) if read.after == self.cursor => {
                    if read.cursor > self.cursor {
                        self.cursor = read.cursor;
                        self.pending
                            .push_back(changes_event(self.cursor, &read.json));
                    }
                }
                Some(_) if tip.seq <= self.cursor => {}
                _ => self.read().await?,
            }
        }
    }

    /// Reads a page from the database after `cursor`.
    async fn read(&mut self) -> Option<()> {
        let since = self.cursor.to_string();
        let page = self
            .history
            .changes(&self.workspace, Some(&since), MAX_PAGE)
            .await
            .map_err(|error| tracing::warn!(%error, workspace = %self.workspace, "a change stream ended: the database failed"))
            .ok()?;
        self.queue(&page);
        self.history.feed().learn(&self.workspace, self.cursor);
        Some(())
    }

    /// Queues `page` when it holds changes, and moves on to its cursor.
    fn queue(&mut self, page: &ChangesPage) {
        self.more = page.more;
        let cursor = page.cursor.parse().unwrap_or(self.cursor);
        if cursor > self.cursor && !page.changes.is_empty() {
            let json = serde_json::to_string(page).expect("a changes page always serializes");
            self.pending.push_back(changes_event(cursor, &json));
        }
        self.cursor = self.cursor.max(cursor);
    }
}

fn changes_event(cursor: i64, json: &str) -> Event {
    Event::default()
        .event(EVENT_CHANGES)
        .id(cursor.to_string())
        .data(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_stream_is_asked_for_and_resumes_from_the_last_event_id() {
        let mut headers = HeaderMap::new();
        assert!(!wants_stream(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        assert!(wants_stream(&headers));
        assert_eq!(resume_from(&headers, Some("3")), Some("3"));
        headers.insert("last-event-id", HeaderValue::from_static("7"));
        assert_eq!(resume_from(&headers, Some("3")), Some("7"));
    }
}
