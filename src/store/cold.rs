//! Runs held cold: loaded from storage for the history's counts, lists and
//! cards, but without the text only an opened run shows.
//!
//! A history of 100,000 runs of a kilobyte or two each would otherwise hold
//! every answer ever received in memory. Beyond the newest runs (how many:
//! [`HistoryOptions::warm_runs`](crate::persist::HistoryOptions::warm_runs)),
//! a run loaded from storage keeps the start of its output (what its card
//! shows) and drops its prompt, context block ids and workspace; the store
//! says which runs are cold ([`RunsStore::is_run_cold`](super::RunsStore::is_run_cold)),
//! and persistence warms a run (reads its text back) when it is opened.
//! Everything the index keeps (status, model, times, tokens, cost, metadata)
//! stays whole, so counts, totals, filters and per-model figures are exact.

use crate::model::PromptRun;
use crate::text::preview;

/// `run` with only what its card and the index need.
pub(crate) fn cold(mut run: PromptRun) -> PromptRun {
    run.output = run.output.as_deref().map(preview);
    run.prompt_snapshot = String::new();
    run.context_block_ids = Vec::new();
    run.workspace_id = String::new();
    run
}

/// `held` (a cold run, perhaps changed since it was loaded: a rating, a
/// settled status) with its text back from `stored`, storage's copy.
pub(crate) fn warmed(held: &PromptRun, stored: PromptRun) -> PromptRun {
    PromptRun {
        output: stored.output,
        prompt_snapshot: stored.prompt_snapshot,
        context_block_ids: stored.context_block_ids,
        workspace_id: stored.workspace_id,
        ..held.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunStatus;

    #[test]
    fn a_cold_run_keeps_its_card_and_warms_back_whole_with_later_changes() {
        let mut stored = PromptRun::pending("r", "m", "a prompt");
        stored.status = RunStatus::Success;
        stored.output = Some("word ".repeat(100));
        stored.context_block_ids = vec!["block".into()];
        stored.workspace_id = "w".into();
        let mut held = cold(stored.clone());
        assert_eq!(
            held.output.as_deref(),
            Some(preview(&"word ".repeat(100)).as_str())
        );
        assert!(held.prompt_snapshot.is_empty() && held.context_block_ids.is_empty());
        held.metadata = serde_json::json!({"rating": "up"}).as_object().cloned();
        let warm = warmed(&held, stored.clone());
        assert_eq!(warm.output, stored.output);
        assert_eq!(warm.prompt_snapshot, "a prompt");
        assert_eq!(warm.context_block_ids, ["block"]);
        assert_eq!(
            warm.metadata, held.metadata,
            "what changed while cold is kept"
        );
    }
}
