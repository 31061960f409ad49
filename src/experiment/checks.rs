//! Checks on answers: does it contain this, match that, parse as JSON, stay
//! short, fast and cheap enough. Each check gives a run pass, fail (with a
//! short reason) or not applicable, and is re-evaluated whenever it changes,
//! without re-running anything. A reason follows the check's label
//! ([`Check::describe`]: `matches /^Paris/: no match`), so it does not repeat
//! what the label says.
//!
//! Decisions a user should know:
//! - Text checks see the answer as it is, except `equals`, which compares
//!   with surrounding whitespace trimmed from both sides (answers routinely
//!   end in a line break) and case kept.
//! - "Ignore case" in `contains` follows Unicode's lowercase mapping (in the
//!   browser, JavaScript's). Regexes are JavaScript's, with their own
//!   "ignore case" flag (see [`Pattern`] for the engine natively).
//! - JSON checks accept an answer wrapped in one Markdown code fence
//!   (```` ```json … ``` ````), the way chat models send JSON.
//! - `jsonHasKey` takes a dotted path (`user.address.0.city`, numbers
//!   indexing arrays) or, starting with `/`, a JSON pointer (RFC 6901) for keys
//!   that hold dots.
//! - Length counts characters (Unicode scalar values), not bytes.
//! - A run that failed, was cancelled or has not finished makes every check
//!   not applicable, and so does a latency or cost that was never reported.
//! - A model-graded check ([`Check::Judge`], see [`judge`](super::judge))
//!   needs its judge's run: [`Check::evaluate`] alone cannot grade, the grid
//!   does ([`Check::evaluate_with`]). A judge's answer that is not a verdict
//!   is its own outcome, [`Outcome::Unreadable`], never a pass or a fail.

pub use super::check_error::CheckError;
use super::inputs::InputTable;
use super::judge::{JudgeCheck, JudgeRequest, Judges, PreparedRubric};
use super::label::shortened;
pub use super::outcome::Outcome;
pub use super::pattern::Pattern;
use crate::model::{PromptRun, RunStatus, Usd};
use crate::text::{thousands, CaseInsensitive};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A check on an answer. In JSON, an object tagged by `kind`:
/// `{"kind": "contains", "text": "Paris", "caseSensitive": false}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// The answer contains `text`.
    Contains {
        /// What to look for.
        text: String,
        /// Whether case matters (by default it does not).
        case_sensitive: bool,
    },
    /// The answer does not contain `text`.
    NotContains {
        /// What must not appear.
        text: String,
        /// Whether case matters (by default it does not).
        case_sensitive: bool,
    },
    /// The answer matches a regular expression somewhere (JavaScript's
    /// syntax: see [`Pattern`]).
    Regex {
        /// The expression, with whether it ignores case.
        pattern: Pattern,
    },
    /// The answer, trimmed, is exactly `text`, trimmed.
    Equals {
        /// The expected answer.
        text: String,
    },
    /// The answer is valid JSON.
    ValidJson,
    /// The answer is JSON with a value at `path`.
    JsonHasKey {
        /// A dotted path, or a JSON pointer starting with `/`.
        path: String,
    },
    /// The answer has at most this many characters.
    MaxLength {
        /// The limit.
        characters: usize,
    },
    /// The run took at most this many milliseconds.
    MaxLatency {
        /// The limit.
        ms: u64,
    },
    /// The run cost at most this much.
    MaxCost {
        /// The limit, in dollars.
        usd: Usd,
    },
    /// A judge model grades the answer by a rubric (in JSON, kind
    /// `modelGraded`: `rubric`, `judge`, `threshold`, `expected`).
    Judge(JudgeCheck),
}

/// The JSON of a check: one flat object whatever the kind. Serde's
/// internally tagged enums buffer every field through its `Content` type,
/// which cost 20 KB of wasm for this one type; a plain struct costs a tenth.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckJson {
    kind: CheckKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    case_sensitive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ignore_case: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    characters: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usd: Option<Usd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rubric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    judge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expected: Option<String>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum CheckKind {
    #[default]
    Contains,
    NotContains,
    Regex,
    Equals,
    ValidJson,
    JsonHasKey,
    MaxLength,
    MaxLatency,
    MaxCost,
    ModelGraded,
}

