//! What models cost: USD per million input, cached input, cache-write and
//! output tokens, matched by model-id prefix so that dated ids
//! (`gpt-4o-2024-08-06`) find `gpt-4o`, from a built-in table that a JSON
//! file can override. A price may carry the date it takes effect, so that a
//! price change can be written down ahead of time and the table keeps the
//! prices of the past: a run is priced at the price of its day.

use prompt_runs::api::wire::Usage;
use prompt_runs::model::{Timestamp, Usd};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A model's price, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_million: f64,
    /// Per million completion tokens (reasoning tokens are completion tokens).
    pub output_per_million: f64,
    /// Per million prompt tokens served from the provider's cache, when it
    /// charges them differently; otherwise they cost `input_per_million`.
    #[serde(default)]
    pub cached_input_per_million: Option<f64>,
    /// Per million prompt tokens written to the provider's cache
    /// (Anthropic's `cache_creation_input_tokens`), when it charges them
    /// differently; otherwise they cost `input_per_million`.
    #[serde(default)]
    pub cache_write_per_million: Option<f64>,
}

impl Price {
    /// What `input` prompt tokens and `output` completion tokens cost, exactly.
    pub fn cost(&self, input: u64, output: u64) -> Usd {
        self.cost_with_cached(input, 0, output)
    }

    /// What `input` prompt tokens, `cached` of them from the cache, and
    /// `output` completion tokens cost: the cached ones at the cached rate
    /// when there is one.
    pub fn cost_with_cached(&self, input: u64, cached: u64, output: u64) -> Usd {
        self.cost_with_cache(input, cached, 0, output)
    }

    /// What `input` prompt tokens cost, `cached` of them read from the
    /// provider's cache and `written` of them written to it, and `output`
    /// completion tokens: each class at its rate when the price has one,
    /// else at the input rate.
    pub fn cost_with_cache(&self, input: u64, cached: u64, written: u64, output: u64) -> Usd {
        let cached = cached.min(input);
        let written = written.min(input - cached);
        let rate = |rate: Option<f64>| rate.unwrap_or(self.input_per_million) / 1_000.0;
        Usd::for_tokens(self.input_per_million / 1_000.0, input - cached - written)
            + Usd::for_tokens(rate(self.cached_input_per_million), cached)
            + Usd::for_tokens(rate(self.cache_write_per_million), written)
            + Usd::for_tokens(self.output_per_million / 1_000.0, output)
    }

    /// The single `costPer1kTokens` the models list reports: the mean of the
    /// input and output prices per thousand tokens.
    pub fn per_1k_tokens(&self) -> f64 {
        (self.input_per_million + self.output_per_million) / 2.0 / 1_000.0
    }
}

/// A price and the instant it takes effect (Unix ms; `i64::MIN`: always).
#[derive(Clone, Copy, Debug, PartialEq)]
struct DatedPrice {
    from: i64,
    price: Price,
}

/// One entry of a price file: a price, and optionally the day it takes
/// effect (`"2025-01-01"`, from 00:00 UTC).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceEntry {
    #[serde(default)]
    from: Option<String>,
    input_per_million: f64,
    output_per_million: f64,
    #[serde(default)]
    cached_input_per_million: Option<f64>,
    #[serde(default)]
    cache_write_per_million: Option<f64>,
}

/// Prices by model-id prefix; the longest matching prefix wins, and among
/// its prices, the latest that had taken effect at the run's time.
#[derive(Clone, Debug)]
pub struct PriceTable {
    /// Each prefix's prices, ordered by the instant they take effect.
    prices: Vec<(String, Vec<DatedPrice>)>,
}

impl PriceTable {
    /// Published prices of well-known models (with their cached-input
    /// rates), and the offline demo model's made-up one (so that cost is
    /// visible without an account).
    pub fn builtin() -> PriceTable {
        let price = |input_per_million, output_per_million, cached, written| {
            vec![DatedPrice {
                from: i64::MIN,
                price: Price {
                    input_per_million,
                    output_per_million,
                    cached_input_per_million: cached,
                    cache_write_per_million: written,
                },
            }]
        };
        PriceTable {
            prices: vec![
                ("offline-echo".into(), price(0.50, 1.50, None, None)),
                ("gpt-4o".into(), price(2.50, 10.00, Some(1.25), None)),
                ("gpt-4o-mini".into(), price(0.15, 0.60, Some(0.075), None)),
                ("gpt-4.1".into(), price(2.00, 8.00, Some(0.50), None)),
                // Anthropic: cache reads at a tenth of the input rate,
                // writes (5-minute cache) at 1.25 times it.
                (
                    "claude-3-5-sonnet".into(),
                    price(3.00, 15.00, Some(0.30), Some(3.75)),
                ),
                (
                    "claude-3-5-haiku".into(),
                    price(0.80, 4.00, Some(0.08), Some(1.00)),
                ),
                (
                    "claude-sonnet-4".into(),
                    price(3.00, 15.00, Some(0.30), Some(3.75)),
                ),
                (
                    "claude-haiku-4-5".into(),
                    price(1.00, 5.00, Some(0.10), Some(1.25)),
                ),
                // Gemini: context-cache reads at a quarter of the input rate.
                (
                    "gemini-2.0-flash".into(),
                    price(0.10, 0.40, Some(0.025), None),
                ),
            ],
        }
    }

