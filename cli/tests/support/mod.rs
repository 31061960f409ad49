//! What the command line's tests share: a real gateway on a free loopback
//! port (the gateway's own `serve`, as its binary runs it, with its offline
//! models), fake providers (the gateway tests' own, [`fake_provider`]), the
//! `prompt-runs` binary run as a CI job runs it, and files in a directory of
//! the test's own.
#![allow(dead_code)] // each test binary uses some of it

/// The gateway tests' fake providers, shared rather than written again.
#[path = "../../../gateway/tests/support/fake_provider.rs"]
pub mod fake_provider;

use clap::Parser;
use prompt_runs_gateway::GatewayConfig;
use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A gateway serving on loopback until dropped (its runtime ends with it).
pub struct TestGateway {
    /// Its base URL.
    pub url: String,
    _runtime: tokio::runtime::Runtime,
    _data: tempfile::TempDir,
}

impl TestGateway {
    /// A gateway with the offline models (and the test ones, such as
    /// `offline-fail-500`), answering at `tokens_per_second`, with its extra
    /// command-line `flags`.
    pub fn start(tokens_per_second: u32, flags: &[&str]) -> TestGateway {
        let data = tempfile::tempdir().expect("a temporary directory");
        let dir = data.path().to_str().expect("a UTF-8 path").to_owned();
        let rate = tokens_per_second.to_string();
        let mut args = vec![
            "prompt-runs-gateway",
            "--static-dir",
            &dir,
            "--data-dir",
            &dir,
            "--test-models",
            "--offline-tokens-per-second",
            &rate,
        ];
        args.extend(flags);
        let config = GatewayConfig::parse_from(args);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the gateway");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a free loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        runtime.spawn(prompt_runs_gateway::serve(listener, config));
        TestGateway {
            url,
            _runtime: runtime,
            _data: data,
        }
    }
}

/// A loopback address where nothing listens.
pub fn nowhere() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// The workspace's `examples/experiments/capitals.json`.
pub fn capitals() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/experiments/capitals.json")
}

/// A one-column table of countries, as the example's: `"France\nJapan\n"`.
pub fn countries(names: &str) -> prompt_runs::experiment::InputTable {
    let csv = format!("country\n{names}");
    prompt_runs::experiment::InputTable::parse(
        csv.as_bytes(),
        prompt_runs::experiment::InputFormat::Csv,
    )
    .expect("a table of countries")
}

/// `prompt-runs` with `args`, its cache in `cache`, and no token, gateway
/// or providers file from the test's environment.
pub fn prompt_runs(cache: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prompt-runs"));
    command
        .args(args)
        .env("PROMPT_RUNS_CACHE_DIR", cache)
        .env_remove("PROMPT_RUNS_TOKEN")
        .env_remove("PROMPT_RUNS_GATEWAY")
        .env_remove("PROMPT_RUNS_PROVIDERS");
    command
}

/// Runs `command` (owned, or borrowed after setting more on it) to its end.
pub fn run(mut command: impl BorrowMut<Command>) -> Output {
    let output = command.borrow_mut().output().expect("prompt-runs runs");
    eprintln!(
        "--- prompt-runs exited {:?}\n--- stdout:\n{}--- stderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes `text` to `name` in `dir`; returns its path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("a writable test directory");
    path
}

/// The stdout and stderr of `output`, as text.
pub fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