impl CheckKind {
    /// The kind as its JSON names it.
    fn name(self) -> &'static str {
        match self {
            CheckKind::Contains => "contains",
            CheckKind::NotContains => "notContains",
            CheckKind::Regex => "regex",
            CheckKind::Equals => "equals",
            CheckKind::ValidJson => "validJson",
            CheckKind::JsonHasKey => "jsonHasKey",
            CheckKind::MaxLength => "maxLength",
            CheckKind::MaxLatency => "maxLatency",
            CheckKind::MaxCost => "maxCost",
            CheckKind::ModelGraded => "modelGraded",
        }
    }
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = match self {
            Check::Contains {
                text,
                case_sensitive,
            } => CheckJson {
                text: Some(text.clone()),
                case_sensitive: Some(*case_sensitive),
                ..CheckJson::default()
            },
            Check::NotContains {
                text,
                case_sensitive,
            } => CheckJson {
                kind: CheckKind::NotContains,
                text: Some(text.clone()),
                case_sensitive: Some(*case_sensitive),
                ..CheckJson::default()
            },
            Check::Regex { pattern } => CheckJson {
                kind: CheckKind::Regex,
                pattern: Some(pattern.as_str().to_owned()),
                ignore_case: Some(pattern.ignores_case()),
                ..CheckJson::default()
            },
            Check::Equals { text } => CheckJson {
                kind: CheckKind::Equals,
                text: Some(text.clone()),
                ..CheckJson::default()
            },
            Check::ValidJson => CheckJson {
                kind: CheckKind::ValidJson,
                ..CheckJson::default()
            },
            Check::JsonHasKey { path } => CheckJson {
                kind: CheckKind::JsonHasKey,
                path: Some(path.clone()),
                ..CheckJson::default()
            },
            Check::MaxLength { characters } => CheckJson {
                kind: CheckKind::MaxLength,
                characters: Some(*characters),
                ..CheckJson::default()
            },
            Check::MaxLatency { ms } => CheckJson {
                kind: CheckKind::MaxLatency,
                ms: Some(*ms),
                ..CheckJson::default()
            },
            Check::MaxCost { usd } => CheckJson {
                kind: CheckKind::MaxCost,
                usd: Some(*usd),
                ..CheckJson::default()
            },
            Check::Judge(judge) => CheckJson {
                kind: CheckKind::ModelGraded,
                rubric: Some(judge.rubric.clone()),
                judge: Some(judge.judge.clone()),
                threshold: Some(judge.threshold),
                expected: judge.expected.clone(),
                ..CheckJson::default()
            },
        };
        json.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Check, D::Error> {
        let json = CheckJson::deserialize(deserializer)?;
        json.into_check().map_err(serde::de::Error::custom)
    }
}

