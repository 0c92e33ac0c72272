//! The routes file: TOML read with spans (so every problem names its line), checked whole at
//! start-up, and turned into [`Routes`].
//!
//! Secrets never live in the file. A target's `url` is a `${NAME}` reference to an app setting
//! (its value `URL` or `kind:URL`, as in `AML_NOTIFY_URL`), except PagerDuty's public Events
//! API endpoint, which holds no key and may be written out. `routing_key` and a smoke test's
//! `key` are always `${NAME}` references. A smoke test's `uri` may be written out unless it
//! carries a query (where scoring keys travel). A reference is the whole value: `"${NAME}"`;
//! `${` anywhere else in a value is refused, since it would be taken literally.
//!
//! Beyond its syntax, a route must be able to act: a condition on a key none of its functions'
//! events carry, or an action none of its functions performs, is refused (see [`super::scope`]),
//! and so are two routes whose retraining jobs would share names.

use std::{
    collections::BTreeMap,
    fmt,
    ops::Range,
    path::{Component, Path, PathBuf},
};

use aml_events::{
    Function, Secret,
    azure::is_token_safe,
    notify::{Kind, PAGERDUTY_EVENTS_URL, Target},
};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{
    NamedTarget, Origin, Retrain, Route, Routes, SmokeTest, WhyNot,
    job::{self, JobTemplate},
    matcher::{Field, Glob, Matcher},
    scope::{self, Act, Key},
};

/// A routes file that cannot be used: `<file>:<line>: <key>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RoutesError {
    /// The file, as named.
    pub file: PathBuf,
    /// 1-based; 0 when the file could not be read at all.
    pub line: usize,
    /// The key at fault (`targets.oncall.routing_key`, `routes[2].notify`, ...).
    pub key: String,
    /// What is wrong (never a secret's value).
    pub problem: String,
}

