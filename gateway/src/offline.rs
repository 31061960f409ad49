//! The built-in offline models: deterministic answers derived from the
//! prompt, streamed token by token at a known pace, with honest token counts
//! and timings, so the app can be tried with no account and no network.
//! Test models simulate failures, down to a connection lost mid-answer, and
//! a slow start (a known time to first token).

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
        assert_eq!(models(true).len(), 7);
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
