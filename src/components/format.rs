//! How numbers, money, times and output look in the components: one place so
//! that every view shows a run the same way.

use crate::model::{CostSource, PromptRun, RunStatus, Timestamp, Usd};
use crate::store::{Pause, Spread};
use std::time::Duration;

use crate::text::fixed;
pub use crate::text::{thousands, PREVIEW_CHARS};

/// A count and what it counts, as every view says one: `"1 cell"`,
/// `"2,000 requests"` (the plural adds an `s`).
pub fn count(value: u64, noun: &str) -> String {
    let plural = if value == 1 { "" } else { "s" };
    format!("{} {noun}{plural}", thousands(value))
}

/// Tokens as `"1,234 tokens"` (`"1 token"`), or `"N/A"` when the usage is unknown.
pub fn tokens(value: Option<u64>) -> String {
    value.map_or_else(not_available, |tokens| count(tokens, "token"))
}

/// A duration as `"1,234 ms"`, or `"N/A"` when unknown.
pub fn duration(value: Option<u64>) -> String {
    value.map_or_else(not_available, |ms| format!("{} ms", thousands(ms)))
}

/// A cost as `"$0.0012"`, or `"N/A"` when no price was known.
pub fn cost(value: Option<Usd>) -> String {
    value.map_or_else(not_available, |usd| usd.to_string())
}

/// A size in bytes as a person reads it: `"812 bytes"`, `"12.3 MB"`, `"2.1 GB"`
/// (decimal units, as browsers report storage).
pub fn bytes(value: f64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    match UNITS.iter().find(|(size, _)| value >= *size) {
        Some((size, unit)) => format!("{} {unit}", fixed(value / size, 1)),
        None => format!("{} bytes", value.max(0.0) as u64),
    }
}

/// A total cost over `runs` runs of which `priced` had a known cost and
/// `estimated` of those an estimated one: `"N/A"` when none was priced, the
/// amount when all were, else the amount and what it covers, `"$0.0012 (3
/// of 7 runs priced)"`; marked `≈` when any part is an estimate.
pub fn total_cost(total: Usd, priced: usize, runs: usize, estimated: usize) -> String {
    let total = approximate(total, estimated > 0);
    match priced {
        0 => not_available(),
        _ if priced >= runs => total,
        _ => format!("{total} ({priced} of {runs} runs priced)"),
    }
}

/// `amount`, marked `≈` when it is an estimate.
pub fn approximate(amount: Usd, estimated: bool) -> String {
    if estimated {
        format!("≈{amount}")
    } else {
        amount.to_string()
    }
}

/// What a cost that no price backs reads as, wherever one is shown: an
/// estimate, a run's cost or a total of a model without a price (a local
/// model's runs are counted $0 in totals, but $0.0000 would read as a price).
pub const NOT_PRICED: &str = "not priced";

/// An estimated or summed cost of a model: the amount when the model has a
/// price of its own (`priced`), else [`NOT_PRICED`] (never `$0.0000`).
pub fn priced_cost(cost: Option<Usd>, priced: bool) -> String {
    match cost {
        Some(usd) if priced => usd.to_string(),
        _ => NOT_PRICED.to_owned(),
    }
}

/// A run's cost as a card shows it: `"≈$0.0007"` when it is an estimate
/// (a price × tokens), the amount otherwise, [`NOT_PRICED`] for a local
/// model's run (counted $0, with no price), `"N/A"` when unknown.
pub fn run_cost(run: &PromptRun) -> String {
    let source = run.cost_source();
    match run.cost_usd() {
        Some(_) if source == Some(CostSource::Local) => NOT_PRICED.to_owned(),
        Some(usd) => approximate(usd, source == Some(CostSource::Estimated)),
        None => not_available(),
    }
}

