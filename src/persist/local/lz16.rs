//! Reading lz-string's UTF-16 format (`LZString.compressToUTF16`, written by
//! the `lz-str` crate when a run is saved) fast enough for startup.
//!
//! `lz-str`'s own decoder keeps its dictionary as a vector of vectors and
//! clones an entry for every code, which made decompressing the dominant cost
//! of loading a history (~25 times the JSON parsing). Here every dictionary
//! entry is a range of the output already written (in LZW each entry is a
//! previous output plus one character, and that output is contiguous), so
//! decoding allocates nothing per code.

/// Each UTF-16 unit carries 15 bits, offset by 32 to stay printable.
const BITS_PER_UNIT: u32 = 15;
const UNIT_OFFSET: u16 = 32;

/// Codes below the dictionary: an 8-bit character follows, a 16-bit one
/// follows, the end of the stream.
const CHAR8: u32 = 0;
const CHAR16: u32 = 1;
const END: u32 = 2;

/// The text `compressed` holds, or `None` when it is not lz-string UTF-16
/// data (damaged, truncated, or not UTF-16 text once decoded).
pub fn decompress_utf16(compressed: &str) -> Option<String> {
    String::from_utf16(&decompress_units(compressed)?).ok()
}

fn decompress_units(compressed: &str) -> Option<Vec<u16>> {
    let mut bits = BitReader::new(compressed);
    // Compressed units are mostly 3 bytes of UTF-8 and text compresses about
    // 3:1, so the byte length is close to the output's length in units.
    let mut output: Vec<u16> = Vec::with_capacity(compressed.len());
    let first = match bits.read(2)? {
        CHAR8 => bits.read(8)?,
        CHAR16 => bits.read(16)?,
        END => return Some(output),
        _ => return None,
    };
    output.push(first as u16);
    // Entries 0–2 stand for the codes above and are never looked up.
    let mut dictionary: Vec<Span> = vec![Span::EMPTY; 3];
    dictionary.push(Span { start: 0, len: 1 });
    let mut previous = Span { start: 0, len: 1 };
    let mut code_bits = 3;
    let mut codes_until_wider = 4u64;

    loop {
        let entry = match bits.read(code_bits)? {
            code @ (CHAR8 | CHAR16) => {
                let character = bits.read(if code == CHAR8 { 8 } else { 16 })?;
                let literal = Span {
                    start: output.len(),
                    len: 1,
                };
                output.push(character as u16);
                dictionary.push(literal);
                codes_until_wider -= 1;
                if codes_until_wider == 0 {
                    codes_until_wider = 1 << code_bits;
                    code_bits += 1;
                }
                literal
            }
            END => return Some(output),
            code => {
                let code = code as usize;
                let start = output.len();
                if let Some(known) = dictionary.get(code) {
                    output.extend_from_within(known.range());
                    Span {
                        start,
                        len: known.len,
                    }
                } else if code == dictionary.len() {
                    // The entry being defined right now: the previous one plus its first character.
                    output.extend_from_within(previous.range());
                    output.push(output[previous.start]);
                    Span {
                        start,
                        len: previous.len + 1,
                    }
                } else {
                    return None;
                }
            }
        };
        // The previous entry plus this one's first character: written just
        // before it, so it is the span running one character into it.
        dictionary.push(Span {
            start: previous.start,
            len: previous.len + 1,
        });
        codes_until_wider -= 1;
        previous = entry;
        if codes_until_wider == 0 {
            codes_until_wider = 1 << code_bits;
            code_bits += 1;
        }
    }
}

/// Where a dictionary entry was written in the output.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
}

impl Span {
    const EMPTY: Span = Span { start: 0, len: 0 };

    fn range(self) -> std::ops::Range<usize> {
        self.start..self.start + self.len
    }
}

/// The bits of the units, highest first within each unit, assembled into
/// values lowest bit first (as lz-string writes them).
struct BitReader<'a> {
    units: std::str::EncodeUtf16<'a>,
    /// Bits not yet read, in reading order from the most significant bit.
    pending: u64,
    pending_count: u32,
}

impl BitReader<'_> {
    fn new(text: &str) -> BitReader<'_> {
        BitReader {
            units: text.encode_utf16(),
            pending: 0,
            pending_count: 0,
        }
    }

    /// The next `bit_count` (at most 32) bits as a value, first bit lowest.
    fn read(&mut self, bit_count: u32) -> Option<u32> {
        while self.pending_count < bit_count {
            let bits = self.units.next()?.checked_sub(UNIT_OFFSET)? & ((1 << BITS_PER_UNIT) - 1);
            self.pending |= u64::from(bits) << (64 - BITS_PER_UNIT - self.pending_count);
            self.pending_count += BITS_PER_UNIT;
        }
        let in_reading_order = (self.pending >> (64 - bit_count)) as u32;
        self.pending <<= bit_count;
        self.pending_count -= bit_count;
        // lz-string's reader moves to the next unit as soon as one is used
        // up, and fails when there is none: the writer always ends with a
        // padding unit, so data that ends on a read is damaged, not complete.
        if self.pending_count == 0 && self.units.clone().next().is_none() {
            return None;
        }
        Some(in_reading_order.reverse_bits() >> (32 - bit_count))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_lz_string_writes() {
        for text in [
            "",
            "a",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "{\"id\":\"r1\",\"output\":\"caf\u{e9} \u{2603} \u{1f980} naïve\"}",
            &"The quick brown fox jumps over the lazy dog. ".repeat(200),
        ] {
            let compressed = lz_str::compress_to_utf16(text);
            assert_eq!(decompress_utf16(&compressed).as_deref(), Some(text));
        }
    }

    #[test]
    fn data_that_ends_on_a_read_is_damaged_as_lz_string_says() {
        let text = String::from_utf16(&[32824, 28132]).unwrap();
        assert_eq!(lz_str::decompress_from_utf16(&text), None);
        assert_eq!(decompress_units(&text), None);
    }

    #[test]
    fn reads_codes_wider_than_16_bits() {
        // Varied enough that the dictionary outgrows 2^16 entries.
        let mut state = 7u64;
        let text: String = (0..300_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                char::from_u32(0x4e00 + (state >> 52) as u32 % 2_000).unwrap()
            })
            .collect();
        let compressed = lz_str::compress_to_utf16(&text);
        assert_eq!(decompress_utf16(&compressed), Some(text));
    }

    #[test]
    fn refuses_damaged_and_truncated_data() {
        let compressed = lz_str::compress_to_utf16(&"some text to compress ".repeat(20));
        let half: String = compressed
            .chars()
            .take(compressed.chars().count() / 2)
            .collect();
        assert_eq!(decompress_utf16(&half), None);
        assert_eq!(
            decompress_utf16("\u{1}\u{2}"),
            None,
            "units below the offset"
        );
        assert_eq!(
            decompress_utf16(""),
            None,
            "nothing at all (as lz-string's JavaScript)"
        );
    }

    proptest! {
        #[test]
        fn round_trips_any_text(text in any::<String>()) {
            let compressed = lz_str::compress_to_utf16(&text);
            prop_assert_eq!(decompress_utf16(&compressed), Some(text));
        }

        #[test]
        fn agrees_with_lz_str_on_any_input(units in proptest::collection::vec(32u16..0xd800, 1..64)) {
            // (Found by this test: [32824, 28132], which ends exactly on a read.)
            let text = String::from_utf16(&units).unwrap();
            let theirs = lz_str::decompress_from_utf16(&text);
            let ours = decompress_units(&text);
            prop_assert_eq!(theirs, ours);
        }
    }
}
