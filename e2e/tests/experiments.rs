//! An experiment as a person runs one in the built app: open the
//! Experiments view, write a template, paste a CSV, pick two models, add a
//! check, read the plan, run it, see the grid and its pass rates, diff two
//! answers, and find it all again after a reload. Saves the screenshot
//! `target/e2e-experiments.png` (the README's `docs/experiments.png`).
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A test binary of its
//! own, so that its browser does not run beside the others'.

mod support;

use fantoccini::{Client, Locator};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_person_pastes_a_csv_runs_it_on_two_models_and_diffs_two_answers() {
    // Fast enough that a dozen answers take a second or two.
    let app = start_gateway(&["--offline-tokens-per-second", "1000"]).await;
    let (_driver, driver_url) = start_chromedriver().await;
    let profile = std::env::temp_dir().join(format!("prompt-runs-e2e-exp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let browser = headless_chromium(&driver_url, &profile, 1280, 1000).await;
    let outcome = drive(&browser, &app).await;
    let _ = browser.close().await;
    let _ = std::fs::remove_dir_all(&profile);
    outcome
}

async fn count(browser: &Client, selector: &str) -> usize {
    browser
        .find_all(Locator::Css(selector))
        .await
        .unwrap()
        .len()
}

async fn drive(browser: &Client, app: &str) {
    browser.goto(app).await.unwrap();
    wait_for_text(browser, ".composer__models", |text| {
        text.contains("Offline demo, slow")
    })
    .await;
    let tabs = browser
        .find_all(Locator::Css(".app-header__tab"))
        .await
        .unwrap();
    assert_eq!(tabs[0].text().await.unwrap(), "Playground");
    assert_eq!(
        tabs[0].attr("aria-selected").await.unwrap().as_deref(),
        Some("true"),
        "the playground comes first"
    );
    tabs[1].click().await.unwrap();
    wait_for_text(browser, ".plan__none", |text| text == "No experiment open.").await;

    click(browser, ".picker__new").await;
    find(browser, ".editor__template")
        .await
        .send_keys("What is the capital of {{country}}? One word.")
        .await
        .unwrap();
    wait_for_text(browser, ".editor__variables", |text| {
        text == "Variables: country (not a column of the inputs)"
    })
    .await;
    find(browser, ".inputs__paste")
        .await
        .send_keys("country,continent\nFrance,Europe\nJapan,Asia\nPeru,South America\n")
        .await
        .unwrap();
    click(browser, ".inputs__use").await;
    wait_for_text(browser, ".inputs__problem", |text| {
        text == "The pasted text: 3 rows read."
    })
    .await;
    wait_for_text(browser, ".editor__variables", |text| {
        text == "Variables: country"
    })
    .await;
    assert_eq!(count(browser, ".inputs__table tbody tr").await, 3);

    // A ragged paste is refused with where, and changes nothing.
    find(browser, ".inputs__paste").await.clear().await.unwrap();
    find(browser, ".inputs__paste")
        .await
        .send_keys("country,continent\nChile\n")
        .await
        .unwrap();
    click(browser, ".inputs__use").await;
    let refused = wait_for_text(browser, ".inputs__problem", |text| {
        text.contains("could not be read")
    })
    .await;
    assert!(refused.contains("row 1 (line 2) has 1 cells"), "{refused}");
    assert_eq!(
        count(browser, ".inputs__table tbody tr").await,
        3,
        "the table is as it was"
    );

    click(browser, ".editor__model[data-model=offline-echo] input").await;
    click(browser, ".editor__model[data-model=offline-slow] input").await;
    let repeats = find(browser, ".editor__repeats").await;
    repeats.clear().await.unwrap();
    repeats.send_keys("2\t").await.unwrap();
    find(browser, ".checks__value")
        .await
        .send_keys("France")
        .await
        .unwrap();
    click(browser, ".checks__add").await;
    wait_for_text(browser, ".checks__list", |text| {
        text.contains("contains \"France\" (any case)")
    })
    .await;

    let plan = wait_for_text(browser, ".plan__count", |text| {
        text.starts_with("12 requests")
    })
    .await;
    assert_eq!(plan, "12 requests = 3 rows × 2 models × 2 repeats");
    let total = find(browser, ".plan__total").await.text().await.unwrap();
    assert!(
        total.contains("unknown for offline-slow (no price)"),
        "{total}"
    );

    click(browser, ".plan__run").await;
    wait_for_text(browser, ".plan__outcome", |text| {
        text == "12 cells: 12 answered."
    })
    .await;
    wait_for_text(browser, ".grid__footer", |text| {
        text.matches("Pass rate 2/6 (33%)").count() == 2
    })
    .await;
    assert_eq!(count(browser, ".grid__row").await, 3);
    let marks = wait_for_text(browser, ".grid__row[data-row='0'] .grid__checks", |text| {
        text == "✓"
    })
    .await;
    assert_eq!(marks, "✓");
    assert_eq!(
        find(browser, ".grid__row[data-row='1'] .grid__checks")
            .await
            .text()
            .await
            .unwrap(),
        "✗"
    );
    let repeats = find(browser, ".grid__row[data-row='0'] .grid__repeats")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(repeats, "1 distinct answer: 2×");
    let footer = find(browser, ".grid__model[data-model=offline-slow]")
        .await
        .text()
        .await
        .unwrap();
    assert!(footer.contains("Total cost unknown"), "{footer}");

    // Diff France's answer against Japan's.
    click(
        browser,
        ".grid__row[data-row='0'] .grid__cell[data-model=offline-echo] .grid__baseline",
    )
    .await;
    click(
        browser,
        ".grid__row[data-row='1'] .grid__cell[data-model=offline-echo] .grid__compare",
    )
    .await;
    wait_for_text(browser, ".diff__text del", |text| text.contains("France")).await;
    let added = find(browser, ".diff__text ins").await.text().await.unwrap();
    assert!(!added.is_empty());
    let inserted = browser
        .find_all(Locator::Css(".diff__text ins"))
        .await
        .unwrap();
    let mut added = String::new();
    for mark in inserted {
        added += &mark.text().await.unwrap();
    }
    assert!(added.contains("Japan"), "{added}");

    evaluate(browser, "window.scrollTo(0, 0); return null;").await;
    save_screenshot(browser, "e2e-experiments.png").await;

    // A reload finds the experiment and its grid again.
    browser.refresh().await.unwrap();
    let tabs = browser
        .find_all(Locator::Css(".app-header__tab"))
        .await
        .unwrap();
    tabs[1].click().await.unwrap();
    wait_for_text(browser, ".plan__count", |text| text == plan).await;
    wait_for_text(browser, ".grid__footer", |text| {
        text.matches("Pass rate 2/6 (33%)").count() == 2
    })
    .await;
    let template = find(browser, ".editor__template")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        template.as_deref(),
        Some("What is the capital of {{country}}? One word.")
    );
}
