//! ExecutionProgress: what is known about the execution in flight, run by
//! run, and the button that really stops it.

use super::format::{
    count, duration, pause_text, percent, seconds, thousands, tokens, tokens_per_second,
};
use super::root_class::root_class;
use crate::model::{PromptRun, RunStatus};
use crate::store::{use_runs_store, RunsStore};
use crate::text::estimate_tokens;
use leptos::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// How often the elapsed times tick.
const TICK: Duration = Duration::from_millis(100);

/// While the store executes: one line per model of the execution with what
/// is known, not guessed: its state (waiting, sending, receiving, done,
/// failed, cancelled), the tokens received so far (estimated from the
/// streamed text, marked `≈`, and as a share of `max_tokens` when one was
/// set), the time to first token as soon as it is known, the output tokens
/// per second as they arrive (`≈` while estimated from the streamed text;
/// then the run's recorded figure), and the time elapsed, ticking; and a
/// Cancel button that aborts the requests ([`RunsStore::cancel_execution`]).
///
/// The bar above the lines is a `role="progressbar"` counting the runs
/// finished (`aria-valuenow` of `aria-valuemax`), with the summary as its
/// `aria-valuetext`; for a single run it is drawn indeterminate, since how
/// long an answer will be is not known. Changes
/// of the summary ("1 of 2 runs finished") are announced through a polite
/// live region; the ticking lines are not. When idle its content is hidden
/// but it keeps its height, so the page does not jump when an execution
/// starts.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::ExecutionProgress;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Toolbar() -> impl IntoView {
///     provide_runs_store();
///     view! { <ExecutionProgress/> }
/// }
/// ```
#[component]
pub fn ExecutionProgress(
    /// The store to follow; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// Classes the host adds to the root element, after its own `progress`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    // The clock ticks only while an execution runs (the interval is
    // cleared when the effect re-runs or the component goes).
    let now = RwSignal::new(now_ms());
    Effect::new(move |_| {
        if store.is_executing() {
            now.set(now_ms());
            if let Ok(clock) = set_interval_with_handle(move || now.set(now_ms()), TICK) {
                on_cleanup(move || clock.clear());
            }
        }
    });
    let runs = move || store.execution_run_ids().len();
    // Every figure on screen is one of two closures (`summary` here, `line`
    // in RunLines): reading the runs afresh at each tick costs little for a
    // handful of runs, and a closure type is compiled once however many
    // figures use it (the bundle has a budget). Each returns the same text
    // until something changes, and only changed text reaches the page (so
    // the live region speaks only then).
    let summary = move |read: fn(usize, usize, Option<RunState>) -> String| {
        move || {
            let paused = store.execution_pause().is_some();
            let states: Vec<RunState> = (0..runs())
                .filter_map(|index| run_at(store, index).map(|run| RunState::of(&run, paused)))
                .collect();
            let finished = states.iter().filter(|state| state.is_finished()).count();
            read(finished, states.len(), states.first().copied())
        }
    };
    let several = move || runs() > 1;

    view! {
        // Always mounted (hidden when idle, keeping its height): switching
        // the whole view in and out would compile its every part twice.
        <div class=root_class("progress", class)>
            <div class="progress__content" prop:hidden=move || !store.is_executing()>
                <div
                    class="progress__bar"
                    class:progress__bar--indeterminate=move || !several()
                    role="progressbar"
                    aria-label="Execution progress"
                    aria-valuemin="0"
                    aria-valuemax=summary(|_, all, _| all.to_string())
                    aria-valuenow=summary(|finished, _, _| finished.to_string())
                    aria-valuetext=summary(summary_text)
                >
                    <div class="progress__fill" style=summary(|finished, all, _| {
                        let share = if all > 1 { finished as f64 / all as f64 } else { 1.0 };
                        format!("width: {}", percent(share))
                    })></div>
                </div>
                <span class="progress__label" aria-live="polite">{move || match store.execution_pause() {
                    Some(pause) => pause_text(pause, now.get()),
                    None => summary(summary_text)(),
                }}</span>
                <button type="button" class="progress__cancel" on:click=move |_| store.cancel_execution()>
                    "Cancel"
                </button>
                <RunLines store now/>
            </div>
        </div>
    }
}

