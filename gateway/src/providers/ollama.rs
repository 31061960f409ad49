//! Ollama's own API (`POST {base}/api/chat`, `GET {base}/api/tags`; no
//! key), chosen over its OpenAI-compatible one because only this one
//! reports the server's timings: `prompt_eval_count` /
//! `prompt_eval_duration` and `eval_count` / `eval_duration`
//! (nanoseconds), kept as the run's reported speed figures in llama.cpp's
//! terms (`timings`). A `base_url` ending in `/v1` (the compatible API's)
//! is read as the server's root.
//!
//! Context blocks go as system messages, the prompt as the user's;
//! parameters in `options` (`num_predict` for `max_tokens`). The stream is
//! newline-delimited JSON: `{"message": {"content"}, "done": false}` per
//! piece, then one with `"done": true`, the counts and `done_reason`; a
//! line `{"error": "…"}` is a failure.

use super::wire::{count, ended_early, Completion, Decoder, Failure, JsonLines, Report, Step};
use prompt_runs::api::wire::{ExecuteRequest, Timings, Usage};
use serde_json::{json, Value};

/// Where its models are listed.
pub const MODELS_PATH: &str = "/api/tags";

/// The server's root, from a `base_url` that may name its compatible API.
pub fn root(base_url: &str) -> &str {
    base_url.strip_suffix("/v1").unwrap_or(base_url)
}

/// The request for `request` to `model`: its path and JSON body.
pub fn call(request: &ExecuteRequest, model: &str, stream: bool) -> (String, Value) {
    let mut messages: Vec<Value> = request
        .context_blocks
        .iter()
        .map(|block| json!({"role": "system", "content": block}))
        .collect();
    messages.push(json!({"role": "user", "content": request.prompt}));
    let mut body = json!({"model": model, "messages": messages, "stream": stream});
    if let Some(parameters) = &request.parameters {
        let mut options = serde_json::Map::new();
        for (name, value) in [
            ("temperature", parameters.temperature.map(Value::from)),
            ("num_predict", parameters.max_tokens.map(Value::from)),
            ("top_p", parameters.top_p.map(Value::from)),
        ] {
            if let Some(value) = value {
                options.insert(name.to_owned(), value);
            }
        }
        if !options.is_empty() {
            body["options"] = Value::Object(options);
        }
    }
    ("/api/chat".to_owned(), body)
}

/// The model names of a `GET /api/tags` answer.
pub fn listed(body: &Value) -> Option<Vec<String>> {
    let models = body.get("models")?.as_array()?;
    Some(
        models
            .iter()
            .filter_map(|model| {
                let name = model.get("name").or_else(|| model.get("model"))?;
                name.as_str().map(str::to_owned)
            })
            .collect(),
    )
}

/// A whole (not streamed) answer.
pub fn answer(body: &Value) -> Result<Completion, Failure> {
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        return Err(Failure::final_(format!("failed: {error}")));
    }
    let output = body
        .pointer("/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::final_("answered without a message"))?;
    Ok(Completion {
        output: output.to_owned(),
        report: report(body),
    })
}

/// The stream's decoder.
pub fn decoder() -> Box<dyn Decoder> {
    Box::new(JsonLines::new(line, ended_early))
}

/// One line of the stream.
fn line(value: &Value) -> Vec<Step> {
    if let Some(error) = value.get("error") {
        let message = error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_owned);
        return vec![Step::Failed(Failure::final_(format!("failed: {message}")))];
    }
    let mut steps = Vec::new();
    if let Some(text) = value.pointer("/message/content").and_then(Value::as_str) {
        if !text.is_empty() {
            steps.push(Step::Text(text.to_owned()));
        }
    }
    if value.get("done").and_then(Value::as_bool) == Some(true) {
        steps.push(Step::Done(report(value)));
    }
    steps
}

