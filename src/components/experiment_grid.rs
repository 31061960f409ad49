//! ExperimentGrid: an experiment's rows × models, each cell its answer and
//! figures, virtualized so 1,000 rows on 4 models stay a few hundred
//! elements, with a per-model footer.

use super::diff_view::use_diff_selection;
use super::experiments::{grid_of, use_experiments, Experiments};
use super::format::{cost, duration, output_preview, thousands, tokens};
use super::keyed_rows::{keyed_rows, row as row_of};
use super::root_class::{root_class, root_style};
use super::scroll_window::ScrollWindow;
use crate::experiment::{CellStatus, Experiment, Grid, GridCell, ModelSummary, Outcome};
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;
use std::sync::Arc;

/// Height of one grid row in CSS pixels (rows are virtualized: all as high).
pub const GRID_ROW_HEIGHT_PX: usize = 168;

/// The grid of an experiment: one row per input row (its values), one
/// column per model, each cell the answer as text (the most frequent of its
/// repeats, with how many distinct answers there were and their counts), its
/// tokens, cost and latency, and a mark per check (✓ pass, ✗ fail with the
/// reason as its title, – not applicable); a failed cell shows its error, a
/// cell never sent says so. "Only rows where models differ" hides the rows
/// where every model answered alike. The footer gives each model's pass rate,
/// total cost ("unknown" when an answer had no price) and median latency.
///
/// Each cell can be opened (made the store's active run) and, with a
/// [`DiffSelection`](super::DiffSelection) in context, set as the diff's
/// baseline or compared side. Rows are [`GRID_ROW_HEIGHT_PX`] high and only
/// those in view are rendered.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, ExperimentGrid};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Results() -> impl IntoView {
///     provide_runs_store();
///     provide_experiments(None); // the grid shows the open experiment
///     view! { <ExperimentGrid height="60vh"/> }
/// }
/// ```
#[component]
pub fn ExperimentGrid(
    /// The store whose runs fill the grid; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// The experiment to show; by default the open one of the
    /// [`Experiments`] in context.
    #[prop(optional, into)]
    experiment: Option<Signal<Option<Arc<Experiment>>>>,
    /// The scrolling grid's height, any CSS length; 70vh by default
    /// (reactive: a signal resizes the mounted grid).
    #[prop(optional, into)]
    height: MaybeProp<String>,
    /// Classes the host adds to the root element, after its own `grid`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
    /// Inline style for the root element, such as `max-width: 40rem`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    style: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let (experiment, grid) = match experiment {
        Some(experiment) => (experiment, grid_of(store, experiment)),
        None => {
            let experiments: Experiments = use_experiments();
            let grid = Memo::new_with_compare(
                move |_| experiments.grid(),
                |old, new| !matches!((old, new), (Some(Some(old)), Some(Some(new))) if Arc::ptr_eq(old, new)),
            );
            (Signal::derive(move || experiments.open()), grid)
        }
    };
    let only_differing = RwSignal::new(false);
    // The rows shown, as positions in the grid.
    let shown = Memo::new(move |_| {
        grid.with(|grid| {
            let grid = grid.as_ref()?;
            let differing = only_differing.get();
            Some(
                (grid.rows.iter())
                    .filter(|row| !differing || row.models_differ())
                    .map(|row| row.row)
                    .collect::<Vec<_>>(),
            )
        })
        .unwrap_or_default()
    });
    let columns = move || {
        let models = experiment.with(|experiment| {
            experiment.as_ref().map_or(1, |experiment| {
                if experiment.pairing == crate::experiment::Pairing::ExactPairs {
                    1
                } else {
                    experiment.models.len().max(1)
                }
            })
        });
        format!("display: grid; grid-template-columns: minmax(8rem, 1fr) repeat({models}, minmax(12rem, 2fr))")
    };

    view! {
        <section class=root_class("grid", class) style=root_style(style) aria-label="Experiment grid">
            <GridHeader grid shown only_differing/>
            <div class="grid__columns" style=columns aria-hidden="true">
                <span>"Input"</span>
                {move || experiment.get().map(|experiment| column_names(&experiment).into_iter().map(|name| view! { <span>{name}</span> }).collect_view())}
            </div>
            {grid_viewport(store, experiment, grid, shown, height, columns)}
            <footer class="grid__footer">
                {move || grid.get().map(|grid| grid.models.iter().map(model_footer).collect_view())}
            </footer>
        </section>
    }
}

