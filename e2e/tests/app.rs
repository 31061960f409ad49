//! The whole app as a person uses it: the release build in `dist/` served by
//! the gateway on loopback, driven in headless Chromium through WebDriver
//! (the system chromedriver). Type a prompt, execute it on two models and
//! see the answer arrive beside the composer, open a run, follow a slow one
//! run by run and cancel it, reload and find the history restored, then use
//! it on a phone-sized window without sideways scrolling. Screenshots are
//! saved to `target/e2e-app.png` (1280×900, the README's) and
//! `target/e2e-app-narrow.png` (390×844) on every run.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both.

use fantoccini::{Client, Locator};
use prompt_runs_e2e::{
    assert_fits_sideways, assert_headings_in_order, evaluate, find, save_screenshot, set_viewport,
    viewport, wait_for_text, workspace_root, Browser,
};
use std::time::Duration;

/// Fast enough that the offline models answer within a second or two, slow
/// enough (at the slow model's 4% of it) that a run can be cancelled midway.
const TOKENS_PER_SECOND: &str = "1000";

/// Serves `dist/` and the API with the offline models on a free loopback port.
async fn start_gateway() -> String {
    let dist = workspace_root().join("dist");
    prompt_runs_e2e::start_gateway(&dist, &["--offline-tokens-per-second", TOKENS_PER_SECOND]).await
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

/// The page's box for `selector`: `[left, top, right, bottom]` in CSS pixels
/// of the viewport.
async fn rect(browser: &Client, selector: &str) -> [f64; 4] {
    let script = format!(
        "const box = document.querySelector({selector:?}).getBoundingClientRect();
         return [box.left, box.top, box.right, box.bottom];"
    );
    let found = evaluate(browser, &script).await;
    let edge = |index: usize| found[index].as_f64().unwrap();
    [edge(0), edge(1), edge(2), edge(3)]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_executes_compares_cancels_and_finds_the_history_after_a_reload() {
    let app = start_gateway().await;
    let browser = Browser::start("app", &[]).await;
    drive(&browser.client, &app).await;
    browser.close().await;
}

async fn drive(browser: &Client, app: &str) {
    browser.goto(app).await.unwrap();
    set_viewport(browser, 1280, 900).await;
    // The models arrive from the gateway; the first is chosen by default.
    wait_for_text(browser, ".composer__models", |text| {
        text.contains("Offline demo, slow")
    })
    .await;

    // The parameters' placeholders are not cut: "server's default" fits
    // beside the number field's spinner.
    let cut = evaluate(
        browser,
        "return [...document.querySelectorAll('.composer__parameters input')].map(input => {
             const style = getComputedStyle(input);
             const probe = document.createElement('span');
             probe.style.font = style.font;
             probe.style.position = 'absolute';
             probe.style.whiteSpace = 'pre';
             probe.textContent = input.placeholder;
             document.body.append(probe);
             const text = probe.getBoundingClientRect().width;
             probe.remove();
             const room = input.clientWidth - parseFloat(style.paddingLeft)
                 - parseFloat(style.paddingRight) - 20; // the spin buttons
             return text > room ? input.placeholder + ': ' + text + ' > ' + room : null;
         }).filter(Boolean);",
    )
    .await;
    assert_eq!(cut, serde_json::json!([]), "placeholders cut");

    // Execute one prompt on two models.
    find(browser, ".composer__prompt")
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
    // Side by side with the opened run, where the answers arrive.
    let compared = browser
        .find_all(Locator::Css(".viewer .batch__run"))
        .await
        .unwrap();
    assert_eq!(compared.len(), 2, "the two runs are compared side by side");
    assert_headings_in_order(browser).await;
    // At 1280 px the per-model figures fit their column, last one included.
    let table = evaluate(
        browser,
        "const box = document.querySelector('.performance__scroll');
         return [box.scrollWidth, box.clientWidth];",
    )
    .await;
    assert!(
        table[0].as_f64() <= table[1].as_f64(),
        "the performance table scrolls sideways at 1280 px: {table}"
    );

    // The answer is in view, beside the composer, without scrolling.
    wait_for_text(browser, ".viewer__output", |text| {
        text.contains("Offline demo answer")
    })
    .await;
    let height = viewport(browser).await.1;
    let scrolled = evaluate(browser, "return window.scrollY;").await;
    assert_eq!(scrolled.as_f64(), Some(0.0), "nothing scrolled the page");
    let composer = rect(browser, ".composer").await;
    let answer = rect(browser, ".viewer__output").await;
    assert!(
        answer[0] >= composer[2],
        "the answer {answer:?} is beside the composer {composer:?}"
    );
    assert!(
        answer[1] >= 0.0 && answer[1] + 100.0 < height,
        "the answer {answer:?} starts above the fold ({height} px)"
    );
    assert!(
        answer[2] <= 1280.0,
        "and ends within the window: {answer:?}"
    );

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
    find(browser, ".composer__prompt")
        .await
        .send_keys(&long_prompt)
        .await
        .unwrap();
    find(browser, ".composer__execute")
        .await
        .click()
        .await
        .unwrap();
    // The progress says what is known: the run is receiving, with an
    // estimated token count and a clock, not a percentage.
    wait_for_text(browser, ".progress__label", |text| {
        text == "Receiving the answer…"
    })
    .await;
    // (Its parts are flex items: the browser's text puts each on a line.)
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = wait_for_text(browser, ".progress__run", |text| {
        let text = words(text);
        // (Some text in view makes a better screenshot.)
        text.starts_with("offline-slow receiving ≈")
            && text["offline-slow receiving ≈".len()..]
                .split(' ')
                .next()
                .and_then(|count| count.parse::<u32>().ok())
                .is_some_and(|count| count >= 20)
    })
    .await;
    let line = words(&line);
    assert!(line.ends_with(" s") && !line.contains('%'), "{line}");
    wait_for_text(browser, ".viewer__output", |text| !text.is_empty()).await;
    save_screenshot(browser, "e2e-app.png", None).await;
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

    on_a_phone(browser).await;
}

