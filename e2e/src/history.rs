//! Histories of typical runs for the browser: written as the app's JSON
//! export, and chosen in its "Import JSON" as a person would.

// Its own `#![allow(dead_code)]` covers the parts this test does not use.
#[path = "../../benches/workload/mod.rs"]
mod workload;

use crate::wait_for_answer;
use fantoccini::{Client, Locator};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The app's localStorage manifest: its `runs` counts the stored runs after each save.
const MANIFEST_KEY: &str = "prompt-runs:v1";

/// A JSON export of `size` typical runs, as the app's "Export JSON" writes it.
pub struct History {
    /// How many runs.
    pub size: usize,
    /// The file.
    pub path: PathBuf,
    /// The id of the newest run (the last one started), shown first.
    pub newest: Option<String>,
}

impl History {
    /// Writes `size` typical runs (benches/workload) to a file in `dir`.
    pub fn write(dir: &Path, size: usize) -> History {
        let path = dir.join(format!("history-{size}.json"));
        let file = std::fs::File::create(&path).expect("a history file");
        let mut out = BufWriter::new(file);
        let mut prose = workload::Prose(7);
        let mut newest = None;
        out.write_all(b"[").unwrap();
        for index in 0..size {
            let run = workload::typical_run(index, &mut prose);
            out.write_all(if index == 0 { b"\n" } else { b",\n" })
                .unwrap();
            serde_json::to_writer(&mut out, &run).expect("a run serializes");
            newest = Some(run.id);
        }
        out.write_all(b"\n]\n").unwrap();
        out.flush().expect("the history file is written");
        History { size, path, newest }
    }
}

/// Chooses `history`'s file in the app's "Import JSON" input and waits until
/// the app has saved every run (its localStorage manifest counts them).
pub async fn import(browser: &Client, app: &str, history: &History) {
    browser.goto(app).await.expect("the app loads");
    let input = wait_for(browser, ".transfer__import input[type=file]").await;
    input
        .send_keys(history.path.to_str().expect("a UTF-8 path"))
        .await
        .expect("the file is chosen");
    let script = format!(
        "const manifest = JSON.parse(localStorage.getItem('{MANIFEST_KEY}') || '{{}}');
         const outcome = document.querySelector('.transfer__outcome');
         return [manifest.runs || 0, outcome ? outcome.textContent : ''];"
    );
    // The page may be too busy to answer for a while: that is no error.
    let every = (Duration::from_secs(480), Duration::from_millis(500));
    let what = format!(
        "{} runs are saved, within 8 minutes of importing them",
        history.size
    );
    wait_for_answer(browser, &script, every, &what, |answer| {
        let saved = answer[0].as_u64().unwrap_or(0);
        let outcome = answer[1].as_str().unwrap_or_default();
        assert!(
            outcome.is_empty() || outcome.starts_with("Imported"),
            "the import failed: {outcome}"
        );
        (saved == history.size as u64).then_some(())
    })
    .await;
}

async fn wait_for(browser: &Client, selector: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(element) = browser.find(Locator::Css(selector)).await {
            return element;
        }
        assert!(Instant::now() < deadline, "{selector} never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
