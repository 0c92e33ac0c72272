//! Tags and properties, kept as the JSON text they arrived in. Functions echo them into
//! notifications far more often than they read them, and building a map of every run
//! property (some hold whole JSON documents as text) was a large share of reading an event.
//!
//! serde_json keeps a raw value without counting its depth, pairing its `\u` surrogate escapes
//! or checking its numbers' range, all of which parsing the text again does; a failed parse
//! used to make [`RawObject::to_map`] an empty map (docs/events.md: never `{}`). So:
//! - an object nested deeper than serde_json parses, or holding a lone surrogate escape, is
//!   refused when read, naming the field (`data.runTags`); one counting pass over the bytes
//!   rules both out for the usual object, and only an object with 128 brackets or a `\u` is
//!   looked at closely;
//! - a number beyond an f64 (`1e400`), which only parsing finds, is kept: [`RawObject::to_map`]
//!   gives it as its text, and the object is written out that way where it would not parse
//!   back, so that `serde_json::to_value` of a payload never fails.
//!
//! It does not parse the object for reading it, and writes it back as it came.

use std::{collections::BTreeMap, fmt};

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

    /// The object, parsed. A number too large for an f64, which serde_json cannot hold, comes
    /// back as a string of its text as written (docs/events.md: numbers are kept as written).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::from_str(self.get()) {
            Ok(map) => map,
            // Reading refused whatever else makes this parse fail (see `check`).
            Err(_) => members_as_written(&self.0),
        }
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
    /// Objects are equal when their members are, whatever the spacing or order (as
    /// [`RawObject::to_map`] gives them: a number beyond an f64 equals the string of its text,
    /// which is how such an object is written out).
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
        // serde_json parses a raw value again when it builds a `Value` (the notify action's
        // `json!` does), and fails on a number beyond an f64: such an object is written as
        // `to_map` gives it. Looking for such numbers is a scan, paid here rather than on reading.
        if has_number_beyond_f64(self.get()) {
            return self.to_map().serialize(serializer);
        }
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

/// Refuses, with the reason worded to follow the field's name, an object (well-formed JSON
/// already) that serde_json could not parse again for its depth or a lone surrogate escape.
fn check(json: &str) -> Result<(), String> {
    let (brackets, backslashes) = count_brackets_and_backslashes(json.as_bytes());
    if brackets > MAX_DEPTH && is_deeper_than(json.as_bytes(), MAX_DEPTH) {
        return Err(format!(
            "nested deeper than {MAX_DEPTH} levels (serde_json's limit)"
        ));
    }
    if backslashes > 0 && json.contains("\\u") && has_lone_surrogate(json) {
        return Err(
            "holds a lone UTF-16 surrogate escape (\\uD800 to \\uDFFF not in a pair), which serde_json refuses"
                .to_owned(),
        );
    }
    Ok(())
}

/// How many `{` and `[`, and how many backslashes, wherever they are: one pass that the
/// compiler turns into vector code (counting in bytes, a chunk of 255 at a time).
fn count_brackets_and_backslashes(bytes: &[u8]) -> (usize, usize) {
    bytes
        .chunks(255)
        .fold((0, 0), |(brackets, backslashes), chunk| {
            let (b, s) = chunk.iter().fold((0_u8, 0_u8), |(b, s), &byte| {
                (
                    b + u8::from((byte == b'{') | (byte == b'[')),
                    s + u8::from(byte == b'\\'),
                )
            });
            (brackets + usize::from(b), backslashes + usize::from(s))
        })
}

/// Whether objects and arrays nest deeper than `limit` outside strings.
fn is_deeper_than(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0_usize;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            b'"' => at = skip_string(bytes, at),
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Whether a `\uD800`-`\uDBFF` escape is not followed at once by a `\uDC00`-`\uDFFF` one, or
/// the latter not preceded by the former: serde_json refuses both in a string (a key too).
fn has_lone_surrogate(json: &str) -> bool {
    let bytes = json.as_bytes();
    // Where the low half of a pair must start, after a high half.
    let mut low_expected_at = None;
    for (at, _) in json.match_indices("\\u") {
        // `\\u` is an escaped backslash and a letter, not an escape.
        if is_escaped(bytes, at) {
            continue;
        }
        let unit = bytes
            .get(at + 2..at + 6)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u16::from_str_radix(hex, 16).ok());
        let Some(unit) = unit else {
            return true;
        };
        match low_expected_at.take() {
            Some(expected) if expected == at && (0xDC00..=0xDFFF).contains(&unit) => continue,
            Some(_) => return true,
            None => {}
        }
        match unit {
            0xD800..=0xDBFF => low_expected_at = Some(at + 6),
            0xDC00..=0xDFFF => return true,
            _ => {}
        }
    }
    low_expected_at.is_some()
}

/// Whether `json` (read by [`RawObject`]) holds a number serde_json cannot parse: beyond an
/// f64's range (about 1.8e308). Only numbers with an exponent of three digits or more, or over
/// a hundred digits before the point, can be; those are tried.
fn has_number_beyond_f64(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut doubtful = false;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            b'"' => at = skip_string(bytes, at),
            b'-' | b'0'..=b'9' => at = skip_number(bytes, at - 1, &mut doubtful),
            _ => {}
        }
    }
    doubtful && serde_json::from_str::<Map<String, Value>>(json).is_err()
}

