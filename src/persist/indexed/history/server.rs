//! Keeping the history on a server as well, local-first: every change is
//! saved here first (and goes to the database's outbox in the same
//! transaction), then uploaded in the background; what other browsers
//! uploaded arrives through the server's changes feed and is merged by id
//! like another tab's save, pushed as they are committed (a held stream of
//! Server-Sent Events), or polled every 10 s where the stream cannot be held
//! (a proxy that holds it back: nothing heard within 5 s of asking, or
//! within 40 s later, when the server speaks every 15 s). Offline, nothing
//! stops: the outbox waits, and uploads resume with backoff. The contract is
//! docs/sync.md.

use super::{HistoryPersistence, SyncFeed, SyncState};
use crate::api::wire::SYNC_BATCH_MAX;
use crate::api::{ApiError, ChangesStream, NeuroForgeClient};
use crate::model::PromptRun;
use crate::persist::indexed::database::{Outgoing, RunDatabase, SyncMeta, DELETED_AT};
use crate::persist::indexed::idb::DbError;
use futures::future::{select, Either};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs per upload and per page of changes: well under the server's limit
/// of [`SYNC_BATCH_MAX`] and its 16 MiB body for typical runs.
const PAGE: usize = 500;
/// How often the changes feed is read while nothing happens here.
const POLL: Duration = Duration::from_secs(10);
/// The longest wait between attempts while the server cannot be reached.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How soon a stream must say its first word (the server's `: live`) to be
/// held: a proxy that buffers says nothing.
const FIRST_WORD: Duration = Duration::from_secs(5);
/// How long a held stream may stay silent: the server speaks every 15 s.
const SILENCE: Duration = Duration::from_secs(40);
/// How long a page that fell back to polling polls before it tries the
/// stream again (a proxy may have been fixed, or the page moved networks).
const RETRY_STREAM: Duration = Duration::from_secs(300);

/// Where the history is kept on a server.
#[derive(Clone)]
pub struct SyncTarget {
    /// The server (its base URL and access token).
    pub client: NeuroForgeClient,
    /// The workspace on it: 1–64 letters, digits, `_`, `-` or `.`.
    pub workspace: String,
}

/// The sync's part of the attachment.
#[derive(Default)]
pub(super) struct SyncSlot {
    target: Option<SyncTarget>,
    /// Bumped when the target changes: the running loop stops.
    generation: u32,
    /// Wakes the loop before its next poll (a save, the network back).
    wake: Option<futures::channel::oneshot::Sender<()>>,
    /// A wake that came while nothing waited for one (a save during an
    /// exchange): the next wait ends at once, so the save is not left in
    /// the outbox while the stream is held.
    missed_wake: bool,
    /// The server's stream could not be held for this target since this
    /// time (ms since the epoch): poll, and try the stream again after
    /// [`RETRY_STREAM`] or when the network comes back.
    polling_since: Option<f64>,
}

impl HistoryPersistence {
    /// Keeps the history on `target` too (or stops, with `None`). Switching
    /// to another server or workspace uploads the whole history there; how
    /// it stands is [`HistoryStatus::sync_state`](super::HistoryStatus::sync_state).
    pub fn sync_with(&self, target: Option<SyncTarget>) {
        let generation = {
            let mut slot = self.inner.sync.borrow_mut();
            slot.target = target.clone();
            slot.generation += 1;
            slot.wake = None;
            slot.missed_wake = false;
            slot.polling_since = None;
            slot.generation
        };
        self.inner.status.feed.set(SyncFeed::Waiting);
        self.inner.status.sync.set(match target {
            Some(_) => SyncState::Connecting,
            None => SyncState::Off,
        });
        if target.is_some() {
            spawn_local(self.clone().keep_in_sync(generation));
        }
    }

    /// Stops the sync loop without touching any signal (the page is going).
    pub(super) fn stop_sync(&self) {
        let mut slot = self.inner.sync.borrow_mut();
        slot.target = None;
        slot.generation += 1;
        slot.wake = None;
    }

