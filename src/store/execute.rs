//! Executing prompts: a run per model, recorded as it goes from `pending` to
//! `running` to its end, with real cancellation and honest progress.

use super::RunsStore;
use crate::api::wire::{ExecuteParameters, ExecuteRequest, ExecuteResponse};
use crate::api::{ApiError, PromptExecutor};
use crate::clock::monotonic_ms;
use crate::model::{
    CostSource, Figure, PromptRun, PromptRunUpdate, RunMetrics, RunStatus, Timestamp, Usd,
    BATCH_ID_KEY, COST_SOURCE_KEY, METRICS_KEY, PARAMETERS_KEY, SERVER_RUN_ID_KEY,
};
use futures::future::{AbortHandle, Abortable};
use futures::stream::{self, StreamExt};
use leptos::prelude::*;
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// At most this many requests of one batch are in flight at once: every run
/// goes to the same server, and browsers queue more than six per host anyway.
pub const MAX_CONCURRENT_REQUESTS: usize = 4;

/// Answer length assumed for progress when the request sets no `max_tokens`.
const EXPECTED_TOKENS: u32 = 1_024;

/// Where a run's streamed text goes, whichever try it arrives in: each try
/// hands the executor a sink of its own that forwards here.
type SharedSink = Rc<RefCell<dyn FnMut(&str)>>;

/// Streamed progress stops short of 100 until the server confirms the end.
const STREAMING_PROGRESS_CAP: f64 = 99.0;

impl RunsStore {
    /// Sets what executes prompts (usually a [`NeuroForgeClient`](crate::api::NeuroForgeClient)).
    pub fn set_executor(&self, executor: impl PromptExecutor + 'static) {
        self.executor.set_value(Some(Rc::new(executor)));
    }

    /// Runs `prompt` on `model_id` with `context_blocks` (sent to the server
    /// and recorded as the run's `contextBlockIds`) and the store's
    /// [`execution_parameters`](Self::execution_parameters) (sent, and
    /// recorded in the run's `metadata.parameters` when any is set).
    ///
    /// Refused with [`ApiError::Busy`] while another execution is in flight
    /// (nothing is sent). Otherwise a `pending` run is added first and made
    /// active; it turns `running` as the request goes out and ends `success`
    /// (keeping its id; the server's is recorded as `metadata.serverRunId`), `error` (its message also becomes the
    /// store's error) or `cancelled` (by [`cancel_execution`](Self::cancel_execution),
    /// which aborts the request; partial output is kept and nothing arriving
    /// later changes the run).
    pub async fn execute(
        &self,
        prompt: impl Into<String>,
        model_id: impl Into<String>,
        context_blocks: Vec<String>,
    ) -> Result<ExecuteResponse, ApiError> {
        let mut results = self
            .execute_batch(prompt.into(), vec![model_id.into()], context_blocks, None)
            .await?;
        results.pop().expect("one model gives one result")
    }

    /// Runs the same prompt on every model in `model_ids` concurrently (at most
    /// [`MAX_CONCURRENT_REQUESTS`] at a time), each as its own run; the runs
    /// share a `batchId` in their metadata so they can be compared side by
    /// side. Progress covers all of them and cancel stops all. Returns each
    /// model's result, in order; refused as a whole only when busy or unconfigured.
    pub async fn execute_many(
        &self,
        prompt: impl Into<String>,
        model_ids: Vec<String>,
        context_blocks: Vec<String>,
    ) -> Result<Vec<Result<ExecuteResponse, ApiError>>, ApiError> {
        let batch_id = format!("batch-{}", PromptRun::new_local_id());
        self.execute_batch(prompt.into(), model_ids, context_blocks, Some(batch_id))
            .await
    }

