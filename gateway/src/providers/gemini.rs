//! Google's Gemini API (`POST {base}/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, `GET {base}/models`, header
//! `x-goog-api-key`: the key never goes in a URL, where logs would keep it).
//!
//! Context blocks go as `systemInstruction`, the prompt as the user's
//! content, parameters in `generationConfig`. Each streamed event is a
//! whole `GenerateContentResponse`; the one with a `finishReason` ends the
//! answer. `usageMetadata` gives prompt tokens (cached ones included, as
//! `cachedContentTokenCount`), answer tokens and thinking tokens
//! (`thoughtsTokenCount`, billed as output: counted as completion tokens
//! and reported as reasoning tokens). A prompt blocked for safety
//! (`promptFeedback.blockReason`) or an answer stopped for it
//! (`finishReason` `SAFETY`, `PROHIBITED_CONTENT`, …) is the run's error,
//! in words, with the categories Gemini rated high.

use super::wire::{count, ended_early, Completion, EventReader, Failure, Report, SseSteps, Step};
use prompt_runs::api::wire::{CompletionTokensDetails, ExecuteRequest, PromptTokensDetails, Usage};
use prompt_runs::api::SseEvent;
use serde_json::{json, Value};

/// Where its models are listed.
pub const MODELS_PATH: &str = "/models";

/// Finish reasons that end an answer normally.
const FINISHED: [&str; 2] = ["STOP", "MAX_TOKENS"];

/// The request for `request` to `model`: its path and JSON body.
pub fn call(request: &ExecuteRequest, model: &str, stream: bool) -> (String, Value) {
    let mut body = json!({"contents": [{"role": "user", "parts": [{"text": request.prompt}]}]});
    if !request.context_blocks.is_empty() {
        let parts: Vec<Value> = request
            .context_blocks
            .iter()
            .map(|block| json!({"text": block}))
            .collect();
        body["systemInstruction"] = json!({"parts": parts});
    }
    if let Some(parameters) = &request.parameters {
        let mut config = serde_json::Map::new();
        for (name, value) in [
            ("temperature", parameters.temperature.map(Value::from)),
            ("maxOutputTokens", parameters.max_tokens.map(Value::from)),
            ("topP", parameters.top_p.map(Value::from)),
        ] {
            if let Some(value) = value {
                config.insert(name.to_owned(), value);
            }
        }
        if !config.is_empty() {
            body["generationConfig"] = Value::Object(config);
        }
    }
    let path = if stream {
        format!("/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/models/{model}:generateContent")
    };
    (path, body)
}

/// The model ids of a `GET /models` answer: those that generate content,
/// without Gemini's `models/` prefix.
pub fn listed(body: &Value) -> Option<Vec<String>> {
    let models = body.get("models")?.as_array()?;
    Some(
        models
            .iter()
            .filter(|model| {
                model
                    .get("supportedGenerationMethods")
                    .and_then(Value::as_array)
                    .is_none_or(|methods| methods.iter().any(|method| method == "generateContent"))
            })
            .filter_map(|model| {
                let name = model.get("name")?.as_str()?;
                Some(name.strip_prefix("models/").unwrap_or(name).to_owned())
            })
            .collect(),
    )
}

/// A whole (not streamed) answer.
pub fn answer(body: &Value) -> Result<Completion, Failure> {
    let mut answer = Answer::default();
    let output = answer.read(body)?;
    if answer.stop_reason.is_none() {
        return Err(Failure::final_("answered without a finish reason"));
    }
    Ok(Completion {
        output,
        report: answer.report(),
    })
}

/// The stream's decoder.
pub fn decoder() -> Box<dyn super::wire::Decoder> {
    Box::new(SseSteps::new(Answer::default()))
}

/// An answer, read response by response.
#[derive(Default)]
struct Answer {
    usage: Option<Usage>,
    stop_reason: Option<String>,
}

