//! What one Functions host invocation costs inside the handler, without the network: pick the
//! event out of the host's double-encoded `Data`, read it, decide and answer. Run with
//! `cargo bench --bench invocation`.

use std::hint::black_box;

use aml_events::envelope;
use aml_handlers::hosting::custom_handler::event_body;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod rows;

fn host_invocation(c: &mut Criterion) {
    let body = rows::invocation("831e1650-001e-001b-66ab-eeb76e069631");
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
    // The whole function, an event id never seen before each time (no duplicate short cut),
    // in a dry run,
    // with and without a routes file (see `rows`).
    let runtime = rows::runtime();
    let mut invocations = rows::Invocations::new();
    let dir = std::env::temp_dir().join(format!("aml-handlers-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for row in rows::rows(&dir) {
        group.bench_function(row.name, |b| {
            b.iter(|| rows::handle(invocations.next(), &row.ctx, &runtime))
        });
    }
    let _ = std::fs::remove_dir_all(dir);
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