    /// Whether saves go to the outbox too.
    pub(super) fn is_syncing(&self) -> bool {
        self.inner.sync.borrow().target.is_some()
    }

    /// `changes` were just saved to the outbox: until they are uploaded the
    /// history is not shown as synced (a person may be about to close the
    /// tab or go offline). The next exchange counts exactly.
    pub(super) fn note_unsynced(&self, changes: u64) {
        let sync = &self.inner.status.sync;
        match sync.get_untracked() {
            SyncState::Synced => sync.set(SyncState::Pending(changes)),
            SyncState::Pending(waiting) => sync.set(SyncState::Pending(waiting + changes)),
            _ => {}
        }
    }

    /// Something changed here (or the network is back): exchange now rather
    /// than at the next poll.
    pub(super) fn wake_sync(&self) {
        let mut slot = self.inner.sync.borrow_mut();
        match slot.wake.take() {
            Some(wake) => {
                let _ = wake.send(());
            }
            None => slot.missed_wake = true,
        }
    }

    /// The network is back: exchange now, and try the stream again if it
    /// could not be held.
    pub(super) fn network_back(&self) {
        self.inner.sync.borrow_mut().polling_since = None;
        self.wake_sync();
    }

    fn current_target(&self, generation: u32) -> Option<SyncTarget> {
        let slot = self.inner.sync.borrow();
        (slot.generation == generation)
            .then(|| slot.target.clone())
            .flatten()
    }

    /// What resolves when the loop is woken (or replaced); `None` once
    /// this loop is replaced.
    fn woken(&self, generation: u32) -> Option<futures::channel::oneshot::Receiver<()>> {
        let (wake, woken) = futures::channel::oneshot::channel();
        let mut slot = self.inner.sync.borrow_mut();
        (slot.generation == generation).then(|| {
            if std::mem::take(&mut slot.missed_wake) {
                let _ = wake.send(());
            } else {
                slot.wake = Some(wake);
            }
            woken
        })
    }

    /// Whether to poll rather than hold the stream: it could not be held
    /// lately.
    fn polling(&self) -> bool {
        let mut slot = self.inner.sync.borrow_mut();
        match slot.polling_since {
            Some(since) if js_sys::Date::now() - since < RETRY_STREAM.as_millis() as f64 => true,
            _ => {
                slot.polling_since = None;
                false
            }
        }
    }

    /// Whether this loop still runs: its target is current, the page alive.
    fn still(&self, generation: u32) -> bool {
        self.current_target(generation).is_some() && !self.inner.store.is_disposed()
    }

    /// Waits `pause`, or less when woken; false once this loop is replaced.
    async fn pause(&self, generation: u32, pause: Duration) -> bool {
        let Some(woken) = self.woken(generation) else {
            return false;
        };
        let timer = gloo_timers::future::sleep(pause);
        let _ = select(Box::pin(timer), woken).await;
        self.still(generation)
    }

