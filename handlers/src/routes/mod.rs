//! Routes: who hears about what, and what runs, per experiment, model and monitor. Every
//! event's actions come from routes: those of the file `AML_ROUTES_FILE` names (TOML: named
//! notification targets and routes, each with its functions, conditions and actions), or,
//! without a file, the implicit routes the `AML_*` action settings make at start-up (one per
//! function, named `settings: <Function>`). Every route whose conditions hold acts; an effect
//! several routes ask for (the same target, job or scoring URI) runs once per event.
//!
//! # Layout
//! - [`file`](mod@file): the TOML file read with spans, checked, and turned into [`Routes`]; every
//!   problem names the file, line and key.
//! - [`implicit`]: the `AML_*` settings as routes.
//! - [`glob`]: the case-insensitive globs conditions match texts with.
//! - [`matcher`]: [`matcher::EventView`], the flat view of one event, and
//!   [`matcher::Matcher`], one condition, evaluated against it by the functions and by
//!   `explain` alike.
//! - [`scope`]: what each function's events carry and what it can do, the table routes are
//!   checked against.
//! - [`job`]: retraining job templates and job names.
//! - [`interval`]: the intervals of noise control (`cooldown`, `notify_every`), `30s` to `2d`.
//!
//! Routes are data the functions read: this module says which routes apply and with what,
//! and imports nothing of the functions; what the actions do is decided in `functions`.

pub mod file;
pub mod glob;
pub mod implicit;
pub mod interval;
pub mod job;
pub mod matcher;
pub mod scope;

use std::{borrow::Cow, fmt, path::PathBuf, time::Duration};

use aml_events::{
    AmlEvent, Event, Function, Secret,
    notify::Target,
    redact::{self, Show},
};
use url::Url;

use job::JobTemplate;
use matcher::{Asks, EventView, Matcher};

/// The routes every event is checked against: a file's, or the settings' implicit ones.
#[derive(Debug, Clone)]
pub struct Routes {
    /// Where they come from.
    pub origin: Origin,
    /// The notification targets, by name.
    pub targets: Vec<NamedTarget>,
    /// The routes, in order.
    pub routes: Vec<Route>,
    /// Per function (by position in [`Function::ALL`]): what an event of it is checked
    /// against, worked out once at start-up.
    by_function: [Candidates; Function::ALL.len()],
}

/// Where a set of routes comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A routes file, as named.
    File(PathBuf),
    /// The `AML_*` action settings (no routes file).
    Settings,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Settings => f.write_str("the AML_* settings"),
        }
    }
}

// `by_function` is built from `Function::ALL` and read by `function as usize`: the two agree
// when `ALL` lists the variants in the order they are declared.
const _: () = {
    let mut index = 0;
    while index < Function::ALL.len() {
        assert!(Function::ALL[index] as usize == index);
        index += 1;
    }
};

/// The routes of one function, what they ask about an event, and the note of an event none
/// of them matches.
#[derive(Debug, Clone, Default)]
struct Candidates {
    /// Indices into [`Routes::routes`].
    routes: Vec<usize>,
    /// What their conditions read.
    asks: Asks,
    /// Why an event of the function none of them matches is acknowledged.
    no_match: String,
}

/// A notification target with its name. Its `Debug` shows no URL past the origin: the rest is
/// the target's key.
#[derive(Clone)]
pub struct NamedTarget {
    /// `[targets.<name>]`, or, for `AML_NOTIFY_URL`'s targets, the kind (`slack`, then
    /// `slack-2`, ...).
    pub name: String,
    /// Kind, URL and routing key, the `${NAME}`s resolved (secrets).
    pub target: Target,
    /// What makes posting to it a distinct effect ([`Target::ledger_id`]): two names for the
    /// very same target share it.
    pub identity: String,
    /// The request a notice makes, as reports show it: `POST https://hooks.slack.com/…`
    /// (the origin only: the rest of the URL is the target's key).
    pub request: String,
    /// Where its notices are posted ([`Target::post_url`]), parsed once, not per notice.
    pub post_url: Option<Url>,
}

