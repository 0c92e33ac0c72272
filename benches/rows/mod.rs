//! The whole-function rows both benchmarks run: the host's invocation bodies, and the dry-run
//! contexts with and without a routes file (docs/routes.md: a 20-route file within 5% of none).
//! `invocation` times them with criterion; `paired` counts the instructions of one event and times the pairs interleaved.

use aml_events::envelope;
use aml_handlers::{
    AppContext, config::Config, functions, hosting::custom_handler::event_body,
    outcome::ActionStatus,
};

const EVENT: &str = include_str!("../../tests/fixtures/event_grid/run_completed.json");

/// The body the host sends today: the event, indented, as a JSON string in a JSON string.
pub(crate) fn invocation(id: &str) -> String {
    let events: serde_json::Value = serde_json::from_str(EVENT).unwrap();
    let mut event = events[0].clone();
    event["id"] = id.into();
    let indented = serde_json::to_string_pretty(&event).unwrap();
    let data = serde_json::to_string(&serde_json::to_string(&indented).unwrap()).unwrap();
    format!(r#"{{"Data":{{"event":{data}}},"Metadata":{{"sys":{{"MethodName":"RunCompleted"}}}}}}"#)
}

/// Invocations of the same event, each with an id never used before: the functions remember
/// the last 10,000 events they completed and acknowledge a redelivery at once, so a row that
/// reused ids would time that short cut instead of the function.
pub(crate) struct Invocations {
    body: String,
    id: std::ops::Range<usize>,
    next: u64,
}

impl Invocations {
    pub(crate) fn new() -> Invocations {
        let first = "0".repeat(36);
        let body = invocation(&first);
        let start = body.find(&first).expect("the id in the body");
        Invocations {
            id: start..start + first.len(),
            body,
            next: 0,
        }
    }

    /// The next invocation: the same body with the next id, written in place in its digits.
    pub(crate) fn next(&mut self) -> &str {
        self.next += 1;
        let mut number = self.next;
        let mut digits = [b'0'; 36];
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (number % 10) as u8;
            number /= 10;
        }
        let digits = std::str::from_utf8(&digits).expect("ASCII digits");
        self.body.replace_range(self.id.clone(), digits);
        &self.body
    }
}

/// One whole-function row: a dry run's context and the name criterion gives it.
pub(crate) struct Row {
    /// The criterion name: `whole function (dry run, 20 routes)`.
    pub(crate) name: &'static str,
    /// The context the function runs in.
    pub(crate) ctx: AppContext,
}

/// The four rows, in pairs doing the same work with and without a routes file of 20 routes.
/// 19 of the routes, half for RunCompleted and half for RunStatusChanged, do not match the
/// event (other experiments, a run type and an owner tag it lacks); the 20th matches only in
/// the "notify" pair. Without notify, no route matches and the event is acknowledged, as the
/// default settings acknowledge a RunCompleted; with notify, both do the same dry-run
/// notification to one target. The routes files are written under `dir`.
pub(crate) fn rows(dir: &std::path::Path) -> Vec<Row> {
    vec![
        Row {
            name: "whole function (dry run)",
            ctx: AppContext::new(Config::from_lookup(|_| None).unwrap()).unwrap(),
        },
        Row {
            name: "whole function (dry run, 20 routes)",
            ctx: routed(dir, "nightly-*"),
        },
        Row {
            name: "whole function (dry run, notify)",
            ctx: notifying(),
        },
        Row {
            name: "whole function (dry run, notify, 20 routes)",
            ctx: routed(dir, "automl-local-regression"),
        },
    ]
}

/// One invocation handled whole: unwrapped, read, run, its outcomes encoded.
pub(crate) fn handle(body: &str, ctx: &AppContext, runtime: &tokio::runtime::Runtime) -> usize {
    let (_, event) = event_body(body.as_bytes()).unwrap();
    let events = envelope::parse_decoded_text(None, &event).unwrap();
    let outcomes = runtime
        .block_on(functions::handle_all(
            events,
            Some(aml_events::Function::RunCompleted),
            &Default::default(),
            ctx,
        ))
        .unwrap();
    let redelivered = |outcome: &aml_handlers::outcome::Outcome| {
        (outcome.actions.iter()).any(|report| report.status == ActionStatus::Duplicate)
    };
    assert!(
        !outcomes.iter().any(redelivered),
        "a row timed a redelivery"
    );
    serde_json::to_vec(&outcomes).unwrap().len()
}

/// The runtime the hosts give the functions: one thread.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const TEAM_WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/x";

/// A dry run with a 20-route file whose last route matches a RunCompleted of an experiment
/// matching `last_experiment` (the benchmark's event is of `automl-local-regression`).
fn routed(dir: &std::path::Path, last_experiment: &str) -> AppContext {
    let file_name = last_experiment.replace('*', "any");
    let routes = dir.join(format!("routes-{file_name}.toml"));
    let mut text = String::from("[targets.team]\nurl = \"${TEAM_WEBHOOK}\"\n");
    for i in 0..19 {
        let function = if i % 2 == 0 {
            "RunCompleted"
        } else {
            "RunStatusChanged"
        };
        text.push_str(&format!(
            "[[routes]]\nname = \"route {i}\"\nfunctions = [\"{function}\"]\nmatch = {{ experiment = [\"team-{i}-*\", \"automl-*\"], run_type = \"azureml.*\", tags = {{ owner = \"team-{i}\" }} }}\nnotify = [\"team\"]\n"
        ));
    }
    text.push_str(&format!(
        "[[routes]]\nname = \"the rest\"\nfunctions = [\"RunCompleted\"]\nmatch = {{ experiment = \"{last_experiment}\" }}\nnotify = [\"team\"]\n"
    ));
    std::fs::write(&routes, text).unwrap();
    let setting = routes.display().to_string();
    AppContext::new(
        Config::from_lookup(|name| match name {
            "AML_ROUTES_FILE" => Some(setting.clone()),
            "TEAM_WEBHOOK" => Some(TEAM_WEBHOOK.into()),
            "AML_DRY_RUN" => Some("1".into()),
            _ => None,
        })
        .unwrap(),
    )
    .unwrap()
}

/// A dry run without a routes file that notifies about RunCompleted, as the routes do.
pub(crate) fn notifying() -> AppContext {
    AppContext::new(
        Config::from_lookup(|name| match name {
            "AML_NOTIFY_URL" => Some(TEAM_WEBHOOK.into()),
            "AML_NOTIFY_ON" => Some("RunCompleted".into()),
            "AML_DRY_RUN" => Some("1".into()),
            _ => None,
        })
        .unwrap(),
    )
    .unwrap()
}
