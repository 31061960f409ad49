//! ExperimentGrid: an experiment's rows × models, each cell its answer,
//! labelled check marks, figures and judgements, expandable in place;
//! filtered by what a person looks for; virtualized so 1,000 rows on 4
//! models stay a few hundred elements; with a footer of each model's pass
//! rates (all checks, and each check), cost and latency under its column.

use super::diff_view::use_diff_selection;
use super::experiments::{grid_of, use_experiments, Experiments};
use super::format::{
    count, duration, output_preview, pass_rate, percent, run_cost, thousands, tokens, NOT_PRICED,
};
use super::keyed_rows::{keyed_rows, row as row_of};
use super::root_class::{root_class, root_style};
use super::run_judgement::Judge;
use super::scroll_window::{RowHeights, ScrollWindow};
use crate::experiment::{
    row_values, Agreement, CellFilter, CellStatus, Check, Experiment, Grid, GridCell, GridRow,
    Outcome, Pairing, RowFilter,
};
use crate::persist::{use_history, HistoryPersistence};
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, ResizeObserver, ResizeObserverEntry};

/// Height of a grid row in CSS pixels, unless a person expanded one of its
/// cells (rows are virtualized: all as high but the expanded ones, which are
/// measured).
pub const GRID_ROW_HEIGHT_PX: usize = 176;

/// Rows drawn beyond each edge of the grid's viewport. Grid rows are tall
/// and hold many elements, so fewer than the history's four: two rows are
/// still a third of a screen ahead when scrolling fast.
const OVERSCAN_ROWS: usize = 2;

/// The grid of an experiment: one row per input row (its values), one
/// column per model, each cell the answer as text (the most frequent of its
/// repeats, cut after three lines, with how many distinct answers there were
/// and their counts), its tokens, cost and latency, a labelled mark per check
/// (`✓ contains "Paris"`, `✗ matches /^Paris/: no match`), and the run's
/// judgement (thumbs, star, note), settable there; a failed cell shows its
/// error, a cell never sent says so. Expand shows the whole answer (every
/// distinct one), every mark in full and the note's field, in place.
///
/// Above the rows, "Only rows where models differ" and a filter keep the
/// rows with a failed run, a failed check (any, or a given one), a judged,
/// rated, starred or noted run. The footer, aligned under the columns,
/// gives each model's pass rate over all checks and per check, total cost
/// ("unknown" when an answer had no price), median latency and counts.
/// On a narrow screen the grid scrolls sideways inside its own box.
///
/// Each cell can be opened (made the store's active run) and, with a
/// [`DiffSelection`](super::DiffSelection) in context, set as the diff's
/// baseline or compared side; its buttons are named for the cell
/// (`Open France × gpt-4o`). Rows are [`GRID_ROW_HEIGHT_PX`] high, the
/// expanded ones as high as they need, and only those in view are rendered.
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
    let view = GridView {
        store,
        experiment,
        grid,
        filter: RwSignal::new(RowFilter::default()),
        expanded: RwSignal::new(Vec::new()),
        history: StoredValue::new_local(use_history()),
    };
    // The rows shown, as positions in the grid. A filter on a check the
    // experiment no longer has shows every row.
    let shown = Memo::new(move |_| {
        let choices = view.choices();
        let mut filter = view.filter.get();
        if !choices.iter().any(|(cells, _)| *cells == filter.cells) {
            filter.cells = CellFilter::All;
        }
        grid.with(|grid| {
            let grid = grid.as_ref()?;
            Some(
                grid.rows_shown(filter)
                    .map(|row| row.row)
                    .collect::<Vec<_>>(),
            )
        })
        .unwrap_or_default()
    });
    let columns =
        move || columns_style(experiment.with(|experiment| model_columns(experiment.as_deref())));
    // Wide enough for every column at its narrowest: on a narrow screen the
    // grid scrolls sideways inside `grid__scroll`, never the page.
    let table_style = move || {
        let widest = model_columns(experiment.get().as_deref())
            .max(grid.with(|grid| grid.as_ref().map_or(0, |grid| grid.models.len())));
        format!("min-width: calc({} * 0.5rem + 20px)", 18 + 25 * widest)
    };

    view! {
        <section class=root_class("grid", class) style=root_style(style) aria-label="Experiment grid">
            <GridHeader view shown/>
            <div class="grid__scroll">
                <div class="grid__table" style=table_style>
                    <div class="grid__columns" style=columns aria-hidden="true">
                        <span>"Input"</span>
                        {move || experiment.get().map(|experiment| column_names(&experiment).into_iter().map(|name| view! { <span>{name}</span> }).collect_view())}
                    </div>
                    {grid_viewport(view, shown, height, columns)}
                    {move || grid.get().zip(experiment.get()).map(|(grid, experiment)| grid_footer(&grid, &experiment))}
                </div>
            </div>
        </section>
    }
}

