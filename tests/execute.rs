//! `RunsStore::execute` and `execute_many` natively, against a scripted
//! executor: the run's lifecycle, errors, refusals, cancellation, progress,
//! batches. (Against the real gateway over HTTP: tests/browser_client.rs.)
#![cfg(not(target_arch = "wasm32"))]

mod support;

use futures::channel::{mpsc, oneshot};
use futures::future::LocalBoxFuture;
use futures::task::LocalSpawnExt;
use futures::{FutureExt, StreamExt};
use leptos::prelude::Owner;
use prompt_runs::api::wire::{
    CompletionTokensDetails, ExecuteParameters, ExecuteRequest, ExecuteResponse,
    PromptTokensDetails, Timings, Usage,
};
use prompt_runs::api::{ApiError, PromptExecutor, TextSink};
use prompt_runs::model::{
    CostSource, Figure, FigureSource, Model, PromptRun, Provider, RunStatus, PARAMETERS_KEY,
    SERVER_RUN_ID_KEY,
};
use prompt_runs::store::RunsStore;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

fn answer(model_id: &str, output: &str) -> ExecuteResponse {
    ExecuteResponse {
        run_id: format!("server-{model_id}"),
        model_id: model_id.into(),
        output: output.into(),
        usage: Usage::new(12, 30),
        latency_ms: 1_234,
        created_at: "2024-05-01T12:00:00.000Z".into(),
        cost: None,
        cost_source: None,
        first_token_ms: None,
        timings: None,
    }
}

/// What the scripted server does for one request.
enum Script {
    Answer(Box<ExecuteResponse>),
    Fail(ApiError),
    /// Streams the text pieces sent on the channel, then answers what the
    /// oneshot sends.
    Stream(
        mpsc::UnboundedReceiver<String>,
        oneshot::Receiver<ExecuteResponse>,
    ),
}

#[derive(Clone, Default)]
struct ScriptedServer {
    scripts: Rc<RefCell<HashMap<String, Script>>>,
    started: Rc<Cell<usize>>,
    dropped_unfinished: Rc<Cell<usize>>,
    requests: Rc<RefCell<Vec<ExecuteRequest>>>,
}

/// Counts requests whose future is dropped before it finished (= aborted).
struct AbortProbe(Rc<Cell<usize>>, bool);

impl Drop for AbortProbe {
    fn drop(&mut self) {
        if !self.1 {
            self.0.set(self.0.get() + 1);
        }
    }
}

impl ScriptedServer {
    fn script(&self, model_id: &str, script: Script) {
        self.scripts.borrow_mut().insert(model_id.into(), script);
    }

    /// Scripts a streamed answer to `model_id`; returns where the test sends
    /// its text pieces and then its final answer.
    fn stream(
        &self,
        model_id: &str,
    ) -> (
        mpsc::UnboundedSender<String>,
        oneshot::Sender<ExecuteResponse>,
    ) {
        let (pieces, pieces_in) = mpsc::unbounded();
        let (done, done_in) = oneshot::channel();
        self.script(model_id, Script::Stream(pieces_in, done_in));
        (pieces, done)
    }
}

impl PromptExecutor for ScriptedServer {
    fn execute(
        &self,
        request: ExecuteRequest,
        mut on_text: TextSink,
    ) -> LocalBoxFuture<'static, Result<ExecuteResponse, ApiError>> {
        self.started.set(self.started.get() + 1);
        self.requests.borrow_mut().push(request.clone());
        let script = self
            .scripts
            .borrow_mut()
            .remove(&request.model_id)
            .expect("a script for the model");
        let probe = AbortProbe(self.dropped_unfinished.clone(), false);
        async move {
            let mut probe = probe; // moved in whole, so it drops with the future
            let result = match script {
                Script::Answer(response) => Ok(*response),
                Script::Fail(error) => Err(error),
                Script::Stream(mut pieces, done) => {
                    while let Some(piece) = pieces.next().await {
                        on_text(&piece);
                    }
                    Ok(done.await.expect("the test sends the final answer"))
                }
            };
            probe.1 = true;
            result
        }
        .boxed_local()
    }
}

