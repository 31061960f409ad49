//! A word-level diff of two texts, such as two answers to one prompt.
//!
//! The texts are cut into tokens: runs of word characters (see
//! [`is_word_char`]), runs of whitespace, and single other characters
//! (punctuation). The tokens of each side, joined, are that side's text
//! exactly, so the diff loses nothing: the spans that are the same or added
//! give the new text back, byte for byte.
//!
//! The diff itself is Myers' algorithm in its linear-space form (the middle
//! snake, as in diff-match-patch's `bisect`), written here rather than taken
//! from the `similar` crate: `similar` 3's Myers comes with a preflight layer
//! that added 11.6 KB gzip to the app bundle for this one function, where
//! these 100 lines add about 1 KB. A search that would take more than
//! [`MAX_EDIT_SEARCH`] steps at one level gives up on that stretch and shows
//! it as replaced whole, so two long, wholly different answers cannot freeze
//! the page; the diff stays exact (it still rebuilds both texts), only less
//! fine-grained there.

use crate::text::is_word_char;

/// How many edit steps (D, in Myers' terms) one middle-snake search may try
/// before the stretch is shown as replaced whole. Each step costs time in
/// proportion to the stretch's length, so this bounds a diff of two 10,000-word
/// answers to tens of milliseconds.
pub const MAX_EDIT_SEARCH: usize = 2_000;

/// Whether a span of a diff is in both texts, only the old or only the new.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// In both texts.
    Same,
    /// Only in the old text.
    Removed,
    /// Only in the new text.
    Added,
}

/// A run of text with one kind of change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// Whether it is in both texts, only the old, or only the new.
    pub change: Change,
    /// The text (never empty).
    pub text: String,
}

/// The word-level differences between an old and a new text: spans in
/// reading order, adjacent spans never of the same kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WordDiff {
    spans: Vec<Span>,
}

impl WordDiff {
    /// The diff from `old` to `new`.
    pub fn new(old: &str, new: &str) -> WordDiff {
        let old_tokens = tokens(old);
        let new_tokens = tokens(new);
        let mut builder = Builder {
            spans: Vec::new(),
            removed: String::new(),
            added: String::new(),
        };
        myers(&old_tokens, &new_tokens, &mut builder);
        builder.flush();
        WordDiff {
            spans: builder.spans,
        }
    }

    /// The spans, in reading order.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Whether the two texts are the same.
    pub fn is_unchanged(&self) -> bool {
        self.spans.iter().all(|span| span.change == Change::Same)
    }

    /// The old text, rebuilt from the spans that are the same or removed.
    pub fn old_text(&self) -> String {
        self.side(Change::Removed)
    }

    /// The new text, rebuilt from the spans that are the same or added.
    pub fn new_text(&self) -> String {
        self.side(Change::Added)
    }

    /// Applies the diff to `old` as an edit script: keeps what is the same,
    /// skips what was removed, inserts what was added. `None` when `old` is
    /// not the text the diff was made from.
    pub fn apply(&self, old: &str) -> Option<String> {
        let mut rest = old;
        let mut new = String::with_capacity(old.len());
        for span in &self.spans {
            match span.change {
                Change::Same => {
                    rest = rest.strip_prefix(span.text.as_str())?;
                    new.push_str(&span.text);
                }
                Change::Removed => rest = rest.strip_prefix(span.text.as_str())?,
                Change::Added => new.push_str(&span.text),
            }
        }
        rest.is_empty().then_some(new)
    }

    fn side(&self, other: Change) -> String {
        (self.spans.iter())
            .filter(|span| span.change == Change::Same || span.change == other)
            .map(|span| span.text.as_str())
            .collect()
    }
}

/// Collects the diff's spans as the algorithm reports them. Between two
/// unchanged spans, what was removed is gathered into one span and put before
/// what was added, however the algorithm interleaved them: `[-Paris-]{+Lyon,
/// France+}`, never `{+Lyon+}[-Paris-]{+, France+}`.
struct Builder {
    spans: Vec<Span>,
    removed: String,
    added: String,
}

impl Builder {
    /// Ends the current stretch of changes.
    fn flush(&mut self) {
        for (change, text) in [
            (Change::Removed, std::mem::take(&mut self.removed)),
            (Change::Added, std::mem::take(&mut self.added)),
        ] {
            if !text.is_empty() {
                self.spans.push(Span { change, text });
            }
        }
    }

    fn same(&mut self, tokens: &[&str]) {
        if tokens.is_empty() {
            return;
        }
        self.flush();
        match self.spans.last_mut() {
            Some(last) if last.change == Change::Same => last.text.extend(tokens.iter().copied()),
            _ => self.spans.push(Span {
                change: Change::Same,
                text: tokens.concat(),
            }),
        }
    }

    fn removed(&mut self, tokens: &[&str]) {
        self.removed.extend(tokens.iter().copied());
    }

