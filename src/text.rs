//! Rules about text that several layers must apply the same way: what a word
//! character is, a rough token count, case-insensitive search, and numbers
//! written as decimals.
//!
//! They avoid Rust's Unicode tables where the app bundle would pay for them:
//! a word character is anything but whitespace and ASCII punctuation (so
//! letters of every script count without the alphabetic tables), and case
//! folding in the browser is JavaScript's `toLowerCase`.

/// `1234567` → `"1,234,567"`: every count a person reads, in the views and
/// in error messages alike.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// How many characters of an answer a history card shows.
pub const PREVIEW_CHARS: usize = 200;

/// The start of `text`: at most [`PREVIEW_CHARS`] characters, with `…` when
/// there is more.
pub fn preview(text: &str) -> String {
    // Exactly as long as it needs: a history holds one preview per cold run
    // (100,000 of them), and a collected String would hold up to twice that.
    let end = text
        .char_indices()
        .nth(PREVIEW_CHARS)
        .map_or(text.len(), |(end, _)| end);
    let mut preview = String::with_capacity(end + if end < text.len() { 3 } else { 0 });
    preview.push_str(&text[..end]);
    if end < text.len() {
        preview.push('…');
    }
    preview
}

/// Whether `character` belongs to a word: anything but whitespace and ASCII
/// punctuation. Letters and digits of every script are word characters, and so
/// are non-ASCII symbols (`—`, `€`), which keeps the rule table-free.
pub fn is_word_char(character: char) -> bool {
    !(character.is_whitespace() || character.is_ascii_punctuation())
}

/// A rough count of the tokens in `text`, for estimates made before a model
/// has counted: each run of word characters ([`is_word_char`]) is one token,
/// and so is every other character that is not whitespace. `Hello, world!` is
/// four tokens. Real tokenizers differ (they split long words), so this is an
/// estimate to plan with, never a count to bill by.
pub fn estimate_tokens(text: &str) -> u64 {
    let mut tokens = 0;
    let mut in_word = false;
    for character in text.chars() {
        let word = is_word_char(character);
        if word && !in_word || !word && !character.is_whitespace() {
            tokens += 1;
        }
        in_word = word;
    }
    tokens
}

/// The line and column of byte `offset` in `text`, both counted from 1 as a
/// person does; the column in characters. An offset past the end, or inside a
/// character, counts up to the last whole character before it.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// `value` with `decimals` digits after the point, rounded half to even:
/// `fixed(48.25, 1)` is `"48.2"`, `fixed(66.7, 0)` is `"67"`, as
/// `format!("{value:.1}")` writes them.
///
/// Written here because core's float formatting (Grisu with a Dragon4
/// fallback and its bignum arithmetic) costs the app ~13 KB of wasm for a
/// handful of figures on screen. The value is scaled to an integer first,
/// so a value a hair's breadth from a tie may round the other way than
/// core's exact decimal expansion would (`0.15` is `"0.2"` here); for figures
/// a person reads that is the same number. Beyond 2^64 / 10^decimals the
/// integer part saturates.
pub fn fixed(value: f64, decimals: u32) -> String {
    if !value.is_finite() {
        return shortest(value);
    }
    let scale = 10_u64.pow(decimals);
    // `as` saturates; f64's own ties-even rounding is one instruction in wasm.
    let scaled = (value.abs() * scale as f64).round_ties_even() as u64;
    let sign = if value < 0.0 && scaled != 0 { "-" } else { "" };
    let whole = scaled / scale;
    match decimals {
        0 => format!("{sign}{whole}"),
        _ => format!(
            "{sign}{whole}.{:0width$}",
            scaled % scale,
            width = decimals as usize
        ),
    }
}

/// The shortest decimal that reads back as `value`, without an exponent:
/// `"0.7"`, `"3"`, `"0.000012"`, as `value.to_string()` writes it.
///
/// The digits come from zmij, the float formatter serde_json already brings
/// into the bundle, rather than core's (see [`fixed`]); zmij writes large and
/// tiny values with an exponent (`1.2e-5`) and whole ones with `.0`, which
/// this undoes.
pub fn shortest(value: f64) -> String {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format(value);
    if !value.is_finite() {
        return text.to_owned();
    }
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (mantissa, exponent) = match text.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i32 + exponent;
    let mut plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    if plain.contains('.') {
        plain.truncate(plain.trim_end_matches('0').trim_end_matches('.').len());
    }
    let plain = plain.trim_start_matches('0');
    match plain {
        "" => format!("{sign}0"),
        _ if plain.starts_with('.') => format!("{sign}0{plain}"),
        _ => format!("{sign}{plain}"),
    }
}

