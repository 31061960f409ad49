//! Counting tokens the same way everywhere the gateway has no provider's count.
//!
//! A token is a run of letters or digits, or one other non-space character:
//! `Hello, world!` is four tokens. Real tokenizers differ, but this counts
//! honestly what was sent and produced rather than guessing from length.

/// The tokens of `text`, each with the spaces that follow it, so that the
/// pieces, streamed one after another, rebuild the text exactly.
pub fn split(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut previous_in_word = false;
    for (index, character) in text.char_indices() {
        let in_word = character.is_alphanumeric();
        if !(character.is_whitespace() || in_word && previous_in_word) {
            starts.push(index);
        }
        previous_in_word = in_word;
    }
    if let Some(first) = starts.first_mut() {
        *first = 0; // leading spaces travel with the first token
    }
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| &text[start..end])
        .collect()
}

/// How many tokens `text` holds.
pub fn count(text: &str) -> u64 {
    split(text).len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_punctuation_are_tokens_and_rejoin_to_the_text() {
        let text = "Hello, world!  It's 2024.";
        let pieces = split(text);
        assert_eq!(pieces.concat(), text);
        assert_eq!(count("Hello, world!"), 4);
        assert_eq!(count("It's"), 3);
        assert_eq!(count("   "), 0);
        assert_eq!(count("naïve café"), 2);
    }
}
