//! One prompt on four providers' models, side by side, in the built app:
//! the gateway is started with a providers file naming four fakes on
//! loopback, each answering in its own API's wire format (OpenAI's chat
//! completions, Anthropic's Messages, Gemini's generateContent, Ollama's
//! chat), and a fifth provider where nothing listens. The playground's model
//! picker lists the models under their providers; the prompt runs on one
//! model of each of the four in one batch, and the four answers are found
//! side by side. On the Experiments page, the picker marks the provider that cannot
//! be reached, and Settings shows each provider's status and last error.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fantoccini::{Client, Locator};
use prompt_runs_e2e::{
    click, evaluate, find, start_gateway, wait_for_answer, wait_for_text, workspace_root, Browser,
};
use serde_json::{json, Value};
use std::time::Duration;

/// Serves `app` on a free loopback port; its URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn sse(events: Vec<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        events.concat(),
    )
        .into_response()
}

/// OpenAI's chat completions: "Hello from OpenAI", streamed or whole.
async fn openai(Json(body): Json<Value>) -> Response {
    if body["stream"] != true {
        return Json(json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from OpenAI"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    sse(vec![
        chunk(json!({"content": "Hello"}), Value::Null),
        chunk(json!({"content": " from OpenAI"}), Value::Null),
        chunk(json!({}), json!("stop")),
        format!(
            "data: {}\n\n",
            json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
        ),
        "data: [DONE]\n\n".to_owned(),
    ])
}

/// Anthropic's Messages: "Hello from Claude", streamed or whole.
async fn anthropic(Json(body): Json<Value>) -> Response {
    let model = body["model"].clone();
    if body["stream"] != true {
        return Json(
            json!({"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello from Claude"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 3}}),
        )
        .into_response();
    }
    let event = |data: Value| {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap()
        )
    };
    let delta = |text: &str| {
        event(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        )
    };
    sse(vec![
        event(
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        ),
        event(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        delta("Hello"),
        delta(" from Claude"),
        event(json!({"type": "content_block_stop", "index": 0})),
        event(
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
        ),
        event(json!({"type": "message_stop"})),
    ])
}

/// Gemini's generateContent: "Hello from Gemini", streamed or whole.
async fn gemini(Path(call): Path<String>) -> Response {
    let chunk = |text: &str, last: bool| {
        let mut chunk = json!({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]});
        if last {
            chunk["candidates"][0]["finishReason"] = json!("STOP");
            chunk["usageMetadata"] =
                json!({"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8});
        }
        chunk
    };
    if call.ends_with(":generateContent") {
        return Json(chunk("Hello from Gemini", true)).into_response();
    }
    sse(vec![
        format!("data: {}\r\n\r\n", chunk("Hello", false)),
        format!("data: {}\r\n\r\n", chunk(" from Gemini", true)),
    ])
}

/// Ollama's own chat API: "Hello from Llama", as JSON lines or whole, with
/// the server's counts and timings (nanoseconds) on the last line.
async fn ollama(Json(body): Json<Value>) -> Response {
    let done = json!({"model": body["model"], "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": "stop", "prompt_eval_count": 5, "prompt_eval_duration": 50_000_000,
        "eval_count": 3, "eval_duration": 30_000_000});
    if body["stream"] != true {
        let mut whole = done;
        whole["message"]["content"] = json!("Hello from Llama");
        return Json(whole).into_response();
    }
    let piece = |text: &str| {
        json!({"model": body["model"], "message": {"role": "assistant", "content": text}, "done": false})
            .to_string()
            + "\n"
    };
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        [
            piece("Hello"),
            piece(" from Llama"),
            done.to_string() + "\n",
        ]
        .concat(),
    )
        .into_response()
}

/// The four fakes, and a providers file naming them and a fifth provider
/// where nothing listens.
async fn providers_file(dir: &std::path::Path) -> std::path::PathBuf {
    let listed = |ids: &'static [&'static str]| {
        let data: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "name": format!("models/{id}")}))
            .collect();
        move || {
            let data = data.clone();
            async move { Json(json!({"data": data, "models": data})) }
        }
    };
    let openai_url = serve(
        Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/models", get(listed(&["gpt-fake"]))),
    )
    .await;
    let anthropic_url = serve(
        Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/v1/models", get(listed(&["claude-fake"]))),
    )
    .await;
    let gemini_url = serve(
        Router::new()
            .route("/v1beta/models/{call}", post(gemini))
            .route("/v1beta/models", get(listed(&["gemini-fake"]))),
    )
    .await;
    let ollama_url = serve(Router::new().route("/api/chat", post(ollama)).route(
        "/api/tags",
        get(|| async { Json(json!({"models": [{"name": "llama-fake", "model": "llama-fake"}]})) }),
    ))
    .await;
    // A port bound, then let go: nothing listens there.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let file = dir.join("providers.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[providers]]
name = "openai"
kind = "openai"
base_url = "{openai_url}/v1"
models = ["gpt-fake"]

[[providers]]
name = "anthropic"
kind = "anthropic"
base_url = "{anthropic_url}"
models = ["claude-fake"]

[[providers]]
name = "google"
kind = "gemini"
base_url = "{gemini_url}/v1beta"
models = ["gemini-fake"]

[[providers]]
name = "ollama"
kind = "ollama"
base_url = "{ollama_url}"
models = ["llama-fake"]

[[providers]]
name = "down"
kind = "openai"
base_url = "http://{nowhere}/v1"
models = ["gone"]
"#
        ),
    )
    .unwrap();
    file
}

