//! Instructions per event for the whole-function rows, counted by Valgrind's cachegrind rather
//! than timed: a count does not move with the machine's load, so two rows a few percent apart
//! (SPEC §11: a 20-route file within 5% of none) can be told apart on a shared VM, where
//! criterion's medians move by 20% between runs. Run with `cargo bench --bench instructions`
//! (needs `valgrind`; `apt-get install valgrind`).
//!
//! Each row runs twice under cachegrind, for a short and a long count of events; the
//! difference divided by the extra events is one event's cost, start-up cancelled out.

use std::process::Command;

mod rows;

/// Events in the short and the long run of a row.
const SHORT: usize = 512;
const LONG: usize = 2560;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, row, count] = args.as_slice()
        && flag == "--events"
    {
        run_row(
            row.parse().expect("a row index"),
            count.parse().expect("a count"),
        );
        return;
    }
    // `cargo bench` runs every bench target; a filter naming another one skips this.
    let filter = args[1..].iter().find(|arg| !arg.starts_with("--"));
    if filter.is_some_and(|filter| !"instructions per event".contains(filter.as_str())) {
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!(
            "instructions per event: skipped, valgrind is not installed (apt-get install valgrind)"
        );
        return;
    }
    let dir = scratch();
    let names: Vec<&str> = rows::rows(&dir).iter().map(|row| row.name).collect();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "instructions per event (cachegrind, {} events)",
        LONG - SHORT
    );
    let mut counts = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let per_event =
            (instructions(index, LONG) - instructions(index, SHORT)) / (LONG - SHORT) as u64;
        counts.push(per_event);
        // Rows come in pairs: without, then with a routes file doing the same work.
        let versus = if index % 2 == 1 {
            let without = counts[index - 1] as f64;
            format!(
                "  ({:+.1}% on the row above)",
                (per_event as f64 / without - 1.0) * 100.0
            )
        } else {
            String::new()
        };
        println!("{name:<46} {per_event:>8}{versus}");
    }
}

/// A directory of its own for the rows' routes files.
fn scratch() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("aml-handlers-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Handles `count` events in row `index` (run under cachegrind by [`instructions`]).
fn run_row(index: usize, count: usize) {
    let dir = scratch();
    let row = rows::rows(&dir).swap_remove(index);
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = rows::runtime();
    let bodies = rows::bodies();
    let mut total = 0;
    for i in 0..count {
        total += rows::handle(&bodies[i % bodies.len()], &row.ctx, &runtime);
    }
    std::hint::black_box(total);
}

/// The instructions this binary executes handling `count` events of row `index`.
fn instructions(index: usize, count: usize) -> u64 {
    let me = std::env::current_exe().expect("the bench binary's path");
    let output = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(me)
        .args(["--events", &index.to_string(), &count.to_string()])
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
