//! Settings: which NeuroForge-compatible server the app talks to, with which
//! access token, and the prices the user sets for its models, saved in
//! localStorage so a reload keeps them.

mod connection;

use super::format::typed_number;
use super::keyed_rows::{keyed_rows, row};
use super::root_class::root_class;
use crate::model::Model;
use crate::store::{use_runs_store, RunsStore};
use crate::text::shortest;
use connection::keep_token;
pub use connection::{
    default_server_url, provide_server_connection, with_price_overrides, ServerConnection,
    PRICE_OVERRIDES_KEY, SERVER_URL_KEY, TOKEN_KEY,
};
pub(crate) use connection::{save_setting, saved_setting};
use leptos::prelude::*;

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

    view! {
        <form class=root_class("settings", class) on:submit=move |event| {
            event.prevent_default();
            save_url(draft.get_untracked());
        }>
            <ServerUrlField draft/>
            <AccessTokenField store connection/>
            <button type="submit">"Save"</button>
            <button type="button" on:click=move |_| save_url(default_server_url())>"Use this page's server"</button>
            <PriceList store connection problem/>
            <p class="settings__problem" role="alert">{move || problem.get()}</p>
        </form>
    }
}

/// The server URL as being typed; the form's Save applies it.
#[component]
fn ServerUrlField(draft: RwSignal<String>) -> impl IntoView {
    view! {
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
    }
}

/// The access token: a password field, kept as soon as it is typed.
#[component]
fn AccessTokenField(store: RunsStore, connection: ServerConnection) -> impl IntoView {
    view! {
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
    }
}

/// A price field per model the server serves, saved as it changes; a price
/// that is not one is refused in `problem` and changes nothing.
#[component]
fn PriceList(
    store: RunsStore,
    connection: ServerConnection,
    problem: RwSignal<Option<String>>,
) -> impl IntoView {
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
    let price_row = move |model: &Model| {
        let id = model.id.clone();
        let name = model.name.clone();
        let placeholder = model
            .cost_per_1k_tokens
            .map_or_else(|| "no price".to_owned(), shortest);
        row(id.clone(), move || {
            let shown_id = id.clone();
            let label_id = id.clone();
            view! {
            <label class="settings__price" data-model=label_id>
                {name}
                <input
                    type="text"
                    inputmode="decimal"
                    placeholder=placeholder
                    prop:value=move || connection.price_overrides.with(|prices| {
                        prices.get(&shown_id).copied().map(shortest).unwrap_or_default()
                    })
                    on:change=move |event| save_price(id.clone(), event_target_value(&event))
                />
            </label>
            }
            .into_any()
        })
    };
    view! {
        <fieldset class="settings__prices">
            <legend>"Prices (USD per 1,000 tokens; empty uses the server's)"</legend>
            {keyed_rows(move || connection.served_models.with(|models| models.iter().map(price_row).collect()))}
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::{check_url, parse_price};

    #[test]
    fn accepts_http_urls_without_a_trailing_slash() {
        assert_eq!(
            check_url(" http://localhost:8000/ "),
            Ok("http://localhost:8000".to_owned())
        );
        assert!(check_url("localhost:8000").is_err());
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
}
