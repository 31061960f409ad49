//! ModelPerformance: how each model has done, over the whole history or the
//! runs the filter shows, with a chart of the figure a person picks.

use super::filter::use_run_filter;
use super::format::{
    approximate, cost, duration, percent, spread_ms, spread_rate, thousands, tokens,
    tokens_per_second,
};
use super::root_class::root_class;
use crate::store::{use_runs_store, ModelStats, RunsStore, Spread};
use crate::text::fixed;
use leptos::prelude::*;

/// Chart geometry, in SVG user units.
const CHART_WIDTH: f64 = 480.0;
const LABEL_WIDTH: f64 = 160.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 8.0;

/// Per model (those with finished runs): successful runs, success rate, p50
/// and p95 of the time to first token, output tokens per second and total
/// latency of its successful runs (`N/A` where no run recorded the figure),
/// average tokens, cost per 1,000 runs (the mean of its priced runs) and total
/// cost, both `≈` when any cost in them is an estimate; and an SVG bar chart
/// of the figure picked (p50 as the bar, p95 as a tick). With a
/// [`RunFilter`](super::RunFilter) in context, a checkbox narrows the figures
/// to the runs it shows. (The runs of one multi-model batch side by side are
/// with the run opened: [`ActiveRunViewer`](super::ActiveRunViewer).)
///
/// Over the whole history the figures are the store's, kept per change (a
/// read costs O(models)); over the filter they are computed from the
/// matching runs (O(runs)) when the filter or a finished run changes.
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
    /// Classes the host adds to the root element, after its own `performance`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let filter = use_run_filter();
    let over_filter = RwSignal::new(false);
    let metric = RwSignal::new(Metric::Latency);
    let finished_models = Memo::new(move |_| {
        let stats = match filter {
            Some(filter) if over_filter.get() => {
                // Recomputed when the filter or a finished run changes, not
                // on every piece of a streaming answer: the figures shown
                // are those of finished runs (the successful and failed
                // lists change only then; cancellations change the summary).
                filter.track();
                store.successful_runs();
                store.failed_runs();
                store.history_summary();
                let runs = untrack(|| filter.with(|filter| filter.apply(&store)));
                ModelStats::of(runs.iter().map(|run| &**run))
            }
            _ => store.model_stats(),
        };
        stats
            .into_iter()
            .filter(|stats| stats.finished_runs > 0)
            .collect::<Vec<_>>()
    });

    view! {
        <section class=root_class("performance", class) aria-label="Model performance">
            <h2>"Model performance"</h2>
            <ChartControls filtered=filter.is_some() over_filter metric/>
            <Show
                when=move || finished_models.with(|models| !models.is_empty())
                fallback=|| view! { <p class="performance__empty">"No finished runs yet."</p> }
            >
                <FiguresTable models=finished_models/>
                {move || chart(&finished_models.get(), metric.get())}
            </Show>
        </section>
    }
}

/// "Only the runs the filter shows" (hidden when there is no filter) and
/// the figure the chart shows.
#[component]
fn ChartControls(
    filtered: bool,
    over_filter: RwSignal<bool>,
    metric: RwSignal<Metric>,
) -> impl IntoView {
    view! {
        <div class="performance__controls">
            // Always there, hidden without a filter: one view either way.
            <label class="performance__scope" hidden=!filtered>
                <input
                    type="checkbox"
                    prop:checked=move || over_filter.get()
                    on:change=move |event| over_filter.set(event_target_checked(&event))
                />
                " Only the runs the filter shows"
            </label>
            <label class="performance__metric">
                "Chart "
                // Written out: static options cost less than views made in a loop.
                <select on:change=move |event| metric.set(Metric::named(&event_target_value(&event)))>
                    <option value="latency" selected>"Total latency (p50, p95)"</option>
                    <option value="ttft">"Time to first token (p50, p95)"</option>
                    <option value="speed">"Output tokens per second (p50, p95)"</option>
                    <option value="success">"Success rate"</option>
                    <option value="cost">"Cost per 1,000 runs"</option>
                </select>
            </label>
        </div>
    }
}

