//! Experiment definitions in the history's database, beside the runs: saved
//! whole (template, inputs, models, parameters, checks, budget), read back at
//! start. Their runs are ordinary runs, saved with the history. An edit not
//! committed when its page closes is kept in localStorage at `pagehide`, as
//! unsaved runs are, and moved in when the experiments are next read.

use super::{HistoryPersistence, HistoryPlace};
use crate::experiment::Experiment;
use crate::persist::indexed::database::RunDatabase;
use crate::persist::indexed::idb::DbError;
use crate::persist::StorageBackend;
use leptos::prelude::GetUntracked;
use std::rc::Rc;

/// Why experiment definitions could not be read, saved or deleted; its
/// message is a sentence to show as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExperimentsError {
    /// The browser did not let the app use IndexedDB: experiments last as
    /// long as the page.
    #[error("Experiments are kept in IndexedDB, which this browser did not let the app use: they last as long as this page. Export them to keep them.")]
    NotKept,
    /// The saved definitions could not be read.
    #[error("The saved experiments could not be read: {0}.")]
    NotRead(DbError),
    /// The experiment named `name` could not be saved; it is still in the page.
    #[error("The experiment {name} could not be saved: {error}. It is kept in this page; export it to keep it.")]
    NotSaved {
        /// The experiment's name.
        name: String,
        /// Why IndexedDB refused.
        error: DbError,
    },
    /// The definition could not be deleted.
    #[error("The experiment could not be deleted: {0}.")]
    NotDeleted(DbError),
}

/// The experiment definitions read back from the database.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SavedExperiments {
    /// Those that could be read, in id order.
    pub experiments: Vec<Experiment>,
    /// One sentence for each that could not (left stored as it is).
    pub unreadable: Vec<String>,
}

impl HistoryPersistence {
    /// Every saved experiment definition. Waits while the database is
    /// opening; refused with a sentence to show when it could not be used
    /// (the history is then in localStorage, or in the page only, and
    /// experiments are not kept).
    /// What a page closed before its save committed kept in localStorage
    /// (see [`keep_unsaved_experiments`](Self::keep_unsaved_experiments)) is
    /// moved in first: saved over the stored definition, then removed from
    /// localStorage.
    pub async fn saved_experiments(&self) -> Result<SavedExperiments, ExperimentsError> {
        let db = self.experiment_db().await?;
        let mut saved = SavedExperiments::default();
        for read in db.experiments().await.map_err(ExperimentsError::NotRead)? {
            match read {
                Ok(experiment) => saved.experiments.push(experiment),
                Err((id, why)) => saved.unreadable.push(format!(
                    "The saved experiment {id} could not be read ({why}); it was left as it is."
                )),
            }
        }
        self.move_in_unsaved_experiments(&db, &mut saved).await;
        Ok(saved)
    }

    /// Saves `experiment`'s definition, replacing the saved one with its id.
    pub async fn save_experiment(&self, experiment: &Experiment) -> Result<(), ExperimentsError> {
        let db = self.experiment_db().await?;
        db.put_experiment(experiment)
            .await
            .map_err(|error| ExperimentsError::NotSaved {
                name: experiment.name.clone(),
                error,
            })?;
        // Committed: a copy of this very state kept at `pagehide` (the page
        // came back from the back-forward cache, or the write committed as
        // the page went) is no longer needed. A copy of a later edit stays:
        // its own write may never commit.
        if let Some(local) = &self.inner.local {
            let key = self.inner.options.keys.unsaved_experiment(&experiment.id);
            let json = serde_json::to_string(experiment).expect("an experiment always serializes");
            if local.get(&key).ok().flatten().as_deref() == Some(json.as_str()) {
                let _ = local.remove(&key);
            }
        }
        Ok(())
    }

