//! A Server-Sent Events decoder for streamed answers, following the WHATWG
//! `text/event-stream` rules: lines end in CRLF, LF or CR (also split across
//! chunks), `:` starts a comment, one space after the colon is dropped, `data`
//! lines join with line feeds, a blank line dispatches the event, and a
//! byte-order mark at the start is ignored.
//!
//! Written here rather than taken from a crate: the client needs only event
//! names and data, and the crates that parse this pull a parser-combinator
//! library into the app bundle.

use super::error::parse;
use super::wire::{ErrorBody, ExecuteResponse, StreamDelta, EVENT_DELTA, EVENT_DONE, EVENT_ERROR};
use super::{ApiError, TextSink};

/// The most bytes one event may hold while it arrives (its unfinished line
/// and its data so far): far more than any answer (a `done` event carries a
/// whole answer, rarely over a megabyte), and a bound on the memory a
/// stream that never ends its line or its event can take.
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, or `message` when the event did not name itself.
    pub event: String,
    /// The `data` lines, joined with line feeds.
    pub data: String,
}

/// A stream the decoder gave up on: an event grew past its limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an event was larger than {limit} bytes")]
pub struct SseTooLarge {
    /// The limit, in bytes.
    pub limit: usize,
}

/// Turns a byte stream, chunk by chunk, into [`SseEvent`]s.
#[derive(Debug)]
pub struct SseDecoder {
    /// The bytes of a line not yet ended.
    line: Vec<u8>,
    /// The previous chunk ended in CR: a LF starting this one ends nothing.
    after_carriage_return: bool,
    /// A line has ended (a byte-order mark can only start the first).
    first_line_ended: bool,
    event: Option<String>,
    data: Option<String>,
    /// The most bytes an event may hold.
    limit: usize,
    /// Set once an event outgrew `limit`; the stream is not read further.
    too_large: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream, with events of up to
    /// [`MAX_EVENT_BYTES`].
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// A decoder whose events may hold at most `limit` bytes.
    pub fn with_limit(limit: usize) -> SseDecoder {
        SseDecoder {
            line: Vec::new(),
            after_carriage_return: false,
            first_line_ended: false,
            event: None,
            data: None,
            limit,
            too_large: false,
        }
    }

    /// Reads the next chunk and returns the events it completes, in order.
    /// An event still open when the stream ends is never dispatched. Once an
    /// event outgrows the limit, this and every later call fail, and what
    /// was buffered is freed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseTooLarge> {
        let mut events = Vec::new();
        let mut bytes = chunk;
        // An empty chunk changes nothing: a CR before it may still pair with
        // a LF after it.
        if self.after_carriage_return && !bytes.is_empty() {
            self.after_carriage_return = false;
            bytes = bytes.strip_prefix(b"\n").unwrap_or(bytes);
        }
        while let Some(end) = bytes
            .iter()
            .position(|&byte| byte == b'\n' || byte == b'\r')
        {
            self.buffer(&bytes[..end])?;
            let mut line: &[u8] = &std::mem::take(&mut self.line);
            if !self.first_line_ended {
                self.first_line_ended = true;
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            events.extend(self.end_line(&String::from_utf8_lossy(line)));
            let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
            if bytes[end] == b'\r' && end + 1 == bytes.len() {
                self.after_carriage_return = true;
            }
            bytes = &bytes[end + if crlf { 2 } else { 1 }..];
        }
        self.buffer(bytes)?;
        Ok(events)
    }

    /// Adds `bytes` to the unfinished line, unless the event would then
    /// hold more than the limit: then frees everything and fails.
    fn buffer(&mut self, bytes: &[u8]) -> Result<(), SseTooLarge> {
        let held = self.line.len() + self.data.as_ref().map_or(0, String::len);
        if self.too_large || held + bytes.len() > self.limit {
            self.too_large = true;
            self.line = Vec::new();
            self.data = None;
            return Err(SseTooLarge { limit: self.limit });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn end_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            _ => {} // `id`, `retry` and unknown fields do not matter here
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let mut data = self.data.take()?;
        data.pop(); // the line feed after the last data line
        Some(SseEvent {
            event: event
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| "message".to_owned()),
            data,
        })
    }
}

