//! Anthropic's Messages API (`POST {base}/v1/messages`, `GET
//! {base}/v1/models`, headers `x-api-key` and `anthropic-version`).
//!
//! Context blocks go as `system`, the prompt as the user's message;
//! `max_tokens` is always sent (the API requires it: the request's, else
//! the provider's `max_tokens`). The stream is typed events:
//! `message_start` (input usage, with `cache_read_input_tokens` and
//! `cache_creation_input_tokens`), `content_block_delta` (`text_delta`;
//! thinking is not answer text), `message_delta` (`stop_reason`, output
//! tokens), `message_stop`, `ping`, and `error` (`overloaded_error`, which
//! may be tried again before the first token). Usage is put in OpenAI's
//! shape: prompt tokens are input + cache reads + cache writes, cached
//! tokens the reads; the writes are reported beside.

use super::wire::{count, ended_early, Completion, EventReader, Failure, Report, SseSteps, Step};
use prompt_runs::api::wire::{ExecuteRequest, PromptTokensDetails, Usage};
use prompt_runs::api::SseEvent;
use serde_json::{json, Value};

/// The API version sent with every request.
pub const VERSION: &str = "2023-06-01";
/// Where its models are listed.
pub const MODELS_PATH: &str = "/v1/models";

/// The request for `request` to `model`: its path and JSON body.
pub fn call(
    request: &ExecuteRequest,
    model: &str,
    stream: bool,
    max_tokens: u32,
) -> (String, Value) {
    let parameters = request.parameters.clone().unwrap_or_default();
    let mut body = json!({
        "model": model,
        "max_tokens": parameters.max_tokens.unwrap_or(max_tokens),
        "messages": [{"role": "user", "content": request.prompt}],
        "stream": stream,
    });
    if !request.context_blocks.is_empty() {
        body["system"] = Value::from(request.context_blocks.join("\n\n"));
    }
    if let Some(temperature) = parameters.temperature {
        body["temperature"] = Value::from(temperature);
    }
    if let Some(top_p) = parameters.top_p {
        body["top_p"] = Value::from(top_p);
    }
    ("/v1/messages".to_owned(), body)
}

/// The model ids of a `GET /v1/models` answer.
pub fn listed(body: &Value) -> Option<Vec<String>> {
    super::openai::listed(body)
}

