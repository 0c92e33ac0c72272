//! Tags and properties, kept as the JSON text they arrived in. Functions echo them into
//! notifications far more often than they read them, and building a map of every run
//! property (some hold whole JSON documents as text) was a large share of reading an event.
//!
//! The text is taken only if serde_json can parse it again, so that [`RawObject::to_map`] never
//! comes back empty for an object that is not (SPEC §6.1). serde_json keeps a raw value without
//! counting its depth, checking its numbers' range or pairing its `\u` surrogates, all of which
//! parsing it does; an object that would fail there is refused when read, naming the field
//! (`data.runTags`). One scan of the bytes settles the usual object; only one that nests very
//! deep, or holds a huge number or a surrogate escape, is parsed to be sure.
//!
//! It does not parse the object for reading it, and does not rewrite it in any way.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Value, value::RawValue};

/// A JSON object, checked on reading and parsed only when asked.
#[derive(Clone)]
pub struct RawObject(Box<RawValue>);

impl RawObject {
    /// The object's JSON text, as it arrived.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The object, parsed.
    pub fn to_map(&self) -> Map<String, Value> {
        // Reading took only text that serde_json parses into a map (see `check`), so this
        // cannot fail; an empty map here would silently drop what the sender wrote.
        serde_json::from_str(self.0.get())
            .expect("a RawObject is only made from text that serde_json parses into a map")
    }

    /// One member's value, parsed; `None` when absent.
    pub fn value(&self, key: &str) -> Option<Value> {
        self.to_map().remove(key)
    }

    /// One member's value when it is a string (tags and run properties are).
    pub fn str_value(&self, key: &str) -> Option<String> {
        match self.value(key)? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

impl PartialEq for RawObject {
    /// Objects are equal when their members are, whatever the spacing or order.
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get() || self.to_map() == other.to_map()
    }
}

impl fmt::Debug for RawObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl Serialize for RawObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if !raw.get().trim_start().starts_with('{') {
            return Err(de::Error::invalid_type(
                de::Unexpected::Other(raw.get()),
                &"a JSON object",
            ));
        }
        check(raw.get()).map_err(de::Error::custom)?;
        Ok(RawObject(raw))
    }
}

/// How many levels of objects and arrays serde_json parses, the object itself being the first:
/// its deserializer refuses the 128th ("recursion limit exceeded").
pub(crate) const MAX_DEPTH: usize = 127;

/// Whether serde_json can parse `json`, an object already known to be well-formed JSON, into a
/// map; if not, why, worded to follow the field's name.
fn check(json: &str) -> Result<(), String> {
    let bytes = json.as_bytes();
    let mut depth = 0_usize;
    // A number that may be out of f64's range, or a `\u` escape of a UTF-16 surrogate (which
    // serde_json only takes in a pair): rare, and then settled by parsing.
    let mut doubtful = has_surrogate_escape(json);
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            b'"' => at = skip_string(bytes, at),
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "nested deeper than {MAX_DEPTH} levels (serde_json's limit)"
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => at = skip_number(bytes, at - 1, &mut doubtful),
            _ => {}
        }
    }
    if !doubtful {
        return Ok(());
    }
    match serde_json::from_str::<Map<String, Value>>(json) {
        Ok(_) => Ok(()),
        Err(err) => {
            // The position is within the field, which the caller names; serde_json's own
            // position of the field follows.
            let message = err.to_string();
            let position = format!(" at line {} column {}", err.line(), err.column());
            let problem = message.strip_suffix(&position).unwrap_or(&message);
            Err(format!("holds a value serde_json cannot read ({problem})"))
        }
    }
}

/// Whether `json` may hold a `\uD800` to `\uDFFF` escape. An escaped backslash before a `u`
/// counts too, which only costs a parse. (`contains` goes first: it is the faster search.)
fn has_surrogate_escape(json: &str) -> bool {
    json.contains("\\u")
        && json.match_indices("\\u").any(|(at, _)| {
            matches!(
                json.as_bytes().get(at + 2..at + 4),
                Some([b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'])
            )
        })
}

/// The position just past the string whose contents start at `at`: its first quote not
/// escaped, that is not preceded by an odd run of backslashes.
fn skip_string(bytes: &[u8], mut at: usize) -> usize {
    // Sixteen bytes at a time: tags and properties are mostly string contents, some of them
    // long (JSON documents held as text, whose quotes are escaped).
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        let mut quotes = byte_mask(u128::from_le_bytes(*chunk), b'"');
        while quotes != 0 {
            let quote = at + quotes.trailing_zeros() as usize / 8;
            if !is_escaped(bytes, quote) {
                return quote + 1;
            }
            quotes &= quotes - 1;
        }
        at += 16;
    }
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        if byte == b'"' && !is_escaped(bytes, at - 1) {
            return at;
        }
    }
    at
}