/// The `index`th run of the execution in flight, as the store has it now.
fn run_at(store: RunsStore, index: usize) -> Option<Arc<PromptRun>> {
    let ids = store.execution_run_ids();
    store.get_run_by_id(ids.get(index)?)
}

/// One line per run of the execution: its model, state and figures, as of
/// the clock `now`.
#[component]
fn RunLines(store: RunsStore, now: RwSignal<f64>) -> impl IntoView {
    let line = move |index: usize, read: fn(&RunProgress) -> String| {
        move || {
            run_at(store, index)
                .map(|run| {
                    let paused = store.execution_pause().is_some();
                    read(&RunProgress::of(&run, now.get() as i64, paused))
                })
                .unwrap_or_default()
        }
    };
    view! {
        <ul class="progress__runs" aria-label="Runs in this execution">
            {move || (0..store.execution_run_ids().len()).map(|index| view! {
                <li class="progress__run" data-state=line(index, |run| run.state.as_str().to_owned())>
                    <span class="progress__model">{line(index, |run| run.model_id.clone())}</span>
                    " "
                    <span class="progress__state">{line(index, |run| run.state.as_str().to_owned())}</span>
                    // One span per figure, spaced for screen readers;
                    // more figures join them here.
                    " "
                    <span class="progress__tokens">{line(index, |run| run.tokens_text().unwrap_or_default())}</span>
                    " "
                    <span class="progress__ttft">{line(index, |run| run.ttft_text().unwrap_or_default())}</span>
                    " "
                    <span class="progress__speed">{line(index, |run| run.speed_text().unwrap_or_default())}</span>
                    " "
                    <span class="progress__elapsed">{line(index, |run| run.elapsed_ms.map(seconds).unwrap_or_default())}</span>
                </li>
            }).collect_view()}
        </ul>
    }
}

/// What the summary says: runs finished of several, or what the one run is
/// waiting for.
fn summary_text(finished: usize, all: usize, first: Option<RunState>) -> String {
    if all > 1 {
        format!(
            "{} of {} finished",
            thousands(finished as u64),
            count(all as u64, "run")
        )
    } else if first == Some(RunState::Receiving) {
        "Receiving the answer…".to_owned()
    } else {
        "Waiting for the answer…".to_owned()
    }
}

/// The clock, in ms since the epoch: an `f64` as the browser gives it (and
/// as signals elsewhere in the app already hold, which costs no new code).
fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Where one run of an execution is, as a person would say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunState {
    /// Not sent yet (more models than requests allowed at once), or sent
    /// and waiting because the server asked it to (429, 503).
    Waiting,
    /// Sent; no text has arrived.
    Sending,
    /// Text is arriving.
    Receiving,
    Done,
    Failed,
    Cancelled,
}

impl RunState {
    /// `paused`: the store's requests wait for the server (a running run
    /// with no text yet is waiting to be sent again, as far as anyone sees).
    fn of(run: &PromptRun, paused: bool) -> RunState {
        match run.status {
            RunStatus::Pending => RunState::Waiting,
            RunStatus::Running if run.output.as_deref().is_some_and(|text| !text.is_empty()) => {
                RunState::Receiving
            }
            RunStatus::Running if paused => RunState::Waiting,
            RunStatus::Running => RunState::Sending,
            RunStatus::Success => RunState::Done,
            RunStatus::Error => RunState::Failed,
            RunStatus::Cancelled => RunState::Cancelled,
        }
    }

    fn is_finished(self) -> bool {
        matches!(
            self,
            RunState::Done | RunState::Failed | RunState::Cancelled
        )
    }

    fn as_str(self) -> &'static str {
        match self {
            RunState::Waiting => "waiting",
            RunState::Sending => "sending",
            RunState::Receiving => "receiving",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }
}

/// What is known about one run at one instant: what its line shows. A new
/// figure is a new field here and a new `<span>` in its line (`RunLines`).
struct RunProgress {
    model_id: String,
    state: RunState,
    /// Output tokens: the server's count once it gave one, else estimated
    /// from the text streamed so far; `None` before any text.
    output_tokens: Option<u64>,
    /// Whether `output_tokens` is an estimate.
    estimated: bool,
    /// The `max_tokens` the run was sent with, if any.
    max_tokens: Option<u64>,
    /// Since the request went out; `None` while waiting to be sent.
    elapsed_ms: Option<u64>,
    /// Time to first token, once the first text arrived.
    ttft_ms: Option<u64>,
    /// Output tokens per second, and whether the figure is an estimate (from
    /// the text streamed so far) rather than the run's recorded one.
    speed: Option<(f64, bool)>,
}

