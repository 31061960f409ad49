//! A separate small Leptos app that embeds prompt-runs components with a
//! store of its own: the composer, the run history and the active-run
//! viewer, and the grid of an experiment the app defines itself. Prompts run
//! on the app's own [`PromptExecutor`] ([`ReviewBot`]), not on a NeuroForge
//! server: what a Leptos developer writes to run prompts their way and show
//! them, and an experiment's results, inside their app.
//!
//! Run it with `trunk serve` in this directory; `tests/browser.rs` drives it
//! in headless Chromium.

use futures::future::{FutureExt, LocalBoxFuture};
use leptos::prelude::*;
use prompt_runs::api::wire::{ExecuteRequest, ExecuteResponse, Usage};
use prompt_runs::api::{ApiError, PromptExecutor, TextSink};
use prompt_runs::components::{ActiveRunViewer, ExperimentGrid, PromptComposer, RunHistory};
use prompt_runs::experiment::{plan, Check, Experiment, InputFormat, InputTable};
use prompt_runs::model::{Model, PromptRun, Provider, RunStatus, Timestamp};
use prompt_runs::store::provide_runs_store;
use std::sync::Arc;

/// The model [`ReviewBot`] answers as.
pub const REVIEW_BOT: &str = "review-bot";

/// The app's own way of running prompts: a reviewer written in the app that
/// answers at once, in two streamed pieces, and costs nothing. A real app
/// would call its backend here; the store needs only this trait.
pub struct ReviewBot;

impl ReviewBot {
    /// What it answers to `prompt`.
    pub fn review(prompt: &str) -> String {
        let words = prompt.split_whitespace().count();
        format!("Reviewed {words} words. Ship it, with a test.")
    }
}

impl PromptExecutor for ReviewBot {
    fn execute(
        &self,
        request: ExecuteRequest,
        mut on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<ExecuteResponse, ApiError>> {
        async move {
            let output = Self::review(&request.prompt);
            let (first, rest) = output.split_at(output.find('.').map_or(0, |dot| dot + 1));
            on_text(first);
            on_text(rest);
            let prompt_tokens = request.prompt.split_whitespace().count() as u64;
            let completion_tokens = output.split_whitespace().count() as u64;
            Ok(ExecuteResponse {
                run_id: format!("review-bot-{}", Timestamp::now().unix_millis().unwrap_or(0)),
                model_id: request.model_id,
                output,
                usage: Usage {
                    prompt_tokens,
                    completion_tokens,
                    total_tokens: prompt_tokens + completion_tokens,
                    ..Usage::default()
                },
                latency_ms: 1,
                created_at: Timestamp::now().to_string(),
                cost: Some(0.0),
                cost_source: None,
                first_token_ms: None,
                timings: None,
            })
        }
        .boxed_local()
    }
}

/// This app's page: its own heading and layout around the components, which
/// find the store through context.
#[component]
pub fn TeamRuns() -> impl IntoView {
    let store = provide_runs_store();
    store.set_executor(ReviewBot);
    store.set_models(vec![Model {
        id: REVIEW_BOT.into(),
        name: "Review bot (in this app)".into(),
        provider: Provider::Local,
        max_tokens: 4_096,
        supports_streaming: true,
        cost_per_1k_tokens: Some(0.0),
        metadata: None,
    }]);
    // An app fills the store however it likes: from its own backend, from
    // `persist_to_local_storage`, or by executing prompts. Here, two runs.
    for run in team_runs() {
        store
            .add_run(run)
            .expect("the sample runs have distinct ids");
    }
    store
        .set_active_run(Some("review-2"))
        .expect("review-2 was just added");
    // The grid needs only the experiment and its runs in the store (which
    // `store.run_experiment(..)` makes; here, answers the app already had).
    let experiment = review_experiment();
    for run in review_answers(&experiment) {
        store.add_run(run).expect("fresh local ids");
    }
    let experiment = Signal::stored(Some(Arc::new(experiment)));

    view! {
        <h1>"Our prompt runs"</h1>
        <PromptComposer/>
        <div style="display: grid; grid-template-columns: 1fr 1fr; gap: 1rem">
            <RunHistory height="60vh"/>
            <ActiveRunViewer/>
        </div>
        <h2>"Which model reviews best?"</h2>
        <ExperimentGrid experiment height="40vh"/>
    }
}

/// Two pull requests reviewed by two models, with a check on the answers.
fn review_experiment() -> Experiment {
    let mut experiment = Experiment::new("reviews", "Review quality");
    experiment.template = "Review this pull request: {{title}}".into();
    experiment.inputs = InputTable::parse(
        b"title\nFix the unwrap in main.rs\nAdd a cache to the gateway\n",
        InputFormat::Csv,
    )
    .expect("a valid CSV");
    experiment.models = vec!["gpt-4o".into(), "claude-3-5-sonnet".into()];
    experiment.checks = vec![Check::Contains {
        text: "test".into(),
        case_sensitive: false,
    }];
    experiment
}

/// An answer for every cell of `experiment`, as its runs would hold them.
fn review_answers(experiment: &Experiment) -> Vec<PromptRun> {
    let cells = plan(experiment, &[]).expect("a complete experiment").cells;
    cells
        .iter()
        .map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            run.status = RunStatus::Success;
            run.output = Some(match (cell.row, &*cell.model_id) {
                (0, "gpt-4o") => "Replace the unwrap with `?` and add a test.".to_owned(),
                (0, _) => "Return the error instead of unwrapping.".to_owned(),
                (_, "gpt-4o") => "Bound the cache's size; test eviction.".to_owned(),
                _ => "Bound the cache's size; test eviction.".to_owned(),
            });
            run.total_tokens = Some(180);
            run.cost = Some(0.0012);
            run.duration_ms = Some(900 + 100 * cell.row as u64);
            run
        })
        .collect()
}

fn team_runs() -> Vec<PromptRun> {
    let finished = |id: &str, model: &str, output: &str, tokens: u64, cost: f64| {
        let mut run = PromptRun::pending(id, model, "Review this pull request");
        run.status = RunStatus::Success;
        run.output = Some(output.to_owned());
        run.total_tokens = Some(tokens);
        run.cost = Some(cost);
        run.duration_ms = Some(1_200);
        run
    };
    vec![
        finished(
            "review-1",
            "gpt-4o",
            "Looks good; one nit in main.rs.",
            420,
            0.0031,
        ),
        finished(
            "review-2",
            "claude-3-5-sonnet",
            "Two issues: an unwrap and a missing test.",
            512,
            0.0044,
        ),
    ]
}
