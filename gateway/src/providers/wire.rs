//! What every adapter turns its provider's answers into, and the stream
//! decoding they share: bytes in, [`Step`]s out, whatever the bytes
//! (cut anywhere, malformed, endless), with memory bounded by the
//! largest event allowed ([`MAX_EVENT_BYTES`]).

use prompt_runs::api::wire::{Timings, Usage};
use prompt_runs::api::{SseDecoder, SseEvent, MAX_EVENT_BYTES};
use serde_json::Value;

/// What a provider reported about an answer besides its text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Its token counts, in OpenAI's shape (prompt tokens include those
    /// read from and written to a cache; completion tokens include
    /// reasoning and thinking tokens).
    pub usage: Option<Usage>,
    /// Prompt tokens written to the provider's cache (Anthropic's
    /// `cache_creation_input_tokens`).
    pub cache_write_tokens: Option<u64>,
    /// The server's own speed figures (llama.cpp's `timings`, Ollama's
    /// `eval_count` / `eval_duration`…).
    pub timings: Option<Timings>,
    /// What the provider says the run cost, in USD (OpenRouter's
    /// `usage.cost`): recorded as reported, not estimated.
    pub cost: Option<f64>,
    /// Why the answer ended, in the provider's words (`stop`, `end_turn`,
    /// `max_tokens`, `STOP`…).
    pub stop_reason: Option<String>,
}

/// A whole answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Completion {
    /// Its text.
    pub output: String,
    /// What came with it.
    pub report: Report,
}

/// What went wrong, as the provider's adapter saw it: `what` completes a
/// sentence naming the provider ("sent invalid JSON: …", "is overloaded:
/// …"); `retryable` when trying again may help (overload, rate limits).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The rest of the sentence.
    pub what: String,
    /// Whether another try may succeed.
    pub retryable: bool,
}

impl Failure {
    /// A failure that another try would not mend.
    pub fn final_(what: impl Into<String>) -> Failure {
        Failure {
            what: what.into(),
            retryable: false,
        }
    }
}

/// One thing learnt from a provider's stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// More text of the answer.
    Text(String),
    /// The answer is complete.
    Done(Report),
    /// The answer broke off.
    Failed(Failure),
}

/// Turns a provider's streamed body into steps.
pub trait Decoder: Send {
    /// The steps completed by `bytes`, the next piece of the body.
    fn push(&mut self, bytes: &[u8]) -> Vec<Step>;
    /// The body ended: the steps its last bytes held, ending with `Done`
    /// if the answer was complete, else `Failed`.
    fn end(&mut self) -> Vec<Step>;
}

/// What an adapter does with each server-sent event of its stream.
pub trait EventReader: Send {
    /// The steps `event` holds.
    fn event(&mut self, event: &SseEvent) -> Vec<Step>;
    /// The stream ended with no more events.
    fn end(&mut self) -> Step;
}

/// A [`Decoder`] for a stream of server-sent events.
pub struct SseSteps<R> {
    sse: SseDecoder,
    reader: R,
}

impl<R: EventReader> SseSteps<R> {
    /// Events read by `reader`.
    pub fn new(reader: R) -> SseSteps<R> {
        SseSteps {
            sse: SseDecoder::new(),
            reader,
        }
    }
}

impl<R: EventReader> Decoder for SseSteps<R> {
    fn push(&mut self, bytes: &[u8]) -> Vec<Step> {
        match self.sse.push(bytes) {
            Err(error) => vec![Step::Failed(Failure::final_(format!(
                "sent a stream we cannot read: {error}"
            )))],
            Ok(events) => events
                .iter()
                .flat_map(|event| self.reader.event(event))
                .collect(),
        }
    }

    fn end(&mut self) -> Vec<Step> {
        vec![self.reader.end()]
    }
}

/// A [`Decoder`] for newline-delimited JSON (Ollama's stream): each
/// complete line is handed to `line`.
pub struct JsonLines<F> {
    pending: Vec<u8>,
    line: F,
    ended: Box<dyn FnMut() -> Step + Send>,
}

impl<F: FnMut(&Value) -> Vec<Step> + Send> JsonLines<F> {
    /// Lines read by `line`; at the end of the body, `ended` says how it ended.
    pub fn new(line: F, ended: impl FnMut() -> Step + Send + 'static) -> JsonLines<F> {
        JsonLines {
            pending: Vec::new(),
            line,
            ended: Box::new(ended),
        }
    }

    fn read(&mut self, line: &[u8]) -> Vec<Step> {
        let line = String::from_utf8_lossy(line);
        if line.trim().is_empty() {
            return Vec::new();
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(value) => (self.line)(&value),
            Err(error) => vec![Step::Failed(Failure::final_(format!(
                "sent invalid JSON: {error}"
            )))],
        }
    }
}

