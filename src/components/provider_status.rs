//! The providers the server forwards to, as `GET /api/v1/providers` lists
//! them: asked for by the Experiments page ([`provide_provider_health`]),
//! shown read-only in its Settings ([`ProviderStatuses`]: each provider's
//! status, when and how it was last checked, its last error), and read by
//! its model picker to mark a provider that could not be reached. Not on
//! the playground: its first load has no room for it (docs/providers.md).

use super::settings::ServerConnection;
use crate::api::wire::ProviderStatus;
use crate::api::{ClientConfig, NeuroForgeClient};
use leptos::prelude::*;

/// The server's providers as last asked (their list: empty from a server
/// with none of its own, or a NeuroForge backend), or why they could not
/// be; shared through context.
#[derive(Clone, Copy)]
pub struct ProviderHealth {
    statuses: RwSignal<Result<Vec<ProviderStatus>, String>>,
    /// Bumped to ask again.
    asked: RwSignal<u32>,
}

impl ProviderHealth {
    /// Whether provider `name` did not answer at all when last asked
    /// (read reactively).
    pub fn unreachable(&self, name: &str) -> bool {
        self.statuses.with(|statuses| {
            statuses.as_ref().is_ok_and(|statuses| {
                statuses.iter().any(|status| {
                    status.name.as_deref() == Some(name) && status.reachable == Some(false)
                })
            })
        })
    }

    /// Asks the server again.
    pub fn check_again(&self) {
        self.asked.update(|asked| *asked += 1);
    }
}

/// Asks the server in context ([`ServerConnection`]) for its providers, and
/// again whenever it or its token changes or [`ProviderHealth::check_again`]
/// is called; provides and returns what it said.
pub fn provide_provider_health() -> ProviderHealth {
    let connection = expect_context::<ServerConnection>();
    let health = ProviderHealth {
        statuses: RwSignal::new(Ok(Vec::new())),
        asked: RwSignal::new(0),
    };
    provide_context(health);
    Effect::new(move |_| {
        health.asked.track();
        let client = NeuroForgeClient::new(
            ClientConfig::default()
                .base_url(connection.base_url.get())
                .token(connection.token.get()),
        );
        leptos::task::spawn_local(async move {
            let asked = client.providers().await;
            let statuses = asked
                .map(|answer| answer.providers)
                .map_err(|error| error.to_string());
            // The page may have unmounted the app meanwhile.
            let _ = health.statuses.try_set(statuses);
        });
    });
    health
}

/// Each of the server's providers in context ([`provide_provider_health`]),
/// read-only: its name and API, whether it answers and lists its models,
/// when and how it was last checked, and its last error (as the server
/// words it, shown as text); a button to ask again.
#[component]
pub fn ProviderStatuses() -> impl IntoView {
    let health = expect_context::<ProviderHealth>();
    let listed = move || {
        health.statuses.with(|statuses| match statuses {
            Err(problem) => view! {
                <p class="providers__problem" role="alert">{format!("The providers could not be asked: {problem}")}</p>
            }
            .into_any(),
            Ok(statuses) if statuses.is_empty() => view! {
                <p class="providers__none">"The server forwards to no providers of its own."</p>
            }
            .into_any(),
            Ok(statuses) => view! {
                <ul class="providers__list">{statuses.iter().map(provider_status).collect_view()}</ul>
            }
            .into_any(),
        })
    };
    view! {
        <section class="providers" aria-label="Providers">
            <h2 class="providers__title">"Providers"</h2>
            {listed}
            <button type="button" class="providers__check" on:click=move |_| health.check_again()>"Check again"</button>
        </section>
    }
}

/// One provider's line: `anthropic (anthropic API): answers, lists its
/// models`, then when it was checked and its last error.
fn provider_status(status: &ProviderStatus) -> impl IntoView {
    let name = status.name.clone().unwrap_or_default();
    let state = match (status.reachable, status.available) {
        (_, true) => "answers and lists its models",
        (Some(true), false) => "answers, but its model list failed",
        (Some(false), _) => "not reachable",
        (None, false) => "not checked yet",
    };
    let checked = status.checked_at.as_ref().map(|at| {
        let by = status.checked_by.as_deref().unwrap_or("asking it");
        format!("Checked {at}, by {by}.")
    });
    let error = status.last_error.as_ref().map(|error| {
        let at = status.last_error_at.as_deref().unwrap_or("");
        view! { <p class="providers__error">"Last error (" {at.to_owned()} "): " {error.clone()}</p> }
    });
    let data = name.clone();
    view! {
        <li class="providers__provider" data-provider=data data-reachable=status.reachable.map(|reachable| reachable.to_string())>
            <strong>{name}</strong>
            {format!(" ({} API): {state}", status.adapter.as_deref().unwrap_or("its"))}
            <p class="providers__checked">{checked}</p>
            {error}
        </li>
    }
}
