//! A Server-Sent Events decoder for streamed answers, following the WHATWG
//! `text/event-stream` rules: lines end in CRLF, LF or CR (also split across
//! chunks), `:` starts a comment, one space after the colon is dropped, `data`
//! lines join with line feeds, a blank line dispatches the event, and a
//! byte-order mark at the start is ignored.
//!
//! Written here rather than taken from a crate: the client needs only event
//! names and data, and the crates that parse this pull a parser-combinator
//! library into the app bundle.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, or `message` when the event did not name itself.
    pub event: String,
    /// The `data` lines, joined with line feeds.
    pub data: String,
}

/// Turns a byte stream, chunk by chunk, into [`SseEvent`]s.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// The bytes of a line not yet ended.
    line: Vec<u8>,
    /// The previous chunk ended in CR: a LF starting this one ends nothing.
    after_carriage_return: bool,
    /// Bytes have arrived (a byte-order mark can only come first).
    started: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> SseDecoder {
        SseDecoder::default()
    }

    /// Reads the next chunk and returns the events it completes, in order.
    /// An event still open when the stream ends is never dispatched.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut bytes = chunk;
        if !self.started && !bytes.is_empty() {
            self.started = true;
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if self.after_carriage_return && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_carriage_return = false;
        while let Some(end) = bytes
            .iter()
            .position(|&byte| byte == b'\n' || byte == b'\r')
        {
            self.line.extend_from_slice(&bytes[..end]);
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
            events.extend(self.end_line(&line));
            let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
            if bytes[end] == b'\r' && end + 1 == bytes.len() {
                self.after_carriage_return = true;
            }
            bytes = &bytes[end + if crlf { 2 } else { 1 }..];
        }
        self.line.extend_from_slice(bytes);
        events
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        chunks
            .iter()
            .flat_map(|chunk| decoder.push(chunk))
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
}
