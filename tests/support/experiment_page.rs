//! A page of experiment components mounted for a browser test: its store,
//! experiments and diff selection in context.

use super::mounted::Mounted;
use leptos::prelude::*;
use prompt_runs::components::{
    provide_diff_selection, provide_experiments, provide_run_filter, DiffSelection, Experiments,
};
use prompt_runs::store::{provide_runs_store, RunsStore};

/// A mounted view, its store, experiments and diff selection.
pub struct Page {
    view: Mounted,
    /// The store in context.
    pub store: RunsStore,
    /// The experiments in context.
    pub experiments: Experiments,
    /// The diff's selection in context.
    pub diff: DiffSelection,
}

impl std::ops::Deref for Page {
    type Target = Mounted;

    fn deref(&self) -> &Mounted {
        &self.view
    }
}

impl Page {
    /// Mounts `view` with a store, experiments and a diff selection in context.
    pub fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Page {
        let provided = StoredValue::new(None);
        let view = Mounted::new(move || {
            let store = provide_runs_store();
            provide_run_filter();
            provided.set_value(Some((
                store,
                provide_experiments(Some(store)),
                provide_diff_selection(),
            )));
            view()
        });
        let (store, experiments, diff) = provided.get_value().unwrap();
        Page {
            view,
            store,
            experiments,
            diff,
        }
    }
}

/// Lets the page's tasks and effects run.
pub async fn settle() {
    for _ in 0..3 {
        leptos::task::tick().await;
    }
}
