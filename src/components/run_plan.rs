//! RunPlan: what the open experiment will send and cost, before anything is
//! sent; then Run, Cancel and Re-run failed, with one progress over it all.

use super::experiments::{use_experiments, Experiments};
use super::format::{percent, thousands};
use super::root_class::root_class;
use crate::experiment::{
    plan, Budget, Confirmation, CostEstimate, Experiment, Pairing, Plan, PlannedCell,
};
use crate::model::Usd;
use crate::store::{failed_cells, ExperimentReport, ExperimentStop};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The open experiment's plan, or every problem that keeps it from running.
type PlanOrProblems = Result<Plan, Vec<String>>;

/// The open experiment's plan: `N requests = rows × models × repeats` (or
/// pairs × repeats), each model's estimated cost ("unknown" for a model
/// without a price) and the total, the budget and what was spent of it, or
/// every problem that keeps the experiment from running. Run sends it,
/// asking first when the estimate (with what was spent) is over the budget
/// or partly unknown under one; Cancel stops it (nothing more is sent);
/// "Re-run failed" sends again only the cells whose run failed or was
/// cancelled, and "Run unsent" the cells never sent. While it runs, one bar
/// (`role="progressbar"`, cells finished of all) covers the whole
/// experiment; afterwards a sentence says how it ended.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, RunPlan};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Runner() -> impl IntoView {
///     provide_runs_store(); // with store.set_executor(..) and store.set_models(..)
///     provide_experiments(None);
///     view! { <RunPlan/> }
/// }
/// ```
#[component]
pub fn RunPlan(
    /// The experiments whose open one to run; by default those in context.
    #[prop(optional)]
    experiments: Option<Experiments>,
    /// Classes the host adds to the root element, after its own `plan`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let experiments = experiments.unwrap_or_else(use_experiments);
    let store = experiments.store();
    let planned = Memo::new(move |_| {
        let experiment = experiments.open()?;
        let models = store.models();
        Some(plan(&experiment, &models).map_err(|invalid| {
            invalid
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        }))
    });
    let report = RwSignal::new(None::<ExperimentReport>);
    let refused = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(None::<(String, Vec<PlannedCell>)>);
    let running = RwSignal::new(false);

    let send = move |cells: Vec<PlannedCell>| {
        let Some(experiment) = experiments.open() else {
            return;
        };
        confirming.set(None);
        refused.set(None);
        running.set(true);
        spawn_local(async move {
            let outcome = store
                .run_experiment(&experiment, cells, |so_far| {
                    report.try_set(Some(so_far.clone()));
                })
                .await;
            match outcome {
                Ok(done) => {
                    report.try_set(Some(done));
                }
                Err(error) => {
                    refused.try_set(Some(format!("Nothing was sent: {error}.")));
                }
            }
            running.try_set(false);
        });
    };
    // Asks first when the budget says so.
    let start = move |cells: Vec<PlannedCell>| {
        let Some(experiment) = experiments.open() else {
            return;
        };
        match confirmation(&experiment, &cells, store) {
            Some(question) => confirming.set(Some((question, cells))),
            None => send(cells),
        }
    };

    view! {
        <section class=root_class("plan", class) aria-label="Run plan">
            <h2>"Plan"</h2>
            <PlanSummary experiments planned/>
            {plan_actions(experiments, planned, start)}
            {move || confirming.get().map(|(question, cells)| view! {
                <div class="plan__confirm" role="alertdialog" aria-label="Confirm the run">
                    <p>{question}</p>
                    <button type="button" class="plan__confirm-run" on:click=move |_| send(cells.clone())>"Run anyway"</button>
                    <button type="button" class="plan__confirm-cancel" on:click=move |_| confirming.set(None)>"Don't run"</button>
                </div>
            })}
            <ExperimentProgress experiments running report/>
            <p class="plan__outcome" role="status">{move || {
                refused.get().or_else(|| report.with(|report| report.as_ref().map(|report| outcome_text(report, running.get()))))
            }}</p>
        </section>
    }
}