impl CheckJson {
    /// The check this JSON describes; refused when a field its kind needs is
    /// missing, a field belongs to another kind, or the regex is invalid.
    fn into_check(self) -> Result<Check, String> {
        let kind = self.kind;
        let CheckJson {
            kind: _,
            mut text,
            mut case_sensitive,
            mut pattern,
            mut ignore_case,
            mut path,
            mut characters,
            mut ms,
            mut usd,
            mut rubric,
            mut judge,
            mut threshold,
            mut expected,
        } = self;
        fn take<T>(field: &mut Option<T>, name: &str, kind: CheckKind) -> Result<T, String> {
            field
                .take()
                .ok_or_else(|| format!("a {} check needs \"{name}\"", kind.name()))
        }
        let check = match kind {
            CheckKind::Contains | CheckKind::NotContains => {
                let text = take(&mut text, "text", kind)?;
                let case_sensitive = case_sensitive.take().unwrap_or(false);
                if kind == CheckKind::Contains {
                    Check::Contains {
                        text,
                        case_sensitive,
                    }
                } else {
                    Check::NotContains {
                        text,
                        case_sensitive,
                    }
                }
            }
            CheckKind::Regex => Check::Regex {
                pattern: Pattern::new(
                    take(&mut pattern, "pattern", kind)?,
                    ignore_case.take().unwrap_or(false),
                )
                .map_err(|error| error.to_string())?,
            },
            CheckKind::Equals => Check::Equals {
                text: take(&mut text, "text", kind)?,
            },
            CheckKind::ValidJson => Check::ValidJson,
            CheckKind::JsonHasKey => Check::JsonHasKey {
                path: take(&mut path, "path", kind)?,
            },
            CheckKind::MaxLength => Check::MaxLength {
                characters: take(&mut characters, "characters", kind)?,
            },
            CheckKind::MaxLatency => Check::MaxLatency {
                ms: take(&mut ms, "ms", kind)?,
            },
            CheckKind::MaxCost => Check::MaxCost {
                usd: take(&mut usd, "usd", kind)?,
            },
            CheckKind::ModelGraded => Check::Judge(JudgeCheck {
                rubric: take(&mut rubric, "rubric", kind)?,
                judge: take(&mut judge, "judge", kind)?,
                threshold: take(&mut threshold, "threshold", kind)?,
                expected: expected.take(),
            }),
        };
        let leftover = [
            ("text", text.is_some()),
            ("caseSensitive", case_sensitive.is_some()),
            ("pattern", pattern.is_some()),
            ("ignoreCase", ignore_case.is_some()),
            ("path", path.is_some()),
            ("characters", characters.is_some()),
            ("ms", ms.is_some()),
            ("usd", usd.is_some()),
            ("rubric", rubric.is_some()),
            ("judge", judge.is_some()),
            ("threshold", threshold.is_some()),
            ("expected", expected.is_some()),
        ];
        match leftover.iter().find(|(_, present)| *present) {
            Some((name, _)) => Err(format!(
                "\"{name}\" does not belong in a {} check",
                kind.name()
            )),
            None => Ok(check),
        }
    }
}

impl Check {
    /// A regex check (case kept), refused when the pattern does not compile.
    pub fn regex(pattern: impl Into<String>) -> Result<Check, CheckError> {
        Ok(Check::Regex {
            pattern: Pattern::new(pattern, false)?,
        })
    }

    /// Refuses a check that could never mean anything: empty text or path, a
    /// negative cost. (A regex is checked when it is made.)
    pub fn validate(&self) -> Result<(), CheckError> {
        match self {
            Check::Contains { text, .. } | Check::NotContains { text, .. } if text.is_empty() => {
                Err(CheckError::EmptyText)
            }
            Check::JsonHasKey { path } if path.trim().is_empty() => Err(CheckError::EmptyPath),
            Check::MaxCost { usd } if *usd < Usd::ZERO => Err(CheckError::NegativeCost(*usd)),
            Check::Judge(judge) => judge.validate().map_err(CheckError::Rubric),
            _ => Ok(()),
        }
    }

    /// What `run` makes of this check.
    pub fn evaluate(&self, run: &PromptRun) -> Outcome {
        match run.status {
            RunStatus::Success => {}
            RunStatus::Error => return not_applicable("the run failed"),
            RunStatus::Cancelled => return not_applicable("the run was cancelled"),
            RunStatus::Pending | RunStatus::Running => {
                return not_applicable("the run has not finished")
            }
        }
        let answer = run.output.as_deref().unwrap_or("");
        match self {
            Check::Contains {
                text,
                case_sensitive,
            } => verdict(contains(answer, text, *case_sensitive), || {
                "not found".to_owned()
            }),
            Check::NotContains {
                text,
                case_sensitive,
            } => verdict(!contains(answer, text, *case_sensitive), || {
                "found".to_owned()
            }),
            Check::Regex { pattern } => verdict(pattern.is_match(answer), || "no match".to_owned()),
            Check::Equals { text } => {
                verdict(answer.trim() == text.trim(), || "differs".to_owned())
            }
            Check::ValidJson => match answer_json(answer) {
                Ok(_) => Outcome::Pass,
                Err(error) => Outcome::Fail(error.to_string()),
            },
            Check::JsonHasKey { path } => match answer_json(answer) {
                Ok(json) => verdict(json.pointer(&json_pointer(path)).is_some(), || {
                    "not found".to_owned()
                }),
                Err(error) => Outcome::Fail(format!("not JSON: {error}")),
            },
            Check::MaxLength { characters } => {
                let length = answer.chars().count();
                verdict(length <= *characters, || {
                    format!("{} characters", thousands(length as u64))
                })
            }
            Check::MaxLatency { ms } => match run.duration_ms {
                Some(duration) => {
                    verdict(duration <= *ms, || format!("{} ms", thousands(duration)))
                }
                None => not_applicable("latency unknown"),
            },
            Check::MaxCost { usd } => match run.cost_usd() {
                Some(cost) => verdict(cost <= *usd, || cost.to_string()),
                None => not_applicable("cost unknown"),
            },
            Check::Judge(_) => not_applicable("graded by a judge model"),
        }
    }

