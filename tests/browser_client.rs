//! The HTTP client and `RunsStore::execute` in a real page (headless
//! Chromium) against the real gateway on loopback, started by
//! `cargo xtask test` with its failure-simulating test models: no mocked fetch.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::api::wire::ExecuteParameters;
use prompt_runs::api::{ApiError, ClientConfig, NeuroForgeClient};
use prompt_runs::model::{CostSource, FigureSource, Provider, RunStatus};
use prompt_runs::store::RunsStore;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;
use support::{eventually, gateway_url, sleep, store_with_models};

wasm_bindgen_test_configure!(run_in_browser);

fn client() -> NeuroForgeClient {
    NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()))
}

/// A store executing through the gateway, with its models (and prices) loaded.
async fn connected_store(owner: &Owner, client: NeuroForgeClient) -> RunsStore {
    let store = store_with_models(owner, &client).await;
    store.set_executor(client);
    store
}

#[wasm_bindgen_test]
async fn lists_the_offline_models_with_their_prices() {
    let models = client().models().await.unwrap();
    let echo = models
        .iter()
        .find(|model| model.id == "offline-echo")
        .unwrap();
    assert_eq!(echo.provider, Provider::Local);
    assert!(echo.cost_per_1k_tokens.is_some_and(|price| price > 0.0));
    let slow = models
        .iter()
        .find(|model| model.id == "offline-slow")
        .unwrap();
    assert_eq!(
        slow.cost_per_1k_tokens, None,
        "no price is not a price of 0"
    );
    assert!(matches!(
        client().model("no-such-model").await,
        Err(ApiError::Http { status: 404, .. })
    ));
}

#[wasm_bindgen_test]
async fn a_successful_execution_records_the_servers_answer() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let response = store
        .execute(
            "Explain ownership in Rust",
            "offline-echo",
            vec!["Be brief.".into()],
        )
        .await
        .unwrap();

    assert_eq!(store.runs().len(), 1);
    let run = store.runs().get(0).cloned().unwrap();
    assert!(
        run.id.starts_with("local-"),
        "it keeps its own id: {}",
        run.id
    );
    assert_eq!(
        run.server_run_id(),
        Some(response.run_id.as_str()),
        "and records the server's"
    );
    assert_eq!(store.active_run_id(), Some(run.id.clone()));
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.prompt_snapshot, "Explain ownership in Rust");
    assert_eq!(run.context_block_ids, ["Be brief."]);
    assert_eq!(run.model_id, "offline-echo");
    assert_eq!(run.output.as_deref(), Some(response.output.as_str()));
    assert!(response.output.contains("4 words"), "{}", response.output);
    assert_eq!(run.input_tokens, Some(response.usage.prompt_tokens));
    assert_eq!(run.output_tokens, Some(response.usage.completion_tokens));
    assert_eq!(run.total_tokens, Some(response.usage.total_tokens));
    assert_eq!(run.duration_ms, Some(response.latency_ms));
    assert!(run.completed_at.is_some());
    let cost = run.cost.expect("offline-echo is priced");
    assert_eq!(Some(cost), response.cost, "the server's cost is kept");
    assert!(cost > 0.0);
    assert_eq!(
        run.cost_source(),
        Some(CostSource::Estimated),
        "the gateway says its costs come from its price table"
    );
    assert!(!store.is_executing());
    assert_eq!(store.execution_progress(), 100.0);
    assert_eq!(store.error(), None);
}

#[wasm_bindgen_test]
async fn streaming_progress_only_moves_forward_and_reaches_100() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let seen = Rc::new(RefCell::new(Vec::<f64>::new()));
    let record = seen.clone();
    owner.with(|| {
        Effect::new(move |_| record.borrow_mut().push(store.execution_progress()));
    });
    let prompt = "Write a long answer about the borrow checker ".repeat(10);
    store.execute(prompt, "offline-echo", vec![]).await.unwrap();
    sleep(20).await;

    let seen = seen.borrow();
    assert!(
        seen.windows(2).all(|pair| pair[0] <= pair[1]),
        "monotonic: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&100.0));
    assert!(
        seen.iter()
            .any(|progress| *progress > 0.0 && *progress < 100.0),
        "progress moved while the text streamed in: {seen:?}"
    );
}

#[wasm_bindgen_test]
async fn an_http_500_fails_the_run_with_the_servers_detail() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let error = store
        .execute("hello", "offline-fail-500", vec![])
        .await
        .unwrap_err();
    let ApiError::Http {
        status: 500,
        detail,
    } = &error
    else {
        panic!("expected HTTP 500, got {error:?}");
    };
    assert!(detail.contains("simulated failure"), "{detail}");

    let run = store.runs().get(0).cloned().unwrap();
    assert_eq!(
        run.status,
        RunStatus::Error,
        "the failed run stays in the history"
    );
    assert_eq!(run.error.as_deref(), Some(error.to_string().as_str()));
    assert_eq!(store.error(), Some(error.to_string()));
    assert_eq!(run.total_tokens, None, "no usage was reported");
    assert!(!store.is_executing());
}