impl RunProgress {
    fn of(run: &PromptRun, now_ms: i64, paused: bool) -> RunProgress {
        let state = RunState::of(run, paused);
        let streamed = run.output.as_deref().filter(|text| !text.is_empty());
        let (output_tokens, estimated) = match run.output_tokens {
            Some(reported) => (Some(reported), false),
            None => (streamed.map(estimate_tokens), true),
        };
        let started = run.started_at.unix_millis();
        let elapsed_ms = match state {
            RunState::Waiting => None,
            RunState::Sending | RunState::Receiving => started.map(|start| now_ms - start),
            _ => run.duration_ms.map(|ms| ms as i64).or_else(|| {
                let end = run.completed_at.as_ref()?.unix_millis()?;
                Some(end - started?)
            }),
        };
        let metrics = run.metrics();
        let ttft_ms = metrics.ttft_ms.map(|ttft| ttft.value);
        // While text arrives: the tokens after the first over the time since
        // the first (the store records the exact figure at the end).
        let streaming_speed = || {
            let generating_ms = (elapsed_ms? - ttft_ms? as i64) as f64;
            let after_first = output_tokens?.saturating_sub(1);
            (state == RunState::Receiving && generating_ms > 0.0 && after_first > 0)
                .then(|| (after_first as f64 * 1_000.0 / generating_ms, true))
        };
        let speed = match metrics.output_tokens_per_second {
            Some(recorded) => Some((recorded.value, false)),
            None => streaming_speed(),
        };
        RunProgress {
            model_id: run.model_id.clone(),
            state,
            output_tokens,
            estimated,
            max_tokens: run.max_tokens(),
            elapsed_ms: elapsed_ms.map(|ms| ms.max(0) as u64),
            ttft_ms,
            speed,
        }
    }

    /// `"first token 412 ms"`, once known.
    fn ttft_text(&self) -> Option<String> {
        Some(format!("first token {}", duration(Some(self.ttft_ms?))))
    }

    /// `"≈48.2 tokens/s"` while text arrives, `"48.2 tokens/s"` once recorded.
    fn speed_text(&self) -> Option<String> {
        let (rate, estimated) = self.speed?;
        let mark = if estimated { "≈" } else { "" };
        Some(format!("{mark}{}", tokens_per_second(rate)))
    }