impl<F: FnMut(&Value) -> Vec<Step> + Send> Decoder for JsonLines<F> {
    fn push(&mut self, bytes: &[u8]) -> Vec<Step> {
        self.pending.extend_from_slice(bytes);
        let mut steps = Vec::new();
        while let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            steps.extend(self.read(&line));
        }
        if self.pending.len() > MAX_EVENT_BYTES {
            self.pending = Vec::new();
            steps.push(Step::Failed(Failure::final_(format!(
                "sent a stream we cannot read: a line was larger than {MAX_EVENT_BYTES} bytes"
            ))));
        }
        steps
    }

    fn end(&mut self) -> Vec<Step> {
        let rest = std::mem::take(&mut self.pending);
        let mut steps = self.read(&rest);
        match steps.iter().position(|step| !matches!(step, Step::Text(_))) {
            Some(end) => steps.truncate(end + 1),
            None => steps.push((self.ended)()),
        }
        steps
    }
}

/// The message in an error body as providers write them
/// (`{"error": {"message"}}` for OpenAI, Anthropic and Gemini,
/// `{"error": "…"}` for Ollama, `{"message"}`, `{"detail"}`), else the
/// body itself, shortened.
pub fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|value| {
        ["/error/message", "/error", "/message", "/detail"]
            .iter()
            .find_map(|pointer| value.pointer(pointer).and_then(Value::as_str))
            .map(str::to_owned)
    });
    found.unwrap_or_else(|| {
        let body = body.trim();
        if body.is_empty() {
            "(no message)".to_owned()
        } else {
            body.chars().take(500).collect()
        }
    })
}

/// `value`'s field at `pointer` as a count, if it is one.
pub fn count(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

/// The failure a stream that ended too soon is.
pub fn ended_early() -> Step {
    Step::Failed(Failure::final_(
        "broke off: its stream ended before the answer was complete",
    ))
}

#[cfg(test)]
pub mod testing {
    //! What the decoders' tests share: any bytes, cut anywhere, decode to
    //! the same steps, end at most once, and never panic.

    use super::*;

    /// Every step of `chunks` through `decoder`, stopping after the first
    /// `Done` or `Failed` as the provider's stream does.
    pub fn decode_all(decoder: &mut dyn Decoder, chunks: &[Vec<u8>]) -> Vec<Step> {
        let mut steps = Vec::new();
        for chunk in chunks {
            for step in decoder.push(chunk) {
                let last = !matches!(step, Step::Text(_));
                steps.push(step);
                if last {
                    return steps;
                }
            }
        }
        for step in decoder.end() {
            let last = !matches!(step, Step::Text(_));
            steps.push(step);
            if last {
                break;
            }
        }
        steps
    }

    /// `bytes` cut at `cuts` (positions modulo its length).
    pub fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut start = 0;
        let mut chunks = Vec::new();
        for cut in cuts.into_iter().chain([bytes.len()]) {
            chunks.push(bytes[start..cut].to_vec());
            start = cut;
        }
        chunks
    }

    /// The text of `steps`.
    pub fn text_of(steps: &[Step]) -> String {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Checks what holds for any bytes: exactly one end (`Done` or
    /// `Failed`), last; the same steps however the bytes are cut.
    pub fn check_any_bytes(
        new: &dyn Fn() -> Box<dyn Decoder>,
        bytes: &[u8],
        cuts: &[usize],
    ) -> Result<(), String> {
        let cut = decode_all(&mut *new(), &split(bytes, cuts));
        let whole = decode_all(&mut *new(), &[bytes.to_vec()]);
        let ends = cut
            .iter()
            .filter(|step| !matches!(step, Step::Text(_)))
            .count();
        if ends != 1 || matches!(cut.last(), Some(Step::Text(_)) | None) {
            return Err(format!("not one end, last: {cut:?}"));
        }
        if format!("{cut:?}") != format!("{whole:?}") {
            return Err(format!("cut {cut:?} differs from whole {whole:?}"));
        }
        Ok(())
    }

    /// An endless event: a clean failure, not unbounded memory.
    pub fn check_endless(new: &dyn Fn() -> Box<dyn Decoder>, prefix: &[u8]) -> Result<(), String> {
        let mut decoder = new();
        let mut steps = decoder.push(prefix);
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..(MAX_EVENT_BYTES / chunk.len() + 2) {
            steps.extend(decoder.push(&chunk));
            if !steps.is_empty() {
                break;
            }
        }
        match steps.as_slice() {
            [Step::Failed(failure)] if failure.what.contains("larger than") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}