impl fmt::Debug for NamedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `target` shows itself without its key; `post_url` is the whole URL, so it is left out.
        f.debug_struct("NamedTarget")
            .field("name", &self.name)
            .field("target", &self.target)
            .field("identity", &self.identity)
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl NamedTarget {
    /// `target` under `name`.
    pub fn new(name: String, target: Target) -> NamedTarget {
        NamedTarget {
            name,
            identity: target.ledger_id(),
            request: format!(
                "POST {}",
                redact::url_text(target.url.expose(), Show::Origin)
            ),
            post_url: target.post_url(),
            target,
        }
    }
}

/// One route: a `[[routes]]` entry of the file, or an implicit route of the settings.
#[derive(Debug, Clone)]
pub struct Route {
    /// `name` (`settings: RunStatusChanged` for the implicit ones).
    pub name: String,
    /// The line of its `[[routes]]` header (0 for the implicit routes).
    pub line: usize,
    /// `functions`.
    pub functions: Vec<Function>,
    /// `match`: every one must hold.
    pub matchers: Vec<Matcher>,
    /// `notify`: indices into [`Routes::targets`].
    pub notify: Vec<usize>,
    /// `notify_every` (or `AML_NOTIFY_EVERY`): at most one notice per target and group in
    /// this interval, the others held back and counted; `None`: every event notifies.
    pub notify_every: Option<Duration>,
    /// `retrain`.
    pub retrain: Option<Retrain>,
    /// `smoke_test`.
    pub smoke_test: Option<SmokeTest>,
    /// `enrich`: `None` is the default (run events that notify are enriched).
    pub enrich: Option<bool>,
    /// The route's part of its jobs' names (see [`job::job_name`]); `None` for the implicit
    /// routes, whose jobs are named after the event alone.
    pub job_part: Option<String>,
    /// Why an action the route does not take is not taken, as outcomes say it.
    pub why_not: WhyNot,
}

/// Why a route does not take an action: a routes file's generic words, or the setting that
/// would turn it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhyNot {
    /// No notification.
    pub notify: Cow<'static, str>,
    /// No retrain.
    pub retrain: Cow<'static, str>,
    /// No smoke test.
    pub smoke_test: Cow<'static, str>,
    /// No enrichment.
    pub enrich: Cow<'static, str>,
}

impl WhyNot {
    /// The words for a routes file's routes.
    pub const FILE: WhyNot = WhyNot {
        notify: Cow::Borrowed("no matching route notifies"),
        retrain: Cow::Borrowed("no matching route retrains"),
        smoke_test: Cow::Borrowed("no matching route smoke-tests"),
        enrich: Cow::Borrowed("no matching route enriches run events"),
    };
}

/// A route's `retrain` action.
#[derive(Debug, Clone)]
pub struct Retrain {
    /// `job_file`, read and checked at start-up.
    pub job: JobTemplate,
    /// `drift_threshold` (v1 drift only); `None`: `AML_RETRAIN_DRIFT_THRESHOLD`.
    pub drift_threshold: Option<f64>,
    /// `cooldown` (or `AML_RETRAIN_COOLDOWN`): no retrain for the same group within this
    /// long of the last one the route started; `None`: none. One at a time holds regardless.
    pub cooldown: Option<Duration>,
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

impl SmokeTest {
    /// What makes scoring it a distinct effect: its URI, fingerprinted (it may hold a key).
    pub fn identity(&self) -> String {
        redact::fingerprint(self.uri.as_str())
    }
}

impl Routes {
    /// Routes from their parts, with what each function's events are checked against and the
    /// note of an event none matches (`no_match(function)`).
    fn new(
        origin: Origin,
        targets: Vec<NamedTarget>,
        routes: Vec<Route>,
        no_match: impl Fn(Function) -> String,
    ) -> Routes {
        let by_function = Function::ALL.map(|function| {
            let of_function: Vec<usize> = (0..routes.len())
                .filter(|index| routes[*index].functions.contains(&function))
                .collect();
            let asks = of_function
                .iter()
                .flat_map(|index| &routes[*index].matchers)
                .fold(Asks::default(), Asks::with);
            Candidates {
                routes: of_function,
                asks,
                no_match: no_match(function),
            }
        });
        Routes {
            origin,
            targets,
            routes,
            by_function,
        }
    }

