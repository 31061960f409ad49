//! End to end through a real server that speaks OpenAI's and Anthropic's
//! APIs: LiteLLM's proxy (`cargo xtask setup` installs it under
//! `target/tools/litellm`), started on a free loopback port with mock
//! answers (no network, no account). The gateway's `openai` and
//! `anthropic` adapters run prompts through it, plainly and streamed.
//! Without the proxy the test fails, saying how to install it: it never
//! passes without it.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use clap::Parser;
use prompt_runs_gateway::{router, GatewayConfig, Settings};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MASTER_KEY: &str = "sk-litellm-test-master";
const ANSWER: &str = "Hello from LiteLLM";

/// The proxy, killed when dropped.
struct Proxy {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn litellm() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools/litellm/bin/litellm");
    assert!(
        path.exists(),
        "LiteLLM's proxy is not installed at {}: run `cargo xtask setup` (it installs it in a venv there)",
        path.display()
    );
    path
}

async fn start_proxy() -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:
  - model_name: gpt-mock
    litellm_params: {{model: openai/gpt-4o-mini, api_key: sk-none, mock_response: \"{ANSWER}\"}}
  - model_name: claude-mock
    litellm_params: {{model: anthropic/claude-3-5-haiku-20241022, api_key: sk-none, mock_response: \"{ANSWER}\"}}
general_settings:
  master_key: {MASTER_KEY}
"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(litellm())
        .args([
            "--config",
            config.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .env("LITELLM_LOG", "ERROR")
        .env("NO_DOCS", "True")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("LiteLLM's proxy starts");
    let proxy = Proxy {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let live = http
            .get(format!("{}/health/liveliness", proxy.url))
            .send()
            .await;
        if live.is_ok_and(|answer| answer.status().is_success()) {
            return proxy;
        }
        assert!(
            Instant::now() < deadline,
            "LiteLLM's proxy did not answer within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn call(app: axum::Router, path: &str, body: Value) -> (StatusCode, String) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer gateway-token")
        .body(Body::from(body.to_string()))
        .unwrap();
    let answer = support::send(app, request).await;
    (answer.status, answer.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_run_through_litellm_in_openais_and_anthropics_formats() {
    let proxy = start_proxy().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "[[providers]]\nname = \"gpt\"\nkind = \"openai\"\nbase_url = \"{url}/v1\"\napi_key_env = \"LITELLM_TEST_KEY\"\nmodels = [\"gpt-mock\"]\n\n\
             [[providers]]\nname = \"claude\"\nkind = \"anthropic\"\nbase_url = \"{url}\"\napi_key_env = \"LITELLM_TEST_KEY\"\nmodels = [\"claude-mock\"]\n",
            url = proxy.url
        ),
    )
    .unwrap();
    std::env::set_var("LITELLM_TEST_KEY", MASTER_KEY);
    let config = GatewayConfig::parse_from([
        "gw",
        "--token",
        "gateway-token",
        "--providers",
        file.path().to_str().unwrap(),
    ]);
    let app = router(Settings::from_config(config).unwrap(), None);

    for model in ["gpt/gpt-mock", "claude/claude-mock"] {
        let (status, body) = call(
            app.clone(),
            "/api/v1/workbench/execute",
            json!({"prompt": "Say hello", "model_id": model}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{model}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["output"], ANSWER, "{model}");
        assert!(
            answer["usage"]["total_tokens"].as_u64().unwrap() > 0,
            "{model}: {body}"
        );

        let (status, body) = call(
            app.clone(),
            "/api/v1/workbench/execute/stream",
            json!({"prompt": "Say hello", "model_id": model}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{model}: {body}");
        let done = body
            .rsplit("\n\n")
            .find(|block| !block.trim().is_empty())
            .unwrap();
        let done: Value = serde_json::from_str(
            done.strip_prefix("event: done\ndata: ")
                .unwrap_or_else(|| panic!("{model}: {body}")),
        )
        .unwrap();
        assert_eq!(done["output"], ANSWER, "{model}: {body}");
        assert_eq!(done["provider"], model.split('/').next().unwrap());
    }

    let (status, body) = call(app.clone(), "/api/v1/execute", json!({"prompt": "Side by side", "model_ids": ["gpt/gpt-mock", "claude/claude-mock", "offline-echo"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs: Value = serde_json::from_str(&body).unwrap();
    let outputs: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["output"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(&outputs[..2], [ANSWER, ANSWER], "{body}");

    // A wrong key: LiteLLM's refusal, relayed in words, without the key.
    std::env::set_var("LITELLM_TEST_WRONG_KEY", "sk-wrong-litellm-key");
    let wrong = std::fs::read_to_string(file.path())
        .unwrap()
        .replace("LITELLM_TEST_KEY", "LITELLM_TEST_WRONG_KEY");
    std::fs::write(file.path(), wrong).unwrap();
    let config = GatewayConfig::parse_from([
        "gw",
        "--token",
        "gateway-token",
        "--providers",
        file.path().to_str().unwrap(),
    ]);
    let app = router(Settings::from_config(config).unwrap(), None);
    let (status, body) = call(
        app,
        "/api/v1/workbench/execute",
        json!({"prompt": "x", "model_id": "gpt/gpt-mock"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    // LiteLLM without a database refuses keys other than its master key
    // with 400 "No connected db."; whatever it says is relayed.
    assert!(body.contains("provider gpt answered 4"), "{body}");
    assert!(!body.contains("sk-wrong-litellm-key"), "{body}");
}
