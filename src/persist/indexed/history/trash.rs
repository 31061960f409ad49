//! The history's trash: a run removed from the history (one, several, or
//! all of them) is kept there, in this browser and, when the history is
//! kept on a server, in the workspace's trash for every browser of it,
//! until the trash is emptied (or, on the server, until it expires after
//! `--trash-days`). Restoring puts the run back in the history. Local too:
//! a slip is as easy to make without a server.

use super::HistoryPersistence;
use crate::persist::indexed::database::TrashedRun;
use leptos::prelude::*;

impl HistoryPersistence {
    /// The runs in the trash, the latest removed first (none while the
    /// database is not open, or where the history is not in IndexedDB).
    /// [`HistoryStatus::trash_changes`](super::HistoryStatus::trash_changes)
    /// says when to read it again.
    pub async fn trash(&self) -> Vec<TrashedRun> {
        let db = self.inner.db.borrow().clone();
        match db {
            Some(db) => db.trash().await.unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Puts runs `ids` back in the history from the trash (with the
    /// server's restore mark when it syncs): they are taken from the trash
    /// by the save that stores them again.
    pub async fn restore(&self, ids: &[String]) {
        // Removed a moment ago: in the trash once that is saved.
        for _ in 0..100 {
            if self.is_saved() {
                break;
            }
            gloo_timers::future::sleep(std::time::Duration::from_millis(50)).await;
        }
        let runs = self
            .trash()
            .await
            .into_iter()
            .filter(|trashed| ids.contains(&trashed.run.id))
            .map(|trashed| trashed.run)
            .collect();
        self.inner.store.merge_runs(runs);
    }

    /// Deletes runs `ids` in the trash for good (every run in it with
    /// `None`), on the server too when the history syncs; returns how many.
    pub async fn empty_trash(&self, ids: Option<&[String]>) -> usize {
        let db = self.inner.db.borrow().clone();
        let Some(db) = db else { return 0 };
        let syncing = self.is_syncing();
        let emptied = db.empty_trash(ids, syncing).await.unwrap_or(0);
        if emptied > 0 {
            self.inner.status.trash.update(|changes| *changes += 1);
            if syncing {
                self.note_unsynced(emptied as u64);
                self.wake_sync();
            }
        }
        emptied
    }
}
