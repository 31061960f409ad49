//! HistoryTransfer: the whole history out to a file (JSON or CSV) and back in,
//! which is also the way out when browser storage is full.

use crate::persist::{export_csv, export_json, import_json};
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
) -> impl IntoView {
    let store = store.unwrap_or_else(use_runs_store);
    let outcome = RwSignal::new(None::<String>);
    let export = move |format: ExportFormat| {
        let runs = store.runs();
        let (text, mime, extension) = match format {
            ExportFormat::Json => (export_json(&runs), "application/json", "json"),
            ExportFormat::Csv => (export_csv(&runs), "text/csv", "csv"),
        };
        let saved = download(&format!("prompt-runs.{extension}"), &text, mime);
        outcome.set(Some(match saved {
            Ok(()) => format!(
                "Exported {} runs as {}.",
                runs.len(),
                extension.to_ascii_uppercase()
            ),
            Err(problem) => format!("The export failed: {problem}"),
        }));
    };
    let import = move |event: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&event);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        input.set_value("");
        leptos::task::spawn_local(async move {
            let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
            let message = match text.ok().and_then(|text| text.as_string()) {
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
            };
            outcome.set(Some(message));
        });
    };

    view! {
        <div class="transfer" role="group" aria-label="Export and import">
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

#[derive(Clone, Copy)]
enum ExportFormat {
    Json,
    Csv,
}

/// Offers `text` to the user as a file named `file_name`.
fn download(file_name: &str, text: &str, mime: &str) -> Result<(), String> {
    // The browser's own words (a DOMException is an Error too), never the
    // value's debug form.
    let describe = |error: wasm_bindgen::JsValue| match error.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => "the browser refused to save the file".to_owned(),
    };
    let parts = js_sys::Array::of1(&text.into());
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