/// The members of `object`, an object [`RawObject`] read that serde_json does not parse
/// whole, each value as [`as_written`] gives it.
fn members_as_written(object: &RawValue) -> Map<String, Value> {
    match as_written(object) {
        Value::Object(members) => members,
        // Not reached: `as_written` gives an object for an object, which reading checked.
        // Were it reached, the text is kept whole rather than dropped.
        other => Map::from_iter([(String::new(), other)]),
    }
}

/// `raw` as a `Value`; a number serde_json cannot hold becomes a string of its text.
fn as_written(raw: &RawValue) -> Value {
    let text = raw.get();
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    // Only a container holding such a number, or the number itself, gets here (see `check`).
    match text.as_bytes().first() {
        Some(b'{') => {
            if let Ok(members) = serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(text) {
                return Value::Object(
                    members
                        .into_iter()
                        .map(|(key, value)| (key, as_written(&value)))
                        .collect(),
                );
            }
        }
        Some(b'[') => {
            if let Ok(items) = serde_json::from_str::<Vec<Box<RawValue>>>(text) {
                return Value::Array(items.iter().map(|item| as_written(item)).collect());
            }
        }
        _ => {}
    }
    Value::String(text.to_owned())
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
/// once: it ends at the byte being tested.
fn is_escaped(bytes: &[u8], at: usize) -> bool {
    at > 0
        && bytes[at - 1] == b'\\'
        && bytes[..at]
            .iter()
            .rev()
            .take_while(|&&byte| byte == b'\\')
            .count()
            % 2
            == 1
}

/// The position just past the number starting at `at`; `doubtful` is set when it may be
/// beyond an f64: serde_json reads a number that is not a 64-bit integer as an f64 and
/// refuses one beyond its range, which takes an exponent of three digits or more, or over a
/// hundred digits before the point.
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
            assert_eq!(
                serde_json::to_string(object).unwrap(),
                json,
                "written as it came"
            );
        }
        object.is_ok()
    }

    #[test]
    fn refuses_what_serde_json_cannot_nest_or_decode() {
        // See: issue 13, "Deep nesting"
        let nested = |depth: usize| {
            let arrays = depth - 1;
            format!(r#"{{"t":{}1{}}}"#, "[".repeat(arrays), "]".repeat(arrays))
        };
        assert!(agrees_with_serde_json(&nested(MAX_DEPTH)));
        assert!(!agrees_with_serde_json(&nested(MAX_DEPTH + 1)));
        // Brackets, quotes and escapes inside strings do not count, wherever they fall
        // against the sixteen-byte steps.
        for pad in 0..17 {
            let padding = "x".repeat(pad);
            let brackets = "[{".repeat(200);
            assert!(agrees_with_serde_json(&format!(
                r#"{{"{padding}": "{padding}\"{brackets}\\", "k\\": "\\\"{brackets}"}}"#
            )));
            assert!(agrees_with_serde_json(&format!(
                r#"{{"{padding}": "\ud83d\ude00", "s": "{padding}\uDbFf\uDfFf\\uD800"}}"#
            )));
            for lone in [
                r"\uD800",
                r"\uDC00",
                r"\uD800\u0041",
                r"\uD800\\uDC00",
                r"\uDBFF\uD800\uDC00",
            ] {
                assert!(!agrees_with_serde_json(&format!(
                    r#"{{"{padding}": "{padding}{lone}"}}"#
                )));
            }
        }
    }

    #[test]
    fn keeps_numbers_beyond_f64_as_written() {
        // See: issue 13, "Deep nesting": serde_json cannot parse these back either, and they
        // used to make the map empty.
        let json = r#"{"n": 1e400, "m": [-1E+999, 2], "o": {"p": 1e-400, "q": 1.5}}"#;
        assert!(serde_json::from_str::<Map<String, Value>>(json).is_err());
        let object: RawObject = serde_json::from_str(json).unwrap();
        assert_eq!(object.get(), json);
        let expected = serde_json::json!({
            "n": "1e400", "m": ["-1E+999", 2], "o": {"p": 0.0, "q": 1.5}
        });
        assert_eq!(Value::Object(object.to_map()), expected);
        // Wherever it is written, it parses back.
        assert_eq!(serde_json::to_value(&object).unwrap(), expected);
        let written = serde_json::to_string(&object).unwrap();
        let again: RawObject = serde_json::from_str(&written).unwrap();
        assert_eq!(again, object);
        for number in [
            "1e308",
            "1e309",
            "-1e309",
            "1E+400",
            "1e-400",
            "0.5e0400",
            "1.7976931348623157e308",
        ] {
            let json = format!(r#"{{"n": {number}}}"#);
            let object: RawObject = serde_json::from_str(&json).unwrap();
            assert!(serde_json::to_value(&object).is_ok(), "{json}");
            assert_eq!(object.to_map().len(), 1);
        }
    }
}
