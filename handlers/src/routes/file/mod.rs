//! The routes file: TOML read with spans (so every problem names its line), checked whole at
//! start-up, and turned into [`Routes`].
//!
//! Secrets never live in the file. A target's `url` is a `${NAME}` reference to an app setting
//! (its value `URL` or `kind:URL`, as in `AML_NOTIFY_URL`), except PagerDuty's public Events
//! API endpoint, which holds no key and may be written out. `routing_key`, a webhook target's
//! signing `secret` and a smoke test's `key` are always `${NAME}` references. A smoke test's `uri` may be written out unless it
//! carries a query (where scoring keys travel). A reference is the whole value: `"${NAME}"`;
//! `${` anywhere else in a value is refused, since it would be taken literally.
//!
//! Beyond its syntax, a route must be able to act: a condition on a key none of its functions'
//! events carry, or an action none of its functions performs, is refused (see
//! [`crate::routes::scope`]), and so are two routes whose retraining jobs would share names.
//!
//! # Layout
//! - `entries`: the file's shape as serde reads it; `error`: [`RoutesError`] and TOML's errors
//!   as ours; `values`: references, literals and the job-file rule ([`job_file_path`]);
//!   `conditions`: a `match` table; `smoke_test`: a route's smoke test.

mod conditions;
mod entries;
mod error;
mod smoke_test;
#[cfg(test)]
mod tests;
mod values;

use std::{ops::Range, path::Path};

use aml_events::{
    Function, Secret,
    notify::{Kind, PAGERDUTY_EVENTS_URL, SigningKey, Target},
};
use toml::Spanned;

pub use error::RoutesError;
pub use values::job_file_path;

use crate::routes::{
    NamedTarget, Origin, Retrain, Route, Routes, WhyNot, interval,
    job::{self, JobTemplate},
    scope::{self, Act},
};
use entries::FileEntry;
use error::{describe_toml_error, line_of};
use values::{is_public_pagerduty, setting_or_literal};

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
        if let Some(secret) = &entry.secret {
            target.signing = Some(
                signing_key(secret, target.kind, get)
                    .map_err(|problem| at(secret.span(), &key("secret"), problem))?,
            );
        }
        let named = NamedTarget::new(name.clone(), target);
        // Two names for one target are one target, posted to once: signed one way.
        if let Some(other) = (targets.iter())
            .find(|other: &&NamedTarget| other.identity == named.identity)
            .filter(|other| other.target.signing != named.target.signing)
        {
            return Err(at(
                span,
                &format!("targets.{name}"),
                format!(
                    "it is the same target as targets.{} (the same kind and URL), signed otherwise: give both the same secret, or use one of them",
                    other.name
                ),
            ));
        }
        targets.push(named);
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
                conditions::matchers(conditions.get_ref(), &functions, |span, leaf, problem| {
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
                let drift_threshold = (retrain.drift_threshold.as_ref())
                    .map(|threshold| {
                        (threshold.get_ref().fraction()).map_err(|problem| {
                            at(threshold.span(), &key("retrain.drift_threshold"), problem)
                        })
                    })
                    .transpose()?;
                let cooldown = (retrain.cooldown.as_ref())
                    .map(|cooldown| {
                        interval::parse(cooldown.get_ref()).map_err(|problem| {
                            at(cooldown.span(), &key("retrain.cooldown"), problem)
                        })
                    })
                    .transpose()?;
                Some(Retrain {
                    job,
                    drift_threshold,
                    cooldown,
                })
            }
        };
        let smoke_test = match &entry.smoke_test {
            None => None,
            Some(smoke) => Some(smoke_test::smoke_test(
                smoke.get_ref(),
                get,
                |span, leaf, problem| at(span, &key(&format!("smoke_test.{leaf}")), problem),
            )?),
        };
        let notify_every = match &entry.notify_every {
            None => None,
            Some(every) if notify.is_empty() => {
                return Err(at(
                    every.span(),
                    &key("notify_every"),
                    "the route notifies no target: give it notify, or leave notify_every out"
                        .into(),
                ));
            }
            Some(every) => Some(
                interval::parse(every.get_ref())
                    .map_err(|problem| at(every.span(), &key("notify_every"), problem))?,
            ),
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
                        scope::names(functions.iter().copied()),
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
            notify_every,
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

/// A target's signing key: `secret = "${NAME}"` on a plain webhook target, `NAME` holding a
/// Standard Webhooks secret (never echoed).
fn signing_key(
    secret: &Spanned<String>,
    kind: Kind,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<SigningKey, String> {
    if kind != Kind::Webhook {
        return Err(format!(
            "only webhook targets are signed (this one is {kind}, which verifies no signature): leave secret out"
        ));
    }
    let value = setting_or_literal(secret.get_ref(), get, |_| {
        Err("a literal secret is refused: write secret = \"${NAME}\" and set NAME as an app setting".into())
    })?;
    SigningKey::parse(&value).map_err(|problem| {
        format!(
            "{} is not a Standard Webhooks secret ({}): {problem}",
            secret.get_ref().trim(),
            aml_events::notify::signing::SECRET_FORM
        )
    })
}
