//! The experiments a page works on: their definitions, the one open, and its
//! grid, shared through context by the experiment components, and saved in
//! the history's database when the page has one (see
//! [`HistoryPersistence::save_experiment`]).

use crate::experiment::{Experiment, Grid};
use crate::model::PromptRun;
use crate::persist::{use_history, HistoryPersistence, HistoryPlace};
use crate::store::{use_runs_store, RunList, RunsStore};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;
use std::time::Duration;

/// Edits are saved this long after the last one, so typing a template
/// writes the experiment once, not once per key.
const SAVE_DELAY: Duration = Duration::from_millis(300);

/// While runs stream in, the grid is rebuilt at most this often.
const GRID_REFRESH: Duration = Duration::from_millis(150);

/// The experiments of a page (a `Copy` handle of signals): definitions, the
/// open one, its grid, and what went wrong saving them.
#[derive(Clone, Copy)]
pub struct Experiments {
    store: RunsStore,
    list: RwSignal<Vec<Arc<Experiment>>>,
    open_id: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    loaded: RwSignal<bool>,
    grid: Memo<Option<Arc<Grid>>>,
    history: StoredValue<Option<HistoryPersistence>, LocalStorage>,
    saves: StoredValue<Saves>,
}

/// Where the page's saves of experiments stand: an id is unsaved from its
/// edit until its save is written, then being written until it commits.
/// Until then, leaving the page keeps it in localStorage.
#[derive(Default)]
struct Saves {
    /// Edited, not written yet.
    unsaved: Vec<String>,
    /// Whether a save of the unsaved ones is scheduled.
    scheduled: bool,
    /// Being written, not committed yet (an id once per save under way).
    writing: Vec<String>,
}

/// Creates the page's [`Experiments`] for `store` (by default the one in
/// context), provides it to descendants and returns it. With a history in
/// context ([`provide_history`](crate::persist::provide_history)), saved
/// experiments are read back once the database is open, and every change is
/// saved; without one they last as long as the page.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, ExperimentGrid};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Lab() -> impl IntoView {
///     provide_runs_store();
///     let experiments = provide_experiments(None);
///     experiments.create("Capitals");
///     view! { <ExperimentGrid/> }
/// }
/// ```
pub fn provide_experiments(store: Option<RunsStore>) -> Experiments {
    let store = store.unwrap_or_else(use_runs_store);
    let list = RwSignal::new(Vec::<Arc<Experiment>>::new());
    let open_id = RwSignal::new(None::<String>);
    let open = Signal::derive(move || {
        let id = open_id.get()?;
        list.with(|list| list.iter().find(|experiment| experiment.id == id).cloned())
    });
    let experiments = Experiments {
        store,
        list,
        open_id,
        error: RwSignal::new(None),
        loaded: RwSignal::new(false),
        grid: grid_of(store, open),
        history: StoredValue::new_local(use_history()),
        saves: StoredValue::new(Saves::default()),
    };
    provide_context(experiments);
    match experiments.history.get_value() {
        Some(history) => {
            experiments.flush_when_leaving();
            // The open experiment is remembered once the saved ones are in:
            // before, none is open yet, and that is no choice to keep.
            let remembered = history.clone();
            Effect::new(move |_| {
                let open = open_id.get();
                if experiments.loaded.get() {
                    remembered.remember_open_experiment(open.as_deref());
                }
            });
            // Read once the database settled (it may also end up unusable).
            Effect::new(move |done: Option<bool>| {
                if done == Some(true) || history.status().place() == HistoryPlace::Opening {
                    return done.unwrap_or(false);
                }
                let history = history.clone();
                spawn_local(async move { experiments.take_saved(history).await });
                true
            });
        }
        None => experiments.loaded.set(true),
    }
    experiments
}

/// The [`Experiments`] an ancestor provided with [`provide_experiments`].
///
/// # Panics
/// When none was provided, saying so.
pub fn use_experiments() -> Experiments {
    use_context::<Experiments>()
        .expect("no experiments in context: call provide_experiments() in an ancestor component")
}

impl Experiments {
    /// Every experiment, in the order they were made or read.
    pub fn all(&self) -> Vec<Arc<Experiment>> {
        self.list.get()
    }

    /// The experiment open for editing, running and viewing, if any.
    pub fn open(&self) -> Option<Arc<Experiment>> {
        let id = self.open_id.get()?;
        (self.list).with(|list| list.iter().find(|experiment| experiment.id == id).cloned())
    }