    async fn execute_batch(
        &self,
        prompt: String,
        model_ids: Vec<String>,
        context_blocks: Vec<String>,
        batch_id: Option<String>,
    ) -> Result<Vec<Result<ExecuteResponse, ApiError>>, ApiError> {
        if self.is_executing.get_untracked() {
            return Err(ApiError::Busy);
        }
        let executor = self.executor.get_value().ok_or(ApiError::NoExecutor)?;
        let parameters = self.parameters.get_untracked();
        let max_tokens = parameters.max_tokens;
        let parameters = (parameters != ExecuteParameters::default()).then_some(parameters);
        let requests: Vec<ExecuteRequest> = (model_ids.into_iter())
            .map(|model_id| ExecuteRequest {
                prompt: prompt.clone(),
                model_id,
                context_blocks: context_blocks.clone(),
                parameters: parameters.clone(),
                workspace_id: None,
            })
            .collect();
        // Refused whole, before any run is added: nothing was sent.
        if let Some(refused) = requests.iter().find_map(|request| self.oversize(request)) {
            self.set_error(Some(refused.to_string()));
            return Err(refused);
        }
        let mut planned = Vec::with_capacity(requests.len());
        for request in requests.iter().rev() {
            let mut run =
                PromptRun::pending(PromptRun::new_local_id(), &*request.model_id, &*prompt);
            run.context_block_ids = context_blocks.clone();
            run.metadata = run_metadata(batch_id.as_deref(), parameters.as_ref());
            planned.push(run.id.clone());
            self.add_run(run).expect("a fresh local id is free");
        }
        planned.reverse();
        self.execution_runs.set(planned.clone());
        let _ = self.set_active_run(planned.first().map(String::as_str));
        self.start_execution();
        self.progress_known.set(false);

        let batch = Rc::new(BatchProgress::new(planned.len(), max_tokens));
        let requests =
            (planned.iter().cloned().zip(requests).enumerate()).map(|(slot, (run_id, request))| {
                let progress = RunProgress::new(batch.clone(), slot);
                self.send_pending_run(executor.clone(), run_id, request, progress)
            });
        let results: Vec<Result<ExecuteResponse, ApiError>> = stream::iter(requests)
            .buffered(MAX_CONCURRENT_REQUESTS)
            .collect()
            .await;

        let failures: Vec<String> = results
            .iter()
            .filter_map(|result| match result {
                Err(ApiError::Cancelled) | Ok(_) => None,
                Err(error) => Some(error.to_string()),
            })
            .collect();
        let cancelled = results
            .iter()
            .any(|result| result == &Err(ApiError::Cancelled));
        if !cancelled {
            if failures.is_empty() {
                self.complete_execution();
            } else if results.len() == 1 {
                self.set_error(failures.into_iter().next());
            } else {
                self.complete_execution();
                self.set_error(Some(format!(
                    "{} of {} runs failed: {}",
                    failures.len(),
                    results.len(),
                    failures.join("; ")
                )));
            }
        }
        Ok(results)
    }

