//! The whole app as a person uses it: the release build in `dist/` served by
//! the gateway on loopback, driven in headless Chromium through WebDriver
//! (the system chromedriver). Type a prompt, execute it on two models, open a
//! run, cancel a slow one, reload and find the history restored. A screenshot
//! of the app is saved to `target/e2e-app.png` on every run.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both.

use fantoccini::{elements::Element, Client, Locator};
use prompt_runs_e2e::{headless_chromium, start_chromedriver, workspace_root};
use std::time::{Duration, Instant};

/// Fast enough that the offline models answer within a second or two, slow
/// enough (at the slow model's 4% of it) that a run can be cancelled midway.
const TOKENS_PER_SECOND: &str = "1000";

/// Serves `dist/` and the API with the offline models on a free loopback port.
async fn start_gateway() -> String {
    let dist = workspace_root().join("dist");
    prompt_runs_e2e::start_gateway(&dist, &["--offline-tokens-per-second", TOKENS_PER_SECOND]).await
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

async fn find(browser: &Client, selector: &str) -> Element {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|error| panic!("{selector}: {error}"))
}

async fn statuses(browser: &Client) -> Vec<String> {
    let mut found = Vec::new();
    for badge in browser
        .find_all(Locator::Css(".history__row .badge"))
        .await
        .unwrap()
    {
        found.push(badge.text().await.unwrap());
    }
    found
}

async fn save_screenshot(browser: &Client) {
    browser
        .execute("window.scrollTo(0, 0)", vec![])
        .await
        .unwrap();
    let png = browser.screenshot().await.expect("screenshot");
    let path = workspace_root().join("target/e2e-app.png");
    std::fs::write(&path, png).unwrap();
    println!("screenshot saved to {}", path.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_executes_compares_cancels_and_finds_the_history_after_a_reload() {
    let app = start_gateway().await;
    let driver = start_chromedriver().await;
    let profile = std::env::temp_dir().join(format!("prompt-runs-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let browser = headless_chromium(&driver.url, &profile, &[]).await;
    let outcome = drive(&browser, &app).await;
    let _ = browser.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    outcome
}

async fn drive(browser: &Client, app: &str) {
    browser.goto(app).await.unwrap();
    // The models arrive from the gateway; the first is chosen by default.
    wait_for_text(browser, ".composer__models", |text| {
        text.contains("Offline demo, slow")
    })
    .await;

    // Execute one prompt on two models.
    find(browser, "#composer-prompt")
        .await
        .send_keys("Compare these two offline models")
        .await
        .unwrap();
    let slow_model = find(browser, ".composer__model[data-model=offline-slow] input").await;
    slow_model.click().await.unwrap();
    find(browser, ".composer__execute")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(browser, ".history__count", |text| text == "2 runs").await;
    wait_for_text(browser, "[data-status=success] .filters__count", |text| {
        text == "2"
    })
    .await;
    assert_eq!(statuses(browser).await, ["Success", "Success"]);
    let compared = browser.find_all(Locator::Css(".batch__run")).await.unwrap();
    assert_eq!(compared.len(), 2, "the two runs are compared side by side");

    // Open the older run: the viewer shows its full output.
    let rows = browser
        .find_all(Locator::Css(".history__row"))
        .await
        .unwrap();
    let opened_id = rows[1].attr("data-run-id").await.unwrap().unwrap();
    rows[1]
        .find(Locator::Css(".history__open"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(browser, ".viewer__id", |text| text == opened_id).await;
    let output = wait_for_text(browser, ".viewer__output", |text| !text.is_empty()).await;
    assert!(output.contains("Offline demo answer"), "{output}");

    // Execute on the slow model only, and cancel it midway.
    let echo_model = find(browser, ".composer__model[data-model=offline-echo] input").await;
    echo_model.click().await.unwrap(); // unchecked: only the slow model is left
    let long_prompt = " and then tell me more".repeat(15);
    find(browser, "#composer-prompt")
        .await
        .send_keys(&long_prompt)
        .await
        .unwrap();
    find(browser, ".composer__execute")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(browser, ".progress__label", |text| {
        text.ends_with('%') && text != "0%"
    })
    .await;
    save_screenshot(browser).await;
    find(browser, ".progress__cancel")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(browser, "[data-status=cancelled] .filters__count", |text| {
        text == "1"
    })
    .await;
    assert_eq!(statuses(browser).await, ["Cancelled", "Success", "Success"]);

    let active_id = find(browser, ".viewer__id").await.text().await.unwrap();

    // Reload: the history and the active run come back from localStorage.
    browser.refresh().await.unwrap();
    wait_for_text(browser, ".history__count", |text| text == "3 runs").await;
    assert_eq!(statuses(browser).await, ["Cancelled", "Success", "Success"]);
    wait_for_text(browser, ".viewer__id", |text| text == active_id).await;
}
