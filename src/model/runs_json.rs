//! Reading a history of runs from JSON that may be partly bad: exported
//! files, the TypeScript store's legacy array, damaged storage.
//!
//! Each run is read on its own, so one bad run is reported by position and id
//! while the others are kept; an array cut off mid-way (a truncated write)
//! still yields the runs before the cut.

use crate::model::{PromptRun, RunStatus};
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// The runs read from a text, and what could not be read.
#[derive(Debug, Default, PartialEq)]
pub struct ParsedRuns {
    /// Every run that could be read, in the text's order.
    pub runs: Vec<PromptRun>,
    /// One sentence per part that could not be read.
    pub problems: Vec<String>,
}

/// Reads runs from `text`: a JSON array of runs (the TypeScript store's
/// export), or an object holding one under `runs` or `state.runs` (its
/// zustand-persisted form). Fails only when nothing in it looks like runs.
///
/// The array's elements are first split off as raw JSON text, then each is
/// read straight into a [`PromptRun`] (no `Value` tree in between): faster,
/// and the same code that reads a run back from storage.
pub fn parse_runs(text: &str) -> Result<ParsedRuns, String> {
    match runs_array(text) {
        Ok(Some(items)) => Ok(read_each(&items, Vec::new())),
        Ok(None) => {
            Err("expected a JSON array of runs (or an object with a \"runs\" array)".to_owned())
        }
        Err(error) if text.trim_start().starts_with('[') => {
            let mut items = Vec::new();
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let _ = CollectElements(&mut items).deserialize(&mut deserializer);
            let cut = format!(
                "the data breaks off after {} complete run(s) ({error}); the rest could not be read",
                items.len()
            );
            Ok(read_each(&items, vec![cut]))
        }
        Err(error) => Err(format!("not valid JSON: {error}")),
    }
}

/// What a run still `pending` or `running` when it was saved says once loaded.
pub const INTERRUPTED: &str =
    "Interrupted: the page running this prompt was closed or reloaded before it finished.";

/// Runs read from storage or a file cannot be in flight in this page: each
/// `pending` or `running` one becomes `cancelled` with [`INTERRUPTED`] as its
/// error. Returns how many were.
pub fn settle_interrupted(runs: &mut [PromptRun]) -> usize {
    let mut settled = 0;
    for run in runs.iter_mut().filter(|run| run.status.is_in_flight()) {
        run.status = RunStatus::Cancelled;
        run.error.get_or_insert_with(|| INTERRUPTED.to_owned());
        settled += 1;
    }
    settled
}

/// The elements of the runs array in `text`, each as its raw JSON: the text
/// itself when it is an array, else the array under `runs` (or `state`, for
/// zustand's shape) of an object. `None` for valid JSON holding no such array.
fn runs_array(text: &str) -> Result<Option<Vec<&RawValue>>, serde_json::Error> {
    /// The members of an object that may hold the runs.
    #[derive(Deserialize)]
    struct Holder<'a> {
        #[serde(borrow)]
        runs: Option<&'a RawValue>,
        #[serde(borrow)]
        state: Option<&'a RawValue>,
    }

    match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map(Some),
        Some(b'{') => match serde_json::from_str::<Holder>(text)? {
            Holder {
                runs: Some(runs), ..
            } => runs_array(runs.get()),
            Holder {
                state: Some(state), ..
            } => runs_array(state.get()),
            _ => Ok(None),
        },
        _ => serde_json::from_str::<&RawValue>(text).map(|_| None),
    }
}

fn read_each(items: &[&RawValue], mut problems: Vec<String>) -> ParsedRuns {
    let mut runs = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match serde_json::from_str::<PromptRun>(item.get()) {
            Ok(run) => runs.push(run),
            Err(error) => problems.push(match id_of(item) {
                Some(id) => format!("run #{} (id {id}): {error}", index + 1),
                None => format!("run #{}: {error}", index + 1),
            }),
        }
    }
    ParsedRuns { runs, problems }
}

/// The `id` of a run that could not be read, to name it in the problem.
fn id_of(item: &RawValue) -> Option<String> {
    let item = serde_json::from_str::<Value>(item.get()).ok()?;
    item.get("id")?.as_str().map(str::to_owned)
}

/// Collects array elements into a vector it does not own, so that the ones
/// read before a syntax error survive the error.
struct CollectElements<'a, 'de>(&'a mut Vec<&'de RawValue>);

impl<'de> DeserializeSeed<'de> for CollectElements<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CollectElements<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of runs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            self.0.push(item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_json(id: &str) -> Value {
        json!({"id": id, "modelId": "m", "status": "success", "startedAt": "2024-01-01T00:00:00.000Z"})
    }

    #[test]
    fn reads_the_plain_array_and_the_zustand_shape() {
        let array = json!([run_json("a"), run_json("b")]).to_string();
        assert_eq!(parse_runs(&array).unwrap().runs.len(), 2);
        let zustand =
            json!({"state": {"runs": [run_json("a")], "activeRunId": null}, "version": 0})
                .to_string();
        assert_eq!(parse_runs(&zustand).unwrap().runs[0].id, "a");
    }

    #[test]
    fn keeps_good_runs_and_names_the_bad_ones() {
        let text =
            json!([run_json("a"), {"id": "b", "status": "success"}, 42, run_json("c")]).to_string();
        let parsed = parse_runs(&text).unwrap();
        assert_eq!(
            parsed
                .runs
                .iter()
                .map(|run| run.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(parsed.problems.len(), 2);
        assert!(
            parsed.problems[0].starts_with("run #2 (id b): missing field"),
            "{:?}",
            parsed.problems
        );
        assert!(
            parsed.problems[1].starts_with("run #3:"),
            "{:?}",
            parsed.problems
        );
    }

    #[test]
    fn salvages_the_runs_before_a_truncation() {
        let whole = json!([run_json("a"), run_json("b"), run_json("c")]).to_string();
        let truncated = &whole[..whole.len() - 30];
        let parsed = parse_runs(truncated).unwrap();
        assert_eq!(
            parsed
                .runs
                .iter()
                .map(|run| run.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(
            parsed.problems[0].contains("breaks off after 2"),
            "{:?}",
            parsed.problems
        );
    }

    #[test]
    fn runs_left_in_flight_are_settled_as_cancelled_with_a_reason() {
        let mut runs: Vec<PromptRun> =
            serde_json::from_value(json!([run_json("done"), {"id": "r", "modelId": "m", "status": "running", "startedAt": "2024-01-01T00:00:00.000Z"}]))
                .unwrap();
        assert_eq!(settle_interrupted(&mut runs), 1);
        assert_eq!(runs[0].status, RunStatus::Success);
        assert_eq!(
            (runs[1].status, runs[1].error.as_deref()),
            (RunStatus::Cancelled, Some(INTERRUPTED))
        );
        assert_eq!(runs[1].total_tokens, None);
    }

    #[test]
    fn refuses_what_is_not_runs_at_all() {
        assert!(parse_runs("not json")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(parse_runs("{\"theme\": \"dark\"}")
            .unwrap_err()
            .contains("expected a JSON array"));
    }
}