/// The title, "Only rows where models differ", and how many rows are shown.
#[component]
fn GridHeader(
    grid: Memo<Option<Arc<Grid>>>,
    shown: Memo<Vec<usize>>,
    only_differing: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <header class="grid__header">
            <h2>"Grid"</h2>
            <label class="grid__differing">
                <input
                    type="checkbox"
                    prop:checked=move || only_differing.get()
                    on:change=move |event| only_differing.set(event_target_checked(&event))
                />
                "Only rows where models differ"
            </label>
            <span class="grid__count">{move || {
                let (all, shown) = (grid.with(|grid| grid.as_ref().map_or(0, |grid| grid.rows.len())), shown.with(Vec::len));
                if shown < all { format!("{} of {} rows", thousands(shown as u64), thousands(all as u64)) } else { format!("{} rows", thousands(all as u64)) }
            }}</span>
        </header>
    }
}

/// The scrolling rows: the `shown` rows in view, spacers standing in for
/// the rest, each row laid out in `columns`.
fn grid_viewport(
    store: RunsStore,
    experiment: Signal<Option<Arc<Experiment>>>,
    grid: Memo<Option<Arc<Grid>>>,
    shown: Memo<Vec<usize>>,
    height: MaybeProp<String>,
    columns: impl Fn() -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let scroll = ScrollWindow::new(height);
    let window = Memo::new(move |_| {
        let len = shown.with(Vec::len);
        let (first, end) = scroll.range(len, GRID_ROW_HEIGHT_PX);
        (first, end, len)
    });
    let rows = move || {
        let (first, end, _) = window.get();
        let (Some(grid), Some(experiment)) = (grid.get(), experiment.get()) else {
            return Vec::new();
        };
        shown.with(|shown| {
            (shown[first..end].iter())
                .map(|&row| {
                    // A rebuilt grid is a new Arc: the rows in view are drawn again.
                    let key = format!("{:x}:{row}", Arc::as_ptr(&grid) as usize);
                    let (grid, experiment) = (grid.clone(), experiment.clone());
                    row_of(key, move || {
                        view! { <GridRowView grid experiment row store columns=columns()/> }
                            .into_any()
                    })
                })
                .collect()
        })
    };
    let spacer = |rows: usize| format!("height: {}px", rows * GRID_ROW_HEIGHT_PX);
    view! {
        <div
            class="grid__viewport"
            style=scroll.style()
            node_ref=scroll.viewport
            tabindex="0"
            aria-label="Rows of the experiment"
            on:scroll=move |_| scroll.scrolled()
        >
            <div style=move || spacer(window.get().0)></div>
            {keyed_rows(rows)}
            <div style=move || { let (_, end, len) = window.get(); spacer(len - end) }></div>
            {move || (grid.with(Option::is_none)).then(|| view! {
                <p class="grid__empty">"No experiment open."</p>
            })}
        </div>
    }
}

/// The grid's column heads: the models (in exact pairs, one "Model" column).
fn column_names(experiment: &Experiment) -> Vec<String> {
    match experiment.pairing {
        crate::experiment::Pairing::ExactPairs => vec!["Model".to_owned()],
        crate::experiment::Pairing::CrossProduct => experiment.models.clone(),
    }
}

