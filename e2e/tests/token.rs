//! The app served by a gateway that requires its access token (`--token`),
//! as a person meets it: opened without the token it says what to do; the
//! token pasted in Settings works; opened with the address the gateway
//! prints (`/?token=…`) it executes a prompt, and the token leaves the
//! address bar; the API without the token answers 401.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A separate test binary
//! from `app.rs`, so that the two browsers do not run at once.

use clap::Parser;
use fantoccini::{key::Key, Client, ClientBuilder, Locator};
use prompt_runs_gateway::GatewayConfig;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const TOKEN: &str = "e2e-0123456789abcdef";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Serves `dist/` with a token required, on a free loopback port.
async fn start_gateway() -> String {
    let dist = workspace_root().join("dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} has no built app: run `trunk build --release` (cargo xtask test does)",
        dist.display()
    );
    // `serve` opens the history database too: one of this test's own, not
    // the person's (a few kilobytes left in the temporary directory).
    let data = std::env::temp_dir().join(format!("prompt-runs-e2e-token-{}", std::process::id()));
    let config = GatewayConfig::parse_from([
        "prompt-runs-gateway",
        "--data-dir",
        data.to_str().unwrap(),
        "--static-dir",
        dist.to_str().unwrap(),
        "--offline-tokens-per-second",
        "1000",
        "--token",
        TOKEN,
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(prompt_runs_gateway::serve(listener, config));
    url
}

/// Starts chromedriver on a free port; killed when dropped.
async fn start_chromedriver() -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
    let driver = Command::new(&program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {program}: {error}"));
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start listening on {url}");
}

async fn headless_chromium(driver_url: &str, profile: &Path) -> Client {
    // Two rustls crypto backends are enabled in the workspace: pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let capabilities = json!({
        "goog:chromeOptions": {
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1280,1100",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(driver_url)
        .await
        .expect("WebDriver session with headless Chromium")
}

/// Waits up to 20 s for `selector` to match something whose text satisfies `check`.
async fn wait_for_text(browser: &Client, selector: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(selector)).await {
            last = element.text().await.unwrap_or_default();
            if check(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {selector}; last text: {last:?}");
}

/// Runs `script` in the page and returns what it returns (awaited, if a promise).
async fn in_page(browser: &Client, script: &str) -> serde_json::Value {
    browser
        .execute(script, vec![])
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_the_app_takes_it_from_its_address_or_from_settings() {
    let app = start_gateway().await;
    let (_driver, driver_url) = start_chromedriver().await;
    let profile =
        std::env::temp_dir().join(format!("prompt-runs-e2e-token-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let browser = headless_chromium(&driver_url, &profile).await;
    let outcome = drive(&browser, &app).await;
    let _ = browser.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    outcome
}

async fn drive(browser: &Client, app: &str) {
    let models_listed = |text: &str| text.contains("Offline demo, slow");

    // Without the token: the app says what to do.
    browser.goto(app).await.unwrap();
    wait_for_text(browser, ".error-banner__message", |text| {
        text.contains("needs its access token") && text.contains("paste the token in Settings")
    })
    .await;
    assert_eq!(
        in_page(
            browser,
            "return fetch('/api/v1/models').then(r => r.status)"
        )
        .await,
        json!(401),
        "the API without the token"
    );

    // Pasted in Settings: it is kept, and the models load.
    browser
        .find(Locator::Css(".app-header__settings summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let field = browser
        .find(Locator::Css(".settings__token-input"))
        .await
        .unwrap();
    // Typed, then Tab: the field's change event keeps it.
    let tab = char::from(Key::Tab);
    field.send_keys(&format!("{TOKEN}{tab}")).await.unwrap();
    wait_for_text(browser, ".composer__models", models_listed).await;
    assert_eq!(
        in_page(browser, "return localStorage.getItem('prompt-runs:token')").await,
        json!(TOKEN)
    );

    // Forgotten, then opened as the gateway prints it: the token leaves the
    // address (and its other parts stay), and a prompt runs.
    in_page(browser, "localStorage.removeItem('prompt-runs:token')").await;
    browser
        .goto(&format!("{app}/?view=all&token={TOKEN}#top"))
        .await
        .unwrap();
    wait_for_text(browser, ".composer__models", models_listed).await;
    let address = browser.current_url().await.unwrap();
    assert_eq!(address.as_str(), format!("{app}/?view=all#top"));
    assert_eq!(
        in_page(browser, "return localStorage.getItem('prompt-runs:token')").await,
        json!(TOKEN)
    );
    browser
        .find(Locator::Css(".composer__prompt"))
        .await
        .unwrap()
        .send_keys("Run with the token")
        .await
        .unwrap();
    browser
        .find(Locator::Css(".composer__execute"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(browser, "[data-status=success] .filters__count", |text| {
        text == "1"
    })
    .await;
    let output = wait_for_text(browser, ".viewer__output", |text| !text.is_empty()).await;
    assert!(output.contains("Run with the token"), "{output}");

    // The page's own requests carry it; a bare one still does not pass.
    assert_eq!(
        in_page(
            browser,
            "return fetch('/api/v1/models').then(r => r.status)"
        )
        .await,
        json!(401)
    );
}
