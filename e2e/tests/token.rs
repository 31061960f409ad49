//! The app served by a gateway that requires its access token (`--token`),
//! as a person meets it: opened without the token it says what to do; the
//! token pasted in Settings works; opened with the address the gateway
//! prints (`/?token=…`) it executes a prompt, and the token leaves the
//! address bar; the API without the token answers 401.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A separate test binary
//! from `app.rs`, so that the two browsers do not run at once.

use fantoccini::{key::Key, Client, Locator};
use prompt_runs_e2e::{evaluate as in_page, start_gateway, wait_for_text, workspace_root, Browser};
use serde_json::json;

const TOKEN: &str = "e2e-0123456789abcdef";

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_the_app_takes_it_from_its_address_or_from_settings() {
    let dist = workspace_root().join("dist");
    let flags = ["--offline-tokens-per-second", "1000", "--token", TOKEN];
    let app = start_gateway(&dist, &flags).await;
    let browser = Browser::start("token", &[]).await;
    drive(&browser.client, &app).await;
    browser.close().await;
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
