//! The project's task runner, used as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask setup`: install whatever is missing to build and test the app.
//! - `cargo xtask run`:   setup, then build the app with Trunk and serve it with the gateway.
//! - `cargo xtask test`:  setup, then clippy and the docs (no warning allowed), check the
//!   library's feature sets, run every
//!   test (native, with a throwaway PostgreSQL
//!   for the gateway's sync tests; then in headless Chromium), then build the release app and
//!   run the end-to-end tests on it.
//! - `cargo xtask bench`: setup, then the benchmarks natively, the gateway under load, the
//!   history on the server (SQLite and PostgreSQL), in headless Chromium, the release bundle's
//!   size, and the release app's start-up, first paint (beside a minimal Leptos app) and
//!   memory; prints them and writes `target/bench-report.md`.
//! - `cargo xtask with-postgres <command>`: run one command with a throwaway PostgreSQL.
//!
//! Setup skips everything that is already installed, so on a warm machine it takes a second.
//! On a fresh Debian machine it installs (see README.md for the list):
//! the `wasm32-unknown-unknown` rustup target; the Debian packages `chromium`,
//! `chromium-driver`, `npm` and `postgresql` (and `build-essential` if there is no C compiler);
//! binaryen's `wasm-opt` from npm into `target/tools`;
//! `trunk` 0.21.14 and `wasm-bindgen-cli` at the `wasm-bindgen` version of `Cargo.lock`,
//! both built from crates.io with `cargo install`. Nothing is downloaded as a prebuilt binary.
//!
//! Deliberately std-only so that it compiles in a couple of seconds.

mod postgres;

use postgres::{Durability, TestPostgres};
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{exit, Child, Command, Stdio};
use std::time::Instant;

/// Trunk is pinned: 0.22 needs a newer rustc, and 0.21 only builds with its own lock file.
const TRUNK_VERSION: &str = "0.21.14";
/// binaryen (wasm-opt) from npm, pinned.
const BINARYEN_VERSION: &str = "132";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The app's package: the one whose tests also run in the browser.
const APP_PACKAGE: &str = "prompt-runs";
/// The gateway's package and binary: serves the app and the API.
const GATEWAY_PACKAGE: &str = "prompt-runs-gateway";
const SERVE_ADDRESS: &str = "127.0.0.1";
/// Where `run` serves the app: the client's default base URL (localhost:8000) reaches it.
const DEFAULT_PORT: u16 = 8000;
/// The example app that embeds components (`examples/embed`): it must keep building.
const EMBED_EXAMPLE_PACKAGE: &str = "prompt-runs-embed-example";
/// The end-to-end test's package: drives the built app in Chromium.
const E2E_PACKAGE: &str = "prompt-runs-e2e";
/// The smallest Leptos app, built like ours: the start-up benchmark's reference.
const REFERENCE_APP_DIR: &str = "examples/minimal-leptos";
/// The library's Cargo feature sets an embedder may pick (README.md, "Cargo
/// features"): each must keep compiling for the browser.
const FEATURE_SETS: &[&[&str]] = &[
    &["--no-default-features"],
    &["--no-default-features", "--features", "persist"],
    &["--no-default-features", "--features", "client"],
    &[],
];
/// Tells the browser tests (at compile time) where the test gateway listens.
const TEST_GATEWAY_ENV: &str = "PROMPT_RUNS_TEST_GATEWAY";
/// And where a second one listens, sharing the first one's PostgreSQL: two
/// browsers syncing through two gateways, as a team behind a proxy does.
const TEST_SECOND_GATEWAY_ENV: &str = "PROMPT_RUNS_TEST_SECOND_GATEWAY";
/// Where `wasm-bindgen-test-runner` serves its test page (it reads this
/// variable; otherwise it picks a random port). Pinned so that the test
/// gateway can allow exactly that page's origin, rather than every origin.
const TEST_RUNNER_ADDRESS_ENV: &str = "WASM_BINDGEN_TEST_ADDRESS";

