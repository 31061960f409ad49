//! Settings: which NeuroForge-compatible server the app talks to, saved in
//! localStorage so a reload keeps it.

use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;

/// The localStorage key holding the server's base URL.
pub const SERVER_URL_KEY: &str = "prompt-runs:server-url";

/// The server the app talks to, shared through context by
/// [`provide_server_connection`] and edited by [`Settings`].
#[derive(Clone, Copy)]
pub struct ServerConnection {
    /// The base URL in use.
    pub base_url: RwSignal<String>,
}

/// The base URL to use when none was saved: the page's own origin, since the
/// gateway serves the app and the API from one address.
pub fn default_server_url() -> String {
    window()
        .location()
        .origin()
        .unwrap_or_else(|_| crate::api::wire::DEFAULT_BASE_URL.to_owned())
}

/// Connects `store` to the saved server (or this page's origin), and again
/// whenever [`Settings`] changes it: sets a [`NeuroForgeClient`] as its
/// executor and loads the server's models (and so their prices). Failure to
/// load them is shown as the store's error.
pub fn provide_server_connection(store: RunsStore) -> ServerConnection {
    let saved = window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(SERVER_URL_KEY).ok().flatten());
    let connection = ServerConnection {
        base_url: RwSignal::new(saved.unwrap_or_else(default_server_url)),
    };
    provide_context(connection);
    Effect::new(move |_| {
        let base_url = connection.base_url.get();
        use crate::api::{ClientConfig, NeuroForgeClient};
        let client = NeuroForgeClient::new(ClientConfig::default().base_url(base_url.clone()));
        store.set_executor(client.clone());
        leptos::task::spawn_local(async move {
            match client.models().await {
                Ok(models) => store.set_models(models),
                Err(error) => store.report_background_error(format!(
                    "Could not load the models from {base_url}: {error}"
                )),
            }
        });
    });
    connection
}

/// Why a base URL was refused.
fn check_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_owned())
    } else {
        Err("The server URL must start with http:// or https://".to_owned())
    }
}

/// Edits the server URL of the [`ServerConnection`] in context, saves it, and
/// reconnects.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_server_connection, Settings};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn App() -> impl IntoView {
///     let store = provide_runs_store();
///     provide_server_connection(store);
///     view! { <Settings/> }
/// }
/// ```
#[component]
pub fn Settings(
    /// The store to report problems to; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let connection = expect_context::<ServerConnection>();
    let draft = RwSignal::new(connection.base_url.get_untracked());
    let problem = RwSignal::new(None::<String>);
    let save = move |url: String| match check_url(&url) {
        Ok(url) => {
            problem.set(None);
            draft.set(url.clone());
            let stored = window()
                .local_storage()
                .ok()
                .flatten()
                .map(|storage| storage.set_item(SERVER_URL_KEY, &url));
            if !matches!(stored, Some(Ok(()))) {
                store.report_background_error(
                    "The server URL could not be saved; it applies until the page is reloaded.",
                );
            }
            connection.base_url.set(url);
        }
        Err(message) => problem.set(Some(message)),
    };

    view! {
        <form class="settings" on:submit=move |event| {
            event.prevent_default();
            save(draft.get_untracked());
        }>
            <label for="settings-server-url">"Server URL"</label>
            <input
                id="settings-server-url"
                type="url"
                prop:value=move || draft.get()
                on:input=move |event| draft.set(event_target_value(&event))
            />
            <button type="submit">"Save"</button>
            <button type="button" on:click=move |_| save(default_server_url())>"Use this page's server"</button>
            <p class="settings__problem" role="alert">{move || problem.get()}</p>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn accepts_http_urls_without_a_trailing_slash() {
        assert_eq!(
            check_url(" http://localhost:8000/ "),
            Ok("http://localhost:8000".to_owned())
        );
        assert!(check_url("localhost:8000").is_err());
    }
}
