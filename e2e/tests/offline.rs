//! The app without its server: once a visit has kept the app shell (the
//! service worker, `service-worker.js`), a reload while the gateway is
//! stopped shows the app, both pages, and the whole local history, and says
//! that the server cannot be reached (and, when the history is kept there
//! too, that changes wait); a new build served later replaces the kept one,
//! whose files are then deleted. Saves `target/e2e-offline.png`.
//!
//! Needs `dist/` (`trunk build --release`) and `chromedriver` (or
//! `CHROMEDRIVER`): `cargo xtask test` provides both. A test binary of its
//! own, so that its browser does not run beside the others'.

use fantoccini::Client;
use prompt_runs_e2e::{
    click, evaluate, find, save_screenshot, wait_for_answer, wait_for_text, workspace_root,
    Browser, Gateway,
};
use std::path::Path;
use std::time::Duration;

/// The caches `service-worker.js` keeps (its `version` 1).
const PAGES_CACHE: &str = "prompt-runs-pages-v1";
const FILES_CACHE: &str = "prompt-runs-files-v1";

#[tokio::test(flavor = "multi_thread")]
async fn the_app_opens_without_its_server_and_a_new_build_replaces_the_kept_one() {
    reload_with_the_gateway_stopped().await;
    a_new_build_replaces_the_old().await;
}

/// Waits until the service worker is active and keeps both pages.
async fn shell_kept(browser: &Client) {
    let script = format!(
        "return (async () => {{
             const registration = await navigator.serviceWorker.getRegistration();
             if (!registration || !registration.active) return false;
             const pages = await caches.open('{PAGES_CACHE}');
             return Boolean(await pages.match('/')) && Boolean(await pages.match('/experiments/'));
         }})();"
    );
    let every = (Duration::from_secs(60), Duration::from_millis(250));
    wait_for_answer(browser, &script, every, "the app shell is kept", |kept| {
        (kept == &serde_json::json!(true)).then_some(())
    })
    .await;
}

async fn reload_with_the_gateway_stopped() {
    let dist = workspace_root().join("dist");
    let gateway = Gateway::start(&dist, &["--offline-tokens-per-second", "1000"]).await;
    let browser = Browser::start("offline", &[]).await;
    let client = &browser.client;
    client.goto(&gateway.url).await.unwrap();
    wait_for_text(client, ".composer__models", |text| {
        text.contains("Offline demo")
    })
    .await;
    find(client, ".composer__prompt")
        .await
        .send_keys("Kept while the server is away")
        .await
        .unwrap();
    click(client, ".composer__execute").await;
    wait_for_text(client, ".history__count", |text| text == "1 run").await;
    // The history kept on the server too (its first sync uploads that run),
    // so that the header has something to say once the server is gone.
    evaluate(
        client,
        "document.querySelector('.app-header__settings').open = true; return null;",
    )
    .await;
    click(client, ".server-history__on").await;
    wait_for_text(client, ".server-history__state", |text| {
        text == "Synced with the server."
    })
    .await;
    let header = find(client, ".app-header__sync").await;
    assert_eq!(
        header.text().await.unwrap(),
        "",
        "nothing to say while synced"
    );
    assert!(!header.is_displayed().await.unwrap());
    shell_kept(client).await;

    let app = gateway.url.clone();
    gateway.stop().await;
    client.refresh().await.unwrap();
    wait_for_text(client, ".history__count", |text| text == "1 run").await;
    wait_for_text(client, ".error-banner", |text| {
        text.contains("could not reach the server")
    })
    .await;
    let offline = wait_for_text(client, ".app-header__sync", |text| {
        text.starts_with("Offline")
    })
    .await;
    assert!(offline.contains("saved in this browser"), "{offline}");
    save_screenshot(client, "e2e-offline.png", None).await;

    // The Experiments page too, never opened before.
    client.goto(&format!("{app}/experiments/")).await.unwrap();
    wait_for_text(client, ".picker__select", |text| text == "Capitals").await;
    wait_for_text(client, ".app-header__sync", |text| {
        text.starts_with("Offline")
    })
    .await;
    browser.close().await;
}