    /// What `run` makes of this check, a model-graded one graded by its
    /// judge's run in `grading` (any other as [`Check::evaluate`]).
    /// `index` is the check's position in the experiment's checks.
    pub fn evaluate_with(&self, index: usize, run: &PromptRun, grading: &Grading) -> Outcome {
        match self {
            Check::Judge(judge) if run.status == RunStatus::Success => {
                if let Some(Some(Err(why))) = grading.rubrics.get(index) {
                    return Outcome::NotApplicable(why.clone());
                }
                match grading.request(index, run) {
                    Some(request) => {
                        judge.outcome(grading.judges.get(&request.key).map(|run| &**run))
                    }
                    None => not_applicable("its row has no value for a variable of the rubric"),
                }
            }
            _ => self.evaluate(run),
        }
    }

    /// What the check asks, for a column header or a tooltip:
    /// `contains "Paris" (any case)`.
    pub fn label(&self) -> String {
        let case = |sensitive: bool| if sensitive { "" } else { " (any case)" };
        match self {
            Check::Contains {
                text,
                case_sensitive,
            } => format!("contains {}{}", quoted(text), case(*case_sensitive)),
            Check::NotContains {
                text,
                case_sensitive,
            } => format!("does not contain {}{}", quoted(text), case(*case_sensitive)),
            Check::Regex { pattern } => format!(
                "matches /{}/{}",
                shortened(pattern.as_str()),
                if pattern.ignores_case() { "i" } else { "" }
            ),
            Check::Equals { text } => format!("equals {}", quoted(text.trim())),
            Check::ValidJson => "is valid JSON".to_owned(),
            Check::JsonHasKey { path } => format!("JSON has {}", shortened(path)),
            Check::MaxLength { characters } => {
                format!("at most {} characters", thousands(*characters as u64))
            }
            Check::MaxLatency { ms } => format!("takes at most {} ms", thousands(*ms)),
            Check::MaxCost { usd } => format!("costs at most {usd}"),
            Check::Judge(judge) => format!("{} (judged by {})", judge.name(), judge.judge),
        }
    }

    /// What this check made of a run, as a grid cell labels it: the check's
    /// [`label`](Check::label), and the reason when it failed or could not
    /// judge: `contains "Paris" (any case)`, `matches /^Paris/: no match`,
    /// `takes at most 1,000 ms: 1,200 ms`.
    pub fn describe(&self, outcome: &Outcome) -> String {
        match outcome {
            Outcome::Pass => self.label(),
            Outcome::PassBecause(why)
            | Outcome::Fail(why)
            | Outcome::NotApplicable(why)
            | Outcome::Unreadable(why) => {
                format!("{}: {why}", self.label())
            }
        }
    }
}

/// Every check on `run`, in order (model-graded ones not graded: see
/// [`Check::evaluate_with`]).
pub fn evaluate_all(checks: &[Check], run: &PromptRun) -> Vec<Outcome> {
    checks.iter().map(|check| check.evaluate(run)).collect()
}

