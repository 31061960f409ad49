//! What the history shows: a filter by status, model, text and judgement, shared through
//! context between [`RunFilters`](super::RunFilters), which edits it, and
//! [`RunHistory`](super::RunHistory), which applies it.

use crate::model::{PromptRun, Rating, RunStatus};
use crate::store::{RunList, RunsStore};
use crate::text::CaseInsensitive;
use leptos::prelude::*;

/// Which runs the history shows. The default shows every run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs of this model.
    pub model_id: Option<String>,
    /// Only runs whose prompt or output contains this text (ignoring case).
    pub text: String,
    /// Cold runs (their text in storage, see
    /// [`RunsStore::is_run_cold`](crate::store::RunsStore::is_run_cold))
    /// that storage found `text` in: the search text they answer, and their ids.
    pub stored_matches: Option<(String, std::sync::Arc<std::collections::HashSet<String>>)>,
    /// Only runs judged this way.
    pub judgement: Option<JudgementFilter>,
}

/// Which judgement a run must carry to be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JudgementFilter {
    /// Thumbs up.
    Up,
    /// Thumbs down.
    Down,
    /// Starred.
    Starred,
    /// With a note.
    Noted,
}

impl JudgementFilter {
    /// Every judgement filter, in the order a menu lists them.
    pub const ALL: [JudgementFilter; 4] = [
        JudgementFilter::Up,
        JudgementFilter::Down,
        JudgementFilter::Starred,
        JudgementFilter::Noted,
    ];

    /// Whether `run` carries this judgement.
    pub fn matches(self, run: &PromptRun) -> bool {
        match self {
            JudgementFilter::Up => run.rating() == Some(Rating::Up),
            JudgementFilter::Down => run.rating() == Some(Rating::Down),
            JudgementFilter::Starred => run.is_starred(),
            JudgementFilter::Noted => run.note().is_some(),
        }
    }

    /// Its name in a menu and in the filter's value.
    pub fn label(self) -> &'static str {
        match self {
            JudgementFilter::Up => "Thumbs up",
            JudgementFilter::Down => "Thumbs down",
            JudgementFilter::Starred => "Starred",
            JudgementFilter::Noted => "With a note",
        }
    }
}

impl RunFilter {
    /// The matching runs, most recent first (tracked reads of the store).
    ///
    /// Status and model narrow through the store's indexes; only a text search
    /// or a judgement looks at every remaining run.
    pub fn apply(&self, store: &RunsStore) -> RunList {
        let narrowed = match (self.status, &self.model_id) {
            (Some(status), _) => store.runs_by_status().get(status).clone(),
            (None, Some(model_id)) => store.get_runs_by_model(model_id),
            (None, None) => store.runs(),
        };
        let needle = self.text.trim();
        let by_model = self.status.is_some() && self.model_id.is_some();
        if needle.is_empty() && !by_model && self.judgement.is_none() {
            return narrowed;
        }
        let stored = self
            .stored_matches
            .as_ref()
            .filter(|(text, _)| text.trim() == needle)
            .map(|(_, ids)| ids);
        let needle = (!needle.is_empty()).then(|| CaseInsensitive::new(needle));
        narrowed.filtered(|run| {
            (!by_model || self.model_id.as_deref() == Some(run.model_id.as_str()))
                && self
                    .judgement
                    .is_none_or(|judgement| judgement.matches(run))
                && needle.as_ref().is_none_or(|needle| {
                    mentions(needle, run) || stored.is_some_and(|ids| ids.contains(&run.id))
                })
        })
    }
}

/// True when the prompt or the output of `run` contains `needle` (ignoring case).
fn mentions(needle: &CaseInsensitive, run: &PromptRun) -> bool {
    needle.found_in(&run.prompt_snapshot)
        || run
            .output
            .as_deref()
            .is_some_and(|output| needle.found_in(output))
}

/// Creates the filter that [`RunFilters`](super::RunFilters) and
/// [`RunHistory`](super::RunHistory) share, provides it to descendants and
/// returns it.
pub fn provide_run_filter() -> RwSignal<RunFilter> {
    let filter = RwSignal::new(RunFilter::default());
    provide_context(filter);
    filter
}