/// What the grid's parts share: the store, the experiment and its grid,
/// the filter, the cells expanded (row, model position), and the history
/// the store is kept in, if any.
#[derive(Clone, Copy)]
struct GridView {
    store: RunsStore,
    experiment: Signal<Option<Arc<Experiment>>>,
    grid: Memo<Option<Arc<Grid>>>,
    filter: RwSignal<RowFilter>,
    expanded: RwSignal<Vec<(usize, usize)>>,
    history: StoredValue<Option<HistoryPersistence>, LocalStorage>,
}

impl GridView {
    /// The cell filters the menu offers for the experiment's checks.
    fn choices(&self) -> Vec<(CellFilter, String)> {
        self.experiment.with(|experiment| {
            CellFilter::choices(
                experiment
                    .as_ref()
                    .map_or(&[], |experiment| &experiment.checks),
            )
        })
    }

    /// Whether the cell of `row` on model `model` is expanded (tracked).
    fn is_expanded(&self, row: usize, model: usize) -> bool {
        self.expanded.with(|cells| cells.contains(&(row, model)))
    }

    /// Whether any cell of `row` is expanded (tracked).
    fn row_expanded(&self, row: usize) -> bool {
        self.expanded
            .with(|cells| cells.iter().any(|(at, _)| *at == row))
    }

    /// Expands the cell, or collapses it when it is expanded. Expanded, its
    /// runs' whole text is read back from the history if they are held cold
    /// (past the newest runs, only the start of an answer is in memory).
    fn toggle(&self, row: usize, model: usize) {
        let expanding = !self.is_expanded_untracked(row, model);
        self.expanded.update(|cells| match expanding {
            true => cells.push((row, model)),
            false => cells.retain(|cell| *cell != (row, model)),
        });
        let history = self.history.get_value();
        let ids = self.grid.with_untracked(|grid| {
            let cell = grid.as_ref()?.cell(row, model)?;
            Some(
                cell.runs
                    .iter()
                    .flatten()
                    .map(|run| run.id.clone())
                    .collect::<Vec<_>>(),
            )
        });
        if let (true, Some(history), Some(ids)) = (expanding, history, ids) {
            spawn_local(history.warm(ids));
        }
    }

    fn is_expanded_untracked(&self, row: usize, model: usize) -> bool {
        self.expanded
            .with_untracked(|cells| cells.contains(&(row, model)))
    }
}

/// The title, the filters, and how many rows are shown.
#[component]
fn GridHeader(view: GridView, shown: Memo<Vec<usize>>) -> impl IntoView {
    let GridView { grid, filter, .. } = view;
    let choose = move |event: leptos::ev::Event| {
        let chosen = event_target_value(&event).parse::<usize>().ok();
        let cells = chosen.and_then(|at| view.choices().get(at).map(|(cells, _)| *cells));
        filter.update(|filter| filter.cells = cells.unwrap_or_default());
    };
    view! {
        <header class="grid__header">
            <h2>"Grid"</h2>
            <label class="grid__differing">
                <input
                    type="checkbox"
                    prop:checked=move || filter.with(|filter| filter.models_differ)
                    on:change=move |event| filter.update(|filter| filter.models_differ = event_target_checked(&event))
                />
                "Only rows where models differ"
            </label>
            <label class="grid__filter">
                "Show rows with "
                <select
                    prop:value=move || {
                        let cells = filter.with(|filter| filter.cells);
                        view.choices().iter().position(|(choice, _)| *choice == cells).unwrap_or(0).to_string()
                    }
                    on:change=choose
                >
                    {move || view.choices().into_iter().enumerate().map(|(at, (_, name))| view! { <option value=at.to_string()>{name}</option> }).collect_view()}
                </select>
            </label>
            <span class="grid__count">{move || {
                let (all, shown) = (grid.with(|grid| grid.as_ref().map_or(0, |grid| grid.rows.len())), shown.with(Vec::len));
                if shown < all { format!("{} of {} rows", thousands(shown as u64), thousands(all as u64)) } else { format!("{} rows", thousands(all as u64)) }
            }}</span>
        </header>
    }
}

