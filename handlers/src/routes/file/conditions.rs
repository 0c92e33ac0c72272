//! A route's `match` table as conditions, each refused when none of the route's functions
//! could meet it (the route would never match).

use std::ops::Range;

use aml_events::Function;

use super::{
    entries::MatchEntry,
    error::{Problem, RoutesError},
};
use crate::routes::{
    matcher::{Field, Matcher},
    scope::{self, Key},
};

/// The conditions of a `match` table, each checked to be one some function of the route
/// (`functions`) can meet.
pub(super) fn matchers(
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
                scope::names(functions.iter().copied()),
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
        let value = (drift.get_ref().fraction())
            .map_err(|problem| at(drift.span(), "drift_at_least", problem))?;
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
        let matcher = Matcher::Tag {
            key: tag.clone(),
            any_of,
        };
        carried(&matcher, patterns.span(), &written)?;
        matchers.push(matcher);
    }
    Ok(matchers)
}
