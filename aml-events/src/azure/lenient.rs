//! Reading Azure's JSON the way it really arrives: keys matched case-insensitively (exact match
//! first), numbers accepted where strings are documented, `null` read as absent.
//!
//! It does not validate: a value of the wrong shape reads as absent, never as an error.

use std::collections::BTreeMap;

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

/// An object of scalars under `key` as a string map (run properties and tags; values that are
/// objects are written as JSON text).
pub(crate) fn string_map(value: &Value, key: &str) -> BTreeMap<String, String> {
    get(value, key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| {
                    (
                        name.clone(),
                        text(value).unwrap_or_else(|| value.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
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