    /// The built-in table with the prices in the JSON file at `path` laid
    /// over it. The file maps model ids or prefixes to a price
    /// `{"input_per_million": …, "output_per_million": …,
    /// "cached_input_per_million"?: …}`, to a list of them each with the day
    /// it takes effect (`"from": "2025-01-01"`; one may omit it: in effect
    /// before the others), or to `null` to remove a built-in price. A file
    /// that cannot be read or understood is an error naming it and the
    /// entry: the gateway would rather not start than charge wrongly.
    pub fn builtin_with_overrides(path: &Path) -> Result<PriceTable, String> {
        let problem = |what: String| format!("price file {}: {what}", path.display());
        let text = std::fs::read_to_string(path).map_err(|error| problem(error.to_string()))?;
        let overrides: BTreeMap<String, Value> =
            serde_json::from_str(&text).map_err(|error| problem(error.to_string()))?;
        PriceTable::builtin()
            .with_overrides(overrides)
            .map_err(problem)
    }

    /// This table with `overrides` laid over it, each entry as in a price
    /// file (a price, a list of dated ones, or `null`); an error naming the
    /// entry when one cannot be understood.
    pub fn with_overrides(&self, overrides: BTreeMap<String, Value>) -> Result<PriceTable, String> {
        let mut table = self.clone();
        for (prefix, value) in overrides {
            let prices = dated_prices(&prefix, value)?;
            table.prices.retain(|(known, _)| *known != prefix);
            if !prices.is_empty() {
                table.prices.push((prefix, prices));
            }
        }
        Ok(table)
    }

    /// The price of `model_id` now, if any prefix matches.
    pub fn lookup(&self, model_id: &str) -> Option<Price> {
        self.lookup_at(model_id, Timestamp::now().unix_millis().unwrap_or(i64::MAX))
    }

    /// The price of `model_id` in effect at `at` (Unix ms): the longest
    /// matching prefix's latest price from before then; `None` when no
    /// prefix matches or its prices all start later.
    pub fn lookup_at(&self, model_id: &str, at: i64) -> Option<Price> {
        let (_, prices) = self
            .prices
            .iter()
            .filter(|(prefix, _)| model_id.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())?;
        prices
            .iter()
            .rev()
            .find(|dated| dated.from <= at)
            .map(|dated| dated.price)
    }

    /// What a run of `model_id` that used `usage` at `at` (Unix ms) costs at
    /// the price of that time: its cached prompt tokens at the cached rate
    /// when the price has one. `None` when there is no price.
    pub fn cost(&self, model_id: &str, usage: &Usage, at: i64) -> Option<Usd> {
        self.cost_with_writes(model_id, usage, 0, at)
    }

    /// As [`PriceTable::cost`], with `written` of the prompt tokens written
    /// to the provider's cache (at the cache-write rate when there is one).
    pub fn cost_with_writes(
        &self,
        model_id: &str,
        usage: &Usage,
        written: u64,
        at: i64,
    ) -> Option<Usd> {
        let price = self.lookup_at(model_id, at)?;
        Some(price.cost_with_cache(
            usage.prompt_tokens,
            usage.cached_tokens().unwrap_or(0),
            written,
            usage.completion_tokens,
        ))
    }
}