impl fmt::Display for RoutesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.problem)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                self.line,
                self.key,
                self.problem
            )
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    #[serde(default)]
    targets: BTreeMap<String, Spanned<TargetEntry>>,
    #[serde(default)]
    routes: Vec<Spanned<RouteEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    url: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    routing_key: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    name: Spanned<String>,
    functions: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(rename = "match")]
    conditions: Option<Spanned<MatchEntry>>,
    notify: Option<Spanned<Vec<Spanned<String>>>>,
    retrain: Option<Spanned<RetrainEntry>>,
    smoke_test: Option<Spanned<SmokeTestEntry>>,
    enrich: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchEntry {
    workspace: Option<Spanned<Patterns>>,
    experiment: Option<Spanned<Patterns>>,
    run_status: Option<Spanned<Patterns>>,
    run_type: Option<Spanned<Patterns>>,
    model: Option<Spanned<Patterns>>,
    model_version: Option<Spanned<Patterns>>,
    service: Option<Spanned<Patterns>>,
    compute_type: Option<Spanned<Patterns>>,
    subject: Option<Spanned<Patterns>>,
    signal: Option<Spanned<Patterns>>,
    monitor_breach: Option<Spanned<bool>>,
    drift_at_least: Option<Spanned<Number>>,
    tags: Option<BTreeMap<String, Spanned<Patterns>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrainEntry {
    job_file: Spanned<String>,
    drift_threshold: Option<Spanned<Number>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmokeTestEntry {
    uri: Spanned<String>,
    key: Option<Spanned<String>>,
    payload: Option<Spanned<toml::Value>>,
}

/// One pattern or a list of them; a bare number is read as its text (`model_version = 4`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Patterns {
    One(Scalar),
    Many(Vec<Scalar>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Integer(i64),
}

/// An integer or a float, both read as `f64`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Float(f64),
    Integer(i64),
}

impl Number {
    fn value(&self) -> f64 {
        match self {
            Number::Float(value) => *value,
            Number::Integer(value) => *value as f64,
        }
    }
}

impl Patterns {
    /// The globs; a pattern holding `${` is refused (a pattern is never a reference).
    fn globs(&self) -> Result<Vec<Glob>, String> {
        let glob = |scalar: &Scalar| match scalar {
            Scalar::Text(text) => literal(text).map(Glob::new),
            Scalar::Integer(number) => Ok(Glob::new(&number.to_string())),
        };
        match self {
            Patterns::One(one) => glob(one).map(|one| vec![one]),
            Patterns::Many(many) => many.iter().map(glob).collect(),
        }
    }
}

/// Reads the routes file at `path` and checks it; `${NAME}`s are looked up through `get` (app
/// settings, environment).
pub fn load(path: &Path, get: &dyn Fn(&str) -> Option<String>) -> Result<Routes, RoutesError> {
    let text = std::fs::read_to_string(path).map_err(|err| RoutesError {
        file: path.to_path_buf(),
        line: 0,
        key: crate::settings::AML_ROUTES_FILE.to_owned(),
        problem: format!("cannot read the routes file: {err}"),
    })?;
    parse(path, &text, get)
}

/// Checks the routes file `text`, read from `path` (job files are found beside it).
pub fn parse(
    path: &Path,
    text: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Routes, RoutesError> {
    let at = |span: Range<usize>, key: &str, problem: String| RoutesError {
        file: path.to_path_buf(),
        line: line_of(text, span.start),
        key: key.to_owned(),
        problem,
    };
    let file: FileEntry = toml::from_str(text).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        let (key, problem) = describe_toml_error(text, &span, err.message());
        at(span, &key, problem)
    })?;
    let folder = path.parent().unwrap_or(Path::new(""));

    let mut targets = Vec::new();
    for (name, entry) in &file.targets {
        let span = entry.span();
        let entry = entry.get_ref();
        let key = |leaf: &str| format!("targets.{name}.{leaf}");
        let kind = match &entry.kind {
            None => None,
            Some(kind) => Some(Kind::from_name(kind.get_ref()).ok_or_else(|| {
                at(
                    kind.span(),
                    &key("kind"),
                    format!(
                        "unknown kind {:?} (kinds: {})",
                        kind.get_ref(),
                        Kind::ALL.map(Kind::as_str).join(", ")
                    ),
                )
            })?),
        };
        let mut target = match &entry.url {
            Some(url) => {
                let value = setting_or_literal(url.get_ref(), get, |literal| {
                    if is_public_pagerduty(literal) {
                        Ok(literal.to_owned())
                    } else {
                        Err("a literal URL is refused: webhook URLs carry their key; write url = \"${NAME}\" and set NAME as an app setting (only PagerDuty's Events API endpoint may be written out)".into())
                    }
                })
                .map_err(|problem| at(url.span(), &key("url"), problem))?;
                Target::parse(&value, "url", 1).map_err(|err| {
                    // The target's own message names a setting and a position; keep its reason.
                    let message = err.to_string();
                    let reason = message
                        .split_once("target 1 ")
                        .map_or(message.as_str(), |(_, reason)| reason);
                    at(url.span(), &key("url"), format!("its value {reason}"))
                })?
            }
            None if kind == Some(Kind::PagerDuty) => Target::parse(PAGERDUTY_EVENTS_URL, "url", 1)
                .map_err(|err| at(span.clone(), &format!("targets.{name}"), err.to_string()))?,
            None => {
                return Err(at(
                    span,
                    &key("url"),
                    "missing: only a pagerduty target may leave out its url".into(),
                ));
            }
        };
        if let Some(kind) = kind {
            target.kind = kind;
        }
        match (&entry.routing_key, target.kind) {
            (Some(routing_key), Kind::PagerDuty) => {
                let value = setting_or_literal(routing_key.get_ref(), get, |_| {
                    Err("a literal routing key is refused: write routing_key = \"${NAME}\" and set NAME as an app setting".into())
                })
                .map_err(|problem| at(routing_key.span(), &key("routing_key"), problem))?;
                target.routing_key = Some(Secret::new(value));
            }
            (Some(routing_key), kind) => {
                return Err(at(
                    routing_key.span(),
                    &key("routing_key"),
                    format!("only pagerduty targets take a routing key (this one is {kind})"),
                ));
            }
            (None, Kind::PagerDuty) => {
                return Err(at(
                    span,
                    &key("routing_key"),
                    "a pagerduty target needs routing_key = \"${NAME}\"".into(),
                ));
            }
            (None, _) => {}
        }
        targets.push(NamedTarget::new(name.clone(), target));
    }

    let mut routes: Vec<Route> = Vec::new();
    for (position, entry) in file.routes.iter().enumerate() {
        let line = line_of(text, entry.span().start);
        let entry = entry.get_ref();
        let key = |leaf: &str| format!("routes[{position}].{leaf}");
        let name = entry.name.get_ref().trim().to_owned();
        if name.is_empty() {
            return Err(at(entry.name.span(), &key("name"), "is empty".into()));
        }
        if let Some(other) = routes.iter().find(|route| route.name == name) {
            return Err(at(
                entry.name.span(),
                &key("name"),
                format!(
                    "{name:?} is already the name of the route on line {}",
                    other.line
                ),
            ));
        }
        let functions = match &entry.functions {
            None => Function::ALL.to_vec(),
            Some(list) => {
                if list.get_ref().is_empty() {
                    return Err(at(
                        list.span(),
                        &key("functions"),
                        "names no function".into(),
                    ));
                }
                let mut functions = Vec::new();
                for function in list.get_ref() {
                    let found = Function::from_name(function.get_ref()).ok_or_else(|| {
                        at(
                            function.span(),
                            &key("functions"),
                            format!(
                                "unknown function {:?} (the functions are {})",
                                function.get_ref(),
                                Function::list()
                            ),
                        )
                    })?;
                    if !functions.contains(&found) {
                        functions.push(found);
                    }
                }
                functions
            }
        };
        let matchers = match &entry.conditions {
            None => Vec::new(),
            Some(conditions) => {
                matchers(conditions.get_ref(), &functions, |span, leaf, problem| {
                    at(span, &key(&format!("match.{leaf}")), problem)
                })?
            }
        };
        let mut notify = Vec::new();
        if let Some(list) = &entry.notify {
            for wanted in list.get_ref() {
                let index = targets
                    .iter()
                    .position(|target| target.name == *wanted.get_ref())
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            targets.iter().map(|target| target.name.as_str()).collect();
                        at(
                            wanted.span(),
                            &key("notify"),
                            format!(
                                "unknown target {:?} (targets: {})",
                                wanted.get_ref(),
                                if known.is_empty() {
                                    "none; add a [targets.<name>] table".to_owned()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        )
                    })?;
                if !notify.contains(&index) {
                    notify.push(index);
                }
            }
        }
        let retrain = match &entry.retrain {
            None => None,
            Some(retrain) => {
                let retrain = retrain.get_ref();
                let job_file = &retrain.job_file;
                let job_path = job_file_path(folder, job_file.get_ref())
                    .map_err(|problem| at(job_file.span(), &key("retrain.job_file"), problem))?;
                let job = JobTemplate::read(&job_path).map_err(|problem| {
                    at(
                        job_file.span(),
                        &key("retrain.job_file"),
                        format!("cannot use {}: {problem}", job_path.display()),
                    )
                })?;
                let drift_threshold = match &retrain.drift_threshold {
                    None => None,
                    Some(threshold) => {
                        let value = threshold.get_ref().value();
                        if !(0.0..=1.0).contains(&value) {
                            return Err(at(
                                threshold.span(),
                                &key("retrain.drift_threshold"),
                                format!("{value} is not a number from 0 to 1"),
                            ));
                        }
                        Some(value)
                    }
                };
                Some(Retrain {
                    job,
                    drift_threshold,
                })
            }
        };
        let smoke_test = match &entry.smoke_test {
            None => None,
            Some(smoke) => Some(smoke_test(smoke.get_ref(), get, |span, leaf, problem| {
                at(span, &key(&format!("smoke_test.{leaf}")), problem)
            })?),
        };
        let enrich = entry.enrich.as_ref().map(|enrich| *enrich.get_ref());
        if notify.is_empty() && retrain.is_none() && smoke_test.is_none() {
            return Err(at(
                entry.name.span(),
                &key("name"),
                format!("route {name:?} does nothing: give it notify, retrain or smoke_test"),
            ));
        }
        let asked = [
            (Act::Retrain, entry.retrain.as_ref().map(Spanned::span)),
            (Act::SmokeTest, entry.smoke_test.as_ref().map(Spanned::span)),
            (
                Act::Enrich,
                entry
                    .enrich
                    .as_ref()
                    .filter(|on| *on.get_ref())
                    .map(Spanned::span),
            ),
        ];
        for (act, span) in asked {
            let Some(span) = span else { continue };
            if !functions
                .iter()
                .any(|function| scope::performs(*function, act))
            {
                return Err(at(
                    span,
                    &key(act.name()),
                    format!(
                        "none of this route's functions ({}) can {}; it is done by {}",
                        names(&functions),
                        act.name(),
                        scope::performed_by(act)
                    ),
                ));
            }
        }
        let job_part = retrain.as_ref().map(|_| job::route_part(&name));
        if let Some(part) = &job_part
            && let Some(other) = routes
                .iter()
                .find(|route| route.job_part.as_ref() == Some(part))
        {
            return Err(at(
                entry.name.span(),
                &key("name"),
                format!(
                    "the retraining jobs of {name:?} would be named like those of {:?} (line {}): retrain-<event>-{part}; give one of them another name",
                    other.name, other.line
                ),
            ));
        }
        routes.push(Route {
            name,
            line,
            functions,
            matchers,
            notify,
            retrain,
            smoke_test,
            enrich,
            job_part,
            why_not: WhyNot::FILE,
        });
    }
    if routes.is_empty() {
        return Err(RoutesError {
            file: path.to_path_buf(),
            line: 1,
            key: "routes".into(),
            problem: "the file has no [[routes]]: without routes no event would be acted on".into(),
        });
    }
    let file_name = path.display().to_string();
    Ok(Routes::new(
        Origin::File(path.to_path_buf()),
        targets,
        routes,
        |function| {
            format!(
                "no route of {file_name} matches this {function} event; acknowledged, nothing done"
            )
        },
    ))
}

