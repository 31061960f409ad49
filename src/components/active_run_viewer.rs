//! ActiveRunViewer: everything about the run the user opened, its output shown
//! as plain text.

use super::format::{
    duration, local_time, run_cost_with_source, status_label, thousands, tokens, tokens_per_second,
};
use super::root_class::root_class;
use crate::model::{Figure, PromptRun};
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;
use std::sync::Arc;

/// The active run: its full output in a `<pre>` (as text: model output is
/// untrusted and never parsed as HTML), a Copy button, and its details: model,
/// status, tokens, duration, its speed (time to first token, output tokens
/// per second, and what the server reported: prompt speed, cached and
/// reasoning tokens; each marked measured or reported, `—` when not known),
/// cost and where it comes from (`N/A` when no price was known), the id the
/// server knows the run by (`—` when none), start and completion times, the
/// error of a failed run, and the prompt; the run's judgement
/// ([`RunJudgement`](super::RunJudgement)); and, when it was executed on
/// several models at once, the runs of that batch side by side, where a
/// person looks as their answers arrive. Says "No
/// active run selected" when there is none. While a run streams, only the
/// text changes: the layout stays put.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::ActiveRunViewer;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Details() -> impl IntoView {
///     provide_runs_store();
///     view! { <ActiveRunViewer/> }
/// }
/// ```
#[component]
pub fn ActiveRunViewer(
    /// The store whose active run to show; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// Classes the host adds to the root element, after its own `viewer`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let copied = RwSignal::new(None::<&'static str>);
    // Each field reads the active run on its own, so a streaming update
    // rewrites text nodes instead of rebuilding the viewer.
    let field = move |read: fn(&PromptRun) -> String| {
        move || store.active_run().map(|run| read(&run)).unwrap_or_default()
    };
    let copy = move |_| {
        let Some(output) = store.active_run().and_then(|run| run.output.clone()) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let written = window().navigator().clipboard().write_text(&output);
            let outcome = wasm_bindgen_futures::JsFuture::from(written).await;
            copied.set(Some(if outcome.is_ok() {
                "Copied"
            } else {
                "Copy failed"
            }));
        });
    };
    // A cold run shows only the start of its text until storage gives the
    // rest back (persistence warms an opened run at once).
    let cold = move || {
        store
            .active_run_id()
            .is_some_and(|id| store.is_run_cold(&id))
    };
    let has_output = move || !cold() && store.active_run().is_some_and(|run| run.output.is_some());
    let error = move || {
        store
            .active_run()
            .and_then(|run: Arc<PromptRun>| run.error.clone())
    };

    view! {
        <section class=root_class("viewer", class) aria-label="Active run">
            <Show
                when=move || store.active_run().is_some()
                fallback=|| view! { <p class="viewer__empty">"No active run selected"</p> }
            >
                <header class="viewer__header">
                    <h2>"Run " <span class="viewer__id">{field(|run| run.id.clone())}</span></h2>
                    <button type="button" class="viewer__copy" prop:disabled=move || !has_output() on:click=copy>
                        "Copy output"
                    </button>
                    <span class="viewer__copied" aria-live="polite">{move || copied.get()}</span>
                </header>
                <super::RunJudgement store/>
                <pre class="viewer__output">{field(|run| run.output.clone().unwrap_or_default())}</pre>
                <Show when=cold>
                    <p class="viewer__loading" role="status">"Loading the whole run from storage…"</p>
                </Show>
                {move || error().map(|message| view! { <p class="viewer__error" role="status">{message}</p> })}
                <dl class="viewer__details">
                    <dt>"Model"</dt><dd class="viewer__model">{field(|run| run.model_id.clone())}</dd>
                    <dt>"Status"</dt><dd class="viewer__status">{field(|run| status_label(run.status).to_owned())}</dd>
                    <dt>"Tokens"</dt><dd class="viewer__tokens">{field(token_breakdown)}</dd>
                    <dt>"Duration"</dt><dd class="viewer__duration">{field(|run| duration(run.duration_ms))}</dd>
                    <dt>"Speed"</dt><dd class="viewer__speed">{field(speed)}</dd>
                    <dt>"Cost"</dt><dd class="viewer__cost">{field(run_cost_with_source)}</dd>
                    <dt>"Server run id"</dt>
                    <dd class="viewer__server-id">{field(|run| run.server_run_id().unwrap_or("—").to_owned())}</dd>
                    <dt>"Started"</dt><dd class="viewer__started">{field(|run| local_time(&run.started_at))}</dd>
                    <dt>"Completed"</dt>
                    <dd class="viewer__completed">
                        {field(|run| run.completed_at.as_ref().map_or_else(|| "—".to_owned(), local_time))}
                    </dd>
                </dl>
                <details class="viewer__prompt">
                    <summary>"Prompt"</summary>
                    <pre>{field(|run| run.prompt_snapshot.clone())}</pre>
                </details>
                <super::batch_comparison::BatchComparison store/>
            </Show>
        </section>
    }
}

/// What is known of the run's speed, each figure with where it comes from:
/// `"first token 412 ms (measured), 48.2 tokens/s (measured), prompt 900.0
/// tokens/s (reported), 1,024 cached tokens (reported)"`; `"—"` when nothing is.
fn speed(run: &PromptRun) -> String {
    fn labelled<T>(figure: Option<Figure<T>>, text: impl Fn(T) -> String) -> Option<String> {
        let figure = figure?;
        Some(format!(
            "{} ({})",
            text(figure.value),
            figure.source.as_str()
        ))
    }
    let metrics = run.metrics();
    let figures: Vec<String> = [
        labelled(metrics.ttft_ms, |ms| {
            format!("first token {}", duration(Some(ms)))
        }),
        labelled(metrics.output_tokens_per_second, tokens_per_second),
        labelled(metrics.prompt_tokens_per_second, |rate| {
            format!("prompt {}", tokens_per_second(rate))
        }),
        labelled(metrics.cached_input_tokens, |count| {
            format!("{} cached tokens", thousands(count))
        }),
        labelled(metrics.reasoning_tokens, |count| {
            format!("{} reasoning tokens", thousands(count))
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if figures.is_empty() {
        "—".to_owned()
    } else {
        figures.join(", ")
    }
}

/// `"1,234 tokens (1,000 in, 234 out)"`, with whichever parts are known.
fn token_breakdown(run: &PromptRun) -> String {
    let total = tokens(run.total_tokens);
    match (run.input_tokens, run.output_tokens) {
        (Some(input), Some(output)) => {
            format!(
                "{total} ({} in, {} out)",
                thousands(input),
                thousands(output)
            )
        }
        _ => total,
    }
}