    /// The open experiment's grid from the store's runs: rebuilt as they
    /// change (at most every 150 ms while they stream), checks evaluated
    /// again only for runs that changed or when the checks did.
    pub fn grid(&self) -> Option<Arc<Grid>> {
        self.grid.get()
    }

    /// What went wrong reading or saving experiments, if anything.
    pub fn error(&self) -> Option<String> {
        self.error.get()
    }

    /// Whether the saved experiments have been read (or there are none to read).
    pub fn is_loaded(&self) -> bool {
        self.loaded.get()
    }

    /// Opens experiment `id` (an unknown id opens none).
    pub fn select(&self, id: Option<&str>) {
        let known = id.filter(|id| {
            self.list
                .with_untracked(|list| list.iter().any(|e| e.id == *id))
        });
        self.open_id.set(known.map(str::to_owned));
    }

    /// Makes a new, empty experiment named `name`, opens it and returns its id.
    pub fn create(&self, name: &str) -> String {
        let id = format!(
            "exp-{}",
            PromptRun::new_local_id().trim_start_matches("local-")
        );
        self.put(Experiment::new(id.clone(), name));
        id
    }

    /// Adds `experiment`, or replaces the one with its id, opens it and saves it.
    pub fn put(&self, experiment: Experiment) {
        let id = experiment.id.clone();
        let experiment = Arc::new(experiment);
        self.list
            .update(|list| match list.iter_mut().find(|held| held.id == id) {
                Some(held) => *held = experiment,
                None => list.push(experiment),
            });
        self.open_id.set(Some(id.clone()));
        self.save_soon(id);
    }

    /// Changes the open experiment with `edit` and saves it soon; nothing
    /// happens when none is open.
    pub fn edit(&self, edit: impl FnOnce(&mut Experiment)) {
        let Some(id) = self.open_id.get_untracked() else {
            return;
        };
        let mut edit = Some(edit);
        self.list.update(|list| {
            if let (Some(held), Some(edit)) =
                (list.iter_mut().find(|held| held.id == id), edit.take())
            {
                // Copied only when a view still holds the old one.
                edit(Arc::make_mut(held));
            }
        });
        self.save_soon(id);
    }

    /// Removes experiment `id` (its runs stay in the history) and forgets
    /// its saved definition.
    pub fn remove(&self, id: &str) {
        self.list.update(|list| list.retain(|held| held.id != id));
        if self.open_id.get_untracked().as_deref() == Some(id) {
            self.open_id.set(
                self.list
                    .with_untracked(|list| list.first().map(|e| e.id.clone())),
            );
        }
        if let Some(history) = self.history.get_value() {
            let (id, error) = (id.to_owned(), self.error);
            spawn_local(async move {
                if let Err(failed) = history.delete_experiment(&id).await {
                    error.try_set(Some(failed.to_string()));
                }
            });
        }
    }

    /// The store the experiments run in.
    pub fn store(&self) -> RunsStore {
        self.store
    }

    /// Takes in the saved experiments, before any made meanwhile, and opens
    /// the one last opened in this browser (else the first) if none is open.
    async fn take_saved(self, history: HistoryPersistence) {
        let saved = history.saved_experiments().await;
        let _ = self.list.try_update(|list| {
            if let Ok(saved) = &saved {
                let made_here: Vec<Arc<Experiment>> = std::mem::take(list);
                list.extend(saved.experiments.iter().cloned().map(Arc::new));
                for experiment in made_here {
                    if !list.iter().any(|held| held.id == experiment.id) {
                        list.push(experiment);
                    }
                }
            }
        });
        let problem = match saved {
            Ok(saved) if saved.unreadable.is_empty() => None,
            Ok(saved) => Some(saved.unreadable.join(" ")),
            Err(failed) => Some(failed.to_string()),
        };
        if problem.is_some() {
            self.error.try_set(problem);
        }
        if self.open_id.try_get_untracked().flatten().is_none() {
            let last = history.open_experiment();
            let reopened = self.list.try_with_untracked(|list| {
                let last = list.iter().find(|e| Some(&e.id) == last.as_ref());
                last.or(list.first()).map(|e| e.id.clone())
            });
            self.open_id.try_set(reopened.flatten());
        }
        self.loaded.try_set(true);
    }

    /// Saves experiment `id` after [`SAVE_DELAY`], with any other edited meanwhile.
    fn save_soon(&self, id: String) {
        if self.history.get_value().is_none() {
            return;
        }
        let scheduled = self.saves.try_update_value(|saves| {
            if !saves.unsaved.contains(&id) {
                saves.unsaved.push(id);
            }
            std::mem::replace(&mut saves.scheduled, true)
        });
        if scheduled == Some(false) {
            let this = *self;
            set_timeout(move || this.flush(), SAVE_DELAY);
        }
    }

