//! What the browser tests share: the test gateway's address and waiting.
#![allow(dead_code)] // each test file uses its own part

#[cfg(not(target_arch = "wasm32"))]
pub mod csv_table;
#[cfg(target_arch = "wasm32")]
pub mod experiment_page;
#[cfg(target_arch = "wasm32")]
pub mod history;
#[cfg(target_arch = "wasm32")]
pub mod mounted;
#[cfg(not(target_arch = "wasm32"))]
pub mod native_store;
pub mod runs;

/// Where the test gateway listens, compiled in by `cargo xtask test`.
// `env!` would stop every browser test from compiling without a gateway,
// even those that need none; this fails only the tests that do, saying how.
#[allow(clippy::option_env_unwrap)]
pub fn gateway_url() -> &'static str {
    option_env!("PROMPT_RUNS_TEST_GATEWAY").expect(
        "PROMPT_RUNS_TEST_GATEWAY was not set when the tests were built: run them with `cargo xtask test`",
    )
}

/// Where the second test gateway listens: another process on the first
/// one's PostgreSQL, as a team's gateways behind a proxy are.
// `env!` would stop every browser test from compiling without a gateway,
// even those that need none; this fails only the tests that do, saying how.
#[allow(clippy::option_env_unwrap)]
pub fn second_gateway_url() -> &'static str {
    option_env!("PROMPT_RUNS_TEST_SECOND_GATEWAY").expect(
        "PROMPT_RUNS_TEST_SECOND_GATEWAY was not set when the tests were built: run them with `cargo xtask test`",
    )
}

/// Where the third test gateway listens: one that lets each client send 60
/// requests at once, then one a second (`--requests-per-minute 60`).
// `env!` would stop every browser test from compiling without a gateway,
// even those that need none; this fails only the tests that do, saying how.
#[allow(clippy::option_env_unwrap)]
pub fn paced_gateway_url() -> &'static str {
    option_env!("PROMPT_RUNS_TEST_PACED_GATEWAY").expect(
        "PROMPT_RUNS_TEST_PACED_GATEWAY was not set when the tests were built: run them with `cargo xtask test`",
    )
}

pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Waits (up to 10 s) until `condition` holds.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    eventually_within(what, 10, condition).await;
}

/// Waits (up to `seconds`) until `condition` holds.
pub async fn eventually_within(what: &str, seconds: u32, condition: impl Fn() -> bool) {
    for _ in 0..seconds * 50 {
        // Read as a test reads, not as a view: no reactive tracking.
        if leptos::prelude::untrack(&condition) {
            return;
        }
        sleep(20).await;
    }
    panic!("timed out waiting until {what}");
}

/// A store under `owner` with the models (and prices) `client`'s server
/// lists; the test then sets the executor it wants.
#[cfg(target_arch = "wasm32")]
pub async fn store_with_models(
    owner: &leptos::prelude::Owner,
    client: &prompt_runs::api::NeuroForgeClient,
) -> prompt_runs::store::RunsStore {
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let store = owner.with(prompt_runs::store::RunsStore::new);
    store.set_models(
        client
            .models()
            .await
            .expect("the test gateway lists its models"),
    );
    store
}
