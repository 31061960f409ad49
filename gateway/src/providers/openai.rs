//! OpenAI's chat completions (`POST {base}/chat/completions`, `GET
//! {base}/models`, `Authorization: Bearer`), spoken by OpenAI and every
//! compatible server: vLLM, llama.cpp, LM Studio, OpenRouter, Groq,
//! Together, Mistral, DeepSeek.
//!
//! Context blocks go as system messages, the prompt as the user's. Usage
//! comes from `usage` (streamed: the last chunk, asked for with
//! `stream_options.include_usage`), with cached prompt tokens and
//! reasoning tokens from its details; a cost the provider reports
//! (OpenRouter's `usage.cost`) is kept as reported; llama.cpp's `timings`
//! are kept as the server's speed figures; `finish_reason` is the stop
//! reason. A stream ends at `data: [DONE]`, or at the end of the body once
//! a `finish_reason` came; before that, it broke off.

use super::wire::{
    count, ended_early, error_message, Completion, EventReader, Failure, Report, SseSteps, Step,
};
use prompt_runs::api::wire::{ExecuteRequest, Timings, Usage};
use prompt_runs::api::SseEvent;
use serde::Deserialize;
use serde_json::{json, Value};

/// Where its models are listed.
pub const MODELS_PATH: &str = "/models";

/// The request for `request` to `model`: its path and JSON body.
pub fn call(request: &ExecuteRequest, model: &str, stream: bool) -> (String, Value) {
    let mut messages: Vec<Value> = request
        .context_blocks
        .iter()
        .map(|block| json!({"role": "system", "content": block}))
        .collect();
    messages.push(json!({"role": "user", "content": request.prompt}));
    let mut body = json!({"model": model, "messages": messages, "stream": stream});
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    if let Some(parameters) = &request.parameters {
        for (name, value) in [
            ("temperature", parameters.temperature.map(Value::from)),
            ("max_tokens", parameters.max_tokens.map(Value::from)),
            ("top_p", parameters.top_p.map(Value::from)),
        ] {
            if let Some(value) = value {
                body[name] = value;
            }
        }
    }
    ("/chat/completions".to_owned(), body)
}

/// The model ids of a `GET /models` answer.
pub fn listed(body: &Value) -> Option<Vec<String>> {
    let data = body.get("data")?.as_array()?;
    Some(
        data.iter()
            .filter_map(|model| model.get("id")?.as_str().map(str::to_owned))
            .collect(),
    )
}

/// A whole (not streamed) answer.
pub fn answer(body: &Value) -> Result<Completion, Failure> {
    let output = body
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::final_("answered without a message"))?;
    Ok(Completion {
        output: output.to_owned(),
        report: Report {
            usage: usage(body),
            cache_write_tokens: cache_writes(body),
            timings: timings(body),
            cost: reported_cost(body),
            stop_reason: stop_reason(body),
        },
    })
}

/// The stream's decoder.
pub fn decoder() -> Box<dyn super::wire::Decoder> {
    Box::new(SseSteps::new(Chunks::default()))
}

/// The usage of an answer or chunk, with its details, when it has one.
fn usage(body: &Value) -> Option<Usage> {
    Usage::deserialize(body.get("usage")?).ok()
}

/// Prompt tokens written to a cache, when a compatible server says (LiteLLM
/// and others pass Anthropic's `cache_creation_input_tokens` through).
fn cache_writes(body: &Value) -> Option<u64> {
    count(body, "/usage/cache_creation_input_tokens")
}

fn timings(body: &Value) -> Option<Timings> {
    Timings::deserialize(body.get("timings")?).ok()
}

/// OpenRouter's `usage.cost`, in USD, when it is a number of dollars.
fn reported_cost(body: &Value) -> Option<f64> {
    body.pointer("/usage/cost")
        .and_then(Value::as_f64)
        .filter(|cost| cost.is_finite() && *cost >= 0.0)
}

