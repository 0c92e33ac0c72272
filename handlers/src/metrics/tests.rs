//! The handles index the label lists they were registered with, and the page is the text
//! format 0.0.4 with every series from the start.

use aml_events::{Function, notify::Kind};
use serde_json::json;

use super::*;

/// The value of the sample `name{labels}` on `page` (labels as written, in order).
fn sample(page: &str, name: &str, labels: &str) -> f64 {
    let wanted = format!("{name}{{{labels}}} ");
    let line = page
        .lines()
        .find(|line| line.starts_with(&wanted))
        .unwrap_or_else(|| panic!("no {wanted:?} on the page:\n{page}"));
    line[wanted.len()..].parse().unwrap()
}

const RUN_COMPLETED: &str = r#"{"id": "e-1", "subject": "s", "eventType": "Microsoft.MachineLearningServices.RunCompleted", "eventTime": "2024-03-01T12:00:00Z", "data": {}}"#;

fn outcome(note: Option<&str>, statuses: &[ActionStatus]) -> Outcome {
    let event = aml_events::envelope::parse_decoded(None, RUN_COMPLETED.as_bytes())
        .unwrap()
        .remove(0)
        .with_data(());
    let outcome = match note {
        Some(note) => Outcome::acknowledged(Some(Function::RunCompleted), &event, note.into()),
        None => Outcome::new(Some(Function::RunCompleted), &event),
    };
    statuses.iter().fold(outcome, |outcome, status| {
        let mut report = ActionReport::skipped(Action::Notify, "");
        report.status = *status;
        outcome.with(report)
    })
}

#[test]
fn each_handle_is_at_the_index_of_its_label() {
    for (index, function) in Function::ALL.into_iter().enumerate() {
        assert_eq!(function_index(Some(function)), index);
        assert_eq!(function_name(index), function.name());
    }
    assert_eq!(function_name(function_index(None)), NO_FUNCTION);
    for (index, action) in Action::ALL.into_iter().enumerate() {
        assert_eq!(action as usize, index, "{action}");
    }
    for (index, status) in ActionStatus::ALL.into_iter().enumerate() {
        assert_eq!(status as usize, index, "{}", status.as_str());
    }
    for (index, kind) in Kind::ALL.into_iter().enumerate() {
        assert_eq!(kind as usize, index, "{kind}");
    }
    for (index, outcome) in EventOutcome::ALL.into_iter().enumerate() {
        assert_eq!(outcome as usize, index, "{}", outcome.as_str());
    }
    for (index, status) in NotificationStatus::ALL.into_iter().enumerate() {
        assert_eq!(status as usize, index, "{}", status.as_str());
    }
}

#[test]
fn the_page_is_the_text_format_0_0_4_with_every_series_at_zero() {
    let page = Metrics::new().render();

    assert!(!page.contains("# EOF"), "OpenMetrics' end marker:\n{page}");
    for (name, kind) in [
        ("aml_events_total", "counter"),
        ("aml_actions_total", "counter"),
        ("aml_notifications_total", "counter"),
        ("aml_ledger_operations_total", "counter"),
        ("aml_delivery_duration_seconds", "histogram"),
        ("aml_action_duration_seconds", "histogram"),
        ("aml_deliveries_in_flight", "gauge"),
    ] {
        assert!(
            page.contains(&format!("\n# TYPE {name} {kind}\n")),
            "{name} {kind}:\n{page}"
        );
    }
    let series = |prefix: &str| page.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(series("aml_events_total{"), 6 * 6);
    assert_eq!(series("aml_actions_total{"), 4 * 7);
    assert_eq!(series("aml_notifications_total{"), 5 * 3);
    assert_eq!(
        series("aml_ledger_operations_total{"),
        4 + 3 + 2 + 2 + 2 + 2 + 3
    );
    assert_eq!(series("aml_delivery_duration_seconds_count{"), 6);
    assert_eq!(series("aml_action_duration_seconds_count{"), 4);
    assert_eq!(
        sample(
            &page,
            "aml_events_total",
            r#"function="none",outcome="rejected""#
        ),
        0.0
    );
    assert!(page.contains("\naml_deliveries_in_flight 0\n"), "{page}");
}

