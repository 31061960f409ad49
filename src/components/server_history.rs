//! ServerHistory: keeping the history on the server too (opt-in, per
//! workspace), and how that stands: synced, changes pending, offline, or
//! what went wrong.

use super::format::thousands;
use super::root_class::root_class;
use super::settings::{save_setting, saved_setting, ServerConnection};
use crate::api::{ClientConfig, NeuroForgeClient};
use crate::persist::{use_history, HistoryPersistence, SyncFeed, SyncState, SyncTarget};
use leptos::prelude::*;

/// The localStorage key holding the workspace the history is kept in on the
/// server; absent when it is kept in this browser only.
pub const SYNC_WORKSPACE_KEY: &str = "prompt-runs:sync-workspace";

/// The workspace used when a person turns syncing on without naming one.
const DEFAULT_WORKSPACE: &str = "default";

/// The workspace the history is kept in on the server (`None`: this
/// browser only), shared through context by [`keep_history_on_server`].
#[derive(Clone, Copy)]
pub struct SyncWorkspace(pub RwSignal<Option<String>>);

/// Keeps `history` on the server of `connection` (its URL and token) in
/// the workspace saved under [`SYNC_WORKSPACE_KEY`], and follows changes to
/// any of them; [`ServerHistory`] edits the workspace. Call once, beside
/// [`provide_server_connection`](super::provide_server_connection).
pub fn keep_history_on_server(
    history: HistoryPersistence,
    connection: ServerConnection,
) -> SyncWorkspace {
    let workspace = RwSignal::new(saved_setting(SYNC_WORKSPACE_KEY));
    provide_context(SyncWorkspace(workspace));
    Effect::new(move |_| {
        let target = workspace.get().map(|workspace| SyncTarget {
            client: NeuroForgeClient::new(
                ClientConfig::default()
                    .base_url(connection.base_url.get())
                    .token(connection.token.get()),
            ),
            workspace,
        });
        history.sync_with(target);
    });
    SyncWorkspace(workspace)
}

/// Why a workspace name is refused, as the server's rule says: 1–64
/// letters, digits, `_`, `-` or `.`.
fn check_workspace(name: &str) -> Result<String, String> {
    let name = name.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if (1..=64).contains(&name.len()) && name.chars().all(allowed) {
        Ok(name.to_owned())
    } else {
        Err("A workspace name is 1–64 letters, digits, _, - or .".to_owned())
    }
}

/// "Keep history on the server", the workspace it goes to, and where that
/// stands ("Synced", "3 changes waiting", "Offline: retrying in 8 s", "Uploading
/// 1,000 of 10,000", or the server's refusal). Every change is saved in this
/// browser first; the server copy follows in the background, and other
/// browsers' runs in the same workspace arrive here.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{keep_history_on_server, provide_server_connection, ServerHistory};
/// use prompt_runs::persist::{persist_history, provide_history, HistoryOptions};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn App() -> impl IntoView {
///     let store = provide_runs_store();
///     let history = provide_history(persist_history(store, HistoryOptions::default()));
///     keep_history_on_server(history, provide_server_connection(store));
///     view! { <ServerHistory/> }
/// }
/// ```
#[component]
pub fn ServerHistory(
    /// The persisted history; by default the one in context.
    #[prop(optional)]
    history: Option<HistoryPersistence>,
    /// Classes the host adds to the root element, after its own `server-history`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let history = history
        .or_else(use_history)
        .expect("ServerHistory needs the history: pass `history`, or call prompt_runs::persist::provide_history in an ancestor");
    let status = history.status();
    let SyncWorkspace(workspace) = expect_context::<SyncWorkspace>();
    let draft = RwSignal::new(
        workspace
            .get_untracked()
            .unwrap_or_else(|| DEFAULT_WORKSPACE.to_owned()),
    );
    let problem = RwSignal::new(None::<String>);
    let apply = move |on: bool| {
        let chosen = match on {
            false => Ok(None),
            true => check_workspace(&draft.get_untracked()).map(Some),
        };
        match chosen {
            Ok(chosen) => {
                let kept = match &chosen {
                    Some(name) => save_setting(SYNC_WORKSPACE_KEY, name),
                    None => window()
                        .local_storage()
                        .ok()
                        .flatten()
                        .is_some_and(|storage| storage.remove_item(SYNC_WORKSPACE_KEY).is_ok()),
                };
                problem.set((!kept).then(|| {
                    "The choice could not be saved; it applies until the page is reloaded."
                        .to_owned()
                }));
                workspace.set(chosen);
            }
            Err(reason) => problem.set(Some(reason)),
        }
    };

    view! {
        <fieldset class=root_class("server-history", class)>
            <legend>"History on the server"</legend>
            <label>
                <input
                    type="checkbox"
                    class="server-history__on"
                    prop:checked=move || workspace.with(Option::is_some)
                    on:change=move |event| apply(event_target_checked(&event))
                />
                " Keep history on the server"
            </label>
            <label>
                " Workspace "
                <input
                    class="server-history__workspace"
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                    on:change=move |_| {
                        if workspace.with_untracked(Option::is_some) {
                            apply(true);
                        }
                    }
                />
            </label>
            <p class="server-history__state" role="status">{move || state_text(&status.sync_state())}</p>
            <p class="server-history__feed">{move || feed_text(status.sync_feed())}</p>
            <p class="server-history__problem">{move || problem.get()}</p>
        </fieldset>
    }
}

