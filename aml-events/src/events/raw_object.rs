//! Tags and properties, kept as the JSON text they arrived in. Functions echo them into
//! notifications far more often than they read them, and building a map of every run
//! property (some hold whole JSON documents as text) was a large share of reading an event.

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
        // The text was checked to be a JSON object when it was read.
        serde_json::from_str(self.0.get()).unwrap_or_default()
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
        Ok(RawObject(raw))
    }
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
}
