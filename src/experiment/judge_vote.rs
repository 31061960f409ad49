//! A judge model's vote on a blind A/B pair: the pairwise request, its
//! tag, and how its answer is read, kept apart from people's votes.
//!
//! A judge's vote is a judge call like a model-graded check's: one more
//! ordinary run of the history on the judge model, tagged in
//! `metadata.judge` with the experiment, the run shown as A (`grades`), the
//! request's key, the run shown as B (`versus`), and both runs' models (so
//! the vote counts without looking the runs up, and after one is deleted):
//!
//! ```json
//! {"judge": {"experiment": "exp-1", "grades": "<A's run id>", "key": "…",
//!            "versus": "<B's run id>", "models": ["<A's model>", "<B's model>"]}}
//! ```
//!
//! So judges' votes sync, export and import as judge calls do, and are
//! never mistaken for a person's (those are in the answers' own metadata,
//! [`votes`](super::votes)). The judge sees the pair in the session's
//! shuffled order, so a judge that favours the first answer favours no
//! model in particular.

use super::blind::{BlindPair, Choice};
use super::hash::content_hash;
use super::judge::{
    judge_tag, read_judge_answer, JudgeRequest, EXPECTED_TAG, JUDGE_KEY, MAX_REASON_CHARS,
};
use super::votes::CastVote;
use super::win_rate::Vote;
use crate::model::{PromptRun, RunStatus};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The tag around the answer shown as A in a pairwise request.
pub const ANSWER_A_TAG: &str = "answer_a";

/// The tag around the answer shown as B.
pub const ANSWER_B_TAG: &str = "answer_b";

/// The key, in a judge call's `metadata.judge`, of the run shown as B.
pub const VERSUS_KEY: &str = "versus";

/// The key, in a judge call's `metadata.judge`, of the two runs' models.
pub const MODELS_KEY: &str = "models";

/// What every pairwise request ends with: the form of the answer.
pub const PAIRWISE_INSTRUCTIONS: &str = "Reply with one JSON object and nothing else, in this form: {\"winner\": \"A\", \"B\" or \"tie\", \"reason\": \"one short sentence\"}";

/// A judge's vote on one pair, as read from its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JudgeVote {
    /// A, B or a tie.
    pub choice: Choice,
    /// Why, in its words (cut to [`MAX_REASON_CHARS`] characters).
    pub reason: String,
}

/// The request asking `judge` which answer of `pair` is better, with the
/// row's `expected` answer when the inputs have one.
pub fn pairwise_request(judge: &str, pair: &BlindPair, expected: Option<&str>) -> JudgeRequest {
    let output = |run: &PromptRun| run.output.clone().unwrap_or_default();
    let mut prompt = String::from(
        "You are comparing two answers to the same question. Which is better: more correct, more \
         helpful, closer to what was asked? Judge what they say, not their order or their length.\n\n",
    );
    let mut section = |tag: &str, text: &str| {
        prompt.push_str(&format!("<{tag}>\n{text}\n</{tag}>\n\n"));
    };
    section("question", &pair.left.prompt_snapshot);
    if let Some(expected) = expected {
        section(EXPECTED_TAG, expected);
    }
    section(ANSWER_A_TAG, &output(&pair.left));
    section(ANSWER_B_TAG, &output(&pair.right));
    prompt.push_str(PAIRWISE_INSTRUCTIONS);
    let key = content_hash(["judge-pair-v1", judge, &prompt]);
    JudgeRequest {
        model_id: judge.to_owned(),
        prompt,
        key,
    }
}

/// A new `pending` run of a pairwise `request` on `pair`, of experiment
/// `experiment_id`, tagged in `metadata.judge` with both runs and models.
pub fn pending_pairwise_run(
    request: &JudgeRequest,
    experiment_id: &str,
    pair: &BlindPair,
) -> PromptRun {
    let mut run = request.pending_run(experiment_id, &pair.left.id);
    if let Some(Value::Object(tag)) = (run.metadata.as_mut()).and_then(|m| m.get_mut(JUDGE_KEY)) {
        tag.insert(VERSUS_KEY.to_owned(), pair.right.id.clone().into());
        let models = [&pair.left.model_id, &pair.right.model_id].map(|m| Value::from(m.clone()));
        tag.insert(MODELS_KEY.to_owned(), Value::Array(models.to_vec()));
    }
    run
}