/// How the sync stands, in words.
pub(crate) fn state_text(state: &SyncState) -> String {
    match state {
        SyncState::Off => "Kept in this browser only.".to_owned(),
        SyncState::Connecting => "Connecting to the server…".to_owned(),
        SyncState::Uploading { sent, total } => {
            format!("Uploading the history: {} of {} runs", thousands(*sent), thousands(*total))
        }
        SyncState::Synced => "Synced with the server.".to_owned(),
        SyncState::Pending(pending) => format!("{} change(s) waiting to be uploaded.", thousands(*pending)),
        SyncState::Offline { pending, retry_in_secs } => format!(
            "Offline: the server cannot be reached; {} change(s) wait, retrying in {retry_in_secs} s. Everything is saved in this browser.",
            thousands(*pending)
        ),
        // The sync loop tries again after its backoff, a minute at most.
        SyncState::Failed(reason) => format!("Not synced: {reason}. Everything is saved in this browser; syncing is tried again within a minute."),
    }
}

/// How the sync stands, when it needs a person's attention (changes
/// waiting, offline, failed); `None` while synced, connecting, or off.
pub(crate) fn sync_notice(state: &SyncState) -> Option<String> {
    match state {
        SyncState::Off | SyncState::Connecting | SyncState::Synced => None,
        state => Some(state_text(state)),
    }
}

/// How other browsers' changes arrive, in words.
pub(crate) fn feed_text(feed: SyncFeed) -> &'static str {
    match feed {
        SyncFeed::Waiting => "",
        SyncFeed::Live => "Live: other browsers' changes arrive as they are made.",
        SyncFeed::Polling => "Checking every 10 s: the server's live updates do not reach this browser (a proxy may hold them back).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_names_follow_the_servers_rule() {
        assert_eq!(check_workspace(" team-a.1 "), Ok("team-a.1".to_owned()));
        assert!(check_workspace("").is_err());
        assert!(check_workspace("a b").is_err());
        assert!(check_workspace(&"x".repeat(65)).is_err());
        assert!(check_workspace("ünïcode").is_err());
    }

    #[test]
    fn the_header_notice_says_only_what_needs_attention() {
        assert_eq!(sync_notice(&SyncState::Off), None);
        assert_eq!(sync_notice(&SyncState::Synced), None);
        assert_eq!(sync_notice(&SyncState::Connecting), None);
        assert_eq!(
            sync_notice(&SyncState::Pending(3)).as_deref(),
            Some("3 change(s) waiting to be uploaded.")
        );
        let failed = sync_notice(&SyncState::Failed(
            "HTTP 503: the history database is busy".into(),
        ))
        .expect("a failure is said");
        assert!(
            failed.contains("HTTP 503: the history database is busy"),
            "{failed}"
        );
        assert!(failed.contains("tried again within a minute"), "{failed}");
        assert!(!failed.contains("shortly"), "{failed}");
    }

    #[test]
    fn offline_says_that_nothing_is_lost() {
        let text = state_text(&SyncState::Offline {
            pending: 3,
            retry_in_secs: 8,
        });
        assert!(
            text.contains("3 change(s) wait")
                && text.contains("retrying in 8 s")
                && text.contains("saved in this browser")
        );
    }
}
