//! `cargo xtask test`: every check and test, in the order CONTRIBUTING.md gives,
//! stopping at the first failure.

use crate::postgres::{self, Durability, TestPostgres};
use crate::servers::TestServers;
use crate::{
    build_release_app, chromedriver, done, elapsed, run_cmd, step, Ctx, Result, APP_PACKAGE,
    E2E_PACKAGE, WASM_TARGET,
};
use std::process::Command;
use std::time::Instant;

/// The example app that embeds components (`examples/embed`): it must keep building.
const EMBED_EXAMPLE_PACKAGE: &str = "prompt-runs-embed-example";
/// The library's Cargo feature sets an embedder may pick (docs/components.md,
/// "Cargo features"): each must keep compiling for the browser.
const FEATURE_SETS: &[&[&str]] = &[
    &["--no-default-features"],
    &["--no-default-features", "--features", "persist"],
    &["--no-default-features", "--features", "client"],
    &[],
];

/// Runs every step; the first failure stops it with that step's error.
pub(crate) fn test(ctx: &Ctx) -> Result {
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
        "-p",
        EMBED_EXAMPLE_PACKAGE,
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
        "test 3/7: the feature sets docs/components.md promises — cargo check -p {APP_PACKAGE} --target {WASM_TARGET}"
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
        "test 5/7: browser tests in headless Chromium — cargo test -p {APP_PACKAGE} -p {EMBED_EXAMPLE_PACKAGE} --target {WASM_TARGET}"
    ));
    let started = Instant::now();
    // The client's tests talk to a real gateway on loopback; its address is
    // compiled into them. They run in the test runner's page, on a port
    // pinned here, whose origin is the one the gateway lets in.
    let servers = TestServers::start(ctx)?;
    // The embedding example's test too: it runs on the app's own executor.
    run_cmd(servers.cargo_in_browser(ctx)?.args([
        "test",
        "-p",
        APP_PACKAGE,
        "-p",
        EMBED_EXAMPLE_PACKAGE,
        "--target",
        WASM_TARGET,
    ]))?;
    drop(servers);
    done("browser tests", started);

    step("test 6/7: release build of the app — trunk build --release — and the embedding example");
    let started = Instant::now();
    build_release_app(ctx)?;
    // The first load's budget holds on every change, not only when benchmarked.
    println!("{}", crate::bench::bundle_sizes(&ctx.root.join("dist"))?);
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
