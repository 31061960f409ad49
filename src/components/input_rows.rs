//! InputRows: an experiment's input table, pasted or imported from a CSV or
//! JSONL file (with the row and column of any problem) and edited cell by
//! cell, a page of rows at a time.

use super::experiments::{use_experiments, Experiments};
use super::format::thousands;
use super::history_transfer::chosen_file;
use super::root_class::root_class;
use crate::experiment::{InputFormat, InputTable, TableEditError};
use leptos::prelude::*;

/// One edit of the inputs table, refused with a reason that changes nothing.
type TableEdit = Box<dyn FnOnce(&mut InputTable) -> Result<(), TableEditError>>;

/// Rows shown per page of the table: enough to check a pasted file, few
/// enough that 1,000 rows do not put 1,000 inputs in the page.
pub const ROWS_PER_PAGE: usize = 20;

/// The open experiment's inputs: a field to paste CSV or JSONL into (the
/// header row, or each line's keys, name the template's variables), a file
/// picker for `.csv`, `.jsonl` and `.ndjson` files, and the rows as a table
/// of text fields, [`ROWS_PER_PAGE`] at a time, with add and remove for rows
/// and add for columns. A file or paste that cannot be read is refused with
/// where and why (`row 3 (line 4) has 2 cells, but the header names 3
/// columns`), and the table is left as it was.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, InputRows};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Inputs() -> impl IntoView {
///     provide_runs_store();
///     provide_experiments(None).create("Inputs");
///     view! { <InputRows/> }
/// }
/// ```
#[component]
pub fn InputRows(
    /// The experiments whose open one's inputs to edit; by default those in context.
    #[prop(optional)]
    experiments: Option<Experiments>,
    /// Classes the host adds to the root element, after its own `inputs`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let experiments = experiments.unwrap_or_else(use_experiments);
    let pasted = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let page = RwSignal::new(0usize);
    let take = move |bytes: &[u8], format: InputFormat, source: &str| match InputTable::parse(
        bytes, format,
    ) {
        Ok(table) => {
            let rows = table.rows().len();
            experiments.edit(|experiment| experiment.inputs = table);
            page.set(0);
            problem.set(Some(format!(
                "{source}: {} rows read.",
                thousands(rows as u64)
            )));
        }
        Err(error) => problem.set(Some(format!(
            "{source} could not be read, the inputs were not changed: {error}"
        ))),
    };
    let import = move |event: leptos::ev::Event| {
        let Some(file) = chosen_file(&event) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let name = file.name();
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => {
                    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                    let format = InputFormat::from_file_name(&name)
                        .unwrap_or_else(|| InputFormat::detect(&bytes));
                    take(&bytes, format, &name);
                }
                Err(_) => problem.set(Some(format!("{name} could not be read."))),
            }
        });
    };
    let pages = move || page_count(experiments);
    let edit_table = move |change: TableEdit| {
        let mut refused = None;
        experiments.edit(|experiment| refused = change(&mut experiment.inputs).err());
        problem.set(refused.map(|error| error.to_string()));
    };

    view! {
        <fieldset class=root_class("inputs", class)>
            <legend>"Inputs"</legend>
            <label class="inputs__paste-label">
                "Paste CSV (first line names the columns) or JSONL (one object per line)"
                <textarea class="inputs__paste" rows="4"
                    prop:value=move || pasted.get()
                    on:input=move |event| pasted.set(event_target_value(&event))></textarea>
            </label>
            <button type="button" class="inputs__use"
                prop:disabled=move || pasted.with(|text| text.trim().is_empty())
                on:click=move |_| {
                    let text = pasted.get_untracked();
                    take(text.as_bytes(), InputFormat::detect(text.as_bytes()), "The pasted text");
                }>"Use these rows"</button>
            <label class="inputs__file">
                "Import a file "
                <input type="file" accept=".csv,.jsonl,.ndjson,text/csv" on:change=import/>
            </label>
            <p class="inputs__problem" role="status">{move || problem.get()}</p>
            {rows_table(experiments, page, edit_table)}
            <div class="inputs__pages">
                <button type="button" prop:disabled=move || page.get() == 0 on:click=move |_| page.update(|page| *page = page.saturating_sub(1))>"Previous"</button>
                <span>{move || format!("Page {} of {}", page.get().min(pages() - 1) + 1, pages())}</span>
                <button
                    type="button"
                    // Braced: a bare `>=` would end the tag.
                    prop:disabled=move || { page.get() + 1 >= pages() }
                    on:click=move |_| page.update(|page| *page += 1)
                >"Next"</button>
                <button type="button" class="inputs__add-row" on:click=move |_| {
                    edit_table(Box::new(|table| { table.add_row(); Ok(()) }));
                    page.set(pages() - 1);
                }>"Add row"</button>
                {new_column(problem, edit_table)}
            </div>
        </fieldset>
    }
}

/// How many pages the open experiment's rows fill (at least one).
fn page_count(experiments: Experiments) -> usize {
    let rows = experiments.open().map_or(0, |e| e.inputs.rows().len());
    rows.div_ceil(ROWS_PER_PAGE).max(1)
}

/// The rows of page `page` as a table of text fields, each edited through
/// `edit_table`, with Remove per row.
fn rows_table(
    experiments: Experiments,
    page: RwSignal<usize>,
    edit_table: impl Fn(TableEdit) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // The page's rows only, so that editing the template redraws nothing
    // here and a 1,000-row table is never copied whole.
    let shown = Memo::new(move |_| {
        let experiment = experiments.open()?;
        let first = page.get().min(page_count(experiments) - 1) * ROWS_PER_PAGE;
        let rows: Vec<(usize, Vec<Option<String>>)> = (experiment.inputs.rows().iter().enumerate())
            .skip(first)
            .take(ROWS_PER_PAGE)
            .map(|(row, cells)| (row, cells.clone()))
            .collect();
        Some((experiment.inputs.columns().to_vec(), rows))
    });
    move || {
        shown.get().map(|(columns, rows)| {
        view! {
            <table class="inputs__table">
                <thead><tr>
                    <th>"#"</th>
                    {columns.iter().map(|name| view! { <th>{name.clone()}</th> }).collect_view()}
                    <th></th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|(row, cells)| view! {
                        <tr data-row=row>
                            <td>{row + 1}</td>
                            {cells.into_iter().enumerate().map(|(column, value)| view! {
                                <td><input type="text"
                                    aria-label=format!("Row {}, {}", row + 1, columns[column])
                                    prop:value=value.unwrap_or_default()
                                    on:change=move |event| {
                                        let value = event_target_value(&event);
                                        edit_table(Box::new(move |table| table.set_cell(row, column, value)));
                                    }/></td>
                            }).collect_view()}
                            <td><button type="button" class="inputs__remove-row"
                                aria-label=format!("Remove row {}", row + 1)
                                on:click=move |_| edit_table(Box::new(move |table| table.remove_row(row).map(|_| ())))
                            >"Remove"</button></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    })
    }
}

/// A new column's name and "Add column"; the name is cleared once added.
fn new_column(
    problem: RwSignal<Option<String>>,
    edit_table: impl Fn(TableEdit) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    view! {
        <input type="text" class="inputs__new-column" aria-label="New column's name" placeholder="column name"
            prop:value=move || name.get() on:input=move |event| name.set(event_target_value(&event))/>
        <button type="button" class="inputs__add-column" on:click=move |_| {
            let typed = name.get_untracked();
            edit_table(Box::new(move |table| table.add_column(typed.trim()).map(|_| ())));
            if problem.with_untracked(Option::is_none) {
                name.set(String::new());
            }
        }>"Add column"</button>
    }
}
