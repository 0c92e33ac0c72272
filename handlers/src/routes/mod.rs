//! Routes (SPEC §11): who hears about what, and what runs, per experiment, model and monitor.
//! `AML_ROUTES_FILE` names a TOML file of named notification targets and routes; each route
//! names its functions, its conditions and its actions. Every route whose conditions hold
//! acts; a target or job asked for by several routes runs once per event.
//!
//! # Layout
//! - [`file`]: the TOML file read with spans, checked, and turned into [`Routes`]; every
//!   problem names the file, line and key.
//! - [`matcher`]: [`matcher::EventView`], the flat view of one event, and
//!   [`matcher::Matcher`], one condition, evaluated against it by the functions and by
//!   `explain` alike.
//!
//! Without a file nothing here runs: the `AML_*` action settings act as one implicit route per
//! function (see `functions::actions`). What the actions do is decided in `functions`, not
//! here; this module says which routes apply and with what.

pub mod file;
pub mod matcher;

use std::{fmt, path::PathBuf};

use aml_events::{Function, Secret, notify::Target};
use url::Url;

use crate::config::JobTemplate;
use matcher::{EventView, Matcher};

pub use file::RoutesError;

/// A validated routes file.
#[derive(Debug, Clone)]
pub struct Routes {
    /// The file, as named.
    pub file: PathBuf,
    /// Its targets, in the file's order (by name).
    pub targets: Vec<NamedTarget>,
    /// Its routes, in the file's order.
    pub routes: Vec<Route>,
}

/// A notification target of the file, with its name.
#[derive(Debug, Clone)]
pub struct NamedTarget {
    /// `[targets.<name>]`.
    pub name: String,
    /// Kind, URL and routing key, the `${NAME}`s resolved (secrets).
    pub target: Target,
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone)]
pub struct Route {
    /// `name`.
    pub name: String,
    /// The line of its `[[routes]]` header.
    pub line: usize,
    /// `functions`.
    pub functions: Vec<Function>,
    /// `match`: every one must hold.
    pub matchers: Vec<Matcher>,
    /// `notify`: indices into [`Routes::targets`].
    pub notify: Vec<usize>,
    /// `retrain`.
    pub retrain: Option<Retrain>,
    /// `smoke_test`.
    pub smoke_test: Option<SmokeTest>,
    /// `enrich`: `None` is the default (run events that notify are enriched).
    pub enrich: Option<bool>,
}

/// A route's `retrain` action.
#[derive(Debug, Clone)]
pub struct Retrain {
    /// `job_file`, read and checked at start-up.
    pub job: JobTemplate,
    /// `drift_threshold` (v1 drift only); `None`: `AML_RETRAIN_DRIFT_THRESHOLD`.
    pub drift_threshold: Option<f64>,
}

/// A route's `smoke_test` action.
#[derive(Debug, Clone)]
pub struct SmokeTest {
    /// `uri`.
    pub uri: Url,
    /// `key`, sent as a bearer token.
    pub key: Option<Secret>,
    /// `payload`, as JSON.
    pub payload: serde_json::Value,
}

impl Routes {
    /// Reads and checks the file at `path`; `${NAME}`s are looked up through `get` (app
    /// settings, environment).
    pub fn load(
        path: &std::path::Path,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Routes, RoutesError> {
        file::load(path, get)
    }

    /// The routes that name `function`.
    pub fn for_function(&self, function: Function) -> impl Iterator<Item = &Route> + Clone {
        self.routes
            .iter()
            .filter(move |route| route.functions.contains(&function))
    }

    /// The routes that act on the event: those of its function whose conditions all hold.
    pub fn matching<'a>(&'a self, view: &EventView) -> Vec<&'a Route> {
        self.routes
            .iter()
            .filter(|route| route.applies(view))
            .collect()
    }

    /// A target's name and kind, as reports show it: `oncall (pagerduty)`.
    pub fn target(&self, index: usize) -> &NamedTarget {
        &self.targets[index]
    }
}

impl Route {
    /// Whether the route acts on the event: its function, and every condition.
    pub fn applies(&self, view: &EventView) -> bool {
        self.functions.contains(&view.function)
            && self.matchers.iter().all(|matcher| matcher.holds(view))
    }

    /// Whether run events matched by this route are enriched: `enrich`, else whenever the
    /// route notifies.
    pub fn enriches(&self) -> bool {
        self.enrich.unwrap_or(!self.notify.is_empty())
    }
}

/// The route as `routes check` prints it: name, functions, conditions, actions.
pub struct Described<'a> {
    routes: &'a Routes,
    route: &'a Route,
}

impl Routes {
    /// Every route, described.
    pub fn describe(&self) -> impl Iterator<Item = Described<'_>> {
        self.routes.iter().map(move |route| Described {
            routes: self,
            route,
        })
    }
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let route = self.route;
        writeln!(f, "route {:?} (line {})", route.name, route.line)?;
        let functions: Vec<&str> = route.functions.iter().map(|f| f.name()).collect();
        writeln!(f, "  functions: {}", functions.join(", "))?;
        if route.matchers.is_empty() {
            writeln!(f, "  when: always")?;
        } else {
            let conditions: Vec<String> = route.matchers.iter().map(ToString::to_string).collect();
            writeln!(f, "  when: {}", conditions.join(" and "))?;
        }
        for action in self.routes.actions(route) {
            writeln!(f, "  {action}")?;
        }
        Ok(())
    }
}

impl Routes {
    /// One line per action of `route`: `notify: oncall (pagerduty), ml-team (slack)`.
    pub fn actions(&self, route: &Route) -> Vec<String> {
        let mut lines = Vec::new();
        if !route.notify.is_empty() {
            let targets: Vec<String> = route
                .notify
                .iter()
                .map(|index| {
                    let target = self.target(*index);
                    format!("{} ({})", target.name, target.target.kind)
                })
                .collect();
            lines.push(format!("notify: {}", targets.join(", ")));
        }
        if let Some(retrain) = &route.retrain {
            let threshold = retrain
                .drift_threshold
                .map_or(String::new(), |t| format!(", drift_threshold {t}"));
            lines.push(format!(
                "retrain: job {}{threshold}",
                retrain.job.path.display()
            ));
        }
        if let Some(smoke) = &route.smoke_test {
            lines.push(format!(
                "smoke_test: POST {}",
                crate::functions::actions::redacted(smoke.uri.as_str())
            ));
        }
        let runs = [Function::RunStatusChanged, Function::RunCompleted];
        if route.functions.iter().any(|f| runs.contains(f)) {
            let enrich = if route.enriches() { "yes" } else { "no" };
            lines.push(format!("enrich run events: {enrich}"));
        }
        lines
    }
}
