//! An experiment as a person runs one in the built app: open the
//! Experiments view, write a template, paste a CSV, pick two models, add a
//! check, read the plan, run it, see the grid and its pass rates, diff two
//! answers, and find it all again after a reload. Saves the screenshot
//! `target/e2e-experiments.png` (the README's `docs/experiments.png`).
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A test binary of its
//! own, so that its browser does not run beside the others'.

use fantoccini::{key::Key, Client, Locator};
use prompt_runs_e2e::{
    click, evaluate, find, save_screenshot, start_gateway, wait_for_text, workspace_root, Browser,
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
    assert!(footer.contains("Total cost $0.0000"), "{footer}");

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

    // The plan, the grid and the diff in one picture.
    save_screenshot(browser, "e2e-experiments.png", Some(".grid")).await;

    // A reload finds the experiment and its grid again.
    browser.refresh().await.unwrap();
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

    // The experiment's runs are ordinary runs of the playground's history.
    let tabs = browser
        .find_all(Locator::Css(".app-header__tab"))
        .await
        .unwrap();
    tabs[0].click().await.unwrap();
    wait_for_text(browser, ".history__count", |text| text == "12 runs").await;
}
