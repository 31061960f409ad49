//! PromptComposer: write a prompt, pick one or several models, add context
//! blocks, set the answer's length and temperature, and execute; or load the
//! active run's prompt to run it again.

use super::keyed_rows::{keyed_rows, row};
use super::model_checkboxes::{tick, ModelCheckboxes};
use super::number_field::{self, NumberField, Shown};
use super::root_class::root_class;
use crate::api::wire::ExecuteParameters;
use crate::store::{use_runs_store, RunsStore};
use crate::text::shortest;
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::sync::Arc;

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
    let context_blocks = RwSignal::new(ContextBlocks::default());

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
        let blocks = context_blocks.with_untracked(ContextBlocks::texts);
        spawn_local(async move {
            // Failures are recorded on the run and shown as the store's error.
            if let [model] = models.as_slice() {
                let _ = store.execute(text, model.clone(), blocks).await;
            } else {
                let _ = store.execute_many(text, models, blocks).await;
            }
        });
    };
    let rerun_active = move || {
        if let Some(run) = store.active_run() {
            prompt.set(run.prompt_snapshot.clone());
            chosen_models.set(vec![run.model_id.clone()]);
            context_blocks.update(|blocks| blocks.replace(&run.context_block_ids));
        }
    };

    view! {
        <form class=root_class("composer", class) on:submit=move |event| {
            event.prevent_default();
            execute();
        }>
            {prompt_field(prompt, execute)}
            <ModelCheckboxes
                store
                classes=["composer__models", "composer__model", "composer__hint"]
                chosen=move |id| chosen_models.with(|chosen| chosen.iter().any(|model| model == id))
                choose=move |id, on| chosen_models.update(|chosen| tick(chosen, id, on))
            />
            <ContextBlockList blocks=context_blocks/>
            <ParameterInputs store/>
            {composer_actions(store, can_execute, rerun_active)}
        </form>
    }
}

/// The prompt's text field; Ctrl/Cmd+Enter in it runs `execute`.
fn prompt_field(prompt: RwSignal<String>, execute: impl Fn() + 'static) -> impl IntoView {
    let on_keydown = move |event: KeyboardEvent| {
        if event.key() == "Enter" && (event.ctrl_key() || event.meta_key()) {
            event.prevent_default();
            execute();
        }
    };
    view! {
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
    }
}

/// The context blocks being written, each with an id that stays its own
/// while others are added and removed: the list is keyed by it, so removing
/// one block neither rebuilds the others' fields nor loses their focus.
#[derive(Default)]
struct ContextBlocks {
    blocks: Vec<ContextBlock>,
    /// The number in the next block's id: ids are never reused within one
    /// composer, so a new block is never taken for one removed before.
    next_id: usize,
}

/// One context block as typed.
struct ContextBlock {
    id: String,
    text: String,
}

impl ContextBlocks {
    /// Adds a block holding `text` at the end.
    fn add(&mut self, text: String) {
        let id = self.next_id.to_string();
        self.next_id += 1;
        self.blocks.push(ContextBlock { id, text });
    }

    /// Removes the block `id` (if it is still there).
    fn remove(&mut self, id: &str) {
        self.blocks.retain(|block| block.id != id);
    }

    /// Sets the text of the block `id`.
    fn set_text(&mut self, id: &str, text: String) {
        if let Some(block) = self.blocks.iter_mut().find(|block| block.id == id) {
            block.text = text;
        }
    }

    /// Replaces every block with new ones holding `texts`.
    fn replace(&mut self, texts: &[String]) {
        self.blocks.clear();
        for text in texts {
            self.add(text.clone());
        }
    }

    /// Where the block `id` stands, from 1 (as its label says it).
    fn number(&self, id: &str) -> usize {
        self.blocks
            .iter()
            .position(|block| block.id == id)
            .unwrap_or(0)
            + 1
    }

    /// The texts to send: blank blocks are left out.
    fn texts(&self) -> Vec<String> {
        (self.blocks.iter())
            .filter(|block| !block.text.trim().is_empty())
            .map(|block| block.text.clone())
            .collect()
    }
}

