//! The Experiments page as a person first meets it, after using the
//! playground: it opens on its own state (not the playground's last run,
//! its error, or a diff against it) and on an example that runs at once on
//! the offline model, with a first step in words; its headings are in
//! order; it fits a phone; and an edit made just before following the
//! header's Playground link is there on coming back. Saves
//! `target/e2e-experiments-narrow.png` (390×844).
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A test binary of its
//! own, so that its browser does not run beside the others'.

use fantoccini::{key::Key, Client, Locator};
use prompt_runs_e2e::{
    assert_fits_sideways, assert_headings_in_order, click, evaluate, find, save_screenshot,
    set_viewport, start_gateway, wait_for_text, workspace_root, Browser,
};

#[tokio::test(flavor = "multi_thread")]
async fn the_experiments_page_starts_on_its_own_example_and_keeps_an_edit_made_on_leaving() {
    let dist = workspace_root().join("dist");
    // The failing test model makes the playground's last run an error.
    let app = start_gateway(
        &dist,
        &["--offline-tokens-per-second", "1000", "--test-models"],
    )
    .await;
    let browser = Browser::start("first-visit", &[]).await;
    let client = &browser.client;
    set_viewport(client, 1280, 900).await;
    a_failed_playground_run(client, &app).await;
    first_visit(client).await;
    on_a_phone(client).await;
    leaving_right_after_an_edit(client).await;
    // Another origin: failed runs, none of them opened.
    let other = start_gateway(
        &dist,
        &["--offline-tokens-per-second", "1000", "--test-models"],
    )
    .await;
    headings_with_failed_runs_and_no_run_open(client, &other).await;
    browser.close().await;
}

async fn tab(browser: &Client, label: &str) {
    for tab in browser
        .find_all(Locator::Css(".app-header__tab"))
        .await
        .unwrap()
    {
        if tab.text().await.unwrap() == label {
            tab.click().await.unwrap();
            return;
        }
    }
    panic!("no {label} tab in the header");
}

async fn menu(browser: &Client) -> Vec<String> {
    let mut labels = Vec::new();
    for option in browser
        .find_all(Locator::Css(".picker__select option"))
        .await
        .unwrap()
    {
        labels.push(option.text().await.unwrap());
    }
    labels
}

/// One prompt on the echo and the failing model, the failed run opened.
async fn a_failed_playground_run(browser: &Client, app: &str) {
    browser.goto(app).await.unwrap();
    wait_for_text(browser, ".composer__models", |text| {
        text.contains("fails with HTTP 500")
    })
    .await;
    find(browser, ".composer__prompt")
        .await
        .send_keys("Say something")
        .await
        .unwrap();
    click(
        browser,
        ".composer__model[data-model=offline-fail-500] input",
    )
    .await;
    click(browser, ".composer__execute").await;
    wait_for_text(browser, "[data-status=error] .filters__count", |text| {
        text == "1"
    })
    .await;
    // One script: the list's rows are redrawn as the runs finish.
    evaluate(
        browser,
        "[...document.querySelectorAll('.history__row')]
             .find(row => row.querySelector('.badge').textContent === 'Error')
             .querySelector('.history__open').click();
         return null;",
    )
    .await;
    wait_for_text(browser, ".viewer__error", |text| text.contains("500")).await;
    let headings = assert_headings_in_order(browser).await;
    assert!(
        headings.iter().any(|heading| heading == "h2 Failed runs"),
        "{headings:?}"
    );
}