/// One input row: its values, then its cells.
#[component]
fn GridRowView(
    grid: Arc<Grid>,
    experiment: Arc<Experiment>,
    row: usize,
    store: RunsStore,
    columns: String,
) -> impl IntoView {
    let inputs = (experiment.inputs.columns().iter())
        .zip(experiment.inputs.rows().get(row).into_iter().flatten())
        .map(|(name, value)| format!("{name}: {}", value.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n");
    let cells: Vec<_> = grid.rows[row]
        .cells
        .iter()
        .map(|cell| grid_cell(cell, &experiment, store))
        .collect();
    view! {
        <div
            class="grid__row"
            data-row=row
            class:grid__row--differ=grid.rows[row].models_differ()
            style=format!("{columns}; height: {GRID_ROW_HEIGHT_PX}px; overflow: hidden; box-sizing: border-box")
        >
            <div class="grid__inputs">
                <span class="grid__row-number">{format!("Row {}", row + 1)}</span>
                <pre>{inputs}</pre>
            </div>
            {cells}
        </div>
    }
}

/// One cell: status, check marks, the answer, repeats, figures, actions.
fn grid_cell(cell: &GridCell, experiment: &Experiment, store: RunsStore) -> impl IntoView {
    let status = match cell.status {
        CellStatus::NotRun => "not-run",
        CellStatus::InFlight => "in-flight",
        CellStatus::Answered => "answered",
        CellStatus::Failed => "failed",
    };
    let top = cell.answers.first().map(|answer| answer.run.clone());
    let shown_run = top
        .clone()
        .or_else(|| cell.runs.iter().flatten().last().cloned());
    let text = match (&top, cell.status) {
        // The first 200 characters, as a history card: the rest is one click away (Open).
        (Some(run), _) => output_preview(run).unwrap_or_default(),
        (None, CellStatus::NotRun) => "Not run".to_owned(),
        (None, CellStatus::InFlight) => "Running…".to_owned(),
        (None, _) => cell.errors().next().map_or_else(
            || "Failed".to_owned(),
            |(_, error)| format!("Failed: {error}"),
        ),
    };
    let repeats = (experiment.repeats > 1 && !cell.answers.is_empty()).then(|| {
        let counts: Vec<String> = (cell.answers.iter())
            .map(|answer| format!("{}×", answer.repeats.len()))
            .collect();
        let distinct = cell.answers.len();
        let noun = if distinct == 1 { "answer" } else { "answers" };
        format!("{distinct} distinct {noun}: {}", counts.join(" · "))
    });
    // The checks of the run shown (its first repeat that gave the answer).
    let repeat = top
        .as_ref()
        .and_then(|run| run.experiment_cell().map(|tag| tag.repeat as usize));
    let outcomes = repeat
        .and_then(|repeat| cell.checks.get(repeat))
        .cloned()
        .unwrap_or_default();
    let marks = (experiment.checks.iter().zip(outcomes))
        .map(|(check, outcome)| {
            let (mark, class, why) = match outcome {
                Outcome::Pass => ("✓", "grid__pass", "passes".to_owned()),
                Outcome::Fail(why) => ("✗", "grid__fail", why),
                Outcome::NotApplicable(why) => ("–", "grid__na", why),
            };
            let title = format!("{}: {why}", check.label());
            view! { <span class=class title=title.clone() aria-label=title>{mark}</span> }
        })
        .collect_view();
    let figures = shown_run.as_ref().map(|run| {
        let known = [
            run.total_tokens.map(|count| tokens(Some(count))),
            run.cost_usd().map(|usd| cost(Some(usd))),
            run.duration_ms.map(|ms| duration(Some(ms))),
        ];
        known.into_iter().flatten().collect::<Vec<_>>().join(" · ")
    });
    let exact_pair = experiment.pairing == crate::experiment::Pairing::ExactPairs;
    let selection = use_diff_selection();
    let id = shown_run.map(|run| run.id.clone());
    let actions = id.map(|id| {
        let choose = move |side: fn(&super::DiffSelection) -> RwSignal<Option<String>>, id: String| {
            move |_| {
                if let Some(selection) = &selection {
                    side(selection).set(Some(id.clone()));
                }
            }
        };
        let open = id.clone();
        view! {
            <div class="grid__actions">
                <button type="button" class="grid__open" on:click=move |_| { let _ = store.set_active_run(Some(&open)); }>"Open"</button>
                {selection.is_some().then(|| view! {
                    <button type="button" class="grid__baseline" on:click=choose(|s| s.baseline, id.clone())>"Baseline"</button>
                    <button type="button" class="grid__compare" on:click=choose(|s| s.compared, id.clone())>"Compare"</button>
                })}
            </div>
        }
    });
    view! {
        <div class="grid__cell" data-status=status data-model=experiment.models[cell.model].clone()>
            {exact_pair.then(|| view! { <span class="grid__cell-model">{experiment.models[cell.model].clone()}</span> })}
            <div class="grid__checks">{marks}</div>
            <p class="grid__answer">{text}</p>
            {repeats.map(|repeats| view! { <p class="grid__repeats">{repeats}</p> })}
            {figures.map(|figures| view! { <p class="grid__figures">{figures}</p> })}
            {actions}
        </div>
    }
}

/// One model's figures in the footer.
fn model_footer(model: &ModelSummary) -> impl IntoView {
    let total = match model.cost.total() {
        Some(total) => total.to_string(),
        None => format!("unknown ({} answers unpriced)", model.cost.unknown_runs),
    };
    view! {
        <dl class="grid__model" data-model=model.model_id.clone()>
            <dt>{model.model_id.clone()}</dt>
            <dd class="grid__pass-rate">{format!("Pass rate {}", model.pass_rate)}</dd>
            <dd class="grid__total-cost">{format!("Total cost {total}")}</dd>
            <dd class="grid__p50">{format!("p50 latency {}", duration(model.p50_latency_ms))}</dd>
            <dd class="grid__counts">{format!(
                "{} answered, {} failed, {} not run",
                model.succeeded, model.failed, model.not_run
            )}</dd>
        </dl>
    }
}
