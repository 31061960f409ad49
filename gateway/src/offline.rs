//! The built-in offline models: deterministic answers derived from the
//! prompt, streamed token by token at a known pace, with honest token counts
//! and timings, so the app can be tried with no account and no network.
//! Test models simulate failures, down to a connection lost mid-answer, and
//! a slow start (a known time to first token). The offline judge
//! ([`JUDGE_MODEL`]) grades answers with a verdict that is a known function
//! of them ([`verdict`]), so model-graded checks work with no network.

use crate::tokens;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use prompt_runs::api::wire::{ExecuteRequest, StreamDelta, Timings, EVENT_DELTA};
use prompt_runs::model::{Model, Provider};
use serde_json::json;
use std::time::Duration;

/// How an offline model answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// Streams its answer at a multiple of the configured token rate.
    Answer {
        /// The multiple: 2.0 answers twice as fast as the configured rate.
        speed: f64,
    },
    /// Answers HTTP 500 `{"detail": "simulated failure"}`.
    Fail,
    /// Answers 200 with a body that is not JSON.
    Malformed,
    /// Never answers (until the client gives up).
    Hang,
    /// Starts its answer, then breaks the connection, as a server that dies
    /// mid-answer does (see [`disconnecting_answer`]).
    Disconnect,
}

/// One offline model.
#[derive(Clone, Debug)]
pub struct OfflineModel {
    /// Its id.
    pub id: &'static str,
    /// Its display name.
    pub name: &'static str,
    /// How it answers.
    pub behaviour: Behaviour,
    /// Whether it exists to test failure handling.
    pub for_tests: bool,
    /// How long its first piece takes, when not one token's time (a model
    /// that reads a long prompt, or waits in a queue, before it answers).
    pub first_token: Option<Duration>,
}

/// How long [`Behaviour::Answer`] test model `offline-delayed` takes to its
/// first token: the client's tests check they measure it.
pub const DELAYED_FIRST_TOKEN: Duration = Duration::from_millis(600);

/// `offline-delayed`'s pace, as a multiple of the configured token rate:
/// 50 tokens per second at the default 200.
pub const DELAYED_SPEED: f64 = 0.25;

/// When an offline model's pieces come: the first after `first`, each
/// other one token's time (`each`) after the one before.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacing {
    /// The wait before the first piece.
    pub first: Duration,
    /// The wait before each other piece.
    pub each: Duration,
}

impl Pacing {
    /// The wait before piece `index` (from 0).
    pub fn before(&self, index: usize) -> Duration {
        if index == 0 {
            self.first
        } else {
            self.each
        }
    }

    /// How long an answer of `pieces` takes, whole.
    pub fn total(&self, pieces: usize) -> Duration {
        match pieces {
            0 => Duration::ZERO,
            n => self.first + self.each * (n as u32 - 1),
        }
    }

    /// What the model reports about an answer of `pieces` tokens, in
    /// llama.cpp's terms: tokens generated at its configured speed (the
    /// first token's time, prompt reading included, is not generation).
    pub fn timings(&self, pieces: usize) -> Timings {
        let each_ms = self.each.as_secs_f64() * 1_000.0;
        Timings {
            predicted_n: Some(pieces as u64),
            predicted_ms: Some(each_ms * pieces as f64),
            predicted_per_second: Some(1_000.0 / each_ms),
            ..Timings::default()
        }
    }
}

/// The demo models, plus the failure-simulating ones when `with_test_models`.
pub fn models(with_test_models: bool) -> Vec<OfflineModel> {
    let model = |id, name, behaviour, for_tests| OfflineModel {
        id,
        name,
        behaviour,
        for_tests,
        first_token: None,
    };
    let mut models = vec![
        model(
            "offline-echo",
            "Offline demo (no network)",
            Behaviour::Answer { speed: 1.0 },
            false,
        ),
        model(
            "offline-slow",
            "Offline demo, slow (no network, no price)",
            Behaviour::Answer { speed: 0.04 },
            false,
        ),
        model(
            JUDGE_MODEL,
            "Offline judge (no network): passes an answer that contains the expected text",
            Behaviour::Answer { speed: 2.0 },
            false,
        ),
    ];
    if with_test_models {
        models.extend([
            model(
                "offline-fail-500",
                "Test: fails with HTTP 500",
                Behaviour::Fail,
                true,
            ),
            model(
                "offline-malformed",
                "Test: answers malformed JSON",
                Behaviour::Malformed,
                true,
            ),
            model("offline-hang", "Test: never answers", Behaviour::Hang, true),
            model(
                "offline-disconnect",
                "Test: loses the connection mid-answer",
                Behaviour::Disconnect,
                true,
            ),
            OfflineModel {
                first_token: Some(DELAYED_FIRST_TOKEN),
                ..model(
                    "offline-delayed",
                    "Test: its first token after 600 ms, then 50 tokens/s",
                    Behaviour::Answer {
                        speed: DELAYED_SPEED,
                    },
                    true,
                )
            },
        ]);
    }
    models
}

