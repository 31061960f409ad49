//! Reading and driving the page under test through WebDriver: waiting for
//! text, finding and clicking elements, running a script, a screenshot.

use crate::workspace_root;
use fantoccini::{elements::Element, Client, Locator};
use std::time::{Duration, Instant};

/// Waits up to 30 s for `selector` to match something whose text satisfies
/// `check`; returns that text, or fails naming the last text seen.
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

/// Runs `script` (a function body) in the page every `every` until `done`
/// makes something of its answer, and returns that; fails after `timeout`,
/// naming `what` and the last answer. A page too busy to answer is asked
/// again.
pub async fn wait_for_answer<T>(
    browser: &Client,
    script: &str,
    (timeout, every): (Duration, Duration),
    what: &str,
    mut done: impl FnMut(&serde_json::Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut last = serde_json::Value::Null;
    loop {
        if let Ok(answer) = browser.execute(script, vec![]).await {
            if let Some(found) = done(&answer) {
                return found;
            }
            last = answer;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}; last answer: {last}"
        );
        tokio::time::sleep(every).await;
    }
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
    find(browser, selector)
        .await
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {selector}: {error}"));
}

/// Runs `script` (a function body) in the page and returns its JSON result
/// (awaited, if a promise).
pub async fn evaluate(browser: &Client, script: &str) -> serde_json::Value {
    browser
        .execute(script, vec![])
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"))
}

/// Saves what the window shows as `target/<name>`, scrolled to the top of
/// `from` (the page's top when `None`).
pub async fn save_screenshot(browser: &Client, name: &str, from: Option<&str>) {
    let scroll = match from {
        Some(selector) => {
            format!("document.querySelector({selector:?}).scrollIntoView(); return null;")
        }
        None => "window.scrollTo(0, 0); return null;".to_owned(),
    };
    evaluate(browser, &scroll).await;
    let png = browser.screenshot().await.expect("screenshot");
    let path = workspace_root().join("target").join(name);
    std::fs::write(&path, png).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    println!("screenshot saved to {}", path.display());
}
