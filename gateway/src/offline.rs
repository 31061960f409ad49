//! The built-in offline models: deterministic answers derived from the
//! prompt, streamed token by token, with honest token counts, so the app can
//! be tried with no account and no network. Test models simulate failures.

use prompt_runs::model::{Model, Provider};
use serde_json::json;

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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(models(true).len(), 5);
    }
}
