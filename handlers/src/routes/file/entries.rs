//! The routes file's shape, as serde reads it: every value kept with its span, so that a
//! problem found later names its line; unknown keys refused.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::values::literal;
use crate::routes::glob::Glob;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEntry {
    #[serde(default)]
    pub(super) targets: BTreeMap<String, Spanned<TargetEntry>>,
    #[serde(default)]
    pub(super) routes: Vec<Spanned<RouteEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetEntry {
    pub(super) url: Option<Spanned<String>>,
    pub(super) kind: Option<Spanned<String>>,
    pub(super) routing_key: Option<Spanned<String>>,
    pub(super) secret: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteEntry {
    pub(super) name: Spanned<String>,
    pub(super) functions: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(rename = "match")]
    pub(super) conditions: Option<Spanned<MatchEntry>>,
    pub(super) notify: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) notify_every: Option<Spanned<String>>,
    pub(super) retrain: Option<Spanned<RetrainEntry>>,
    pub(super) smoke_test: Option<Spanned<SmokeTestEntry>>,
    pub(super) enrich: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MatchEntry {
    pub(super) workspace: Option<Spanned<Patterns>>,
    pub(super) experiment: Option<Spanned<Patterns>>,
    pub(super) run_status: Option<Spanned<Patterns>>,
    pub(super) run_type: Option<Spanned<Patterns>>,
    pub(super) model: Option<Spanned<Patterns>>,
    pub(super) model_version: Option<Spanned<Patterns>>,
    pub(super) service: Option<Spanned<Patterns>>,
    pub(super) compute_type: Option<Spanned<Patterns>>,
    pub(super) subject: Option<Spanned<Patterns>>,
    pub(super) signal: Option<Spanned<Patterns>>,
    pub(super) monitor_breach: Option<Spanned<bool>>,
    pub(super) drift_at_least: Option<Spanned<Number>>,
    pub(super) tags: Option<BTreeMap<String, Spanned<Patterns>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetrainEntry {
    pub(super) job_file: Spanned<String>,
    pub(super) drift_threshold: Option<Spanned<Number>>,
    pub(super) cooldown: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SmokeTestEntry {
    pub(super) uri: Spanned<String>,
    pub(super) key: Option<Spanned<String>>,
    pub(super) payload: Option<Spanned<toml::Value>>,
}

/// One pattern or a list of them; a bare number is read as its text (`model_version = 4`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Patterns {
    One(Scalar),
    Many(Vec<Scalar>),
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    Text(String),
    Integer(i64),
}

/// An integer or a float, both read as `f64`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Number {
    Float(f64),
    Integer(i64),
}

impl Number {
    pub(super) fn value(&self) -> f64 {
        match self {
            Number::Float(value) => *value,
            Number::Integer(value) => *value as f64,
        }
    }

    /// The value, when it is a fraction from 0 to 1 (a drift coefficient).
    pub(super) fn fraction(&self) -> Result<f64, String> {
        let value = self.value();
        match (0.0..=1.0).contains(&value) {
            true => Ok(value),
            false => Err(format!("{value} is not a number from 0 to 1")),
        }
    }
}

impl Patterns {
    /// The globs, at least one; a pattern holding `${` is refused (a pattern is never a
    /// reference).
    pub(super) fn globs(&self) -> Result<Vec<Glob>, String> {
        let glob = |scalar: &Scalar| match scalar {
            Scalar::Text(text) => literal(text).map(Glob::new),
            Scalar::Integer(number) => Ok(Glob::new(&number.to_string())),
        };
        match self {
            Patterns::One(one) => glob(one).map(|one| vec![one]),
            Patterns::Many(many) if many.is_empty() => Err("an empty list matches nothing".into()),
            Patterns::Many(many) => many.iter().map(glob).collect(),
        }
    }
}
