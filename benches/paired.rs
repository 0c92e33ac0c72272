//! The whole-function rows in pairs, without and with a routes file doing the same work (the
//! target: a 20-route file within 5% of none), measured so that a few percent show on a shared
//! VM, where criterion's medians of one row move by 20% between runs. Run with
//! `cargo bench --bench paired` (the instruction counts need `valgrind`).
//!
//! - **Instructions per event**, counted by Valgrind's cachegrind: each row runs twice, for a
//!   short and a long count of events; the difference divided by the extra events is one
//!   event's cost, start-up cancelled out. A count does not move with the machine's load.
//! - **Time per event, interleaved**: the two rows of a pair take turns in short blocks, in
//!   alternating order, so both meet the same machine; the median of the blocks' ratios is
//!   the pair's difference.
//!
//! - **With traces exported**: the dry-run rows beside themselves with traces on, counted
//!   and timed the same ways, except that the traced rows cannot take turns with the others
//!   (traces stay on once on): timed after them.
//!
//! A filter after `--` (`instructions`, `interleaved`, `traces`) runs one of the three.

use std::{
    process::Command,
    time::{Duration, Instant},
};

mod rows;
mod traced;

/// Events in the short and the long cachegrind run of a row.
const SHORT: usize = 512;
const LONG: usize = 2560;

/// Interleaved timing: rounds, and events per block (a row's turn in a round).
const ROUNDS: usize = 400;
const BLOCK: usize = 256;

const INSTRUCTIONS: &str = "instructions per event";
const INTERLEAVED: &str = "time per event, pairs interleaved";
const TRACES: &str = "with traces exported";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, row, count] = args.as_slice()
        && flag == "--events"
    {
        let row = row.parse().expect("a row index");
        run_row(row, count.parse().expect("a count"));
        return;
    }
    if let [_, flag, row, count, endpoint] = args.as_slice()
        && flag == "--traced-events"
    {
        let row = row.parse().expect("a row index");
        run_traced_row(row, count.parse().expect("a count"), endpoint);
        return;
    }
    // `cargo bench` runs every bench target with the same filter: a filter naming neither
    // section (another bench's rows) skips both.
    let filter = args[1..].iter().find(|arg| !arg.starts_with("--"));
    let wanted = |section: &str| filter.is_none_or(|filter| section.contains(filter.as_str()));
    if wanted(INSTRUCTIONS) {
        instructions_per_event();
    }
    if wanted(INTERLEAVED) {
        interleaved();
    }
    // Last: traces stay on in this process once on.
    if wanted(TRACES) {
        traces_exported();
    }
}

fn instructions_per_event() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("{INSTRUCTIONS}: skipped, valgrind is not installed (apt-get install valgrind)");
        return;
    }
    let dir = scratch();
    let names: Vec<&str> = rows::rows(&dir).iter().map(|row| row.name).collect();
    let _ = std::fs::remove_dir_all(&dir);
    println!("{INSTRUCTIONS} (cachegrind, {} events)", LONG - SHORT);
    let mut counts = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let extra = instructions(index, LONG) - instructions(index, SHORT);
        let per_event = extra / (LONG - SHORT) as u64;
        counts.push(per_event);
        // Rows come in pairs: without, then with a routes file doing the same work.
        let versus = match index % 2 {
            1 => versus(per_event as f64 / counts[index - 1] as f64),
            _ => String::new(),
        };
        println!("  {name:<46} {per_event:>8}{versus}");
    }
}

