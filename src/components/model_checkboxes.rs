//! The models to run on, as checkboxes: the composer's (one prompt on
//! several models) and the experiment editor's (an experiment's models),
//! under the provider that serves them.

use super::keyed_rows::{keyed_rows, row};
use crate::model::Model;
use crate::store::RunsStore;
use leptos::prelude::*;

/// A "Models" fieldset: a checkbox per model `store` offers (keyed by id, so
/// models arriving from the server leave the others' boxes as they are),
/// under the name of its provider (see [`provider_of`]) as
/// `provider_name(name)` shows it (the composer: the name; the experiment
/// editor: the name and whether it can be reached; a generic, so that the
/// playground carries no code for the latter); ticked where `chosen(id)` (read reactively),
/// `choose(id, ticked)` called as a box changes, and a hint when the
/// server offers none. `classes` are the view's own: the fieldset's, each
/// model's `<label>`'s (with `data-model` = the id), the hint's and each
/// provider's name's (a `<p>`; no `data-provider`: 40 bytes of the first
/// load).
#[component]
pub(crate) fn ModelCheckboxes<Name: IntoView + 'static>(
    store: RunsStore,
    classes: [&'static str; 4],
    chosen: impl Fn(&str) -> bool + Copy + Send + Sync + 'static,
    choose: impl Fn(String, bool) + Copy + Send + Sync + 'static,
    provider_name: impl Fn(String) -> Name + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let [models_class, model_class, hint_class, provider_class] = classes;
    let model_rows = move || {
        let models = store.models();
        let mut rows = Vec::new();
        // Providers in the order their first model is listed, each name
        // followed by all its models.
        for (at, first) in models.iter().enumerate() {
            let provider = provider_of(first);
            if models[..at]
                .iter()
                .any(|model| provider_of(model) == provider)
            {
                continue;
            }
            let name = provider.to_owned();
            // No model id starts with a NUL: the names' keys are their own.
            rows.push(row(format!("\0{name}"), move || {
                view! { <p class=provider_class>{provider_name(name)}</p> }.into_any()
            }));
            for model in models[at..]
                .iter()
                .filter(|model| provider_of(model) == provider)
            {
                let (id, name) = (model.id.clone(), model.name.clone());
                rows.push(row(id.clone(), move || {
                    let (checked, label_id) = (id.clone(), id.clone());
                    view! {
                        <label class=model_class data-model=label_id>
                            <input
                                type="checkbox"
                                prop:checked=move || chosen(&checked)
                                on:change=move |event| choose(id.clone(), event_target_checked(&event))
                            />
                            {name}
                        </label>
                    }
                    .into_any()
                }));
            }
        }
        rows
    };
    view! {
        <fieldset class=models_class>
            <legend>"Models"</legend>
            {move || store.models().is_empty().then(|| view! {
                <p class=hint_class>"No models yet: is the server running? See Settings."</p>
            })}
            {keyed_rows(model_rows)}
        </fieldset>
    }
}

/// The provider a model is listed under: its id's `provider/` prefix (the
/// gateway's providers name their models so), else who serves it (the
/// offline models, a NeuroForge backend's).
pub(crate) fn provider_of(model: &Model) -> &str {
    match model.id.split_once('/') {
        Some((provider, _)) => provider,
        None => model.provider.as_str(),
    }
}

/// `models` after `id` is ticked (`on`) or unticked: a model ticked goes
/// last, so the order ticked is the order they run in.
pub(crate) fn tick(models: &mut Vec<String>, id: String, on: bool) {
    models.retain(|model| *model != id);
    if on {
        models.push(id);
    }
}

#[cfg(test)]
mod tests {
    use super::{provider_of, tick};
    use crate::model::{Model, Provider};

    #[test]
    fn a_model_ticked_goes_last_and_unticked_leaves() {
        let mut models = vec!["a".to_owned()];
        tick(&mut models, "b".into(), true);
        tick(&mut models, "c".into(), true);
        assert_eq!(models, ["a", "b", "c"]);
        tick(&mut models, "a".into(), false);
        assert_eq!(models, ["b", "c"]);
        // Ticked again (a box that missed its untick): once, and last.
        tick(&mut models, "b".into(), true);
        assert_eq!(models, ["c", "b"]);
        tick(&mut models, "z".into(), false);
        assert_eq!(
            models,
            ["c", "b"],
            "unticking what is not there changes nothing"
        );
    }

    #[test]
    fn a_model_is_listed_under_its_ids_prefix_else_who_serves_it() {
        let model = |id: &str, provider: Provider| Model {
            id: id.to_owned(),
            name: id.to_owned(),
            provider,
            max_tokens: 1,
            supports_streaming: true,
            cost_per_1k_tokens: None,
            metadata: None,
        };
        assert_eq!(
            provider_of(&model("anthropic/claude-haiku-4-5", Provider::Anthropic)),
            "anthropic"
        );
        assert_eq!(
            provider_of(&model(
                "openrouter/anthropic/claude-3.5-haiku",
                Provider::Openai
            )),
            "openrouter",
            "only the first slash names the provider"
        );
        assert_eq!(
            provider_of(&model("offline-echo", Provider::Local)),
            "local"
        );
        assert_eq!(
            provider_of(&model("gemini-2.0-flash", Provider::Google)),
            "google"
        );
    }
}