/// What a pairwise judge call compared: A's run and model, then B's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compared<'a> {
    /// The run shown as A, and its model.
    pub a: (&'a str, &'a str),
    /// The run shown as B, and its model.
    pub b: (&'a str, &'a str),
}

/// What `run` compared, if it is a pairwise judge call.
pub fn pairwise_of(run: &PromptRun) -> Option<Compared<'_>> {
    let a = judge_tag(run)?.grades;
    let tag = run.metadata.as_ref()?.get(JUDGE_KEY)?;
    let models = tag.get(MODELS_KEY)?.as_array()?;
    Some(Compared {
        a: (a, models.first()?.as_str()?),
        b: (tag.get(VERSUS_KEY)?.as_str()?, models.get(1)?.as_str()?),
    })
}

/// Reads a judge's answer to a pairwise request: a JSON object whose
/// `winner` is `"A"`, `"B"` or `"tie"` (any case), with a `reason`, read as
/// strictly as a verdict ([`parse_verdict`](super::parse_verdict)).
pub fn parse_pairwise(answer: &str) -> Result<JudgeVote, String> {
    read_judge_answer(answer, |object: &Map<String, Value>| {
        let choice = match object.get("winner") {
            Some(Value::String(winner)) => match winner.trim().to_lowercase().as_str() {
                "a" => Choice::A,
                "b" => Choice::B,
                "tie" => Choice::Tie,
                _ => {
                    return Err(format!(
                        "its \"winner\" is {winner:?}, not \"A\", \"B\" or \"tie\""
                    ))
                }
            },
            Some(other) => return Err(format!("its \"winner\" is {other}, not text")),
            None => return Err("its JSON has no \"winner\"".into()),
        };
        let reason = match object.get("reason") {
            Some(Value::String(reason)) => crate::text::shortened(reason.trim(), MAX_REASON_CHARS),
            _ => String::new(),
        };
        Ok(JudgeVote { choice, reason })
    })
}

/// Each judge's votes among an experiment's judge calls `judges`: per judge
/// model, the pairs it answered readably (the latest call per pair).
pub fn judge_votes<'a>(
    judges: impl IntoIterator<Item = &'a Arc<PromptRun>>,
) -> Vec<(String, Vec<CastVote>)> {
    let mut by_judge: Vec<(String, Vec<CastVote>)> = Vec::new();
    for run in judges {
        let Some(compared) = pairwise_of(run).filter(|_| run.status == RunStatus::Success) else {
            continue;
        };
        let Ok(voted) = parse_pairwise(run.output.as_deref().unwrap_or("")) else {
            continue;
        };
        let ((a, model_a), (b, model_b)) = (compared.a, compared.b);
        let for_a = match voted.choice {
            Choice::A => Vote::Win,
            Choice::B => Vote::Loss,
            Choice::Tie => Vote::Tie,
        };
        let (first, second, vote) = if a <= b {
            ((a, model_a), (b, model_b), for_a)
        } else {
            ((b, model_b), (a, model_a), for_a.reversed())
        };
        let owned = |(id, model): (&str, &str)| (id.to_owned(), model.to_owned());
        let cast = CastVote {
            first: owned(first),
            second: owned(second),
            vote,
            at: run.started_at.clone(),
        };
        let votes = match by_judge
            .iter_mut()
            .find(|(judge, _)| *judge == run.model_id)
        {
            Some((_, votes)) => votes,
            None => {
                by_judge.push((run.model_id.clone(), Vec::new()));
                &mut by_judge.last_mut().expect("just pushed").1
            }
        };
        match (votes.iter_mut())
            .find(|held| held.first.0 == cast.first.0 && held.second.0 == cast.second.0)
        {
            Some(held) if held.at.unix_millis() < cast.at.unix_millis() => *held = cast,
            Some(_) => {}
            None => votes.push(cast),
        }
    }
    by_judge
}