fn stop_reason(body: &Value) -> Option<String> {
    body.pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The stream's chunks, as they come.
#[derive(Default)]
struct Chunks {
    report: Report,
    finished: bool,
}

impl EventReader for Chunks {
    fn event(&mut self, event: &SseEvent) -> Vec<Step> {
        if event.data.trim() == "[DONE]" {
            return vec![Step::Done(std::mem::take(&mut self.report))];
        }
        let chunk: Value = match serde_json::from_str(&event.data) {
            Ok(chunk) => chunk,
            Err(error) => {
                return vec![Step::Failed(Failure::final_(format!(
                    "sent invalid JSON: {error}"
                )))]
            }
        };
        if let Some(error) = chunk.get("error") {
            let message = error_message(&json!({"error": error}).to_string());
            let overloaded = message.to_ascii_lowercase().contains("overloaded")
                || error.get("code").and_then(Value::as_u64) == Some(429);
            return vec![Step::Failed(Failure {
                what: format!("failed: {message}"),
                retryable: overloaded,
            })];
        }
        let mut steps = Vec::new();
        let text = chunk
            .pointer("/choices/0/delta/content")
            .and_then(Value::as_str);
        if let Some(text) = text.filter(|text| !text.is_empty()) {
            steps.push(Step::Text(text.to_owned()));
        }
        if let Some(reason) = stop_reason(&chunk) {
            self.finished = true;
            self.report.stop_reason = Some(reason);
        }
        if let Some(usage) = usage(&chunk) {
            self.report.usage = Some(usage);
            self.report.cost = reported_cost(&chunk).or(self.report.cost);
            self.report.cache_write_tokens =
                cache_writes(&chunk).or(self.report.cache_write_tokens);
        }
        if let Some(timings) = timings(&chunk) {
            self.report.timings = Some(timings);
        }
        steps
    }

    fn end(&mut self) -> Step {
        if self.finished {
            Step::Done(std::mem::take(&mut self.report))
        } else {
            ended_early()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::testing::{check_any_bytes, check_endless, decode_all, split, text_of};
    use super::*;
    use proptest::prelude::*;

    fn delta(text: &str) -> String {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"delta": {"content": text}}]})
        )
    }

    fn steps(body: &str) -> Vec<Step> {
        decode_all(&mut *decoder(), &[body.as_bytes().to_vec()])
    }

    #[test]
    fn a_stream_gives_its_text_then_its_usage_cost_and_stop_reason() {
        let body = format!(
            "{}{}data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
            delta("Hel"),
            delta("lo"),
            json!({"choices": [{"delta": {}, "finish_reason": "length"}], "timings": {"predicted_per_second": 50.0}}),
            json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11,
                "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 2}, "cost": 0.00042}}),
        );
        let steps = steps(&body);
        assert_eq!(text_of(&steps), "Hello");
        let Some(Step::Done(report)) = steps.last() else {
            panic!("{steps:?}")
        };
        let usage = report.usage.unwrap();
        assert_eq!(
            (
                usage.total_tokens,
                usage.cached_tokens(),
                usage.reasoning_tokens()
            ),
            (11, Some(3), Some(2))
        );
        assert_eq!(report.cost, Some(0.00042), "OpenRouter's cost, as reported");
        assert_eq!(report.stop_reason.as_deref(), Some("length"));
        assert_eq!(report.timings.unwrap().predicted_per_second, Some(50.0));
    }

    #[test]
    fn a_stream_cut_short_an_error_event_and_malformed_json_are_failures() {
        let cut = steps(&format!(
            "{}data: {{\"choices\": [{{\"delta\"",
            delta("Hal")
        ));
        assert_eq!(text_of(&cut), "Hal");
        assert!(
            matches!(cut.last(), Some(Step::Failed(failure)) if failure.what.contains("broke off")),
            "{cut:?}"
        );

        let error = steps(&format!(
            "{}data: {}\n\n",
            delta("Hal"),
            json!({"error": {"message": "server overloaded"}})
        ));
        assert!(
            matches!(error.last(), Some(Step::Failed(Failure { what, retryable: true })) if what == "failed: server overloaded"),
            "{error:?}"
        );

        let malformed = steps("data: {oops\n\n");
        assert!(
            matches!(malformed.last(), Some(Step::Failed(failure)) if failure.what.starts_with("sent invalid JSON")),
            "{malformed:?}"
        );

        let no_done = steps(&format!(
            "{}data: {}\n\n",
            delta("Hi"),
            json!({"choices": [{"delta": {}, "finish_reason": "stop"}]})
        ));
        assert!(
            matches!(no_done.last(), Some(Step::Done(_))),
            "a finished answer without [DONE] is whole: {no_done:?}"
        );
    }

    #[test]
    fn the_request_carries_context_prompt_and_parameters() {
        let request: ExecuteRequest = serde_json::from_value(json!({
            "prompt": "Say hello", "model_id": "openai/gpt-4o", "context_blocks": ["Be terse."],
            "parameters": {"max_tokens": 64, "temperature": 0.5, "top_p": 0.9}}))
        .unwrap();
        let (path, body) = call(&request, "gpt-4o", true);
        assert_eq!(path, "/chat/completions");
        assert_eq!(
            body,
            json!({
            "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}],
            "max_tokens": 64, "temperature": 0.5, "top_p": 0.9})
        );
    }

    #[test]
    fn an_event_that_never_ends_is_a_clean_error() {
        check_endless(&decoder, b"data: ").unwrap();
    }

    fn any_stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            "[a-z ]{0,6}".prop_map(|text| delta(&text).into_bytes()),
            Just(b"data: ".to_vec()),
            Just(b"\n\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"data: [DONE]\n\n".to_vec()),
            Just(br#"data: {"error": {"message": "overloaded"}}"#.to_vec()),
            Just(br#"data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}"#.to_vec()),
            Just(br#"data: {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "cost": 1e308}}"#.to_vec()),
            Just(br#"data: {"choices": [{"delta": {"content": 7}}]}"#.to_vec()),
            Just(b"data: {\"choices\": [{".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..16),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_bytes_end_once_the_same_however_cut(bytes in any_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            prop_assert_eq!(check_any_bytes(&decoder, &bytes, &cuts), Ok(()));
        }

        #[test]
        fn well_formed_deltas_come_through_whole(texts in proptest::collection::vec("[^\u{0}]{0,12}", 0..12), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            let body: String = texts.iter().map(|text| delta(text)).collect::<String>() + "data: [DONE]\n\n";
            let steps = decode_all(&mut *decoder(), &split(body.as_bytes(), &cuts));
            prop_assert!(matches!(steps.last(), Some(Step::Done(_))), "{:?}", steps);
            prop_assert_eq!(text_of(&steps), texts.concat());
        }
    }
}
