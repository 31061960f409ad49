//! The servers the browser tests and benchmarks talk to: gateways on
//! loopback over a throwaway PostgreSQL, and cargo set up to run the tests in
//! headless Chromium against them.

use crate::postgres::{Durability, TestPostgres};
use crate::{chromedriver, free_port, run_cmd, Ctx, Result, GATEWAY_PACKAGE, SERVE_ADDRESS};
use std::env;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Tells the browser tests (at compile time) where the test gateway listens.
const TEST_GATEWAY_ENV: &str = "PROMPT_RUNS_TEST_GATEWAY";
/// And where a second one listens, sharing the first one's PostgreSQL: two
/// browsers syncing through two gateways, as a team behind a proxy does.
const TEST_SECOND_GATEWAY_ENV: &str = "PROMPT_RUNS_TEST_SECOND_GATEWAY";
/// And a fourth on the same PostgreSQL that holds every answer back until it
/// is complete, as a proxy that buffers does (`--test-buffering`).
const TEST_BUFFERING_GATEWAY_ENV: &str = "PROMPT_RUNS_TEST_BUFFERING_GATEWAY";
/// And where a third one listens, holding each client to
/// [`PACED_REQUESTS_PER_MINUTE`]: the runner's pacing meets a real rate limit.
const TEST_PACED_GATEWAY_ENV: &str = "PROMPT_RUNS_TEST_PACED_GATEWAY";
/// The paced gateway's limit: a burst of this many, then one a second, so
/// that a test sending a few more than that waits a second or two, twice.
const PACED_REQUESTS_PER_MINUTE: &str = "60";
/// Where `wasm-bindgen-test-runner` serves its test page (it reads this
/// variable; otherwise it picks a random port). Pinned so that the test
/// gateway can allow exactly that page's origin, rather than every origin.
const TEST_RUNNER_ADDRESS_ENV: &str = "WASM_BINDGEN_TEST_ADDRESS";

/// A gateway started for the browser tests, stopped (and its history
/// deleted) when dropped.
struct TestGateway {
    child: Child,
    url: String,
    /// Its data directory.
    data: PathBuf,
}

impl TestGateway {
    /// Builds and starts the gateway on a free loopback port, with the models
    /// that simulate failures, answering pages of `page_origin` (the test
    /// runner's), its history in `database_url`, with the `extra` flags, and
    /// waits until it listens.
    fn start(
        ctx: &Ctx,
        page_origin: &str,
        database_url: &str,
        extra: &[&str],
    ) -> Result<TestGateway> {
        run_cmd(Command::new(&ctx.cargo).current_dir(&ctx.root).args([
            "build",
            "-p",
            GATEWAY_PACKAGE,
        ]))?;
        let target_dir =
            env::var_os("CARGO_TARGET_DIR").map_or_else(|| ctx.root.join("target"), PathBuf::from);
        let binary = target_dir.join("debug").join(GATEWAY_PACKAGE);
        // Its history database: in a directory of its own, not the person's.
        let data = env::temp_dir().join(format!(
            "prompt-runs-test-gateway-{}-{}",
            std::process::id(),
            free_port()?
        ));
        let mut child = Command::new(&binary)
            .current_dir(&ctx.root)
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--database-url",
                database_url,
                "--addr",
                &format!("{SERVE_ADDRESS}:0"),
                "--test-models",
                "--allow-origin",
                page_origin,
            ])
            .args(extra)
            // Failures only: a line per request would bury the test output.
            .env("PROMPT_RUNS_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        // It prints `… listening on http://127.0.0.1:PORT` once bound.
        let mut first_line = String::new();
        let stdout = child.stdout.take().ok_or("the gateway has no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut first_line)
            .map_err(|e| format!("reading the gateway's address: {e}"))?;
        let url = first_line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .map(str::to_owned);
        let gateway = TestGateway {
            child,
            url: url.unwrap_or_default(),
            data,
        };
        if gateway.url.is_empty() {
            return Err(format!(
                "the gateway did not say where it listens: {first_line:?}"
            ));
        }
        println!("[xtask] test gateway at {}", gateway.url);
        Ok(gateway)
    }
}

/// What the browser tests and benchmarks talk to: four gateways on one
/// throwaway PostgreSQL (the first is the one every client test uses, with
/// the default rate limit; the third has a low one; the fourth buffers every
/// answer as some proxies do), answering the test runner's page, which is
/// pinned at `runner_address`.
pub(crate) struct TestServers {
    runner_address: String,
    // Dropped in this order: the gateways before their database.
    first: TestGateway,
    second: TestGateway,
    paced: TestGateway,
    buffering: TestGateway,
    _postgres: TestPostgres,
}

impl TestServers {
    pub(crate) fn start(ctx: &Ctx) -> Result<TestServers> {
        let runner_address = format!("{SERVE_ADDRESS}:{}", free_port()?);
        let origin = format!("http://{runner_address}");
        let postgres = TestPostgres::start(Durability::Off)?;
        Ok(TestServers {
            first: TestGateway::start(ctx, &origin, &postgres.url, &[])?,
            second: TestGateway::start(ctx, &origin, &postgres.url, &[])?,
            paced: TestGateway::start(
                ctx,
                &origin,
                &postgres.url,
                &["--requests-per-minute", PACED_REQUESTS_PER_MINUTE],
            )?,
            buffering: TestGateway::start(ctx, &origin, &postgres.url, &["--test-buffering"])?,
            _postgres: postgres,
            runner_address,
        })
    }

    /// `cargo` in headless Chromium, told where the servers are.
    pub(crate) fn cargo_in_browser(&self, ctx: &Ctx) -> Result<Command> {
        let mut cargo = cargo_in_browser(ctx)?;
        cargo
            .env(TEST_GATEWAY_ENV, &self.first.url)
            .env(TEST_SECOND_GATEWAY_ENV, &self.second.url)
            .env(TEST_PACED_GATEWAY_ENV, &self.paced.url)
            .env(TEST_BUFFERING_GATEWAY_ENV, &self.buffering.url)
            .env(TEST_RUNNER_ADDRESS_ENV, &self.runner_address);
        Ok(cargo)
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.data);
    }
}

/// `cargo xtask browser-test [args…]`: `cargo test --target wasm32-unknown-unknown [args…]`
/// against the test servers, as step 5 of `cargo xtask test` runs it, for one package, test
/// file or name while working (`browser-test -p prompt-runs --test browser_history`).
pub(crate) fn browser_test(ctx: &Ctx, args: &[String]) -> Result {
    let servers = TestServers::start(ctx)?;
    run_cmd(
        servers
            .cargo_in_browser(ctx)?
            .args(["test", "--target", crate::WASM_TARGET])
            .args(args),
    )
}

/// Cargo set up to run wasm test binaries in headless Chromium:
/// `.cargo/config.toml` makes `wasm-bindgen-test-runner` their runner, which
/// drives the browser through the chromedriver named by CHROMEDRIVER, with the
/// capabilities (headless Chromium's command-line arguments) in webdriver.json.
fn cargo_in_browser(ctx: &Ctx) -> Result<Command> {
    let chromedriver = chromedriver()?;
    let mut cargo = Command::new(&ctx.cargo);
    cargo
        .current_dir(&ctx.root)
        .env("CHROMEDRIVER", chromedriver)
        .env(
            "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
            ctx.root.join("webdriver.json"),
        )
        // The runner's limit is for a whole test binary (20 s by default);
        // the history's tests store and reload 100,000 runs.
        .env("WASM_BINDGEN_TEST_TIMEOUT", "600");
    Ok(cargo)
}
