//! The keyed lists of the components (the history's cards, the grid's rows,
//! the models to pick in the composer and the experiment editor, the context
//! blocks, the prices in Settings): each row has a string key, and a row is
//! drawn once, when its key appears, and stays until its key leaves the
//! list; so adding, removing or changing one row leaves the others'
//! elements, with their text and focus, as they are.

use leptos::prelude::*;

/// One row of a keyed list: its key, and how to draw it (called once, when
/// the key first appears).
pub(crate) type Row = (String, Box<dyn FnOnce() -> AnyView + Send>);

/// A [`Row`] keyed `key`, drawn by `draw`.
pub(crate) fn row(key: String, draw: impl FnOnce() -> AnyView + Send + 'static) -> Row {
    (key, Box::new(draw))
}

/// The rows `rows` gives, in order, keyed (see the module's doc).
///
/// Every list shares this one `<For>`: each `<For>` is otherwise its own
/// copy of the list-diffing code (some 2.5 KB of gzip each; the first load
/// had 555 bytes of its budget to spare when this was written), so keys are
/// strings and rows [`AnyView`]s whatever the list. Rows are made afresh
/// each time the list changes, but only those of new keys are drawn.
pub(crate) fn keyed_rows(rows: impl Fn() -> Vec<Row> + Send + 'static) -> impl IntoView {
    shared_for(Box::new(rows))
}

/// The `<For>` itself, not generic, so it is compiled once.
fn shared_for(rows: Box<dyn Fn() -> Vec<Row> + Send>) -> impl IntoView {
    view! { <For each=move || rows() key=|(key, _): &Row| key.clone() children=|(_, draw): Row| draw()/> }
}
