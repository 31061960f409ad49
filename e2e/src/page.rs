//! Reading and driving the page under test through WebDriver: waiting for
//! text, finding and clicking elements, running a script, a screenshot, the
//! viewport's size, and what any page must hold to: nothing scrolling
//! sideways, headings in order.

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

/// The window's inner size (the viewport), in CSS pixels.
pub async fn viewport(browser: &Client) -> (f64, f64) {
    let size = evaluate(browser, "return [window.innerWidth, window.innerHeight];").await;
    (size[0].as_f64().unwrap(), size[1].as_f64().unwrap())
}

/// Makes the viewport `width`×`height`: the window is that much larger as
/// the browser's own frame takes (even headless Chromium keeps some).
pub async fn set_viewport(browser: &Client, width: u32, height: u32) {
    browser.set_window_size(width, height).await.unwrap();
    let (inner_width, inner_height) = viewport(browser).await;
    let frame = |outer: u32, inner: f64| outer + (f64::from(outer) - inner).max(0.0) as u32;
    browser
        .set_window_size(frame(width, inner_width), frame(height, inner_height))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while viewport(browser).await != (f64::from(width), f64::from(height)) {
        assert!(
            Instant::now() < deadline,
            "the viewport stays {:?}, not {width}×{height}",
            viewport(browser).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fails unless the page fits its viewport's width: it does not scroll
/// sideways, and no element reaches past its right edge except inside
/// `scrolling` (a CSS selector of the boxes that scroll sideways in place,
/// such as a wide table's).
pub async fn assert_fits_sideways(browser: &Client, scrolling: &str) {
    let script = format!(
        "const page = document.documentElement;
         const wide = [...document.querySelectorAll('body *')]
             .filter(element => element.getBoundingClientRect().right > page.clientWidth + 0.5)
             .filter(element => !element.closest({scrolling:?}))
             .map(element => element.className || element.tagName);
         return [page.scrollWidth, page.clientWidth, wide.slice(0, 5)];"
    );
    let overflow = evaluate(browser, &script).await;
    assert!(
        overflow[0].as_f64() <= overflow[1].as_f64() && overflow[2] == serde_json::json!([]),
        "the page does not fit sideways: scrollWidth, clientWidth, widest: {overflow}"
    );
}

/// Fails unless the page's headings are in order: one `h1` first, and no
/// level skipped on the way down (h1 → h2 → h3); returns them, as
/// `"h2 Plan"`, for the test's own checks.
pub async fn assert_headings_in_order(browser: &Client) -> Vec<String> {
    let found = evaluate(
        browser,
        "return [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
             .filter(heading => !heading.closest('#first-paint'))
             .map(heading => heading.localName + ' ' + heading.textContent.trim());",
    )
    .await;
    let headings: Vec<String> = serde_json::from_value(found).expect("a list of headings");
    let level = |heading: &str| heading.as_bytes()[1] - b'0';
    assert!(
        headings.first().is_some_and(|first| level(first) == 1)
            && headings
                .iter()
                .filter(|heading| level(heading) == 1)
                .count()
                == 1,
        "one h1, first: {headings:?}"
    );
    for pair in headings.windows(2) {
        assert!(
            level(&pair[1]) <= level(&pair[0]) + 1,
            "{:?} follows {:?}, skipping a level: {headings:?}",
            pair[1],
            pair[0]
        );
    }
    headings
}
