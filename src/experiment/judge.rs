//! Model-graded checks: a rubric a judge model answers with a verdict.
//!
//! A [`JudgeCheck`] is a rubric (a template: `{{output}}` is the answer
//! graded, `{{prompt}}` the prompt it answered, `{{expected}}` the row's
//! expected answer, any other `{{name}}` the row's column of that name), a
//! judge model and a pass threshold. Its [`request`](PreparedRubric::request)
//! is the rubric filled in for one answer, followed by
//! [`VERDICT_INSTRUCTIONS`], which ask for one JSON object:
//! `{"pass": true, "score": 0.9, "reason": "…"}`.
//!
//! The judge's answer is read strictly ([`parse_verdict`]): a JSON object
//! with a boolean `pass` and a `score` from 0 to 1 (and a `reason`), alone,
//! in a Markdown code fence or among prose; anything else is
//! [`Outcome::Unreadable`], "the judge's answer could not be read", never a
//! pass or a fail. A verdict passes when the judge says pass *and* its score
//! reaches the threshold.
//!
//! Judge calls are ordinary runs of the history, tagged in
//! `metadata.judge` ([`JUDGE_KEY`]: the experiment, the run graded, and the
//! request's [`key`](JudgeRequest::key), a hash of the judge model and the
//! whole prompt). The key is the cache: a request whose key a judge run
//! already has is not sent again, and the grid finds a run's verdict by it
//! ([`Judges`]), so answers that are the same text on the same row share one
//! verdict.

pub use super::check_error::RubricError;
use super::hash::content_hash;
use super::inputs::InputTable;
use super::label::shortened;
use super::outcome::Outcome;
use super::template::{Part, RenderError, Template};
use crate::api::wire::{ExecuteParameters, ExecuteRequest};
use crate::model::{PromptRun, RunStatus};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `metadata` key of a judge call's run:
/// `{"experiment": "exp-1", "grades": "<run id>", "key": "<hash>"}`.
pub const JUDGE_KEY: &str = "judge";

/// What every judge request ends with: the verdict's form.
pub const VERDICT_INSTRUCTIONS: &str = "Reply with one JSON object and nothing else, in this form: {\"pass\": true or false, \"score\": a number from 0 to 1, \"reason\": \"one short sentence\"}";

/// The longest answer a judge may give, in tokens: a verdict is a sentence,
/// and the bound makes its estimate an upper bound.
pub const JUDGE_MAX_TOKENS: u32 = 300;

/// The longest judge's answer read, in characters: a verdict is short, and
/// an enormous answer is refused before it is searched.
pub const MAX_VERDICT_CHARS: usize = 20_000;

/// The longest reason kept from a verdict, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The reason of a model-graded check's outcome on an answer no judge
/// run has graded (see [`Grid::ungraded`](super::Grid::ungraded)).
pub const NOT_GRADED: &str = "not graded yet";

/// The tag around the graded answer in the built-in rubrics (and what the
/// offline judge looks for).
pub const ANSWER_TAG: &str = "answer";

/// The tag around the expected answer in the built-in rubrics.
pub const EXPECTED_TAG: &str = "expected";

/// The built-in rubrics: a name and the template.
pub const BUILT_IN_RUBRICS: [(&str, &str); 2] = [
    (
        "answers the question correctly given the expected answer",
        "You are grading an answer to a question against the expected answer.\n\n<question>\n{{prompt}}\n</question>\n\n<expected>\n{{expected}}\n</expected>\n\n<answer>\n{{output}}\n</answer>\n\nDoes the answer answer the question correctly, in agreement with the expected answer? Differences of wording do not matter; a wrong or missing fact does.",
    ),
    (
        "follows the instructions",
        "You are grading whether an answer follows the instructions it was given.\n\n<instructions>\n{{prompt}}\n</instructions>\n\n<answer>\n{{output}}\n</answer>\n\nDoes the answer do what the instructions ask, in the form they ask for?",
    ),
];

/// A model-graded check: a rubric, a judge model, a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct JudgeCheck {
    /// The rubric's template (see the [module docs](self)).
    pub rubric: String,
    /// The judge model's id (any model the server serves).
    pub judge: String,
    /// The least score that passes, from 0 to 1.
    pub threshold: f64,
    /// The input column `{{expected}}` reads; `None`: the column named
    /// `expected`.
    pub expected: Option<String>,
}

impl JudgeCheck {
    /// The built-in rubric `index` of [`BUILT_IN_RUBRICS`], graded by `judge`,
    /// passing from a score of 0.5.
    pub fn built_in(index: usize, judge: impl Into<String>) -> JudgeCheck {
        JudgeCheck {
            rubric: BUILT_IN_RUBRICS[index % BUILT_IN_RUBRICS.len()]
                .1
                .to_owned(),
            judge: judge.into(),
            threshold: 0.5,
            expected: None,
        }
    }

