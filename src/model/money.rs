//! Money that does not drift: US dollars kept as integer nanodollars.
//!
//! Runs carry their cost as `f64` dollars (that is the JSON the TypeScript store
//! writes), but summing thousands of `0.0001`s in floating point drifts. Totals
//! are therefore accumulated in integer nanodollars (10⁻⁹ USD), which is exact for
//! every price a provider quotes per token.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};

const NANOS_PER_DOLLAR: i64 = 1_000_000_000;

/// An exact amount of US dollars, in nanodollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd {
    nanos: i64,
}

impl Usd {
    /// Zero dollars.
    pub const ZERO: Usd = Usd { nanos: 0 };

    /// The nearest whole number of nanodollars to `dollars`.
    pub fn from_dollars(dollars: f64) -> Usd {
        Usd {
            nanos: (dollars * NANOS_PER_DOLLAR as f64).round() as i64,
        }
    }

    /// An amount given in nanodollars.
    pub fn from_nanos(nanos: i64) -> Usd {
        Usd { nanos }
    }

    /// What `tokens` cost at `price_per_1k_tokens` dollars, rounded to the nanodollar.
    pub fn for_tokens(price_per_1k_tokens: f64, tokens: u64) -> Usd {
        let per_1k = i128::from(Usd::from_dollars(price_per_1k_tokens).nanos);
        let nanos = (per_1k * i128::from(tokens) + 500).div_euclid(1_000);
        Usd::from_nanos(nanos as i64)
    }

    /// The amount in nanodollars.
    pub fn nanos(self) -> i64 {
        self.nanos
    }

    /// The amount in dollars, as the JSON `cost` field holds it.
    pub fn dollars(self) -> f64 {
        self.nanos as f64 / NANOS_PER_DOLLAR as f64
    }
}

/// `$1.0000`: four decimals, rounded half away from zero, in integers; an
/// amount under $0.0001 (but not zero) with two significant digits instead,
/// `$0.000012`, so that a cheap run never reads as free.
impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NANOS_PER_TEN_THOUSANDTH: u64 = (NANOS_PER_DOLLAR / 10_000) as u64;
        let sign = if self.nanos < 0 { "-" } else { "" };
        let magnitude = self.nanos.unsigned_abs();
        if magnitude == 0 || magnitude >= NANOS_PER_TEN_THOUSANDTH {
            let unit = NANOS_PER_TEN_THOUSANDTH;
            let ten_thousandths = (magnitude + unit / 2) / unit;
            return write!(
                f,
                "{sign}${}.{:04}",
                ten_thousandths / 10_000,
                ten_thousandths % 10_000
            );
        }
        // Round to two significant digits (half away from zero), then write
        // all nine decimals of the nanodollars without the trailing zeros.
        let mut unit = 1;
        while magnitude / unit >= 100 {
            unit *= 10;
        }
        let rounded = (magnitude + unit / 2) / unit * unit;
        let decimals = format!("{rounded:09}");
        write!(f, "{sign}$0.{}", decimals.trim_end_matches('0'))
    }
}

/// In JSON, a number of dollars, as a run's `cost` is written.
impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.dollars())
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Usd, D::Error> {
        let dollars = f64::deserialize(deserializer)?;
        if !dollars.is_finite() || dollars.abs() > (i64::MAX / NANOS_PER_DOLLAR) as f64 {
            return Err(serde::de::Error::custom(format!(
                "{dollars} is not an amount of dollars this app can hold"
            )));
        }
        Ok(Usd::from_dollars(dollars))
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, other: Usd) -> Usd {
        Usd::from_nanos(self.nanos + other.nanos)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, other: Usd) {
        self.nanos += other.nanos;
    }
}

impl Sub for Usd {
    type Output = Usd;
    fn sub(self, other: Usd) -> Usd {
        Usd::from_nanos(self.nanos - other.nanos)
    }
}

impl SubAssign for Usd {
    fn sub_assign(&mut self, other: Usd) {
        self.nanos -= other.nanos;
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_hundredths_of_a_cent_make_exactly_one_dollar() {
        let total: Usd = std::iter::repeat_n(Usd::from_dollars(0.0001), 10_000).sum();
        assert_eq!(total, Usd::from_dollars(1.0));
        assert_eq!(total.to_string(), "$1.0000");
        let drifting: f64 = std::iter::repeat_n(0.0001, 10_000).sum();
        assert_ne!(
            drifting, 1.0,
            "f64 summation drifts, which is why Usd exists"
        );
    }

    #[test]
    fn displays_four_decimals_rounding_half_away_from_zero() {
        assert_eq!(Usd::ZERO.to_string(), "$0.0000");
        assert_eq!(Usd::from_dollars(0.000_15).to_string(), "$0.0002");
        assert_eq!(Usd::from_dollars(0.00012).to_string(), "$0.0001");
        assert_eq!(Usd::from_dollars(12.34567).to_string(), "$12.3457");
        assert_eq!(Usd::from_dollars(-0.5).to_string(), "-$0.5000");
    }

    #[test]
    fn amounts_under_a_ten_thousandth_show_two_significant_digits_never_zero() {
        let cases = [
            (0.000_049, "$0.000049"),
            (0.000_012_34, "$0.000012"),
            (0.000_012_5, "$0.000013"),
            (0.000_01, "$0.00001"),
            (0.000_000_003, "$0.000000003"),
            (0.000_000_001, "$0.000000001"),
            (0.000_099_6, "$0.0001"),
            (-0.000_002_5, "-$0.0000025"),
        ];
        for (dollars, expected) in cases {
            assert_eq!(
                Usd::from_dollars(dollars).to_string(),
                expected,
                "{dollars}"
            );
        }
        assert_eq!(Usd::ZERO.to_string(), "$0.0000", "zero is still zero");
    }

    #[test]
    fn prices_tokens_per_thousand() {
        assert_eq!(Usd::for_tokens(0.003, 1_500).to_string(), "$0.0045");
        assert_eq!(Usd::for_tokens(0.000_15, 7).nanos(), 1_050);
        assert_eq!(Usd::for_tokens(0.01, 0), Usd::ZERO);
    }

    #[test]
    fn json_holds_dollars_and_reads_back_exactly() {
        let budget = Usd::from_dollars(2.5);
        assert_eq!(serde_json::to_string(&budget).unwrap(), "2.5");
        let tiny = Usd::from_nanos(1);
        let read: Usd = serde_json::from_str(&serde_json::to_string(&tiny).unwrap()).unwrap();
        assert_eq!(read, tiny);
        let error = serde_json::from_str::<Usd>("1e300")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not an amount of dollars"), "{error}");
    }

    #[test]
    fn keeps_per_token_prices_exactly() {
        let price = Usd::from_dollars(0.000_003);
        assert_eq!(price.nanos(), 3_000);
        assert_eq!((price + price - price).dollars(), 0.000_003);
    }
}
