//! ModelPerformance: how each model has done across the history, and the runs
//! of one multi-model batch side by side.

use super::format::{cost, duration, output_preview, percent, status_label, thousands, tokens};
use crate::store::{use_runs_store, ModelStats, RunsStore};
use leptos::prelude::*;

/// Chart geometry, in SVG user units.
const CHART_WIDTH: f64 = 480.0;
const LABEL_WIDTH: f64 = 160.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 8.0;

/// Per model (those with finished runs): successful runs, average tokens and
/// duration of the successful ones, success rate, total cost, and an SVG bar
/// chart of the average durations. Below, the runs of the batch that the
/// active run (else the latest run) belongs to, side by side, when it was
/// executed on several models.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::ModelPerformance;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Compare() -> impl IntoView {
///     provide_runs_store();
///     view! { <ModelPerformance/> }
/// }
/// ```
#[component]
pub fn ModelPerformance(
    /// The store to summarise; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let finished_models = Memo::new(move |_| {
        store
            .model_stats()
            .into_iter()
            .filter(|stats| stats.finished_runs > 0)
            .collect::<Vec<_>>()
    });

    view! {
        <section class="performance" aria-label="Model performance">
            <h2>"Model performance"</h2>
            <Show
                when=move || finished_models.with(|models| !models.is_empty())
                fallback=|| view! { <p class="performance__empty">"No finished runs yet."</p> }
            >
                // Six columns do not fit a phone: the table scrolls in its
                // own box rather than widening the page.
                <div class="performance__scroll" tabindex="0" role="region" aria-label="Per-model figures">
                <table class="performance__table">
                    <thead>
                        <tr>
                            <th scope="col">"Model"</th>
                            <th scope="col">"Successful runs"</th>
                            <th scope="col">"Avg tokens"</th>
                            <th scope="col">"Avg duration"</th>
                            <th scope="col">"Success rate"</th>
                            <th scope="col">"Total cost"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || finished_models.get().into_iter().map(|stats| view! {
                            <tr data-model=stats.model_id.clone()>
                                <th scope="row">{stats.model_id.clone()}</th>
                                <td>{thousands(stats.successful_runs as u64)}</td>
                                <td>{tokens(stats.average_tokens())}</td>
                                <td>{duration(stats.average_duration_ms())}</td>
                                <td>{stats.success_rate().map_or_else(|| "N/A".to_owned(), percent)}</td>
                                <td>{cost(stats.known_cost())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
                {move || duration_chart(&finished_models.get())}
            </Show>
            <BatchComparison store/>
        </section>
    }
}

/// Horizontal bars of each model's average duration, longest bar = slowest.
fn duration_chart(models: &[ModelStats]) -> Option<impl IntoView> {
    let bars: Vec<(String, u64)> = models
        .iter()
        .filter_map(|stats| Some((stats.model_id.clone(), stats.average_duration_ms()?)))
        .collect();
    let slowest = bars.iter().map(|(_, ms)| *ms).max().filter(|ms| *ms > 0)?;
    let height = bars.len() as f64 * (BAR_HEIGHT + BAR_GAP);
    let scale = (CHART_WIDTH - LABEL_WIDTH - 80.0) / slowest as f64;
    Some(view! {
        <svg
            class="performance__chart"
            role="img"
            aria-label="Average duration per model"
            viewBox=format!("0 0 {CHART_WIDTH} {height}")
            width="100%"
        >
            {bars.into_iter().enumerate().map(|(row, (model, ms))| {
                let y = row as f64 * (BAR_HEIGHT + BAR_GAP);
                let width = (ms as f64 * scale).max(1.0);
                view! {
                    <g class="performance__bar">
                        <text x="0" y=y + BAR_HEIGHT - 4.0>{model}</text>
                        <rect x=LABEL_WIDTH y=y width=width height=BAR_HEIGHT rx="3"></rect>
                        <text x=LABEL_WIDTH + width + 6.0 y=y + BAR_HEIGHT - 4.0>{duration(Some(ms))}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    })
}

/// The runs of one multi-model batch, one column each.
#[component]
fn BatchComparison(store: RunsStore) -> impl IntoView {
    let batch = Memo::new(move |_| {
        let anchor = store.active_run().or_else(|| store.latest_run())?;
        anchor.batch_id()?;
        Some(
            store
                .batch_runs(&anchor.id)
                .iter()
                .cloned()
                .collect::<Vec<_>>(),
        )
    });
    move || {
        batch.get().map(|runs| {
            view! {
                <div class="batch" aria-label="Batch comparison">
                    <h3>{format!("Same prompt on {} models", runs.len())}</h3>
                    <div class="batch__columns">
                        {runs.into_iter().map(|run| view! {
                            <article class="batch__run" data-run-id=run.id.clone()>
                                <h4>{run.model_id.clone()}</h4>
                                <p class=format!("badge badge--{}", run.status.as_str())>{status_label(run.status)}</p>
                                <p>{tokens(run.total_tokens)} " · " {duration(run.duration_ms)} " · " {cost(run.cost_usd())}</p>
                                <pre class="batch__output">{output_preview(&run).unwrap_or_default()}</pre>
                            </article>
                        }).collect_view()}
                    </div>
                </div>
            }
        })
    }
}
