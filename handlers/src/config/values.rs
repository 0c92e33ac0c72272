//! How a setting's text is read: lists, flags, numbers, URLs a key or token is sent to, and
//! files named relative to the app.

use std::path::PathBuf;

use aml_events::azure::is_token_safe;
use url::Url;

use super::error::{ConfigError, invalid};

/// A URL a token or key is sent to: https, or http to a loopback address only.
pub(super) fn token_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|_| invalid(name, "URL", value))?;
    check_transport(name, &url)?;
    Ok(url)
}

/// The client's own rule ([`is_token_safe`]), checked here to name the setting at start-up.
pub(super) fn check_transport(name: &'static str, url: &Url) -> Result<(), ConfigError> {
    match url.scheme() {
        _ if is_token_safe(url) => Ok(()),
        "http" => Err(ConfigError::InsecureUrl { name }),
        _ => Err(ConfigError::Invalid {
            name,
            expected: "https URL",
            found: String::new(),
        }),
    }
}

pub(super) fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

pub(super) fn flag(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(invalid(name, "flag (1 or 0)", value)),
    }
}

/// The number setting `name` holds (`default` when unset), which must lie in `range`; a value
/// that does not parse or lies outside is refused as not a valid `expected`.
pub(super) fn number_in<T>(
    get: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + ToString,
{
    let value = get(name)
        .map(|text| parse(name, expected, &text))
        .transpose()?
        .unwrap_or(default);
    if !range.contains(&value) {
        return Err(invalid(name, expected, &value.to_string()));
    }
    Ok(value)
}

pub(super) fn parse<T: std::str::FromStr>(
    name: &'static str,
    expected: &'static str,
    value: &str,
) -> Result<T, ConfigError> {
    value.parse().map_err(|_| invalid(name, expected, value))
}

/// A file named by a setting: as given, or, when relative and not found from the working
/// directory, beside the executable (the app root of a package, where host.json is).
pub(super) fn app_path(path: &str) -> PathBuf {
    let given = PathBuf::from(path);
    if given.is_relative() && !given.exists() {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(&given)));
        if let Some(beside) = beside.filter(|beside| beside.exists()) {
            return beside;
        }
    }
    given
}