    /// Refuses a check that could never grade: no judge, a threshold out of
    /// range, a rubric that does not parse or never shows the answer.
    pub fn validate(&self) -> Result<(), RubricError> {
        if self.judge.trim().is_empty() {
            return Err(RubricError::NoJudge);
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(RubricError::Threshold(self.threshold.to_string()));
        }
        let template = Template::parse(&self.rubric).map_err(RubricError::Template)?;
        if !template.variables().contains(&"output") {
            return Err(RubricError::NoOutput);
        }
        Ok(())
    }

    /// What the rubric is called: a built-in one's name, else its first
    /// line that is not blank, cut to 40 characters.
    pub fn name(&self) -> String {
        match BUILT_IN_RUBRICS
            .iter()
            .find(|(_, text)| *text == self.rubric)
        {
            Some((name, _)) => (*name).to_owned(),
            None => shortened(
                self.rubric
                    .lines()
                    .map(str::trim)
                    .find(|line| !line.is_empty())
                    .unwrap_or(""),
            ),
        }
    }

    /// The rubric made ready to fill for the rows of `inputs` (an
    /// experiment's): its variables resolved to the answer, the prompt or an
    /// input column.
    pub fn prepare(&self, inputs: &InputTable) -> Result<PreparedRubric, RenderError> {
        let template = Template::parse(&self.rubric).map_err(|error| {
            // `validate` refuses this before a plan; said plainly if not.
            RenderError::UnknownVariable {
                name: error.to_string(),
                columns: Vec::new(),
            }
        })?;
        let columns = inputs.columns();
        let column = |name: &str| {
            columns
                .iter()
                .position(|column| column == name)
                .ok_or_else(|| RenderError::UnknownVariable {
                    name: name.to_owned(),
                    columns: columns.to_vec(),
                })
        };
        let mut parts = Vec::with_capacity(template.parts().len());
        for part in template.parts() {
            parts.push(match part {
                Part::Text(text) => Fill::Text(text.clone()),
                Part::Variable(name) => match name.as_str() {
                    "output" => Fill::Output,
                    "prompt" => Fill::Prompt,
                    "expected" => {
                        Fill::Column(column(self.expected.as_deref().unwrap_or("expected"))?)
                    }
                    other => Fill::Column(column(other)?),
                },
            });
        }
        Ok(PreparedRubric {
            judge: self.judge.clone(),
            parts,
        })
    }

    /// The outcome of `judge_run`'s answer (`None`: no judge run yet) under
    /// this check's threshold.
    pub fn outcome(&self, judge_run: Option<&PromptRun>) -> Outcome {
        let Some(run) = judge_run else {
            return Outcome::NotApplicable(NOT_GRADED.into());
        };
        match run.status {
            RunStatus::Success => {}
            RunStatus::Pending | RunStatus::Running => {
                return Outcome::NotApplicable("the judge is grading it".into())
            }
            RunStatus::Error | RunStatus::Cancelled => {
                return Outcome::NotApplicable(format!(
                    "the judge's request failed: {}",
                    run.error.as_deref().unwrap_or("cancelled")
                ))
            }
        }
        match parse_verdict(run.output.as_deref().unwrap_or("")) {
            Err(why) => Outcome::Unreadable(why),
            Ok(verdict) => verdict.outcome(self.threshold),
        }
    }
}

/// The tokens of a judge request's prompt beyond the answer and the row:
/// its rubric's text and the verdict's form (estimated, as prompts are).
pub fn rubric_tokens(judge: &JudgeCheck) -> u64 {
    crate::text::estimate_tokens(&judge.rubric) + crate::text::estimate_tokens(VERDICT_INSTRUCTIONS)
}

/// A piece of a prepared rubric.
#[derive(Clone, Debug, PartialEq)]
enum Fill {
    Text(String),
    Output,
    Prompt,
    Column(usize),
}

/// A rubric whose variables are resolved, to fill for many answers.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedRubric {
    judge: String,
    parts: Vec<Fill>,
}

/// One judge call: the model, the prompt, and the cache key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgeRequest {
    /// The judge model.
    pub model_id: String,
    /// The rubric filled in, then [`VERDICT_INSTRUCTIONS`].
    pub prompt: String,
    /// The hash of the model and the prompt: the cache's key.
    pub key: String,
}

