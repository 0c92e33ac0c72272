//! Reads the invocation the Functions host sends today in one pass over its bytes:
//! `{"Data": {"<binding>": "<the event, JSON-encoded twice>"}, "Metadata": {...}}` (docs/answers.md).
//!
//! Decoding that string the general way takes three passes of a JSON parser over it (skip it
//! to find its end, unescape it, unescape the result again), and the escapes are dense: every
//! quote of the event arrives as four bytes. Here both levels of escapes come off together while
//! the string is read, and the members around it are only checked, never copied.
//!
//! This reader only says yes when it is sure. Any other shape, and anything odd (an escaped
//! key, a `\u` escape outside the event's own strings, a control character, invalid UTF-8, a
//! second member in `Data`), gives `None`, and [`super::custom_handler::event_body`] reads the
//! invocation the general way, which also words every error. The two agree on every input they
//! both accept (checked by `tests/never_panics_host.rs` and the tests below).

use serde::de::IgnoredAny;

/// `Data`'s name, and the lower-case alias the general reader also accepts.
const DATA_KEYS: [&str; 2] = ["Data", "data"];

/// The binding name and the event's JSON text, when `invocation` has the host's usual shape.
pub(super) fn read(invocation: &[u8]) -> Option<(&str, String)> {
    let mut cursor = Cursor {
        bytes: invocation,
        at: 0,
    };
    cursor.expect(b'{')?;
    let mut input = None;
    if cursor.peek()? == b'}' {
        return None;
    }
    loop {
        let key = cursor.key()?;
        if DATA_KEYS.contains(&key) {
            if input.is_some() {
                return None;
            }
            input = Some(cursor.data()?);
        } else {
            cursor.skip_value()?;
        }
        match cursor.next_byte()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    cursor.skip_whitespace();
    if cursor.at != invocation.len() {
        return None;
    }
    input
}

/// A position in the invocation's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte that is not whitespace, without taking it.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    /// Takes the next byte that is not whitespace.
    fn next_byte(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, wanted: u8) -> Option<()> {
        (self.next_byte()? == wanted).then_some(())
    }

    /// A member's name and its colon; names with escapes are left to the general reader.
    fn key(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let end = start + plain_run_len(&self.bytes[start..]);
        if *self.bytes.get(end)? != b'"' {
            return None;
        }
        self.at = end + 1;
        self.expect(b':')?;
        std::str::from_utf8(&self.bytes[start..end]).ok()
    }

    /// Skips one JSON value, checked as thoroughly as the general reader checks it.
    fn skip_value(&mut self) -> Option<()> {
        let rest = &self.bytes[self.at..];
        let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<IgnoredAny>();
        values.next()?.ok()?;
        self.at += values.byte_offset();
        Some(())
    }

    /// `Data`'s object with its one member: the binding name and the event it holds.
    fn data(&mut self) -> Option<(&'a str, String)> {
        self.expect(b'{')?;
        let binding = self.key()?;
        self.expect(b'"')?;
        let (event, length) = decode_twice(&self.bytes[self.at..])?;
        self.at += length;
        self.expect(b'}')?;
        Some((binding, event))
    }
}