impl OfflineModel {
    /// How its answer is paced at `tokens_per_second` (the configured rate
    /// times its [`Behaviour::Answer`] speed).
    pub fn pacing(&self, tokens_per_second: f64) -> Pacing {
        let each = Duration::from_secs_f64(1.0 / tokens_per_second);
        Pacing {
            first: self.first_token.unwrap_or(each),
            each,
        }
    }

    /// The model as the models endpoint lists it.
    pub fn describe(&self, cost_per_1k_tokens: Option<f64>) -> Model {
        Model {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            provider: Provider::Local,
            max_tokens: 4_096,
            supports_streaming: true,
            cost_per_1k_tokens,
            metadata: json!({"offline": true, "test": self.for_tests})
                .as_object()
                .cloned(),
        }
    }
}

/// The offline judge's id: it answers every prompt with a [`verdict`].
pub const JUDGE_MODEL: &str = "offline-judge";

/// The answer of offline model `model_id` to `prompt` with
/// `context_blocks`: the judge's [`verdict`], any other model's [`answer`].
pub fn answer_of(model_id: &str, prompt: &str, context_blocks: &[String]) -> String {
    if model_id == JUDGE_MODEL {
        verdict(prompt)
    } else {
        answer(prompt, context_blocks)
    }
}

/// The offline judge's verdict on the answer a rubric shows it between
/// `<answer>` and `</answer>` (as the built-in rubrics do), in the JSON the
/// app asks judges for:
///
/// - with an `<expected>` text: a pass, score 1, when the answer contains it
///   (ignoring case), else a fail, score 0;
/// - without one: a pass, score 1, when the answer is not empty;
/// - with no `<answer>` at all: a sentence that is no verdict, so the app's
///   "could not be read" can be seen (and tested) offline.
pub fn verdict(prompt: &str) -> String {
    use prompt_runs::experiment::judge::{tagged, ANSWER_TAG, EXPECTED_TAG};
    if let Some(vote) = pairwise_vote(prompt) {
        return vote;
    }
    let Some(graded) = tagged(prompt, ANSWER_TAG) else {
        return "Offline judge: the rubric shows me no <answer>, so I have nothing to grade."
            .to_owned();
    };
    let (pass, reason) = match tagged(prompt, EXPECTED_TAG) {
        Some(expected) => {
            let shown = prompt_runs::text::shortened(expected, 60);
            if prompt_runs::text::CaseInsensitive::new(expected).found_in(graded) {
                (
                    true,
                    format!("The answer contains the expected \"{shown}\"."),
                )
            } else {
                (
                    false,
                    format!("The answer does not contain the expected \"{shown}\"."),
                )
            }
        }
        None if graded.is_empty() => (false, "The answer is empty.".to_owned()),
        None => (true, "The answer is not empty.".to_owned()),
    };
    json!({"pass": pass, "score": if pass { 1.0 } else { 0.0 }, "reason": reason}).to_string()
}

/// The offline judge's vote on a blind A/B pair (a prompt with
/// `<answer_a>` and `<answer_b>`, as the app's pairwise requests have), in
/// the JSON the app asks for; `None` for any other prompt:
///
/// - with an `<expected>` text: the answer that contains it (ignoring case)
///   wins, a tie when both or neither do;
/// - without one: the longer answer wins (a demo's rule: it says more), a
///   tie when they are as long.
pub fn pairwise_vote(prompt: &str) -> Option<String> {
    use prompt_runs::experiment::judge::{tagged, EXPECTED_TAG};
    use prompt_runs::experiment::judge_vote::{ANSWER_A_TAG, ANSWER_B_TAG};
    let (a, b) = (tagged(prompt, ANSWER_A_TAG)?, tagged(prompt, ANSWER_B_TAG)?);
    let (winner, reason) = match tagged(prompt, EXPECTED_TAG) {
        Some(expected) => {
            let wanted = prompt_runs::text::CaseInsensitive::new(expected);
            let shown = prompt_runs::text::shortened(expected, 60);
            match (wanted.found_in(a), wanted.found_in(b)) {
                (true, false) => ("A", format!("Only A contains the expected \"{shown}\".")),
                (false, true) => ("B", format!("Only B contains the expected \"{shown}\".")),
                _ => (
                    "tie",
                    format!("Both or neither contain the expected \"{shown}\"."),
                ),
            }
        }
        None => {
            let (a, b) = (a.chars().count(), b.chars().count());
            match a.cmp(&b) {
                std::cmp::Ordering::Greater => ("A", "A is longer.".to_owned()),
                std::cmp::Ordering::Less => ("B", "B is longer.".to_owned()),
                std::cmp::Ordering::Equal => ("tie", "They are as long.".to_owned()),
            }
        }
    };
    Some(json!({"winner": winner, "reason": reason}).to_string())
}