/// A whole (not streamed) answer.
pub fn answer(body: &Value) -> Result<Completion, Failure> {
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::final_("answered without content"))?;
    let output: String = blocks
        .iter()
        .filter(|block| block.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    let mut tokens = Tokens::default();
    tokens.read(body.get("usage").unwrap_or(&Value::Null));
    Ok(Completion {
        output,
        report: Report {
            stop_reason: body
                .get("stop_reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ..tokens.report()
        },
    })
}

/// The stream's decoder.
pub fn decoder() -> Box<dyn super::wire::Decoder> {
    Box::new(SseSteps::new(Events::default()))
}

/// The token counts of a message, as they arrive (`message_start` has the
/// input's, `message_delta` the output's so far).
#[derive(Default)]
struct Tokens {
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
}

impl Tokens {
    /// Takes what `usage` says, keeping what it does not.
    fn read(&mut self, usage: &Value) {
        self.input = count(usage, "/input_tokens").or(self.input);
        self.output = count(usage, "/output_tokens").or(self.output);
        self.cache_read = count(usage, "/cache_read_input_tokens").or(self.cache_read);
        self.cache_write = count(usage, "/cache_creation_input_tokens").or(self.cache_write);
    }

    /// The usage in OpenAI's shape, and the cache writes beside it.
    fn report(&self) -> Report {
        let usage = self.input.map(|input| {
            let read = self.cache_read.unwrap_or(0);
            let written = self.cache_write.unwrap_or(0);
            let mut usage = Usage::new(input + read + written, self.output.unwrap_or(0));
            if self.cache_read.is_some() {
                usage.prompt_tokens_details = Some(PromptTokensDetails {
                    cached_tokens: self.cache_read,
                });
            }
            usage
        });
        Report {
            usage,
            cache_write_tokens: self.cache_write,
            ..Report::default()
        }
    }
}

/// The stream's events, as they come.
#[derive(Default)]
struct Events {
    tokens: Tokens,
    stop_reason: Option<String>,
}

impl EventReader for Events {
    fn event(&mut self, event: &SseEvent) -> Vec<Step> {
        let data: Value = match serde_json::from_str(&event.data) {
            Ok(data) => data,
            Err(error) => {
                return vec![Step::Failed(Failure::final_(format!(
                    "sent invalid JSON: {error}"
                )))]
            }
        };
        // The type is in the data too; the event's name is the same.
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&event.event);
        match kind {
            "message_start" => {
                self.tokens
                    .read(data.pointer("/message/usage").unwrap_or(&Value::Null));
                Vec::new()
            }
            "content_block_delta" => {
                let text = data
                    .pointer("/delta/text")
                    .and_then(Value::as_str)
                    .filter(|_| {
                        data.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta")
                    });
                match text {
                    Some(text) if !text.is_empty() => vec![Step::Text(text.to_owned())],
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                self.tokens.read(data.get("usage").unwrap_or(&Value::Null));
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_owned());
                }
                Vec::new()
            }
            "message_stop" => vec![Step::Done(Report {
                stop_reason: self.stop_reason.take(),
                ..self.tokens.report()
            })],
            "error" => {
                let kind = data
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                let message = data
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)");
                let overloaded = kind == "overloaded_error";
                let what = if overloaded {
                    format!("is overloaded ({kind}): {message}")
                } else {
                    format!("failed ({kind}): {message}")
                };
                vec![Step::Failed(Failure {
                    what,
                    retryable: overloaded || kind == "rate_limit_error" || kind == "api_error",
                })]
            }
            // ping, content_block_start, content_block_stop, and event
            // types added later.
            _ => Vec::new(),
        }
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

    fn event(data: Value) -> String {
        format!(
            "event: {}\ndata: {data}\n\n",
            data["type"].as_str().unwrap()
        )
    }

    fn delta(text: &str) -> String {
        event(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        )
    }

    fn start() -> String {
        event(
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
            "model": "claude-haiku-4-5", "stop_reason": null,
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 30, "output_tokens": 1}}}),
        )
    }

    fn steps(body: &str) -> Vec<Step> {
        decode_all(&mut *decoder(), &[body.as_bytes().to_vec()])
    }

    #[test]
    fn a_stream_gives_text_then_usage_with_cache_reads_and_writes() {
        let body = [
            start(),
            event(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            event(json!({"type": "ping"})),
            event(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}})),
            delta("Hel"),
            delta("lo"),
            event(json!({"type": "content_block_stop", "index": 0})),
            event(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 15}})),
            event(json!({"type": "message_stop"})),
        ]
        .concat();
        let steps = steps(&body);
        assert_eq!(text_of(&steps), "Hello", "thinking is not answer text");
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
            (60, 15, 75)
        );
        assert_eq!(usage.cached_tokens(), Some(30));
        assert_eq!(report.cache_write_tokens, Some(20));
        assert_eq!(report.stop_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn an_error_event_mid_stream_and_a_cut_stream_are_failures() {
        let overloaded = steps(&format!(
            "{}{}{}",
            start(),
            delta("Hal"),
            event(
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
            )
        ));
        assert_eq!(text_of(&overloaded), "Hal");
        assert_eq!(
            overloaded.last(),
            Some(&Step::Failed(Failure {
                what: "is overloaded (overloaded_error): Overloaded".into(),
                retryable: true
            }))
        );

        let invalid = steps(&event(
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}),
        ));
        assert!(
            matches!(
                invalid.last(),
                Some(Step::Failed(Failure {
                    retryable: false,
                    ..
                }))
            ),
            "{invalid:?}"
        );

        let cut = steps(&format!(
            "{}{}event: content_block_delta\ndata: {{\"type\": \"content_blo",
            start(),
            delta("Hal")
        ));
        assert!(
            matches!(cut.last(), Some(Step::Failed(failure)) if failure.what.contains("broke off")),
            "{cut:?}"
        );
    }

    #[test]
    fn a_whole_answer_and_the_request_in_the_messages_shape() {
        let completion = answer(
            &json!({"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "thinking", "thinking": "…"}, {"type": "text", "text": "Hello"}],
            "stop_reason": "max_tokens", "usage": {"input_tokens": 5, "output_tokens": 2}}),
        )
        .unwrap();
        assert_eq!(completion.output, "Hello");
        assert_eq!(completion.report.stop_reason.as_deref(), Some("max_tokens"));
        assert_eq!(completion.report.usage, Some(Usage::new(5, 2)));
        assert_eq!(completion.report.cache_write_tokens, None);

        let request: ExecuteRequest = serde_json::from_value(json!({
            "prompt": "Say hello", "model_id": "anthropic/claude-haiku-4-5",
            "context_blocks": ["Be terse.", "Be kind."], "parameters": {"temperature": 0.2}}))
        .unwrap();
        let (path, body) = call(&request, "claude-haiku-4-5", true, 1_024);
        assert_eq!(path, "/v1/messages");
        assert_eq!(
            body,
            json!({"model": "claude-haiku-4-5", "max_tokens": 1024, "stream": true,
            "system": "Be terse.\n\nBe kind.", "temperature": 0.2,
            "messages": [{"role": "user", "content": "Say hello"}]})
        );
    }

    #[test]
    fn an_event_that_never_ends_is_a_clean_error() {
        check_endless(&decoder, b"event: content_block_delta\ndata: ").unwrap();
    }

    fn any_stream() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            "[a-z ]{0,6}".prop_map(|text| delta(&text).into_bytes()),
            Just(start().into_bytes()),
            Just(b"event: ping\ndata: {\"type\": \"ping\"}\n\n".to_vec()),
            Just(b"event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n".to_vec()),
            Just(b"event: message_delta\ndata: {\"type\": \"message_delta\", \"usage\": {\"output_tokens\": -1}}\n\n".to_vec()),
            Just(b"event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\"}}\n\n".to_vec()),
            Just(b"data: {\"type\": \"content_block_delta\", \"delta\": {\"text\": 7}}\n\n".to_vec()),
            Just(b"event: x\n".to_vec()),
            Just(b"\n\n".to_vec()),
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