type Setup = support::native_store::Setup<ScriptedServer>;

fn setup() -> Setup {
    support::native_store::setup()
}

/// Starts `store.execute(..)` on the pool and returns where its result lands.
fn start(setup: &Setup, model_id: &str) -> Rc<RefCell<Option<Result<ExecuteResponse, ApiError>>>> {
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    let store = setup.store;
    let model_id = model_id.to_owned();
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            *slot.borrow_mut() = Some(
                store
                    .execute("Explain Rust", model_id, vec!["style-guide".into()])
                    .await,
            );
        })
        .unwrap();
    result
}

fn model(id: &str, cost_per_1k_tokens: Option<f64>) -> Model {
    Model {
        id: id.into(),
        name: id.into(),
        provider: if id.starts_with("local") {
            Provider::Local
        } else {
            Provider::Openai
        },
        max_tokens: 8_192,
        supports_streaming: true,
        cost_per_1k_tokens,
        metadata: None,
    }
}

/// The one run on `model_id`.
fn only_run_of(setup: &Setup, model_id: &str) -> std::sync::Arc<PromptRun> {
    let runs = setup.store.get_runs_by_model(model_id);
    assert_eq!(runs.len(), 1, "one run on {model_id}");
    runs.get(0).unwrap().clone()
}

#[test]
fn a_successful_run_records_usage_keeps_its_id_notes_the_servers_and_stays_active() {
    let mut setup = setup();
    let mut response = answer("gpt-4o", "Rust is a language.");
    response.cost = Some(0.0021);
    setup
        .server
        .script("gpt-4o", Script::Answer(Box::new(response.clone())));
    let result = start(&setup, "gpt-4o");
    setup.pool.run();

    assert_eq!(result.borrow().clone(), Some(Ok(response)));
    let store = setup.store;
    assert_eq!(store.runs().len(), 1);
    let run = store.runs().get(0).unwrap().clone();
    assert!(
        run.id.starts_with("local-"),
        "one id for the run's whole life: {}",
        run.id
    );
    assert_eq!(
        run.server_run_id(),
        Some("server-gpt-4o"),
        "the server's id is recorded beside it"
    );
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.prompt_snapshot, "Explain Rust");
    assert_eq!(run.context_block_ids, ["style-guide"]);
    assert_eq!(run.output.as_deref(), Some("Rust is a language."));
    assert_eq!(
        (run.input_tokens, run.output_tokens, run.total_tokens),
        (Some(12), Some(30), Some(42))
    );
    assert_eq!(run.duration_ms, Some(1_234));
    assert_eq!(run.cost, Some(0.0021));
    assert!(run.completed_at.is_some());
    assert_eq!(store.active_run_id(), Some(run.id.clone()));
    assert!(!store.is_executing());
    assert_eq!(store.execution_progress(), 100.0);
    assert_eq!(
        setup.server.requests.borrow()[0].context_blocks,
        ["style-guide"]
    );
}

#[test]
fn without_a_cost_in_the_answer_the_models_price_applies_and_unknown_stays_unknown() {
    let mut setup = setup();
    setup.store.set_models(vec![
        model("priced", Some(0.002)),
        model("free-to-guess", None),
    ]);
    setup
        .server
        .script("priced", Script::Answer(Box::new(answer("priced", "a"))));
    start(&setup, "priced");
    setup.pool.run();
    assert_eq!(
        only_run_of(&setup, "priced").cost,
        Some(0.000084),
        "42 tokens at $0.002 per 1k"
    );

    setup.server.script(
        "free-to-guess",
        Script::Answer(Box::new(answer("free-to-guess", "b"))),
    );
    start(&setup, "free-to-guess");
    setup.pool.run();
    assert_eq!(
        only_run_of(&setup, "free-to-guess").cost,
        None,
        "no price known: no cost, never $0"
    );
    assert_eq!(only_run_of(&setup, "free-to-guess").cost_source(), None);
}