/// The context blocks' fields, each with Remove, and "Add context block".
#[component]
fn ContextBlockList(blocks: RwSignal<ContextBlocks>) -> impl IntoView {
    view! {
        <fieldset class="composer__blocks">
            <legend>"Context blocks"</legend>
            {keyed_rows(move || {
                blocks.with(|list| {
                    (list.blocks.iter())
                        .map(|block| {
                            let (id, text) = (block.id.clone(), block.text.clone());
                            row(block.id.clone(), move || view! { <ContextBlockField id text blocks/> }.into_any())
                        })
                        .collect()
                })
            })}
            <button type="button" on:click=move |_| blocks.update(|list| list.add(String::new()))>
                "Add context block"
            </button>
        </fieldset>
    }
}

/// One context block's text field and its Remove button.
#[component]
fn ContextBlockField(id: String, text: String, blocks: RwSignal<ContextBlocks>) -> impl IntoView {
    let (label_id, remove_id) = (id.clone(), id.clone());
    view! {
        <div class="composer__block">
            <textarea
                rows="2"
                aria-label=move || format!("Context block {}", blocks.with(|list| list.number(&label_id)))
                prop:value=text
                // Untracked: the field already shows what was typed, and
                // nothing else on screen shows a block's text, so the list
                // need not be diffed at each keystroke.
                on:input=move |event| {
                    let text = event_target_value(&event);
                    blocks.update_untracked(|list| list.set_text(&id, text));
                }
            ></textarea>
            <button type="button" on:click=move |_| blocks.update(|list| list.remove(&remove_id))>"Remove"</button>
        </div>
    }
}

/// Max tokens and temperature: the store's execution parameters, empty for
/// the server's default; a number the field does not take is refused there.
#[component]
fn ParameterInputs(store: RunsStore) -> impl IntoView {
    // One closure type for both commits: parse, then apply or refuse.
    let commit = move |apply: fn(&str, &mut ExecuteParameters) -> Result<(), String>| {
        Box::new(move |typed: String| {
            let mut parameters = store.execution_parameters();
            let refused = apply(&typed, &mut parameters).err();
            if refused.is_none() {
                store.set_execution_parameters(parameters);
            }
            refused
        }) as Box<dyn Fn(String) -> Option<String>>
    };
    let shown = move |read: fn(&ExecuteParameters) -> String| -> Shown {
        Arc::new(move || read(&store.execution_parameters()))
    };
    view! {
        <fieldset class="composer__parameters">
            <legend>"Parameters"</legend>
            <NumberField label="Max tokens" class="composer__max-tokens" placeholder="server's default" inputmode="numeric"
                value=shown(|p| p.max_tokens.map(|tokens| tokens.to_string()).unwrap_or_default())
                commit=commit(|typed, p| { p.max_tokens = number_field::max_tokens(typed)?; Ok(()) })/>
            <NumberField label="Temperature" class="composer__temperature" placeholder="server's default" inputmode="decimal"
                value=shown(|p| p.temperature.map(shortest).unwrap_or_default())
                commit=commit(|typed, p| { p.temperature = number_field::temperature(typed)?; Ok(()) })/>
        </fieldset>
    }
}

/// Execute (a submit button, so Enter in a field submits the form) and
/// "Re-run active run's prompt", which fills the form from the active run.
fn composer_actions(
    store: RunsStore,
    can_execute: impl Fn() -> bool + Send + Sync + 'static,
    rerun_active: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <div class="composer__actions">
            <button type="submit" class="composer__execute" prop:disabled=move || !can_execute()>
                {move || if store.is_executing() { "Executing…" } else { "Execute" }}
            </button>
            <button
                type="button"
                class="composer__rerun"
                prop:disabled=move || store.active_run().is_none() || store.is_executing()
                on:click=move |_| rerun_active()
            >
                "Re-run active run's prompt"
            </button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::ContextBlocks;

    #[test]
    fn context_blocks_keep_their_ids_and_send_what_is_not_blank() {
        let mut blocks = ContextBlocks::default();
        for text in ["a", " ", "c"] {
            blocks.add(text.to_owned());
        }
        let ids: Vec<String> = blocks.blocks.iter().map(|block| block.id.clone()).collect();
        blocks.remove(&ids[0]);
        assert_eq!(blocks.number(&ids[2]), 2, "numbered by where it stands");
        blocks.set_text(&ids[1], "b".to_owned());
        assert_eq!(blocks.texts(), ["b", "c"]);
        blocks.add(String::new());
        assert!(
            !ids.contains(&blocks.blocks[2].id),
            "a new block never takes a removed one's id"
        );
        blocks.replace(&["x".to_owned()]);
        assert_eq!(blocks.texts(), ["x"]);
        assert!(!ids.contains(&blocks.blocks[0].id));
    }
}
