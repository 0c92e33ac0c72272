//! A bounded soak: many invocations on loopback, valid ones mixed with broken ones, against
//! one server. Valid ones must all succeed, broken ones get their status, and the server's
//! memory must stay flat once warm. `SOAK_INVOCATIONS` sets the count (default 20,000 in the
//! test suite; `SOAK_INVOCATIONS=200000 cargo test --release --test soak` for the long run).

mod common;

use std::{thread, time::Duration};

use common::{Server, fixture};
use serde_json::Value;

/// Resident memory of `pid` in KiB, from /proc (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn invocation(event: &Value) -> String {
    let data = serde_json::to_string(&serde_json::to_string_pretty(event).unwrap()).unwrap();
    serde_json::json!({"Data": {"event": data}, "Metadata": {}}).to_string()
}

#[test]
fn valid_and_broken_invocations_mixed_keep_their_statuses_and_memory_stays_flat() {
    let total: usize = std::env::var("SOAK_INVOCATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let server = Server::start(&[]);
    let pid = server.pid();
    let events: Vec<Value> =
        serde_json::from_str(&fixture("event_grid/run_completed.json")).unwrap();
    let template = events[0].clone();
    let broken = [
        ("not json".to_owned(), 400),
        (r#"{"Data": {}}"#.to_owned(), 400),
        (
            invocation(&serde_json::json!({"id": "x", "eventType": "t"})),
            400,
        ),
    ];

    // Each worker sends its share over one keep-alive connection; every 8th request is broken.
    let workers = 8;
    let run = |range: std::ops::Range<usize>| {
        let url = server.at("/RunCompleted");
        let template = template.clone();
        let broken = broken.clone();
        thread::spawn(move || {
            let client = common::client();
            let mut wrong = Vec::new();
            for i in range {
                let (body, expected) = if i % 8 == 7 {
                    broken[i % broken.len()].clone()
                } else {
                    // Unique ids on half the valid ones fill the duplicate set up to its bound;
                    // the rest repeat and are answered as duplicates.
                    let mut event = template.clone();
                    event["id"] = if i % 2 == 0 {
                        format!("soak-{i}").into()
                    } else {
                        "soak-repeat".into()
                    };
                    (invocation(&event), 200)
                };
                let status = client
                    .post(&url)
                    .body(body)
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                if status != expected {
                    wrong.push((i, status, expected));
                }
            }
            wrong
        })
    };
    let share = total / workers;
    let warm_up = total / 10;
    let mut wrong: Vec<(usize, u16, u16)> = (0..workers)
        .map(|w| run(w * share..w * share + warm_up / workers))
        .flat_map(|h| h.join().unwrap())
        .collect();
    let warm = rss_kib(pid).expect("the server's RSS");
    wrong.extend(
        (0..workers)
            .map(|w| run(w * share + warm_up / workers..(w + 1) * share))
            .flat_map(|h| h.join().unwrap()),
    );
    thread::sleep(Duration::from_millis(200));
    let end = rss_kib(pid).expect("the server's RSS");

    assert!(
        wrong.is_empty(),
        "{} wrong statuses, first: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    // Flat: the duplicate set is bounded, nothing else accumulates.
    assert!(
        end <= warm + 8 * 1024,
        "RSS grew from {warm} KiB to {end} KiB over {total} invocations"
    );
    eprintln!("soak: {total} invocations, RSS {warm} KiB after warm-up, {end} KiB at the end");
}
