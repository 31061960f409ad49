//! When to try a provider again, and how long to wait first: on 429, any
//! 5xx and overload (Anthropic's 529, an `overloaded_error` event before
//! the first token), never on another 4xx, and only before the first token
//! was passed on (after that, the person has seen part of an answer).
//!
//! The wait doubles from [`FIRST_WAIT`] with jitter (so that many requests
//! refused together do not come back together), and is at least what the
//! provider asked for: `Retry-After` (seconds or a date), OpenAI's
//! `retry-after-ms` and `x-ratelimit-reset-*`, Anthropic's
//! `anthropic-ratelimit-*-reset`. A provider asking for more than
//! [`LONGEST_WAIT`] is not waited for: the run fails at once, saying so.

use axum::http::{HeaderMap, StatusCode};
use std::time::{Duration, Instant, SystemTime};

/// The wait before the first retry (before jitter).
pub const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between two tries.
pub const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// Whether a provider's answer with `status` may be tried again.
pub fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// How long to wait before retry number `retry` (from 1), given what the
/// provider asked for: the doubled wait with jitter, or longer if asked;
/// `None` when it asked for more than [`LONGEST_WAIT`].
pub fn wait_before(retry: u32, asked: Option<Duration>) -> Option<Duration> {
    let doubled = FIRST_WAIT
        .saturating_mul(1 << retry.saturating_sub(1).min(16))
        .min(LONGEST_WAIT);
    // Between half and all of it: spread out, never longer.
    let jittered = doubled.mul_f64(0.5 + 0.5 * unit_random());
    match asked {
        Some(asked) if asked > LONGEST_WAIT => None,
        Some(asked) => Some(asked.max(jittered)),
        None => Some(jittered),
    }
}

/// A number in [0, 1) from the OS's randomness (0.5 if it has none).
fn unit_random() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

/// How long the provider asked us to wait, from its headers: the longest
/// of what `Retry-After`, `retry-after-ms`, and (for a limit that is used
/// up) OpenAI's `x-ratelimit-reset-requests|tokens` and Anthropic's
/// `anthropic-ratelimit-*-reset` say. `None` when they say nothing.
pub fn asked_to_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let mut asked: Vec<Duration> = Vec::new();
    if let Some(ms) = text("retry-after-ms").and_then(|ms| ms.parse::<f64>().ok()) {
        asked.extend(Duration::try_from_secs_f64(ms / 1_000.0).ok());
    }
    if let Some(value) = text("retry-after") {
        if let Ok(seconds) = value.parse::<f64>() {
            asked.extend(Duration::try_from_secs_f64(seconds).ok());
        } else if let Ok(date) = httpdate::parse_http_date(value) {
            asked.push(date.duration_since(now).unwrap_or_default());
        }
    }
    for limit in ["requests", "tokens"] {
        if text(&format!("x-ratelimit-remaining-{limit}")) == Some("0") {
            asked.extend(text(&format!("x-ratelimit-reset-{limit}")).and_then(go_duration));
        }
    }
    for limit in ["requests", "tokens", "input-tokens", "output-tokens"] {
        if text(&format!("anthropic-ratelimit-{limit}-remaining")) == Some("0") {
            let reset = text(&format!("anthropic-ratelimit-{limit}-reset"));
            asked.extend(reset.and_then(|reset| until(reset, now)));
        }
    }
    asked.into_iter().max()
}

/// A duration as OpenAI writes it in `x-ratelimit-reset-*`: `1s`, `6m0s`,
/// `59.5ms`, `1h2m3.5s`.
fn go_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "h" => 3_600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// The time from `now` until the RFC 3339 instant `instant` (zero if past).
fn until(instant: &str, now: SystemTime) -> Option<Duration> {
    let millis = prompt_runs::model::Timestamp::parse(instant).unix_millis()?;
    let then = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).ok()?);
    Some(then.duration_since(now).unwrap_or_default())
}

/// How often a provider was tried for one run, and since when: for the
/// message of a run that failed ("tried 3 times over 14 s").
#[derive(Clone, Copy, Debug)]
pub struct Tries {
    /// Tries so far.
    pub count: u32,
    /// When the first began.
    pub since: Instant,
}

impl Tries {
    /// Before the first try.
    pub fn start() -> Tries {
        Tries {
            count: 0,
            since: Instant::now(),
        }
    }

    /// `; tried 3 times over 14 s` after more than one try; nothing after one.
    pub fn told(&self) -> String {
        if self.count <= 1 {
            return String::new();
        }
        let seconds = self.since.elapsed().as_secs_f64();
        let over = if seconds < 10.0 {
            format!("{seconds:.1}")
        } else {
            format!("{seconds:.0}")
        };
        format!("; tried {} times over {over} s", self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_429_5xx_and_overload_are_tried_again() {
        for status in [429, 500, 502, 503, 504, 529] {
            assert!(retryable(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [400, 401, 403, 404, 408, 409, 413, 422] {
            assert!(
                !retryable(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }

    #[test]
    fn waits_double_with_jitter_and_honour_what_was_asked() {
        for _ in 0..100 {
            let first = wait_before(1, None).unwrap();
            assert!(first >= FIRST_WAIT / 2 && first <= FIRST_WAIT, "{first:?}");
            let third = wait_before(3, None).unwrap();
            assert!(
                third >= FIRST_WAIT * 2 && third <= FIRST_WAIT * 4,
                "{third:?}"
            );
            assert!(wait_before(40, None).unwrap() <= LONGEST_WAIT);
        }
        assert_eq!(
            wait_before(1, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            wait_before(1, Some(LONGEST_WAIT + Duration::from_secs(1))),
            None
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn the_providers_rate_limit_headers_say_how_long_to_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let asked = |pairs: &[(&'static str, &str)]| asked_to_wait(&headers(pairs), now);
        assert_eq!(asked(&[]), None);
        assert_eq!(asked(&[("retry-after", "3")]), Some(Duration::from_secs(3)));
        assert_eq!(
            asked(&[("retry-after-ms", "1500")]),
            Some(Duration::from_millis(1_500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(20));
        assert_eq!(
            asked(&[("retry-after", &date)]),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            asked(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "6m0s"),
                ("x-ratelimit-reset-tokens", "1s")
            ]),
            Some(Duration::from_secs(360)),
            "only a used-up limit counts"
        );
        assert_eq!(
            asked(&[
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "59.5ms")
            ]),
            Some(Duration::from_micros(59_500))
        );
        let reset = prompt_runs::model::Timestamp::from_unix_millis(1_700_000_012_000).to_string();
        assert_eq!(
            asked(&[
                ("anthropic-ratelimit-requests-remaining", "0"),
                ("anthropic-ratelimit-requests-reset", &reset),
                ("retry-after", "5")
            ]),
            Some(Duration::from_secs(12)),
            "the longest of what is said"
        );
        assert_eq!(asked(&[("retry-after", "soon")]), None);
        assert_eq!(
            go_duration("1h2m3.5s"),
            Some(Duration::from_secs_f64(3_723.5))
        );
        assert_eq!(go_duration("3 parsecs"), None);
    }

    #[test]
    fn a_failed_run_says_how_often_and_over_how_long() {
        let mut tries = Tries::start();
        tries.count = 1;
        assert_eq!(tries.told(), "");
        tries.count = 3;
        tries.since = Instant::now() - Duration::from_secs(14);
        assert_eq!(tries.told(), "; tried 3 times over 14 s");
    }
}
