//! Property test: random sequences of actions applied to the store and to a
//! plain reference model (a `Vec` re-scanned on every read, the way the
//! TypeScript store works) must agree on every state and derived value after
//! every step.
#![cfg(not(target_arch = "wasm32"))]

use leptos::prelude::Owner;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp, Usd};
use prompt_runs::store::{RunList, RunsStore};
use proptest::prelude::*;

const IDS: [&str; 6] = ["r0", "r1", "r2", "r3", "r4", "r5"];
const MODELS: [&str; 3] = ["gpt-4o", "claude", "local"];
const COSTS: [f64; 4] = [0.0001, 0.0025, 0.1, 1.5];

#[derive(Clone, Debug)]
enum Action {
    SetRuns(Vec<PromptRun>),
    AddRun(PromptRun),
    UpdateRun(&'static str, PromptRunUpdate),
    RemoveRun(&'static str),
    ClearRuns,
    SetActiveRun(Option<&'static str>),
    StartExecution,
    UpdateExecutionProgress(f64),
    CompleteExecution,
    CancelExecution,
    SetError(Option<String>),
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0_u32..12).prop_map(|minute| Timestamp::parse(format!("2024-05-01T12:{minute:02}:00.000Z")))
}

fn status() -> impl Strategy<Value = RunStatus> {
    prop::sample::select(RunStatus::ALL.to_vec())
}

fn run() -> impl Strategy<Value = PromptRun> {
    (
        prop::sample::select(IDS.to_vec()),
        prop::sample::select(MODELS.to_vec()),
        status(),
        timestamp(),
        prop::option::of(0_u64..5_000),
        prop::option::of(prop::sample::select(COSTS.to_vec())),
        prop::option::of(0_u64..10_000),
    )
        .prop_map(|(id, model, status, started_at, tokens, cost, duration)| {
            let mut run = PromptRun::pending(id, model, "prompt");
            run.status = status;
            run.started_at = started_at;
            run.total_tokens = tokens;
            run.cost = cost;
            run.duration_ms = duration;
            run
        })
}

fn update() -> impl Strategy<Value = PromptRunUpdate> {
    (
        prop::option::of(status()),
        prop::option::of(prop::sample::select(MODELS.to_vec())),
        prop::option::of(timestamp()),
        prop::option::of(0_u64..5_000),
        prop::option::of(prop::sample::select(COSTS.to_vec())),
        prop::option::of(0_u64..10_000),
    )
        .prop_map(
            |(status, model, started_at, tokens, cost, duration)| PromptRunUpdate {
                status,
                model_id: model.map(str::to_owned),
                started_at,
                total_tokens: tokens,
                cost,
                duration_ms: duration,
                ..PromptRunUpdate::default()
            },
        )
}

fn action() -> impl Strategy<Value = Action> {
    let id = || prop::sample::select(IDS.to_vec());
    prop_oneof![
        1 => prop::collection::vec(run(), 0..6).prop_map(Action::SetRuns),
        6 => run().prop_map(Action::AddRun),
        6 => (id(), update()).prop_map(|(id, update)| Action::UpdateRun(id, update)),
        2 => id().prop_map(Action::RemoveRun),
        1 => Just(Action::ClearRuns),
        2 => prop::option::of(id()).prop_map(Action::SetActiveRun),
        1 => Just(Action::StartExecution),
        2 => prop_oneof![Just(f64::NAN), -50.0..150.0_f64].prop_map(Action::UpdateExecutionProgress),
        1 => Just(Action::CompleteExecution),
        1 => Just(Action::CancelExecution),
        1 => prop::option::of("[a-z]{1,8}").prop_map(Action::SetError),
    ]
}

/// The plain model: a vector re-filtered and re-summed on every read.
#[derive(Default)]
struct Reference {
    runs: Vec<PromptRun>,
    active_run_id: Option<String>,
    is_executing: bool,
    execution_progress: f64,
    error: Option<String>,
}

impl Reference {
    /// Applies `action`; returns whether it was accepted.
    fn apply(&mut self, action: &Action) -> bool {
        match action {
            Action::SetRuns(runs) => {
                let mut ids: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
                ids.sort();
                ids.dedup();
                if ids.len() != runs.len() {
                    return false;
                }
                self.runs = runs.clone();
                self.error = None;
                self.forget_active_if_gone();
            }
            Action::AddRun(run) => {
                if self.position(&run.id).is_some() {
                    return false;
                }
                self.runs.insert(0, run.clone());
            }
            Action::UpdateRun(id, update) => {
                let Some(index) = self.position(id) else {
                    return false;
                };
                match update.clone().apply_to(&self.runs[index]) {
                    Ok(updated) => self.runs[index] = updated,
                    Err(_) => return false,
                }
            }
            Action::RemoveRun(id) => {
                let Some(index) = self.position(id) else {
                    return false;
                };
                self.runs.remove(index);
                self.forget_active_if_gone();
            }
            Action::ClearRuns => {
                self.runs.clear();
                self.active_run_id = None;
            }
            Action::SetActiveRun(id) => {
                let known = id.is_none_or(|id| self.position(id).is_some());
                self.active_run_id = if known { id.map(str::to_owned) } else { None };
                return known;
            }
            Action::StartExecution => {
                self.is_executing = true;
                self.execution_progress = 0.0;
                self.error = None;
            }
            Action::UpdateExecutionProgress(progress) => {
                if !progress.is_nan() {
                    self.execution_progress = progress.clamp(0.0, 100.0);
                }
            }
            Action::CompleteExecution => {
                self.is_executing = false;
                self.execution_progress = 100.0;
            }
            Action::CancelExecution => {
                for run in &mut self.runs {
                    if matches!(run.status, RunStatus::Pending | RunStatus::Running) {
                        run.status = RunStatus::Cancelled;
                        // The store stamps "now"; compared by presence below.
                        run.completed_at = Some(Timestamp::parse("now"));
                    }
                }
                self.is_executing = false;
                self.execution_progress = 0.0;
            }
            Action::SetError(error) => {
                if error.is_some() {
                    self.is_executing = false;
                }
                self.error = error.clone();
            }
        }
        true
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.runs.iter().position(|run| run.id == id)
    }

    fn forget_active_if_gone(&mut self) {
        let gone = self
            .active_run_id
            .as_deref()
            .is_some_and(|id| self.position(id).is_none());
        if gone {
            self.active_run_id = None;
        }
    }

    fn with_status(&self, status: RunStatus) -> Vec<PromptRun> {
        self.runs
            .iter()
            .filter(|run| run.status == status)
            .cloned()
            .collect()
    }

    fn latest(&self) -> Option<&PromptRun> {
        // `max_by` keeps the last of equal maxima; reversed, that is the first in the list.
        self.runs
            .iter()
            .rev()
            .max_by(|a, b| a.started_at.cmp(&b.started_at))
    }

    fn average_duration(&self) -> Option<u64> {
        let durations: Vec<u64> = self.runs.iter().filter_map(|run| run.duration_ms).collect();
        (!durations.is_empty())
            .then(|| (durations.iter().sum::<u64>() as f64 / durations.len() as f64).round() as u64)
    }
}

/// A run as compared: `completedAt` only by presence, since cancel stamps the clock.
fn comparable(run: &PromptRun) -> PromptRun {
    let mut run = run.clone();
    run.completed_at = run.completed_at.map(|_| Timestamp::parse("set"));
    run
}

fn comparable_list(runs: &RunList) -> Vec<PromptRun> {
    runs.iter().map(|run| comparable(run)).collect()
}

fn comparable_vec(runs: &[PromptRun]) -> Vec<PromptRun> {
    runs.iter().map(comparable).collect()
}

fn assert_agree(store: &RunsStore, reference: &Reference) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        comparable_list(&store.runs()),
        comparable_vec(&reference.runs)
    );
    prop_assert_eq!(store.active_run_id(), reference.active_run_id.clone());
    prop_assert_eq!(store.is_executing(), reference.is_executing);
    prop_assert_eq!(store.execution_progress(), reference.execution_progress);
    prop_assert_eq!(store.error(), reference.error.clone());

