//! The routes as the functions and `explain` see them: every condition decided alike, what a
//! function's view reads, and the note of an event no route matches.

use aml_events::{
    Event, Function,
    envelope::{self, Decoded},
};

use super::{
    Routes, file,
    matcher::{EventView, Field},
};

/// One route per condition, each for every function, with a pattern any value matches:
/// a view that left out what a route asks about would fail that route.
fn every_condition() -> Routes {
    let mut text = String::from("[targets.team]\nurl = \"${TEAM_WEBHOOK}\"\n");
    let all = r#"["ModelRegistered", "ModelDeployed", "RunCompleted", "DatasetDriftDetected", "RunStatusChanged"]"#;
    let conditions = Field::ALL
        .iter()
        .map(|field| format!("{} = \"*\"", field.key()))
        .chain([
            "tags = { area = \"*\" }".to_owned(),
            "monitor_breach = true".to_owned(),
            "monitor_breach = false".to_owned(),
            "drift_at_least = 0".to_owned(),
        ]);
    for (index, condition) in conditions.enumerate() {
        // A breach has no drift coefficient: drift_at_least is refused with RunStatusChanged.
        let functions = if condition.starts_with("drift_at_least") {
            r#"["DatasetDriftDetected", "ModelRegistered"]"#
        } else {
            all
        };
        text.push_str(&format!(
            "[[routes]]\nname = \"{index}: {}\"\nfunctions = {functions}\nmatch = {{ {condition} }}\nnotify = [\"team\"]\n",
            condition.replace('"', "'")
        ));
    }
    file::parse(std::path::Path::new("routes.toml"), &text, &|name| {
        (name == "TEAM_WEBHOOK").then(|| "https://hooks.slack.com/services/T0/B0/x".into())
    })
    .expect("a good file")
}

#[test]
fn the_functions_decide_as_explain_shows() {
    let routes = every_condition();
    let bodies = [
        include_str!("../../../tests/fixtures/event_grid/model_registered.json"),
        include_str!("../../../tests/fixtures/event_grid/model_deployed.json"),
        include_str!("../../../tests/fixtures/event_grid/run_completed.json"),
        include_str!("../../../tests/fixtures/event_grid/dataset_drift_detected.json"),
        include_str!("../../../tests/fixtures/event_grid/run_status_changed.json"),
        include_str!("../../../tests/fixtures/variants/monitor_breach.json"),
        include_str!("../../../tests/fixtures/variants/monitor_recovered.json"),
        r#"[{"id": "typed", "subject": "experiments/e/runs/r1", "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws",
            "eventType": "Microsoft.MachineLearningServices.RunStatusChanged", "eventTime": "2024-03-01T12:00:00Z",
            "data": {"runId": "r1", "runStatus": "Failed", "runType": "azureml.scriptrun"}}]"#,
    ];
    let mut matched_somewhere = std::collections::BTreeSet::new();
    for body in bodies {
        let events: Vec<Event<Decoded>> = envelope::parse_decoded_text(None, body).unwrap();
        for mut event in events {
            let data = event.data.take().unwrap().unwrap();
            let function = data.function().unwrap();
            let full = EventView::new(function, &event, &data);
            // Each route alone, so that what the view reads is what that route asks.
            for route in &routes.routes {
                let alone = Routes::new(
                    routes.origin.clone(),
                    routes.targets.clone(),
                    vec![route.clone()],
                    |_| String::from("no match"),
                );
                let decided = alone.matching(function, &event, &data).is_ok();
                assert_eq!(
                    decided,
                    route.applies(&full),
                    "route {:?}, {function} event {}",
                    route.name,
                    event.id
                );
                if decided {
                    matched_somewhere.insert(route.name.clone());
                }
            }
            let all = routes.matching(function, &event, &data).unwrap_or_default();
            let shown = routes.routes.iter().filter(|route| route.applies(&full));
            assert!(
                all.iter()
                    .map(|route| &route.name)
                    .eq(shown.map(|route| &route.name))
            );
        }
    }
    // Every condition held for some sample, so each was really put to the test.
    assert_eq!(
        matched_somewhere.len(),
        routes.routes.len(),
        "{matched_somewhere:?}"
    );
}

#[test]
fn an_event_no_route_matches_gets_the_files_note() {
    let text = "[targets.team]\nurl = \"${TEAM_WEBHOOK}\"\n[[routes]]\nname = \"owners\"\nfunctions = [\"RunCompleted\"]\nmatch = { tags = { owner = \"*\" } }\nnotify = [\"team\"]\n";
    let only_tags = file::parse(std::path::Path::new("routes.toml"), text, &|name| {
        (name == "TEAM_WEBHOOK").then(|| "https://hooks.slack.com/services/T0/B0/x".into())
    })
    .expect("a good file");
    let body = include_str!("../../../tests/fixtures/event_grid/run_completed.json");
    let mut events: Vec<Event<Decoded>> = envelope::parse_decoded_text(None, body).unwrap();
    let data = events[0].data.take().unwrap().unwrap();
    assert_eq!(
        only_tags
            .matching(Function::RunCompleted, &events[0], &data)
            .unwrap_err(),
        "no route of routes.toml matches this RunCompleted event; acknowledged, nothing done"
    );
}