/// A run's cost and where it comes from, as its details show it:
/// `"$0.0021 (reported by the server)"`, `"≈$0.0007 (estimated: price ×
/// tokens)"`, `"$0.0000 (local model)"`; a cost recorded before sources
/// were shows as it always did.
pub fn run_cost_with_source(run: &PromptRun) -> String {
    let source = match run.cost_source() {
        Some(CostSource::Reported) => " (reported by the server)",
        Some(CostSource::Estimated) => " (estimated: price × tokens)",
        Some(CostSource::Local) => " (local model, counted as $0)",
        None => "",
    };
    format!("{}{source}", run_cost(run))
}

/// A speed as `"48.2 tokens/s"`.
pub fn tokens_per_second(rate: f64) -> String {
    format!("{} tokens/s", fixed(rate, 1))
}

/// A p50 / p95 pair of durations, `"1,843 / 2,950 ms"`, or `"N/A"`.
pub fn spread_ms(spread: Option<Spread<u64>>) -> String {
    spread.map_or_else(not_available, |Spread { p50, p95 }| {
        format!("{} / {} ms", thousands(p50), thousands(p95))
    })
}

/// A p50 / p95 pair of speeds, `"48.2 / 61.0 tokens/s"`, or `"N/A"`.
pub fn spread_rate(spread: Option<Spread<f64>>) -> String {
    spread.map_or_else(not_available, |Spread { p50, p95 }| {
        format!("{} / {} tokens/s", fixed(p50, 1), fixed(p95, 1))
    })
}

/// Elapsed time to a tenth of a second, `"12.3 s"`: for a clock that ticks
/// while a run is in flight.
pub fn seconds(ms: u64) -> String {
    format!("{}.{} s", thousands(ms / 1_000), ms % 1_000 / 100)
}

/// A longer span as a person says it, to the second: `"45 s"`,
/// `"2 min 20 s"`, `"1 h 5 min"`.
pub fn minutes(span: Duration) -> String {
    let seconds = span.as_secs();
    match (seconds / 3_600, seconds % 3_600 / 60, seconds % 60) {
        (0, 0, seconds) => format!("{seconds} s"),
        (0, minutes, 0) => format!("{minutes} min"),
        (0, minutes, seconds) => format!("{minutes} min {seconds} s"),
        (hours, minutes, _) => format!("{} h {minutes} min", thousands(hours)),
    }
}

/// What the requests wait for, as of `now_ms` (ms since the Unix epoch):
/// `"waiting for the rate limit, resumes in 12 s"` (HTTP 429), or for a
/// server that said it is unavailable (503).
pub fn pause_text(pause: Pause, now_ms: f64) -> String {
    let left = ((pause.until as f64 - now_ms) / 1_000.0).ceil().max(0.0) as u64;
    let cause = match pause.status {
        429 => "the rate limit".to_owned(),
        status => format!("the server (HTTP {status}: unavailable)"),
    };
    format!(
        "waiting for {cause}, resumes in {}",
        minutes(Duration::from_secs(left))
    )
}

/// A share (0–1) as a whole percentage: `0.666` → `"67%"`.
pub fn percent(share: f64) -> String {
    format!("{}%", fixed(share * 100.0, 0))
}

/// The start of a run's output for a card: at most [`PREVIEW_CHARS`]
/// characters, with `…` when there is more; `None` when it has no output.
pub fn output_preview(run: &PromptRun) -> Option<String> {
    let output = run.output.as_deref().filter(|text| !text.is_empty())?;
    Some(crate::text::preview(output))
}

/// A decimal number as a person types it (`0.002`, `.5`, `1e-3`), when it
/// is one and finite; surrounding space is ignored.
///
/// Read with JSON's number grammar (plus a bare leading `.`) through
/// serde_json, already in the bundle: `str::parse::<f64>` would add ~16 KB of
/// float-parsing tables for the few fields that take a number.
pub fn typed_number(text: &str) -> Option<f64> {
    let text = text.trim();
    let number = match text.strip_prefix('.') {
        Some(fraction) => format!("0.{fraction}"),
        None => text.to_owned(),
    };
    serde_json::from_str::<f64>(&number)
        .ok()
        .filter(|number| number.is_finite())
}

