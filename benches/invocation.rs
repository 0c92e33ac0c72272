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
    group.finish();
}

// criterion's macro declares an undocumented function.
#[allow(missing_docs)]
mod registration {
    use super::*;
    criterion_group!(benches, host_invocation);
}
use registration::benches;
criterion_main!(benches);