    let expected_active = reference
        .active_run_id
        .as_deref()
        .and_then(|id| reference.runs.iter().find(|run| run.id == id));
    prop_assert_eq!(
        store.active_run().map(|run| comparable(&run)),
        expected_active.map(comparable)
    );
    prop_assert_eq!(
        store.latest_run().map(|run| run.id.clone()),
        reference.latest().map(|run| run.id.clone())
    );
    let groups = store.runs_by_status();
    for status in RunStatus::ALL {
        prop_assert_eq!(
            comparable_list(groups.get(status)),
            comparable_vec(&reference.with_status(status))
        );
    }
    prop_assert_eq!(
        comparable_list(&store.successful_runs()),
        comparable_vec(&reference.with_status(RunStatus::Success))
    );
    prop_assert_eq!(
        comparable_list(&store.failed_runs()),
        comparable_vec(&reference.with_status(RunStatus::Error))
    );
    prop_assert_eq!(
        store.total_tokens_used(),
        reference
            .runs
            .iter()
            .map(|run| run.total_tokens.unwrap_or(0))
            .sum::<u64>()
    );
    prop_assert_eq!(
        store.total_cost(),
        reference
            .runs
            .iter()
            .filter_map(|run| run.cost)
            .map(Usd::from_dollars)
            .sum::<Usd>()
    );
    prop_assert_eq!(store.average_duration(), reference.average_duration());
    for model in MODELS {
        let expected: Vec<PromptRun> = reference
            .runs
            .iter()
            .filter(|run| run.model_id == model)
            .cloned()
            .collect();
        prop_assert_eq!(
            comparable_list(&store.get_runs_by_model(model)),
            comparable_vec(&expected)
        );
    }
    let stats = store.model_stats();
    let models_with_runs: Vec<&str> = MODELS
        .into_iter()
        .filter(|model| reference.runs.iter().any(|run| run.model_id == *model))
        .collect();
    prop_assert_eq!(
        stats
            .iter()
            .map(|s| s.model_id.as_str())
            .collect::<Vec<_>>(),
        {
            let mut sorted = models_with_runs.clone();
            sorted.sort();
            sorted
        }
    );
    for model_stats in &stats {
        let runs: Vec<&PromptRun> = reference
            .runs
            .iter()
            .filter(|run| run.model_id == model_stats.model_id)
            .collect();
        let successful: Vec<&&PromptRun> = runs
            .iter()
            .filter(|run| run.status == RunStatus::Success)
            .collect();
        let finished = runs.iter().filter(|run| run.status.is_finished()).count();
        let mean = |values: Vec<u64>| {
            (!values.is_empty())
                .then(|| (values.iter().sum::<u64>() as f64 / values.len() as f64).round() as u64)
        };
        prop_assert_eq!(model_stats.runs, runs.len());
        prop_assert_eq!(model_stats.successful_runs, successful.len());
        prop_assert_eq!(model_stats.finished_runs, finished);
        prop_assert_eq!(
            model_stats.success_rate(),
            (finished > 0).then(|| successful.len() as f64 / finished as f64)
        );
        prop_assert_eq!(
            model_stats.average_tokens(),
            mean(
                successful
                    .iter()
                    .filter_map(|run| run.total_tokens)
                    .collect()
            )
        );
        prop_assert_eq!(
            model_stats.average_duration_ms(),
            mean(
                successful
                    .iter()
                    .filter_map(|run| run.duration_ms)
                    .collect()
            )
        );
        prop_assert_eq!(
            model_stats.total_cost,
            runs.iter()
                .filter_map(|run| run.cost)
                .map(Usd::from_dollars)
                .sum::<Usd>()
        );
    }
    for id in IDS {
        prop_assert_eq!(
            store.get_run_by_id(id).map(|run| comparable(&run)),
            reference
                .runs
                .iter()
                .find(|run| run.id == id)
                .map(comparable)
        );
    }
    Ok(())
}