/// The model-graded checks among `checks`, with their positions: the order
/// of a plan's judge estimates
/// ([`CostEstimate::judges`](super::CostEstimate::judges)).
pub fn judge_checks(checks: &[Check]) -> impl Iterator<Item = (usize, &JudgeCheck)> {
    (checks.iter().enumerate()).filter_map(|(index, check)| match check {
        Check::Judge(judge) => Some((index, judge)),
        _ => None,
    })
}

/// What model-graded checks need to grade a run: the checks, the input
/// rows (they fill the rubrics), each check's prepared rubric, and the judge
/// runs.
pub struct Grading<'a> {
    checks: &'a [Check],
    inputs: &'a InputTable,
    /// By check position: `None` for a check that is not model-graded.
    rubrics: Vec<Option<Result<PreparedRubric, String>>>,
    judges: &'a Judges,
}

impl<'a> Grading<'a> {
    /// The grading of an experiment's `checks`, on the rows of its
    /// `inputs`, by `judges`.
    pub fn new(checks: &'a [Check], inputs: &'a InputTable, judges: &'a Judges) -> Grading<'a> {
        let rubrics = (checks.iter())
            .map(|check| match check {
                Check::Judge(judge) => {
                    Some(judge.prepare(inputs).map_err(|error| error.to_string()))
                }
                _ => None,
            })
            .collect();
        Grading {
            checks,
            inputs,
            rubrics,
            judges,
        }
    }

    /// The judge request that grades `run` by check `index`, when that
    /// check is model-graded, the run answered and its row fills the rubric.
    pub fn request(&self, index: usize, run: &PromptRun) -> Option<JudgeRequest> {
        let Some(Some(Ok(rubric))) = self.rubrics.get(index) else {
            return None;
        };
        if run.status != RunStatus::Success {
            return None;
        }
        rubric.request(self.inputs, run.experiment_cell()?.row, run)
    }

    /// Grades `run` again by the model-graded checks only, in `outcomes`
    /// (its outcomes by every check): what a verdict that landed changes.
    pub fn regrade(&self, run: &PromptRun, outcomes: &mut [Outcome]) {
        for (index, check) in self.checks.iter().enumerate() {
            if let (Check::Judge(_), Some(outcome)) = (check, outcomes.get_mut(index)) {
                *outcome = check.evaluate_with(index, run, self);
            }
        }
    }

    /// Every check on `run`, in order, model-graded ones by their judges.
    pub fn evaluate_all(&self, checks: &[Check], run: &PromptRun) -> Vec<Outcome> {
        (checks.iter().enumerate())
            .map(|(index, check)| check.evaluate_with(index, run, self))
            .collect()
    }
}

/// Whether a run with these outcomes passes: `Some(false)` if any check
/// fails; else `None` if a judge's answer could not be read (an unreadable
/// verdict is never a silent pass); else `Some(true)` if at least one
/// passes; `None` when no check could judge it (no checks, or the run
/// failed). Runs judged `None` stay out of pass rates.
pub fn passes(outcomes: &[Outcome]) -> Option<bool> {
    if outcomes
        .iter()
        .any(|outcome| outcome.passed() == Some(false))
    {
        Some(false)
    } else if outcomes
        .iter()
        .any(|outcome| matches!(outcome, Outcome::Unreadable(_)))
    {
        None
    } else if outcomes
        .iter()
        .any(|outcome| outcome.passed() == Some(true))
    {
        Some(true)
    } else {
        None
    }
}

/// How many judged runs passed all their checks (see [`passes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassRate {
    /// Runs that passed.
    pub passed: usize,
    /// Runs judged, passed or failed.
    pub judged: usize,
}

impl PassRate {
    /// Counts one run's verdict (`None` counts nothing).
    pub fn count(&mut self, verdict: Option<bool>) {
        if let Some(passed) = verdict {
            self.judged += 1;
            self.passed += usize::from(passed);
        }
    }

    /// Passed runs as a share (0–1) of judged ones; `None` before any is judged.
    pub fn ratio(&self) -> Option<f64> {
        (self.judged > 0).then(|| self.passed as f64 / self.judged as f64)
    }
}

impl std::ops::AddAssign for PassRate {
    fn add_assign(&mut self, other: PassRate) {
        self.passed += other.passed;
        self.judged += other.judged;
    }
}

