//! What a replay shows as it goes: on a terminal a progress bar (blobs done of all, events
//! sent), with failures printed above it; otherwise (a pipe, a log) one line per blob, so a
//! script can read what became of each. A dry run always lists, one blob and its events at a
//! time.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{
    deliver::{Answer, Delivery},
    outcome::{BlobReport, Failure, Outcome, Summary},
};

/// Where a replay's progress goes.
pub struct Progress {
    shown: Shown,
    events: usize,
}

enum Shown {
    /// One line per blob, written to the writer.
    Lines(Box<dyn Write>),
    /// A bar on standard error; failures printed above it.
    Bar(ProgressBar),
}

impl Progress {
    /// A bar, drawn on standard error.
    pub fn bar() -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} blobs, {msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        Progress {
            shown: Shown::Bar(bar),
            events: 0,
        }
    }

    /// One line per blob, written to `out`.
    pub fn lines(out: Box<dyn Write>) -> Progress {
        Progress {
            shown: Shown::Lines(out),
            events: 0,
        }
    }

    /// `blobs` are about to be replayed.
    pub fn start(&mut self, blobs: usize) {
        if let Shown::Bar(bar) = &self.shown {
            bar.set_length(u64::try_from(blobs).unwrap_or(u64::MAX));
            bar.set_message("0 events sent");
        }
    }

    /// One blob is done.
    pub fn blob(&mut self, report: &BlobReport) {
        if let Outcome::Replayed { deliveries } | Outcome::Failed(Failure::Refused(deliveries)) =
            &report.outcome
        {
            self.events += deliveries
                .iter()
                .filter(|delivery| delivery.succeeded())
                .map(|delivery| delivery.ids.len())
                .sum::<usize>();
        }
        match &mut self.shown {
            Shown::Lines(out) => {
                for line in lines(report) {
                    // A closed pipe stops nothing: the replay goes on, and its exit code tells.
                    let _ = writeln!(out, "{line}");
                }
            }
            Shown::Bar(bar) => {
                if matches!(report.outcome, Outcome::Failed(_)) {
                    for line in lines(report) {
                        bar.println(line);
                    }
                }
                bar.set_message(format!("{} events sent", self.events));
                bar.inc(1);
            }
        }
    }

    /// The replay is over.
    pub fn finish(&mut self) {
        match &mut self.shown {
            Shown::Lines(out) => {
                let _ = out.flush();
            }
            Shown::Bar(bar) => bar.finish(),
        }
    }
}

/// What is shown for one blob: one line, or for a dry run a line and one per event.
pub fn lines(report: &BlobReport) -> Vec<String> {
    let name = &report.path.name;
    match &report.outcome {
        Outcome::AlreadyReplayed { at } => vec![format!(
            "skipped  {name}: replayed at {at} (--again sends it again)"
        )],
        Outcome::Listed { records } => {
            let mut lines = vec![format!("{name}: {} event(s)", records.len())];
            lines.extend(records.iter().map(|record| {
                let function = record
                    .event
                    .function()
                    .map_or("no function", |function| function.name());
                format!(
                    "  {} {} ({function}): {}",
                    record.event.id, record.event.event_type, record.why
                )
            }));
            lines
        }
        Outcome::Replayed { deliveries } => {
            let events: usize = deliveries.iter().map(|delivery| delivery.ids.len()).sum();
            let answers: Vec<String> = deliveries.iter().map(answer).collect();
            vec![format!(
                "replayed {name}: {events} event(s), answered {}",
                if answers.is_empty() {
                    "nothing (no events)".to_owned()
                } else {
                    answers.join(", ")
                }
            )]
        }
        Outcome::Failed(Failure::Unreadable(reason)) => {
            vec![format!("FAILED   {name}: {reason}")]
        }
        Outcome::Failed(Failure::Refused(deliveries)) => {
            let failed: Vec<String> = deliveries
                .iter()
                .filter(|delivery| !delivery.succeeded())
                .map(Delivery::to_string)
                .collect();
            vec![format!(
                "FAILED   {name}: {} (left unmarked)",
                failed.join("; ")
            )]
        }
        Outcome::Failed(Failure::Unmarked(reason)) => vec![format!(
            "FAILED   {name}: delivered, but not marked replayed: {reason}"
        )],
    }
}