impl PreparedRubric {
    /// The judge request for `run` (an answer of row `row`, from 0, of
    /// `inputs`); `None` when the row has no value for a variable.
    pub fn request(
        &self,
        inputs: &InputTable,
        row: usize,
        run: &PromptRun,
    ) -> Option<JudgeRequest> {
        let values = inputs.rows().get(row)?;
        let mut prompt = String::new();
        for part in &self.parts {
            match part {
                Fill::Text(text) => prompt.push_str(text),
                Fill::Output => prompt.push_str(run.output.as_deref().unwrap_or("")),
                Fill::Prompt => prompt.push_str(&run.prompt_snapshot),
                Fill::Column(column) => prompt.push_str(values.get(*column)?.as_deref()?),
            }
        }
        prompt.push_str("\n\n");
        prompt.push_str(VERDICT_INSTRUCTIONS);
        let key = content_hash(["judge-v1", &self.judge, &prompt]);
        Some(JudgeRequest {
            model_id: self.judge.clone(),
            prompt,
            key,
        })
    }
}

impl JudgeRequest {
    /// The request sent: at temperature 0 (the same answer graded the same
    /// way, as far as the model allows) and at most [`JUDGE_MAX_TOKENS`].
    pub fn execute_request(&self) -> ExecuteRequest {
        ExecuteRequest {
            prompt: self.prompt.clone(),
            model_id: self.model_id.clone(),
            context_blocks: Vec::new(),
            parameters: Some(ExecuteParameters {
                temperature: Some(0.0),
                max_tokens: Some(JUDGE_MAX_TOKENS),
                top_p: None,
            }),
            workspace_id: None,
        }
    }

    /// A new `pending` run of this call, grading `graded` of experiment
    /// `experiment_id`, tagged in `metadata.judge`.
    pub fn pending_run(&self, experiment_id: &str, graded: &str) -> PromptRun {
        let mut run = PromptRun::pending(PromptRun::new_local_id(), &self.model_id, &self.prompt);
        let mut metadata = Map::new();
        metadata.insert(
            JUDGE_KEY.to_owned(),
            json!({"experiment": experiment_id, "grades": graded, "key": self.key}),
        );
        run.metadata = Some(metadata);
        run
    }
}

/// A judge call's tag, read from its `metadata.judge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JudgeTag<'a> {
    /// The experiment.
    pub experiment_id: &'a str,
    /// The run it graded first (others with the same request share it).
    pub grades: &'a str,
    /// The request's key.
    pub key: &'a str,
}

/// The judge tag of `run`, when it is a judge call.
pub fn judge_tag(run: &PromptRun) -> Option<JudgeTag<'_>> {
    let tag = run.metadata.as_ref()?.get(JUDGE_KEY)?.as_object()?;
    Some(JudgeTag {
        experiment_id: tag.get("experiment")?.as_str()?,
        grades: tag.get("grades")?.as_str()?,
        key: tag.get("key")?.as_str()?,
    })
}

/// An experiment's judge runs by their key: a successful one over any
/// other, then the latest started (as the grid shows a cell's runs).
#[derive(Clone, Debug, Default)]
pub struct Judges {
    by_key: BTreeMap<String, Arc<PromptRun>>,
}

impl PartialEq for Judges {
    /// The same runs, as the same `Arc`s: nothing to grade again.
    fn eq(&self, other: &Judges) -> bool {
        self.by_key.len() == other.by_key.len()
            && (self.by_key.iter().zip(&other.by_key))
                .all(|((a, run_a), (b, run_b))| a == b && Arc::ptr_eq(run_a, run_b))
    }
}

impl Judges {
    /// The judge runs of experiment `experiment_id` among `runs`.
    pub fn of<'a>(
        experiment_id: &str,
        runs: impl IntoIterator<Item = &'a Arc<PromptRun>>,
    ) -> Judges {
        let mut judges = Judges::default();
        for run in runs {
            if let Some(tag) = judge_tag(run).filter(|tag| tag.experiment_id == experiment_id) {
                judges.add(tag.key.to_owned(), run.clone());
            }
        }
        judges
    }

    /// Adds a judge run under `key`, unless a better one is held.
    pub fn add(&mut self, key: String, run: Arc<PromptRun>) {
        let better = |held: &PromptRun| {
            ((run.status == RunStatus::Success), &run.started_at)
                > ((held.status == RunStatus::Success), &held.started_at)
        };
        match self.by_key.get(&key) {
            Some(held) if !better(held) => {}
            _ => {
                self.by_key.insert(key, run);
            }
        }
    }

    /// The judge run of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Arc<PromptRun>> {
        self.by_key.get(key)
    }

    /// Whether a request with `key` needs sending: no judge run answered
    /// it, and none is in flight.
    pub fn needs(&self, key: &str) -> bool {
        self.get(key)
            .is_none_or(|run| matches!(run.status, RunStatus::Error | RunStatus::Cancelled))
    }

    /// How many judge runs there are (one per key).
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The judge runs, one per key.
    pub fn runs(&self) -> impl Iterator<Item = &Arc<PromptRun>> {
        self.by_key.values()
    }
}

