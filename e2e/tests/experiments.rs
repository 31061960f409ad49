//! An experiment as a person runs one in the built app: open the
//! Experiments view, write a template, paste a CSV, pick two models, add a
//! check, read the plan, run it, see the grid with its labelled marks and
//! pass rates, expand a cell, diff two answers, find it all again after a
//! reload, and read the grid on a phone (390×844), where it scrolls sideways
//! in its own box and the page does not; vote blind on a pair of answers,
//! the grid and the diff hidden meanwhile. Saves the screenshots
//! `target/e2e-experiments.png` (`docs/experiments.png`, shown by docs/experiments.md),
//! `target/e2e-experiments-blind.png` and `target/e2e-experiments-narrow.png`.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A test binary of its
//! own, so that its browser does not run beside the others'.

use fantoccini::{key::Key, Client, Locator};
use prompt_runs_e2e::{
    click, evaluate, find, save_screenshot, set_viewport, start_gateway, wait_for_text,
    workspace_root, Browser,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_person_pastes_a_csv_runs_it_on_two_models_and_diffs_two_answers() {
    // Fast enough that a dozen answers take a second or two.
    let dist = workspace_root().join("dist");
    let app = start_gateway(&dist, &["--offline-tokens-per-second", "1000"]).await;
    let browser = Browser::start("exp", &["--window-size=1280,1300"]).await;
    drive(&browser.client, &app).await;
    browser.close().await;
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
        tabs[0].attr("aria-current").await.unwrap().as_deref(),
        Some("page"),
        "the playground comes first"
    );
    // The Experiments page is a bundle of its own, loaded when opened; a
    // first visit opens on the example.
    tabs[1].click().await.unwrap();
    wait_for_text(browser, ".picker__select", |text| text == "Capitals").await;
    assert!(
        browser.current_url().await.unwrap().path() == "/experiments/",
        "the Experiments page has its own address"
    );

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
    // The field holds 1: replace it, and leave the field (its change event).
    let (backspace, tab) = (char::from(Key::Backspace), char::from(Key::Tab));
    find(browser, ".editor__repeats")
        .await
        .send_keys(&format!("{backspace}2{tab}"))
        .await
        .unwrap();
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
    // The offline models run on this machine: they cost $0, known before
    // they answer (a model without a price is covered by the components' tests).
    assert!(
        total.contains("$0") && !total.contains("unknown"),
        "{total}"
    );

    click(browser, ".plan__run").await;
    wait_for_text(browser, ".plan__outcome", |text| {
        text == "12 cells: 12 answered."
    })
    .await;
    // Over all checks and for the one check, each model's pass rate.
    wait_for_text(browser, ".grid__footer", pass_rates).await;
    assert_eq!(count(browser, ".grid__row").await, 3);
    let marks = wait_for_text(browser, ".grid__row[data-row='0'] .grid__checks", |text| {
        text.starts_with('✓')
    })
    .await;
    assert_eq!(marks, "✓ contains \"France\" (any case)");
    assert_eq!(
        find(browser, ".grid__row[data-row='1'] .grid__checks")
            .await
            .text()
            .await
            .unwrap(),
        "✗ contains \"France\" (any case): not found"
    );
    let figures = find(browser, ".grid__row[data-row='0'] .grid__figures")
        .await
        .text()
        .await
        .unwrap();
    assert!(figures.ends_with(" · 1 distinct answer: 2×"), "{figures}");
    let total = find(browser, ".grid__total-cost[data-model=offline-slow]")
        .await
        .text()
        .await
        .unwrap();
    // The offline models run locally and cost nothing; $0 from a local model
    // is not a price, so the footer says so rather than "$0.0000".
    assert_eq!(total, "not priced");

    // A cell expands in place, to the whole answer, and collapses again.
    let france = ".grid__row[data-row='0'] .grid__cell[data-model=offline-echo]";
    click(browser, &format!("{france} .grid__expand")).await;
    let whole = wait_for_text(browser, &format!("{france} .grid__answer--whole"), |text| {
        text.contains("France")
    })
    .await;
    assert!(!whole.ends_with('…'), "{whole}");
    click(browser, &format!("{france} .grid__expand")).await;
    wait_for_text(browser, &format!("{france} .grid__expand"), |text| {
        text == "Expand"
    })
    .await;

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
    let marks = |tag: &str| {
        format!("return [...document.querySelectorAll('.diff__text {tag}')].map(mark => mark.textContent).join('|');")
    };
    wait_for_text(browser, ".diff__text", |text| text.contains("Japan")).await;
    let removed = evaluate(browser, &marks("del")).await;
    let added = evaluate(browser, &marks("ins")).await;
    assert!(removed.as_str().unwrap().contains("France"), "{removed}");
    assert!(added.as_str().unwrap().contains("Japan"), "{added}");
    assert!(!removed.as_str().unwrap().contains("Japan"), "{removed}");
    // Each side named by its row, input and model.
    let baseline = find(browser, ".diff__baseline").await.text().await.unwrap();
    let compared = find(browser, ".diff__compared").await.text().await.unwrap();
    assert!(
        baseline.starts_with("Row 1: France, Europe · offline-echo · repeat "),
        "{baseline}"
    );
    assert!(
        compared.starts_with("Row 2: Japan, Asia · offline-echo · repeat "),
        "{compared}"
    );

    // The plan, the grid and the diff in one picture.
    save_screenshot(browser, "e2e-experiments.png", Some(".grid")).await;

    blind_vote(browser).await;

    // A reload finds the experiment and its grid again.
    browser.refresh().await.unwrap();
    wait_for_text(browser, ".plan__count", |text| text == plan).await;
    wait_for_text(browser, ".grid__footer", pass_rates).await;
    let template = find(browser, ".editor__template")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        template.as_deref(),
        Some("What is the capital of {{country}}? One word.")
    );

    on_a_phone(browser).await;

    // The experiment's runs are ordinary runs of the playground's history.
    let tabs = browser
        .find_all(Locator::Css(".app-header__tab"))
        .await
        .unwrap();
    tabs[0].click().await.unwrap();
    wait_for_text(browser, ".history__count", |text| text == "12 runs").await;
}