type Problem<'a> = &'a dyn Fn(Range<usize>, &str, String) -> RoutesError;

/// The conditions of a `match` table, each checked to be one some function of the route
/// (`functions`) can meet.
fn matchers(
    entry: &MatchEntry,
    functions: &[Function],
    at: impl Fn(Range<usize>, &str, String) -> RoutesError,
) -> Result<Vec<Matcher>, RoutesError> {
    let at: Problem<'_> = &at;
    let mut matchers = Vec::new();
    // A condition no function of the route can meet would keep the route from ever matching.
    let carried = |matcher: &Matcher, span: Range<usize>, written: &str| {
        let key = Key::of(matcher);
        if key == Key::DriftAtLeast && functions.contains(&Function::RunStatusChanged) {
            return Err(at(
                span,
                written,
                "cannot be used with RunStatusChanged: a model-monitor breach has no drift coefficient (the monitor already judged); give RunStatusChanged a route of its own".into(),
            ));
        }
        if functions
            .iter()
            .any(|function| scope::carries(*function, key))
        {
            return Ok(());
        }
        Err(at(
            span,
            written,
            format!(
                "none of this route's functions ({}) has {}, so the route could never match; {} is carried by {}",
                names(functions),
                key.name(),
                key.name(),
                scope::carried_by(key)
            ),
        ))
    };
    let fields = [
        (Field::Workspace, &entry.workspace),
        (Field::Experiment, &entry.experiment),
        (Field::RunStatus, &entry.run_status),
        (Field::RunType, &entry.run_type),
        (Field::Model, &entry.model),
        (Field::ModelVersion, &entry.model_version),
        (Field::Service, &entry.service),
        (Field::ComputeType, &entry.compute_type),
        (Field::Subject, &entry.subject),
        (Field::Signal, &entry.signal),
    ];
    for (field, patterns) in fields {
        if let Some(patterns) = patterns {
            let any_of = patterns
                .get_ref()
                .globs()
                .map_err(|problem| at(patterns.span(), field.key(), problem))?;
            if any_of.is_empty() {
                return Err(at(
                    patterns.span(),
                    field.key(),
                    "an empty list matches nothing".into(),
                ));
            }
            let matcher = Matcher::Text { field, any_of };
            carried(&matcher, patterns.span(), field.key())?;
            matchers.push(matcher);
        }
    }
    if let Some(breach) = &entry.monitor_breach {
        let matcher = Matcher::MonitorBreach(*breach.get_ref());
        carried(&matcher, breach.span(), "monitor_breach")?;
        matchers.push(matcher);
    }
    if let Some(drift) = &entry.drift_at_least {
        let value = drift.get_ref().value();
        if !(0.0..=1.0).contains(&value) {
            return Err(at(
                drift.span(),
                "drift_at_least",
                format!("{value} is not a number from 0 to 1"),
            ));
        }
        let matcher = Matcher::DriftAtLeast(value);
        carried(&matcher, drift.span(), "drift_at_least")?;
        matchers.push(matcher);
    }
    for (tag, patterns) in entry.tags.iter().flatten() {
        let written = format!("tags.{tag}");
        let any_of = patterns
            .get_ref()
            .globs()
            .map_err(|problem| at(patterns.span(), &written, problem))?;
        if any_of.is_empty() {
            return Err(at(
                patterns.span(),
                &written,
                "an empty list matches nothing".into(),
            ));
        }
        let matcher = Matcher::Tag {
            key: tag.clone(),
            any_of,
        };
        carried(&matcher, patterns.span(), &written)?;
        matchers.push(matcher);
    }
    Ok(matchers)
}

