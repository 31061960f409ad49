//! HistoryStorage: where the history is kept, how full that is, whether the
//! browser may clear it, and backups, so that nothing is lost by surprise.

use super::format::{bytes, local_time, thousands};
use super::history_transfer::{chosen_file, export_to_file, import_file};
use super::root_class::root_class;
use crate::model::Timestamp;
use crate::persist::{
    backup_reminder, is_storage_persistent, request_persistent_storage, storage_use, use_history,
    ExportFormat, HistoryPersistence, HistoryPlace, StorageUse,
};
use crate::store::RunsStore;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// A history this long is worth asking the browser to keep.
const WORTH_KEEPING: u64 = 20;

/// The history's storage, for the person who owns it: where it is kept, the
/// space used of the space available (with a warning at 80 %), whether the
/// browser may clear it under disk pressure (with a button to ask it not
/// to; asked once by itself when the history reaches 20 runs), the last
/// backup with a one-click "Back up" (a JSON export read from storage part
/// by part, so it needs neither the older runs loaded nor their text in
/// memory) and
/// a reminder when it is a week old or 1,000 runs behind, and a restore
/// when the stored history was found missing.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::HistoryStorage;
/// use prompt_runs::persist::{persist_history, HistoryOptions};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Storage() -> impl IntoView {
///     let history = persist_history(provide_runs_store(), HistoryOptions::default());
///     view! { <HistoryStorage history/> }
/// }
/// ```
#[component]
pub fn HistoryStorage(
    /// The persisted history; by default the one in context.
    #[prop(optional)]
    history: Option<HistoryPersistence>,
    /// Classes the host adds to the root element, after its own `storage`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let history = history
        .or_else(use_history)
        .expect("HistoryStorage needs the history: pass `history`, or call prompt_runs::persist::provide_history in an ancestor");
    let status = history.status();
    let usage = RwSignal::new(None::<StorageUse>);
    let persistent = RwSignal::new(None::<bool>);
    let outcome = RwSignal::new(None::<String>);
    let store = history.store();
    // Re-read the figures as the history grows (every 100 runs).
    Effect::new(move |_| {
        let runs = store.run_count() as u64;
        let _hundreds = runs / 100;
        spawn_local(async move {
            usage.set(storage_use().await);
            persistent.set(is_storage_persistent().await);
        });
        runs
    });

    view! {
        <section class=root_class("storage", class) aria-label="History storage">
            <h3>"Storage"</h3>
            <p class="storage__place">{move || place_text(&status.place())}</p>
            {move || usage.get().map(|usage| {
                let full = usage.share() >= StorageUse::WARN_AT;
                view! {
                    <p class="storage__usage" class:storage__usage--full=full>
                        {format!("Using {} of {}", bytes(usage.used_bytes), bytes(usage.quota_bytes))}
                        {full.then_some(". Storage is nearly full: back up, then remove old runs.")}
                    </p>
                }
            })}
            <Persistence store persistent outcome/>
            <Backup history outcome/>
            <p class="storage__outcome" role="status">{move || outcome.get()}</p>
        </section>
    }
}

/// Whether the browser may clear the history, with "Keep it" to ask it not
/// to; asked once by itself when the history becomes worth keeping.
#[component]
fn Persistence(
    store: RunsStore,
    persistent: RwSignal<Option<bool>>,
    outcome: RwSignal<Option<String>>,
) -> impl IntoView {
    let asked = StoredValue::new(false);
    let keep = move || {
        asked.set_value(true);
        spawn_local(async move {
            let granted = request_persistent_storage().await;
            persistent.set(granted);
            if granted == Some(false) {
                outcome.set(Some("The browser declined for now (it decides by how much this site is used); back up to be safe.".to_owned()));
            }
        });
    };
    Effect::new(move |_| {
        let worth_it = store.run_count() as u64 >= WORTH_KEEPING;
        if worth_it && persistent.get() == Some(false) && !asked.get_value() {
            keep();
        }
    });
    view! {
        <p class="storage__persistence">
            {move || match persistent.get() {
                Some(true) => "Kept by the browser even when disk space runs low.",
                Some(false) => "The browser may clear it when disk space runs low.",
                None => "",
            }}
            <Show when=move || persistent.get() == Some(false)>
                " " <button type="button" class="storage__keep" on:click=move |_| keep()>"Keep it"</button>
            </Show>
        </p>
    }
}

/// The last backup with "Back up", the reminder when it is due, and a
/// restore when the stored history was found missing.
#[component]
fn Backup(history: HistoryPersistence, outcome: RwSignal<Option<String>>) -> impl IntoView {
    let store = history.store();
    let status = history.status();
    let back_up = {
        let history = StoredValue::new_local(history);
        move |_| {
            let history = history.get_value();
            spawn_local(async move {
                let stem = format!("prompt-runs-backup-{}", &Timestamp::now().as_str()[..10]);
                let backed_up =
                    export_to_file(store, Some(history.clone()), ExportFormat::Json, &stem).await;
                outcome.set(Some(match backed_up {
                    Ok(runs) => {
                        history.record_backup(runs as u64);
                        format!("Backed up {} runs to {stem}.json.", thousands(runs as u64))
                    }
                    Err(problem) => format!("The backup failed: {problem}"),
                }));
            });
        }
    };
    let restore = move |event: leptos::ev::Event| {
        if let Some(file) = chosen_file(&event) {
            spawn_local(async move { outcome.set(Some(import_file(store, file).await)) });
        }
    };
    let reminder = move || {
        let now = Timestamp::now().unix_millis().unwrap_or_default();
        backup_reminder(status.last_backup(), store.run_count() as u64, now)
    };
    view! {
        <p class="storage__backup">
            {move || match status.last_backup() {
                Some(last) => format!(
                    "Last backup {} ({} runs).",
                    local_time(&Timestamp::from_unix_millis(last.at_unix_millis)),
                    thousands(last.runs)
                ),
                None => "Never backed up.".to_owned(),
            }}
            " "
            <button type="button" class="storage__back-up" on:click=back_up>"Back up"</button>
        </p>
        {move || reminder().map(|reminder| view! { <p class="storage__reminder" role="status">{reminder}</p> })}
        {move || status.missing_runs().map(|missing| view! {
            <p class="storage__missing" role="alert">
                {format!("Your saved history of {} runs is missing from this browser. ", thousands(missing))}
                <label>
                    "Restore from a backup file "
                    <input type="file" accept="application/json,.json" on:change=restore/>
                </label>
            </p>
        })}
    }
}

/// What the place the history is kept in means for the person.
fn place_text(place: &HistoryPlace) -> &'static str {
    match place {
        HistoryPlace::Opening => "Opening saved history…",
        HistoryPlace::IndexedDb => "Saved in this browser (IndexedDB).",
        HistoryPlace::LocalStorage => {
            "Saved in this browser's localStorage, which holds about 8,000 runs: back up regularly."
        }
        HistoryPlace::PageOnly => {
            "Not saved: runs live in this page only. Back up before closing it."
        }
    }
}
