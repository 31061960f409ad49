//! Settings: which NeuroForge-compatible server the app talks to, with which
//! access token, and the prices the user sets for its models, saved in
//! localStorage so a reload keeps them.

use super::format::typed_number;
use super::root_class::root_class;
use crate::api::{ClientConfig, NeuroForgeClient};
use crate::model::Model;
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;
use std::collections::HashMap;

/// The localStorage key holding the server's base URL.
pub const SERVER_URL_KEY: &str = "prompt-runs:server-url";
/// The localStorage key holding the user's prices: `{"<model id>": <USD per 1k tokens>}`.
pub const PRICE_OVERRIDES_KEY: &str = "prompt-runs:price-overrides";
/// The localStorage key holding the server's access token (the gateway's
/// `--token`), taken from the page's address (`?token=…`) or typed in Settings.
pub const TOKEN_KEY: &str = "prompt-runs:token";

/// The server the app talks to and the user's prices, shared through context
/// by [`provide_server_connection`] and edited by [`Settings`].
#[derive(Clone, Copy)]
pub struct ServerConnection {
    /// The base URL in use.
    pub base_url: RwSignal<String>,
    /// The access token sent with every request, if any.
    pub token: RwSignal<Option<String>>,
    /// The models as the server lists them (before the user's prices).
    pub served_models: RwSignal<Vec<Model>>,
    /// USD per 1,000 tokens by model id, replacing the server's price.
    pub price_overrides: RwSignal<HashMap<String, f64>>,
}

/// The base URL to use when none was saved: the page's own origin, since the
/// gateway serves the app and the API from one address.
pub fn default_server_url() -> String {
    window()
        .location()
        .origin()
        .unwrap_or_else(|_| crate::api::wire::DEFAULT_BASE_URL.to_owned())
}

/// `models` with the user's prices in place of the server's.
pub fn with_price_overrides(
    mut models: Vec<Model>,
    overrides: &HashMap<String, f64>,
) -> Vec<Model> {
    for model in &mut models {
        if let Some(price) = overrides.get(&model.id) {
            model.cost_per_1k_tokens = Some(*price);
        }
    }
    models
}

fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Saves `value` under `key`; false when storage refused it.
pub(crate) fn save_setting(key: &str, value: &str) -> bool {
    local_storage().is_some_and(|storage| storage.set_item(key, value).is_ok())
}

pub(crate) fn saved_setting(key: &str) -> Option<String> {
    local_storage().and_then(|storage| storage.get_item(key).ok().flatten())
}

/// Splits `token=…` out of a page's query string (`?a=1&token=t`): the
/// token as written (still percent-encoded), and the query string left
/// (empty, or starting with `?`).
fn take_token(search: &str) -> (Option<&str>, String) {
    let mut token = None;
    let rest: Vec<&str> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| match pair.strip_prefix("token=") {
            Some(value) => {
                token = Some(value);
                false
            }
            None => !pair.is_empty(),
        })
        .collect();
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!("?{}", rest.join("&"))
    };
    (token.filter(|token| !token.is_empty()), rest)
}

/// The token in the page's address (the gateway prints `/?token=…` to
/// open), taken out of it: an address with a secret in it ends up in
/// history, bookmarks and screenshots, so it is replaced at once. Taken as
/// written, not percent-decoded: the gateway's tokens are hex, and it
/// prints a given one as it was given.
fn token_from_address() -> Option<String> {
    let href = window().location().href().ok()?;
    let (address, hash) = href.split_at(href.find('#').unwrap_or(href.len()));
    let (path, search) = address.split_at(address.find('?').unwrap_or(address.len()));
    let (token, rest) = take_token(search);
    let token = token?.to_owned();
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{rest}{hash}")),
        );
    }
    Some(token)
}

/// Keeps `token` for the next visit (or forgets it, when `None`), and uses
/// it from now on; says so in `store` when storage refused it.
fn keep_token(store: RunsStore, connection: ServerConnection, token: Option<String>) {
    let kept = match &token {
        Some(token) => save_setting(TOKEN_KEY, token),
        None => local_storage().is_some_and(|storage| storage.remove_item(TOKEN_KEY).is_ok()),
    };
    if !kept {
        store.report_background_error(
            "The access token could not be saved; it applies until the page is reloaded.",
        );
    }
    connection.token.set(token);
}

