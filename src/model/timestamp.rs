//! Instants as the TypeScript store writes them: ISO 8601 strings from
//! JavaScript's `Date.prototype.toISOString()` (`2024-05-01T12:00:00.000Z`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// An instant, kept as the exact text it was read from so that history
/// round-trips byte for byte, with its parsed value used for ordering.
///
/// Text that is not RFC 3339 is kept rather than refused (refusing would lose
/// the run it belongs to); it has no [`Timestamp::unix_millis`] and sorts before
/// every parseable instant.
#[derive(Clone)]
pub struct Timestamp {
    text: Text,
    unix_millis: Option<i64>,
}

/// The length of `toISOString()`'s text (`2024-05-01T12:00:00.000Z`).
const ISO_LEN: usize = 24;

/// A timestamp's text. Nearly every one is `toISOString()`'s, held inline:
/// a history of 100,000 runs holds three per run (start, completion, and the
/// start-time order), which as heap strings cost ~10 MB of the page's memory.
#[derive(Clone)]
enum Text {
    /// Text of exactly [`ISO_LEN`] bytes, as read (valid UTF-8).
    Iso([u8; ISO_LEN]),
    /// Any other text.
    Other(Box<str>),
}

impl Text {
    fn new(text: String) -> Text {
        match <[u8; ISO_LEN]>::try_from(text.as_bytes()) {
            Ok(bytes) => Text::Iso(bytes),
            Err(_) => Text::Other(text.into_boxed_str()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied from a `str` of this length, so always UTF-8.
            Text::Iso(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            Text::Other(text) => text,
        }
    }
}

impl Timestamp {
    /// The current instant, from the browser's clock on wasm and the system
    /// clock natively.
    pub fn now() -> Timestamp {
        Timestamp::from_unix_millis(now_unix_millis())
    }

    /// The instant `millis` after the Unix epoch, written as `toISOString()` does.
    pub fn from_unix_millis(millis: i64) -> Timestamp {
        let text = chrono::DateTime::from_timestamp_millis(millis)
            .map(|instant| instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_else(|| millis.to_string());
        Timestamp {
            text: Text::new(text),
            unix_millis: Some(millis),
        }
    }

    /// Reads an instant from text, keeping the text as it is.
    pub fn parse(text: impl Into<String>) -> Timestamp {
        let text = text.into();
        let unix_millis = chrono::DateTime::parse_from_rfc3339(&text)
            .ok()
            .map(|instant| instant.timestamp_millis());
        Timestamp {
            text: Text::new(text),
            unix_millis,
        }
    }

    /// The text as read or written.
    pub fn as_str(&self) -> &str {
        self.text.as_str()
    }

    /// Milliseconds since the Unix epoch, when the text is a valid RFC 3339 instant.
    pub fn unix_millis(&self) -> Option<i64> {
        self.unix_millis
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timestamp")
            .field("text", &self.as_str())
            .field("unix_millis", &self.unix_millis)
            .finish()
    }
}

fn now_unix_millis() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch.as_millis() as i64
    }
}

/// Two timestamps are equal when their text is: that is what the JSON holds.
impl PartialEq for Timestamp {
    fn eq(&self, other: &Timestamp) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Timestamp {}

/// Chronological order; unparseable text first, ties broken by the text.
impl Ord for Timestamp {
    fn cmp(&self, other: &Timestamp) -> Ordering {
        self.unix_millis
            .cmp(&other.unix_millis)
            .then_with(|| self.as_str().cmp(other.as_str()))
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Timestamp) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        String::deserialize(deserializer).map(Timestamp::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_to_iso_string_writes() {
        let instant = Timestamp::from_unix_millis(1_714_564_800_123);
        assert_eq!(instant.as_str(), "2024-05-01T12:00:00.123Z");
        assert_eq!(
            Timestamp::parse(instant.as_str()).unix_millis(),
            Some(1_714_564_800_123)
        );
    }

    #[test]
    fn any_text_round_trips_whatever_its_length() {
        for text in [
            "2024-05-01T12:00:00.000Z",
            "2024-05-01T12:00:00Z",
            "2024-05-01T14:00:00.000+02:00",
            "yesterday",
            "",
            "2024-05-01T12:00:00.00ü",
        ] {
            let read = Timestamp::parse(text);
            assert_eq!(read.as_str(), text);
            assert_eq!(read.to_string(), text);
            assert_eq!(serde_json::to_string(&read).unwrap(), format!("{text:?}"));
        }
        assert_eq!(
            Timestamp::parse("2024-05-01T14:00:00.000+02:00").unix_millis(),
            Timestamp::parse("2024-05-01T12:00:00.000Z").unix_millis()
        );
    }

    #[test]
    fn orders_by_instant_not_by_text() {
        let utc = Timestamp::parse("2024-05-01T12:00:00.000Z");
        let earlier_with_offset = Timestamp::parse("2024-05-01T13:30:00+02:00");
        assert!(earlier_with_offset < utc);
    }

    #[test]
    fn keeps_unparseable_text_and_sorts_it_first() {
        let odd = Timestamp::parse("yesterday");
        assert_eq!(odd.as_str(), "yesterday");
        assert_eq!(odd.unix_millis(), None);
        assert!(odd < Timestamp::parse("1970-01-01T00:00:00.000Z"));
    }

    #[test]
    fn now_is_a_parseable_current_instant() {
        let now = Timestamp::now();
        assert_eq!(
            Timestamp::parse(now.as_str()).unix_millis(),
            now.unix_millis()
        );
        assert!(now.unix_millis().unwrap() > 1_700_000_000_000);
    }
}