/// The prices a price file gives `prefix`: one price, a list of dated ones
/// (ordered by date, no day twice), or none for `null`.
fn dated_prices(prefix: &str, value: Value) -> Result<Vec<DatedPrice>, String> {
    let entries = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(entries) if entries.is_empty() => {
            return Err(format!(
                "{prefix} has an empty list of prices: use null to remove its price"
            ))
        }
        Value::Array(entries) => entries,
        single => vec![single],
    };
    let several = entries.len() > 1;
    let mut prices = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let name = if several {
            format!("{prefix} (price {})", index + 1)
        } else {
            prefix.to_owned()
        };
        let entry: PriceEntry =
            serde_json::from_value(entry).map_err(|error| format!("{name}: {error}"))?;
        let valid = |usd: f64| usd.is_finite() && usd >= 0.0;
        let rates = [
            Some(entry.input_per_million),
            Some(entry.output_per_million),
            entry.cached_input_per_million,
            entry.cache_write_per_million,
        ];
        if !rates.into_iter().flatten().all(valid) {
            return Err(format!("the price of {name} must be 0 or more"));
        }
        let from = match &entry.from {
            None => i64::MIN,
            Some(day) => day_start(day).ok_or_else(|| {
                format!("{name}: \"from\" must be a day written 2025-01-31, not {day:?}")
            })?,
        };
        prices.push(DatedPrice {
            from,
            price: Price {
                input_per_million: entry.input_per_million,
                output_per_million: entry.output_per_million,
                cached_input_per_million: entry.cached_input_per_million,
                cache_write_per_million: entry.cache_write_per_million,
            },
        });
    }
    prices.sort_unstable_by_key(|dated| dated.from);
    if prices.windows(2).any(|pair| pair[0].from == pair[1].from) {
        return Err(format!(
            "{prefix} has two prices taking effect on the same day"
        ));
    }
    Ok(prices)
}