/// The footer's pass rates: France is in one row of three, on both models,
/// so 2 of 6 answers pass, over all checks and for the one check.
fn pass_rates(footer: &str) -> bool {
    footer.contains("Pass rate, all checks") && footer.matches("2/6 (33%)").count() == 4
}

/// At 390×844 the page does not scroll sideways; the grid does, inside its
/// own box, far enough to show its last column.
async fn on_a_phone(browser: &Client) {
    set_viewport(browser, 390, 844).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let widths = evaluate(
        browser,
        "const page = document.documentElement;
         const grid = document.querySelector('.grid__scroll');
         grid.scrollLeft = grid.scrollWidth;
         const last = document.querySelector('.grid__row[data-row=\"0\"] .grid__cell:last-child');
         const wide = [...document.querySelectorAll('body *')]
             .filter(element => element.getBoundingClientRect().right > page.clientWidth + 0.5)
             .filter(element => !element.closest('.grid__scroll'))
             .map(element => element.className || element.tagName);
         return [page.scrollWidth, page.clientWidth, grid.scrollWidth, grid.clientWidth,
                 last.getBoundingClientRect().right, wide.slice(0, 5)];",
    )
    .await;
    let width = |at: usize| widths[at].as_f64().unwrap();
    assert!(
        width(0) <= width(1),
        "the page scrolls sideways: scrollWidth, clientWidth, …, widest: {widths}"
    );
    assert!(width(2) > width(3), "the grid's box scrolls: {widths}");
    assert!(
        width(4) <= width(1) + 0.5,
        "its last column is reached: {widths}"
    );
    evaluate(
        browser,
        "document.querySelector('.grid__scroll').scrollLeft = 0; return null;",
    )
    .await;
    save_screenshot(browser, "e2e-experiments-narrow.png", Some(".grid")).await;
    set_viewport(browser, 1280, 1300).await;
}

/// A blind A/B vote on the two models: the grid and the diff hidden meanwhile, no model
/// named in the comparison until the vote (key 3, a tie: offline answers
/// are the same text), then the names, and the tie in the results.
async fn blind_vote(browser: &Client) {
    click(browser, ".blind__start").await;
    // 3 rows × 2 repeats, each a pair of the two models' answers.
    wait_for_text(browser, ".blind__progress", |text| text == "Pair 1 of 6").await;
    let shown = |selector: &str| {
        format!("return getComputedStyle(document.querySelector('{selector}')).display;")
    };
    for named in [".grid", ".experiments__below"] {
        let display = evaluate(browser, &shown(named)).await;
        assert_eq!(display, "none", "{named} names the models");
    }
    let html = evaluate(
        browser,
        "return document.querySelector('.blind').outerHTML;",
    )
    .await;
    let html = html.as_str().unwrap();
    assert!(
        !html.contains("offline-echo") && !html.contains("offline-slow"),
        "a model is named before the vote: {html}"
    );
    find(browser, ".blind__stage")
        .await
        .send_keys("3")
        .await
        .unwrap();
    let revealed = wait_for_text(browser, ".blind__reveal", |text| !text.is_empty()).await;
    assert!(revealed.starts_with("A was offline-"), "{revealed}");
    save_screenshot(
        browser,
        "e2e-experiments-blind.png",
        Some(".experiments__compare"),
    )
    .await;
    click(browser, ".blind__stop").await;
    wait_for_text(browser, ".votes__people", |text| {
        text.contains("offline-echo vs offline-slow: offline-echo won 0, lost 0, tied 1 (1 vote)")
    })
    .await;
    for named in [".grid", ".experiments__below"] {
        let display = evaluate(browser, &shown(named)).await;
        assert_ne!(display, "none", "{named} is shown again");
    }
}
