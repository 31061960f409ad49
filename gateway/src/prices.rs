//! What models cost: USD per million input and output tokens, matched by
//! model-id prefix so that dated ids (`gpt-4o-2024-08-06`) find `gpt-4o`.

use prompt_runs::model::Usd;

/// A model's price, in US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
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