    /// The request path every execution shares (a batch's runs, an
    /// experiment's cells): sends `request` for the `pending` run `run_id`,
    /// already in the store, and records it from `running` to its end:
    /// streamed text, usage, cost (the answer's, else the model's price),
    /// the server's run id, or the error. Its abort handle is held from
    /// the start, so [`cancel_execution`](Self::cancel_execution) stops it
    /// while it waits its turn, waits for the server, or is in flight; a run
    /// cancelled before its turn came is not sent.
    ///
    /// The one retry loop of the store: the run waits for its turn in the
    /// [pacer](super::pacing) (still `pending`), turns `running` when first
    /// sent, and is sent again when the server asks it to wait (429, 503),
    /// at most [`MAX_TRIES`](super::MAX_TRIES) times.
    pub(super) async fn send_pending_run(
        &self,
        executor: Rc<dyn PromptExecutor>,
        run_id: String,
        request: ExecuteRequest,
        progress: RunProgress,
    ) -> Result<ExecuteResponse, ApiError> {
        let RunProgress { batch, slot } = progress;
        if !self.is_executing.get_untracked() {
            return Err(ApiError::Cancelled); // cancelled before its turn came
        }
        let model_id = request.model_id.clone();
        let (abort, registration) = AbortHandle::new_pair();
        self.in_flight.update_value(|handles| {
            handles.push((run_id.clone(), abort));
        });

        let store = *self;
        let streamed_id = run_id.clone();
        let streamed_batch = batch.clone();
        let mut received = String::new();
        let arrivals = Rc::new(Cell::new(Arrivals::default()));
        let arrived = arrivals.clone();
        // When the try that answered was sent: the request leaves when the
        // executor's future is first polled, in the same turn of the event
        // loop as this is set.
        let sent_at = Rc::new(Cell::new(monotonic_ms()));
        let sent = sent_at.clone();
        let on_text: SharedSink = Rc::new(RefCell::new(move |text: &str| {
            if text.is_empty() {
                return;
            }
            let now = monotonic_ms();
            let mut times = arrived.get();
            let first = times.first.is_none();
            times.first.get_or_insert(now);
            times.last = Some(now);
            arrived.set(times);
            received.push_str(text);
            // The time to first token is known now: recorded at once, so
            // that it shows while the rest of the answer streams in.
            let ttft = RunMetrics {
                ttft_ms: Some(Figure::measured(whole_ms(now - sent.get()))),
                ..RunMetrics::default()
            };
            let streaming = PromptRunUpdate {
                output: Some(received.clone()),
                metadata_changes: first.then(|| metadata_changes([(METRICS_KEY, ttft.to_json())])),
                ..PromptRunUpdate::default()
            };
            if store.update_run(&streamed_id, streaming).is_ok() {
                let share =
                    crate::text::estimate_tokens(&received) as f64 / streamed_batch.expected_tokens;
                streamed_batch.set(slot, (share * 100.0).min(STREAMING_PROGRESS_CAP));
                store.progress_known.set(true);
                store.update_execution_progress(streamed_batch.overall());
            }
        }));
        let pacer = self.pacer.get_value();
        let tries = async {
            let mut tries = 0;
            loop {
                let sending = pacer.admit(&*executor, store).await;
                if tries == 0 {
                    // Started when first sent, not when it began to wait.
                    let running = PromptRunUpdate {
                        status: Some(RunStatus::Running),
                        started_at: Some(Timestamp::now()),
                        ..PromptRunUpdate::default()
                    };
                    if store.update_run(&run_id, running).is_err() {
                        return Err(ApiError::Cancelled); // removed or cancelled meanwhile
                    }
                }
                tries += 1;
                sent_at.set(monotonic_ms());
                let on_text = on_text.clone();
                let answer = (executor.execute(
                    request.clone(),
                    Box::new(move |text| (on_text.borrow_mut())(text)),
                ))
                .await;
                drop(sending);
                let Err(error) = answer else {
                    pacer.answered(sent_at.get());
                    return answer;
                };
                let ApiError::TryLater {
                    status,
                    retry_after,
                    ..
                } = error
                else {
                    return Err(error);
                };
                if tries >= super::MAX_TRIES {
                    let last = Box::new(error);
                    return Err(ApiError::GaveUp { tries, last });
                }
                pacer.refused(sent_at.get(), retry_after, tries, status, store);
            }
        };
        let outcome = Abortable::new(tries, registration).await;
        self.in_flight.update_value(|handles| {
            handles.retain(|(id, _)| id != &run_id);
        });
        let sent_at = sent_at.get();

        let held = self
            .get_run_untracked(&run_id)
            .filter(|run| run.status == RunStatus::Running);
        let still_running = held.is_some();
        match outcome {
            Err(_aborted) => Err(ApiError::Cancelled),
            Ok(_) if !still_running => Err(ApiError::Cancelled),
            Ok(Ok(response)) => {
                let (cost, cost_source) = self.cost_of(&model_id, &response);
                let metrics = run_metrics(sent_at, arrivals.get(), &response);
                let mut recorded = vec![(SERVER_RUN_ID_KEY, Value::from(response.run_id.as_str()))];
                if !metrics.is_empty() {
                    recorded.push((METRICS_KEY, metrics.to_json()));
                }
                if let Some(source) = cost_source {
                    recorded.push((COST_SOURCE_KEY, source.as_str().into()));
                }
                let finished = PromptRunUpdate {
                    status: Some(RunStatus::Success),
                    completed_at: Some(Timestamp::now()),
                    duration_ms: Some(response.latency_ms),
                    input_tokens: Some(response.usage.prompt_tokens),
                    output_tokens: Some(response.usage.completion_tokens),
                    total_tokens: Some(response.usage.total_tokens),
                    cost,
                    output: Some(response.output.clone()),
                    // Single keys, so that a judgement made while the run
                    // streamed (or its time to first token) stays.
                    metadata_changes: Some(metadata_changes(recorded)),
                    ..PromptRunUpdate::default()
                };
                self.update_run(&run_id, finished)
                    .expect("a running run can finish");
                batch.set(slot, 100.0);
                self.update_execution_progress(batch.overall());
                Ok(response)
            }
            Ok(Err(error)) => {
                let completed_at = Timestamp::now();
                let started_at = held.map(|run| run.started_at.clone());
                let elapsed = completed_at
                    .unix_millis()
                    .zip(started_at.and_then(|start| start.unix_millis()))
                    .map(|(end, start)| (end - start).max(0) as u64);
                let failed = PromptRunUpdate {
                    status: Some(RunStatus::Error),
                    completed_at: Some(completed_at),
                    duration_ms: elapsed,
                    error: Some(error.to_string()),
                    ..PromptRunUpdate::default()
                };
                self.update_run(&run_id, failed)
                    .expect("a running run can fail");
                batch.set(slot, 100.0);
                Err(error)
            }
        }
    }
}