/// One row of figures per model in `models`.
#[component]
fn FiguresTable(models: Memo<Vec<ModelStats>>) -> impl IntoView {
    view! {
        // Nine columns do not fit a phone: the table scrolls in its
        // own box rather than widening the page.
        <div class="performance__scroll" tabindex="0" role="region" aria-label="Per-model figures">
        <table class="performance__table">
            <thead>
                <tr>
                    <th scope="col">"Model"</th>
                    <th scope="col">"Successful runs"</th>
                    <th scope="col">"Success rate"</th>
                    <th scope="col">"First token p50 / p95"</th>
                    <th scope="col">"Tokens/s p50 / p95"</th>
                    <th scope="col">"Latency p50 / p95"</th>
                    <th scope="col">"Avg tokens"</th>
                    <th scope="col">"Per 1,000 runs"</th>
                    <th scope="col">"Total cost"</th>
                </tr>
            </thead>
            <tbody>
                {move || models.get().into_iter().map(|stats| {
                    let estimated = stats.estimated_costs() > 0;
                    let priced = |amount: Option<crate::model::Usd>| amount.map_or_else(|| cost(None), |usd| approximate(usd, estimated));
                    view! {
                        <tr data-model=stats.model_id.clone()>
                            <th scope="row">{stats.model_id.clone()}</th>
                            <td>{thousands(stats.successful_runs as u64)}</td>
                            <td>{stats.success_rate().map_or_else(|| "N/A".to_owned(), percent)}</td>
                            <td>{spread_ms(stats.ttft_ms)}</td>
                            <td>{spread_rate(stats.output_tokens_per_second)}</td>
                            <td>{spread_ms(stats.latency_ms)}</td>
                            <td>{tokens(stats.average_tokens())}</td>
                            <td>{priced(stats.cost_per_1k_runs())}</td>
                            <td>{priced(stats.known_cost())}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

/// What the chart shows, picked by a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Metric {
    Ttft,
    Speed,
    Latency,
    SuccessRate,
    CostPer1kRuns,
}

impl Metric {
    /// The metric of an `<option>` value.
    fn named(name: &str) -> Metric {
        match name {
            "ttft" => Metric::Ttft,
            "speed" => Metric::Speed,
            "success" => Metric::SuccessRate,
            "cost" => Metric::CostPer1kRuns,
            _ => Metric::Latency,
        }
    }

    /// What a person reads in the picker, and the chart's accessible name.
    fn label(self) -> &'static str {
        match self {
            Metric::Ttft => "Time to first token (p50, p95)",
            Metric::Speed => "Output tokens per second (p50, p95)",
            Metric::Latency => "Total latency (p50, p95)",
            Metric::SuccessRate => "Success rate",
            Metric::CostPer1kRuns => "Cost per 1,000 runs",
        }
    }

    /// A model's bar: its length (p50, or the figure), its p95 tick, and
    /// the text beside it; `None` when the model has no such figure.
    fn bar(self, stats: &ModelStats) -> Option<(f64, Option<f64>, String)> {
        let ms = |spread: Option<Spread<u64>>| {
            let Spread { p50, p95 } = spread?;
            let text = format!("{} / {}", duration(Some(p50)), duration(Some(p95)));
            Some((p50 as f64, Some(p95 as f64), text))
        };
        match self {
            Metric::Ttft => ms(stats.ttft_ms),
            Metric::Latency => ms(stats.latency_ms),
            Metric::Speed => {
                let Spread { p50, p95 } = stats.output_tokens_per_second?;
                let text = format!("{} / {}", fixed(p50, 1), tokens_per_second(p95));
                Some((p50, Some(p95), text))
            }
            Metric::SuccessRate => {
                let rate = stats.success_rate()?;
                Some((rate, None, percent(rate)))
            }
            Metric::CostPer1kRuns => {
                let usd = stats.cost_per_1k_runs()?;
                let text = approximate(usd, stats.estimated_costs() > 0);
                Some((usd.dollars(), None, text))
            }
        }
    }
}

/// Horizontal bars of each model's `metric`: the bar is its p50 (or the
/// figure), a lighter band behind it reaches its p95 (for a figure without
/// percentiles, the bar's own length); models without the figure are left out.
fn chart(models: &[ModelStats], metric: Metric) -> Option<impl IntoView> {
    let bars: Vec<(String, f64, Option<f64>, String)> = models
        .iter()
        .filter_map(|stats| {
            let (value, p95, text) = metric.bar(stats)?;
            Some((stats.model_id.clone(), value, p95, text))
        })
        .collect();
    let longest = bars
        .iter()
        .map(|(_, value, p95, _)| p95.unwrap_or(*value))
        .fold(0.0, f64::max);
    if bars.is_empty() || longest <= 0.0 {
        return None;
    }
    let height = bars.len() as f64 * (BAR_HEIGHT + BAR_GAP);
    let scale = (CHART_WIDTH - LABEL_WIDTH - 120.0) / longest;
    Some(view! {
        <svg
            class="performance__chart"
            role="img"
            aria-label=metric.label()
            viewBox=format!("0 0 {} {}", svg(CHART_WIDTH), svg(height))
            width="100%"
        >
            {bars.into_iter().enumerate().map(|(row, (model, value, p95, text))| {
                let y = row as f64 * (BAR_HEIGHT + BAR_GAP);
                let width = (value * scale).max(1.0);
                let end = p95.map_or(width, |p95| p95 * scale).max(width);
                view! {
                    <g class="performance__bar">
                        <text x="0" y=svg(y + BAR_HEIGHT - 4.0)>{model}</text>
                        <rect class="performance__p95" x=svg(LABEL_WIDTH) y=svg(y) width=svg(end) height=svg(BAR_HEIGHT) rx="3"></rect>
                        <rect x=svg(LABEL_WIDTH) y=svg(y) width=svg(width) height=svg(BAR_HEIGHT) rx="3"></rect>
                        <text x=svg(LABEL_WIDTH + end + 6.0) y=svg(y + BAR_HEIGHT - 4.0)>{text}</text>
                    </g>
                }
            }).collect_view()}
        </svg>
    })
}

/// A length in the chart's user units, to a tenth: the view would write an
/// `f64` attribute with core's float formatting (see [`fixed`]).
fn svg(length: f64) -> String {
    fixed(length, 1)
}