type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("help");
    let rest = args.get(1..).unwrap_or_default();
    let started = Instant::now();

    let result = prepare_env().and_then(|ctx| match command {
        "setup" => setup(&ctx),
        "run" => setup(&ctx).and_then(|()| run(&ctx, rest)),
        "test" => setup(&ctx).and_then(|()| test(&ctx)),
        "bench" => setup(&ctx).and_then(|()| bench(&ctx)),
        "with-postgres" => with_postgres(rest),
        "help" | "-h" | "--help" => {
            print_help();
            Ok(())
        }
        other => {
            print_help();
            Err(format!("unknown command `{other}`"))
        }
    });

    match result {
        Ok(()) => {
            if command != "help" && command != "-h" && command != "--help" {
                println!("\n[xtask] `{command}` finished in {}", elapsed(started));
            }
        }
        Err(message) => {
            eprintln!("\n[xtask] FAILED: {message}");
            exit(1);
        }
    }
}

fn print_help() {
    let test_url_env = postgres::TEST_URL_ENV;
    println!(
        "\
Usage: cargo xtask <command>

Commands:
  run [--port N]  install what is missing, build the app with Trunk, and serve it with
                  the gateway (app + API + offline models) on http://{SERVE_ADDRESS}:{DEFAULT_PORT}/
  test            install what is missing, then clippy and the docs (no warning allowed),
                  check the library's feature sets for wasm32,
                  run all tests: native `cargo test --workspace`,
                  browser tests in headless Chromium (against a gateway on loopback), a release
                  `trunk build`, and the end-to-end test of the built app
  bench           install what is missing, then run the benchmarks natively, the gateway
                  under load on loopback, in headless Chromium, measure the release bundle
                  and the release app's start-up, first paint and memory (~10 minutes),
                  print it all and write target/bench-report.md
  setup           only install what is missing
  with-postgres [--as-shipped] <command…>
                  run a command with a throwaway PostgreSQL server (commits not flushed
                  unless --as-shipped), its URL in {test_url_env}, e.g. `cargo xtask with-postgres cargo test -p {GATEWAY_PACKAGE} --test sync`"
    );
}

/// Paths every command needs.
struct Ctx {
    /// The workspace root (the `prompt-runs` package).
    root: PathBuf,
    /// The `cargo` that runs us, for the nested cargo commands.
    cargo: OsString,
}

impl Ctx {
    /// `cargo <args>` in the workspace root.
    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.current_dir(&self.root).args(args);
        cmd
    }
}

fn prepare_env() -> Result<Ctx> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent directory")?
        .to_path_buf();

    // Tools installed by `cargo install` land in $CARGO_HOME/bin: make sure we and every
    // child process find them even if the shell's PATH does not include that directory.
    // binaryen's wasm-opt comes first, ahead of any older one on the system.
    let path = env::var_os("PATH").unwrap_or_default();
    let first = [binaryen_bin(&root), cargo_home().join("bin")];
    let rest = env::split_paths(&path).filter(|dir| !first.contains(dir));
    let joined = env::join_paths(first.iter().cloned().chain(rest))
        .map_err(|e| format!("cannot extend PATH: {e}"))?;
    env::set_var("PATH", joined);

    // Trunk would otherwise ask crates.io for a newer trunk on every run; we pin 0.21.14.
    env::set_var("TRUNK_SKIP_VERSION_CHECK", "true");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Ok(Ctx { root, cargo })
}

fn cargo_home() -> PathBuf {
    if let Some(home) = env::var_os("CARGO_HOME") {
        return PathBuf::from(home);
    }
    let home = env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cargo")
}

// ---------------------------------------------------------------------------------------------
// setup

fn setup(ctx: &Ctx) -> Result {
    step("setup: checking tools");
    let started = Instant::now();
    setup_wasm_target()?;
    setup_clippy()?;
    setup_system_packages()?;
    setup_trunk(ctx)?;
    setup_wasm_bindgen(ctx)?;
    setup_wasm_opt(ctx)?;
    println!("[xtask] setup complete ({})", elapsed(started));
    Ok(())
}