/// Copies the built app to `to` (a fresh directory).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Turns the playground in `dir` into another build: its hashed files under
/// other names (as a build with other content gets), and its page, which
/// names them, titled "prompt-runs (build 2)". Returns the old files' paths.
fn rebuild(dir: &Path) -> Vec<String> {
    let page = dir.join("index.html");
    let mut html = std::fs::read_to_string(&page).unwrap();
    let mut old = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some((stem, rest)) = name.rsplit_once('-') else {
            continue;
        };
        let (hash, extension) = rest.split_once(['_', '.']).unwrap_or((rest, ""));
        if hash.len() < 8 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || !html.contains(&name) {
            continue;
        }
        let renamed = format!("{stem}-0b0b0b0b0b0b0b0b{}", &rest[hash.len()..]);
        assert!(!extension.is_empty(), "{name}");
        std::fs::rename(dir.join(&name), dir.join(&renamed)).unwrap();
        html = html.replace(&name, &renamed);
        old.push(format!("/{name}"));
    }
    assert!(old.len() >= 3, "the page's .js, .wasm and .css: {old:?}");
    html = html.replace(
        "<title>prompt-runs</title>",
        "<title>prompt-runs (build 2)</title>",
    );
    std::fs::write(page, html).unwrap();
    old
}

async fn a_new_build_replaces_the_old() {
    let browser = Browser::start("new-build", &[]).await;
    let client = &browser.client;
    let served = browser.work_dir().join("dist");
    copy_dir(&workspace_root().join("dist"), &served);
    let gateway = Gateway::start(&served, &["--offline-tokens-per-second", "1000"]).await;
    client.goto(&gateway.url).await.unwrap();
    wait_for_text(client, ".composer__models", |text| {
        text.contains("Offline demo")
    })
    .await;
    shell_kept(client).await;
    assert_eq!(client.title().await.unwrap(), "prompt-runs");

    let old = rebuild(&served);
    client.refresh().await.unwrap();
    assert_eq!(
        client.title().await.unwrap(),
        "prompt-runs (build 2)",
        "the new build is seen at the first reload"
    );
    wait_for_text(client, ".composer__models", |text| {
        text.contains("Offline demo")
    })
    .await;
    let loaded = evaluate(
        client,
        "return performance.getEntriesByType('resource').map(entry => new URL(entry.name).pathname);",
    )
    .await;
    let loaded: Vec<String> = serde_json::from_value(loaded).unwrap();
    assert!(
        loaded
            .iter()
            .any(|path| path.contains("-0b0b0b0b0b0b0b0b_bg.wasm"))
            && !loaded.iter().any(|path| old.contains(path)),
        "the new page runs its own files, none of the old: {loaded:?}"
    );
    // Kept once its files are, and the old build's files deleted.
    let every = (Duration::from_secs(60), Duration::from_millis(250));
    let script = format!(
        "return (async () => {{
             const page = await (await caches.open('{PAGES_CACHE}')).match('/');
             const files = await (await caches.open('{FILES_CACHE}')).keys();
             return [await page.text(), files.map(request => new URL(request.url).pathname)];
         }})();"
    );
    let kept: Vec<String> = wait_for_answer(
        client,
        &script,
        every,
        "the new page is kept and the old files deleted",
        |answer| {
            let kept: Vec<String> = serde_json::from_value(answer[1].clone()).ok()?;
            let pruned = old.iter().all(|path| !kept.contains(path));
            (answer[0].as_str()?.contains("build 2") && pruned).then_some(kept)
        },
    )
    .await;
    assert!(
        kept.iter()
            .filter(|path| path.contains("-0b0b0b0b0b0b0b0b"))
            .count()
            == old.len()
            && kept.iter().any(|path| path.starts_with("/experiments/")),
        "the new build's files are kept, and the Experiments page's: {kept:?}"
    );

    gateway.stop().await;
    client.refresh().await.unwrap();
    assert_eq!(client.title().await.unwrap(), "prompt-runs (build 2)");
    wait_for_text(client, ".error-banner", |text| {
        text.contains("could not reach the server")
    })
    .await;
    find(client, ".composer__prompt").await;
    browser.close().await;
}