#[test]
fn an_outcome_is_acknowledged_duplicate_or_done() {
    use ActionStatus::*;
    let cases = [
        (
            outcome(Some("another type"), &[]),
            EventOutcome::Acknowledged,
        ),
        (
            outcome(None, &[Duplicate, Duplicate]),
            EventOutcome::Duplicate,
        ),
        (outcome(None, &[Duplicate, Done]), EventOutcome::Done),
        (outcome(None, &[Skipped]), EventOutcome::Done),
        (outcome(None, &[]), EventOutcome::Done),
    ];
    for (outcome, expected) in cases {
        assert_eq!(
            EventOutcome::of(&outcome),
            expected,
            "{:?}",
            outcome.actions
        );
    }
}

#[test]
fn a_failed_delivery_counts_each_of_its_events_as_the_failure_makes_it() {
    let metrics = Metrics::new();
    let events = aml_events::envelope::parse_decoded(
        None,
        json!([
            {"id": "a", "subject": "s", "eventType": "Microsoft.MachineLearningServices.RunCompleted", "eventTime": "2024-03-01T12:00:00Z", "data": {}},
            {"id": "b", "subject": "s", "eventType": "Microsoft.MachineLearningServices.ModelRegistered", "eventTime": "2024-03-01T12:00:00Z", "data": {}},
            {"id": "c", "subject": "s", "eventType": "Other.Type", "eventTime": "2024-03-01T12:00:00Z", "data": {}}
        ])
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let failure = HandlerError::DeadlineExceeded {
        seconds: 25,
        unfinished: vec!["a".into()],
    };

    let tally = metrics.tally(&events, None);
    metrics.events(&tally, &Err(failure));
    let named = metrics.tally(&events, Some(Function::RunStatusChanged));
    metrics.events(&named, &Ok(vec![outcome(None, &[ActionStatus::Done])]));

    let page = metrics.render();
    let count = |function: &str, outcome: &str| {
        let labels = format!(r#"function="{function}",outcome="{outcome}""#);
        sample(&page, "aml_events_total", &labels)
    };
    assert_eq!(count("RunCompleted", "redelivered"), 1.0);
    assert_eq!(count("ModelRegistered", "redelivered"), 1.0);
    assert_eq!(count("none", "redelivered"), 1.0);
    assert_eq!(
        count("RunCompleted", "done"),
        1.0,
        "each outcome by its own function"
    );
    assert_eq!(count("RunStatusChanged", "redelivered"), 0.0);
}

#[test]
fn a_delivery_is_in_flight_until_its_timer_is_dropped() {
    let metrics = Metrics::new();
    let in_flight = |metrics: &Metrics| {
        let page = metrics.render();
        page.lines()
            .find_map(|line| line.strip_prefix("aml_deliveries_in_flight "))
            .map(str::to_owned)
            .unwrap()
    };

    let timer = metrics.delivery(Some(Function::ModelDeployed));
    let unnamed = metrics.delivery(None);
    assert_eq!(in_flight(&metrics), "2");
    drop((timer, unnamed));

    assert_eq!(in_flight(&metrics), "0");
    let page = metrics.render();
    let count = |function: &str| {
        let labels = format!(r#"function="{function}""#);
        sample(&page, "aml_delivery_duration_seconds_count", &labels)
    };
    assert_eq!(
        (count("ModelDeployed"), count("none"), count("RunCompleted")),
        (1.0, 1.0, 0.0)
    );
}

#[test]
fn actions_and_notifications_are_counted_by_their_labels() {
    let metrics = Metrics::new();
    let reports = outcome(
        None,
        &[
            ActionStatus::DryRun,
            ActionStatus::DryRun,
            ActionStatus::Held,
        ],
    )
    .actions;

    metrics.actions(&reports);
    metrics.notified(Kind::PagerDuty, NotificationStatus::Refused);
    metrics.action_took(Action::SmokeTest, Duration::from_millis(20));

    let page = metrics.render();
    assert_eq!(
        sample(
            &page,
            "aml_actions_total",
            r#"action="notify",status="dry-run""#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &page,
            "aml_actions_total",
            r#"action="notify",status="held""#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            "aml_notifications_total",
            r#"kind="pagerduty",status="refused""#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            "aml_action_duration_seconds_count",
            r#"action="smoke-test""#
        ),
        1.0
    );
}
