//! The runs of one multi-model execution side by side, shown with the run
//! opened ([`ActiveRunViewer`](super::ActiveRunViewer)): where a person
//! looks once the answers of several models arrive.

use super::format::{cost, duration, output_preview, status_label, tokens};
use crate::store::RunsStore;
use leptos::prelude::*;

/// The runs of the batch the active run belongs to, one column each, when
/// it was executed on several models; nothing otherwise.
#[component]
pub(super) fn BatchComparison(store: RunsStore) -> impl IntoView {
    let batch = Memo::new(move |_| {
        let anchor = store.active_run()?;
        anchor.batch_id()?;
        Some(
            store
                .batch_runs(&anchor.id)
                .iter()
                .cloned()
                .collect::<Vec<_>>(),
        )
    });
    move || {
        batch.get().map(|runs| {
            view! {
                <div class="batch" aria-label="Batch comparison">
                    <h3>{format!("Same prompt on {} models", runs.len())}</h3>
                    <div class="batch__columns">
                        {runs.into_iter().map(|run| view! {
                            <article class="batch__run" data-run-id=run.id.clone()>
                                <h4>{run.model_id.clone()}</h4>
                                <p class=format!("badge badge--{}", run.status.as_str())>{status_label(run.status)}</p>
                                <p>{tokens(run.total_tokens)} " · " {duration(run.duration_ms)} " · " {cost(run.cost_usd())}</p>
                                <pre class="batch__output">{output_preview(&run).unwrap_or_default()}</pre>
                            </article>
                        }).collect_view()}
                    </div>
                </div>
            }
        })
    }
}