#[test]
fn every_cost_says_where_it_comes_from() {
    let mut setup = setup();
    setup.store.set_models(vec![
        model("priced", Some(0.002)),
        model("local-llama", None),
        model("local-priced", Some(0.001)),
    ]);
    let mut billed = answer("billed", "a");
    billed.cost = Some(0.0021);
    let mut tabled = answer("tabled", "a");
    tabled.cost = Some(0.0007);
    tabled.cost_source = Some("estimated".into());
    for (model, response) in [
        ("billed", billed),
        ("tabled", tabled),
        ("priced", answer("priced", "a")),
        ("local-llama", answer("local-llama", "a")),
        ("local-priced", answer("local-priced", "a")),
    ] {
        setup
            .server
            .script(model, Script::Answer(Box::new(response)));
        start(&setup, model);
        setup.pool.run();
    }
    let cost = |model: &str| {
        let run = only_run_of(&setup, model);
        (run.cost, run.cost_source())
    };
    assert_eq!(
        cost("billed"),
        (Some(0.0021), Some(CostSource::Reported)),
        "the server sent it"
    );
    assert_eq!(
        cost("tabled"),
        (Some(0.0007), Some(CostSource::Estimated)),
        "the server sent it, saying it comes from its price table"
    );
    assert_eq!(
        cost("priced"),
        (Some(0.000084), Some(CostSource::Estimated))
    );
    assert_eq!(
        cost("local-llama"),
        (Some(0.0), Some(CostSource::Local)),
        "a local model with no price costs $0 by its provider, whatever its name"
    );
    assert_eq!(
        cost("local-priced"),
        (Some(0.000042), Some(CostSource::Estimated)),
        "a price set for a local model (electricity, hardware) is used"
    );
    assert_eq!(setup.store.priced_runs(), 5);
    assert_eq!(setup.store.estimated_costs(), 3, "what makes the total ≈");
}

#[test]
fn a_streamed_answer_records_its_time_to_first_token_and_speed_measured_here() {
    let mut setup = setup();
    let (pieces, done) = setup.server.stream("streamer");
    start(&setup, "streamer");
    setup.pool.run_until_stalled();
    std::thread::sleep(std::time::Duration::from_millis(40));
    pieces.unbounded_send("First".into()).unwrap();
    setup.pool.run_until_stalled();
    let id = setup.store.active_run_id().unwrap();
    let live = setup.store.get_run_by_id(&id).unwrap().metrics();
    let ttft = live
        .ttft_ms
        .expect("known as soon as the first text arrives");
    assert_eq!(ttft.source, FigureSource::Measured);
    assert!((40..1_000).contains(&ttft.value), "{ttft:?}");
    assert_eq!(live.output_tokens_per_second, None, "not before the end");

    for _ in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        pieces.unbounded_send(" more words".into()).unwrap();
        setup.pool.run_until_stalled();
    }
    drop(pieces);
    let mut response = answer("streamer", "First more words");
    response.usage.completion_tokens_details = Some(CompletionTokensDetails {
        reasoning_tokens: Some(9),
    });
    response.first_token_ms = Some(5);
    done.send(response).unwrap();
    setup.pool.run();

    let run = setup.store.get_run_by_id(&id).unwrap();
    let metrics = run.metrics();
    assert_eq!(
        metrics.ttft_ms,
        Some(ttft),
        "measured here wins over the server's 5 ms"
    );
    let generation = metrics.generation_ms.unwrap();
    assert_eq!(generation.source, FigureSource::Measured);
    assert!((120..2_000).contains(&generation.value), "{generation:?}");
    let speed = metrics.output_tokens_per_second.unwrap();
    assert_eq!(speed.source, FigureSource::Measured);
    // 30 output tokens, 9 of them reasoning (before the first text): the
    // 20 after the first over the time from the first text to the last.
    let expected = 20.0 * 1_000.0 / generation.value as f64;
    assert!(
        (speed.value - expected).abs() <= expected * 0.02,
        "{speed:?} against {expected}"
    );
    assert_eq!(metrics.reasoning_tokens, Some(Figure::reported(9)));
    assert_eq!(metrics.cached_input_tokens, None, "not reported: absent");
    assert_eq!(
        run.server_run_id(),
        Some("server-streamer"),
        "kept beside the figures"
    );
}