/// The scrolling rows: the `shown` rows in view, spacers standing in for
/// the rest, each row laid out in `columns`. Expanded rows are measured as
/// they are drawn and resized, and the window counts them at that height.
fn grid_viewport(
    view: GridView,
    shown: Memo<Vec<usize>>,
    height: MaybeProp<String>,
    columns: impl Fn() -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let GridView {
        experiment, grid, ..
    } = view;
    let scroll = ScrollWindow::new(height);
    let measured = RwSignal::new(Vec::<(usize, usize)>::new());
    let observer = measure_rows(measured);
    let window = Memo::new(move |_| {
        shown.with(|shown| {
            // Expanded rows by position among those shown, in order.
            let mut taller: Vec<(usize, usize)> = measured.with(|measured| {
                (measured.iter())
                    .filter(|(row, _)| view.row_expanded(*row))
                    .filter_map(|(row, px)| Some((shown.binary_search(row).ok()?, *px)))
                    .collect()
            });
            taller.sort_unstable();
            let heights = RowHeights {
                row_px: GRID_ROW_HEIGHT_PX,
                taller: &taller,
            };
            let (first, end) = scroll.range_of(shown.len(), heights, OVERSCAN_ROWS);
            let below = heights.offset(shown.len()) - heights.offset(end);
            (first, end, heights.offset(first), below)
        })
    });
    let rows = move || {
        let (first, end, _, _) = window.get();
        let (Some(grid), Some(experiment)) = (grid.get(), experiment.get()) else {
            return Vec::new();
        };
        shown.with(|shown| {
            (shown[first..end].iter())
                .map(|&row| {
                    let key = row_key(&experiment, &grid.rows[row]);
                    let (grid, experiment) = (grid.clone(), experiment.clone());
                    let observer = observer.clone();
                    row_of(key, move || {
                        let drawn = DrawnRow {
                            view,
                            grid,
                            experiment,
                            row,
                            columns: columns(),
                        };
                        grid_row(drawn, observer, measured).into_any()
                    })
                })
                .collect()
        })
    };
    let spacer = |px: usize| format!("height: {px}px");
    view! {
        <div
            class="grid__viewport"
            style=scroll.style()
            node_ref=scroll.viewport
            tabindex="0"
            aria-label="Rows of the experiment"
            on:scroll=move |_| scroll.scrolled()
        >
            <div style=move || spacer(window.get().2)></div>
            {keyed_rows(rows)}
            <div style=move || spacer(window.get().3)></div>
            {move || (grid.with(Option::is_none)).then(|| view! {
                <p class="grid__empty">"No experiment open."</p>
            })}
        </div>
    }
}

/// A ResizeObserver that keeps `measured` (row, height in px) up to date for
/// the rows it observes: the expanded ones, while they are drawn.
fn measure_rows(measured: RwSignal<Vec<(usize, usize)>>) -> Option<SendWrapper<ResizeObserver>> {
    let resized = Closure::<dyn FnMut(js_sys::Array, ResizeObserver)>::new(
        move |entries: js_sys::Array, observer: ResizeObserver| {
            for entry in entries.iter() {
                let entry: ResizeObserverEntry = entry.unchecked_into();
                let target: HtmlElement = entry.target().unchecked_into();
                // A row scrolled out of the window is taken out of the page:
                // it keeps its last height, and is no longer observed.
                if !target.is_connected() {
                    observer.unobserve(&target);
                    continue;
                }
                let row = target
                    .get_attribute("data-row")
                    .and_then(|row| row.parse().ok());
                let height = usize::try_from(target.offset_height()).unwrap_or(0);
                if let (Some(row), true) = (row, height > 0) {
                    measured.update(|measured| {
                        measured.retain(|(at, _)| *at != row);
                        measured.push((row, height));
                    });
                }
            }
        },
    );
    let observer = ResizeObserver::new(resized.into_js_value().unchecked_ref()).ok()?;
    let observer = SendWrapper::new(observer);
    let disconnect = observer.clone();
    on_cleanup(move || disconnect.disconnect());
    Some(observer)
}