/// A judge's verdict on one answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Whether the judge says it passes.
    pub pass: bool,
    /// Its score, from 0 to 1.
    pub score: f64,
    /// Why, in its words (cut to [`MAX_REASON_CHARS`] characters and `…`).
    pub reason: String,
}

impl Verdict {
    /// The check's outcome: a pass when the judge says pass and the score
    /// reaches `threshold`; the reason either way, after the score.
    pub fn outcome(&self, threshold: f64) -> Outcome {
        let reason = if self.reason.is_empty() {
            "no reason given"
        } else {
            &self.reason
        };
        let score = format!("{:.2}", self.score);
        if self.pass && self.score >= threshold {
            Outcome::PassBecause(format!("score {score}: {reason}"))
        } else if self.pass {
            Outcome::Fail(format!("score {score}, below {threshold:.2}: {reason}"))
        } else {
            Outcome::Fail(format!("score {score}: {reason}"))
        }
    }
}

/// Reads a judge's answer as a verdict, or says why it cannot:
///
/// - the answer is a JSON object, or holds one: in a Markdown code fence
///   (```` ```json … ``` ````), or among prose (the first object that reads as
///   a verdict, of the first few objects in it);
/// - `pass` is `true` or `false` (not a string), `score` a number from 0 to
///   1, `reason` a string when present (cut to [`MAX_REASON_CHARS`]);
/// - an empty answer, one longer than [`MAX_VERDICT_CHARS`], or one with no
///   such object, is unreadable, with the reason of the closest attempt.
pub fn parse_verdict(answer: &str) -> Result<Verdict, String> {
    read_judge_answer(answer, verdict_of)
}

/// Reads a judge's answer as the first JSON object (alone, fenced, or of
/// the first few among prose) that `read` accepts, or says why it cannot,
/// as [`parse_verdict`] does: the one reading of judges' answers, whatever
/// the form asked for (a verdict, a pairwise vote).
pub(super) fn read_judge_answer<T>(
    answer: &str,
    read: impl Fn(&Map<String, Value>) -> Result<T, String>,
) -> Result<T, String> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Err("the judge's answer could not be read: it is empty".into());
    }
    if answer.len() > MAX_VERDICT_CHARS {
        return Err(format!(
            "the judge's answer could not be read: it is {} characters long, more than a verdict can be",
            crate::text::thousands(answer.chars().count() as u64)
        ));
    }
    // The objects to try: a fenced block first, then each `{` in order (a
    // few: prose rarely holds more, and each try reads at most the rest).
    const TRIES: usize = 8;
    let fenced = answer
        .find("```")
        .and_then(|start| {
            let rest = &answer[start + 3..];
            let body = &rest[rest.find('\n')? + 1..];
            Some(&body[..body.find("```")?])
        })
        .map(str::trim);
    let starts = answer.match_indices('{').map(|(at, _)| &answer[at..]);
    let mut last_problem = None;
    for candidate in fenced.into_iter().chain(starts).take(TRIES) {
        let mut values = serde_json::Deserializer::from_str(candidate).into_iter::<Value>();
        let Some(Ok(Value::Object(object))) = values.next() else {
            continue;
        };
        match read(&object) {
            Ok(read) => return Ok(read),
            Err(problem) => {
                last_problem.get_or_insert(problem);
            }
        }
    }
    Err(format!(
        "the judge's answer could not be read: {}",
        last_problem.unwrap_or_else(|| "it holds no JSON object".into())
    ))
}

/// The verdict an object states, or what is wrong with it.
fn verdict_of(object: &Map<String, Value>) -> Result<Verdict, String> {
    let pass = match object.get("pass") {
        Some(Value::Bool(pass)) => *pass,
        Some(other) => return Err(format!("its \"pass\" is {other}, not true or false")),
        None => return Err("its JSON has no \"pass\"".into()),
    };
    let score = match object.get("score") {
        Some(Value::Number(number)) => number.as_f64().unwrap_or(f64::NAN),
        Some(other) => return Err(format!("its \"score\" is {other}, not a number")),
        None => return Err("its JSON has no \"score\"".into()),
    };
    if !(0.0..=1.0).contains(&score) {
        return Err(format!("its score {score} is not from 0 to 1"));
    }
    let reason = match object.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(reason)) => crate::text::shortened(reason.trim(), MAX_REASON_CHARS),
        Some(other) => return Err(format!("its \"reason\" is {other}, not text")),
    };
    Ok(Verdict {
        pass,
        score,
        reason,
    })
}

/// The text between `<tag>` and the last `</tag>` of `prompt`, trimmed: what
/// a built-in rubric put there (the offline judge reads the answer so).
pub fn tagged<'a>(prompt: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = prompt.find(&open)? + open.len();
    let end = prompt.rfind(&close)?;
    (start <= end).then(|| prompt[start..end].trim())
}