impl RunsStore {
    /// The refusal of `request` when it is larger than the server accepts
    /// (its [`max_request_bytes`](crate::api::wire::ServerLimits::max_request_bytes), when it said): measured as
    /// the JSON body the client sends, so that it is refused here, naming
    /// the limit, rather than by the server after the upload.
    pub(super) fn oversize(&self, request: &ExecuteRequest) -> Option<ApiError> {
        let limit = self.server_limits.get_untracked()?.max_request_bytes?;
        let bytes = serde_json::to_string(request).map_or(0, |body| body.len() as u64);
        (bytes > limit).then_some(ApiError::TooLarge { bytes, limit })
    }
}

/// A new run's metadata: its batch, and the parameters it is executed with,
/// so that its history says how its answer was asked for.
pub(super) fn run_metadata(
    batch_id: Option<&str>,
    parameters: Option<&ExecuteParameters>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    // Built by insert: `Map::from_iter` would sort its input and add a stable
    // sort to the bundle for these few entries.
    let mut metadata = serde_json::Map::new();
    if let Some(batch_id) = batch_id {
        metadata.insert(BATCH_ID_KEY.to_owned(), batch_id.into());
    }
    if let Some(parameters) = parameters {
        // Through the JSON text the request body is written with: the same
        // field names, and no Value serializer in the bundle for this.
        let sent = serde_json::to_string(parameters)
            .and_then(|json| serde_json::from_str(&json))
            .expect("parameters always serialize");
        metadata.insert(PARAMETERS_KEY.to_owned(), sent);
    }
    (!metadata.is_empty()).then_some(metadata)
}

impl RunsStore {
    /// What a run of `model_id` answered with `response` cost, and where
    /// that figure comes from: the server's cost (reported, unless the
    /// server says it estimated it); else the model's `costPer1kTokens` ×
    /// tokens (estimated); else $0 for a model of a local provider, whatever
    /// its name; else unknown.
    fn cost_of(
        &self,
        model_id: &str,
        response: &ExecuteResponse,
    ) -> (Option<f64>, Option<CostSource>) {
        if let Some(cost) = response.cost {
            let source = match response.cost_source.as_deref().and_then(CostSource::parse) {
                Some(CostSource::Estimated) => CostSource::Estimated,
                _ => CostSource::Reported,
            };
            return (Some(cost), Some(source));
        }
        // The price as `Model::known_price_per_1k` knows it (the rule an
        // experiment's plan uses too), and whether it is the table's.
        let price = self.models.with_untracked(|models| {
            models
                .iter()
                .find(|model| model.id == model_id)
                .and_then(|model| Some((model.known_price_per_1k()?, model.cost_per_1k_tokens)))
        });
        match price {
            Some((price, Some(_))) => {
                let cost = Usd::for_tokens(price, response.usage.total_tokens).dollars();
                (Some(cost), Some(CostSource::Estimated))
            }
            Some((_, None)) => (Some(0.0), Some(CostSource::Local)),
            None => (None, None),
        }
    }
}

/// When a streamed answer's text arrived, on the monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
struct Arrivals {
    first: Option<f64>,
    last: Option<f64>,
}