/// At 390×844 nothing scrolls sideways, and every history card shows its
/// start time and its buttons (inside the card and the window) and a preview
/// that leaves its footer alone.
async fn on_a_phone(browser: &Client) {
    set_viewport(browser, 390, 844).await;
    // Open the settings too: they must fit as well.
    evaluate(
        browser,
        "document.querySelector('.app-header__settings').open = true; return null;",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_fits_sideways(browser, ".performance__scroll, pre").await;
    let cut_cards = evaluate(
        browser,
        "const visible = document.documentElement.clientWidth;
         return [...document.querySelectorAll('.history__card')].flatMap(card => {
             const edge = card.getBoundingClientRect();
             return [...card.querySelectorAll('time, .history__open, .history__remove')]
                 .filter(part => {
                     const box = part.getBoundingClientRect();
                     return box.width === 0 || box.right > Math.min(edge.right, visible)
                         || box.bottom > edge.bottom;
                 })
                 .map(part => part.className || part.tagName)
                 .concat(overlaps(card) ? ['history__preview over the footer'] : []);
         });
         function overlaps(card) {
             const preview = card.querySelector('.history__preview');
             const footer = card.querySelector('.history__card-footer');
             return preview && preview.getBoundingClientRect().bottom
                 > footer.getBoundingClientRect().top + 0.5;
         }",
    )
    .await;
    assert_eq!(
        cut_cards,
        serde_json::json!([]),
        "parts of history cards cut off"
    );
    evaluate(
        browser,
        "document.querySelector('.app-header__settings').open = false; return null;",
    )
    .await;
    // The history, where the cards were cut before.
    save_screenshot(browser, "e2e-app-narrow.png", Some(".history")).await;
}
