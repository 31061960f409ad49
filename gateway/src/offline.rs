//! The built-in offline models: deterministic answers derived from the
//! prompt, streamed token by token, with honest token counts, so the app can
//! be tried with no account and no network. Test models simulate failures,
//! down to a connection lost mid-answer.

use crate::tokens;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use prompt_runs::api::wire::{ExecuteRequest, StreamDelta, EVENT_DELTA};
use prompt_runs::model::{Model, Provider};
use serde_json::json;
use std::time::Duration;

/// How an offline model answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behaviour {
    /// Streams its answer at this multiple of the configured token rate.
    Answer { speed: f64 },
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
}

/// The demo models, plus the failure-simulating ones when `with_test_models`.
pub fn models(with_test_models: bool) -> Vec<OfflineModel> {
    let model = |id, name, behaviour, for_tests| OfflineModel {
        id,
        name,
        behaviour,
        for_tests,
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
        ]);
    }
    models
}

impl OfflineModel {
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
        assert_eq!(models(true).len(), 6);
    }
}