fn not_applicable(reason: &str) -> Outcome {
    Outcome::NotApplicable(reason.to_owned())
}

fn verdict(passed: bool, reason: impl FnOnce() -> String) -> Outcome {
    if passed {
        Outcome::Pass
    } else {
        Outcome::Fail(reason())
    }
}

fn contains(answer: &str, text: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        answer.contains(text)
    } else {
        CaseInsensitive::new(text).found_in(answer)
    }
}

/// The answer's JSON: the trimmed text, or the inside of one code fence
/// wrapping all of it.
fn answer_json(answer: &str) -> Result<Value, serde_json::Error> {
    let trimmed = answer.trim();
    let fenced = (trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .and_then(|inside| inside.split_once('\n'))
        .map(|(_language, body)| body);
    serde_json::from_str(fenced.unwrap_or(trimmed))
}

/// `path` as a JSON pointer: itself when it starts with `/`, else its dotted
/// segments, escaped (RFC 6901: `~` as `~0`, `/` as `~1`).
fn json_pointer(path: &str) -> String {
    let path = path.trim();
    if path.starts_with('/') {
        return path.to_owned();
    }
    path.split('.')
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// `"text"`, cut to 40 characters.
fn quoted(text: &str) -> String {
    format!("\"{}\"", shortened(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answered(output: &str) -> PromptRun {
        let mut run = PromptRun::pending("r", "m", "p");
        run.status = RunStatus::Success;
        run.output = Some(output.to_owned());
        run.duration_ms = Some(1_200);
        run.cost = Some(0.002);
        run
    }

    fn fails(outcome: Outcome) -> String {
        match outcome {
            Outcome::Fail(reason) => reason,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn contains_and_not_contains_with_and_without_case() {
        let run = answered("The capital of France is Paris.");
        let contains = |text: &str, case_sensitive| Check::Contains {
            text: text.into(),
            case_sensitive,
        };
        assert_eq!(contains("paris", false).evaluate(&run), Outcome::Pass);
        assert_eq!(fails(contains("paris", true).evaluate(&run)), "not found");
        assert_eq!(contains("Paris", true).evaluate(&run), Outcome::Pass);
        let not_contains = Check::NotContains {
            text: "LYON".into(),
            case_sensitive: false,
        };
        assert_eq!(not_contains.evaluate(&run), Outcome::Pass);
        let not_paris = Check::NotContains {
            text: "PARIS".into(),
            case_sensitive: false,
        };
        assert_eq!(fails(not_paris.evaluate(&run)), "found");
        assert_eq!(
            not_paris.describe(&not_paris.evaluate(&run)),
            "does not contain \"PARIS\" (any case): found"
        );
    }

    #[test]
    fn regex_matches_and_an_invalid_pattern_is_refused_when_defined() {
        let digits = Check::regex(r"\b\d{4}\b").unwrap();
        assert_eq!(digits.evaluate(&answered("In 1969.")), Outcome::Pass);
        let outcome = digits.evaluate(&answered("In sixty-nine."));
        assert_eq!(digits.describe(&outcome), r"matches /\b\d{4}\b/: no match");
        assert_eq!(fails(outcome), "no match");
        let error = Check::regex("(unclosed").unwrap_err();
        let CheckError::InvalidRegex { pattern, message } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(pattern, "(unclosed");
        assert!(!message.is_empty());
        assert!(error
            .to_string()
            .starts_with("the regular expression /(unclosed/ is not valid: "));
        let ignoring = serde_json::from_value::<Check>(
            json!({"kind": "regex", "pattern": "^yes\\b", "ignoreCase": true}),
        )
        .unwrap();
        assert_eq!(ignoring.evaluate(&answered("YES, it is.")), Outcome::Pass);
        assert_eq!(ignoring.label(), "matches /^yes\\b/i");
        assert!(matches!(
            Check::regex("^yes").unwrap().evaluate(&answered("YES")),
            Outcome::Fail(_)
        ));
        let from_json =
            serde_json::from_value::<Check>(json!({"kind": "regex", "pattern": "[z-a]"}))
                .unwrap_err()
                .to_string();
        assert!(from_json.contains("/[z-a]/ is not valid"), "{from_json}");
    }

    #[test]
    fn equals_compares_trimmed_text_with_case() {
        let equals = Check::Equals {
            text: " 42 ".into(),
        };
        assert_eq!(equals.evaluate(&answered("42\n")), Outcome::Pass);
        assert_eq!(fails(equals.evaluate(&answered("41"))), "differs");
        let word = Check::Equals { text: "Yes".into() };
        assert!(matches!(word.evaluate(&answered("yes")), Outcome::Fail(_)));
    }

    #[test]
    fn valid_json_accepts_a_fenced_answer() {
        assert_eq!(
            Check::ValidJson.evaluate(&answered(" {\"a\": 1}\n")),
            Outcome::Pass
        );
        assert_eq!(
            Check::ValidJson.evaluate(&answered("```json\n{\"a\": [1, 2]}\n```")),
            Outcome::Pass
        );
        assert_eq!(
            Check::ValidJson.evaluate(&answered("```\n[1]\n```")),
            Outcome::Pass
        );
        let reason = fails(Check::ValidJson.evaluate(&answered("Sure! {\"a\": 1}")));
        assert!(reason.starts_with("expected value"), "{reason}");
    }

    #[test]
    fn json_has_key_by_dotted_path_or_pointer() {
        let run = answered(r#"{"user": {"name": "Ada", "tags": ["x", {"a.b": 1}], "a/b": 2}}"#);
        let has = |path: &str| Check::JsonHasKey { path: path.into() }.evaluate(&run);
        assert_eq!(has("user.name"), Outcome::Pass);
        assert_eq!(has("user.tags.1"), Outcome::Pass);
        assert_eq!(
            has("user.a/b"),
            Outcome::Pass,
            "a slash in a dotted segment is escaped"
        );
        assert_eq!(has("/user/tags/1/a.b"), Outcome::Pass);
        assert_eq!(fails(has("user.email")), "not found");
        assert_eq!(fails(has("user.tags.5")), "not found");
        assert!(
            fails(Check::JsonHasKey { path: "a".into() }.evaluate(&answered("nope")))
                .starts_with("not JSON")
        );
    }

    #[test]
    fn length_counts_characters() {
        let check = Check::MaxLength { characters: 5 };
        assert_eq!(check.evaluate(&answered("héllo")), Outcome::Pass);
        assert_eq!(fails(check.evaluate(&answered("héllo!"))), "6 characters");
        let long = Check::MaxLength { characters: 1_000 };
        let outcome = long.evaluate(&answered(&"a".repeat(1_234)));
        assert_eq!(
            long.describe(&outcome),
            "at most 1,000 characters: 1,234 characters",
            "counts grouped by thousands, as everywhere"
        );
        assert_eq!(long.describe(&Outcome::Pass), "at most 1,000 characters");
    }

    #[test]
    fn latency_and_cost_limits_and_unknown_values() {
        let mut run = answered("ok");
        assert_eq!(
            Check::MaxLatency { ms: 1_200 }.evaluate(&run),
            Outcome::Pass
        );
        let fast = Check::MaxLatency { ms: 1_000 };
        assert_eq!(
            fast.describe(&fast.evaluate(&run)),
            "takes at most 1,000 ms: 1,200 ms"
        );
        let cheap = Check::MaxCost {
            usd: Usd::from_dollars(0.001),
        };
        assert_eq!(fails(cheap.evaluate(&run)), "$0.0020");
        let enough = Check::MaxCost {
            usd: Usd::from_dollars(0.002),
        };
        assert_eq!(enough.evaluate(&run), Outcome::Pass);
        run.cost = None;
        run.duration_ms = None;
        assert_eq!(
            enough.evaluate(&run),
            Outcome::NotApplicable("cost unknown".into())
        );
        assert_eq!(
            enough.describe(&enough.evaluate(&run)),
            "costs at most $0.0020: cost unknown"
        );
        assert_eq!(
            Check::MaxLatency { ms: 1 }.evaluate(&run),
            Outcome::NotApplicable("latency unknown".into())
        );
    }

    #[test]
    fn a_run_that_did_not_answer_is_not_judged() {
        let check = Check::Contains {
            text: "x".into(),
            case_sensitive: false,
        };
        for (status, reason) in [
            (RunStatus::Error, "the run failed"),
            (RunStatus::Cancelled, "the run was cancelled"),
            (RunStatus::Pending, "the run has not finished"),
            (RunStatus::Running, "the run has not finished"),
        ] {
            let mut run = answered("x");
            run.status = status;
            assert_eq!(check.evaluate(&run), Outcome::NotApplicable(reason.into()));
        }
    }

    #[test]
    fn a_run_passes_when_no_check_fails_and_one_passes() {
        let pass = Outcome::Pass;
        let fail = Outcome::Fail("no".into());
        let skip = Outcome::NotApplicable("cost unknown".into());
        assert_eq!(passes(&[pass.clone(), skip.clone()]), Some(true));
        assert_eq!(passes(&[pass.clone(), fail.clone()]), Some(false));
        assert_eq!(passes(std::slice::from_ref(&skip)), None);
        assert_eq!(passes(&[]), None);
        let mut rate = PassRate::default();
        for verdict in [Some(true), Some(false), None, Some(true)] {
            rate.count(verdict);
        }
        assert_eq!(
            rate,
            PassRate {
                passed: 2,
                judged: 3
            }
        );
        assert_eq!(PassRate::default().ratio(), None);
    }

    #[test]
    fn checks_round_trip_as_tagged_json_and_meaningless_ones_are_refused() {
        let checks = vec![
            Check::Contains {
                text: "a".into(),
                case_sensitive: true,
            },
            Check::regex("^x").unwrap(),
            Check::ValidJson,
            Check::MaxCost {
                usd: Usd::from_dollars(0.5),
            },
            Check::MaxLength { characters: 280 },
        ];
        let json = serde_json::to_value(&checks).unwrap();
        assert_eq!(
            json,
            json!([
                {"kind": "contains", "text": "a", "caseSensitive": true},
                {"kind": "regex", "pattern": "^x", "ignoreCase": false},
                {"kind": "validJson"},
                {"kind": "maxCost", "usd": 0.5},
                {"kind": "maxLength", "characters": 280}
            ])
        );
        assert_eq!(serde_json::from_value::<Vec<Check>>(json).unwrap(), checks);
        let defaulted: Check =
            serde_json::from_value(json!({"kind": "notContains", "text": "b"})).unwrap();
        assert_eq!(
            defaulted,
            Check::NotContains {
                text: "b".into(),
                case_sensitive: false
            }
        );
        assert!(serde_json::from_value::<Check>(json!({"kind": "sentiment"})).is_err());
        let error = serde_json::from_value::<Check>(json!({"kind": "maxLatency"}))
            .unwrap_err()
            .to_string();
        assert_eq!(error, "a maxLatency check needs \"ms\"");
        let error = serde_json::from_value::<Check>(json!({"kind": "validJson", "text": "x"}))
            .unwrap_err()
            .to_string();
        assert_eq!(error, "\"text\" does not belong in a validJson check");
        assert!(serde_json::from_value::<Check>(
            json!({"kind": "equals", "text": "x", "colour": 1})
        )
        .is_err());
        assert_eq!(
            Check::Contains {
                text: String::new(),
                case_sensitive: false
            }
            .validate(),
            Err(CheckError::EmptyText)
        );
        assert_eq!(
            Check::JsonHasKey { path: " ".into() }.validate(),
            Err(CheckError::EmptyPath)
        );
        assert!(Check::MaxCost {
            usd: Usd::from_dollars(-1.0)
        }
        .validate()
        .is_err());
        assert_eq!(checks[0].label(), "contains \"a\"");
        assert_eq!(
            Check::NotContains {
                text: "b".into(),
                case_sensitive: false
            }
            .label(),
            "does not contain \"b\" (any case)"
        );
        assert_eq!(checks[3].label(), "costs at most $0.5000");
    }
}