/// The plan (what the open experiment will send and cost), or why it
/// cannot run, or that no experiment is open.
#[component]
fn PlanSummary(experiments: Experiments, planned: Memo<Option<PlanOrProblems>>) -> impl IntoView {
    let store = experiments.store();
    move || {
        match planned.get() {
        None => view! { <p class="plan__none">"No experiment open."</p> }.into_any(),
        Some(Err(problems)) => view! {
            <div class="plan__problems" role="status">
                <p>"Not ready to run:"</p>
                <ul>{problems.into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}</ul>
            </div>
        }.into_any(),
        Some(Ok(plan)) => experiments.open().map(|experiment| plan_summary(&plan, &experiment, store.experiment_spent(&experiment.id))).into_any(),
    }
    }
}

/// Run, Re-run failed, Run unsent (each through `start`) and Cancel.
fn plan_actions(
    experiments: Experiments,
    planned: Memo<Option<PlanOrProblems>>,
    start: impl Fn(Vec<PlannedCell>) + Copy + 'static,
) -> impl IntoView {
    let store = experiments.store();
    let plan_ok = move || planned.get().and_then(Result::ok);
    let cells_where = move |pick: fn(&Plan, &crate::experiment::Grid) -> Vec<PlannedCell>| {
        let (plan, grid) = (plan_ok()?, experiments.grid()?);
        Some(pick(&plan, &grid))
    };
    let failed = move || cells_where(failed_cells).unwrap_or_default();
    let unsent = move || {
        cells_where(|plan, grid| {
            (plan.cells.iter())
                .filter(|cell| grid.run_of(cell.row, cell.model, cell.repeat).is_none())
                .cloned()
                .collect()
        })
        .unwrap_or_default()
    };
    let executing = move || store.is_executing();
    view! {
        <div class="plan__actions">
            <button
                type="button"
                class="plan__run"
                prop:disabled=move || executing() || plan_ok().is_none()
                on:click=move |_| if let Some(plan) = plan_ok() { start(plan.cells) }
            >{move || format!("Run {} requests", thousands(plan_ok().map_or(0, |plan| plan.requests()) as u64))}</button>
            <button
                type="button"
                class="plan__rerun"
                prop:disabled=move || executing() || failed().is_empty()
                on:click=move |_| start(failed())
            >{move || format!("Re-run failed ({})", thousands(failed().len() as u64))}</button>
            <button
                type="button"
                class="plan__unsent"
                prop:disabled=move || executing() || unsent().is_empty()
                on:click=move |_| start(unsent())
            >{move || format!("Run unsent ({})", thousands(unsent().len() as u64))}</button>
            <button
                type="button"
                class="plan__cancel"
                prop:disabled=move || !executing()
                on:click=move |_| store.cancel_execution()
            >"Cancel"</button>
        </div>
    }
}

/// One bar over every cell of the run in flight, hidden when none is.
#[component]
fn ExperimentProgress(
    experiments: Experiments,
    running: RwSignal<bool>,
    report: RwSignal<Option<ExperimentReport>>,
) -> impl IntoView {
    let store = experiments.store();
    let finished =
        move || report.with(|report| report.as_ref().map_or((0, 0), |r| (r.finished(), r.cells)));
    view! {
        <div class="plan__progress" prop:hidden=move || !running.get()>
            <div
                class="progress__bar"
                role="progressbar"
                aria-label="Experiment progress"
                aria-valuemin="0"
                aria-valuemax=move || finished().1.to_string()
                aria-valuenow=move || finished().0.to_string()
            >
                <div class="progress__fill" style=move || format!("width: {}", percent(store.execution_progress() / 100.0))></div>
            </div>
        </div>
    }
}