    fn added(&mut self, tokens: &[&str]) {
        self.added.extend(tokens.iter().copied());
    }
}

/// Reports a shortest edit script from `old` to `new` to `out`, in reading
/// order: common ends first, then the middle split at a point of an optimal
/// path and each side diffed the same way.
fn myers(old: &[&str], new: &[&str], out: &mut Builder) {
    let prefix = common_prefix(old, new);
    out.same(&old[..prefix]);
    let (old, new) = (&old[prefix..], &new[prefix..]);
    let suffix = common_prefix_from_end(old, new);
    let (middle_old, middle_new) = (&old[..old.len() - suffix], &new[..new.len() - suffix]);
    if middle_old.is_empty() || middle_new.is_empty() {
        out.removed(middle_old);
        out.added(middle_new);
    } else {
        match middle_snake(middle_old, middle_new) {
            Some((x, y)) => {
                myers(&middle_old[..x], &middle_new[..y], out);
                myers(&middle_old[x..], &middle_new[y..], out);
            }
            None => {
                out.removed(middle_old);
                out.added(middle_new);
            }
        }
    }
    out.same(&old[old.len() - suffix..]);
}

fn common_prefix(old: &[&str], new: &[&str]) -> usize {
    old.iter().zip(new).take_while(|(a, b)| a == b).count()
}

fn common_prefix_from_end(old: &[&str], new: &[&str]) -> usize {
    (old.iter().rev().zip(new.iter().rev()))
        .take_while(|(a, b)| a == b)
        .count()
}

/// A point (x in `old`, y in `new`) on a shortest edit path, strictly inside
/// it, found by searching forward from the start and backward from the end
/// until the two searches meet (Myers 1986, §4b). `None` when they have not
/// met within [`MAX_EDIT_SEARCH`] steps. Both texts are non-empty and differ
/// at both ends.
fn middle_snake(old: &[&str], new: &[&str]) -> Option<(usize, usize)> {
    let (n, m) = (old.len() as isize, new.len() as isize);
    let max_d = (n + m + 1) / 2;
    let offset = max_d;
    let length = 2 * max_d + 2;
    // The furthest x reached on each diagonal k = x - y, forward (`ahead`)
    // and backward from the end (`behind`, as a distance from the end).
    let mut ahead = vec![-1isize; length as usize];
    let mut behind = vec![-1isize; length as usize];
    ahead[(offset + 1) as usize] = 0;
    behind[(offset + 1) as usize] = 0;
    let delta = n - m;
    // With an odd delta the forward search meets the backward one; with an even one, the reverse.
    let forward_meets = delta % 2 != 0;
    let (mut k1_start, mut k1_end, mut k2_start, mut k2_end) = (0, 0, 0, 0);
    for d in 0..max_d.min(MAX_EDIT_SEARCH as isize) {
        let mut k1 = -d + k1_start;
        while k1 <= d - k1_end {
            let index = (offset + k1) as usize;
            let mut x1 = if k1 == -d || (k1 != d && ahead[index - 1] < ahead[index + 1]) {
                ahead[index + 1]
            } else {
                ahead[index - 1] + 1
            };
            let mut y1 = x1 - k1;
            while x1 < n && y1 < m && old[x1 as usize] == new[y1 as usize] {
                x1 += 1;
                y1 += 1;
            }
            ahead[index] = x1;
            if x1 > n {
                k1_end += 2; // ran off the right edge
            } else if y1 > m {
                k1_start += 2; // ran off the bottom edge
            } else if forward_meets {
                let other = offset + delta - k1;
                if (0..length).contains(&other) && behind[other as usize] != -1 {
                    let x2 = n - behind[other as usize];
                    if x1 >= x2 {
                        return Some((x1 as usize, y1 as usize));
                    }
                }
            }
            k1 += 2;
        }
        let mut k2 = -d + k2_start;
        while k2 <= d - k2_end {
            let index = (offset + k2) as usize;
            let mut x2 = if k2 == -d || (k2 != d && behind[index - 1] < behind[index + 1]) {
                behind[index + 1]
            } else {
                behind[index - 1] + 1
            };
            let mut y2 = x2 - k2;
            while x2 < n && y2 < m && old[(n - x2 - 1) as usize] == new[(m - y2 - 1) as usize] {
                x2 += 1;
                y2 += 1;
            }
            behind[index] = x2;
            if x2 > n {
                k2_end += 2;
            } else if y2 > m {
                k2_start += 2;
            } else if !forward_meets {
                let other = offset + delta - k2;
                if (0..length).contains(&other) && ahead[other as usize] != -1 {
                    let x1 = ahead[other as usize];
                    let y1 = offset + x1 - other;
                    if x1 >= n - x2 {
                        return Some((x1 as usize, y1 as usize));
                    }
                }
            }
            k2 += 2;
        }
    }
    None
}