/// `RunCompleted 200`.
fn answer(delivery: &Delivery) -> String {
    let function = delivery
        .function
        .map_or("unrouted", |function| function.name());
    match &delivery.answer {
        Answer::Status { status, .. } => format!("{function} {status}"),
        Answer::NotSent(reason) => format!("{function}: {reason}"),
    }
}

/// The replay's last line.
pub fn summary_line(summary: &Summary, dry_run: bool) -> String {
    let mut parts = if dry_run {
        vec![format!(
            "dry run: {} blob(s), {} event(s) would be sent; nothing was sent",
            summary.listed, summary.events
        )]
    } else {
        vec![format!(
            "replayed {} blob(s), {} event(s)",
            summary.replayed, summary.events
        )]
    };
    if summary.failed > 0 {
        parts.push(format!("{} failed (left unmarked)", summary.failed));
    }
    if summary.skipped > 0 {
        parts.push(format!(
            "{} skipped as replayed before (--again sends them)",
            summary.skipped
        ));
    }
    if summary.foreign > 0 {
        parts.push(format!(
            "{} not in Event Grid's dead-letter layout, left alone",
            summary.foreign
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{
        layout::DeadLetterPath,
        records::{self, Record},
    };
    use aml_events::Function;

    fn report(outcome: Outcome) -> BlobReport {
        BlobReport {
            path: DeadLetterPath::parse("SUB/2024/3/1/9/a.json").unwrap(),
            outcome,
        }
    }

    fn records() -> Vec<Record> {
        records::read(br#"[{"id":"e1","subject":"s","eventType":"Microsoft.MachineLearningServices.RunCompleted",
            "eventTime":"2024-03-01T12:00:00Z","data":{},"deadLetterReason":"MaxDeliveryAttemptsExceeded",
            "deliveryAttempts":30,"lastDeliveryOutcome":"Probation","lastHttpStatusCode":503}]"#)
        .unwrap()
    }

    #[test]
    fn a_dry_run_lists_each_event_and_why() {
        assert_eq!(
            lines(&report(Outcome::Listed { records: records() })),
            [
                "SUB/2024/3/1/9/a.json: 1 event(s)",
                "  e1 Microsoft.MachineLearningServices.RunCompleted (RunCompleted): MaxDeliveryAttemptsExceeded after 30 attempt(s); last: Probation (HTTP 503)"
            ]
        );
    }

    #[test]
    fn a_failure_names_the_events_and_answers_that_failed() {
        let deliveries = vec![
            Delivery {
                function: Some(Function::RunCompleted),
                ids: vec!["e1".into()],
                answer: Answer::Status {
                    status: 200,
                    body: "{}".into(),
                },
            },
            Delivery {
                function: Some(Function::ModelDeployed),
                ids: vec!["e2".into()],
                answer: Answer::Status {
                    status: 400,
                    body: "bad".into(),
                },
            },
        ];
        assert_eq!(
            lines(&report(Outcome::Failed(Failure::Refused(
                deliveries.clone()
            )))),
            ["FAILED   SUB/2024/3/1/9/a.json: ModelDeployed event(s) e2: 400 bad (left unmarked)"]
        );
        assert_eq!(
            lines(&report(Outcome::Replayed {
                deliveries: deliveries[..1].to_vec()
            })),
            ["replayed SUB/2024/3/1/9/a.json: 1 event(s), answered RunCompleted 200"]
        );
    }

    #[test]
    fn the_summary_says_what_was_skipped_and_failed() {
        let summary = Summary {
            replayed: 2,
            events: 5,
            failed: 1,
            skipped: 3,
            ..Summary::default()
        };
        assert_eq!(
            summary_line(&summary, false),
            "replayed 2 blob(s), 5 event(s); 1 failed (left unmarked); 3 skipped as replayed before (--again sends them)"
        );
    }
}