#[wasm_bindgen_test]
async fn a_bad_request_gets_the_servers_message() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let error = store
        .execute("   ", "offline-echo", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ApiError::Http { status: 400, detail } if detail.contains("prompt")),
        "{error:?}"
    );
    let error = store
        .execute("hi", "no-such-model", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ApiError::Http { status: 404, detail } if detail.contains("no-such-model")),
        "{error:?}"
    );
    assert_eq!(error.to_string(), store.error().unwrap());
}

#[wasm_bindgen_test]
async fn a_malformed_answer_is_reported_as_such() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let error = store
        .execute("hello", "offline-malformed", vec![])
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::InvalidJson { .. }), "{error:?}");
    assert!(error
        .to_string()
        .starts_with("the server's answer was not valid JSON"));
    assert_eq!(store.runs().get(0).unwrap().status, RunStatus::Error);
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_named() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    let nowhere = "http://127.0.0.1:9";
    let owner = Owner::new();
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let store = owner.with(RunsStore::new);
    store.set_executor(NeuroForgeClient::new(
        ClientConfig::default().base_url(nowhere),
    ));
    let error = store
        .execute("hello", "offline-echo", vec![])
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ApiError::Unreachable {
            url: nowhere.into()
        }
    );
    assert_eq!(
        store.error().unwrap(),
        "could not reach the server at http://127.0.0.1:9; is it running?"
    );
}

#[wasm_bindgen_test]
async fn a_connection_lost_mid_answer_says_so_in_plain_words_and_keeps_the_text() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    // This test model streams a few words, then breaks the connection.
    let error = store
        .execute("Tell me a long story", "offline-disconnect", vec![])
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ApiError::ConnectionLost {
            url: gateway_url().into()
        }
    );
    let message = store.error().expect("the error is shown");
    assert_eq!(message, error.to_string());
    assert!(
        message.contains("connection to the server at")
            && message.contains("was lost while the answer was arriving")
            && message.contains("Is the server still running?"),
        "{message}"
    );
    for debug_text in ["JsValue", "TypeError", "the server stopped"] {
        assert!(!message.contains(debug_text), "{debug_text} in {message:?}");
    }
    let run = store.runs().get(0).cloned().unwrap();
    assert_eq!(run.status, RunStatus::Error);
    assert_eq!(run.error.as_deref(), Some(message.as_str()));
    assert!(
        run.output
            .as_deref()
            .is_some_and(|text| text.starts_with("Offline demo answer")),
        "the partial answer is kept: {:?}",
        run.output
    );
}

#[wasm_bindgen_test]
async fn a_server_that_never_answers_times_out() {
    let owner = Owner::new();
    let impatient = NeuroForgeClient::new(
        ClientConfig::default()
            .base_url(gateway_url())
            .timeout(Duration::from_secs(1)),
    );
    let store = connected_store(&owner, impatient).await;
    let error = store
        .execute("hello", "offline-hang", vec![])
        .await
        .unwrap_err();
    assert_eq!(error, ApiError::Timeout { seconds: 1 });
    let run = store.runs().get(0).cloned().unwrap();
    assert_eq!(run.error.as_deref(), Some("timed out after 1 s"));
    assert!(run.duration_ms.is_some_and(|ms| ms >= 1_000));
}

#[wasm_bindgen_test]
async fn cancel_mid_stream_keeps_the_partial_output_and_nothing_changes_it_later() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let outcome = Rc::new(RefCell::new(None));
    let finished = outcome.clone();
    leptos::task::spawn_local(async move {
        *finished.borrow_mut() = Some(
            store
                .execute("Tell me a slow story", "offline-slow", vec![])
                .await,
        );
    });
    eventually("some text streamed in", || {
        store
            .runs()
            .get(0)
            .is_some_and(|run| run.output.as_ref().is_some_and(|text| !text.is_empty()))
    })
    .await;

    let second = store.execute("another", "offline-echo", vec![]).await;
    assert_eq!(
        second.unwrap_err(),
        ApiError::Busy,
        "a second execute is refused"
    );
    assert_eq!(store.runs().len(), 1, "and adds no run");

    store.cancel_execution();
    eventually("execute returned", || outcome.borrow().is_some()).await;
    assert_eq!(
        outcome.borrow_mut().take().unwrap().unwrap_err(),
        ApiError::Cancelled
    );
    let cancelled = store.runs().get(0).cloned().unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let partial = cancelled.output.clone().unwrap();
    assert!(!partial.is_empty());
    assert_eq!(cancelled.total_tokens, None, "no invented token count");
    assert!(!store.is_executing());

    // The whole slow answer (about 60 tokens at 8 per second) would have
    // arrived by now: nothing did, and the run is as it was.
    sleep(9_000).await;
    let later = store.runs().get(0).cloned().unwrap();
    assert_eq!(
        *later, *cancelled,
        "no late answer changed the cancelled run"
    );
    assert_eq!(store.runs().len(), 1);
}

