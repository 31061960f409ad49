//! HistoryTrash: the runs removed from the history, kept to be put back
//! (Restore) until the trash is emptied; with the history on a server, the
//! workspace's trash, the same in every browser of it.

use super::format::{local_time, thousands};
use crate::persist::{use_history, HistoryPersistence, TrashedRun};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The trash, folded until opened (it is read only then): each run removed
/// (its model, when it ran, when it was removed) with "Restore", and
/// "Empty trash", which asks once more before deleting them for good.
#[component]
pub fn HistoryTrash(
    /// The persisted history; by default the one in context.
    #[prop(optional)]
    history: Option<HistoryPersistence>,
) -> impl IntoView {
    let history = history
        .or_else(use_history)
        .expect("HistoryTrash needs the history: pass `history`, or call prompt_runs::persist::provide_history in an ancestor");
    let status = history.status();
    let history = StoredValue::new_local(history);
    let open = RwSignal::new(false);
    let trash = RwSignal::new(Vec::<TrashedRun>::new());
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        status.trash_changes();
        if open.get() {
            let history = history.get_value();
            spawn_local(async move { trash.set(history.trash().await) });
        }
    });
    let restore = move |id: String| {
        trash.update(|trash| trash.retain(|trashed| trashed.run.id != id));
        let history = history.get_value();
        spawn_local(async move { history.restore(&[id]).await });
    };
    let empty = move |_| {
        if !confirming.get_untracked() {
            return confirming.set(true);
        }
        confirming.set(false);
        trash.set(Vec::new());
        let history = history.get_value();
        spawn_local(async move {
            history.empty_trash(None).await;
        });
    };
    let count = move || trash.with(Vec::len) as u64;

    view! {
        <section class="trash" aria-label="Trash">
            <button type="button" class="trash__toggle" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|open| *open = !*open)>
                "Trash"
            </button>
            <Show when=move || open.get()>
            <p class="trash__note">
                "Removed runs wait here, to be restored, until the trash is emptied (on the server, for 30 days at most)."
            </p>
            <ul class="trash__list">
                {move || trash.get().into_iter().map(|TrashedRun { run, trashed_at }| {
                    let id = run.id.clone();
                    view! {
                        <li class="trash__run" data-run-id=run.id>
                            {format!("{} · ran {} · removed {} ", run.model_id, local_time(&run.started_at), local_time(&trashed_at))}
                            <button type="button" class="trash__restore" on:click=move |_| restore(id.clone())>"Restore"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <p class="trash__state" role="status">
                {move || match count() {
                    0 => "The trash is empty.".to_owned(),
                    runs => format!("{} run(s) in the trash.", thousands(runs)),
                }}
            </p>
            <button type="button" class="trash__empty" prop:disabled=move || count() == 0 on:click=empty>
                {move || match confirming.get() {
                    true => format!("Delete {} run(s) for good?", thousands(count())),
                    false => "Empty trash".to_owned(),
                }}
            </button>
            </Show>
        </section>
    }
}
