//! RunPlan: what the open experiment will send and cost, before anything is
//! sent; then Run, Cancel and Re-run failed, with one progress over it all.

use super::experiments::{use_experiments, Experiments};
use super::format::{count, minutes, pause_text, percent, priced_cost, thousands};
use super::root_class::root_class;
use crate::experiment::{
    answering_time, plan_with_answers, AnswerLength, Budget, Confirmation, Experiment,
    ModelEstimate, Pace, Pairing, Plan, PlannedCell,
};
use crate::model::{RunStatus, Usd};
use crate::store::{
    failed_cells, ExperimentReport, ExperimentStop, RunsStore, MAX_CONCURRENT_REQUESTS,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

/// The open experiment's plan, or every problem that keeps it from running.
type PlanOrProblems = Result<Plan, Vec<String>>;

/// The open experiment's plan: `N requests = rows × models × repeats` (or
/// pairs × repeats), each model's estimated cost and the answer length it
/// assumes (from max tokens, from the model's recent answers, or 500
/// tokens, said which), "not priced" for a model without a price, the
/// total, how the requests meet the server's rate limit (a warning, and the
/// least time they take, when there are more than it lets through at once;
/// "nothing is known" of a server that does not say), the budget and what was
/// spent of it (following the experiment's runs as they land), or every
/// problem that keeps the experiment from running, a prompt larger than the
/// server accepts included. Run sends it, asking first when the estimate
/// (with what was spent) is over the budget or partly unknown under one;
/// Cancel stops it (nothing more is sent); "Re-run failed (n) and cancelled
/// (m)" sends again only the cells whose run failed or was cancelled, and
/// "Run unsent" the cells never sent; none is offered once the budget is
/// spent. While it runs, one bar (`role="progressbar"`, cells finished of
/// all) covers the whole experiment, with "waiting for the rate limit,
/// resumes in 12 s" while the server asks to wait; afterwards a sentence
/// says how it ended.
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
        store.server_limits();
        // Planned again when an execution starts and ends: the models'
        // recent answers, which the estimate assumes from, have changed.
        store.is_executing();
        let recent = |model_id: &str| store.recent_output_tokens(model_id);
        Some(
            plan_with_answers(&experiment, &models, &recent)
                .map_err(|invalid| invalid.0.iter().map(ToString::to_string).collect())
                .and_then(|plan| match store.oversize_cell(&experiment, &plan.cells) {
                    Some((cell, refused)) => Err(vec![format!("row {}: {refused}", cell.row + 1)]),
                    None => Ok(plan),
                }),
        )
    });
    // What the experiment's runs cost, the figure the budget holds to: read
    // again each time the grid follows the runs, so it is current once the
    // last answer in flight lands.
    let spent = Memo::new(move |_| {
        experiments.grid();
        experiments.open().map_or(Usd::ZERO, |experiment| {
            store.experiment_spent(&experiment.id)
        })
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
        match confirmation(&experiment, &cells, store, spent.get_untracked()) {
            Some(question) => confirming.set(Some((question, cells))),
            None => send(cells),
        }
    };

    view! {
        <section class=root_class("plan", class) aria-label="Run plan">
            <h2>"Plan"</h2>
            <PlanSummary experiments planned spent/>
            {plan_actions(experiments, planned, spent, start)}
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
fn PlanSummary(
    experiments: Experiments,
    planned: Memo<Option<PlanOrProblems>>,
    spent: Memo<Usd>,
) -> impl IntoView {
    let store = experiments.store();
    move || {
        match planned.get() {
        None => view! { <p class="plan__none">"No experiment open."</p> }.into_any(),
        Some(Err(problems)) => view! {
            <div class="plan__problems" role="status">
                <p>"Not ready to run:"</p>
                <ul>{problems.into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}</ul>
            </div>
        }
        .into_any(),
        Some(Ok(plan)) => experiments
            .open()
            .map(|experiment| plan_summary(&plan, &experiment, store, spent))
            .into_any(),
    }
    }
}

/// Run, Re-run failed and cancelled, Run unsent (each through `start`) and
/// Cancel; the senders are disabled once the budget is spent.
fn plan_actions(
    experiments: Experiments,
    planned: Memo<Option<PlanOrProblems>>,
    spent: Memo<Usd>,
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
    // The cancelled among the failed, to count them apart.
    let cancelled = move || {
        let grid = experiments.grid()?;
        Some(
            (failed().iter())
                .filter(|cell| {
                    grid.run_of(cell.row, cell.model, cell.repeat)
                        .is_some_and(|run| run.status == RunStatus::Cancelled)
                })
                .count(),
        )
    };
    let spent_all = move || {
        (experiments.open())
            .and_then(|experiment| experiment.budget)
            .is_some_and(|budget| spent.get() >= budget)
    };
    let blocked = move || store.is_executing() || spent_all();
    view! {
        <div class="plan__actions">
            <button
                type="button"
                class="plan__run"
                prop:disabled=move || blocked() || plan_ok().is_none()
                on:click=move |_| if let Some(plan) = plan_ok() { start(plan.cells) }
            >{move || format!("Run {}", count(plan_ok().map_or(0, |plan| plan.requests()) as u64, "request"))}</button>
            <button
                type="button"
                class="plan__rerun"
                prop:disabled=move || blocked() || failed().is_empty()
                on:click=move |_| start(failed())
            >{move || {
                let cancelled = cancelled().unwrap_or(0);
                rerun_label(failed().len() - cancelled, cancelled)
            }}</button>
            <button
                type="button"
                class="plan__unsent"
                prop:disabled=move || blocked() || unsent().is_empty()
                on:click=move |_| start(unsent())
            >{move || format!("Run unsent ({})", thousands(unsent().len() as u64))}</button>
            <button
                type="button"
                class="plan__cancel"
                prop:disabled=move || !store.is_executing()
                on:click=move |_| store.cancel_execution()
            >"Cancel"</button>
        </div>
    }
}

/// The re-run button's words: the failed and the cancelled counted apart,
/// since a cancelled cell was stopped on purpose and a failed one was not.
fn rerun_label(failed: usize, cancelled: usize) -> String {
    let (shown_failed, shown_cancelled) = (thousands(failed as u64), thousands(cancelled as u64));
    match (failed, cancelled) {
        (_, 0) => format!("Re-run failed ({shown_failed})"),
        (0, _) => format!("Re-run cancelled ({shown_cancelled})"),
        _ => format!("Re-run failed ({shown_failed}) and cancelled ({shown_cancelled})"),
    }
}

/// One bar over every cell of the run in flight, and what it waits for
/// while the server asks to wait; hidden when nothing runs.
#[component]
fn ExperimentProgress(
    experiments: Experiments,
    running: RwSignal<bool>,
    report: RwSignal<Option<ExperimentReport>>,
) -> impl IntoView {
    let store = experiments.store();
    let finished =
        move || report.with(|report| report.as_ref().map_or((0, 0), |r| (r.finished(), r.cells)));
    // The clock ticks only while the requests wait (the interval is
    // cleared when the pause ends or the view goes).
    let now = RwSignal::new(js_sys::Date::now());
    Effect::new(move |_| {
        if store.execution_pause().is_some() {
            now.set(js_sys::Date::now());
            let tick = move || now.set(js_sys::Date::now());
            if let Ok(clock) = set_interval_with_handle(tick, Duration::from_millis(250)) {
                on_cleanup(move || clock.clear());
            }
        }
    });
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
            <p class="plan__pause" aria-live="polite">
                {move || store.execution_pause().map(|pause| pause_text(pause, now.get()))}
            </p>
        </div>
    }
}

/// The plan's count, estimates, rate limit and budget.
fn plan_summary(
    plan: &Plan,
    experiment: &Experiment,
    store: RunsStore,
    spent: Memo<Usd>,
) -> impl IntoView {
    let rows = experiment.inputs.rows().len();
    let requests = count(plan.requests() as u64, "request");
    let shape = match experiment.pairing {
        Pairing::CrossProduct => format!(
            "{requests} = {} × {} × {}",
            count(rows as u64, "row"),
            count(experiment.models.len() as u64, "model"),
            count(u64::from(experiment.repeats), "repeat")
        ),
        Pairing::ExactPairs => format!(
            "{requests} = {} × {}",
            count(rows as u64, "pair"),
            count(u64::from(experiment.repeats), "repeat")
        ),
    };
    // Untracked: the plan is made again as an execution ends, which is when
    // the latencies change; not at each answer.
    let stats = untrack(|| store.model_stats());
    let p50 = |model_id: &str| {
        let model = stats.iter().find(|model| model.model_id == model_id)?;
        Some(model.latency_ms?.p50)
    };
    let answering = answering_time(&plan.estimate, &p50, MAX_CONCURRENT_REQUESTS);
    let pace = pace_text(
        plan.requests(),
        Pace::of(plan.requests(), store.server_limits()),
        answering,
    );
    let first = plan
        .cells
        .first()
        .and_then(|cell| plan.estimate.of_cell(cell));
    let budget = experiment.budget;
    view! {
        <p class="plan__count">{shape}</p>
        <ul class="plan__models">
            {plan.estimate.per_model.iter().map(|model| view! {
                <li data-model=model.model_id.clone()>{model_line(model)}</li>
            }).collect_view()}
        </ul>
        <p class="plan__total">{total_text(&plan.estimate.per_model)}</p>
        <p class="plan__pace">{pace}</p>
        {budget.map(|budget| view! {
            <p class="plan__budget">{move || budget_text(budget, spent.get(), first)}</p>
        })}
    }
}

/// One model's share: `"offline-echo: 12 requests, about 6,120 tokens,
/// $0.0012, assuming answers of 500 tokens (no max tokens set, no earlier
/// answers)"`.
fn model_line(model: &ModelEstimate) -> String {
    format!(
        "{}: {}, about {}, {}, {}",
        model.model_id,
        count(model.requests as u64, "request"),
        count(model.input_tokens + model.output_tokens, "token"),
        priced_cost(model.cost, model.priced),
        assumption_text(model.answer)
    )
}

/// Which answer length an estimate assumes, and where it comes from.
fn assumption_text(answer: AnswerLength) -> String {
    let why = match answer {
        AnswerLength::MaxTokens(_) => "max tokens".to_owned(),
        AnswerLength::Recent { answers, .. } => {
            format!("the median of its last {}", count(answers as u64, "answer"))
        }
        AnswerLength::Default => "no max tokens set, no earlier answers".to_owned(),
    };
    format!(
        "assuming answers of {} ({why})",
        count(answer.tokens(), "token")
    )
}

/// The whole estimate: the priced models' sum, and which are not priced.
fn total_text(models: &[ModelEstimate]) -> String {
    let sent: Vec<&ModelEstimate> = models.iter().filter(|model| model.requests > 0).collect();
    let priced: Usd = (sent.iter())
        .filter(|model| model.priced)
        .filter_map(|model| model.cost)
        .sum();
    let not_priced: Vec<&str> = (sent.iter())
        .filter(|model| !model.priced)
        .map(|model| model.model_id.as_str())
        .collect();
    match (not_priced.len(), sent.len()) {
        (0, _) => format!("Estimated cost: {priced}"),
        (some, all) if some == all => "Estimated cost: not priced".to_owned(),
        _ => format!(
            "Estimated cost: {priced} for the priced models; not priced: {}",
            not_priced.join(", ")
        ),
    }
}

/// How the requests meet the server's rate limit, and how long answering
/// them takes at the models' median latencies, when known.
fn pace_text(requests: usize, pace: Pace, answering: Option<Duration>) -> String {
    let limit = match pace {
        Pace::Unknown => "Nothing is known of this server's rate limit.".to_owned(),
        Pace::Unlimited => "This server sets no rate limit.".to_owned(),
        Pace::Within { per_minute } => format!(
            "Within this server's rate limit ({} a minute).",
            thousands(u64::from(per_minute))
        ),
        Pace::Paced { per_minute, burst, at_least } => format!(
            "{} is more than this server lets through at once ({}, then {} a minute): they wait for its rate limit and take at least {}.",
            count(requests as u64, "request"),
            thousands(u64::from(burst)),
            thousands(u64::from(per_minute)),
            minutes(at_least)
        ),
    };
    match answering {
        Some(answering) => format!(
            "{limit} Answering takes about {} at the models' median latencies, {MAX_CONCURRENT_REQUESTS} at a time.",
            minutes(answering)
        ),
        None => limit,
    }
}

/// The budget, what was spent of it, and whether the plan's first request
/// (estimated at `first`) could be sent at all.
fn budget_text(budget: Usd, spent: Usd, first: Option<Usd>) -> String {
    let line = format!("Budget: {budget} ({spent} spent so far)");
    if spent >= budget {
        return format!("{line}. It is spent: nothing more is sent; raise it to send more.");
    }
    match first {
        Some(first) if !Budget::new(budget).with_spent(spent).reserve(first) => format!(
            "{line}. Nothing would be sent: one request is estimated at {first}, more than the {} left.",
            budget - spent
        ),
        _ => line,
    }
}

/// The question to ask before sending `cells` of `experiment`, if its budget
/// calls for one; `spent` is what it has spent.
fn confirmation(
    experiment: &Experiment,
    cells: &[PlannedCell],
    store: RunsStore,
    spent: Usd,
) -> Option<String> {
    let budget = Budget::new(experiment.budget?).with_spent(spent);
    let estimate = store.estimate(experiment, cells);
    Some(match budget.confirmation(&estimate)? {
        Confirmation::OverBudget { expected, budget } => format!(
            "What was spent plus this estimate comes to {expected}, over the budget of {budget}. A request is sent only while its estimate fits in what is left."
        ),
        Confirmation::PartlyUnknown { expected, budget, unpriced_models } => format!(
            "Within the budget of {budget} as far as known ({expected}), but {} not priced: their cost is not in the estimate, and the budget cannot hold it.",
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
            "{} of {} finished{failed}",
            thousands(report.finished() as u64),
            count(report.cells as u64, "cell")
        );
    }
    let done = format!(
        "{}: {} answered{failed}",
        count(report.cells as u64, "cell"),
        thousands(report.succeeded as u64)
    );
    match report.stopped {
        None => format!("{done}."),
        Some(ExperimentStop::Cancelled) => format!(
            "Cancelled. {done}, {} cancelled in flight, {} not sent.",
            thousands(report.cancelled as u64),
            thousands(report.not_sent as u64)
        ),
        Some(ExperimentStop::BudgetSpent { spent, budget, next }) => format!(
            "Stopped at the budget of {budget} ({spent} spent; the next request, estimated at {next}, did not fit). {done}, {} not sent.",
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
                spent: Usd::from_dollars(0.024),
                budget: Usd::from_dollars(0.025),
                next: Usd::from_dollars(0.002),
            }),
            failed: 0,
            ..report
        };
        assert_eq!(
            outcome_text(&budget, false),
            "Stopped at the budget of $0.0250 ($0.0240 spent; the next request, estimated at $0.0020, did not fit). 120 cells: 100 answered, 14 not sent."
        );
    }

    #[test]
    fn re_run_counts_the_failed_and_the_cancelled_apart() {
        assert_eq!(rerun_label(3, 2), "Re-run failed (3) and cancelled (2)");
        assert_eq!(rerun_label(1_200, 0), "Re-run failed (1,200)");
        assert_eq!(rerun_label(0, 2), "Re-run cancelled (2)");
        assert_eq!(rerun_label(0, 0), "Re-run failed (0)");
    }

    #[test]
    fn the_estimate_names_what_it_assumes() {
        assert_eq!(
            assumption_text(AnswerLength::Default),
            "assuming answers of 500 tokens (no max tokens set, no earlier answers)"
        );
        assert_eq!(
            assumption_text(AnswerLength::MaxTokens(256)),
            "assuming answers of 256 tokens (max tokens)"
        );
        assert_eq!(
            assumption_text(AnswerLength::Recent {
                tokens: 1,
                answers: 1
            }),
            "assuming answers of 1 token (the median of its last 1 answer)"
        );
    }

    fn estimate(model_id: &str, cost: Option<f64>, priced: bool) -> ModelEstimate {
        ModelEstimate {
            model_id: model_id.into(),
            requests: 2,
            input_tokens: 10,
            output_tokens: 1_000,
            answer: AnswerLength::Default,
            price_per_1k: cost,
            priced,
            cost: cost.map(Usd::from_dollars),
        }
    }

    #[test]
    fn a_model_without_a_price_is_not_priced_in_its_line_and_the_total() {
        let priced = estimate("gpt-4o", Some(0.0101), true);
        let local = estimate("offline-slow", Some(0.0), false);
        let unknown = estimate("mystery", None, false);
        assert_eq!(
            model_line(&local),
            "offline-slow: 2 requests, about 1,010 tokens, not priced, assuming answers of 500 tokens (no max tokens set, no earlier answers)"
        );
        assert_eq!(
            total_text(std::slice::from_ref(&priced)),
            "Estimated cost: $0.0101"
        );
        assert_eq!(
            total_text(&[priced, local.clone(), unknown]),
            "Estimated cost: $0.0101 for the priced models; not priced: offline-slow, mystery"
        );
        assert_eq!(total_text(&[local]), "Estimated cost: not priced");
    }

    #[test]
    fn the_rate_limit_is_said_with_the_least_time_it_takes() {
        let paced = Pace::Paced {
            per_minute: 600,
            burst: 600,
            at_least: Duration::from_secs(140),
        };
        assert_eq!(
            pace_text(2_000, paced, None),
            "2,000 requests is more than this server lets through at once (600, then 600 a minute): they wait for its rate limit and take at least 2 min 20 s."
        );
        assert_eq!(
            pace_text(12, Pace::Unknown, None),
            "Nothing is known of this server's rate limit."
        );
        assert_eq!(
            pace_text(12, Pace::Within { per_minute: 600 }, Some(Duration::from_secs(75))),
            "Within this server's rate limit (600 a minute). Answering takes about 1 min 15 s at the models' median latencies, 4 at a time."
        );
    }

    #[test]
    fn the_budget_says_when_nothing_could_be_sent() {
        let budget = Usd::from_dollars(0.0001);
        assert_eq!(
            budget_text(budget, Usd::ZERO, Some(Usd::from_dollars(0.0003))),
            "Budget: $0.0001 ($0.0000 spent so far). Nothing would be sent: one request is estimated at $0.0003, more than the $0.0001 left."
        );
        assert_eq!(
            budget_text(budget, Usd::ZERO, Some(Usd::from_dollars(0.00005))),
            "Budget: $0.0001 ($0.0000 spent so far)"
        );
        assert_eq!(
            budget_text(budget, budget, None),
            "Budget: $0.0001 ($0.0001 spent so far). It is spent: nothing more is sent; raise it to send more."
        );
    }
}