#[wasm_bindgen_test]
async fn execute_many_runs_one_batch_over_three_models() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    let models = ["offline-echo", "offline-fail-500", "offline-malformed"].map(String::from);
    let results = store
        .execute_many("Compare us", models.to_vec(), vec![])
        .await
        .unwrap();

    assert!(results[0].is_ok());
    assert!(matches!(
        results[1],
        Err(ApiError::Http { status: 500, .. })
    ));
    assert!(matches!(results[2], Err(ApiError::InvalidJson { .. })));
    assert_eq!(store.runs().len(), 3);
    let batch_ids: Vec<_> = store
        .runs()
        .iter()
        .map(|run| run.batch_id().map(str::to_owned))
        .collect();
    assert!(
        batch_ids[0].is_some() && batch_ids.iter().all(|id| *id == batch_ids[0]),
        "{batch_ids:?}"
    );
    let first = store.runs().get(0).unwrap().id.clone();
    assert_eq!(store.batch_runs(&first).len(), 3);
    let mut statuses: Vec<_> = store
        .runs()
        .iter()
        .map(|run| (run.model_id.clone(), run.status))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("offline-echo".to_owned(), RunStatus::Success),
            ("offline-fail-500".to_owned(), RunStatus::Error),
            ("offline-malformed".to_owned(), RunStatus::Error),
        ]
    );
    assert!(!store.is_executing());
    assert_eq!(store.execution_progress(), 100.0);
}

/// `offline-delayed` (a gateway test model) sends its first token after
/// 600 ms, then 50 tokens per second.
const DELAYED_FIRST_TOKEN_MS: u64 = 600;
const DELAYED_TOKENS_PER_SECOND: f64 = 50.0;

#[wasm_bindgen_test]
async fn a_streamed_answer_records_its_time_to_first_token_and_speed_as_configured() {
    let owner = Owner::new();
    let store = connected_store(&owner, client()).await;
    store.set_execution_parameters(ExecuteParameters {
        max_tokens: Some(40),
        ..ExecuteParameters::default()
    });
    store
        .execute("Explain the borrow checker", "offline-delayed", vec![])
        .await
        .unwrap();
    let run = store.runs().get(0).cloned().unwrap();
    let metrics = run.metrics();

    // Tolerance: the first token cannot come before the model sends it; on a
    // loopback connection it comes at most 750 ms later even on a busy machine.
    let ttft = metrics
        .ttft_ms
        .expect("a streamed answer has a time to first token");
    assert_eq!(ttft.source, FigureSource::Measured);
    assert!(
        (DELAYED_FIRST_TOKEN_MS..DELAYED_FIRST_TOKEN_MS + 750).contains(&ttft.value),
        "{} ms for a first token sent at {DELAYED_FIRST_TOKEN_MS} ms",
        ttft.value
    );
    // Tolerance: ±30% of the configured speed over the 39 tokens after the
    // first (timers and the page's event loop add a little to each).
    let speed = metrics.output_tokens_per_second.expect("measured");
    assert_eq!(speed.source, FigureSource::Measured);
    let (low, high) = (
        DELAYED_TOKENS_PER_SECOND * 0.7,
        DELAYED_TOKENS_PER_SECOND * 1.3,
    );
    assert!(
        (low..=high).contains(&speed.value),
        "{} tokens/s for a model configured at {DELAYED_TOKENS_PER_SECOND}",
        speed.value
    );
    let generation = metrics.generation_ms.unwrap().value;
    assert!(
        run.duration_ms.unwrap() >= ttft.value + generation - 50,
        "the time to first token and the generation fit in the run's duration"
    );
    assert_eq!(
        (run.cost, run.cost_source()),
        (Some(0.0), Some(CostSource::Local)),
        "unpriced and served locally: $0 by its provider"
    );
}

#[wasm_bindgen_test]
async fn a_non_streaming_answer_records_no_time_to_first_token() {
    let owner = Owner::new();
    let plain = NeuroForgeClient::new(
        ClientConfig::default()
            .base_url(gateway_url())
            .streaming(false),
    );
    let store = connected_store(&owner, plain).await;
    store.set_execution_parameters(ExecuteParameters {
        max_tokens: Some(10),
        ..ExecuteParameters::default()
    });
    store
        .execute("Explain the borrow checker", "offline-delayed", vec![])
        .await
        .unwrap();
    let run = store.runs().get(0).cloned().unwrap();
    assert_eq!(run.status, RunStatus::Success);
    assert!(
        run.duration_ms.unwrap() >= DELAYED_FIRST_TOKEN_MS,
        "it did wait for the answer"
    );
    let metrics = run.metrics();
    assert_eq!(
        metrics.ttft_ms, None,
        "not measurable without a stream, and not 0"
    );
    let speed = metrics
        .output_tokens_per_second
        .expect("the model's own figure");
    assert_eq!(
        (speed.source, speed.value),
        (FigureSource::Reported, DELAYED_TOKENS_PER_SECOND),
        "reported by the server, and labelled so"
    );
}