    /// Starts writing every edited experiment now rather than 300 ms after
    /// its last edit: the page is about to be left (a link followed, a
    /// reload), and a write begun sooner is likelier to commit before it
    /// goes. Whatever has not committed by `pagehide` is kept in
    /// localStorage then.
    pub fn flush(&self) {
        let Some(history) = self.history.get_value() else {
            return;
        };
        let Some(ids) = self.saves.try_update_value(|saves| {
            saves.scheduled = false;
            std::mem::take(&mut saves.unsaved)
        }) else {
            return;
        };
        // One deleted meanwhile is not written.
        let experiments = self.held(&ids);
        let (error, saves) = (self.error, self.saves);
        saves.try_update_value(|saves| {
            (saves.writing).extend(experiments.iter().map(|experiment| experiment.id.clone()));
        });
        spawn_local(async move {
            for experiment in experiments {
                let saved = history.save_experiment(&experiment).await;
                let failed = saved.is_err();
                error.try_set(saved.err().map(|failed| failed.to_string()));
                saves.try_update_value(|saves| {
                    if let Some(at) = saves.writing.iter().position(|id| *id == experiment.id) {
                        saves.writing.swap_remove(at);
                    }
                    // Unsaved again: written with the next edit, and kept
                    // in localStorage if the page goes first.
                    if failed && !saves.unsaved.contains(&experiment.id) {
                        saves.unsaved.push(experiment.id.clone());
                    }
                });
            }
        });
    }

    /// The held experiments among `ids`.
    fn held(&self, ids: &[String]) -> Vec<Arc<Experiment>> {
        (self.list)
            .try_with_untracked(|list| {
                (list.iter())
                    .filter(|experiment| ids.contains(&experiment.id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes what is not committed yet to localStorage, synchronously (see
    /// [`HistoryPersistence::keep_unsaved_experiments`]).
    fn keep_unsaved(&self) {
        let (Some(history), Some(ids)) = (
            self.history.get_value(),
            (self.saves).try_with_value(|saves| [&saves.unsaved[..], &saves.writing[..]].concat()),
        ) else {
            return;
        };
        if !ids.is_empty() {
            history.keep_unsaved_experiments(self.held(&ids).iter().map(|e| &**e));
        }
    }

    /// At `pagehide`, and when the page is hidden (a phone may then close it
    /// without a `pagehide`): writes start at once, and what is not
    /// committed is kept in localStorage. When the page's owner goes, the
    /// writes start while the experiments can still be read.
    fn flush_when_leaving(self) {
        let leave = move || {
            self.flush();
            self.keep_unsaved();
        };
        let pagehide = window_event_listener(leptos::ev::pagehide, move |_| leave());
        let hidden = window_event_listener_untyped("visibilitychange", move |_| {
            if document().visibility_state() == web_sys::VisibilityState::Hidden {
                leave();
            }
        });
        on_cleanup(move || {
            pagehide.remove();
            hidden.remove();
            self.flush();
        });
    }
}

/// The grid of `experiment` from `store`'s runs, rebuilt as either changes:
/// runs are sampled at most every [`GRID_REFRESH`] (an experiment streams
/// dozens of updates a second; rebuilding a 12,000-run grid on each would
/// starve the page), the definition at once.
pub(crate) fn grid_of(
    store: RunsStore,
    experiment: Signal<Option<Arc<Experiment>>>,
) -> Memo<Option<Arc<Grid>>> {
    let runs = RwSignal::new(store.runs_untracked());
    let refresh_scheduled = StoredValue::new(false);
    Effect::new(move |_| {
        store.runs();
        if refresh_scheduled.get_value() {
            return;
        }
        refresh_scheduled.set_value(true);
        set_timeout(
            move || {
                if refresh_scheduled.try_set_value(false).is_some() {
                    return;
                }
                let _ = runs.try_set(store.runs_untracked());
            },
            GRID_REFRESH,
        );
    });
    let previous = StoredValue::new(None::<Arc<Grid>>);
    Memo::new_with_compare(
        move |_| {
            let experiment = experiment.get()?;
            let grid = runs.with(|runs: &RunList| match previous.get_value() {
                Some(held) => held.rebuild(&experiment, runs.iter()),
                None => Grid::build(&experiment, runs.iter()),
            });
            let grid = Arc::new(grid);
            previous.set_value(Some(grid.clone()));
            Some(grid)
        },
        |old, new| !matches!((old, new), (Some(Some(old)), Some(Some(new))) if Arc::ptr_eq(old, new)),
    )
}