/// Text to find in other text ignoring case, by Unicode's lowercase mapping.
///
/// In the browser the mapping is JavaScript's `toLowerCase`, the same rules
/// without Rust's Unicode case tables (~15 KB) in the app bundle; natively it
/// is `str::to_lowercase`.
#[derive(Clone, Debug)]
pub struct CaseInsensitive {
    lowercase: String,
}

impl CaseInsensitive {
    /// A search for `needle`, ignoring case.
    pub fn new(needle: &str) -> CaseInsensitive {
        #[cfg(target_arch = "wasm32")]
        let lowercase = browser_lowercase(needle).into();
        #[cfg(not(target_arch = "wasm32"))]
        let lowercase = needle.to_lowercase();
        CaseInsensitive { lowercase }
    }

    /// Whether `haystack` contains the needle, ignoring case.
    pub fn found_in(&self, haystack: &str) -> bool {
        #[cfg(target_arch = "wasm32")]
        {
            browser_lowercase(haystack).includes(&self.lowercase, 0)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            haystack.to_lowercase().contains(&self.lowercase)
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn browser_lowercase(text: &str) -> js_sys::JsString {
    js_sys::JsString::from(text).to_lower_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_writes_what_core_writes() {
        for (value, decimals) in [
            (48.25, 1),
            (48.35, 1),
            (0.0, 1),
            (-0.04, 1),
            (-2.5, 0),
            (66.666, 0),
            (99.96, 1),
            (12_345_678.9, 2),
            (1e-9, 3),
            (7.0, 3),
        ] {
            assert_eq!(
                fixed(value, decimals),
                format!("{value:.*}", decimals as usize).replace("-0.0", "0.0"),
                "{value} to {decimals} decimals"
            );
        }
        assert_eq!(fixed(-0.04, 1), "0.0", "no negative zero on screen");
        assert_eq!(fixed(f64::NAN, 1), "NaN");
        assert_eq!(fixed(f64::NEG_INFINITY, 1), "-inf");
    }

    #[test]
    fn shortest_writes_what_core_writes() {
        for value in [
            0.7,
            3.0,
            -3.0,
            0.0,
            -0.0,
            0.000012,
            1.2e-7,
            0.1 + 0.2,
            123_456.789,
            1e21,
            1.5e300,
            -2.5e-12,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(shortest(value), value.to_string(), "{value:e}");
        }
    }

    #[test]
    fn counts_words_and_each_other_mark() {
        assert_eq!(estimate_tokens("Hello, world!"), 4);
        assert_eq!(estimate_tokens("It's 2024."), 5);
        assert_eq!(estimate_tokens("   \n\t"), 0);
        assert_eq!(estimate_tokens("naïve café"), 2);
        assert_eq!(estimate_tokens("日本語 text"), 2);
        assert_eq!(estimate_tokens(""), 0);
    }

    #[test]
    fn word_characters_are_all_but_spaces_and_ascii_punctuation() {
        for word in ['a', 'Z', '7', 'é', 'ж', '日', '€'] {
            assert!(is_word_char(word), "{word:?}");
        }
        for other in [' ', '\n', '\u{a0}', ',', '.', '\'', '{', '-'] {
            assert!(!is_word_char(other), "{other:?}");
        }
    }

    #[test]
    fn places_an_offset_by_line_and_character_column() {
        let text = "ab\ncé{x\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 3), (2, 1));
        assert_eq!(line_and_column(text, text.find('{').unwrap()), (2, 3));
        assert_eq!(line_and_column(text, 5), (2, 2), "inside é: before it");
        assert_eq!(line_and_column(text, 99), (3, 1));
    }

    #[test]
    fn finds_text_ignoring_case_across_scripts() {
        assert!(CaseInsensitive::new("PARIS").found_in("The capital is Paris."));
        assert!(CaseInsensitive::new("straße").found_in("STRASSE? no: Straße"));
        assert!(CaseInsensitive::new("ΣΟΦΊΑ").found_in("σοφία"));
        assert!(!CaseInsensitive::new("london").found_in("Paris"));
        assert!(CaseInsensitive::new("").found_in("anything"));
    }
}