fn setup_wasm_target() -> Result {
    let installed = output("rustup", &["target", "list", "--installed"])
        .ok_or("`rustup` not found: install Rust with rustup (https://rustup.rs) first")?;
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        ok(&format!("rust target {WASM_TARGET}"));
        return Ok(());
    }
    install(&format!("rust target {WASM_TARGET}"));
    run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Clippy, which `test` runs: rustup's default profile has it, the minimal one not.
fn setup_clippy() -> Result {
    if output("cargo", &["clippy", "--version"]).is_some() {
        ok("clippy");
        return Ok(());
    }
    install("clippy");
    run_cmd(Command::new("rustup").args(["component", "add", "clippy"]))
}

/// Command-line tools that come from Debian packages: (tool on PATH, package providing it).
const SYSTEM_TOOLS: &[(&str, &str)] = &[
    ("cc", "build-essential"),
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("npm", "npm"),
];

fn setup_system_packages() -> Result {
    let mut missing = Vec::new();
    for (tool, package) in SYSTEM_TOOLS {
        match which(tool) {
            Some(path) => ok(&format!("{tool} ({})", path.display())),
            None => missing.push(*package),
        }
    }
    // The gateway's tests run against a PostgreSQL server of their own;
    // Debian keeps its programs off PATH.
    match postgres::bin_dir() {
        Some(bin) => ok(&format!(
            "PostgreSQL's initdb and pg_ctl ({})",
            bin.display()
        )),
        None => missing.push(postgres::PACKAGE),
    }
    if missing.is_empty() {
        return Ok(());
    }
    install(&format!("Debian packages {}", missing.join(" ")));
    if which("apt-get").is_none() {
        return Err(format!(
            "missing system packages {missing:?} and no `apt-get` on this machine: install \
             Chromium, its chromedriver, npm and PostgreSQL with your package manager, \
             so that `chromium`, `chromedriver`, `npm`, `initdb` and `pg_ctl` are on PATH"
        ));
    }
    let sudo = if is_root() {
        None
    } else if which("sudo").is_some() {
        Some("sudo")
    } else {
        return Err("installing Debian packages needs root (or sudo)".into());
    };
    let apt = |args: &[&str]| {
        let mut cmd = match sudo {
            Some(sudo) => {
                let mut cmd = Command::new(sudo);
                cmd.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
                cmd
            }
            None => Command::new("apt-get"),
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        run_cmd(&mut cmd)
    };
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)?;
    for (tool, _) in SYSTEM_TOOLS {
        if which(tool).is_none() {
            return Err(format!(
                "`{tool}` is still not on PATH after installing {missing:?}"
            ));
        }
    }
    if postgres::bin_dir().is_none() {
        return Err(format!(
            "PostgreSQL's initdb and pg_ctl are still missing (on PATH and in /usr/lib/postgresql/*/bin) after installing {missing:?}"
        ));
    }
    Ok(())
}

fn setup_trunk(ctx: &Ctx) -> Result {
    // `trunk --version` prints `trunk 0.21.14`.
    let current = output("trunk", &["--version"]);
    if version_matches(current.as_deref(), TRUNK_VERSION) {
        ok(&format!("trunk {TRUNK_VERSION}"));
        return Ok(());
    }
    install(&format!(
        "trunk {TRUNK_VERSION} (found: {}) — builds from crates.io, takes ~10 minutes",
        current.as_deref().map(str::trim).unwrap_or("none")
    ));
    // `--locked`: trunk 0.21 does not build against the newest versions of its dependencies.
    run_cmd(
        Command::new(&ctx.cargo)
            .args(["install", "trunk", "--version", TRUNK_VERSION, "--locked"])
            .current_dir(env::temp_dir()),
    )
}

