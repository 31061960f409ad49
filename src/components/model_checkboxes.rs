//! The models to run on, as checkboxes: the composer's (one prompt on
//! several models) and the experiment editor's (an experiment's models).

use super::keyed_rows::{keyed_rows, row};
use crate::store::RunsStore;
use leptos::prelude::*;

/// A "Models" fieldset: a checkbox per model `store` offers (keyed by id, so
/// models arriving from the server leave the others' boxes as they are),
/// ticked where `chosen(id)` (read reactively), `choose(id, ticked)` called
/// as a box changes, and a hint when the server offers none. `classes` are
/// the view's own: the fieldset's, each model's `<label>`'s (with
/// `data-model` = the id) and the hint's.
#[component]
pub(crate) fn ModelCheckboxes(
    store: RunsStore,
    classes: [&'static str; 3],
    chosen: impl Fn(&str) -> bool + Copy + Send + Sync + 'static,
    choose: impl Fn(String, bool) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let [models_class, model_class, hint_class] = classes;
    let model_rows = move || {
        (store.models().iter())
            .map(|model| {
                let (id, name) = (model.id.clone(), model.name.clone());
                row(id.clone(), move || {
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
                })
            })
            .collect()
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
    use super::tick;

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
}