/// What a grid row is drawn from.
struct DrawnRow {
    view: GridView,
    grid: Arc<Grid>,
    experiment: Arc<Experiment>,
    row: usize,
    columns: String,
}

/// A row's key: the row, and what its cells show but for judgements, which
/// the cells follow in the store themselves. Judging a run then leaves the
/// row's elements (and the focus on the button pressed) in place, where
/// drawing it again would lose them; a run that finishes, is re-run or has
/// its text read back draws it again, and so does an edit of the experiment,
/// or a judge's verdict that lands (the cell's check outcomes).
fn row_key(experiment: &Arc<Experiment>, row: &GridRow) -> String {
    let mut hasher = DefaultHasher::new();
    for cell in &row.cells {
        cell.checks.hash(&mut hasher);
        for run in cell.runs.iter().flatten() {
            run.id.hash(&mut hasher);
            (run.status as u8).hash(&mut hasher);
            run.output.as_ref().map(String::len).hash(&mut hasher);
            (
                run.total_tokens,
                run.duration_ms,
                run.cost.map(f64::to_bits),
            )
                .hash(&mut hasher);
        }
    }
    format!(
        "{:x}:{}:{:x}",
        Arc::as_ptr(experiment) as usize,
        row.row,
        hasher.finish()
    )
}