    fn candidates(&self, function: Function) -> &Candidates {
        &self.by_function[function as usize]
    }

    /// The routes that act on an event of `function`, with its envelope and data: those of
    /// its function whose conditions all hold. Reads of the event only what those routes
    /// ask about; an event of a function no route names costs no read at all. None: the note
    /// that acknowledges it.
    pub fn matching<T>(
        &self,
        function: Function,
        event: &Event<T>,
        data: &AmlEvent,
    ) -> Result<Vec<&Route>, &str> {
        let candidates = self.candidates(function);
        let mut matched = Vec::new();
        if !candidates.routes.is_empty() {
            let view = EventView::reading(function, event, data, candidates.asks);
            matched.extend(
                candidates
                    .routes
                    .iter()
                    .map(|index| &self.routes[*index])
                    .filter(|route| route.holds(&view)),
            );
        }
        if matched.is_empty() {
            return Err(&candidates.no_match);
        }
        Ok(matched)
    }

    /// A target by its index in a route's `notify`.
    pub fn target(&self, index: usize) -> &NamedTarget {
        &self.targets[index]
    }

    /// Every target, in the file's order (or `AML_NOTIFY_URL`'s): what `notify --test` tries.
    pub fn targets(&self) -> &[NamedTarget] {
        &self.targets
    }
}

impl Route {
    /// Whether the route acts on the event: its function, and every condition.
    pub fn applies(&self, view: &EventView<'_>) -> bool {
        self.functions.contains(&view.function) && self.holds(view)
    }

    /// Whether every condition holds (the function is the caller's to check).
    fn holds(&self, view: &EventView<'_>) -> bool {
        self.matchers.iter().all(|matcher| matcher.holds(view))
    }

    /// Whether run events matched by this route are enriched: `enrich`, else whenever the
    /// route notifies.
    pub fn enriches(&self) -> bool {
        self.enrich.unwrap_or(!self.notify.is_empty())
    }

    /// `route "nightly" (line 12)`; the implicit routes have no line.
    pub fn heading(&self) -> String {
        match self.line {
            0 => format!("route {:?}", self.name),
            line => format!("route {:?} (line {line})", self.name),
        }
    }
}

/// The route as `routes check` and `explain` print it: name, functions, conditions, actions.
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
        writeln!(f, "{}", route.heading())?;
        let functions = scope::names(route.functions.iter().copied());
        writeln!(f, "  functions: {functions}")?;
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
        if route.notify.is_empty() {
            lines.push(format!("notify: none ({})", route.why_not.notify));
        } else {
            let targets: Vec<String> = route
                .notify
                .iter()
                .map(|index| {
                    let target = self.target(*index);
                    let signed = if target.target.signing.is_some() {
                        ", signed"
                    } else {
                        ""
                    };
                    format!("{} ({}{signed})", target.name, target.target.kind)
                })
                .collect();
            lines.push(format!("notify: {}", targets.join(", ")));
            if let Some(every) = route.notify_every {
                lines.push(format!(
                    "notify_every: {} (at most one notice per target and group; the others held and counted)",
                    interval::show(every)
                ));
            }
        }
        if let Some(retrain) = &route.retrain {
            let threshold = retrain
                .drift_threshold
                .map_or(String::new(), |t| format!(", drift_threshold {t}"));
            let cooldown = retrain.cooldown.map_or(String::new(), |c| {
                format!(", cooldown {}", interval::show(c))
            });
            lines.push(format!(
                "retrain: job {}{threshold}, one at a time per group{cooldown}",
                retrain.job.path.display()
            ));
        }
        if let Some(smoke) = &route.smoke_test {
            lines.push(format!(
                "smoke_test: POST {}",
                redact::url(&smoke.uri, Show::Origin)
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

#[cfg(test)]
mod tests;