impl Answer {
    /// The answer text in `response`, noting its usage and finish reason;
    /// a safety block is the failure.
    fn read(&mut self, response: &Value) -> Result<String, Failure> {
        if let Some(reason) = response
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str)
        {
            let rated = high_ratings(response.pointer("/promptFeedback/safetyRatings"));
            return Err(Failure::final_(format!(
                "blocked the prompt ({reason}{rated}): change the prompt, or the model's safety settings"
            )));
        }
        if let Some(metadata) = response.get("usageMetadata") {
            self.usage = Some(usage(metadata));
        }
        let candidate = response.pointer("/candidates/0").unwrap_or(&Value::Null);
        let text: String = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            // Thought summaries are not the answer.
            .filter(|part| part.get("thought").and_then(Value::as_bool) != Some(true))
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect();
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            if !FINISHED.contains(&reason) {
                let rated = high_ratings(candidate.get("safetyRatings"));
                return Err(Failure::final_(format!(
                    "stopped the answer ({reason}{rated}){}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(" after: {text}")
                    }
                )));
            }
            self.stop_reason = Some(reason.to_owned());
        }
        Ok(text)
    }

    fn report(&mut self) -> Report {
        Report {
            usage: self.usage.take(),
            stop_reason: self.stop_reason.take(),
            ..Report::default()
        }
    }
}

/// Gemini's usage in OpenAI's shape: thinking tokens are billed as output,
/// so they are completion tokens, and reported as reasoning tokens.
fn usage(metadata: &Value) -> Usage {
    let prompt = count(metadata, "/promptTokenCount").unwrap_or(0);
    let answer = count(metadata, "/candidatesTokenCount").unwrap_or(0);
    let thoughts = count(metadata, "/thoughtsTokenCount");
    let mut usage = Usage::new(prompt, answer + thoughts.unwrap_or(0));
    if let Some(cached) = count(metadata, "/cachedContentTokenCount") {
        usage.prompt_tokens_details = Some(PromptTokensDetails {
            cached_tokens: Some(cached),
        });
    }
    if thoughts.is_some() {
        usage.completion_tokens_details = Some(CompletionTokensDetails {
            reasoning_tokens: thoughts,
        });
    }
    usage
}

/// `: HARM_CATEGORY_X rated HIGH, …` for the categories rated above low.
fn high_ratings(ratings: Option<&Value>) -> String {
    let high: Vec<String> = ratings
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rating| {
            rating.get("blocked").and_then(Value::as_bool) == Some(true)
                || matches!(
                    rating.get("probability").and_then(Value::as_str),
                    Some("MEDIUM" | "HIGH")
                )
        })
        .filter_map(|rating| {
            let category = rating.get("category")?.as_str()?;
            let probability = rating
                .get("probability")
                .and_then(Value::as_str)
                .unwrap_or("?");
            Some(format!("{category} rated {probability}"))
        })
        .collect();
    if high.is_empty() {
        String::new()
    } else {
        format!(": {}", high.join(", "))
    }
}