fn smoke_test(
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

/// A value that may be written as a reference to a setting: the setting's value when it is the
/// whole reference `${NAME}`, else `literal(value)` (which refuses or accepts a written-out
/// value, as the key allows). `${` anywhere else is refused.
fn setting_or_literal(
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
fn literal(value: &str) -> Result<&str, String> {
    if value.contains("${") {
        return Err(
            "${NAME} stands for a whole value only (write \"${NAME}\" alone, and only for url, routing_key, uri or key); here it would be taken literally".into(),
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

/// `RunStatusChanged, DatasetDriftDetected`.
fn names(functions: &[Function]) -> String {
    functions
        .iter()
        .map(|function| function.name())
        .collect::<Vec<_>>()
        .join(", ")
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
fn is_public_pagerduty(value: &str) -> bool {
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

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key a TOML error is about, and the problem: an unknown key's span is the key itself;
/// a bad value's key is the one written before the `=` that precedes it.
fn describe_toml_error(text: &str, span: &Range<usize>, message: &str) -> (String, String) {
    let message = message.trim().to_owned();
    let spanned = text.get(span.clone()).unwrap_or_default().trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or(spanned);
        return (field.to_owned(), format!("unknown key; {message}"));
    }
    let before = &text[..span.start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let key = before[line_start..]
        .rsplit_once('=')
        .map(|(head, _)| {
            head.trim_end()
                .rsplit(|c: char| c.is_whitespace() || c == '{' || c == ',')
                .next()
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned()
        })
        .filter(|key| !key.is_empty())
        .or_else(|| (!spanned.is_empty()).then(|| spanned.lines().next().unwrap_or("").to_owned()))
        .unwrap_or_else(|| "(file)".to_owned());
    (key, message)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const GOOD: &str = r#"
[targets.ml-team]
url = "${ML_TEAM_WEBHOOK}"
[targets.oncall]
kind = "pagerduty"
routing_key = "${PAGERDUTY_KEY}"

[[routes]]
name = "production training failures"
functions = ["RunStatusChanged"]
match = { run_status = ["Failed", "Canceled"], experiment = "prod-*", tags = { team = "growth" } }
notify = ["oncall", "ml-team"]

[[routes]]
name = "churn drift"
functions = ["RunStatusChanged", "DatasetDriftDetected"]
match = { monitor_breach = true, signal = "churn-*" }
retrain = { job_file = "job.json", drift_threshold = 0.3 }
notify = ["ml-team"]
enrich = false
"#;

    fn settings() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (
                "ML_TEAM_WEBHOOK",
                "https://hooks.slack.com/services/T0/B0/secret",
            ),
            ("PAGERDUTY_KEY", "pd-key"),
        ])
    }

    fn folder() -> PathBuf {
        // One folder per call: tests run in parallel, and a job file being rewritten by one
        // would read as empty in another.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("aml-routes-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("job.json"),
            r#"{"properties": {"tags": {"signal": "{{signalName}}"}}}"#,
        )
        .unwrap();
        dir
    }

    fn check(text: &str) -> Result<Routes, RoutesError> {
        let values = settings();
        parse(&folder().join("routes.toml"), text, &|name| {
            values.get(name).map(|value| value.to_string())
        })
    }

    fn error(text: &str) -> RoutesError {
        match check(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(err) => err,
        }
    }

    #[test]
    fn a_good_file_becomes_routes() {
        let routes = check(GOOD).unwrap();
        assert_eq!(routes.targets.len(), 2);
        let oncall = routes.targets.iter().find(|t| t.name == "oncall").unwrap();
        assert_eq!(oncall.target.kind, Kind::PagerDuty);
        assert_eq!(oncall.target.url.expose(), PAGERDUTY_EVENTS_URL);
        assert_eq!(
            oncall.target.routing_key.as_ref().unwrap().expose(),
            "pd-key"
        );
        let team = routes.targets.iter().find(|t| t.name == "ml-team").unwrap();
        assert_eq!(team.target.kind, Kind::Slack);
        let [prod, churn] = &routes.routes[..] else {
            panic!("two routes")
        };
        assert_eq!((prod.line, churn.line), (8, 14));
        assert_eq!(prod.functions, [Function::RunStatusChanged]);
        assert_eq!(prod.matchers.len(), 3);
        assert!(prod.enriches() && !churn.enriches());
        assert_eq!(churn.retrain.as_ref().unwrap().drift_threshold, Some(0.3));
        let described: Vec<String> = routes.describe().map(|d| d.to_string()).collect();
        assert!(
            described[0].contains("when: experiment = \"prod-*\" and run_status = [\"Failed\", \"Canceled\"] and tags.team = \"growth\""),
            "{}",
            described[0]
        );
        assert!(
            described[0].contains("notify: oncall (pagerduty), ml-team (slack)"),
            "{}",
            described[0]
        );
        let debug = format!("{routes:?}");
        assert!(
            !debug.contains("pd-key") && !debug.contains("secret"),
            "{debug}"
        );
    }

    #[test]
    fn problems_name_line_and_key() {
        let cases = [
            // An unknown key in a route.
            (
                GOOD.replace("enrich = false", "enrichh = false"),
                20,
                "enrichh",
                "unknown key",
            ),
            // An unknown key inside `match`.
            (
                GOOD.replace("signal = \"churn-*\"", "sginal = \"churn-*\""),
                17,
                "sginal",
                "unknown key",
            ),
            // An unknown function.
            (
                GOOD.replace("\"DatasetDriftDetected\"]", "\"DriftDetected\"]"),
                16,
                "routes[1].functions",
                "unknown function \"DriftDetected\"",
            ),
            // A target no table defines.
            (
                GOOD.replace("notify = [\"ml-team\"]", "notify = [\"ml-tema\"]"),
                19,
                "routes[1].notify",
                "unknown target \"ml-tema\"",
            ),
            // A job file that is not there.
            (
                GOOD.replace("job.json", "missing.json"),
                18,
                "routes[1].retrain.job_file",
                "missing.json",
            ),
            // A literal webhook URL.
            (
                GOOD.replace(
                    "${ML_TEAM_WEBHOOK}",
                    "https://hooks.slack.com/services/T0/B0/literal",
                ),
                3,
                "targets.ml-team.url",
                "literal URL is refused",
            ),
            // A literal routing key.
            (
                GOOD.replace("${PAGERDUTY_KEY}", "abc123"),
                6,
                "targets.oncall.routing_key",
                "literal routing key is refused",
            ),
            // A reference to a setting that is not set.
            (
                GOOD.replace("${PAGERDUTY_KEY}", "${NOT_SET}"),
                6,
                "targets.oncall.routing_key",
                "${NOT_SET} is not set",
            ),
            // A value of the wrong type.
            (
                GOOD.replace("enrich = false", "enrich = \"no\""),
                20,
                "enrich",
                "invalid type",
            ),
            // A kind that does not exist.
            (
                GOOD.replace("kind = \"pagerduty\"", "kind = \"pager\""),
                5,
                "targets.oncall.kind",
                "unknown kind",
            ),
        ];
        for (text, line, key, problem) in cases {
            let err = error(&text);
            assert_eq!((err.line, err.key.as_str()), (line, key), "{err}");
            assert!(err.problem.contains(problem), "{err}");
            let shown = err.to_string();
            assert!(
                shown.contains(&format!("routes.toml:{line}: {key}: ")),
                "{shown}"
            );
            assert!(
                !shown.contains("literal\"") && !shown.contains("abc123"),
                "{shown}"
            );
        }
    }

    #[test]
    fn pagerduty_endpoint_may_be_written_out_and_references_may_carry_a_kind() {
        let text = r#"
[targets.pd]
url = "https://events.eu.pagerduty.com/v2/enqueue"
routing_key = "${PAGERDUTY_KEY}"
[targets.team]
url = "${ML_TEAM_WEBHOOK}"
kind = "webhook"
[[routes]]
name = "all"
notify = ["pd", "team"]
"#;
        let routes = check(text).unwrap();
        assert_eq!(routes.targets[0].target.kind, Kind::PagerDuty);
        assert_eq!(routes.targets[1].target.kind, Kind::Webhook);
        assert_eq!(
            routes.routes[0].functions.len(),
            5,
            "all functions by default"
        );
        assert!(routes.routes[0].matchers.is_empty());
    }

    // See: issue 22, finding 10: routes that were valid TOML but could never work passed
    // start-up and `routes check`.
    #[test]
    fn routes_that_could_never_work_are_refused_naming_line_and_key() {
        let route = |body: &str| {
            format!(
                "[targets.team]\nurl = \"${{ML_TEAM_WEBHOOK}}\"\n[[routes]]\nname = \"r\"\n{body}\n"
            )
        };
        let cases = [
            (
                route("functions = [\"RunStatusChanged\", \"DatasetDriftDetected\"]\nmatch = { drift_at_least = 0.3 }\nnotify = [\"team\"]"),
                6,
                "routes[0].match.drift_at_least",
                "cannot be used with RunStatusChanged",
            ),
            (
                route("functions = [\"RunStatusChanged\"]\nsmoke_test = { uri = \"https://x.example.com/score\" }"),
                6,
                "routes[0].smoke_test",
                "none of this route's functions (RunStatusChanged) can smoke_test",
            ),
            (
                route("functions = [\"ModelRegistered\"]\nmatch = { experiment = \"prod-*\" }\nnotify = [\"team\"]"),
                6,
                "routes[0].match.experiment",
                "could never match; experiment is carried by RunCompleted, RunStatusChanged",
            ),
            (
                route("functions = [\"ModelRegistered\"]\nenrich = true\nnotify = [\"team\"]"),
                6,
                "routes[0].enrich",
                "can enrich",
            ),
            (
                route("functions = [\"ModelDeployed\"]\nsmoke_test = { uri = \"https://x.example.com/score?code=${SCORING_KEY}\" }"),
                6,
                "routes[0].smoke_test.uri",
                "stands for a whole value only",
            ),
            (
                route("functions = [\"DatasetDriftDetected\"]\nretrain = { job_file = \"../job.json\" }"),
                6,
                "routes[0].retrain.job_file",
                "inside the routes file's folder",
            ),
            (
                route("functions = [\"RunCompleted\"]\nmatch = { experiment = \"${EXPERIMENT}\" }\nnotify = [\"team\"]"),
                6,
                "routes[0].match.experiment",
                "stands for a whole value only",
            ),
            (
                format!(
                    "{}[[routes]]\nname = \"Churn drift\"\nfunctions = [\"DatasetDriftDetected\"]\nretrain = {{ job_file = \"job.json\" }}\n",
                    route("functions = [\"DatasetDriftDetected\"]\nretrain = { job_file = \"job.json\" }")
                        .replace("name = \"r\"", "name = \"churn-drift\"")
                ),
                8,
                "routes[1].name",
                "would be named like those of \"churn-drift\" (line 3)",
            ),
        ];
        for (text, line, key, problem) in cases {
            let err = error(&text);
            assert_eq!((err.line, err.key.as_str()), (line, key), "{err}\n{text}");
            assert!(err.problem.contains(problem), "{err}");
        }
        let target = "[targets.team]\nurl = \"https://hooks.slack.com/services/${TOKEN}\"\n[[routes]]\nname = \"r\"\nnotify = [\"team\"]\n";
        let err = error(target);
        assert_eq!(
            (err.line, err.key.as_str()),
            (2, "targets.team.url"),
            "{err}"
        );
        assert!(err.problem.contains("whole value only"), "{err}");
    }

    #[test]
    fn the_job_file_rule_is_one_for_start_up_check_and_package() {
        let folder = Path::new("routes");
        assert_eq!(
            job_file_path(folder, "./jobs/retrain.json").unwrap(),
            folder.join("./jobs/retrain.json")
        );
        for bad in [
            "../x.json",
            "/etc/job.json",
            "jobs/../../x.json",
            "",
            "${JOB}",
        ] {
            assert!(job_file_path(folder, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_route_must_act_and_a_file_must_route() {
        let err = error("[[routes]]\nname = \"idle\"\n");
        assert_eq!(err.line, 2);
        assert!(err.problem.contains("does nothing"), "{err}");
        let err = error("");
        assert!(err.problem.contains("no [[routes]]"), "{err}");
        let err = error(
            "[[routes]]\nname = \"smoke\"\nsmoke_test = { uri = \"https://x.example.com/score?code=k\" }\n",
        );
        assert_eq!(
            (err.line, err.key.as_str()),
            (3, "routes[0].smoke_test.uri"),
            "{err}"
        );
    }
}
