//! Telling the open change streams that a workspace changed, at once, however
//! many there are and whichever gateway took the upload.
//!
//! One [`Feed`] per gateway holds, per workspace that someone follows, a
//! `tokio::sync::watch` of its [`Tip`]: the last change number known to be
//! committed, and the changes that led there, read once and shared by every
//! follower. A stream holds a receiver and sleeps on it; no stream polls the
//! database. A commit reaches the feed two ways:
//!
//! - from this gateway's own upload, as soon as it committed
//!   ([`Feed::committed`]);
//! - on PostgreSQL, from every gateway's upload: the upload's transaction
//!   sends `NOTIFY prompt_runs_sync, '<seq> <workspace>'`, which PostgreSQL
//!   delivers on commit to each gateway's one `LISTEN` connection
//!   ([`listen_postgres`]). A notification lost while that connection was
//!   being re-made cannot be told apart from none, so then every follower
//!   re-reads the database from its own number ([`Feed::wake_all`]).
//!
//! On SQLite there is one gateway per file (SQLite is for one person's
//! history), so the in-process signal is all there is.
//!
//! **Why followers never skip or repeat a change.** The shared read covers
//! the changes after a number `after` (the tip before the commit) up to its
//! `cursor`; a follower takes it only if it stands exactly at `after`, and
//! otherwise reads the database from its own number. Either way it moves from
//! its number to a later one through everything in between, which the feed's
//! order guarantees (see the module doc of [`super`]).

use super::wire::MAX_PAGE;
use super::History;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The PostgreSQL channel commits are announced on.
pub const CHANNEL: &str = "prompt_runs_sync";

/// What followers of one workspace are told.
#[derive(Clone, Debug, Default)]
pub struct Tip {
    /// The last change number known committed (0: none known yet).
    pub seq: i64,
    /// The changes that led to `seq`, read once for everyone; `None` when
    /// each follower must read for itself (the tip was only learnt, or
    /// notifications may have been lost).
    pub read_ahead: Option<Arc<ReadAhead>>,
}

/// The changes committed after `after`, up to `cursor`, as the JSON of a
/// changes page (`{"changes": [...], "cursor": "…", "more": false}`).
#[derive(Debug)]
pub struct ReadAhead {
    /// Where the followers that may use it stand.
    pub after: i64,
    /// Where they stand once they sent it.
    pub cursor: i64,
    /// The page, ready to send.
    pub json: String,
}

/// One workspace's followers: the tip they watch, where one of them last
/// read up to, and a turn so that one shared read runs at a time.
struct Workspace {
    tip: watch::Sender<Tip>,
    /// The furthest a follower read the database to by itself: where the
    /// first shared read starts, before any commit was announced.
    learnt: AtomicI64,
    reading: tokio::sync::Mutex<()>,
}

/// The commits this gateway knows of, fanned out to the streams that follow
/// each workspace. Cheap to share (`Arc`).
pub struct Feed {
    workspaces: Mutex<HashMap<String, Arc<Workspace>>>,
    /// Set when the gateway stops: streams end, so that it can.
    closing: watch::Sender<bool>,
}

/// A follower of one workspace: what a change stream holds.
pub struct Follower {
    /// The workspace's tip, changed at each commit.
    pub tip: watch::Receiver<Tip>,
    /// True once the gateway stops.
    pub closing: watch::Receiver<bool>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            workspaces: Mutex::new(HashMap::new()),
            closing: watch::Sender::new(false),
        }
    }
}

impl Feed {
    /// Starts following `workspace`. Call before reading the database, so
    /// that a commit made meanwhile still wakes the follower.
    pub fn follow(&self, workspace: &str) -> Follower {
        let mut workspaces = self.lock();
        // Forget the workspaces nobody follows any more, now and then: a
        // long-running gateway sees many come and go.
        if workspaces.len() > 64 {
            workspaces.retain(|_, followed| followed.tip.receiver_count() > 0);
        }
        let followed = workspaces
            .entry(workspace.to_owned())
            .or_insert_with(|| {
                Arc::new(Workspace {
                    tip: watch::Sender::new(Tip::default()),
                    learnt: AtomicI64::new(0),
                    reading: tokio::sync::Mutex::new(()),
                })
            })
            .clone();
        Follower {
            tip: followed.tip.subscribe(),
            closing: self.closing.subscribe(),
        }
    }

    /// A follower read the database up to `seq` by itself: a shared read
    /// can start there. Nobody is woken (the others may stand elsewhere,
    /// and are woken by the commit's announcement).
    pub fn learn(&self, workspace: &str, seq: i64) {
        if let Some(followed) = self.lock().get(workspace) {
            followed.learnt.fetch_max(seq, Ordering::Relaxed);
        }
    }