/// The Experiments page: the example, none of the playground's run, and
/// the example run as it is.
async fn first_visit(browser: &Client) {
    tab(browser, "Experiments").await;
    wait_for_text(browser, ".picker__select", |text| text == "Capitals").await;
    let step = find(browser, ".experiments__first-step")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        step.starts_with("A first step") && step.contains("Run"),
        "{step}"
    );
    assert!(
        browser.find(Locator::Css(".viewer__error")).await.is_err()
            && browser.find(Locator::Css(".error-banner")).await.is_err(),
        "no error of the playground's on this page"
    );
    wait_for_text(browser, ".viewer__empty", |text| {
        text == "Open a cell of the grid to see its run here."
    })
    .await;
    let compared = find(browser, ".diff__compared").await.text().await.unwrap();
    assert_eq!(
        compared, "none chosen",
        "the diff is not preset to the playground's run"
    );
    assert_headings_in_order(browser).await;

    let plan = wait_for_text(browser, ".plan__count", |text| !text.is_empty()).await;
    assert!(plan.starts_with("3 requests"), "{plan}");
    click(browser, ".plan__run").await;
    wait_for_text(browser, ".plan__outcome", |text| {
        text.contains("3 answered")
    })
    .await;
    // A cell opened here is shown here. (The grid is rebuilt as the last
    // answers land: a button may be replaced while it is clicked.)
    let open = ".grid__row[data-row='0'] .grid__open";
    for attempt in 0.. {
        let clicked = match browser.find(Locator::Css(open)).await {
            Ok(button) => button.click().await.is_ok(),
            Err(_) => false,
        };
        if clicked {
            break;
        }
        assert!(attempt < 50, "{open} could not be clicked");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    wait_for_text(browser, ".viewer__output", |text| text.contains("France")).await;
    assert_headings_in_order(browser).await;
}

/// At 390×844 the page around the grid fits: nothing scrolls sideways but
/// the grid inside its own box.
async fn on_a_phone(browser: &Client) {
    set_viewport(browser, 390, 844).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_fits_sideways(browser, ".grid, pre").await;
    save_screenshot(browser, "e2e-experiments-narrow.png", None).await;
    set_viewport(browser, 1280, 900).await;
}

/// A new experiment renamed like the example and given 3 repeats, then the
/// Playground link followed at once: both edits are there on coming back,
/// and the menu tells the two "Capitals" apart.
async fn leaving_right_after_an_edit(browser: &Client) {
    click(browser, ".picker__new").await;
    wait_for_text(browser, ".picker__select", |text| {
        text.contains("Experiment 2")
    })
    .await;
    let made = find(browser, ".picker__select")
        .await
        .prop("value")
        .await
        .unwrap()
        .expect("the new experiment is open");
    let name = find(browser, ".editor__name input").await;
    name.clear().await.unwrap();
    let (backspace, tab_key) = (char::from(Key::Backspace), char::from(Key::Tab));
    name.send_keys(&format!("Capitals{tab_key}")).await.unwrap();
    find(browser, ".editor__repeats")
        .await
        .send_keys(&format!("{backspace}3{tab_key}"))
        .await
        .unwrap();
    tab(browser, "Playground").await;
    wait_for_text(browser, ".history__count", |text| text.ends_with("runs")).await;

    tab(browser, "Experiments").await;
    wait_for_text(browser, ".picker__select", |text| {
        text.contains("Capitals (2)")
    })
    .await;
    let labels = menu(browser).await;
    assert!(
        labels.len() == 2 && labels.contains(&"Capitals".to_owned()),
        "{labels:?}"
    );
    find(browser, ".picker__select")
        .await
        .select_by_value(&made)
        .await
        .unwrap();
    let repeats = find(browser, ".editor__repeats")
        .await
        .prop("value")
        .await
        .unwrap();
    let renamed = find(browser, ".editor__name input")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        (renamed.as_deref(), repeats.as_deref()),
        (Some("Capitals"), Some("3")),
        "the rename and the repeats made just before leaving"
    );
}

/// The playground's headings with a failed run listed above the history
/// and no run open (an experiment's runs open none): no level skipped.
async fn headings_with_failed_runs_and_no_run_open(browser: &Client, app: &str) {
    browser.goto(&format!("{app}/experiments/")).await.unwrap();
    wait_for_text(browser, ".picker__select", |text| text == "Capitals").await;
    click(browser, ".editor__model[data-model=offline-fail-500] input").await;
    wait_for_text(browser, ".plan__count", |text| {
        text.starts_with("6 requests")
    })
    .await;
    click(browser, ".plan__run").await;
    wait_for_text(browser, ".plan__outcome", |text| text.contains("failed")).await;
    tab(browser, "Playground").await;
    wait_for_text(browser, ".filters__failed", |text| {
        text.contains("offline-fail-500")
    })
    .await;
    assert!(browser.find(Locator::Css(".viewer__empty")).await.is_ok());
    let headings = assert_headings_in_order(browser).await;
    assert_eq!(headings[..2], ["h1 prompt-runs", "h2 Failed runs"]);
}
