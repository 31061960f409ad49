//! PromptComposer: write a prompt, pick one or several models, add context
//! blocks, set the answer's length and temperature, and execute; or load the
//! active run's prompt to run it again.

use super::format::typed_number;
use super::root_class::root_class;
use crate::api::wire::ExecuteParameters;
use crate::store::{use_runs_store, RunsStore};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The prompt form: prompt text, models (from [`RunsStore::models`]), context
/// blocks, max tokens and temperature (the store's
/// [`execution_parameters`](RunsStore::execution_parameters); empty leaves
/// them to the server), and Execute (also Ctrl/Cmd+Enter), disabled while executing. One
/// model runs [`RunsStore::execute`]; several run
/// [`RunsStore::execute_many`] as one batch.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::PromptComposer;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Workbench() -> impl IntoView {
///     provide_runs_store(); // plus store.set_executor(..) and store.set_models(..)
///     view! { <PromptComposer/> }
/// }
/// ```
#[component]
pub fn PromptComposer(
    /// The store to execute with; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// Classes the host adds to the root element, after its own `composer`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let prompt = RwSignal::new(String::new());
    let chosen_models = RwSignal::new(Vec::<String>::new());
    let context_blocks = RwSignal::new(Vec::<String>::new());

    // Until the user picks, the first model offered is chosen, so a newcomer
    // can type a prompt and press Execute.
    Effect::new(move |_| {
        let models = store.models();
        if chosen_models.with_untracked(Vec::is_empty) {
            if let Some(first) = models.first() {
                chosen_models.set(vec![first.id.clone()]);
            }
        }
    });

    let can_execute = move || {
        !store.is_executing()
            && !prompt.with(|text| text.trim().is_empty())
            && !chosen_models.with(Vec::is_empty)
    };
    let execute = move || {
        if !can_execute() {
            return;
        }
        let text = prompt.get_untracked();
        let models = chosen_models.get_untracked();
        let blocks: Vec<String> = context_blocks
            .get_untracked()
            .into_iter()
            .filter(|block| !block.trim().is_empty())
            .collect();
        spawn_local(async move {
            // Failures are recorded on the run and shown as the store's error.
            if let [model] = models.as_slice() {
                let _ = store.execute(text, model.clone(), blocks).await;
            } else {
                let _ = store.execute_many(text, models, blocks).await;
            }
        });
    };
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && (event.ctrl_key() || event.meta_key()) {
            event.prevent_default();
            execute();
        }
    };
    let rerun_active = move |_| {
        if let Some(run) = store.active_run() {
            prompt.set(run.prompt_snapshot.clone());
            chosen_models.set(vec![run.model_id.clone()]);
            context_blocks.set(run.context_block_ids.clone());
        }
    };
    let toggle_model = move |id: String| {
        chosen_models.update(
            |chosen| match chosen.iter().position(|model| model == &id) {
                Some(index) => {
                    chosen.remove(index);
                }
                None => chosen.push(id),
            },
        )
    };

    let set_parameter = move |edit: &dyn Fn(&mut ExecuteParameters)| {
        let mut parameters = store.execution_parameters();
        edit(&mut parameters);
        store.set_execution_parameters(parameters);
    };

    view! {
        <form class=root_class("composer", class) on:submit=move |event| {
            event.prevent_default();
            execute();
        }>
            // The field inside its label, not tied by an id: the component
            // may appear twice on one page.
            <label class="composer__label">
                "Prompt"
                <textarea
                    class="composer__prompt"
                    rows="5"
                    placeholder="Ask something… (Ctrl+Enter to execute)"
                    prop:value=move || prompt.get()
                    on:input=move |event| prompt.set(event_target_value(&event))
                    on:keydown=on_keydown
                ></textarea>
            </label>
            <fieldset class="composer__models">
                <legend>"Models"</legend>
                {move || store.models().is_empty().then(|| view! {
                    <p class="composer__hint">"No models yet: is the server running? See Settings."</p>
                })}
                <For
                    each=move || store.models()
                    key=|model| model.id.clone()
                    let:model
                >
                    {
                        let id = model.id.clone();
                        let checked_id = id.clone();
                        view! {
                            <label class="composer__model" data-model=model.id.clone()>
                                <input
                                    type="checkbox"
                                    prop:checked=move || chosen_models.with(|chosen| chosen.contains(&checked_id))
                                    on:change=move |_| toggle_model(id.clone())
                                />
                                {model.name.clone()}
                            </label>
                        }
                    }
                </For>
            </fieldset>
            <fieldset class="composer__blocks">
                <legend>"Context blocks"</legend>
                {move || {
                    context_blocks
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(index, block)| view! {
                            <div class="composer__block">
                                <textarea
                                    rows="2"
                                    aria-label=format!("Context block {}", index + 1)
                                    prop:value=block
                                    on:change=move |event| {
                                        let text = event_target_value(&event);
                                        context_blocks.update(|blocks| blocks[index] = text);
                                    }
                                ></textarea>
                                <button type="button" on:click=move |_| context_blocks.update(|blocks| {
                                    blocks.remove(index);
                                })>"Remove"</button>
                            </div>
                        })
                        .collect_view()
                }}
                <button type="button" on:click=move |_| context_blocks.update(|blocks| blocks.push(String::new()))>
                    "Add context block"
                </button>
            </fieldset>
            <fieldset class="composer__parameters">
                <legend>"Parameters"</legend>
                <label>
                    "Max tokens"
                    <input
                        class="composer__max-tokens"
                        type="number"
                        min="1"
                        step="1"
                        placeholder="server's default"
                        prop:value=move || store.execution_parameters().max_tokens.map(|tokens| tokens.to_string()).unwrap_or_default()
                        on:change=move |event| {
                            let tokens = parse_max_tokens(&event_target_value(&event));
                            set_parameter(&|parameters| parameters.max_tokens = tokens);
                        }
                    />
                </label>
                <label>
                    "Temperature"
                    <input
                        class="composer__temperature"
                        type="number"
                        min="0"
                        max="2"
                        step="0.1"
                        placeholder="server's default"
                        prop:value=move || store.execution_parameters().temperature.map(|temperature| temperature.to_string()).unwrap_or_default()
                        on:change=move |event| {
                            let temperature = parse_temperature(&event_target_value(&event));
                            set_parameter(&|parameters| parameters.temperature = temperature);
                        }
                    />
                </label>
            </fieldset>
            <div class="composer__actions">
                <button type="submit" class="composer__execute" prop:disabled=move || !can_execute()>
                    {move || if store.is_executing() { "Executing…" } else { "Execute" }}
                </button>
                <button
                    type="button"
                    class="composer__rerun"
                    prop:disabled=move || store.active_run().is_none() || store.is_executing()
                    on:click=rerun_active
                >
                    "Re-run active run's prompt"
                </button>
            </div>
        </form>
    }
}

/// A typed answer length: a positive whole number, else none (the server's).
fn parse_max_tokens(text: &str) -> Option<u32> {
    text.trim().parse().ok().filter(|tokens| *tokens > 0)
}

/// A typed temperature: a number from 0 to 2, else none (the server's).
fn parse_temperature(text: &str) -> Option<f64> {
    typed_number(text).filter(|temperature| (0.0..=2.0).contains(temperature))
}

#[cfg(test)]
mod tests {
    use super::{parse_max_tokens, parse_temperature};

    #[test]
    fn parameters_as_typed_or_the_servers_default() {
        assert_eq!(parse_max_tokens(" 256 "), Some(256));
        assert_eq!(parse_max_tokens(""), None);
        assert_eq!(parse_max_tokens("0"), None);
        assert_eq!(parse_max_tokens("1.5"), None);
        assert_eq!(parse_temperature("0.7"), Some(0.7));
        assert_eq!(parse_temperature("0"), Some(0.0));
        assert_eq!(
            parse_temperature(".5"),
            Some(0.5),
            "as a number field may hold it"
        );
        assert_eq!(parse_temperature(""), None);
        assert_eq!(parse_temperature("3"), None);
        assert_eq!(parse_temperature("-1"), None);
    }
}
