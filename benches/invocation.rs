//! What one Functions host invocation costs inside the handler, without the network: pick the
//! event out of the host's double-encoded `Data`, read it, decide and answer. Run with
//! `cargo bench --bench invocation`.

use std::hint::black_box;

use aml_events::envelope;
use aml_handlers::{AppContext, config::Config, functions, hosting::custom_handler::event_body};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const EVENT: &str = include_str!("../tests/fixtures/event_grid/run_completed.json");

/// The body the host sends today: the event, indented, as a JSON string in a JSON string.
fn invocation(id: &str) -> String {
    let events: serde_json::Value = serde_json::from_str(EVENT).unwrap();
    let mut event = events[0].clone();
    event["id"] = id.into();
    let indented = serde_json::to_string_pretty(&event).unwrap();
    let data = serde_json::to_string(&serde_json::to_string(&indented).unwrap()).unwrap();
    format!(r#"{{"Data":{{"event":{data}}},"Metadata":{{"sys":{{"MethodName":"RunCompleted"}}}}}}"#)
}

fn host_invocation(c: &mut Criterion) {
    let body = invocation("831e1650-001e-001b-66ab-eeb76e069631");
    let mut group = c.benchmark_group("host invocation");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("unwrap Data.event", |b| {
        b.iter(|| event_body(black_box(body.as_bytes())).unwrap().1.len())
    });
    group.bench_function("unwrap + parse + decode", |b| {
        b.iter(|| {
            let (_, event) = event_body(black_box(body.as_bytes())).unwrap();
            let events = envelope::parse_decoded_text(None, &event).unwrap();
            events[0]
                .data
                .as_ref()
                .unwrap()
                .as_ref()
                .unwrap()
                .function()
        })
    });
    // The whole function, a fresh event id each time (no duplicate short cut), in a dry run.
    let ctx = AppContext::new(Config::from_lookup(|_| None).unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bodies: Vec<String> = (0..4096).map(|i| invocation(&format!("{i:036}"))).collect();
    let mut next = 0;
    group.bench_function("whole function (dry run)", |b| {
        b.iter(|| {
            next = (next + 1) % bodies.len();
            let (_, event) = event_body(bodies[next].as_bytes()).unwrap();
            let events = envelope::parse_decoded_text(None, &event).unwrap();
            let outcomes = runtime
                .block_on(functions::handle_all(
                    events,
                    Some(aml_events::Function::RunCompleted),
                    &ctx,
                ))
                .unwrap();
            serde_json::to_vec(&outcomes).unwrap().len()
        })
    });
    // With a routes file of 20 routes (SPEC §11: within 5% of no file). 19 of them, half for
    // RunCompleted, half for RunStatusChanged, do not match the event (other experiments, a
    // run type and an owner tag it lacks); the 20th matches only in the "notify" pair. Without
    // notify, no route matches and the event is acknowledged, as the default settings
    // acknowledge a RunCompleted; with notify, both do the same dry-run notification.
    let dir = std::env::temp_dir().join(format!("aml-handlers-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let contexts = [
        (
            "whole function (dry run, 20 routes)",
            routed(&dir, "Failed"),
        ),
        ("whole function (dry run, notify)", notifying()),
        (
            "whole function (dry run, notify, 20 routes)",
            routed(&dir, "Completed"),
        ),
    ];
    for (name, ctx) in &contexts {
        group.bench_function(*name, |b| {
            b.iter(|| {
                next = (next + 1) % bodies.len();
                let (_, event) = event_body(bodies[next].as_bytes()).unwrap();
                let events = envelope::parse_decoded_text(None, &event).unwrap();
                let outcomes = runtime
                    .block_on(functions::handle_all(
                        events,
                        Some(aml_events::Function::RunCompleted),
                        ctx,
                    ))
                    .unwrap();
                serde_json::to_vec(&outcomes).unwrap().len()
            })
        });
    }
    let _ = std::fs::remove_dir_all(dir);
    group.finish();
}

const TEAM_WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/x";

/// A dry run with a 20-route file whose last route matches a RunCompleted in `last_status`.
fn routed(dir: &std::path::Path, last_status: &str) -> AppContext {
    let routes = dir.join(format!("routes-{last_status}.toml"));
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
        "[[routes]]\nname = \"the rest\"\nfunctions = [\"RunCompleted\"]\nmatch = {{ run_status = \"{last_status}\" }}\nnotify = [\"team\"]\n"
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
fn notifying() -> AppContext {
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

// criterion's macro declares an undocumented function.
#[allow(missing_docs)]
mod registration {
    use super::*;
    criterion_group!(benches, host_invocation);
}
use registration::benches;
criterion_main!(benches);