/// Connects `store` to the saved server (or this page's origin), and again
/// whenever [`Settings`] changes it: sets a [`NeuroForgeClient`] as its
/// executor and loads the server's models, with the user's saved prices laid
/// over theirs, so that costs follow. Failure to load them is shown as the
/// store's error. A `token` in the page's address is taken out of it and
/// kept (under [`TOKEN_KEY`]), replacing the one kept before.
pub fn provide_server_connection(store: RunsStore) -> ServerConnection {
    let saved_prices = saved_setting(PRICE_OVERRIDES_KEY)
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
    let connection = ServerConnection {
        base_url: RwSignal::new(saved_setting(SERVER_URL_KEY).unwrap_or_else(default_server_url)),
        token: RwSignal::new(saved_setting(TOKEN_KEY)),
        served_models: RwSignal::new(Vec::new()),
        price_overrides: RwSignal::new(saved_prices),
    };
    provide_context(connection);
    if let Some(token) = token_from_address() {
        keep_token(store, connection, Some(token));
    }
    Effect::new(move |_| {
        let base_url = connection.base_url.get();
        let client = NeuroForgeClient::new(
            ClientConfig::default()
                .base_url(base_url.clone())
                .token(connection.token.get()),
        );
        store.set_executor(client.clone());
        leptos::task::spawn_local(async move {
            match client.models().await {
                // The page may have unmounted the app meanwhile.
                Ok(models) => {
                    let _ = connection.served_models.try_set(models);
                }
                Err(error) => store.report_background_error(format!(
                    "Could not load the models from {base_url}: {error}"
                )),
            }
        });
    });
    Effect::new(move |_| {
        let models = connection.served_models.get();
        store.set_models(
            connection
                .price_overrides
                .with(|prices| with_price_overrides(models, prices)),
        );
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

/// A price as typed: empty for "use the server's", else USD per 1k tokens.
fn parse_price(text: &str) -> Result<Option<f64>, String> {
    let text = text.trim().trim_start_matches('$');
    if text.is_empty() {
        return Ok(None);
    }
    match typed_number(text) {
        Some(price) if price >= 0.0 => Ok(Some(price)),
        _ => Err(format!(
            "\"{text}\" is not a price: use a number of dollars per 1,000 tokens, like 0.002"
        )),
    }
}

/// Edits the [`ServerConnection`] in context: the server URL (saved, then
/// reconnects), its access token (a password field, kept as soon as it is
/// typed; emptied, forgotten), and a price per 1,000 tokens for each of its
/// models (saved; empty uses the server's price), which the costs of new
/// runs follow.
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
    /// Classes the host adds to the root element, after its own `settings`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let connection = expect_context::<ServerConnection>();
    let draft = RwSignal::new(connection.base_url.get_untracked());
    let problem = RwSignal::new(None::<String>);
    let save_url = move |url: String| match check_url(&url) {
        Ok(url) => {
            problem.set(None);
            draft.set(url.clone());
            if !save_setting(SERVER_URL_KEY, &url) {
                store.report_background_error(
                    "The server URL could not be saved; it applies until the page is reloaded.",
                );
            }
            connection.base_url.set(url);
        }
        Err(message) => problem.set(Some(message)),
    };
    let save_price = move |model_id: String, text: String| match parse_price(&text) {
        Ok(price) => {
            problem.set(None);
            connection.price_overrides.update(|prices| match price {
                Some(price) => {
                    prices.insert(model_id, price);
                }
                None => {
                    prices.remove(&model_id);
                }
            });
            let json = connection
                .price_overrides
                .with_untracked(serde_json::to_string);
            if !json.is_ok_and(|json| save_setting(PRICE_OVERRIDES_KEY, &json)) {
                store.report_background_error(
                    "The prices could not be saved; they apply until the page is reloaded.",
                );
            }
        }
        Err(message) => problem.set(Some(message)),
    };

    view! {
        <form class=root_class("settings", class) on:submit=move |event| {
            event.prevent_default();
            save_url(draft.get_untracked());
        }>
            // The input inside its label, not tied by an id: the component
            // may appear twice on one page.
            <label class="settings__server">
                "Server URL "
                <input
                    class="settings__url"
                    type="url"
                    prop:value=move || draft.get()
                    on:input=move |event| draft.set(event_target_value(&event))
                />
            </label>
            <label class="settings__token">
                "Access token "
                <input
                    class="settings__token-input"
                    type="password"
                    autocomplete="off"
                    placeholder="only if the server asks for one"
                    // Kept as soon as it is typed, apart from the URL: pasting
                    // the token is all there is to do when the server asks.
                    on:change=move |event| {
                        let typed = event_target_value(&event).trim().to_owned();
                        keep_token(store, connection, Some(typed).filter(|token| !token.is_empty()));
                    }
                />
            </label>
            <button type="submit">"Save"</button>
            <button type="button" on:click=move |_| save_url(default_server_url())>"Use this page's server"</button>
            <fieldset class="settings__prices">
                <legend>"Prices (USD per 1,000 tokens; empty uses the server's)"</legend>
                <For
                    each=move || connection.served_models.get()
                    key=|model| model.id.clone()
                    let:model
                >
                    {
                        let id = model.id.clone();
                        let shown_id = id.clone();
                        let label_id = id.clone();
                        let placeholder = model
                            .cost_per_1k_tokens
                            .map_or_else(|| "no price".to_owned(), |price| price.to_string());
                        view! {
                            <label class="settings__price" data-model=label_id>
                                {model.name.clone()}
                                <input
                                    type="text"
                                    inputmode="decimal"
                                    placeholder=placeholder
                                    prop:value=move || connection.price_overrides.with(|prices| {
                                        prices.get(&shown_id).map(ToString::to_string).unwrap_or_default()
                                    })
                                    on:change=move |event| save_price(id.clone(), event_target_value(&event))
                                />
                            </label>
                        }
                    }
                </For>
            </fieldset>
            <p class="settings__problem" role="alert">{move || problem.get()}</p>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::{check_url, parse_price, take_token, with_price_overrides};
    use crate::model::{Model, Provider};
    use std::collections::HashMap;

    #[test]
    fn accepts_http_urls_without_a_trailing_slash() {
        assert_eq!(
            check_url(" http://localhost:8000/ "),
            Ok("http://localhost:8000".to_owned())
        );
        assert!(check_url("localhost:8000").is_err());
    }

    #[test]
    fn the_token_is_taken_out_of_the_query_and_the_rest_kept() {
        assert_eq!(take_token("?token=abc123"), (Some("abc123"), String::new()));
        assert_eq!(
            take_token("?a=1&token=t%2Bx&b=2"),
            (Some("t%2Bx"), "?a=1&b=2".to_owned())
        );
        assert_eq!(take_token(""), (None, String::new()));
        assert_eq!(take_token("?tokens=1"), (None, "?tokens=1".to_owned()));
        assert_eq!(
            take_token("?token="),
            (None, String::new()),
            "an empty one is dropped too"
        );
    }

    #[test]
    fn prices_are_dollars_per_1k_tokens_or_empty_for_the_servers() {
        assert_eq!(parse_price(" 0.002 "), Ok(Some(0.002)));
        assert_eq!(parse_price("$1.5"), Ok(Some(1.5)));
        assert_eq!(parse_price(".25"), Ok(Some(0.25)));
        assert_eq!(parse_price("2e-3"), Ok(Some(0.002)));
        assert!(parse_price("1.5.2").is_err());
        assert!(parse_price("1,5").is_err());
        assert_eq!(parse_price(""), Ok(None));
        assert!(parse_price("-1").is_err());
        assert!(parse_price("cheap")
            .unwrap_err()
            .contains("\"cheap\" is not a price"));
    }

    #[test]
    fn the_users_prices_replace_the_servers() {
        let model = |id: &str, price: Option<f64>| Model {
            id: id.to_owned(),
            name: id.to_owned(),
            provider: Provider::Local,
            max_tokens: 1,
            supports_streaming: true,
            cost_per_1k_tokens: price,
            metadata: None,
        };
        let overrides = HashMap::from([("free".to_owned(), 0.5), ("gone".to_owned(), 9.0)]);
        let models = with_price_overrides(
            vec![model("free", None), model("paid", Some(0.1))],
            &overrides,
        );
        assert_eq!(models[0].cost_per_1k_tokens, Some(0.5));
        assert_eq!(
            models[1].cost_per_1k_tokens,
            Some(0.1),
            "no override, the server's price"
        );
    }
}