/// `text` cut into words, runs of whitespace and single other characters,
/// which joined give `text` back.
fn tokens(text: &str) -> Vec<&str> {
    #[derive(PartialEq)]
    enum Kind {
        Word,
        Space,
        Mark,
    }
    let kind = |character: char| {
        if is_word_char(character) {
            Kind::Word
        } else if character.is_whitespace() {
            Kind::Space
        } else {
            Kind::Mark
        }
    };
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut previous: Option<Kind> = None;
    for (index, character) in text.char_indices() {
        let current = kind(character);
        let joins = current != Kind::Mark && previous.as_ref() == Some(&current);
        if !joins && index > start {
            tokens.push(&text[start..index]);
            start = index;
        }
        previous = Some(current);
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

// Native only: proptest is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spans(diff: &WordDiff) -> Vec<(Change, &str)> {
        (diff.spans().iter())
            .map(|span| (span.change, span.text.as_str()))
            .collect()
    }

    #[test]
    fn cuts_words_spaces_and_marks() {
        assert_eq!(
            tokens("Hello,  world!\nIt's café"),
            ["Hello", ",", "  ", "world", "!", "\n", "It", "'", "s", " ", "café"]
        );
        assert_eq!(tokens("..."), [".", ".", "."]);
        assert!(tokens("").is_empty());
    }

    #[test]
    fn marks_the_changed_words_only() {
        let diff = WordDiff::new("The capital is Paris.", "The capital is Lyon, France.");
        assert_eq!(
            spans(&diff),
            [
                (Change::Same, "The capital is "),
                (Change::Removed, "Paris"),
                (Change::Added, "Lyon, France"),
                (Change::Same, "."),
            ]
        );
        assert!(!diff.is_unchanged());
        assert!(WordDiff::new("same text", "same text").is_unchanged());
        assert_eq!(spans(&WordDiff::new("", "new")), [(Change::Added, "new")]);
        assert_eq!(spans(&WordDiff::new("old", "")), [(Change::Removed, "old")]);
        assert!(WordDiff::new("", "").spans().is_empty());
    }

    #[test]
    fn refuses_to_apply_to_another_text() {
        let diff = WordDiff::new("a b c", "a x c");
        assert_eq!(diff.apply("a b c").as_deref(), Some("a x c"));
        assert_eq!(diff.apply("a q c"), None);
        assert_eq!(diff.apply("a b c d"), None);
    }

    #[test]
    fn wholly_different_long_texts_still_diff_exactly() {
        let words = |prefix: &str| {
            (0..6_000)
                .map(|i| format!("{prefix}{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let (old, new) = (words("a"), words("b"));
        let diff = WordDiff::new(&old, &new);
        assert_eq!(diff.apply(&old), Some(new));
        assert_eq!(diff.old_text(), old);
    }

    /// Texts made of a few words, spaces and marks, so that two of them share
    /// enough to make interesting diffs.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("the"),
            Just("cat"),
            Just("sat"),
            Just("café"),
            Just("日本"),
            Just(" "),
            Just("  "),
            Just("\n"),
            Just("\r\n"),
            Just(","),
            Just("."),
            Just("'"),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    /// The length of a longest common subsequence of two token lists, by
    /// dynamic programming: the reference a shortest diff must match.
    fn lcs_length(old: &[&str], new: &[&str]) -> usize {
        let mut row = vec![0usize; new.len() + 1];
        for a in old {
            let mut diagonal = 0;
            for (j, b) in new.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = if a == b {
                    diagonal + 1
                } else {
                    above.max(row[j])
                };
                diagonal = above;
            }
        }
        row[new.len()]
    }

    proptest! {
        #[test]
        fn the_diff_keeps_a_longest_common_subsequence(old in text(), new in text()) {
            let diff = WordDiff::new(&old, &new);
            let kept: usize = (diff.spans().iter())
                .filter(|span| span.change == Change::Same)
                .map(|span| tokens(&span.text).len())
                .sum();
            prop_assert_eq!(kept, lcs_length(&tokens(&old), &tokens(&new)));
        }

        #[test]
        fn applying_the_diff_to_the_old_text_gives_the_new(old in text(), new in text()) {
            let diff = WordDiff::new(&old, &new);
            prop_assert_eq!(diff.apply(&old), Some(new.clone()));
            prop_assert_eq!(diff.old_text(), old.clone());
            prop_assert_eq!(diff.new_text(), new.clone());
            prop_assert_eq!(diff.is_unchanged(), old == new);
            for pair in diff.spans().windows(2) {
                prop_assert_ne!(pair[0].change, pair[1].change);
            }
            prop_assert!(diff.spans().iter().all(|span| !span.text.is_empty()));
        }

        #[test]
        fn any_unicode_text_round_trips(old in "\\PC{0,60}", new in "\\PC{0,60}") {
            let diff = WordDiff::new(&old, &new);
            prop_assert_eq!(diff.apply(&old), Some(new.clone()));
            prop_assert_eq!(diff.old_text(), old);
        }
    }
}
