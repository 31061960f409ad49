//! What models cost: USD per million input and output tokens, matched by
//! model-id prefix so that dated ids (`gpt-4o-2024-08-06`) find `gpt-4o`,
//! from a built-in table that a JSON file can override.

use prompt_runs::model::Usd;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A model's price, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input_per_million: f64,
    /// Per million completion tokens.
    pub output_per_million: f64,
}

impl Price {
    /// What `input` prompt tokens and `output` completion tokens cost, exactly.
    pub fn cost(&self, input: u64, output: u64) -> Usd {
        Usd::for_tokens(self.input_per_million / 1_000.0, input)
            + Usd::for_tokens(self.output_per_million / 1_000.0, output)
    }

    /// The single `costPer1kTokens` the models list reports: the mean of the
    /// input and output prices per thousand tokens.
    pub fn per_1k_tokens(&self) -> f64 {
        (self.input_per_million + self.output_per_million) / 2.0 / 1_000.0
    }
}

/// Prices by model-id prefix; the longest matching prefix wins.
#[derive(Clone, Debug)]
pub struct PriceTable {
    prices: Vec<(String, Price)>,
}

impl PriceTable {
    /// Published prices of well-known models, and the offline demo model's
    /// made-up one (so that cost is visible without an account).
    pub fn builtin() -> PriceTable {
        let price = |input_per_million, output_per_million| Price {
            input_per_million,
            output_per_million,
        };
        PriceTable {
            prices: vec![
                ("offline-echo".into(), price(0.50, 1.50)),
                ("gpt-4o".into(), price(2.50, 10.00)),
                ("gpt-4o-mini".into(), price(0.15, 0.60)),
                ("gpt-4.1".into(), price(2.00, 8.00)),
                ("claude-3-5-sonnet".into(), price(3.00, 15.00)),
                ("claude-3-5-haiku".into(), price(0.80, 4.00)),
            ],
        }
    }

    /// The built-in table with the prices in the JSON file at `path` laid
    /// over it. The file maps model ids or prefixes to
    /// `{"input_per_million": …, "output_per_million": …}`, or to `null` to
    /// remove a built-in price. A file that cannot be read or understood is an
    /// error naming it: the gateway would rather not start than charge wrongly.
    pub fn builtin_with_overrides(path: &Path) -> Result<PriceTable, String> {
        let problem = |what: String| format!("price file {}: {what}", path.display());
        let text = std::fs::read_to_string(path).map_err(|error| problem(error.to_string()))?;
        let overrides: BTreeMap<String, Option<Price>> =
            serde_json::from_str(&text).map_err(|error| problem(error.to_string()))?;
        let mut table = PriceTable::builtin();
        for (prefix, price) in overrides {
            if let Some(price) = price {
                let valid = |usd: f64| usd.is_finite() && usd >= 0.0;
                if !valid(price.input_per_million) || !valid(price.output_per_million) {
                    return Err(problem(format!("the price of {prefix} must be 0 or more")));
                }
            }
            table.prices.retain(|(known, _)| *known != prefix);
            if let Some(price) = price {
                table.prices.push((prefix, price));
            }
        }
        Ok(table)
    }

    /// The price of `model_id`, if any prefix matches.
    pub fn lookup(&self, model_id: &str) -> Option<Price> {
        self.prices
            .iter()
            .filter(|(prefix, _)| model_id.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, price)| *price)
    }
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
        };
        assert_eq!(price.cost(1_000, 1_000).to_string(), "$0.0180");
        assert_eq!(price.cost(1, 0).nanos(), 3_000);
        assert_eq!(price.per_1k_tokens(), 0.009);
    }
}