/// One input row: its values, then its cells. Fixed in height unless a cell
/// is expanded; then as high as it needs, and measured while drawn.
fn grid_row(
    drawn: DrawnRow,
    observer: Option<SendWrapper<ResizeObserver>>,
    measured: RwSignal<Vec<(usize, usize)>>,
) -> impl IntoView {
    let DrawnRow {
        view,
        grid,
        experiment,
        row,
        columns,
    } = drawn;
    let inputs = (experiment.inputs.columns().iter())
        .zip(experiment.inputs.rows().get(row).into_iter().flatten())
        .map(|(name, value)| format!("{name}: {}", value.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n");
    let name = row_values(&experiment, row).unwrap_or_else(|| format!("Row {}", row + 1));
    let cells: Vec<_> = (grid.rows[row].cells.iter())
        .map(|cell| grid_cell(view, cell, &experiment, (row, &name)))
        .collect();
    let element = NodeRef::<leptos::html::Div>::new();
    if let Some(observer) = observer {
        Effect::new(move |_| {
            let Some(element) = element.get() else { return };
            if view.row_expanded(row) {
                observer.observe(&element);
            } else {
                observer.unobserve(&element);
                measured.update(|measured| measured.retain(|(at, _)| *at != row));
            }
        });
    }
    let style = move || match view.row_expanded(row) {
        true => format!("{columns}; min-height: {GRID_ROW_HEIGHT_PX}px"),
        false => format!("{columns}; height: {GRID_ROW_HEIGHT_PX}px; overflow: hidden"),
    };
    view! {
        <div
            class="grid__row"
            data-row=row
            class:grid__row--differ=grid.rows[row].models_differ()
            node_ref=element
            style=style
        >
            <div class="grid__inputs">
                <span class="grid__row-number">{format!("Row {}", row + 1)}</span>
                <pre>{inputs}</pre>
            </div>
            {cells}
        </div>
    }
}

/// One cell: check marks, the answer, figures, its note, its actions and
/// judgement; expanded, every answer whole and the note's field.
fn grid_cell(
    view: GridView,
    cell: &GridCell,
    experiment: &Experiment,
    (row, row_values): (usize, &str),
) -> impl IntoView {
    let status = match cell.status {
        CellStatus::NotRun => "not-run",
        CellStatus::InFlight => "in-flight",
        CellStatus::Answered => "answered",
        CellStatus::Failed => "failed",
    };
    let model = cell.model;
    let model_id = experiment.models[model].clone();
    let name = format!("{row_values} × {model_id}");
    let note_name = format!("Note on {name}");
    let top = cell.answers.first().map(|answer| answer.run.clone());
    let shown_run = top
        .clone()
        .or_else(|| cell.runs.iter().flatten().last().cloned());
    let expanded = move || view.is_expanded(row, model);
    let answer = answer_text(cell, expanded);
    // The checks of the run shown (its first repeat that gave the answer).
    let outcomes = top
        .as_ref()
        .and_then(|run| run.experiment_cell().map(|tag| tag.repeat as usize))
        .and_then(|repeat| cell.checks.get(repeat))
        .cloned()
        .unwrap_or_default();
    let marks = (!outcomes.is_empty()).then(|| {
        let marks = (experiment.checks.iter().zip(outcomes))
            .map(|(check, outcome)| {
                let (mark, class) = match outcome {
                    Outcome::Pass | Outcome::PassBecause(_) => ("✓", "grid__pass"),
                    Outcome::Fail(_) => ("✗", "grid__fail"),
                    Outcome::NotApplicable(_) => ("–", "grid__na"),
                    // Neither a pass nor a fail: the judge's answer is not a verdict.
                    Outcome::Unreadable(_) => ("?", "grid__unreadable"),
                };
                let text = format!("{mark} {}", check.describe(&outcome));
                view! { <li class=class title=text.clone()>{text.clone()}</li> }
            })
            .collect_view();
        view! { <ul class="grid__checks" aria-label="Checks">{marks}</ul> }
    });
    let figures = shown_run.as_ref().map(|run| {
        let known = [
            run.total_tokens.map(|count| tokens(Some(count))),
            run.cost_usd().map(|_| run_cost(run)),
            run.duration_ms.map(|ms| duration(Some(ms))),
            repeats_text(cell, experiment.repeats),
        ];
        known.into_iter().flatten().collect::<Vec<_>>().join(" · ")
    });
    let judge = shown_run.as_ref().map(|run| Judge {
        store: view.store,
        run_id: Signal::stored(Some(run.id.clone())),
    });
    let note = move || judge.and_then(|judge| judge.note()).filter(|_| !expanded());
    let actions = shown_run.map(|run| cell_actions(view, &run.id, &name, (row, model), judge));
    view! {
        <div
            class="grid__cell"
            data-status=status
            data-model=model_id.clone()
            data-expanded=move || expanded().to_string()
            role="group"
            aria-label=name.clone()
        >
            {(experiment.pairing == Pairing::ExactPairs).then(|| view! { <span class="grid__cell-model">{model_id.clone()}</span> })}
            {marks}
            {answer}
            {figures.map(|figures| view! { <p class="grid__figures">{figures}</p> })}
            {move || note().map(|note| view! { <p class="grid__note">{format!("Note: {note}")}</p> })}
            {move || judge.filter(|_| expanded()).map(|judge| view! { <div class="grid__note-field" role="group" aria-label=note_name.clone()>{judge.note_field()}</div> })}
            {actions}
        </div>
    }
}

/// A cell's answer: collapsed, the start of the most frequent (cut after
/// three lines by the stylesheet, with an ellipsis); expanded, each distinct
/// answer whole, the most frequent first. As text: answers are untrusted.
fn answer_text(
    cell: &GridCell,
    expanded: impl Fn() -> bool + Send + Sync + 'static,
) -> impl IntoView {
    let collapsed = match (cell.answers.first(), cell.status) {
        // The first 200 characters, as a history card: the rest is one click away.
        (Some(answer), _) => output_preview(&answer.run).unwrap_or_default(),
        (None, CellStatus::NotRun) => "Not run".to_owned(),
        (None, CellStatus::InFlight) => "Running…".to_owned(),
        (None, _) => cell.errors().next().map_or_else(
            || "Failed".to_owned(),
            |(_, error)| format!("Failed: {error}"),
        ),
    };
    let mut whole: Vec<String> = (cell.answers.iter())
        .map(|answer| answer.run.output.clone().unwrap_or_default())
        .collect();
    whole.extend(
        cell.errors()
            .map(|(repeat, error)| format!("Repeat {}: failed: {error}", repeat + 1)),
    );
    let several = whole.len() > 1;
    move || match expanded() {
        false => view! { <p class="grid__answer">{collapsed.clone()}</p> }.into_any(),
        true => (whole.iter().enumerate())
            .map(|(at, text)| {
                let heading = several.then(|| format!("Answer {} of {}", at + 1, whole.len()));
                view! {
                    {heading.map(|heading| view! { <p class="grid__answer-heading">{heading}</p> })}
                    <p class="grid__answer grid__answer--whole">{text.clone()}</p>
                }
            })
            .collect_view()
            .into_any(),
    }
}

/// `2 distinct answers: 2× · 1×` when the experiment repeats and the cell answered.
fn repeats_text(cell: &GridCell, repeats: u32) -> Option<String> {
    (repeats > 1 && !cell.answers.is_empty()).then(|| {
        let counts: Vec<String> = (cell.answers.iter())
            .map(|answer| format!("{}×", answer.repeats.len()))
            .collect();
        let distinct = cell.answers.len();
        let noun = if distinct == 1 { "answer" } else { "answers" };
        format!("{distinct} distinct {noun}: {}", counts.join(" · "))
    })
}

/// Open, Baseline and Compare (with a diff selection in context), the
/// judgement, and Expand: each named for its cell for screen readers.
fn cell_actions(
    view: GridView,
    id: &str,
    name: &str,
    (row, model): (usize, usize),
    judge: Option<Judge>,
) -> impl IntoView {
    let selection = use_diff_selection();
    let choose = move |side: fn(&super::DiffSelection) -> RwSignal<Option<String>>, id: String| {
        move |_| {
            if let Some(selection) = &selection {
                side(selection).set(Some(id.clone()));
            }
        }
    };
    let (open, store) = (id.to_owned(), view.store);
    let expanded = move || view.is_expanded(row, model);
    let expand_name = {
        let name = name.to_owned();
        move || format!("{} {name}", if expanded() { "Collapse" } else { "Expand" })
    };
    view! {
        <div class="grid__actions">
            <button type="button" class="grid__open" aria-label=format!("Open {name}") on:click=move |_| { let _ = store.set_active_run(Some(&open)); }>"Open"</button>
            {selection.is_some().then(|| view! {
                <button type="button" class="grid__baseline" aria-label=format!("Baseline {name}") on:click=choose(|s| s.baseline, id.to_owned())>"Baseline"</button>
                <button type="button" class="grid__compare" aria-label=format!("Compare {name}") on:click=choose(|s| s.compared, id.to_owned())>"Compare"</button>
            })}
            {judge.map(|judge| judge.buttons([format!("Thumbs up {name}"), format!("Thumbs down {name}"), format!("Star {name}")]))}
            <button
                type="button"
                class="grid__expand"
                aria-label=expand_name
                aria-expanded=move || expanded().to_string()
                on:click=move |_| view.toggle(row, model)
            >{move || if expanded() { "Collapse" } else { "Expand" }}</button>
        </div>
    }
}

/// The grid's column heads: the models (in exact pairs, one "Model" column).
fn column_names(experiment: &Experiment) -> Vec<String> {
    match experiment.pairing {
        Pairing::ExactPairs => vec!["Model".to_owned()],
        Pairing::CrossProduct => experiment.models.clone(),
    }
}

/// How many model columns the rows have: one per model, one in exact pairs.
fn model_columns(experiment: Option<&Experiment>) -> usize {
    experiment.map_or(1, |experiment| match experiment.pairing {
        Pairing::ExactPairs => 1,
        Pairing::CrossProduct => experiment.models.len().max(1),
    })
}

/// The columns of the column heads, the rows and the footer: the inputs,
/// then `models` columns; the same for each, so they line up.
fn columns_style(models: usize) -> String {
    format!("display: grid; grid-template-columns: minmax(8rem, 1fr) repeat({models}, minmax(12rem, 2fr))")
}

/// The footer: a table of figures, one column per model under the grid's
/// own columns (in exact pairs, one per distinct model): pass rate over all
/// checks, then per check, total cost, median latency, and counts.
fn grid_footer(grid: &Grid, experiment: &Experiment) -> impl IntoView {
    let models = &grid.models;
    let line = |class: &'static str, name: String, figure: &dyn Fn(usize) -> String| {
        let cells = (models.iter().enumerate())
            .map(|(at, model)| view! { <span role="cell" class=class data-model=model.model_id.clone()>{figure(at)}</span> })
            .collect_view();
        view! {
            <div role="row" class="grid__footer-line">
                <span role="rowheader">{name}</span>
                {cells}
            </div>
        }
    };
    let checks = (experiment.checks.iter().enumerate())
        .map(|(at, check)| {
            let rate =
                |model: usize| pass_rate(models[model].checks.get(at).copied().unwrap_or_default());
            line("grid__check-rate", check.label(), &rate)
        })
        .collect_view();
    // Each judge's verdicts beside people's thumbs on the same answers.
    let judged = || {
        (experiment.checks.iter().enumerate()).filter(|(_, check)| matches!(check, Check::Judge(_)))
    };
    let agreements = judged()
        .map(|(at, check)| {
            let agreement = |model: usize| {
                agreement_text(models[model].agreement.get(at).copied().unwrap_or_default())
            };
            line(
                "grid__agreement",
                format!("Judge vs people: {}", check.label()),
                &agreement,
            )
        })
        .collect_view();
    let per_rubric = judged()
        .map(|(at, check)| {
            let text = format!("{}: {}", check.label(), agreement_text(grid.agreement(at)));
            view! { <li>{text}</li> }
        })
        .collect_view();
    let total = |model: usize| match models[model].cost.total() {
        Some(_) if models[model].cost.is_unpriced() => NOT_PRICED.to_owned(),
        Some(total) => total.to_string(),
        None => format!(
            "unknown ({} answers unpriced)",
            thousands(models[model].cost.unknown_runs as u64)
        ),
    };
    let counts = |model: usize| {
        let model = &models[model];
        let [answered, failed, not_run] =
            [model.succeeded, model.failed, model.not_run].map(|count| thousands(count as u64));
        let in_flight = (model.in_flight > 0)
            .then(|| format!(", {} running", thousands(model.in_flight as u64)));
        format!(
            "{answered} answered, {failed} failed, {not_run} not run{}",
            in_flight.unwrap_or_default()
        )
    };
    let heads = (models.iter())
        .map(|model| view! { <span role="columnheader" class="grid__footer-model">{model.model_id.clone()}</span> })
        .collect_view();
    view! {
        <div class="grid__footer" role="table" aria-label="Figures per model" style=columns_style(models.len().max(1))>
            <div role="row" class="grid__footer-line grid__footer-heads">
                <span role="columnheader">"Per model"</span>
                {heads}
            </div>
            {line("grid__pass-rate", "Pass rate, all checks".to_owned(), &|model| pass_rate(models[model].pass_rate))}
            {checks}
            {agreements}
            {line("grid__total-cost", "Total cost".to_owned(), &total)}
            {line("grid__p50", "p50 latency".to_owned(), &|model| duration(models[model].p50_latency_ms))}
            {line("grid__counts", "Runs".to_owned(), &counts)}
        </div>
        <ul class="grid__agreements" aria-label="Judge agreement with people, per rubric">{per_rubric}</ul>
    }
}

/// How a judge agrees with people: `"2 of 3 pairs agree (67%), Cohen's κ
/// 0.40"`, or that no answer has both a verdict and a thumb yet.
fn agreement_text(agreement: Agreement) -> String {
    let Some(share) = agreement.share() else {
        return "no answer both graded and rated by a person yet".to_owned();
    };
    let kappa = agreement.kappa().map_or_else(
        || "Cohen's κ undefined (one verdict for every pair)".to_owned(),
        |kappa| format!("Cohen's κ {}", crate::text::fixed(kappa, 2)),
    );
    format!(
        "{} of {} agree ({}), {kappa}",
        thousands(agreement.agreed() as u64),
        count(agreement.pairs() as u64, "pair"),
        percent(share)
    )
}
