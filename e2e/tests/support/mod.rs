//! What an end-to-end test needs around the browser: the gateway serving
//! `dist/`, chromedriver, a headless Chromium session, and waiting for text.
//! (`app.rs` and `token.rs` hold their own copies from before this module;
//! new tests use this one.)
#![allow(dead_code)] // each test uses its part

use clap::Parser;
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use prompt_runs_gateway::GatewayConfig;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Serves `dist/` and the API with the offline models on a free loopback
/// port, with `flags` added to the gateway's command line.
pub async fn start_gateway(flags: &[&str]) -> String {
    let dist = workspace_root().join("dist");
    assert!(
        dist.join("index.html").is_file(),
        "{} has no built app: run `trunk build --release` (cargo xtask test does)",
        dist.display()
    );
    let mut args = vec![
        "prompt-runs-gateway",
        "--static-dir",
        dist.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let config = GatewayConfig::parse_from(args);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(prompt_runs_gateway::serve(listener, config));
    url
}

/// Starts chromedriver on a free port; killed when dropped.
pub async fn start_chromedriver() -> (Child, String) {
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

/// A headless Chromium session `width`×`height`, with its profile in `profile`.
pub async fn headless_chromium(
    driver_url: &str,
    profile: &Path,
    width: u32,
    height: u32,
) -> Client {
    // The workspace enables two rustls crypto backends (the gateway's reqwest
    // and fantoccini pick different ones), so rustls cannot choose: pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", format!("--window-size={width},{height}"),
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

/// Waits up to 30 s for `selector` to match something whose text satisfies `check`.
pub async fn wait_for_text(
    browser: &Client,
    selector: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
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

/// The first element matching `selector`.
pub async fn find(browser: &Client, selector: &str) -> Element {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|error| panic!("{selector}: {error}"))
}

/// Clicks the first element matching `selector`.
pub async fn click(browser: &Client, selector: &str) {
    find(browser, selector).await.click().await.unwrap();
}

/// Runs `script` (a function body) in the page and returns its JSON result.
pub async fn evaluate(browser: &Client, script: &str) -> serde_json::Value {
    browser
        .execute(script, vec![])
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"))
}

/// Saves what the window shows as `target/<name>`.
pub async fn save_screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    let path = workspace_root().join("target").join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot saved to {}", path.display());
}