fn interleaved() {
    let dir = scratch();
    let rows = rows::rows(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = rows::runtime();
    let mut invocations = rows::Invocations::new();
    let mut block = |ctx| {
        let started = Instant::now();
        for _ in 0..BLOCK {
            std::hint::black_box(rows::handle(invocations.next(), ctx, &runtime));
        }
        started.elapsed()
    };
    println!("{INTERLEAVED} ({ROUNDS} rounds of {BLOCK} events a row; medians)");
    for pair in rows.chunks(2) {
        let [without, with] = pair else { continue };
        let (mut times_without, mut times_with, mut ratios) = (vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            // Alternate which row goes first, so neither always follows the other.
            let (a, b) = if round % 2 == 0 {
                let a = block(&without.ctx);
                (a, block(&with.ctx))
            } else {
                let b = block(&with.ctx);
                (block(&without.ctx), b)
            };
            times_without.push(a);
            times_with.push(b);
            ratios.push(b.as_secs_f64() / a.as_secs_f64());
        }
        let per_event = |times: &mut Vec<Duration>| median(times) / BLOCK as u32;
        println!(
            "  {:<46} {:>8.2?}",
            without.name,
            per_event(&mut times_without)
        );
        println!(
            "  {:<46} {:>8.2?}{}",
            with.name,
            per_event(&mut times_with),
            versus(median(&mut ratios))
        );
    }
}

fn traces_exported() {
    let sink = traced::sink();
    if Command::new("valgrind").arg("--version").output().is_ok() {
        println!(
            "{TRACES}: {INSTRUCTIONS} (cachegrind, {} events)",
            LONG - SHORT
        );
        let mut counts = Vec::new();
        for (index, (row, _)) in traced::rows().iter().enumerate() {
            // A queue that holds every span: under cachegrind the exporting thread lags, and
            // spans a full queue drops would go uncounted.
            let count = |events: usize| {
                let args = [
                    "--traced-events".into(),
                    index.to_string(),
                    events.to_string(),
                    sink.clone(),
                ];
                count_instructions(&args, &[("OTEL_BSP_MAX_QUEUE_SIZE", "1000000")])
            };
            let per_event = (count(LONG) - count(SHORT)) / (LONG - SHORT) as u64;
            counts.push(per_event);
            let versus = match index % 2 {
                1 => versus(per_event as f64 / counts[index - 1] as f64),
                _ => String::new(),
            };
            println!("  {:<52} {per_event:>8}{versus}", row.name);
        }
    }
    // Each row in blocks on its own, the rows without traces first.
    let runtime = rows::runtime();
    let mut invocations = rows::Invocations::new();
    let rows = traced::rows();
    let mut time = |ctx| {
        let mut blocks: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..BLOCK {
                    std::hint::black_box(rows::handle(invocations.next(), ctx, &runtime));
                }
                started.elapsed()
            })
            .collect();
        median(&mut blocks) / BLOCK as u32
    };
    let mut times = Vec::new();
    for (row, traced) in &rows {
        if !traced {
            times.push(time(&row.ctx));
        }
    }
    let telemetry = traced::export_to(&sink);
    for (row, traced) in &rows {
        if *traced {
            times.push(time(&row.ctx));
        }
    }
    telemetry.shutdown();
    println!(
        "{TRACES}: time per event, in turn ({ROUNDS} blocks of {BLOCK} events a row; medians)"
    );
    let pairs = rows.len() / 2;
    for pair in 0..pairs {
        let (without, with) = (times[pair], times[pairs + pair]);
        println!("  {:<52} {without:>8.2?}", rows[2 * pair].0.name);
        println!(
            "  {:<52} {with:>8.2?}{}",
            rows[2 * pair + 1].0.name,
            versus(with.as_secs_f64() / without.as_secs_f64())
        );
    }
}

/// Handles `count` events in row `index` of the traced rows, traces exported to `endpoint`
/// in that row's process (run under cachegrind by [`traces_exported`]).
fn run_traced_row(index: usize, count: usize, endpoint: &str) {
    let (row, traced) = traced::rows().swap_remove(index);
    let telemetry = traced.then(|| traced::export_to(endpoint));
    handle_many(&row.ctx, count);
    // Every span of the run exported: the longer run's extra spans are all counted.
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
}

/// `count` invocations, each a new event, handled whole in `ctx` on a runtime of their own:
/// what a row's process counted under cachegrind runs.
fn handle_many(ctx: &aml_handlers::AppContext, count: usize) {
    let runtime = rows::runtime();
    let mut invocations = rows::Invocations::new();
    let mut total = 0;
    for _ in 0..count {
        total += rows::handle(invocations.next(), ctx, &runtime);
    }
    std::hint::black_box(total);
}

/// `  (+0.7% on the row above)`.
fn versus(ratio: f64) -> String {
    format!("  ({:+.1}% on the row above)", (ratio - 1.0) * 100.0)
}

fn median<T: PartialOrd + Copy>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

/// A directory of its own for the rows' routes files.
fn scratch() -> std::path::PathBuf {
    let name = format!("aml-handlers-paired-{}", std::process::id());
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Handles `count` events in row `index` (run under cachegrind by [`instructions`]).
fn run_row(index: usize, count: usize) {
    let dir = scratch();
    let row = rows::rows(&dir).swap_remove(index);
    let _ = std::fs::remove_dir_all(&dir);
    handle_many(&row.ctx, count);
}

/// The instructions this binary executes handling `count` events of row `index`.
fn instructions(index: usize, count: usize) -> u64 {
    let args = ["--events".into(), index.to_string(), count.to_string()];
    count_instructions(&args, &[])
}

/// The instructions this binary executes when run with `args` and `env`.
fn count_instructions(args: &[String], env: &[(&str, &str)]) -> u64 {
    let me = std::env::current_exe().expect("the bench binary's path");
    let output = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(me)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("valgrind runs");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cachegrind failed:\n{report}");
    report
        .lines()
        .find_map(|line| {
            let (_, refs) = line.split_once("I   refs:")?;
            refs.trim().replace(',', "").parse().ok()
        })
        .unwrap_or_else(|| panic!("no instruction count in cachegrind's report:\n{report}"))
}