/// Whether the byte at `at` follows an odd run of backslashes. Each run is looked back over
/// once: it ends at the quote being tested.
fn is_escaped(bytes: &[u8], at: usize) -> bool {
    bytes[..at]
        .iter()
        .rev()
        .take_while(|&&byte| byte == b'\\')
        .count()
        % 2
        == 1
}

/// The position just past the number starting at `at`. serde_json reads a number that is not
/// an integer of 64 bits as an f64, and refuses one beyond its range (about 1.8e308): that
/// takes an exponent of three digits or more, or over a hundred digits before the point.
fn skip_number(bytes: &[u8], at: usize, doubtful: &mut bool) -> usize {
    let digits_from = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let mut at = at + usize::from(bytes.get(at) == Some(&b'-'));
    let integer = digits_from(at);
    at += integer;
    if bytes.get(at) == Some(&b'.') {
        at += 1 + digits_from(at + 1);
    }
    let mut exponent = 0;
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        at += usize::from(matches!(bytes.get(at), Some(b'+' | b'-')));
        exponent = digits_from(at);
        at += exponent;
    }
    *doubtful |= integer > 100 || exponent >= 3;
    at
}

/// The high bit of each of the sixteen bytes of `word` that is `byte`, and no other bit.
fn byte_mask(word: u128, byte: u8) -> u128 {
    const LOWS: u128 = u128::from_ne_bytes([0x7F; 16]);
    let x = word ^ u128::from_ne_bytes([byte; 16]);
    // A byte of `x` is zero exactly when adding 0x7F to its low bits, or its own high bit,
    // leaves the high bit clear; no carry crosses bytes.
    !(((x & LOWS) + LOWS) | x | LOWS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_text_and_parses_on_demand() {
        let object: RawObject = serde_json::from_str(r#"{ "area": "diabetes", "n": 2 }"#).unwrap();
        assert_eq!(object.get(), r#"{ "area": "diabetes", "n": 2 }"#);
        assert_eq!(object.str_value("area").as_deref(), Some("diabetes"));
        assert_eq!(object.value("n"), Some(Value::from(2)));
        assert_eq!(object.str_value("missing"), None);
        let compact: RawObject = serde_json::from_str(r#"{"n":2,"area":"diabetes"}"#).unwrap();
        assert_eq!(object, compact);
        assert!(serde_json::from_str::<RawObject>("[1]").is_err());
        assert!(
            serde_json::from_str::<Option<RawObject>>("null")
                .unwrap()
                .is_none()
        );
    }

    /// Reads `json` as a RawObject and as a map: both must agree, and the object be the map.
    fn agrees_with_serde_json(json: &str) -> bool {
        let object = serde_json::from_str::<RawObject>(json);
        let map = serde_json::from_str::<Map<String, Value>>(json);
        assert_eq!(object.is_ok(), map.is_ok(), "{json}: {object:?} / {map:?}");
        if let (Ok(object), Ok(map)) = (&object, map) {
            assert_eq!(object.to_map(), map, "{json}");
        }
        object.is_ok()
    }

    #[test]
    fn takes_only_what_serde_json_parses_again() {
        // See: issue 13, "Deep nesting"
        let nested = |depth: usize| {
            format!(
                "{{\"t\":{}1{}}}",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            )
        };
        assert!(agrees_with_serde_json(&nested(MAX_DEPTH)));
        assert!(!agrees_with_serde_json(&nested(MAX_DEPTH + 1)));
        // Brackets, quotes and escapes inside strings do not count, wherever they fall
        // against the eight-byte steps.
        for pad in 0..9 {
            let padding = "x".repeat(pad);
            let brackets = "[{".repeat(200);
            assert!(agrees_with_serde_json(&format!(
                r#"{{"{padding}": "{padding}\"{brackets}\\", "k\\": "\\\"{brackets}"}}"#
            )));
            assert!(agrees_with_serde_json(&format!(
                r#"{{"{padding}": "\ud83d\ude00", "s": "{padding}\uDbFf\uDfFf"}}"#
            )));
            assert!(!agrees_with_serde_json(&format!(
                r#"{{"{padding}": "{padding}\uD800"}}"#
            )));
        }
        for number in [
            "1e308",
            "1e309",
            "-1e309",
            "1E+400",
            "1e-400",
            "0.5e0400",
            "1.7976931348623157e308",
        ] {
            agrees_with_serde_json(&format!(r#"{{"n": {number}}}"#));
        }
        let long = format!("{}.5e99", "9".repeat(250));
        assert!(!agrees_with_serde_json(&format!(r#"{{"n": {long}}}"#)));
        let long = format!("-{}", "9".repeat(400));
        assert!(!agrees_with_serde_json(&format!(r#"{{"n": [{long}]}}"#)));
    }
}