fn setup_wasm_bindgen(ctx: &Ctx) -> Result {
    let version = locked_version(&ctx.root.join("Cargo.lock"), "wasm-bindgen")?;
    // `wasm-bindgen --version` prints `wasm-bindgen 0.2.130`; the same crate provides
    // `wasm-bindgen-test-runner`, so check that both are there.
    let current = output("wasm-bindgen", &["--version"]);
    if version_matches(current.as_deref(), &version) && which("wasm-bindgen-test-runner").is_some()
    {
        ok(&format!("wasm-bindgen-cli {version} (matches Cargo.lock)"));
        return Ok(());
    }
    install(&format!(
        "wasm-bindgen-cli {version} to match Cargo.lock (found: {}) — takes ~3 minutes",
        current.as_deref().map(str::trim).unwrap_or("none")
    ));
    // Not `--locked`: the CLI's published lock file does not build with every toolchain.
    run_cmd(
        Command::new(&ctx.cargo)
            .args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &version,
                "--force",
            ])
            .current_dir(env::temp_dir()),
    )
}

/// Where `setup` installs binaryen's `wasm-opt` (see [`setup_wasm_opt`]).
fn binaryen_bin(root: &Path) -> PathBuf {
    root.join("target/tools/node_modules/binaryen/bin")
}

/// binaryen's `wasm-opt`, for Trunk's release builds. Debian's (version 108)
/// is too old for what current wasm-bindgen emits (reference types): the app
/// it optimizes fails to start. The npm package is a current, pinned build
/// that runs on Node.js, installs in seconds, and lives under `target/tools`.
fn setup_wasm_opt(ctx: &Ctx) -> Result {
    let bin = binaryen_bin(&ctx.root);
    let current = output(
        bin.join("wasm-opt").to_str().unwrap_or_default(),
        &["--version"],
    );
    // `wasm-opt --version` prints `wasm-opt version 132 (version_132)`.
    if !version_matches(current.as_deref(), BINARYEN_VERSION) {
        install(&format!("binaryen {BINARYEN_VERSION} (wasm-opt) from npm"));
        let tools = ctx.root.join("target/tools");
        fs::create_dir_all(&tools)
            .map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
        run_cmd(Command::new("npm").current_dir(&tools).args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
            ".",
            &format!("binaryen@{BINARYEN_VERSION}"),
        ]))?;
    } else {
        ok(&format!("binaryen {BINARYEN_VERSION} (wasm-opt)"));
    }
    Ok(())
}

/// True if `--version` output names exactly `version` (as a whole word).
fn version_matches(output: Option<&str>, version: &str) -> bool {
    output.is_some_and(|text| text.split_whitespace().any(|word| word == version))
}

/// The version of `package` recorded in the lock file `lock` (first match).
fn locked_version(lock: &Path, package: &str) -> Result<String> {
    let text =
        fs::read_to_string(lock).map_err(|e| format!("cannot read {}: {e}", lock.display()))?;
    let wanted = format!("name = \"{package}\"");
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(version.to_string());
            }
        }
    }
    Err(format!("no `{package}` package in {}", lock.display()))
}

// ---------------------------------------------------------------------------------------------
// with-postgres

/// Runs `command` with a PostgreSQL server of its own (for the gateway's
/// tests or its sync benchmark, one at a time), stopped and deleted afterwards.
fn with_postgres(command: &[String]) -> Result {
    // Flushing every commit as shipped (for figures), or not (quicker tests).
    let (durability, command) = match command {
        [flag, rest @ ..] if flag == "--as-shipped" => (Durability::AsShipped, rest),
        _ => (Durability::Off, command),
    };
    let [program, args @ ..] = command else {
        return Err("usage: cargo xtask with-postgres [--as-shipped] <command> [args…]".into());
    };
    let postgres = TestPostgres::start(durability)?;
    run_cmd(
        Command::new(program)
            .args(args)
            .env(postgres::TEST_URL_ENV, &postgres.url),
    )
}

// ---------------------------------------------------------------------------------------------
// run

fn run(ctx: &Ctx, args: &[String]) -> Result {
    let port = match args {
        [] => DEFAULT_PORT,
        [flag, port] if flag == "--port" => port
            .parse()
            .map_err(|_| format!("not a port number: `{port}`"))?,
        _ => {
            return Err(format!(
                "unexpected arguments {args:?}; usage: cargo xtask run [--port N]"
            ))
        }
    };
    step("run: trunk build --release (the app), then the gateway serves it and the API");
    build_release_app(ctx)?;
    println!("[xtask] the app will be at  http://{SERVE_ADDRESS}:{port}/   (Ctrl-C to stop)\n");
    run_cmd(Command::new(&ctx.cargo).current_dir(&ctx.root).args([
        "run",
        "-p",
        GATEWAY_PACKAGE,
        "--",
        "--addr",
        &format!("{SERVE_ADDRESS}:{port}"),
        "--static-dir",
        "dist",
    ]))
}