async fn texts(browser: &Client, selector: &str) -> Vec<String> {
    let mut found = Vec::new();
    for element in browser.find_all(Locator::Css(selector)).await.unwrap() {
        found.push(element.text().await.unwrap());
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn one_prompt_runs_on_four_providers_side_by_side_and_an_unreachable_one_is_marked() {
    let browser = Browser::start("providers", &[]).await;
    let file = providers_file(browser.work_dir()).await;
    let dist = workspace_root().join("dist");
    let app = start_gateway(
        &dist,
        &[
            "--providers",
            file.to_str().unwrap(),
            "--offline-tokens-per-second",
            "1000",
        ],
    )
    .await;
    drive(&browser.client, &app).await;
    browser.close().await;
}

async fn drive(browser: &Client, app: &str) {
    browser.goto(app).await.unwrap();
    // The models arrive from the gateway, each under its provider.
    wait_for_text(browser, ".composer__models", |text| {
        text.contains("gemini-fake")
    })
    .await;
    assert_eq!(
        texts(browser, ".composer__provider").await,
        ["local", "openai", "anthropic", "google", "ollama", "down"],
        "the offline models under who serves them, then each provider in the order configured"
    );
    let under_google = evaluate(
        browser,
        "const name = [...document.querySelectorAll('.composer__provider')]
             .find(name => name.textContent === 'google');
         return name.nextElementSibling.dataset.model;",
    )
    .await;
    assert_eq!(
        under_google, "google/gemini-fake",
        "a provider's models follow its name"
    );

    // One prompt on one model of each of four providers, in one batch.
    click(browser, ".composer__model[data-model=offline-echo] input").await; // chosen by default
    for id in [
        "openai/gpt-fake",
        "anthropic/claude-fake",
        "google/gemini-fake",
        "ollama/llama-fake",
    ] {
        click(
            browser,
            &format!(".composer__model[data-model='{id}'] input"),
        )
        .await;
    }
    find(browser, ".composer__prompt")
        .await
        .send_keys("Say hello")
        .await
        .unwrap();
    click(browser, ".composer__execute").await;
    wait_for_text(browser, ".history__count", |text| text == "4 runs").await;
    wait_for_text(browser, "[data-status=success] .filters__count", |text| {
        text == "4"
    })
    .await;
    let columns = evaluate(
        browser,
        "return [...document.querySelectorAll('.batch__run')].map(run => [
             run.querySelector('h4').textContent,
             run.querySelector('.batch__output').textContent,
             run.getBoundingClientRect().top,
             run.getBoundingClientRect().left]);",
    )
    .await;
    let columns = columns.as_array().unwrap();
    assert_eq!(columns.len(), 4, "four answers compared: {columns:?}");
    let mut answers: Vec<(String, String)> = columns
        .iter()
        .map(|column| {
            (
                column[0].as_str().unwrap().to_owned(),
                column[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    answers.sort();
    assert_eq!(
        answers,
        [
            (
                "anthropic/claude-fake".to_owned(),
                "Hello from Claude".to_owned()
            ),
            (
                "google/gemini-fake".to_owned(),
                "Hello from Gemini".to_owned()
            ),
            (
                "ollama/llama-fake".to_owned(),
                "Hello from Llama".to_owned()
            ),
            ("openai/gpt-fake".to_owned(), "Hello from OpenAI".to_owned()),
        ]
    );
    // Side by side: columns of one comparison (two to a row in the
    // playground's layout, the third below the first).
    let title = find(browser, ".batch h3").await.text().await.unwrap();
    assert_eq!(title, "Same prompt on 4 models");
    let (first, second) = (&columns[0], &columns[1]);
    assert!(
        first[2] == second[2] && first[3].as_f64() < second[3].as_f64(),
        "the first two answers side by side: {columns:?}"
    );

    // The Experiments page: its picker marks the provider not reachable,
    // and its Settings say each provider's status and last error.
    browser.goto(&format!("{app}/experiments/")).await.unwrap();
    // A first visit opens the example; a new experiment is picked from all
    // the models the gateway lists.
    wait_for_text(browser, ".picker__select", |text| text == "Capitals").await;
    click(browser, ".picker__new").await;
    let names = wait_for_answer(
        browser,
        "return [...document.querySelectorAll('.editor__provider')].map(name => name.textContent);",
        (Duration::from_secs(30), Duration::from_millis(100)),
        "the editor marks the provider that cannot be reached",
        |names| {
            let marked = names
                .as_array()?
                .iter()
                .any(|name| name == "down: not reachable (see Settings)");
            marked.then(|| names.clone())
        },
    )
    .await;
    assert_eq!(
        names,
        json!([
            "local",
            "openai",
            "anthropic",
            "google",
            "ollama",
            "down: not reachable (see Settings)"
        ]),
        "only the provider that cannot be reached is marked"
    );

    click(browser, ".app-header__settings summary").await;
    let down = wait_for_text(
        browser,
        ".providers__provider[data-provider=down]",
        |text| text.contains("not reachable"),
    )
    .await;
    assert!(down.contains("down (openai API): not reachable"), "{down}");
    assert!(down.contains("Last error ("), "{down}");
    assert!(
        down.contains("provider down could not be reached"),
        "{down}"
    );
    let google = find(browser, ".providers__provider[data-provider=google]")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        google.contains("google (gemini API): answers and lists its models"),
        "{google}"
    );
    assert!(google.contains("by listing its models"), "{google}");
    assert_eq!(
        texts(browser, ".providers__provider strong").await,
        ["openai", "anthropic", "google", "ollama", "down"]
    );
}