/// 00:00 UTC of `day` (`YYYY-MM-DD`), in Unix ms.
fn day_start(day: &str) -> Option<i64> {
    let shaped = day.len() == 10
        && day.bytes().enumerate().all(|(at, byte)| {
            matches!(at, 4 | 7) == (byte == b'-') && (matches!(at, 4 | 7) || byte.is_ascii_digit())
        });
    if !shaped {
        return None;
    }
    let start = Timestamp::parse(format!("{day}T00:00:00.000Z"));
    // A day that does not exist (2025-02-30) does not parse.
    start.unix_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins_and_dated_ids_match() {
        let table = PriceTable::builtin();
        assert_eq!(
            table.lookup("gpt-4o-2024-08-06").unwrap().input_per_million,
            2.50
        );
        assert_eq!(
            table
                .lookup("gpt-4o-mini-2024-07-18")
                .unwrap()
                .input_per_million,
            0.15
        );
        assert_eq!(table.lookup("unknown-model"), None);
    }

    fn price_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!(
            "prompt-runs-prices-{}-{name}.json",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_price_file_adds_replaces_and_removes_prices() {
        let path = price_file(
            "ok",
            r#"{"llama3": {"input_per_million": 0.1, "output_per_million": 0.2},
                "gpt-4o": {"input_per_million": 2.0, "output_per_million": 8.0},
                "offline-echo": null}"#,
        );
        let table = PriceTable::builtin_with_overrides(&path).unwrap();
        assert_eq!(table.lookup("llama3:8b").unwrap().output_per_million, 0.2);
        assert_eq!(
            table.lookup("gpt-4o-2024-08-06").unwrap().input_per_million,
            2.0
        );
        assert_eq!(
            table.lookup("gpt-4o-mini").unwrap().input_per_million,
            0.15,
            "longer prefixes still win"
        );
        assert_eq!(table.lookup("offline-echo"), None);
    }

    #[test]
    fn a_bad_price_file_is_refused_with_its_name_and_the_problem() {
        let cases = [
            ("syntax", "{\"gpt\": "),
            ("field", r#"{"gpt": {"input_per_million": 1.0}}"#),
            (
                "typo",
                r#"{"gpt": {"input_per_million": 1.0, "output_per_million": 1.0, "extra": 1}}"#,
            ),
            (
                "negative",
                r#"{"gpt": {"input_per_million": -1.0, "output_per_million": 1.0}}"#,
            ),
        ];
        for (name, text) in cases {
            let path = price_file(name, text);
            let error = PriceTable::builtin_with_overrides(&path).unwrap_err();
            assert!(
                error.starts_with(&format!("price file {}: ", path.display())),
                "{error}"
            );
        }
        let missing =
            PriceTable::builtin_with_overrides(Path::new("/no/such/prices.json")).unwrap_err();
        assert!(missing.contains("/no/such/prices.json"), "{missing}");
    }

    #[test]
    fn costs_are_exact_per_token_class() {
        let price = Price {
            input_per_million: 3.0,
            output_per_million: 15.0,
            cached_input_per_million: Some(0.30),
            cache_write_per_million: Some(3.75),
        };
        assert_eq!(price.cost(1_000, 1_000).to_string(), "$0.0180");
        assert_eq!(
            price.cost_with_cache(1_000, 600, 200, 0).to_string(),
            "$0.0015",
            "200 at $3, 600 read at $0.30, 200 written at $3.75 per million"
        );
        assert_eq!(
            price.cost_with_cache(100, 80, 80, 0),
            price.cost_with_cache(100, 80, 20, 0),
            "never more written than sent and not read"
        );
        assert_eq!(price.cost(1, 0).nanos(), 3_000);
        assert_eq!(price.per_1k_tokens(), 0.009);
        assert_eq!(
            price.cost_with_cached(1_000, 800, 1_000).to_string(),
            "$0.0158",
            "200 at $3, 800 at $0.30, 1,000 at $15 per million"
        );
        assert_eq!(
            price.cost_with_cached(10, 50, 0),
            price.cost_with_cached(10, 10, 0),
            "never more cached than sent"
        );
        let uncached = Price {
            cached_input_per_million: None,
            cache_write_per_million: None,
            ..price
        };
        assert_eq!(
            uncached.cost_with_cached(1_000, 800, 0),
            uncached.cost(1_000, 0),
            "without a cached rate, cached tokens cost what others do"
        );
    }

    #[test]
    fn a_run_is_priced_at_the_price_of_its_day() {
        let path = price_file(
            "dated",
            r#"{"gpt-4.1": [
                  {"from": "2025-06-01", "input_per_million": 1.0, "output_per_million": 4.0},
                  {"input_per_million": 3.0, "output_per_million": 12.0},
                  {"from": "2025-01-01", "input_per_million": 2.0, "output_per_million": 8.0, "cached_input_per_million": 0.5}
                ],
                "new-model": [{"from": "2030-01-01", "input_per_million": 1.0, "output_per_million": 1.0}],
                "gpt-4o": {"input_per_million": 2.5, "output_per_million": 10.0}}"#,
        );
        let table = PriceTable::builtin_with_overrides(&path).unwrap();
        let at = |day: &str| day_start(day).unwrap();
        let input = |model: &str, day: &str| {
            table
                .lookup_at(model, at(day))
                .map(|price| price.input_per_million)
        };
        assert_eq!(input("gpt-4.1", "2024-12-31"), Some(3.0), "before any date");
        assert_eq!(input("gpt-4.1", "2025-01-01"), Some(2.0), "from its day on");
        assert_eq!(input("gpt-4.1-mini", "2025-05-31"), Some(2.0));
        assert_eq!(input("gpt-4.1", "2025-06-01"), Some(1.0));
        assert_eq!(input("new-model", "2029-12-31"), None, "not priced yet");
        assert_eq!(input("new-model", "2030-01-02"), Some(1.0));
        assert_eq!(
            table.lookup("gpt-4o").unwrap().cached_input_per_million,
            None,
            "the file's single price replaces the built-in one whole"
        );
        let mut usage = Usage::new(1_000, 0);
        usage.prompt_tokens_details = Some(prompt_runs::api::wire::PromptTokensDetails {
            cached_tokens: Some(1_000),
        });
        assert_eq!(
            table.cost("gpt-4.1", &usage, at("2025-03-01")),
            Some(Usd::from_dollars(0.0005)),
            "cached tokens at the cached rate of the day"
        );
        assert_eq!(
            table.cost("gpt-4.1", &usage, at("2025-07-01")),
            Some(Usd::from_dollars(0.001)),
            "no cached rate that day: the input rate"
        );
        assert_eq!(table.cost("unknown", &usage, at("2025-07-01")), None);
    }

    #[test]
    fn dates_must_be_days_and_not_repeat() {
        for (name, text, expected) in [
            (
                "day",
                r#"{"m": [{"from": "2025-13-01", "input_per_million": 1.0, "output_per_million": 1.0}]}"#,
                "m: \"from\" must be a day written 2025-01-31, not \"2025-13-01\"",
            ),
            (
                "shape",
                r#"{"m": {"from": "1/1/2025", "input_per_million": 1.0, "output_per_million": 1.0}}"#,
                "not \"1/1/2025\"",
            ),
            (
                "twice",
                r#"{"m": [{"from": "2025-01-01", "input_per_million": 1.0, "output_per_million": 1.0},
                          {"from": "2025-01-01", "input_per_million": 2.0, "output_per_million": 2.0}]}"#,
                "m has two prices taking effect on the same day",
            ),
            ("empty", r#"{"m": []}"#, "use null to remove its price"),
            (
                "second",
                r#"{"m": [{"input_per_million": 1.0, "output_per_million": 1.0}, {"from": "2025-01-01", "input_per_million": 1.0}]}"#,
                "m (price 2): missing field `output_per_million`",
            ),
            (
                "cached",
                r#"{"m": {"input_per_million": 1.0, "output_per_million": 1.0, "cached_input_per_million": -1}}"#,
                "the price of m must be 0 or more",
            ),
        ] {
            let path = price_file(name, text);
            let error = PriceTable::builtin_with_overrides(&path).unwrap_err();
            assert!(error.contains(expected), "{name}: {error}");
        }
    }
}