#[test]
fn a_plain_answer_has_no_time_to_first_token_and_keeps_what_the_server_reported() {
    let mut setup = setup();
    let mut plain = answer("llama", "whole");
    plain.usage.prompt_tokens_details = Some(PromptTokensDetails {
        cached_tokens: Some(8),
    });
    plain.timings = Some(Timings {
        prompt_per_second: Some(900.5),
        predicted_per_second: Some(50.0),
        predicted_ms: Some(580.2),
        ..Timings::default()
    });
    setup
        .server
        .script("llama", Script::Answer(Box::new(plain)));
    setup
        .server
        .script("bare", Script::Answer(Box::new(answer("bare", "whole"))));
    start(&setup, "llama");
    setup.pool.run();
    start(&setup, "bare");
    setup.pool.run();

    let metrics = only_run_of(&setup, "llama").metrics();
    assert_eq!(
        metrics.ttft_ms, None,
        "not streamed: not measurable, and not 0"
    );
    assert_eq!(
        metrics.output_tokens_per_second,
        Some(Figure::reported(50.0))
    );
    assert_eq!(metrics.generation_ms, Some(Figure::reported(580)));
    assert_eq!(
        metrics.prompt_tokens_per_second,
        Some(Figure::reported(900.5))
    );
    assert_eq!(metrics.cached_input_tokens, Some(Figure::reported(8)));
    let bare = only_run_of(&setup, "bare");
    assert!(bare.metrics().is_empty());
    assert!(
        !bare.metadata.as_ref().unwrap().contains_key("metrics"),
        "nothing known, nothing written"
    );
}

#[test]
fn a_failed_run_stays_in_the_history_and_its_message_is_the_stores_error() {
    let mut setup = setup();
    setup.server.script(
        "gpt-4o",
        Script::Fail(ApiError::Http {
            status: 500,
            detail: "upstream exploded".into(),
        }),
    );
    let result = start(&setup, "gpt-4o");
    setup.pool.run();

    assert_eq!(
        result.borrow().clone(),
        Some(Err(ApiError::Http {
            status: 500,
            detail: "upstream exploded".into()
        }))
    );
    let run = setup.store.runs().get(0).unwrap().clone();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error.as_deref(), Some("HTTP 500: upstream exploded"));
    assert!(run.total_tokens.is_none());
    assert_eq!(
        setup.store.error().as_deref(),
        Some("HTTP 500: upstream exploded")
    );
    assert!(!setup.store.is_executing());
}

#[test]
fn a_second_execute_while_one_is_in_flight_is_refused_without_a_request() {
    let mut setup = setup();
    let (pieces, done) = setup.server.stream("slow");
    start(&setup, "slow");
    setup.pool.run_until_stalled();
    assert!(
        setup.store.is_executing(),
        "executing exactly while the request is in flight"
    );

    let second = start(&setup, "other");
    setup.pool.run_until_stalled();
    assert_eq!(second.borrow().clone(), Some(Err(ApiError::Busy)));
    assert_eq!(setup.server.started.get(), 1, "no second request");
    assert_eq!(setup.store.runs().len(), 1, "no second run");

    drop(pieces);
    done.send(answer("slow", "done")).unwrap();
    setup.pool.run();
    assert!(!setup.store.is_executing());
}