/// Whether judge model `judge` has answered, or is answering, the pair of
/// runs `a` and `b` (either way round) among `judges`.
pub fn judge_voted<'a>(
    judges: impl IntoIterator<Item = &'a Arc<PromptRun>>,
    judge: &str,
    (a, b): (&str, &str),
) -> bool {
    judges.into_iter().any(|run| {
        run.model_id == judge
            && !matches!(run.status, RunStatus::Error | RunStatus::Cancelled)
            && pairwise_of(run).is_some_and(|pair| {
                let ids = (pair.a.0, pair.b.0);
                ids == (a, b) || ids == (b, a)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::judge::tagged;

    fn answered(id: &str, model: &str, output: &str) -> Arc<PromptRun> {
        let mut run = PromptRun::pending(id, model, "Capital of France?");
        run.status = RunStatus::Success;
        run.output = Some(output.into());
        Arc::new(run)
    }

    #[test]
    fn a_pairwise_request_shows_both_answers_and_is_tagged_with_both_runs() {
        let pair = BlindPair {
            row: 0,
            repeat: 0,
            left: answered("r1", "m1", "Paris."),
            right: answered("r2", "m2", "Lyon."),
        };
        let request = pairwise_request("judge-1", &pair, Some("Paris"));
        assert_eq!(
            tagged(&request.prompt, "question"),
            Some("Capital of France?")
        );
        assert_eq!(tagged(&request.prompt, EXPECTED_TAG), Some("Paris"));
        assert_eq!(tagged(&request.prompt, ANSWER_A_TAG), Some("Paris."));
        assert_eq!(tagged(&request.prompt, ANSWER_B_TAG), Some("Lyon."));
        assert!(request.prompt.ends_with(PAIRWISE_INSTRUCTIONS));
        assert_ne!(
            request.key,
            pairwise_request("judge-1", &pair, None).key,
            "the key is the whole prompt's"
        );
        let run = pending_pairwise_run(&request, "exp-1", &pair);
        assert_eq!(
            pairwise_of(&run),
            Some(Compared {
                a: ("r1", "m1"),
                b: ("r2", "m2")
            })
        );
        assert_eq!(judge_tag(&run).unwrap().key, request.key);
    }

    #[test]
    fn a_pairwise_answer_is_read_strictly() {
        let read = parse_pairwise(r#"Sure. {"winner": "b", "reason": "B is right."}"#).unwrap();
        assert_eq!(
            read,
            JudgeVote {
                choice: Choice::B,
                reason: "B is right.".into()
            }
        );
        assert_eq!(
            parse_pairwise(r#"{"winner": "tie"}"#).unwrap().choice,
            Choice::Tie
        );
        let refused = parse_pairwise(r#"{"winner": "both"}"#).unwrap_err();
        assert!(
            refused.ends_with("its \"winner\" is \"both\", not \"A\", \"B\" or \"tie\""),
            "{refused}"
        );
        assert!(parse_pairwise("A is better")
            .unwrap_err()
            .contains("no JSON object"));
    }

    #[test]
    fn judges_votes_are_counted_per_judge_the_latest_per_pair() {
        let (a, b) = (
            answered("r1", "m1", "Paris."),
            answered("r2", "m2", "Lyon."),
        );
        let pair = BlindPair {
            row: 0,
            repeat: 0,
            left: b.clone(),
            right: a.clone(),
        };
        let call = |judge: &str, answer: &str, started: i64| {
            let request = pairwise_request(judge, &pair, None);
            let mut run = pending_pairwise_run(&request, "exp-1", &pair);
            run.status = RunStatus::Success;
            run.output = Some(answer.into());
            run.started_at = crate::model::Timestamp::from_unix_millis(started);
            Arc::new(run)
        };
        let runs = [
            call("j1", r#"{"winner": "A"}"#, 1),
            call("j1", r#"{"winner": "B"}"#, 2),
            call("j2", "no idea", 3),
        ];
        let votes = judge_votes(runs.iter());
        assert_eq!(votes.len(), 1, "j2's answer is unreadable");
        assert_eq!(votes[0].0, "j1");
        assert_eq!(votes[0].1.len(), 1);
        // The later call chose B, the right side: r1 (m1) won.
        assert_eq!(
            (votes[0].1[0].first.1.as_str(), votes[0].1[0].vote),
            ("m1", Vote::Win)
        );
        assert!(judge_voted(runs.iter(), "j1", ("r1", "r2")));
        assert!(!judge_voted(runs.iter(), "j3", ("r1", "r2")));
    }
}