/// The offline answer to `prompt` with `context_blocks`: the same for the
/// same input, built from it, and plainly marked as a demo.
pub fn answer(prompt: &str, context_blocks: &[String]) -> String {
    let words = prompt.split_whitespace().count();
    let characters = prompt.chars().count();
    let blocks = match context_blocks.len() {
        0 => String::new(),
        1 => " and 1 context block".to_owned(),
        n => format!(" and {n} context blocks"),
    };
    let excerpt: String = prompt.chars().take(400).collect();
    let longest = prompt
        .split_whitespace()
        .max_by_key(|word| word.chars().count())
        .unwrap_or("");
    format!(
        "Offline demo answer: no model was called and nothing left this machine.\n\
         You sent {words} words ({characters} characters){blocks}. The longest word is \"{longest}\".\n\
         Your prompt, reflected back: {excerpt}\n\
         To get real answers, point the gateway at an OpenAI-compatible server or NeuroForge."
    )
}

/// How many pieces of its answer a [`Behaviour::Disconnect`] model sends.
const PIECES_BEFORE_DISCONNECT: usize = 6;

/// How long it waits after them before breaking off: long enough for the
/// text to be flushed to the client and shown.
const PAUSE_BEFORE_DISCONNECT: Duration = Duration::from_millis(300);

/// The answer of a [`Behaviour::Disconnect`] model: the first few `delta`
/// events of the offline answer (`streamed`), or the first bytes of its JSON,
/// then, after a pause, a body that fails. A failing body makes the server
/// abort the connection rather than end the answer, so the client sees what
/// it sees when a server dies mid-answer: a network error, not an `error`
/// event nor a clean end.
pub fn disconnecting_answer(request: &ExecuteRequest, streamed: bool) -> Response {
    if !streamed {
        let start = stream::once(async { Ok(Bytes::from_static(b"{\"run_id\": \"")) });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(start.chain(broken_off())),
        )
            .into_response();
    }
    let text = answer(&request.prompt, &request.context_blocks);
    let deltas: Vec<Result<Event, std::io::Error>> = tokens::split(&text)
        .into_iter()
        .take(PIECES_BEFORE_DISCONNECT)
        .map(|piece| {
            let delta = StreamDelta {
                text: piece.to_owned(),
            };
            Ok(Event::default()
                .event(EVENT_DELTA)
                .json_data(delta)
                .expect("a delta is always JSON"))
        })
        .collect();
    Sse::new(stream::iter(deltas).chain(broken_off())).into_response()
}