#[test]
fn cancel_aborts_the_request_keeps_partial_output_and_ignores_the_late_answer() {
    let mut setup = setup();
    let (pieces, done) = setup.server.stream("slow");
    let result = start(&setup, "slow");
    setup.pool.run_until_stalled();
    pieces.unbounded_send("The first ".into()).unwrap();
    pieces.unbounded_send("words".into()).unwrap();
    setup.pool.run_until_stalled();
    let id = setup.store.active_run_id().unwrap();
    assert_eq!(
        setup.store.get_run_by_id(&id).unwrap().output.as_deref(),
        Some("The first words")
    );

    setup.store.cancel_execution();
    setup.pool.run_until_stalled();
    assert_eq!(
        setup.server.dropped_unfinished.get(),
        1,
        "the request was aborted, not left running"
    );
    assert_eq!(result.borrow().clone(), Some(Err(ApiError::Cancelled)));
    let _ = pieces.unbounded_send("late text".into());
    let _ = done.send(answer("slow", "the late answer"));
    setup.pool.run();

    let run = setup.store.get_run_by_id(&id).expect("keeps its local id");
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.output.as_deref(), Some("The first words"));
    assert_eq!(run.total_tokens, None, "no invented token count");
    assert!(!setup.store.is_executing());
    assert_eq!(setup.store.error(), None);
}

#[test]
fn streaming_progress_is_unknown_until_text_arrives_then_rises_to_100() {
    let mut setup = setup();
    let (pieces, done) = setup.server.stream("streamer");
    start(&setup, "streamer");
    setup.pool.run_until_stalled();
    assert!(
        !setup.store.is_progress_known(),
        "no fake ramp before anything is measured"
    );

    let mut seen = vec![];
    for _ in 0..50 {
        pieces
            .unbounded_send("lorem ipsum dolor sit amet, ".repeat(5))
            .unwrap();
        setup.pool.run_until_stalled();
        assert!(setup.store.is_progress_known());
        seen.push(setup.store.execution_progress());
    }
    assert!(
        seen.windows(2).all(|pair| pair[0] <= pair[1]),
        "monotonic: {seen:?}"
    );
    assert!(seen[0] > 0.0 && *seen.last().unwrap() < 100.0, "{seen:?}");
    drop(pieces);
    done.send(answer("streamer", "all")).unwrap();
    setup.pool.run();
    assert_eq!(setup.store.execution_progress(), 100.0);
}

#[test]
fn the_stores_parameters_go_with_every_request_and_max_tokens_paces_progress() {
    let mut setup = setup();
    setup
        .server
        .script("plain", Script::Answer(Box::new(answer("plain", "ok"))));
    start(&setup, "plain");
    setup.pool.run();
    assert_eq!(
        setup.server.requests.borrow()[0].parameters,
        None,
        "none set: the server's defaults"
    );

    let parameters = ExecuteParameters {
        temperature: Some(0.2),
        max_tokens: Some(20),
        top_p: None,
    };
    setup.store.set_execution_parameters(parameters.clone());
    assert_eq!(setup.store.execution_parameters(), parameters);
    let (pieces, done) = setup.server.stream("short");
    start(&setup, "short");
    setup.pool.run_until_stalled();
    assert_eq!(
        setup.server.requests.borrow()[1].parameters,
        Some(parameters)
    );
    pieces
        .unbounded_send("one two three four five".into())
        .unwrap();
    setup.pool.run_until_stalled();
    assert_eq!(
        setup.store.execution_progress(),
        25.0,
        "5 of the 20 tokens asked for, not of a fixed 1,024"
    );
    drop(pieces);
    done.send(answer("short", "done")).unwrap();
    setup.pool.run();

    let metadata = |model: &str| only_run_of(&setup, model).metadata.clone().unwrap();
    assert_eq!(
        metadata("plain"),
        serde_json::Map::from_iter([(SERVER_RUN_ID_KEY.to_owned(), "server-plain".into())]),
        "defaults: no parameters to record"
    );
    assert_eq!(
        metadata("short")[PARAMETERS_KEY],
        serde_json::json!({"temperature": 0.2, "max_tokens": 20}),
        "the run records what it was asked with"
    );
}

