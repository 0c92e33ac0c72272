//! Reading Azure's JSON the way it really arrives: keys matched case-insensitively (exact match
//! first), numbers accepted where strings are documented, `null` read as absent.
//!
//! It does not validate: a value of the wrong shape reads as absent, never as an error.

use std::{collections::BTreeMap, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The value under `key` (exact spelling first, then any ASCII casing); `None` for `null`.
pub(crate) fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key)
        .or_else(|| {
            map.iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(key))
                .map(|(_, value)| value)
        })
        .filter(|value| !value.is_null())
}

/// The value under `key` as text: strings as they are, numbers and booleans written out.
pub(crate) fn string(value: &Value, key: &str) -> Option<String> {
    get(value, key).and_then(text)
}

/// A scalar as text; `None` for objects and arrays.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// [`text`], taking the value.
pub(crate) fn into_text(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        value => text(&value),
    }
}

/// An object of scalars under `key` as a string map (run properties and tags; values that are
/// objects are written as JSON text).
pub(crate) fn string_map(value: &Value, key: &str) -> BTreeMap<String, String> {
    into_string_map(get(value, key).cloned())
}

/// [`string_map`] of the value itself, taking it; empty for anything but an object.
pub(crate) fn into_string_map(value: Option<Value>) -> BTreeMap<String, String> {
    let Some(Value::Object(map)) = value else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| {
            let text = match value {
                Value::Object(_) | Value::Array(_) => value.to_string(),
                scalar => into_text(scalar).unwrap_or_default(),
            };
            (name, text)
        })
        .collect()
}

/// The members `names` of a JSON object, each as [`get`] would give it from the object parsed
/// whole, read straight from `deserializer`: the other members are skipped, never built.
/// Anything but an object has none of them.
pub(crate) fn members<'de, D: Deserializer<'de>, const N: usize>(
    deserializer: D,
    names: &'static [&'static str; N],
) -> Result<[Option<Value>; N], D::Error> {
    deserializer.deserialize_any(Members { names })
}

/// Reads [`members`].
struct Members<const N: usize> {
    names: &'static [&'static str; N],
}

impl<const N: usize> Members<N> {
    fn none() -> [Option<Value>; N] {
        [const { None }; N]
    }
}

impl<'de, const N: usize> Visitor<'de> for Members<N> {
    type Value = [Option<Value>; N];

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A parsed object keeps the last of a repeated key and lists its keys in order; `get`
        // takes the exact spelling, else the first key of any casing.
        let mut exact = Members::<N>::none();
        let mut folded: [Option<(String, Value)>; N] = [const { None }; N];
        while let Some(key) = map.next_key_seed(KeyOf { names: self.names })? {
            match key {
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Exact(index) => exact[index] = Some(map.next_value()?),
                Key::Folded(index, key) => {
                    let value = map.next_value()?;
                    if (folded[index].as_ref()).is_none_or(|(kept, _)| key <= *kept) {
                        folded[index] = Some((key, value));
                    }
                }
            }
        }
        let mut folded = folded.into_iter();
        Ok(exact.map(|exact| {
            let folded = folded.next().flatten().map(|(_, value)| value);
            exact.or(folded).filter(|value| !value.is_null())
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Members::none())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Members::none())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Members::none())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Members::none())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Members::none())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Members::none())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Members::none())
    }
}

/// Which of the wanted members a key names.
enum Key {
    /// This one, spelled exactly.
    Exact(usize),
    /// This one, in another casing (the key as written).
    Folded(usize, String),
    /// None of them.
    Other,
}

/// Reads a key as a [`Key`], without keeping the text of the keys that name nothing wanted.
struct KeyOf<const N: usize> {
    names: &'static [&'static str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for KeyOf<N> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for KeyOf<N> {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a member's name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        if let Some(index) = self.names.iter().position(|name| *name == key) {
            return Ok(Key::Exact(index));
        }
        Ok(
            match (self.names.iter()).position(|name| name.eq_ignore_ascii_case(key)) {
                Some(index) => Key::Folded(index, key.to_owned()),
                None => Key::Other,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn matches_keys_in_any_case_and_numbers_as_text() {
        let value = json!({"RunId": "r1", "runid": "other", "count": 3, "gone": null,
                           "tags": {"a": "1", "b": 2, "c": null, "d": {"x": 1}}});
        assert_eq!(string(&value, "runId").as_deref(), Some("r1"));
        assert_eq!(string(&value, "runid").as_deref(), Some("other"));
        assert_eq!(string(&value, "count").as_deref(), Some("3"));
        assert_eq!(get(&value, "gone"), None);
        let tags = string_map(&value, "TAGS");
        assert_eq!(tags["b"], "2");
        assert_eq!(tags["d"], r#"{"x":1}"#);
        assert!(!tags.contains_key("c"));
    }
}