    /// `"≈42 tokens"`, `"≈42 tokens, 16% of 256 max"`, `"230 tokens"`.
    fn tokens_text(&self) -> Option<String> {
        let count = self.output_tokens?;
        let mark = if self.estimated { "≈" } else { "" };
        let mut text = format!("{mark}{}", tokens(Some(count)));
        if let Some(max) = self.max_tokens.filter(|max| *max > 0 && self.estimated) {
            let share = (count as f64 / max as f64).min(1.0);
            text.push_str(&format!(", {} of {} max", percent(share), thousands(max)));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    const START: i64 = 1_700_000_000_000;

    fn run(status: RunStatus, output: Option<&str>) -> PromptRun {
        let mut run = PromptRun::pending("r", "offline-echo", "p");
        run.status = status;
        run.started_at = Timestamp::from_unix_millis(START);
        run.output = output.map(str::to_owned);
        run
    }

    #[test]
    fn each_status_reads_as_what_a_person_waits_for() {
        let states = [
            (run(RunStatus::Pending, None), RunState::Waiting),
            (run(RunStatus::Running, None), RunState::Sending),
            (run(RunStatus::Running, Some("")), RunState::Sending),
            (run(RunStatus::Running, Some("Hello")), RunState::Receiving),
            (run(RunStatus::Success, Some("Hello")), RunState::Done),
            (run(RunStatus::Error, None), RunState::Failed),
            (run(RunStatus::Cancelled, Some("Hel")), RunState::Cancelled),
        ];
        let sent_again_later = run(RunStatus::Running, None);
        assert_eq!(
            RunProgress::of(&sent_again_later, START, true).state,
            RunState::Waiting,
            "the server asked it to wait"
        );
        let arriving = run(RunStatus::Running, Some("Hel"));
        assert_eq!(
            RunProgress::of(&arriving, START, true).state,
            RunState::Receiving,
            "its answer is arriving"
        );
        for (run, state) in states {
            assert_eq!(
                RunProgress::of(&run, START, false).state,
                state,
                "{:?}",
                run.status
            );
        }
    }

    #[test]
    fn streamed_tokens_are_estimated_and_reported_ones_are_not() {
        let streaming = run(RunStatus::Running, Some("one two, three"));
        let progress = RunProgress::of(&streaming, START + 3_250, false);
        assert_eq!(progress.tokens_text().as_deref(), Some("≈4 tokens"));
        assert_eq!(progress.elapsed_ms.map(seconds).as_deref(), Some("3.2 s"));

        let mut done = run(RunStatus::Success, Some("one two, three"));
        done.output_tokens = Some(5);
        done.duration_ms = Some(1_500);
        let progress = RunProgress::of(&done, START + 60_000, false);
        assert_eq!(progress.tokens_text().as_deref(), Some("5 tokens"));
        assert_eq!(
            progress.elapsed_ms,
            Some(1_500),
            "its duration, not the clock"
        );

        let waiting = RunProgress::of(&run(RunStatus::Pending, None), START + 900, false);
        assert_eq!(
            waiting.tokens_text(),
            None,
            "nothing received is not 0 tokens"
        );
        assert_eq!(waiting.elapsed_ms, None, "not sent yet");
    }

    #[test]
    fn a_share_of_max_tokens_only_when_one_was_set() {
        let mut capped = run(RunStatus::Running, Some("a b c d"));
        let parameters = serde_json::json!({"max_tokens": 8});
        capped.metadata = Some(serde_json::Map::from_iter([(
            crate::model::PARAMETERS_KEY.to_owned(),
            parameters,
        )]));
        assert_eq!(
            RunProgress::of(&capped, START, false)
                .tokens_text()
                .as_deref(),
            Some("≈4 tokens, 50% of 8 max")
        );
    }

    #[test]
    fn the_time_to_first_token_and_the_speed_show_as_they_happen() {
        let mut streaming = run(RunStatus::Running, Some("one two three four five"));
        let metrics = |json: serde_json::Value| {
            Some(serde_json::Map::from_iter([(
                crate::model::METRICS_KEY.to_owned(),
                json,
            )]))
        };
        let before = RunProgress::of(&streaming, START + 3_000, false);
        assert_eq!(
            (before.ttft_text(), before.speed_text()),
            (None, None),
            "not known yet"
        );
        streaming.metadata =
            metrics(serde_json::json!({"ttftMs": 1000, "sources": {"ttftMs": "measured"}}));
        let live = RunProgress::of(&streaming, START + 3_000, false);
        assert_eq!(live.ttft_text().as_deref(), Some("first token 1,000 ms"));
        assert_eq!(
            live.speed_text().as_deref(),
            Some("≈2.0 tokens/s"),
            "4 tokens after the first, in the 2 s since it"
        );

        let mut done = run(RunStatus::Success, Some("one two three four five"));
        done.metadata = metrics(serde_json::json!({"ttftMs": 1000, "outputTokensPerSecond": 48.3}));
        let recorded = RunProgress::of(&done, START + 60_000, false);
        assert_eq!(
            recorded.speed_text().as_deref(),
            Some("48.3 tokens/s"),
            "the run's figure"
        );
        let plain = RunProgress::of(
            &run(RunStatus::Success, Some("whole")),
            START + 60_000,
            false,
        );
        assert_eq!(
            (plain.ttft_text(), plain.speed_text()),
            (None, None),
            "unknown is blank, not 0"
        );
    }

    #[test]
    fn a_cancelled_run_counts_until_it_was_stopped() {
        let mut cancelled = run(RunStatus::Cancelled, Some("partial"));
        cancelled.completed_at = Some(Timestamp::from_unix_millis(START + 2_000));
        assert_eq!(
            RunProgress::of(&cancelled, START + 9_000, false).elapsed_ms,
            Some(2_000)
        );
    }
}
