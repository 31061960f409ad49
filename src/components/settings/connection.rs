//! The connection to the server: its base URL and access token (saved in
//! localStorage, the token also taken from the page's address), the models
//! it serves, and the user's prices laid over theirs.

use crate::api::{ClientConfig, NeuroForgeClient};
use crate::model::Model;
use crate::store::RunsStore;
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
/// by [`provide_server_connection`] and edited by [`Settings`](super::Settings).
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

/// The value saved under `key`, if storage has one.
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
pub(super) fn keep_token(store: RunsStore, connection: ServerConnection, token: Option<String>) {
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
/// whenever [`Settings`](super::Settings) changes it: sets a [`NeuroForgeClient`] as its
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
        store.set_server_limits(None);
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
            // A server that does not say its limits (404) leaves them unknown.
            if let Ok(limits) = client.limits().await {
                store.set_server_limits(Some(limits));
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

#[cfg(test)]
mod tests {
    use super::{take_token, with_price_overrides};
    use crate::model::{Model, Provider};
    use std::collections::HashMap;

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