    /// `seq` was committed in `workspace` (here, or by another gateway):
    /// reads what changed once, in the background, and wakes its followers.
    /// Nothing is read when nobody follows it.
    pub fn committed(&self, history: &History, workspace: &str, seq: i64) {
        let followed = {
            let mut workspaces = self.lock();
            match workspaces.get(workspace) {
                Some(followed) if followed.tip.receiver_count() > 0 => followed.clone(),
                Some(_) => {
                    workspaces.remove(workspace);
                    return;
                }
                None => return,
            }
        };
        let (history, workspace) = (history.clone(), workspace.to_owned());
        tokio::spawn(async move {
            let _turn = followed.reading.lock().await;
            let announced = followed.tip.borrow().seq;
            if seq <= announced {
                return; // announced already: it came both ways
            }
            let after = match announced {
                0 => followed.learnt.load(Ordering::Relaxed),
                announced => announced,
            };
            let read = match after {
                // Nothing known to start from: each follower reads for itself.
                0 => None,
                _ => history
                    .changes(&workspace, Some(&after.to_string()), MAX_PAGE)
                    .await
                    .ok()
                    .filter(|page| !page.more),
            };
            let tip = match read {
                Some(page) => {
                    let cursor = page.cursor.parse().unwrap_or(seq);
                    Tip {
                        seq: cursor,
                        read_ahead: Some(Arc::new(ReadAhead {
                            after,
                            cursor,
                            json: serde_json::to_string(&page)
                                .expect("a changes page always serializes"),
                        })),
                    }
                }
                None => Tip {
                    seq,
                    read_ahead: None,
                },
            };
            followed.tip.send_replace(tip);
        });
    }

    /// Commits may have gone unannounced (the `LISTEN` connection was lost):
    /// every follower reads the database from where it stands.
    pub fn wake_all(&self) {
        for followed in self.lock().values() {
            followed.tip.send_modify(|tip| tip.read_ahead = None);
        }
    }

    /// The gateway is stopping: every stream ends.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// How many streams follow some workspace now.
    pub fn followers(&self) -> usize {
        self.lock()
            .values()
            .map(|followed| followed.tip.receiver_count())
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Workspace>>> {
        self.workspaces
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The payload of a commit's notification: `<seq> <workspace>` (a workspace
/// name has no spaces).
pub fn notification(workspace: &str, seq: i64) -> String {
    format!("{seq} {workspace}")
}

/// Reads a notification's payload back; `None` for anything else.
fn parse_notification(payload: &str) -> Option<(&str, i64)> {
    let (seq, workspace) = payload.split_once(' ')?;
    Some((workspace, seq.parse().ok()?))
}

/// Listens, on a connection of its own, for the commits every gateway on the
/// PostgreSQL at `url` announces, and hands them to `history`'s feed, until
/// the gateway stops. A lost connection is made again (waiting a second
/// between tries), and every follower is woken to read for itself.
pub async fn listen_postgres(history: History, url: String) {
    let mut closing = history.feed().closing.subscribe();
    let mut listener = None;
    loop {
        if *closing.borrow() {
            return;
        }
        let connected = match listener.as_mut() {
            Some(connected) => connected,
            None => match connect(&url).await {
                Ok(connected) => {
                    // Whatever was committed while nobody listened.
                    history.feed().wake_all();
                    listener.insert(connected)
                }
                Err(error) => {
                    tracing::warn!(%error, location = %history.location(), "cannot listen for other gateways' commits; trying again in 1 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = closing.changed() => return,
                    }
                    continue;
                }
            },
        };
        let received = tokio::select! {
            received = connected.try_recv() => received,
            _ = closing.changed() => return,
        };
        match received {
            Ok(Some(notice)) => {
                if let Some((workspace, seq)) = parse_notification(notice.payload()) {
                    history.feed().committed(&history, workspace, seq);
                }
            }
            // Lost, and made again: what came meanwhile is unknown.
            Ok(None) => history.feed().wake_all(),
            Err(error) => {
                tracing::warn!(%error, location = %history.location(), "lost the connection that listens for other gateways' commits; reconnecting");
                listener = None;
            }
        }
    }
}

async fn connect(url: &str) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_carry_the_number_and_the_workspace() {
        let payload = notification("team-1.a", 42);
        assert_eq!(parse_notification(&payload), Some(("team-1.a", 42)));
        assert_eq!(parse_notification("garbage"), None);
        assert_eq!(parse_notification("x team"), None);
    }

    #[test]
    fn learning_a_tip_wakes_nobody_and_waking_all_drops_the_shared_read() {
        let feed = Feed::default();
        let follower = feed.follow("team");
        feed.learn("team", 7);
        assert!(!follower.tip.has_changed().unwrap());
        feed.wake_all();
        assert!(follower.tip.has_changed().unwrap());
        assert_eq!(feed.followers(), 1);
        drop(follower);
        assert_eq!(feed.followers(), 0);
    }
}
