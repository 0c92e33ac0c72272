//! How Azure ML payloads are read as they really arrive: keys in any casing (the docs write
//! `ModelName`, live traffic `modelName`), missing keys as null, unknown keys ignored.
//!
//! [`payload!`] declares a struct of optional fields with their canonical camelCase key and
//! derives a `Deserialize` that matches keys case-insensitively without allocating, and a
//! `Serialize` that writes the canonical names.

/// Declares a payload struct whose keys are matched case-insensitively.
///
/// Each field is `name: Type = "canonicalKey"`, optionally `via Wrapper`, where `Wrapper` is a
/// one-field tuple struct implementing `Deserialize` whose `.0` is the field's type.
macro_rules! payload {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field:ident : $ty:ty = $key:literal $(via $via:path)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, ::serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl $name {
            /// The canonical (camelCase) data keys of this payload.
            pub const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct PayloadVisitor;
                impl<'de> ::serde::de::Visitor<'de> for PayloadVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " data object"))
                    }
                    #[allow(unused_assignments)]
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut payload = $name::default();
                        while let Some($crate::events::payload::KeyIndex(index)) =
                            map.next_key_seed($crate::events::payload::KeySeed($name::KEYS))?
                        {
                            let mut position = 0;
                            $(
                                if index == Some(position) {
                                    payload.$field = $crate::events::payload::read_value!(map, $ty $(, $via)?);
                                    continue;
                                }
                                position += 1;
                            )*
                            map.next_value::<::serde::de::IgnoredAny>()?;
                        }
                        Ok(payload)
                    }
                }
                deserializer.deserialize_map(PayloadVisitor)
            }
        }
    };
}

/// Reads a field's value directly, or through its `via` wrapper.
macro_rules! read_value {
    ($map:ident, $ty:ty) => {
        $map.next_value::<$ty>()?
    };
    ($map:ident, $ty:ty, $via:path) => {
        $map.next_value::<$via>()?.0
    };
}

pub(crate) use payload;
pub(crate) use read_value;

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{self, DeserializeSeed, Visitor},
};
use serde_json::value::RawValue;

/// Finds a key's position among a payload's canonical keys, ignoring ASCII case.
pub(crate) struct KeySeed(pub(crate) &'static [&'static str]);

/// The position of a key among the canonical keys, `None` for a key the payload ignores.
pub(crate) struct KeyIndex(pub(crate) Option<usize>);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = KeyIndex;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<KeyIndex, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = KeyIndex;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a data key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyIndex, E> {
        Ok(KeyIndex(
            self.0
                .iter()
                .position(|known| known.eq_ignore_ascii_case(key)),
        ))
    }
}

/// A value Azure ML sends as a number in some payloads and a string in others
/// (`"ModelVersion": 20` in the docs, `"modelVersion": "3"` live), held as a string. A number
/// keeps the text it was written with: `1.10` reads as `"1.10"` and `123456789012345678901234`
/// as all its digits (docs/events.md), where going through `f64` gave `"1.1"` and
/// `"123456789012345670000000"`.
#[derive(Debug)]
pub(crate) struct StringOrNumber(pub(crate) Option<String>);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde_json shows a visitor a number only as u64, i64 or f64, so the value is taken as
        // its raw text instead. serde_json's `arbitrary_precision` would keep the digits too,
        // but it changes every `Number` in the workspace. An owned `RawValue` also comes out of
        // a `serde_json::Value` (as the Value's text), where a borrowed one would not.
        let raw: Box<str> = Box::<RawValue>::deserialize(deserializer)?.into();
        let unexpected = match raw.as_bytes() {
            [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => {
                return Ok(StringOrNumber(Some(raw[1..raw.len() - 1].to_owned())));
            }
            [b'"', ..] => {
                return serde_json::from_str(&raw)
                    .map(|text| StringOrNumber(Some(text)))
                    .map_err(de::Error::custom);
            }
            // A RawValue is valid JSON, so this is a whole number as written.
            [b'-' | b'0'..=b'9', ..] => return Ok(StringOrNumber(Some(raw.into_string()))),
            [b'n', ..] => return Ok(StringOrNumber(None)),
            [b't', ..] => de::Unexpected::Bool(true),
            [b'f', ..] => de::Unexpected::Bool(false),
            [b'[', ..] => de::Unexpected::Seq,
            [b'{', ..] => de::Unexpected::Map,
            _ => de::Unexpected::Other(&raw),
        };
        Err(de::Error::invalid_type(unexpected, &"a string or a number"))
    }
}

/// A number that may also arrive as numeric text (`0.83` or `"0.83"`).
#[derive(Debug)]
pub(crate) struct NumberOrString(pub(crate) Option<f64>);

impl<'de> Deserialize<'de> for NumberOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = NumberOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or numeric text")
            }
            fn visit_f64<E: de::Error>(self, number: f64) -> Result<NumberOrString, E> {
                Ok(NumberOrString(Some(number)))
            }
            fn visit_u64<E: de::Error>(self, number: u64) -> Result<NumberOrString, E> {
                Ok(NumberOrString(Some(number as f64)))
            }
            fn visit_i64<E: de::Error>(self, number: i64) -> Result<NumberOrString, E> {
                Ok(NumberOrString(Some(number as f64)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<NumberOrString, E> {
                match text.trim().parse::<f64>() {
                    Ok(number) if number.is_finite() => Ok(NumberOrString(Some(number))),
                    _ => Err(E::invalid_value(de::Unexpected::Str(text), &self)),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<NumberOrString, E> {
                Ok(NumberOrString(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<NumberOrString, E> {
                Ok(NumberOrString(None))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}