/// Reads `event` of a streamed answer (`/execute/stream`): a `delta`'s
/// text goes to `on_text`; the `done` event is the answer, whole (`Some`:
/// the stream is over); the `error` event is [`ApiError::Stream`] with the
/// server's words; anything else (a keep-alive, an event kind added later)
/// is `None`. The browser's client and the command line's read streams by
/// this one rule.
pub fn stream_step(
    event: &SseEvent,
    on_text: &mut TextSink,
) -> Result<Option<ExecuteResponse>, ApiError> {
    match event.event.as_str() {
        EVENT_DELTA => on_text(&parse::<StreamDelta>(&event.data)?.text),
        EVENT_DONE => return parse(&event.data).map(Some),
        EVENT_ERROR => {
            return Err(ApiError::Stream {
                detail: parse::<ErrorBody>(&event.data)?.detail,
            })
        }
        _ => {}
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_answers_events_read_as_text_the_answer_or_the_servers_error() {
        let event = |name: &str, data: &str| SseEvent {
            event: name.into(),
            data: data.into(),
        };
        let text = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
        let mut on_text: TextSink = Box::new({
            let text = text.clone();
            move |piece| text.borrow_mut().push_str(piece)
        });
        let delta = event("delta", r#"{"text": "Par"}"#);
        assert_eq!(stream_step(&delta, &mut on_text), Ok(None));
        assert_eq!(*text.borrow(), "Par", "the text went to the sink");
        let done = r#"{"run_id": "r", "model_id": "m", "output": "Paris", "latency_ms": 3,
            "created_at": "2024-01-01T00:00:00.000Z",
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}"#;
        let answer = stream_step(&event("done", done), &mut on_text);
        assert_eq!(answer.unwrap().unwrap().output, "Paris");
        assert_eq!(
            stream_step(
                &event("error", r#"{"detail": "upstream timed out"}"#),
                &mut on_text
            ),
            Err(ApiError::Stream {
                detail: "upstream timed out".into()
            })
        );
        assert!(matches!(
            stream_step(&event("delta", "{oops"), &mut on_text),
            Err(ApiError::InvalidJson { .. })
        ));
        assert_eq!(stream_step(&event("ping", ""), &mut on_text), Ok(None));
        assert_eq!(*text.borrow(), "Par", "nothing more came");
    }

    fn decode(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        chunks
            .iter()
            .flat_map(|chunk| decoder.push(chunk).unwrap())
            .collect()
    }

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent {
            event: name.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn named_events_and_multi_line_data() {
        let events =
            decode(&[b"event: delta\ndata: {\"text\":\"Hi\"}\n\nevent: done\ndata: a\ndata:b\n\n"]);
        assert_eq!(
            events,
            [event("delta", "{\"text\":\"Hi\"}"), event("done", "a\nb")]
        );
    }

    #[test]
    fn every_line_ending_and_a_crlf_split_across_chunks() {
        let events = decode(&[
            b"data: one\r\n\r\ndata: two\r\rdata: three\r",
            b"\n\r",
            b"\n",
        ]);
        assert_eq!(
            events,
            [
                event("message", "one"),
                event("message", "two"),
                event("message", "three")
            ]
        );
    }

    #[test]
    fn lines_split_anywhere_across_chunks_including_inside_a_character() {
        let text = "event: delta\ndata: caf\u{e9} \u{2603}\n\n".as_bytes();
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(decode(&chunks), [event("delta", "caf\u{e9} \u{2603}")]);
    }

    #[test]
    fn comments_other_fields_and_events_without_data_dispatch_nothing() {
        let events =
            decode(&[b": keep-alive\n\nid: 7\nretry: 10\n\nevent: ping\n\ndata:  two spaces\n\n"]);
        assert_eq!(events, [event("message", " two spaces")]);
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_ignored() {
        let events = decode(&[b"\xEF\xBB\xBFevent: done\ndata: {}\n\n"]);
        assert_eq!(events, [event("done", "{}")]);
    }

    #[test]
    fn an_event_cut_off_by_the_end_of_the_stream_is_not_dispatched() {
        assert_eq!(decode(&[b"event: done\ndata: {}\n"]), []);
    }

    #[test]
    fn a_byte_order_mark_split_across_chunks_is_ignored_too() {
        let events = decode(&[b"\xEF", b"\xBB", b"\xBFdata: {}\n\n"]);
        assert_eq!(events, [event("message", "{}")]);
    }

    #[test]
    fn an_endless_line_is_refused_at_the_limit_and_its_memory_freed() {
        let mut decoder = SseDecoder::with_limit(1000);
        let chunk = [b'a'; 100];
        for _ in 0..10 {
            assert_eq!(decoder.push(&chunk), Ok(vec![]));
        }
        assert_eq!(decoder.line.len(), 1000);
        assert_eq!(decoder.push(b"a"), Err(SseTooLarge { limit: 1000 }));
        assert_eq!(decoder.line.capacity(), 0, "the buffer is freed");
        assert_eq!(
            decoder.push(b"\n\ndata: late\n\n"),
            Err(SseTooLarge { limit: 1000 }),
            "nothing is read after the refusal"
        );
    }

    #[test]
    fn an_endless_event_of_short_lines_is_refused_too() {
        let mut decoder = SseDecoder::with_limit(1000);
        let refused = (0..200).find_map(|_| decoder.push(b"data: 0123456789\n").err());
        assert_eq!(refused, Some(SseTooLarge { limit: 1000 }));
        assert_eq!(
            SseTooLarge { limit: 1000 }.to_string(),
            "an event was larger than 1000 bytes"
        );
    }

    #[test]
    fn a_whole_chunk_over_the_limit_is_refused_before_it_is_copied() {
        let mut decoder = SseDecoder::with_limit(10);
        assert!(decoder.push(&[b'x'; 1_000_000]).is_err());
        assert_eq!(decoder.line.capacity(), 0);
    }
}

/// Hostile input: any bytes, cut anywhere.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// `bytes` cut at `cuts` (positions, taken modulo its length).
    fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            chunks.push(bytes[start..cut].to_vec());
            start = cut;
        }
        chunks
    }

    fn decode_all(chunks: &[Vec<u8>], limit: usize) -> Result<Vec<SseEvent>, SseTooLarge> {
        let mut decoder = SseDecoder::with_limit(limit);
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(decoder.push(chunk)?);
            let held = decoder.line.len() + decoder.data.as_ref().map_or(0, String::len);
            assert!(held <= limit, "{held} bytes held, limit {limit}");
        }
        Ok(events)
    }

    /// Bytes that look like a stream: field names, separators, line ends,
    /// a byte-order mark, broken UTF-8, and noise.
    fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b"event: ".to_vec()),
            Just(b":".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(vec![0xE2, 0x98]),
            proptest::collection::vec(any::<u8>(), 0..12),
        ];
        proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn any_bytes_cut_anywhere_decode_the_same_without_panicking(
            bytes in stream_bytes(),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            let whole = decode_all(std::slice::from_ref(&bytes), usize::MAX);
            let cut = decode_all(&split(&bytes, &cuts), usize::MAX);
            prop_assert_eq!(whole, cut);
        }

        #[test]
        fn held_bytes_never_pass_the_limit(
            bytes in stream_bytes(),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
            limit in 0usize..64,
        ) {
            // decode_all asserts the bound after every chunk; past it, the
            // decoder refuses, and keeps refusing.
            let chunks = split(&bytes, &cuts);
            if decode_all(&chunks, limit).is_err() {
                let mut decoder = SseDecoder::with_limit(limit);
                let failed = chunks.iter().position(|chunk| decoder.push(chunk).is_err());
                prop_assert!(failed.is_some());
                prop_assert!(decoder.push(b"\n\n").is_err());
            }
        }

        #[test]
        fn events_written_whole_come_back_whole(
            events in proptest::collection::vec(("[a-z]{1,8}", "[^\r\n]{0,40}"), 0..10),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            let text: String = events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
            let decoded = decode_all(&split(text.as_bytes(), &cuts), MAX_EVENT_BYTES).unwrap();
            let expected: Vec<SseEvent> = events
                .iter()
                .map(|(name, data)| SseEvent { event: name.clone(), data: data.clone() })
                .collect();
            prop_assert_eq!(decoded, expected);
        }
    }
}