/// The plan's count, estimates and budget.
fn plan_summary(plan: &Plan, experiment: &Experiment, spent: Usd) -> impl IntoView {
    let rows = experiment.inputs.rows().len();
    let count = match experiment.pairing {
        Pairing::CrossProduct => format!(
            "{} requests = {} rows × {} models × {} repeats",
            thousands(plan.requests() as u64),
            thousands(rows as u64),
            experiment.models.len(),
            experiment.repeats
        ),
        Pairing::ExactPairs => format!(
            "{} requests = {} pairs × {} repeats",
            thousands(plan.requests() as u64),
            thousands(rows as u64),
            experiment.repeats
        ),
    };
    let total = match plan.estimate.total() {
        Some(total) => format!("Estimated cost: {total}"),
        None => format!(
            "Estimated cost: {} for the priced models; unknown for {} (no price)",
            plan.estimate.known(),
            plan.estimate.unpriced_models().join(", ")
        ),
    };
    let budget = experiment
        .budget
        .map(|budget| format!("Budget: {budget} ({spent} spent so far)"));
    view! {
        <p class="plan__count">{count}</p>
        <ul class="plan__models">
            {plan.estimate.per_model.iter().map(|model| view! {
                <li data-model=model.model_id.clone()>{format!(
                    "{}: {} requests, about {} tokens, {}",
                    model.model_id,
                    thousands(model.requests as u64),
                    thousands(model.input_tokens + model.output_tokens),
                    model.cost.map_or_else(|| "unknown (no price)".to_owned(), |cost| cost.to_string())
                )}</li>
            }).collect_view()}
        </ul>
        <p class="plan__total">{total}</p>
        {budget.map(|budget| view! { <p class="plan__budget">{budget}</p> })}
    }
}

/// The question to ask before sending `cells` of `experiment`, if its budget
/// calls for one.
fn confirmation(
    experiment: &Experiment,
    cells: &[PlannedCell],
    store: crate::store::RunsStore,
) -> Option<String> {
    let budget = Budget::new(experiment.budget?).with_spent(store.experiment_spent(&experiment.id));
    let models = store.models();
    let estimate = CostEstimate::of(
        cells,
        &experiment.models,
        experiment.parameters.max_tokens,
        &models,
    );
    Some(match budget.confirmation(&estimate)? {
        Confirmation::OverBudget { expected, budget } => format!(
            "What was spent plus this estimate comes to {expected}, over the budget of {budget}. Sending stops once {budget} is spent."
        ),
        Confirmation::PartlyUnknown { expected, budget, unpriced_models } => format!(
            "Within the budget of {budget} as far as known ({expected}), but {} have no price: their cost is not in the estimate. Sending stops once {budget} is spent.",
            unpriced_models.join(", ")
        ),
    })
}

/// How far a run of cells got, or how it ended.
fn outcome_text(report: &ExperimentReport, running: bool) -> String {
    let failed = match report.failed {
        0 => String::new(),
        failed => format!(", {} failed", thousands(failed as u64)),
    };
    if running {
        return format!(
            "{} of {} cells finished{failed}",
            thousands(report.finished() as u64),
            thousands(report.cells as u64)
        );
    }
    let done = format!(
        "{} cells: {} answered{failed}",
        thousands(report.cells as u64),
        thousands(report.succeeded as u64)
    );
    match report.stopped {
        None => format!("{done}."),
        Some(ExperimentStop::Cancelled) => format!(
            "Cancelled. {done}, {} cancelled in flight, {} not sent.",
            thousands(report.cancelled as u64),
            thousands(report.not_sent as u64)
        ),
        Some(ExperimentStop::BudgetSpent { spent, budget }) => format!(
            "Stopped at the budget of {budget} ({spent} spent). {done}, {} not sent.",
            thousands(report.not_sent as u64)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_says_how_it_ended() {
        let report = ExperimentReport {
            cells: 120,
            succeeded: 100,
            failed: 2,
            cancelled: 4,
            not_sent: 14,
            stopped: Some(ExperimentStop::Cancelled),
        };
        assert_eq!(
            outcome_text(&report, true),
            "120 of 120 cells finished, 2 failed"
        );
        assert_eq!(
            outcome_text(&report, false),
            "Cancelled. 120 cells: 100 answered, 2 failed, 4 cancelled in flight, 14 not sent."
        );
        let budget = ExperimentReport {
            stopped: Some(ExperimentStop::BudgetSpent {
                spent: Usd::from_dollars(0.03),
                budget: Usd::from_dollars(0.025),
            }),
            failed: 0,
            ..report
        };
        assert_eq!(
            outcome_text(&budget, false),
            "Stopped at the budget of $0.0250 ($0.0300 spent). 120 cells: 100 answered, 14 not sent."
        );
    }
}