#[test]
fn execute_many_runs_each_model_as_a_run_of_one_batch() {
    let mut setup = setup();
    for model in ["a", "b", "c"] {
        setup.server.script(
            model,
            Script::Answer(Box::new(answer(model, &format!("from {model}")))),
        );
    }
    let store = setup.store;
    let results = Rc::new(RefCell::new(None));
    let slot = results.clone();
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            *slot.borrow_mut() = Some(
                store
                    .execute_many("Compare", vec!["a".into(), "b".into(), "c".into()], vec![])
                    .await,
            );
        })
        .unwrap();
    setup.pool.run();

    let results = results.borrow_mut().take().unwrap().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| r.as_ref().unwrap().model_id.clone())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let runs = store.runs();
    assert_eq!(
        runs.iter()
            .map(|run| run.model_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let batch_ids: Vec<_> = runs
        .iter()
        .map(|run| run.metadata.as_ref().unwrap()["batchId"].clone())
        .collect();
    assert!(batch_ids
        .iter()
        .all(|id| id == &batch_ids[0] && id.as_str().unwrap().starts_with("batch-")));
    assert!(runs.iter().all(|run| run.status == RunStatus::Success));
    assert_eq!(
        store.execution_run_ids(),
        runs.iter().map(|run| run.id.clone()).collect::<Vec<_>>(),
        "the execution's runs, in the order of its models, for a progress display"
    );
    assert_eq!(store.execution_progress(), 100.0);
    assert!(!store.is_executing());
}

#[test]
fn execute_many_bounds_concurrency_and_cancel_stops_every_run() {
    let mut setup = setup();
    let models: Vec<String> = (0..6).map(|i| format!("m{i}")).collect();
    // Held open so that every scripted request stays in flight until cancelled.
    let _open_streams: Vec<_> = models
        .iter()
        .map(|model| setup.server.stream(model))
        .collect();
    let store = setup.store;
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            let _ = store.execute_many("p", models, vec![]).await;
        })
        .unwrap();
    setup.pool.run_until_stalled();
    assert_eq!(setup.server.started.get(), 4, "at most 4 requests at once");
    assert_eq!(store.runs_by_status().count(RunStatus::Pending), 2);

    store.cancel_execution();
    setup.pool.run();
    assert_eq!(setup.server.dropped_unfinished.get(), 4);
    assert_eq!(
        setup.server.started.get(),
        4,
        "queued runs are not sent after a cancel"
    );
    assert_eq!(store.runs_by_status().count(RunStatus::Cancelled), 6);
}

#[test]
fn without_an_executor_execute_says_what_to_do() {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    let result = futures::executor::block_on(store.execute("p", "m", vec![]));
    assert_eq!(result, Err(ApiError::NoExecutor));
    assert!(store.runs().is_empty());
}

#[test]
fn a_prompt_larger_than_the_server_accepts_is_refused_before_anything_is_sent() {
    let mut setup = setup();
    let store = setup.store;
    store.set_server_limits(Some(prompt_runs::api::wire::ServerLimits {
        max_request_bytes: Some(64),
        ..Default::default()
    }));
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    let long = "x".repeat(100);
    setup
        .pool
        .spawner()
        .spawn_local(async move {
            *slot.borrow_mut() = Some(
                store
                    .execute_many(long, vec!["a".into(), "b".into()], vec![])
                    .await,
            );
        })
        .unwrap();
    setup.pool.run();
    let refused = result.borrow().clone().unwrap().unwrap_err();
    assert!(
        matches!(refused, ApiError::TooLarge { limit: 64, bytes } if bytes > 100),
        "{refused:?}"
    );
    assert_eq!(setup.server.started.get(), 0, "nothing sent");
    assert!(store.runs().is_empty(), "no run added");
    assert_eq!(store.error(), Some(refused.to_string()), "said in words");
    assert!(refused.to_string().contains("up to 64 bytes"));
}