/// The filter an ancestor provided with [`provide_run_filter`], if any.
pub fn use_run_filter() -> Option<RwSignal<RunFilter>> {
    use_context::<RwSignal<RunFilter>>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PromptRun;
    use crate::model::PromptRunUpdate;

    fn run(id: &str, model: &str, status: RunStatus, prompt: &str, output: &str) -> PromptRun {
        let mut run = PromptRun::pending(id, model, prompt);
        run.status = status;
        run.output = Some(output.to_owned());
        run
    }

    fn ids(list: &RunList) -> Vec<&str> {
        list.iter().map(|run| run.id.as_str()).collect()
    }

    #[test]
    fn narrows_by_status_model_and_text_together() {
        let owner = Owner::new();
        let store = owner.with(RunsStore::new);
        for run in [
            run(
                "a",
                "gpt",
                RunStatus::Success,
                "Summarise the Rust book",
                "ok",
            ),
            run(
                "b",
                "claude",
                RunStatus::Success,
                "Translate",
                "Rust is fast",
            ),
            run("c", "gpt", RunStatus::Error, "Rust again", ""),
            run("d", "gpt", RunStatus::Success, "Poem", "roses"),
        ] {
            store.add_run(run).unwrap();
        }
        let filter = |status, model: Option<&str>, text: &str| RunFilter {
            status,
            model_id: model.map(str::to_owned),
            text: text.to_owned(),
            ..RunFilter::default()
        };
        assert_eq!(
            ids(&RunFilter::default().apply(&store)),
            ["d", "c", "b", "a"]
        );
        assert_eq!(
            ids(&filter(Some(RunStatus::Success), None, "").apply(&store)),
            ["d", "b", "a"]
        );
        assert_eq!(
            ids(&filter(None, Some("gpt"), "").apply(&store)),
            ["d", "c", "a"]
        );
        assert_eq!(
            ids(&filter(Some(RunStatus::Success), Some("gpt"), "").apply(&store)),
            ["d", "a"]
        );
        assert_eq!(
            ids(&filter(None, None, "  RUST ").apply(&store)),
            ["c", "b", "a"],
            "prompt or output, any case"
        );
        assert_eq!(
            ids(&filter(Some(RunStatus::Success), Some("gpt"), "rust").apply(&store)),
            ["a"]
        );
        assert!(filter(None, Some("nobody"), "").apply(&store).is_empty());
        store
            .add_run(run(
                "e",
                "gpt",
                RunStatus::Success,
                "\u{dc}ber Stra\u{df}en",
                "\u{3a3}\u{39f}\u{3a6}\u{39f}\u{3a3}",
            ))
            .unwrap();
        assert_eq!(
            ids(&filter(None, None, "\u{fc}ber").apply(&store)),
            ["e"],
            "beyond ASCII"
        );
        assert_eq!(
            ids(&filter(None, None, "\u{3c3}\u{3bf}\u{3c6}\u{3bf}\u{3c2}").apply(&store)),
            ["e"],
            "final sigma"
        );
    }

    #[test]
    fn narrows_by_judgement_with_the_other_filters() {
        let owner = Owner::new();
        let store = owner.with(RunsStore::new);
        for id in ["a", "b", "c", "d"] {
            store
                .add_run(run(id, "gpt", RunStatus::Success, "prompt", "answer"))
                .unwrap();
        }
        store
            .update_run("a", PromptRunUpdate::rate(Some(Rating::Up)))
            .unwrap();
        store
            .update_run("b", PromptRunUpdate::rate(Some(Rating::Down)))
            .unwrap();
        store.update_run("b", PromptRunUpdate::star(true)).unwrap();
        store
            .update_run("c", PromptRunUpdate::annotate("check the date"))
            .unwrap();
        let judged = |judgement| RunFilter {
            judgement: Some(judgement),
            ..RunFilter::default()
        };
        assert_eq!(ids(&judged(JudgementFilter::Up).apply(&store)), ["a"]);
        assert_eq!(ids(&judged(JudgementFilter::Down).apply(&store)), ["b"]);
        assert_eq!(ids(&judged(JudgementFilter::Starred).apply(&store)), ["b"]);
        assert_eq!(ids(&judged(JudgementFilter::Noted).apply(&store)), ["c"]);
        let starred_gpt = RunFilter {
            model_id: Some("gpt".into()),
            judgement: Some(JudgementFilter::Starred),
            ..RunFilter::default()
        };
        assert_eq!(ids(&starred_gpt.apply(&store)), ["b"]);
        store.update_run("b", PromptRunUpdate::star(false)).unwrap();
        assert!(judged(JudgementFilter::Starred).apply(&store).is_empty());
    }
}
