//! HistoryTransfer: the whole history out to a file (JSON or CSV) and back in,
//! which is also the way out when browser storage is full.

use super::root_class::root_class;
use crate::persist::{
    export_csv, export_json_parts, import_json, use_history, ExportFormat, HistoryPersistence,
};
use crate::store::{use_runs_store, RunsStore};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Export JSON (the TypeScript store's format, loadable by either), export
/// CSV (for spreadsheets; formulas defused), and import a JSON file, merged by
/// id. The import reports how many runs were added, updated and skipped; a bad
/// file is refused with the reason and changes nothing.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::HistoryTransfer;
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Backup() -> impl IntoView {
///     provide_runs_store();
///     view! { <HistoryTransfer/> }
/// }
/// ```
#[component]
pub fn HistoryTransfer(
    /// The store to export from and import into; by default the one in context.
    #[prop(optional)]
    store: Option<RunsStore>,
    /// Classes the host adds to the root element, after its own `transfer`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let outcome = RwSignal::new(None::<String>);
    // A history with cold runs (their text in storage) is exported from storage.
    let history = StoredValue::new_local(use_history());
    let export = move |format: ExportFormat| {
        let history = history.get_value().filter(|_| store.cold_run_count() > 0);
        leptos::task::spawn_local(async move {
            outcome.set(Some(
                export_to_file(store, history, format, "prompt-runs")
                    .await
                    .map_or_else(
                        |problem| format!("The export failed: {problem}"),
                        |runs| format!("Exported {runs} runs as {}.", format_name(format)),
                    ),
            ));
        });
    };
    let import = move |event: leptos::ev::Event| {
        if let Some(file) = chosen_file(&event) {
            leptos::task::spawn_local(async move {
                outcome.set(Some(import_file(store, file).await));
            });
        }
    };

    view! {
        <div class=root_class("transfer", class) role="group" aria-label="Export and import">
            <button type="button" on:click=move |_| export(ExportFormat::Json)>"Export JSON"</button>
            <button type="button" on:click=move |_| export(ExportFormat::Csv)>"Export CSV"</button>
            <label class="transfer__import">
                "Import JSON "
                <input type="file" accept="application/json,.json" on:change=import/>
            </label>
            <p class="transfer__outcome" role="status">{move || outcome.get()}</p>
        </div>
    }
}

fn format_name(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Json => "JSON",
        ExportFormat::Csv => "CSV",
    }
}

/// Offers the history as a file `<stem>.json` or `.csv`: from storage
/// through `history` when given (every run whole, none held in memory for
/// it), else from the store's runs. Returns how many runs it holds.
pub(crate) async fn export_to_file(
    store: RunsStore,
    history: Option<HistoryPersistence>,
    format: ExportFormat,
    stem: &str,
) -> Result<usize, String> {
    let (extension, mime) = match format {
        ExportFormat::Json => ("json", "application/json"),
        ExportFormat::Csv => ("csv", "text/csv"),
    };
    let file_name = format!("{stem}.{extension}");
    match history {
        Some(history) => {
            let parts = history.export(format).await?;
            download(&file_name, parts.into_iter(), mime)?;
            Ok(store.run_count())
        }
        None => {
            let runs = store.runs();
            match format {
                ExportFormat::Json => download(&file_name, export_json_parts(&runs), mime)?,
                ExportFormat::Csv => {
                    download(&file_name, std::iter::once(export_csv(&runs)), mime)?
                }
            }
            Ok(runs.len())
        }
    }
}

/// The file picked in a file input (which is reset, so the same file can
/// be picked again).
pub(crate) fn chosen_file(event: &leptos::ev::Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = event_target(event);
    let file = input.files().and_then(|files| files.get(0));
    input.set_value("");
    file
}

/// Merges a JSON export in `file` into `store`; what happened, as a sentence.
pub(crate) async fn import_file(store: RunsStore, file: web_sys::File) -> String {
    let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
    match text.ok().and_then(|text| text.as_string()) {
        None => format!("{} could not be read.", file.name()),
        Some(text) => match import_json(&store, &text) {
            Ok(report) => format!(
                "Imported {}: {} added, {} updated, {} skipped.",
                file.name(),
                report.added,
                report.updated,
                report.unchanged
            ),
            Err(error) => format!("{}: {error}", file.name()),
        },
    }
}

/// Offers the text made of `parts` to the user as a file named
/// `file_name`. The parts go to the browser one by one (as a `Blob`), so a
/// large history never exists here as one string.
pub(crate) fn download(
    file_name: &str,
    parts: impl Iterator<Item = String>,
    mime: &str,
) -> Result<(), String> {
    let describe = |error: wasm_bindgen::JsValue| crate::persist::describe_js_error(&error);
    let parts: js_sys::Array = parts.map(wasm_bindgen::JsValue::from).collect();
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(describe)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(describe)?;
    let link: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(describe)?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(file_name);
    link.click();
    web_sys::Url::revoke_object_url(&url).map_err(describe)
}