/// The figures of a run sent at `sent_at` whose text arrived at `arrivals`
/// and that ended with `response`: measured here where the stream allowed
/// it, else as the server reported them, else absent.
///
/// Output tokens per second count the tokens after the first (whose time
/// is the time to first token) and after the reasoning tokens (spent
/// before the first text appears), over the time from the first text to
/// the last.
fn run_metrics(sent_at: f64, arrivals: Arrivals, response: &ExecuteResponse) -> RunMetrics {
    let usage = &response.usage;
    let timings = response.timings.unwrap_or_default();
    let reported_rate = |rate: Option<f64>| {
        rate.filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(Figure::reported)
    };
    let generation_ms = arrivals
        .first
        .zip(arrivals.last)
        .map(|(first, last)| last - first)
        .filter(|ms| *ms > 0.0);
    let answer_tokens = usage
        .completion_tokens
        .saturating_sub(usage.reasoning_tokens().unwrap_or(0));
    let measured_rate = generation_ms
        .filter(|_| answer_tokens >= 2)
        .map(|ms| Figure::measured((answer_tokens - 1) as f64 * 1_000.0 / ms));
    RunMetrics {
        ttft_ms: arrivals
            .first
            .map(|first| Figure::measured(whole_ms(first - sent_at)))
            .or(response.first_token_ms.map(Figure::reported)),
        generation_ms: generation_ms
            .map(|ms| Figure::measured(whole_ms(ms)))
            .or_else(|| {
                let ms = timings
                    .predicted_ms
                    .filter(|ms| ms.is_finite() && *ms >= 0.0)?;
                Some(Figure::reported(whole_ms(ms)))
            }),
        output_tokens_per_second: measured_rate.or(reported_rate(timings.predicted_per_second)),
        prompt_tokens_per_second: reported_rate(timings.prompt_per_second),
        cached_input_tokens: usage
            .cached_tokens()
            .or(timings.cache_n)
            .map(Figure::reported),
        reasoning_tokens: usage.reasoning_tokens().map(Figure::reported),
    }
}

/// A span of the monotonic clock in whole ms (never negative).
fn whole_ms(ms: f64) -> u64 {
    ms.max(0.0).round() as u64
}

/// Metadata changes setting each key to its value (see
/// [`PromptRunUpdate::metadata_changes`]). The run keeps its local id; the
/// server's is recorded under [`SERVER_RUN_ID_KEY`]: renaming it when the
/// answer arrived changed the id a person was looking at, and the keys it
/// was saved under, in the middle of a run.
fn metadata_changes(
    entries: impl IntoIterator<Item = (&'static str, Value)>,
) -> Map<String, Value> {
    let mut changes = Map::new();
    for (key, value) in entries {
        changes.insert(key.to_owned(), value);
    }
    changes
}

/// Where one run reports its progress: its slot in its execution's.
pub(super) struct RunProgress {
    batch: Rc<BatchProgress>,
    slot: usize,
}

impl RunProgress {
    pub(super) fn new(batch: Rc<BatchProgress>, slot: usize) -> RunProgress {
        RunProgress { batch, slot }
    }
}

/// Each run's progress in an execution; the execution's is their mean.
pub(super) struct BatchProgress {
    slots: RefCell<Vec<f64>>,
    /// The sum of `slots`, kept as they change: an experiment's execution
    /// has thousands, and streamed text updates progress many times a second.
    sum: std::cell::Cell<f64>,
    /// The answer length streamed progress measures against: the request's
    /// `max_tokens`, else [`EXPECTED_TOKENS`].
    expected_tokens: f64,
}

impl BatchProgress {
    /// Progress of `runs` runs answering about `max_tokens` tokens each
    /// (when set, else [`EXPECTED_TOKENS`]), all at 0.
    pub(super) fn new(runs: usize, max_tokens: Option<u32>) -> BatchProgress {
        BatchProgress {
            slots: RefCell::new(vec![0.0; runs]),
            sum: std::cell::Cell::new(0.0),
            expected_tokens: f64::from(max_tokens.unwrap_or(EXPECTED_TOKENS).max(1)),
        }
    }

    /// Progress only moves forward.
    pub(super) fn set(&self, slot: usize, progress: f64) {
        let mut slots = self.slots.borrow_mut();
        let raised = slots[slot].max(progress);
        self.sum.set(self.sum.get() + raised - slots[slot]);
        slots[slot] = raised;
    }

    pub(super) fn overall(&self) -> f64 {
        self.sum.get() / self.slots.borrow().len().max(1) as f64
    }
}