/// Decodes a JSON string whose text is itself a JSON string: `raw` starts just after the outer
/// opening quote; the answer is the inner string's text and how many bytes of `raw` it took,
/// closing quote included. Each escape of the outer string is read with the one after it, so
/// `\\\"` is the event's `"` and `\\n` its line break.
///
/// Plain bytes move eight at a time: each word is appended whole and the text cut back to where
/// the first escape in it starts, so a short run costs no call to `memcpy`. The three escapes an
/// indented event is made of are told by their bytes read as one number; the rest are read one
/// by one.
fn decode_twice(raw: &[u8]) -> Option<(String, usize)> {
    // The outer text must begin with the inner string's opening quote, escaped.
    if !raw.starts_with(b"\\\"") {
        return None;
    }
    // Room for the last word appended whole: the text is never longer than `raw`.
    let mut text = Vec::with_capacity(raw.len() + WORD);
    let mut at = 2;
    loop {
        match raw.get(at..at + WORD) {
            Some(chunk) => {
                let word = u64::from_le_bytes(chunk.try_into().ok()?);
                text.extend_from_slice(&word.to_le_bytes());
                let stops = needs_decoding(word);
                if stops == 0 {
                    at += WORD;
                    continue;
                }
                let plain = stops.trailing_zeros() as usize / 8;
                text.truncate(text.len() - WORD + plain);
                at += plain;
            }
            None => {
                let run = plain_run_len(&raw[at..]);
                text.extend_from_slice(&raw[at..at + run]);
                at += run;
            }
        }
        // A plain run ends at a backslash, or at a quote or control character the inner
        // string does not allow here.
        match raw
            .get(at..at + 4)
            .map(|four| u32::from_le_bytes([four[0], four[1], four[2], four[3]]))
        {
            Some(ESCAPED_QUOTE) => {
                text.push(b'"');
                at += 4;
            }
            Some(four) if four & 0x00ff_ffff == ESCAPED_LINE_BREAK => {
                text.push(b'\n');
                at += 3;
            }
            Some(ESCAPED_BACKSLASH) => {
                text.push(b'\\');
                at += 4;
            }
            _ => match escape(raw, at, &mut text)? {
                Escape::Read(length) => at += length,
                Escape::End => return String::from_utf8(text).ok().map(|text| (text, at + 3)),
            },
        }
    }
}

/// Bytes per word of plain text.
const WORD: usize = 8;
/// `\\\"`, the event's quote, as four bytes read little-endian.
const ESCAPED_QUOTE: u32 = u32::from_le_bytes(*b"\\\\\\\"");
/// `\\n`, the event's line break, as the low three of four bytes read little-endian.
const ESCAPED_LINE_BREAK: u32 = u32::from_le_bytes(*b"\\\\n\0");
/// `\\\\`, the event's backslash, as four bytes read little-endian.
const ESCAPED_BACKSLASH: u32 = u32::from_le_bytes(*b"\\\\\\\\");

/// What the escape at `raw[at]` gave.
enum Escape {
    /// It was decoded into the text and took this many bytes.
    Read(usize),
    /// It was the inner string's closing quote, `\"`, which ended the outer string too.
    End,
}

/// Any escape but the three [`decode_twice`] tells at a glance; `None` for anything the
/// general reader must decode or word.
fn escape(raw: &[u8], at: usize, text: &mut Vec<u8>) -> Option<Escape> {
    if *raw.get(at)? != b'\\' {
        return None;
    }
    let escaped = *raw.get(at + 1)?;
    if escaped == b'\\' {
        // `\\`: the inner string's backslash; the inner escape's letter follows.
        let letter = *raw.get(at + 2)?;
        if letter == b'\\' {
            // `\\\\`, `\\\"`, `\\\/`: the event's backslash, quote or slash.
            let character = *raw.get(at + 3)?;
            if !matches!(character, b'\\' | b'"' | b'/') {
                return None;
            }
            text.push(character);
            Some(Escape::Read(4))
        } else if letter == b'u' {
            // Surrogates (characters outside the BMP) are left to the general reader.
            let code = char::from_u32(hex4(raw.get(at + 3..at + 7)?)?)?;
            text.extend_from_slice(code.encode_utf8(&mut [0; 4]).as_bytes());
            Some(Escape::Read(7))
        } else {
            text.push(short_escape(letter)?);
            Some(Escape::Read(3))
        }
    } else if escaped == b'"' {
        // `\"`: the inner string's closing quote, which must end the outer string too.
        (*raw.get(at + 2)? == b'"').then_some(Escape::End)
    } else if escaped == b'/' {
        text.push(b'/');
        Some(Escape::Read(2))
    } else {
        // Any other escape of the outer string gives the inner string a control character
        // (invalid there) or a `\u` escape: the general reader words the error or decodes it.
        None
    }
}

/// What a one-letter JSON escape (`\n`, `\t`, ...) stands for, from a table.
fn short_escape(letter: u8) -> Option<u8> {
    const TABLE: [u8; 128] = {
        let mut table = [0; 128];
        table[b'n' as usize] = b'\n';
        table[b't' as usize] = b'\t';
        table[b'r' as usize] = b'\r';
        table[b'b' as usize] = 0x08;
        table[b'f' as usize] = 0x0c;
        table[b'/' as usize] = b'/';
        table
    };
    TABLE
        .get(usize::from(letter))
        .copied()
        .filter(|&byte| byte != 0)
}

