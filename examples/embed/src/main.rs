//! A separate small Leptos app that embeds two prompt-runs components, the
//! run history and the active-run viewer, with a store of its own: what a
//! Leptos developer writes to show prompt runs inside their app.
//!
//! Run it with `trunk serve` in this directory.

use leptos::prelude::*;
use prompt_runs::components::{ActiveRunViewer, RunHistory};
use prompt_runs::model::{PromptRun, RunStatus};
use prompt_runs::store::provide_runs_store;

/// This app's page: its own heading and layout around the two components,
/// which find the store through context.
#[component]
fn TeamRuns() -> impl IntoView {
    let store = provide_runs_store();
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

    view! {
        <h1>"Our prompt runs"</h1>
        <div style="display: grid; grid-template-columns: 1fr 1fr; gap: 1rem">
            <RunHistory height="60vh"/>
            <ActiveRunViewer/>
        </div>
    }
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

fn main() {
    #[cfg(target_arch = "wasm32")]
    leptos::mount::mount_to_body(TeamRuns);
}
