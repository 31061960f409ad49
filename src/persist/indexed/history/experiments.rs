//! Experiment definitions in the history's database, beside the runs: saved
//! whole (template, inputs, models, parameters, checks, budget), read back at
//! start. Their runs are ordinary runs, saved with the history.

use super::{HistoryPersistence, HistoryPlace};
use crate::experiment::Experiment;
use crate::persist::indexed::database::RunDatabase;
use crate::persist::indexed::idb::DbError;
use leptos::prelude::GetUntracked;
use std::rc::Rc;

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
    pub async fn saved_experiments(&self) -> Result<SavedExperiments, String> {
        let db = self.experiment_db().await?;
        let mut saved = SavedExperiments::default();
        for read in db.experiments().await.map_err(not_read)? {
            match read {
                Ok(experiment) => saved.experiments.push(experiment),
                Err((id, why)) => saved.unreadable.push(format!(
                    "The saved experiment {id} could not be read ({why}); it was left as it is."
                )),
            }
        }
        Ok(saved)
    }

    /// Saves `experiment`'s definition, replacing the saved one with its id.
    pub async fn save_experiment(&self, experiment: &Experiment) -> Result<(), String> {
        let db = self.experiment_db().await?;
        db.put_experiment(experiment).await.map_err(|error| {
            format!(
                "The experiment {} could not be saved: {error}. It is kept in this page; export it to keep it.",
                experiment.name
            )
        })
    }

    /// Deletes the saved definition of experiment `id` (its runs stay in the history).
    pub async fn delete_experiment(&self, id: &str) -> Result<(), String> {
        let db = self.experiment_db().await?;
        db.delete_experiment(id)
            .await
            .map_err(|error| format!("The experiment could not be deleted: {error}."))
    }

    /// The open database, once opening has settled.
    async fn experiment_db(&self) -> Result<Rc<RunDatabase>, String> {
        // Opening takes a few tasks; waiting here spares every caller a
        // watch on the status.
        while self.inner.status.place.get_untracked() == HistoryPlace::Opening {
            gloo_timers::future::TimeoutFuture::new(10).await;
        }
        self.inner.db.borrow().clone().ok_or_else(|| {
            "Experiments are kept in IndexedDB, which this browser did not let the app use: they last as long as this page. Export them to keep them.".to_owned()
        })
    }
}

fn not_read(error: DbError) -> String {
    format!("The saved experiments could not be read: {error}.")
}
