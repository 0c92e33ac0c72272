//! The values a routes file may hold: a whole `${NAME}` reference to a setting (resolved,
//! never echoed), or a literal where the key allows one; `${` anywhere else refused; the one
//! rule for where a job file may be; PagerDuty's public endpoint, the one URL that may be
//! written out.

use std::path::{Component, Path, PathBuf};

use url::Url;

/// A value that may be written as a reference to a setting: the setting's value when it is the
/// whole reference `${NAME}`, else `literal(value)` (which refuses or accepts a written-out
/// value, as the key allows). `${` anywhere else is refused.
pub(super) fn setting_or_literal(
    value: &str,
    get: &dyn Fn(&str) -> Option<String>,
    literal_allowed: impl FnOnce(&str) -> Result<String, String>,
) -> Result<String, String> {
    match reference(value) {
        Some(name) => resolve(name, get),
        None => literal_allowed(literal(value)?),
    }
}

/// `value` when it holds no `${`: a reference stands for a whole value only, and one inside a
/// longer text would be taken literally.
pub(super) fn literal(value: &str) -> Result<&str, String> {
    if value.contains("${") {
        return Err(
            "${NAME} stands for a whole value only (write \"${NAME}\" alone, and only for url, routing_key, secret, uri or key); here it would be taken literally".into(),
        );
    }
    Ok(value)
}

/// Where a route's `job_file` is: a relative path inside the routes file's folder (no `..`,
/// not absolute), the one rule for start-up, `routes check` and `package --routes`, so a file
/// that starts is a file that can be shipped.
pub fn job_file_path(folder: &Path, job_file: &str) -> Result<PathBuf, String> {
    let relative = Path::new(literal(job_file)?);
    let inside = !relative.as_os_str().is_empty()
        && relative
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir));
    if !inside {
        return Err(format!(
            "{job_file:?} must be a relative path inside the routes file's folder (no .., not absolute), so that the file can be shipped with the app"
        ));
    }
    Ok(folder.join(relative))
}

/// `NAME` when `value` is the whole reference `${NAME}`.
fn reference(value: &str) -> Option<&str> {
    let name = value.trim().strip_prefix("${")?.strip_suffix('}')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(name)
}

/// The value of the app setting `name`; never echoed in errors.
fn resolve(name: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    get(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            format!("${{{name}}} is not set (set {name} as an app setting or environment variable)")
        })
}

/// PagerDuty's Events API, whose URL holds no key: `https://events[.eu].pagerduty.com/...`.
pub(super) fn is_public_pagerduty(value: &str) -> bool {
    Url::parse(value).is_ok_and(|url| {
        url.scheme() == "https"
            && matches!(
                url.host_str(),
                Some("events.pagerduty.com" | "events.eu.pagerduty.com")
            )
            && url.query().is_none()
            && url.username().is_empty()
    })
}