impl EventReader for Answer {
    fn event(&mut self, event: &SseEvent) -> Vec<Step> {
        let response: Value = match serde_json::from_str(&event.data) {
            Ok(response) => response,
            Err(error) => {
                return vec![Step::Failed(Failure::final_(format!(
                    "sent invalid JSON: {error}"
                )))]
            }
        };
        if let Some(error) = response.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)");
            let status = error
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("error");
            return vec![Step::Failed(Failure {
                what: format!("failed ({status}): {message}"),
                retryable: matches!(status, "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "INTERNAL"),
            })];
        }
        let mut steps = Vec::new();
        match self.read(&response) {
            Err(failure) => steps.push(Step::Failed(failure)),
            Ok(text) => {
                if !text.is_empty() {
                    steps.push(Step::Text(text));
                }
                if self.stop_reason.is_some() {
                    steps.push(Step::Done(self.report()));
                }
            }
        }
        steps
    }

    fn end(&mut self) -> Step {
        ended_early()
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::testing::{check_any_bytes, check_endless, decode_all, text_of};
    use super::*;
    use proptest::prelude::*;

    fn chunk(text: &str) -> String {
        format!(
            "data: {}\r\n\r\n",
            json!({"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]})
        )
    }

    fn last(finish: &str) -> String {
        format!(
            "data: {}\r\n\r\n",
            json!({"candidates": [{"content": {"parts": [{"text": "!"}], "role": "model"}, "finishReason": finish, "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}, {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}],
            "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 5, "totalTokenCount": 57, "cachedContentTokenCount": 8, "thoughtsTokenCount": 40}})
        )
    }

    fn steps(body: &str) -> Vec<Step> {
        decode_all(&mut *decoder(), &[body.as_bytes().to_vec()])
    }

    #[test]
    fn a_stream_gives_text_then_usage_with_cached_and_thinking_tokens() {
        let steps = steps(&format!("{}{}{}", chunk("Hel"), chunk("lo"), last("STOP")));
        assert_eq!(text_of(&steps), "Hello!");
        let Some(Step::Done(report)) = steps.last() else {
            panic!("{steps:?}")
        };
        let usage = report.usage.unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (12, 45, 57)
        );
        assert_eq!(
            (usage.cached_tokens(), usage.reasoning_tokens()),
            (Some(8), Some(40))
        );
        assert_eq!(report.stop_reason.as_deref(), Some("STOP"));
    }

    #[test]
    fn safety_blocks_are_the_runs_error_in_words() {
        let stopped = steps(&format!("{}{}", chunk("How to"), last("SAFETY")));
        assert_eq!(
            stopped.last(),
            Some(&Step::Failed(Failure::final_(
                "stopped the answer (SAFETY: HARM_CATEGORY_DANGEROUS_CONTENT rated HIGH) after: !"
            )))
        );
        let blocked = answer(
            &json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
            {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "MEDIUM"}]}}),
        )
        .unwrap_err();
        assert_eq!(blocked.what, "blocked the prompt (SAFETY: HARM_CATEGORY_HATE_SPEECH rated MEDIUM): change the prompt, or the model's safety settings");
    }

    #[test]
    fn a_cut_stream_and_an_error_are_failures() {
        let cut = steps(&format!("{}data: {{\"candidates\": [", chunk("Hal")));
        assert!(
            matches!(cut.last(), Some(Step::Failed(failure)) if failure.what.contains("broke off")),
            "{cut:?}"
        );
        let error = steps("data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n\n");
        assert_eq!(
            error.last(),
            Some(&Step::Failed(Failure {
                what: "failed (UNAVAILABLE): The model is overloaded.".into(),
                retryable: true
            }))
        );
    }

    #[test]
    fn the_request_and_the_model_list_in_geminis_shape() {
        let request: ExecuteRequest = serde_json::from_value(json!({
            "prompt": "Say hello", "model_id": "google/gemini-2.0-flash", "context_blocks": ["Be terse."],
            "parameters": {"max_tokens": 64, "temperature": 0.5}})).unwrap();
        let (path, body) = call(&request, "gemini-2.0-flash", true);
        assert_eq!(
            path,
            "/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            body,
            json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
            "systemInstruction": {"parts": [{"text": "Be terse."}]},
            "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64}})
        );
        assert_eq!(
            call(&request, "gemini-2.0-flash", false).0,
            "/models/gemini-2.0-flash:generateContent"
        );
        let models = listed(&json!({"models": [
            {"name": "models/gemini-2.0-flash", "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}]})).unwrap();
        assert_eq!(models, ["gemini-2.0-flash"]);
    }

    #[test]
    fn an_event_that_never_ends_is_a_clean_error() {
        check_endless(&decoder, b"data: ").unwrap();
    }

    fn any_stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            "[a-z ]{0,6}".prop_map(|text| chunk(&text).into_bytes()),
            Just(last("STOP").into_bytes()),
            Just(last("SAFETY").into_bytes()),
            Just(b"data: {\"candidates\": [{\"finishReason\": 7}]}\n\n".to_vec()),
            Just(b"data: {\"usageMetadata\": {\"promptTokenCount\": \"many\"}}\n\n".to_vec()),
            Just(b"data: {\"error\": {}}\n\n".to_vec()),
            Just(b"\r\n\r\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..16),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_bytes_end_once_the_same_however_cut(bytes in any_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            prop_assert_eq!(check_any_bytes(&decoder, &bytes, &cuts), Ok(()));
        }
    }
}