/// The counts, timings and stop reason of the last line (or whole answer).
fn report(value: &Value) -> Report {
    let prompt = count(value, "/prompt_eval_count");
    let answer = count(value, "/eval_count");
    let usage = (prompt.is_some() || answer.is_some())
        .then(|| Usage::new(prompt.unwrap_or(0), answer.unwrap_or(0)));
    let ms = |pointer| count(value, pointer).map(|nanos| nanos as f64 / 1_000_000.0);
    let per_second = |tokens: Option<u64>, ms: Option<f64>| {
        let (tokens, ms) = (tokens?, ms?);
        (ms > 0.0).then(|| tokens as f64 * 1_000.0 / ms)
    };
    let (prompt_ms, predicted_ms) = (ms("/prompt_eval_duration"), ms("/eval_duration"));
    let timings = Timings {
        prompt_n: prompt,
        prompt_ms,
        prompt_per_second: per_second(prompt, prompt_ms),
        predicted_n: answer,
        predicted_ms,
        predicted_per_second: per_second(answer, predicted_ms),
        cache_n: None,
    };
    Report {
        usage,
        timings: (timings != Timings::default()).then_some(timings),
        stop_reason: value
            .get("done_reason")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..Report::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::wire::testing::{check_any_bytes, check_endless, decode_all, text_of};
    use super::*;
    use proptest::prelude::*;

    fn piece(text: &str) -> String {
        format!(
            "{}\n",
            json!({"model": "llama3.2", "created_at": "2024-07-22T20:33:28.123Z", "message": {"role": "assistant", "content": text}, "done": false})
        )
    }

    fn done() -> String {
        format!(
            "{}\n",
            json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
            "total_duration": 4_883_583_458u64, "load_duration": 1_334_875, "prompt_eval_count": 26, "prompt_eval_duration": 342_546_000,
            "eval_count": 282, "eval_duration": 4_535_599_000u64})
        )
    }

    fn steps(body: &str) -> Vec<Step> {
        decode_all(&mut *decoder(), &[body.as_bytes().to_vec()])
    }

    #[test]
    fn a_stream_gives_text_then_counts_and_the_servers_timings() {
        let steps = steps(&format!("{}{}{}", piece("Hel"), piece("lo"), done()));
        assert_eq!(text_of(&steps), "Hello");
        let Some(Step::Done(report)) = steps.last() else {
            panic!("{steps:?}")
        };
        assert_eq!(report.usage, Some(Usage::new(26, 282)));
        let timings = report.timings.unwrap();
        assert_eq!(
            (timings.prompt_n, timings.predicted_n),
            (Some(26), Some(282))
        );
        assert_eq!(timings.predicted_ms, Some(4_535.599));
        assert!(
            (timings.predicted_per_second.unwrap() - 62.175).abs() < 0.01,
            "{timings:?}"
        );
        assert!(
            (timings.prompt_per_second.unwrap() - 75.902).abs() < 0.01,
            "{timings:?}"
        );
        assert_eq!(report.stop_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn an_error_line_a_cut_stream_and_malformed_json_are_failures() {
        let error = steps(&format!(
            "{}{}\n",
            piece("Hal"),
            json!({"error": "model requires more system memory"})
        ));
        assert_eq!(
            error.last(),
            Some(&Step::Failed(Failure::final_(
                "failed: model requires more system memory"
            )))
        );
        let cut = steps(&format!(
            "{}{{\"message\": {{\"content\": \"lo",
            piece("Hal")
        ));
        assert!(
            matches!(cut.last(), Some(Step::Failed(failure)) if failure.what.starts_with("sent invalid JSON")),
            "{cut:?}"
        );
        let ended = steps(&piece("Hal"));
        assert!(
            matches!(ended.last(), Some(Step::Failed(failure)) if failure.what.contains("broke off")),
            "{ended:?}"
        );
    }

    #[test]
    fn the_request_and_the_model_list_in_ollamas_shape() {
        let request: ExecuteRequest = serde_json::from_value(json!({
            "prompt": "Say hello", "model_id": "local/llama3.2", "context_blocks": ["Be terse."],
            "parameters": {"max_tokens": 64}}))
        .unwrap();
        let (path, body) = call(&request, "llama3.2", false);
        assert_eq!(path, "/api/chat");
        assert_eq!(
            body,
            json!({"model": "llama3.2", "stream": false, "options": {"num_predict": 64},
            "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello"}]})
        );
        assert_eq!(
            listed(&json!({"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest"}]}))
                .unwrap(),
            ["llama3.2:latest"]
        );
        assert_eq!(root("http://localhost:11434/v1"), "http://localhost:11434");
    }

    #[test]
    fn a_line_that_never_ends_is_a_clean_error() {
        check_endless(&decoder, b"{\"message\": ").unwrap();
    }

    fn any_stream() -> impl Strategy<Value = Vec<u8>> {
        let part = prop_oneof![
            "[a-z ]{0,6}".prop_map(|text| piece(&text).into_bytes()),
            Just(done().into_bytes()),
            Just(b"{\"error\": \"boom\"}\n".to_vec()),
            Just(b"{\"done\": true, \"eval_count\": -3}\n".to_vec()),
            Just(b"\n".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..16),
        ];
        proptest::collection::vec(part, 0..40).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn any_bytes_end_once_the_same_however_cut(bytes in any_stream(), cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            prop_assert_eq!(check_any_bytes(&decoder, &bytes, &cuts), Ok(()));
        }
    }
}