fn apply(store: &RunsStore, action: &Action) -> bool {
    match action.clone() {
        Action::SetRuns(runs) => store.set_runs(runs).is_ok(),
        Action::AddRun(run) => store.add_run(run).is_ok(),
        Action::UpdateRun(id, update) => store.update_run(id, update).is_ok(),
        Action::RemoveRun(id) => store.remove_run(id).is_ok(),
        Action::ClearRuns => {
            store.clear_runs();
            true
        }
        Action::SetActiveRun(id) => store.set_active_run(id).is_ok(),
        Action::StartExecution => {
            store.start_execution();
            true
        }
        Action::UpdateExecutionProgress(progress) => {
            store.update_execution_progress(progress);
            true
        }
        Action::CompleteExecution => {
            store.complete_execution();
            true
        }
        Action::CancelExecution => {
            store.cancel_execution();
            true
        }
        Action::SetError(error) => {
            store.set_error(error);
            true
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn the_store_agrees_with_a_plain_vector_after_every_action(actions in prop::collection::vec(action(), 1..40)) {
        let owner = Owner::new();
        let store = owner.with(RunsStore::new);
        let mut reference = Reference::default();
        for action in &actions {
            let accepted = apply(&store, action);
            prop_assert_eq!(accepted, reference.apply(action), "acceptance of {:?}", action);
            assert_agree(&store, &reference)?;
        }
    }
}