/// A gateway started for the browser tests, stopped (and its history
/// deleted) when dropped.
struct TestGateway {
    child: Child,
    url: String,
    /// Its data directory.
    data: PathBuf,
}

/// A loopback port free right now: bound, read, released.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((SERVE_ADDRESS, 0))
        .map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| e.to_string())
}

impl TestGateway {
    /// Builds and starts the gateway on a free loopback port, with the models
    /// that simulate failures, answering pages of `page_origin` (the test
    /// runner's), its history in `database_url`, and waits until it listens.
    fn start(ctx: &Ctx, page_origin: &str, database_url: &str) -> Result<TestGateway> {
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

/// What the browser tests and benchmarks talk to: two gateways on one
/// throwaway PostgreSQL (the first is the one every client test uses),
/// answering the test runner's page, which is pinned at `runner_address`.
struct TestServers {
    runner_address: String,
    // Dropped in this order: the gateways before their database.
    first: TestGateway,
    second: TestGateway,
    _postgres: TestPostgres,
}

impl TestServers {
    fn start(ctx: &Ctx) -> Result<TestServers> {
        let runner_address = format!("{SERVE_ADDRESS}:{}", free_port()?);
        let origin = format!("http://{runner_address}");
        let postgres = TestPostgres::start(Durability::Off)?;
        Ok(TestServers {
            first: TestGateway::start(ctx, &origin, &postgres.url)?,
            second: TestGateway::start(ctx, &origin, &postgres.url)?,
            _postgres: postgres,
            runner_address,
        })
    }

    /// `cargo` in headless Chromium, told where the servers are.
    fn cargo_in_browser(&self, ctx: &Ctx) -> Result<Command> {
        let mut cargo = cargo_in_browser(ctx)?;
        cargo
            .env(TEST_GATEWAY_ENV, &self.first.url)
            .env(TEST_SECOND_GATEWAY_ENV, &self.second.url)
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

// ---------------------------------------------------------------------------------------------
// test

fn test(ctx: &Ctx) -> Result {
    let total = Instant::now();

    step("test 1/7: clippy, native and wasm32 — cargo clippy --all-targets -- -D warnings");
    let started = Instant::now();
    // First: the docs and the native tests reuse what it checks.
    run_cmd(&mut ctx.cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run_cmd(&mut ctx.cargo(&[
        "clippy",
        "-p",
        APP_PACKAGE,
        "--target",
        WASM_TARGET,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    done("clippy", started);

    step("test 2/7: the docs build without a warning — cargo doc --no-deps, native and wasm32");
    let started = Instant::now();
    // The library and the gateway deny missing docs; this also refuses
    // broken links and examples that no longer parse.
    for target in [None, Some(WASM_TARGET)] {
        let mut doc = ctx.cargo(&["doc", "--no-deps"]);
        doc.env("RUSTDOCFLAGS", "-D warnings");
        match target {
            None => doc.arg("--workspace"),
            Some(target) => doc.args(["-p", APP_PACKAGE, "--target", target]),
        };
        run_cmd(&mut doc)?;
    }
    done("docs", started);

    step(&format!(
        "test 3/7: the feature sets README.md promises — cargo check -p {APP_PACKAGE} --target {WASM_TARGET}"
    ));
    let started = Instant::now();
    for features in FEATURE_SETS {
        let mut check = ctx.cargo(&["check", "-p", APP_PACKAGE, "--target", WASM_TARGET]);
        check.args(*features);
        run_cmd(&mut check)?;
    }
    done("feature sets", started);

    step("test 4/7: native tests — cargo test --workspace");
    let started = Instant::now();
    // The gateway's sync tests run on SQLite and on this real PostgreSQL,
    // stopped and deleted when they end, passed or not.
    let postgres = TestPostgres::start(Durability::Off)?;
    // The end-to-end test needs the release build: it runs last.
    run_cmd(
        Command::new(&ctx.cargo)
            .current_dir(&ctx.root)
            .env(postgres::TEST_URL_ENV, &postgres.url)
            .args(["test", "--workspace", "--exclude", E2E_PACKAGE]),
    )?;
    drop(postgres);
    done("native tests", started);

    step(&format!(
        "test 5/7: browser tests in headless Chromium — cargo test -p {APP_PACKAGE} --target {WASM_TARGET}"
    ));
    let started = Instant::now();
    // The client's tests talk to a real gateway on loopback; its address is
    // compiled into them. They run in the test runner's page, on a port
    // pinned here, whose origin is the one the gateway lets in.
    let servers = TestServers::start(ctx)?;
    run_cmd(servers.cargo_in_browser(ctx)?.args([
        "test",
        "-p",
        APP_PACKAGE,
        "--target",
        WASM_TARGET,
    ]))?;
    drop(servers);
    done("browser tests", started);

    step("test 6/7: release build of the app — trunk build --release — and the embedding example");
    let started = Instant::now();
    build_release_app(ctx)?;
    run_cmd(Command::new(&ctx.cargo).current_dir(&ctx.root).args([
        "build",
        "-p",
        EMBED_EXAMPLE_PACKAGE,
        "--target",
        WASM_TARGET,
    ]))?;
    done("app and embedding example builds", started);

    step(&format!(
        "test 7/7: end to end — the built app, the gateway and headless Chromium — cargo test -p {E2E_PACKAGE}"
    ));
    let started = Instant::now();
    // The test starts this chromedriver itself.
    let chromedriver = chromedriver()?;
    run_cmd(
        Command::new(&ctx.cargo)
            .current_dir(&ctx.root)
            .env("CHROMEDRIVER", &chromedriver)
            .args(["test", "-p", E2E_PACKAGE, "--", "--nocapture"]),
    )?;
    done("end-to-end test", started);

    println!("\n[xtask] all tests passed ({})", elapsed(total));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// bench

fn bench(ctx: &Ctx) -> Result {
    let mut report = format!(
        "# prompt-runs benchmarks\n\nMachine: {}\n\n",
        machine_description()
    );
    for (name, what) in [
        ("storage_size", "Storage size of typical runs (native)"),
        (
            "store_scaling",
            "The store against a naive baseline (native)",
        ),
        ("experiment_scale", "Experiments at scale (native)"),
        (
            "model_percentiles",
            "Per-model percentiles, kept against recomputed (native)",
        ),
    ] {
        step(&format!("bench: {what} — cargo bench --bench {name}"));
        let printed = capture(Command::new(&ctx.cargo).current_dir(&ctx.root).args([
            "bench",
            "-p",
            APP_PACKAGE,
            "--bench",
            name,
        ]))?;
        print!("{printed}");
        report += &format!("## {what}\n\n```\n{printed}```\n\n");
    }

    step("bench: the gateway under load on loopback — cargo bench -p prompt-runs-gateway --bench load");
    let printed = capture(Command::new(&ctx.cargo).current_dir(&ctx.root).args([
        "bench",
        "-p",
        GATEWAY_PACKAGE,
        "--bench",
        "load",
    ]))?;
    print!("{printed}");
    report += &format!("{}\n\n", printed.trim_end());

    step("bench: runs kept on the server, SQLite and PostgreSQL — cargo bench -p prompt-runs-gateway --bench sync");
    // Flushing every commit, as a real server does: these are figures.
    let postgres = TestPostgres::start(Durability::AsShipped)?;
    let printed = capture(
        Command::new(&ctx.cargo)
            .current_dir(&ctx.root)
            .env(postgres::TEST_URL_ENV, &postgres.url)
            .args(["bench", "-p", GATEWAY_PACKAGE, "--bench", "sync"]),
    )?;
    drop(postgres);
    print!("{printed}");
    report += &format!("{}\n\n", printed.trim_end());

    step("bench: in headless Chromium — cargo test --release --bench browser");
    // Its sync figures go through two gateways on one PostgreSQL.
    let servers = TestServers::start(ctx)?;
    let printed = capture(servers.cargo_in_browser(ctx)?.args([
        "test",
        "--release",
        "-p",
        APP_PACKAGE,
        "--target",
        WASM_TARGET,
        "--bench",
        "browser",
        "--",
        "--nocapture",
    ]))?;
    drop(servers);
    let browser_report = printed_report(&printed, "BENCHMARK REPORT")
        .map(|report| {
            report.replace(
                "# prompt-runs in headless Chromium",
                "## In headless Chromium",
            )
        })
        .ok_or("the browser benchmark printed no report")?;
    println!("{browser_report}");
    report += &browser_report;

    step("bench: bundle size — trunk build --release");
    build_release_app(ctx)?;
    let bundle = bundle_sizes(&ctx.root.join("dist"))?;
    println!("{bundle}");
    report += &format!("\n\n{bundle}");

    // Needs the release app just built, and the reference app beside it.
    step(&format!(
        "bench: start-up, first paint and memory of the release build — trunk build --release in {REFERENCE_APP_DIR}, then cargo bench -p {E2E_PACKAGE} --bench startup"
    ));
    run_cmd(
        Command::new("trunk")
            .current_dir(ctx.root.join(REFERENCE_APP_DIR))
            .args(["build", "--release"]),
    )?;
    // The benchmark starts this chromedriver itself; its progress goes to stderr.
    let printed = capture(
        Command::new(&ctx.cargo)
            .current_dir(&ctx.root)
            .env("CHROMEDRIVER", chromedriver()?)
            .args(["bench", "-p", E2E_PACKAGE, "--bench", "startup"]),
    )?;
    let startup_report = printed_report(&printed, "STARTUP REPORT")
        .ok_or("the start-up benchmark printed no report")?;
    println!("{startup_report}");
    report += &format!("\n{startup_report}\n");

    let path = ctx.root.join("target/bench-report.md");
    fs::write(&path, &report).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("\n[xtask] report written to {}", path.display());
    Ok(())
}

/// What a benchmark printed between `<marker> START` and `<marker> END`.
fn printed_report(printed: &str, marker: &str) -> Option<String> {
    printed
        .split_once(&format!("{marker} START"))
        .and_then(|(_, rest)| rest.split_once(&format!("{marker} END")))
        .map(|(report, _)| report.trim().to_owned())
}

/// Where the Experiments page is built, under `dist/` (the app links to
/// `/experiments/`).
const EXPERIMENTS_PAGE_DIR: &str = "experiments";

/// The budget for the release app: `.wasm` and `.js` together, gzipped. Issue 6 says
/// 250 KB; read strictly as 250,000 bytes rather than 250 KiB.
const BUNDLE_BUDGET_GZIP_BYTES: usize = 250_000;

/// Raw and gzip sizes of the release `.wasm` and `.js`: the first load (the
/// playground, in `dist`) against the budget, then the Experiments page (in
/// `dist/experiments`), loaded only when opened.
fn bundle_sizes(dist: &Path) -> Result<String> {
    let mut table = String::from(
        "## Bundle (release build)\n\n| page | file | bytes | gzip -9 bytes |\n| --- | --- | ---: | ---: |\n",
    );
    let first_load = page_bundle(dist, "first load (/)", &mut table)?;
    let experiments = page_bundle(
        &dist.join(EXPERIMENTS_PAGE_DIR),
        "Experiments page (/experiments/)",
        &mut table,
    )?;
    let verdict = if first_load <= BUNDLE_BUDGET_GZIP_BYTES {
        "within"
    } else {
        "OVER"
    };
    table += &format!(
        "\nFirst load, .wasm + .js gzipped: {first_load} bytes, {verdict} the budget of {BUNDLE_BUDGET_GZIP_BYTES} bytes. \
         The Experiments page, when opened: {experiments} bytes.\n"
    );
    Ok(table)
}

/// Adds the `.wasm` and `.js` files in `dir` to `table` as `page`'s; returns
/// their gzip total.
fn page_bundle(dir: &Path, page: &str, table: &mut String) -> Result<usize> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "wasm" || ext == "js")
        })
        .collect();
    files.sort();
    let mut total_gzip = 0;
    for file in files {
        let raw = fs::metadata(&file).map_err(|e| e.to_string())?.len() as usize;
        let gzip = gzipped_len(&file)?;
        total_gzip += gzip;
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        *table += &format!("| {page} | {name} | {raw} | {gzip} |\n");
    }
    Ok(total_gzip)
}

// ---------------------------------------------------------------------------------------------
// helpers

fn step(title: &str) {
    println!("\n[xtask] ==> {title}");
}

fn ok(what: &str) {
    println!("[xtask]     ok: {what}");
}

fn install(what: &str) {
    println!("[xtask]     installing: {what}");
}

fn done(what: &str, started: Instant) {
    println!("[xtask] {what}: ok ({})", elapsed(started));
}

fn elapsed(started: Instant) -> String {
    let secs = started.elapsed().as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Size of `file` compressed with `gzip -9`.
fn gzipped_len(file: &Path) -> Result<usize> {
    let mut cmd = Command::new("gzip");
    cmd.arg("-9c").arg(file).stderr(Stdio::inherit());
    let out = cmd
        .output()
        .map_err(|e| format!("could not run `{}`: {e}", show(&cmd)))?;
    if out.status.success() {
        Ok(out.stdout.len())
    } else {
        Err(format!("`{}` failed ({})", show(&cmd), out.status))
    }
}

/// Runs a command, showing its stderr, and returns its stdout; an error if
/// it cannot start or exits non-zero.
fn capture(cmd: &mut Command) -> Result<String> {
    let shown = show(cmd);
    println!("[xtask] $ {shown}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        print!("{stdout}");
        Err(format!("`{shown}` failed ({})", out.status))
    }
}

/// CPU model, core count and browser version, for the benchmark report.
fn machine_description() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, name)| name.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let browser = output("chromium", &["--version"]).unwrap_or_default();
    format!("{model}, {cores} cores; {}", browser.trim())
}

/// Runs a command with inherited stdio; an error if it cannot start or exits non-zero.
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

/// `trunk build --release`: the app as it ships, in `dist/`: the playground
/// (`index.html`), then the Experiments page (`experiments.html`, its own
/// bundle) in `dist/experiments/`. In this order, because Trunk empties its
/// output directory first.
fn build_release_app(ctx: &Ctx) -> Result {
    run_cmd(
        Command::new("trunk")
            .current_dir(&ctx.root)
            .args(["build", "--release"]),
    )?;
    let dist = format!("dist/{EXPERIMENTS_PAGE_DIR}");
    let public_url = format!("/{EXPERIMENTS_PAGE_DIR}/");
    run_cmd(Command::new("trunk").current_dir(&ctx.root).args([
        "build",
        "--release",
        "--dist",
        &dist,
        "--public-url",
        &public_url,
        "experiments.html",
    ]))
}

fn run_cmd(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    println!("[xtask] $ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stdout of a successful command, or `None` if it is missing or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first executable file called `name` on PATH.
/// The system chromedriver (installed by setup), which the browser tests drive.
fn chromedriver() -> Result<PathBuf> {
    Ok(which("chromedriver").ok_or("`chromedriver` not found on PATH")?)
}

fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

fn is_root() -> bool {
    output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matching_is_exact() {
        assert!(version_matches(Some("trunk 0.21.14\n"), "0.21.14"));
        assert!(!version_matches(Some("trunk 0.21.1\n"), "0.21.14"));
        assert!(!version_matches(Some("trunk 0.21.140\n"), "0.21.14"));
        assert!(!version_matches(None, "0.21.14"));
    }

    #[test]
    fn reads_the_wasm_bindgen_version_from_the_lock_file() {
        let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        let version = locked_version(&lock, "wasm-bindgen").unwrap();
        assert!(version.starts_with("0.2."), "{version}");
        assert!(locked_version(&lock, "no-such-package").is_err());
    }
}
