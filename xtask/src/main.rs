//! The project's task runner, used as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask setup`: install whatever is missing to build and test the app.
//! - `cargo xtask run`:   setup, then build the app with Trunk and serve it with the gateway.
//! - `cargo xtask test`:  setup, then clippy and the docs (no warning allowed), check the
//!   library's feature sets, run every test (native, with a throwaway PostgreSQL for the
//!   gateway's sync tests; then in headless Chromium), then build the release app and run the
//!   end-to-end tests on it.
//! - `cargo xtask bench`: setup, then the benchmarks natively, the gateway under load, the
//!   history on the server (SQLite and PostgreSQL), in headless Chromium, the release bundle's
//!   size, and the release app's start-up, first paint (beside a minimal Leptos app) and
//!   memory; prints them and writes `target/bench-report.md`.
//! - `cargo xtask with-postgres <command>`: run one command with a throwaway PostgreSQL.
//! - `cargo xtask bundle`: the release build's sizes against the first load's budget.
//! - `cargo xtask browser-test [args…]`: some browser tests, against the test gateways.
//!
//! Setup skips everything that is already installed, so on a warm machine it takes a second.
//! On a fresh Debian machine it installs (see CONTRIBUTING.md for the list):
//! the `wasm32-unknown-unknown` rustup target; the Debian packages `chromium`,
//! `chromium-driver`, `npm` and `postgresql` (and `build-essential` if there is no C compiler);
//! binaryen's `wasm-opt` from npm into `target/tools`;
//! `trunk` 0.21.14 and `wasm-bindgen-cli` at the `wasm-bindgen` version of `Cargo.lock`,
//! both built from crates.io with `cargo install`. Nothing is downloaded as a prebuilt binary.
//!
//! A module per command (`setup`, `run`, `test`, `bench`), the servers the browser tests talk
//! to (`servers`), the throwaway PostgreSQL (`postgres`, with `with-postgres`), and the test
//! that the docs name only paths that exist (`docs_paths`); this file holds the command line
//! and what they share (running commands, printing steps).
//!
//! Deliberately std-only so that it compiles in a couple of seconds.

mod bench;
// A repository rule, checked by `cargo test -p xtask` rather than a command.
#[cfg(test)]
mod docs_paths;
mod postgres;
mod run;
mod servers;
mod setup;
mod test;

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};
use std::time::Instant;

/// The browser's target, for the library, its tests and the examples.
pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The app's package: the one whose tests also run in the browser.
pub(crate) const APP_PACKAGE: &str = "prompt-runs";
/// The gateway's package and binary: serves the app and the API.
pub(crate) const GATEWAY_PACKAGE: &str = "prompt-runs-gateway";
/// Loopback: every server xtask starts listens here only.
pub(crate) const SERVE_ADDRESS: &str = "127.0.0.1";
/// Where `run` serves the app: the client's default base URL (localhost:8000) reaches it.
pub(crate) const DEFAULT_PORT: u16 = 8000;
/// The end-to-end test's package: drives the built app in Chromium.
pub(crate) const E2E_PACKAGE: &str = "prompt-runs-e2e";

/// An error is a sentence for the person running xtask.
pub(crate) type Result<T = ()> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("help");
    let rest = args.get(1..).unwrap_or_default();
    let started = Instant::now();

    let result = prepare_env().and_then(|ctx| match command {
        "setup" => setup::setup(&ctx),
        "run" => setup::setup(&ctx).and_then(|()| run::run(&ctx, rest)),
        "test" => setup::setup(&ctx).and_then(|()| test::test(&ctx)),
        "bench" => setup::setup(&ctx).and_then(|()| bench::bench(&ctx)),
        "with-postgres" => postgres::with_postgres(rest),
        "bundle" => setup::setup(&ctx).and_then(|()| bench::bundle(&ctx)),
        "browser-test" => setup::setup(&ctx).and_then(|()| servers::browser_test(&ctx, rest)),
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
  bundle          the release build's first load and Experiments page, gzipped, against the
                  first load's budget
  browser-test [cargo test args…]
                  browser tests only, against the test gateways, e.g.
                  `cargo xtask browser-test -p prompt-runs --test browser_history`
  with-postgres [--as-shipped] <command…>
                  run a command with a throwaway PostgreSQL server (commits not flushed
                  unless --as-shipped), its URL in {test_url_env}, e.g. `cargo xtask with-postgres cargo test -p {GATEWAY_PACKAGE} --test sync`"
    );
}

/// Paths every command needs.
pub(crate) struct Ctx {
    /// The workspace root (the `prompt-runs` package).
    root: PathBuf,
    /// The `cargo` that runs us, for the nested cargo commands.
    cargo: OsString,
}

impl Ctx {
    /// `cargo <args>` in the workspace root.
    pub(crate) fn cargo(&self, args: &[&str]) -> Command {
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
    let first = [setup::binaryen_bin(&root), cargo_home().join("bin")];
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

/// A loopback port free right now: bound, read, released.
pub(crate) fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind((SERVE_ADDRESS, 0))
        .map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| e.to_string())
}

/// Where the Experiments page is built, under `dist/` (the app links to
/// `/experiments/`).
pub(crate) const EXPERIMENTS_PAGE_DIR: &str = "experiments";

/// `trunk build --release`: the app as it ships, in `dist/`: the playground
/// (`index.html`), then the Experiments page (`experiments.html`, its own
/// bundle) in `dist/experiments/`. In this order, because Trunk empties its
/// output directory first.
pub(crate) fn build_release_app(ctx: &Ctx) -> Result {
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

pub(crate) fn step(title: &str) {
    println!("\n[xtask] ==> {title}");
}

pub(crate) fn ok(what: &str) {
    println!("[xtask]     ok: {what}");
}

pub(crate) fn install(what: &str) {
    println!("[xtask]     installing: {what}");
}

pub(crate) fn done(what: &str, started: Instant) {
    let disk = free_disk()
        .map(|free| format!(", {free} free on disk"))
        .unwrap_or_default();
    println!("[xtask] {what}: ok ({}{disk})", elapsed(started));
}

/// The free space where the build writes, as `df` says it: builds fill disks, and a
/// run that dies of "No space left on device" should show how it got there.
fn free_disk() -> Option<String> {
    let target = env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| ".".into());
    let out = Command::new("df").args(["-Ph"]).arg(target).output().ok()?;
    // `df -P`: a header line, then "filesystem size used available use% mount".
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().nth(1)?;
    line.split_whitespace().nth(3).map(str::to_owned)
}

pub(crate) fn elapsed(started: Instant) -> String {
    let secs = started.elapsed().as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Runs a command, showing its stderr, and returns its stdout; an error if
/// it cannot start or exits non-zero.
pub(crate) fn capture(cmd: &mut Command) -> Result<String> {
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

/// Runs a command with inherited stdio; an error if it cannot start or exits non-zero.
pub(crate) fn run_cmd(cmd: &mut Command) -> Result {
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

pub(crate) fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stdout of a successful command, or `None` if it is missing or fails.
pub(crate) fn output(program: &str, args: &[&str]) -> Option<String> {
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

/// The system chromedriver (installed by setup), which the browser tests drive.
pub(crate) fn chromedriver() -> Result<PathBuf> {
    Ok(which("chromedriver").ok_or("`chromedriver` not found on PATH")?)
}

/// The first executable file called `name` on PATH.
pub(crate) fn which(name: &str) -> Option<PathBuf> {
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

pub(crate) fn is_root() -> bool {
    output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}