    /// After an exchange: holds the server's stream of changes and takes in
    /// what it pushes, uploading what changes here meanwhile as separate
    /// requests (the stream stays open: it brings what others commit, and
    /// what is uploaded from here is merged here already), until the stream
    /// cannot be held (`Ok(())`: poll from now on) or fails.
    async fn follow(&self, target: &SyncTarget, generation: u32) -> Result<(), SyncError> {
        let db = self.inner.db.borrow().clone().ok_or(SyncError::Stopped)?;
        let mut meta = db.sync_meta().await?.unwrap_or_default();
        let opened = target
            .client
            .follow_changes(&target.workspace, &meta.cursor, FIRST_WORD);
        let mut stream: ChangesStream = match opened.await {
            Ok(Some(stream)) => stream,
            // A server that does not push, or a proxy holding it back.
            Ok(None) | Err(ApiError::Timeout { .. }) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let mut woken = self.woken(generation).ok_or(SyncError::Stopped)?;
        let mut within = FIRST_WORD;
        loop {
            // Reading the stream again after a wake loses nothing: the read
            // under way is kept by the stream, not by this future.
            let pages = match select(Box::pin(stream.next(within)), &mut woken).await {
                Either::Right(_) => {
                    self.upload(&db, target, generation).await?;
                    self.show_pending(&db).await?;
                    woken = self.woken(generation).ok_or(SyncError::Stopped)?;
                    continue;
                }
                Either::Left((Err(ApiError::Timeout { .. }), _)) => return Ok(()),
                Either::Left((result, _)) => result?,
            };
            if !self.still(generation) {
                return Err(SyncError::Stopped);
            }
            // It spoke: it reaches here.
            within = SILENCE;
            self.inner.status.feed.set(SyncFeed::Live);
            for page in pages {
                meta.cursor = page.cursor;
                let taken = db.apply_changes(page.changes, &meta).await?;
                self.take_in_from_server(taken);
            }
        }
    }

    /// The loop of one target: exchange, then hold the stream (or wait for
    /// a change or the next poll); back off while the server cannot be
    /// reached.
    async fn keep_in_sync(self, generation: u32) {
        let mut backoff = Duration::from_secs(1);
        loop {
            // The database opens asynchronously: wait for it.
            let ready = self.inner.state.borrow().save.is_open();
            let Some(target) = self.current_target(generation) else {
                return;
            };
            if !ready {
                if !self.pause(generation, Duration::from_millis(200)).await {
                    return;
                }
                continue;
            }
            let polling = self.polling();
            let mut followed = self.exchange(&target, generation).await;
            if followed.is_ok() && !polling {
                followed = self.follow(&target, generation).await;
            }
            let wait = match followed {
                Ok(()) => {
                    backoff = Duration::from_secs(1);
                    let mut slot = self.inner.sync.borrow_mut();
                    if slot.polling_since.is_none() {
                        slot.polling_since = Some(js_sys::Date::now());
                    }
                    self.inner.status.feed.set(SyncFeed::Polling);
                    POLL
                }
                Err(SyncError::Stopped) => return,
                Err(SyncError::Api(error)) => {
                    self.inner.status.feed.set(SyncFeed::Waiting);
                    let pending = self.pending().await;
                    let unreachable = matches!(
                        error,
                        ApiError::Unreachable { .. }
                            | ApiError::Timeout { .. }
                            | ApiError::ConnectionLost { .. }
                    );
                    self.inner.status.sync.set(if unreachable {
                        SyncState::Offline {
                            pending,
                            retry_in_secs: backoff.as_secs(),
                        }
                    } else {
                        SyncState::Failed(error.to_string())
                    });
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
                Err(SyncError::Storage(error)) => {
                    self.inner.status.sync.set(SyncState::Failed(format!(
                        "the history could not be read or written ({error})"
                    )));
                    backoff
                }
            };
            if !self.pause(generation, wait).await {
                return;
            }
        }
    }

    async fn pending(&self) -> u64 {
        // The borrow ends before the await: held across it, a `versionchange`
        // taking the connection meanwhile (tabs.rs) would panic.
        let db = self.inner.db.borrow().clone();
        match db {
            Some(db) => db.outbox_len().await.unwrap_or(0),
            None => 0,
        }
    }

    /// One exchange: start over when the server or workspace changed, upload
    /// the outbox page by page, then read the changes feed to its end.
    async fn exchange(&self, target: &SyncTarget, generation: u32) -> Result<(), SyncError> {
        let db = self.inner.db.borrow().clone().ok_or(SyncError::Stopped)?;
        let server = target.client.base_url().to_owned();
        let mut meta = db.sync_meta().await?.unwrap_or_default();
        if meta.server != server || meta.workspace != target.workspace {
            // Another place: everything here goes there, and its feed is
            // read from the start.
            let total = db.enqueue_all(2_000).await? as u64;
            meta = SyncMeta {
                server,
                workspace: target.workspace.clone(),
                cursor: String::new(),
            };
            db.set_sync_meta(&meta).await?;
            self.inner
                .status
                .sync
                .set(SyncState::Uploading { sent: 0, total });
        }
        self.upload(&db, target, generation).await?;
        loop {
            let page = target
                .client
                .changes(&target.workspace, &meta.cursor, PAGE)
                .await?;
            if self.current_target(generation).is_none() {
                return Err(SyncError::Stopped);
            }
            meta.cursor = page.cursor;
            let taken = db.apply_changes(page.changes, &meta).await?;
            self.take_in_from_server(taken);
            if !page.more {
                break;
            }
        }
        self.show_pending(&db).await
    }

    /// Uploads the outbox page by page, its progress shown when it takes
    /// more than one.
    async fn upload(
        &self,
        db: &RunDatabase,
        target: &SyncTarget,
        generation: u32,
    ) -> Result<(), SyncError> {
        let mut total = db.outbox_len().await?;
        let mut sent = 0;
        loop {
            let outgoing = db.outgoing(PAGE).await?;
            if outgoing.is_empty() {
                return Ok(());
            }
            if self.current_target(generation).is_none() {
                return Err(SyncError::Stopped);
            }
            target
                .client
                .upload_runs(&target.workspace, upload_body(&outgoing))
                .await?;
            db.acknowledge(&outgoing).await?;
            sent += outgoing.len() as u64;
            total = total.max(sent);
            if total > PAGE as u64 {
                self.inner
                    .status
                    .sync
                    .set(SyncState::Uploading { sent, total });
            }
        }
    }

    /// Synced, or how many changes still wait.
    async fn show_pending(&self, db: &RunDatabase) -> Result<(), SyncError> {
        let pending = db.outbox_len().await?;
        self.inner.status.sync.set(if pending == 0 {
            SyncState::Synced
        } else {
            SyncState::Pending(pending)
        });
        Ok(())
    }

    /// Shows what the server sent, as another tab's save is shown, and tells
    /// the other tabs (they read it from the database).
    fn take_in_from_server(&self, (merged, deleted, trash): (Vec<PromptRun>, Vec<String>, bool)) {
        let store = self.inner.store;
        if trash {
            self.inner.status.trash.update(|changes| *changes += 1);
        }
        let mut ids = BTreeSet::new();
        for run in merged {
            ids.insert(run.id.clone());
            store.merge_saved_run(run);
        }
        for id in deleted {
            store.forget_saved_run(&id);
            ids.insert(id);
        }
        if !ids.is_empty() {
            self.announce(&ids, false);
        }
    }
}

/// Why an exchange ended early.
enum SyncError {
    /// The target changed or the page is going: no state to show.
    Stopped,
    Api(ApiError),
    Storage(DbError),
}

impl From<ApiError> for SyncError {
    fn from(error: ApiError) -> Self {
        SyncError::Api(error)
    }
}

impl From<DbError> for SyncError {
    fn from(error: DbError) -> Self {
        SyncError::Storage(error)
    }
}

/// A [`SyncUpload`](crate::api::wire::SyncUpload)'s JSON made from runs
/// already held as JSON text: no run is parsed and written again on its way
/// out. A run put in the trash goes with its mark (the server may not hold
/// it yet: in one upload, runs are stored before marks).
fn upload_body(outgoing: &[Outgoing]) -> String {
    let mut lists = [
        String::from("{\"runs\":["),
        String::from("],\"deleted\":["),
        String::from("],\"trash\":["),
    ];
    for item in outgoing {
        if let Some(json) = &item.json {
            push_item(&mut lists[0], json);
        }
        if let Some((mark, at)) = &item.mark {
            let list = if *mark == DELETED_AT { 1 } else { 2 };
            let id = serde_json::to_string(&item.id).expect("an id always serializes");
            let at = serde_json::to_string(at).expect("an instant always serializes");
            push_item(
                &mut lists[list],
                &format!("{{\"id\":{id},\"{mark}\":{at}}}"),
            );
        }
    }
    debug_assert!(outgoing.len() * 2 <= SYNC_BATCH_MAX);
    lists.concat() + "]}"
}

/// Adds `item` to a JSON list being written (its opening bracket last, or
/// an item).
fn push_item(list: &mut String, item: &str) {
    if !list.ends_with('[') {
        list.push(',');
    }
    list.push_str(item);
}