/// After the pause, the error that makes the server abort the connection.
fn broken_off<T>() -> impl futures::Stream<Item = Result<T, std::io::Error>> {
    stream::once(async {
        tokio::time::sleep(PAUSE_BEFORE_DISCONNECT).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "offline-disconnect breaks the connection",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn the_disconnecting_model_sends_some_text_then_breaks_the_connection() {
        let request: ExecuteRequest = serde_json::from_value(
            json!({"prompt": "Tell me a story", "model_id": "offline-disconnect"}),
        )
        .unwrap();
        for streamed in [true, false] {
            let mut body = disconnecting_answer(&request, streamed).into_body();
            let mut received = String::new();
            let failure = loop {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        received.push_str(&String::from_utf8_lossy(&frame.into_data().unwrap()))
                    }
                    Some(Err(error)) => break error,
                    None => panic!("the body ended cleanly after {received:?}"),
                }
            };
            assert!(
                failure.to_string().contains("breaks the connection"),
                "{failure}"
            );
            if streamed {
                assert_eq!(
                    received.matches("event: delta").count(),
                    PIECES_BEFORE_DISCONNECT
                );
                assert!(received.contains("Offline"), "{received}");
            } else {
                assert_eq!(received, "{\"run_id\": \"");
            }
        }
    }

    #[test]
    fn answers_are_deterministic_and_derived_from_the_prompt() {
        let first = answer("Explain ownership in Rust", &["style".into()]);
        assert_eq!(
            first,
            answer("Explain ownership in Rust", &["style".into()])
        );
        assert!(
            first.contains("4 words")
                && first.contains("1 context block")
                && first.contains("\"ownership\"")
        );
        assert_ne!(first, answer("Something else", &[]));
    }

    #[test]
    fn test_models_are_listed_only_on_request() {
        assert!(models(false).iter().all(|model| !model.for_tests));
        assert_eq!(models(true).len(), 8);
    }

    #[test]
    fn the_offline_judge_passes_an_answer_that_contains_the_expected_text() {
        use prompt_runs::experiment::{parse_verdict, Check, JudgeCheck};
        use prompt_runs::experiment::{plan, Experiment, InputFormat, InputTable};
        use prompt_runs::model::RunStatus;
        // The request exactly as the app builds it, from a built-in rubric.
        let mut experiment = Experiment::new("exp", "Judged");
        experiment.template = "Capital of {{country}}?".into();
        experiment.inputs =
            InputTable::parse(b"country,expected\nFrance,paris\n", InputFormat::Csv).unwrap();
        experiment.models = vec!["m".into()];
        let judge = JudgeCheck::built_in(0, JUDGE_MODEL);
        experiment.checks = vec![Check::Judge(judge.clone())];
        let cell = plan(&experiment, &[]).unwrap().cells.remove(0);
        let rubric = judge.prepare(&experiment.inputs).unwrap();
        let judged = |output: &str| {
            let mut run = cell.pending_run("exp");
            run.status = RunStatus::Success;
            run.output = Some(output.into());
            let request = rubric.request(&experiment.inputs, 0, &run).unwrap();
            let text = answer_of(&request.model_id, &request.prompt, &[]);
            assert_eq!(
                text,
                answer_of(JUDGE_MODEL, &request.prompt, &[]),
                "deterministic"
            );
            parse_verdict(&text).expect("a verdict the app reads")
        };
        let pass = judged("It is Paris, of course.");
        assert_eq!((pass.pass, pass.score), (true, 1.0));
        assert_eq!(pass.reason, "The answer contains the expected \"paris\".");
        let fail = judged("Lyon");
        assert_eq!((fail.pass, fail.score), (false, 0.0));
        // "Follows the instructions" has no expected text: any answer passes.
        let prompt = format!(
            "<instructions>x</instructions><answer>\n{}\n</answer>",
            "Lyon"
        );
        assert!(parse_verdict(&verdict(&prompt)).unwrap().pass);
        assert!(!parse_verdict(&verdict("<answer> </answer>")).unwrap().pass);
        // A rubric that hides the answer gets no verdict: unreadable.
        assert!(parse_verdict(&verdict("Is {{output}} right?")).is_err());
        assert!(answer_of("offline-echo", "Hi", &[]).starts_with("Offline demo answer"));
    }

    #[test]
    fn the_offline_judge_votes_on_the_apps_pairwise_requests() {
        use prompt_runs::experiment::{pairwise_request, parse_pairwise, BlindPair, Choice};
        use prompt_runs::model::PromptRun;
        use std::sync::Arc;
        let answered = |id: &str, output: &str| {
            let mut run = PromptRun::pending(id, "m", "Capital of France?");
            run.output = Some(output.into());
            Arc::new(run)
        };
        let vote = |left: &str, right: &str, expected: Option<&str>| {
            let pair = BlindPair {
                row: 0,
                repeat: 0,
                left: answered("a", left),
                right: answered("b", right),
            };
            let request = pairwise_request(JUDGE_MODEL, &pair, expected);
            parse_pairwise(&answer_of(JUDGE_MODEL, &request.prompt, &[]))
                .expect("a vote the app reads")
        };
        let paris = vote("Lyon.", "It is Paris.", Some("paris"));
        assert_eq!(paris.choice, Choice::B);
        assert_eq!(paris.reason, "Only B contains the expected \"paris\".");
        assert_eq!(vote("Paris", "Paris!", Some("Paris")).choice, Choice::Tie);
        assert_eq!(vote("Paris, France.", "Paris", None).choice, Choice::A);
        assert_eq!(vote("Paris", "Paris", None).choice, Choice::Tie);
        assert_eq!(
            pairwise_vote("<answer>x</answer>"),
            None,
            "a grading prompt is graded"
        );
    }

    #[test]
    fn pacing_and_timings_follow_the_configured_speed() {
        let all = models(true);
        let delayed = all
            .iter()
            .find(|model| model.id == "offline-delayed")
            .unwrap();
        let pacing = delayed.pacing(200.0 * DELAYED_SPEED);
        assert_eq!(pacing.before(0), DELAYED_FIRST_TOKEN);
        assert_eq!(pacing.before(1), Duration::from_millis(20));
        assert_eq!(pacing.total(3), Duration::from_millis(640));
        let timings = pacing.timings(10);
        assert_eq!(timings.predicted_n, Some(10));
        assert!((timings.predicted_per_second.unwrap() - 50.0).abs() < 1e-9);
        assert!((timings.predicted_ms.unwrap() - 200.0).abs() < 1e-9);
        let echo = all[0].pacing(200.0);
        assert_eq!(
            (echo.first, echo.total(0)),
            (Duration::from_millis(5), Duration::ZERO)
        );
    }
}