/// A timestamp in the reader's local time zone and locale (in the browser);
/// the stored text when it cannot be read as a time.
pub fn local_time(timestamp: &Timestamp) -> String {
    match timestamp.unix_millis() {
        Some(millis) if cfg!(target_arch = "wasm32") => js_sys::Date::new(&(millis as f64).into())
            .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
            .into(),
        _ => timestamp.as_str().to_owned(),
    }
}

/// A status as a person reads it: `Success`, `Cancelled`, …
pub fn status_label(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Pending => "Pending",
        RunStatus::Running => "Running",
        RunStatus::Success => "Success",
        RunStatus::Error => "Error",
        RunStatus::Cancelled => "Cancelled",
    }
}

fn not_available() -> String {
    "N/A".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(bytes(812.0), "812 bytes");
        assert_eq!(bytes(12_345_678.0), "12.3 MB");
        assert_eq!(bytes(2_100_000_000.0), "2.1 GB");
        assert_eq!(bytes(1_000.0), "1.0 kB");
    }

    #[test]
    fn groups_thousands() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (1_234_567, "1,234,567"),
        ];
        for (value, expected) in cases {
            assert_eq!(thousands(value), expected);
        }
    }

    #[test]
    fn unknown_values_read_n_a_never_zero() {
        assert_eq!(tokens(None), "N/A");
        assert_eq!(tokens(Some(12_345)), "12,345 tokens");
        assert_eq!(tokens(Some(1)), "1 token");
        assert_eq!(duration(Some(1_500)), "1,500 ms");
        assert_eq!(cost(None), "N/A");
        assert_eq!(cost(Some(Usd::from_dollars(0.0012))), "$0.0012");
        assert_eq!(percent(2.0 / 3.0), "67%");
        assert_eq!(cost(Some(Usd::from_dollars(0.000_012))), "$0.000012");
    }

    #[test]
    fn totals_say_what_they_cover() {
        let total = Usd::from_dollars(0.0012);
        assert_eq!(
            total_cost(Usd::ZERO, 0, 7, 0),
            "N/A",
            "nothing priced is not $0"
        );
        assert_eq!(total_cost(Usd::ZERO, 0, 0, 0), "N/A");
        assert_eq!(total_cost(total, 7, 7, 0), "$0.0012");
        assert_eq!(total_cost(total, 3, 7, 0), "$0.0012 (3 of 7 runs priced)");
        assert_eq!(
            total_cost(total, 7, 7, 1),
            "≈$0.0012",
            "any estimate makes it approximate"
        );
        assert_eq!(total_cost(total, 3, 7, 3), "≈$0.0012 (3 of 7 runs priced)");
        assert_eq!(
            total_cost(Usd::from_dollars(0.000_03), 1, 2, 0),
            "$0.00003 (1 of 2 runs priced)"
        );
    }

    #[test]
    fn a_runs_cost_says_where_it_comes_from() {
        let mut run = PromptRun::pending("r", "m", "p");
        assert_eq!(run_cost_with_source(&run), "N/A");
        run.cost = Some(0.0021);
        assert_eq!(
            run_cost_with_source(&run),
            "$0.0021",
            "older: as it always was"
        );
        for (source, card, details) in [
            ("reported", "$0.0021", "$0.0021 (reported by the server)"),
            (
                "estimated",
                "≈$0.0021",
                "≈$0.0021 (estimated: price × tokens)",
            ),
        ] {
            run.metadata = serde_json::json!({"costSource": source})
                .as_object()
                .cloned();
            assert_eq!(
                (run_cost(&run).as_str(), run_cost_with_source(&run).as_str()),
                (card, details)
            );
        }
        run.cost = Some(0.0);
        run.metadata = serde_json::json!({"costSource": "local"})
            .as_object()
            .cloned();
        assert_eq!(
            run_cost_with_source(&run),
            "not priced (local model, counted as $0)"
        );
        assert_eq!(run_cost(&run), NOT_PRICED, "never $0.0000");
    }

    #[test]
    fn speeds_and_spreads() {
        assert_eq!(tokens_per_second(48.25), "48.2 tokens/s");
        assert_eq!(
            spread_ms(Some(Spread {
                p50: 412,
                p95: 1_980
            })),
            "412 / 1,980 ms"
        );
        assert_eq!(
            spread_rate(Some(Spread {
                p50: 48.25,
                p95: 61.0
            })),
            "48.2 / 61.0 tokens/s"
        );
        assert_eq!(
            (spread_ms(None), spread_rate(None)),
            ("N/A".into(), "N/A".into())
        );
    }

    #[test]
    fn counts_read_alike_everywhere() {
        assert_eq!(count(1, "cell"), "1 cell");
        assert_eq!(count(0, "request"), "0 requests");
        assert_eq!(count(2_000, "request"), "2,000 requests");
    }

    #[test]
    fn a_model_without_a_price_is_not_priced_never_zero() {
        let cost = Some(Usd::from_dollars(0.0012));
        assert_eq!(priced_cost(cost, true), "$0.0012");
        assert_eq!(priced_cost(Some(Usd::ZERO), false), "not priced", "local");
        assert_eq!(priced_cost(None, false), "not priced");
        assert_eq!(
            priced_cost(Some(Usd::ZERO), true),
            "$0.0000",
            "priced at $0"
        );
    }

    #[test]
    fn spans_and_pauses_read_in_minutes_and_seconds() {
        assert_eq!(minutes(Duration::from_secs(45)), "45 s");
        assert_eq!(minutes(Duration::from_secs(140)), "2 min 20 s");
        assert_eq!(minutes(Duration::from_secs(120)), "2 min");
        assert_eq!(minutes(Duration::from_secs(3_900)), "1 h 5 min");
        let pause = Pause {
            until: 1_000_000,
            status: 429,
        };
        assert_eq!(
            pause_text(pause, 988_100.0),
            "waiting for the rate limit, resumes in 12 s"
        );
        assert_eq!(
            pause_text(pause, 1_000_500.0),
            "waiting for the rate limit, resumes in 0 s"
        );
        let unavailable = Pause {
            status: 503,
            ..pause
        };
        assert_eq!(
            pause_text(unavailable, 997_000.0),
            "waiting for the server (HTTP 503: unavailable), resumes in 3 s"
        );
    }

    #[test]
    fn elapsed_seconds_to_the_tenth() {
        assert_eq!(seconds(0), "0.0 s");
        assert_eq!(seconds(999), "0.9 s");
        assert_eq!(seconds(12_345), "12.3 s");
        assert_eq!(seconds(3_600_000), "3,600.0 s");
    }

    #[test]
    fn typed_numbers_as_people_write_them() {
        assert_eq!(typed_number(" 0.002 "), Some(0.002));
        assert_eq!(typed_number(".25"), Some(0.25));
        assert_eq!(typed_number("2e-3"), Some(0.002));
        assert_eq!(typed_number("-1"), Some(-1.0));
        for not_a_number in ["", "1.5.2", "1,5", "cheap", "1e999"] {
            assert_eq!(typed_number(not_a_number), None, "{not_a_number:?}");
        }
    }

    #[test]
    fn previews_cut_at_200_characters_not_bytes() {
        let mut run = PromptRun::pending("r", "m", "p");
        assert_eq!(output_preview(&run), None);
        run.output = Some(String::new());
        assert_eq!(output_preview(&run), None, "empty output shows nothing");
        run.output = Some("é".repeat(200));
        assert_eq!(output_preview(&run), Some("é".repeat(200)));
        run.output = Some("é".repeat(201));
        assert_eq!(output_preview(&run), Some(format!("{}…", "é".repeat(200))));
    }
}