/// Four hex digits, as in `\u00e9`.
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |value, &digit| {
        Some(value * 16 + char::from(digit).to_digit(16)?)
    })
}

/// How many bytes from the start of `bytes` need no decoding inside a JSON string: up to the
/// first `"`, `\` or control character. Eight bytes at a time (the bit trick serde_json's own
/// string scanner uses), then byte by byte for the tail.
fn plain_run_len(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(WORD);
    let mut at = 0;
    for chunk in &mut chunks {
        let found = needs_decoding(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        if found != 0 {
            return at + found.trailing_zeros() as usize / 8;
        }
        at += WORD;
    }
    at + chunks
        .remainder()
        .iter()
        .position(|&byte| matches!(byte, b'"' | b'\\' | 0..=0x1f))
        .unwrap_or(chunks.remainder().len())
}

/// The high bit of each byte of `word` (read little-endian) that is a `"`, a `\\` or a control
/// character, and of some bytes after the first such one; zero when there is none.
fn needs_decoding(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    const HIGH_BITS: u64 = ONES << 7;
    let has_byte = |byte: u8| {
        let zero_where_equal = word ^ (ONES * u64::from(byte));
        zero_where_equal.wrapping_sub(ONES) & !zero_where_equal
    };
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (control | has_byte(b'"') | has_byte(b'\\')) & HIGH_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(text: &str) -> String {
        serde_json::to_string(text).unwrap()
    }

    fn invocation(event: &str) -> String {
        format!(
            r#"{{"Data":{{"event":{}}},"Metadata":{{"sys":{{"MethodName":"RunCompleted"}}}}}}"#,
            encode(&encode(event))
        )
    }

    #[test]
    fn reads_the_double_encoded_event() {
        let event = "{\n  \"id\": \"a\\\"b\",\n  \"x\": \"\\u00e9\\t/\\\\\"\n}";
        let body = invocation(event);
        assert_eq!(read(body.as_bytes()), Some(("event", event.to_owned())));
    }

    #[test]
    fn decodes_every_character_as_serde_json_does() {
        let characters = (0..0x800)
            .chain([0x2028, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x1f600])
            .filter_map(char::from_u32);
        for character in characters {
            let text = format!("a{character}b\"\\/");
            let twice = encode(&encode(&text));
            let decoded = decode_twice(&twice.as_bytes()[1..]);
            // Characters outside the BMP are fine unescaped; `\u` surrogate pairs are not ours.
            assert_eq!(decoded, Some((text, twice.len() - 1)), "{character:?}");
        }
    }

    #[test]
    fn leaves_other_shapes_to_the_general_reader() {
        let event = encode(&encode("{}"));
        let cases = [
            "{\"Data\":{\"event\":\"{}\"}}".to_owned(),
            "{\"Data\":{\"event\":{}}}".to_owned(),
            format!("{{\"Data\":{{\"a\":{event},\"b\":{event}}}}}"),
            format!("{{\"Data\":{{\"event\":{event}}},\"data\":{{}}}}"),
            format!("{{\"D\\u0061ta\":{{\"event\":{event}}}}}"),
            format!("{{\"Data\":{{\"event\":{event}}}}} x"),
            format!("{{\"Data\":{{\"event\":{event}}},\"Metadata\":{{]}}"),
            format!("[{{\"Data\":{{\"event\":{event}}}}}]"),
            r#"{"Data":{"event":"\"\\ud83d\\ude00\""}}"#.to_owned(),
            r#"{"Data":{"event":"\"a\nb\""}}"#.to_owned(),
            r#"{"Data":{"event":"\"a\" "}}"#.to_owned(),
            "{}".to_owned(),
        ];
        for case in cases {
            assert_eq!(read(case.as_bytes()), None, "{case}");
        }
    }

    #[test]
    fn plain_runs_stop_at_what_needs_decoding() {
        for (text, length) in [
            ("", 0),
            ("abc", 3),
            ("abcdefghij\"", 10),
            ("abcdefgh\\", 8),
            ("ab\ncd", 2),
            ("héllo wörld, long enough", 26),
        ] {
            assert_eq!(plain_run_len(text.as_bytes()), length, "{text:?}");
        }
    }
}