    /// Copies `experiments`, edited and not committed yet, to localStorage,
    /// synchronously: the page may be closing, and an IndexedDB transaction
    /// still running then may never commit. The next
    /// [`saved_experiments`](Self::saved_experiments) moves them in. A full
    /// localStorage keeps what it can.
    pub fn keep_unsaved_experiments<'a>(
        &self,
        experiments: impl IntoIterator<Item = &'a Experiment>,
    ) {
        let Some(local) = &self.inner.local else {
            return;
        };
        for experiment in experiments {
            let json = serde_json::to_string(experiment).expect("an experiment always serializes");
            let _ = local.set(
                &self.inner.options.keys.unsaved_experiment(&experiment.id),
                &json,
            );
        }
    }

    /// Saves each experiment kept in localStorage into the database and
    /// then removes it there; one that cannot be read is left where it is,
    /// and said.
    async fn move_in_unsaved_experiments(&self, db: &RunDatabase, saved: &mut SavedExperiments) {
        let Some(local) = &self.inner.local else {
            return;
        };
        let keys = &self.inner.options.keys;
        let kept: Vec<String> = (local.keys().unwrap_or_default().into_iter())
            .filter(|key| keys.unsaved_experiment_id(key).is_some())
            .collect();
        for key in kept {
            let Ok(Some(json)) = local.get(&key) else {
                continue;
            };
            let experiment = match serde_json::from_str::<Experiment>(&json) {
                Ok(experiment) => experiment,
                Err(why) => {
                    saved.unreadable.push(format!(
                        "An experiment edited when its page closed could not be read ({why}); it was left in localStorage under {key}."
                    ));
                    continue;
                }
            };
            if let Err(error) = db.put_experiment(&experiment).await {
                saved.unreadable.push(format!(
                    "The last edit of experiment {} could not be saved ({error}); it is kept and tried again on the next start.",
                    experiment.name
                ));
                continue;
            }
            let _ = local.remove(&key);
            let at = (saved.experiments.iter()).position(|held| held.id == experiment.id);
            match at {
                Some(at) => saved.experiments[at] = experiment,
                None => {
                    saved.experiments.push(experiment);
                    (saved.experiments).sort_unstable_by(|a, b| a.id.cmp(&b.id));
                }
            }
        }
    }

    /// Remembers `id` as the experiment open in this browser (none: forgets
    /// it), for [`open_experiment`](Self::open_experiment) on the next
    /// start. Kept in localStorage: a choice of this browser's, too small
    /// for a transaction, and not lost with a full database.
    pub fn remember_open_experiment(&self, id: Option<&str>) {
        let Some(local) = &self.inner.local else {
            return;
        };
        let key = self.inner.options.keys.open_experiment();
        // Not remembered (storage full or refused): the first opens, as before.
        let _ = match id {
            Some(id) => local.set(&key, id),
            None => local.remove(&key),
        };
    }

    /// The experiment last opened in this browser, if remembered.
    pub fn open_experiment(&self) -> Option<String> {
        let local = self.inner.local.as_ref()?;
        local
            .get(&self.inner.options.keys.open_experiment())
            .ok()
            .flatten()
    }

    /// Deletes the saved definition of experiment `id` (its runs stay in the history).
    pub async fn delete_experiment(&self, id: &str) -> Result<(), ExperimentsError> {
        let db = self.experiment_db().await?;
        db.delete_experiment(id)
            .await
            .map_err(ExperimentsError::NotDeleted)?;
        if let Some(local) = &self.inner.local {
            let _ = local.remove(&self.inner.options.keys.unsaved_experiment(id));
        }
        Ok(())
    }

    /// The open database, once opening has settled.
    async fn experiment_db(&self) -> Result<Rc<RunDatabase>, ExperimentsError> {
        // Opening takes a few tasks; waiting here spares every caller a
        // watch on the status.
        while self.inner.status.place.get_untracked() == HistoryPlace::Opening {
            gloo_timers::future::TimeoutFuture::new(10).await;
        }
        self.inner
            .db
            .borrow()
            .clone()
            .ok_or(ExperimentsError::NotKept)
    }
}
