//! A route's `smoke_test`: the scoring URI (a reference, or written out without a query), its
//! key (always a reference) and the payload (a JSON string or a TOML table).

use std::ops::Range;

use aml_events::{Secret, azure::is_token_safe};
use url::Url;

use super::{
    entries::SmokeTestEntry,
    error::RoutesError,
    values::{literal, setting_or_literal},
};
use crate::routes::SmokeTest;

/// The smoke test `entry` describes; `at` names a problem's key under `smoke_test`.
pub(super) fn smoke_test(
    entry: &SmokeTestEntry,
    get: &dyn Fn(&str) -> Option<String>,
    at: impl Fn(Range<usize>, &str, String) -> RoutesError,
) -> Result<SmokeTest, RoutesError> {
    let uri_text = setting_or_literal(entry.uri.get_ref(), get, |literal| {
        match Url::parse(literal) {
            Ok(uri) if uri.query().is_some() => Err(
                "a literal URI with a query is refused (keys travel there): write uri = \"${NAME}\""
                    .into(),
            ),
            _ => Ok(literal.to_owned()),
        }
    })
    .map_err(|problem| at(entry.uri.span(), "uri", problem))?;
    let uri = Url::parse(&uri_text)
        .ok()
        .filter(|uri| matches!(uri.scheme(), "http" | "https"))
        .ok_or_else(|| at(entry.uri.span(), "uri", "is not an http(s) URL".into()))?;
    if !is_token_safe(&uri) {
        return Err(at(
            entry.uri.span(),
            "uri",
            "must use https (plain http is allowed only to a loopback address), because a key is sent to it".into(),
        ));
    }
    let key = match &entry.key {
        None => None,
        Some(key) => Some(Secret::new(
            setting_or_literal(key.get_ref(), get, |_| {
                Err("a literal key is refused: write key = \"${NAME}\" and set NAME as an app setting".into())
            })
            .map_err(|problem| at(key.span(), "key", problem))?,
        )),
    };
    let payload = match &entry.payload {
        None => serde_json::json!({}),
        Some(payload) => match payload.get_ref() {
            toml::Value::String(json) => literal(json)
                .map_err(|problem| at(payload.span(), "payload", problem))
                .and_then(|json| {
                    serde_json::from_str(json).map_err(|err| {
                        at(
                            payload.span(),
                            "payload",
                            format!("is not a JSON document ({err})"),
                        )
                    })
                })?,
            other => serde_json::to_value(other).map_err(|err| {
                at(
                    payload.span(),
                    "payload",
                    format!("cannot be sent as JSON ({err})"),
                )
            })?,
        },
    };
    Ok(SmokeTest { uri, key, payload })
}
