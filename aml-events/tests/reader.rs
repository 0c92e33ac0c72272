//! The reader against the project's fixtures: Azure's samples, the real-traffic variants and
//! the refusals docs/events.md lists. Every readable fixture also makes a round trip.

use std::{fs, path::PathBuf};

use aml_events::{
    AmlEvent, Event, Function, ParseError, Schema, envelope,
    events::{
        DatasetDriftDetected, ModelDeployed, ModelRegistered, RunCompleted, RunStatus,
        RunStatusChanged,
    },
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()))
}

fn read(name: &str) -> Vec<Event> {
    envelope::parse(None, &fixture(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn only(name: &str) -> (Event, AmlEvent) {
    let mut events = read(name);
    assert_eq!(events.len(), 1, "{name}");
    let event = events.remove(0);
    let data = event.decode().unwrap_or_else(|err| panic!("{name}: {err}"));
    (event, data)
}

fn refusal(name: &str) -> ParseError {
    match envelope::parse(None, &fixture(name)) {
        Ok(events) => match events.iter().map(Event::decode).find_map(Result::err) {
            Some(err) => err,
            None => panic!("{name} was read, but must be refused"),
        },
        Err(err) => err,
    }
}

const SAMPLE_TYPES: [(&str, Function); 5] = [
    ("model_registered", Function::ModelRegistered),
    ("model_deployed", Function::ModelDeployed),
    ("run_completed", Function::RunCompleted),
    ("dataset_drift_detected", Function::DatasetDriftDetected),
    ("run_status_changed", Function::RunStatusChanged),
];

#[test]
fn every_sample_reads_in_its_schema_and_reaches_its_function() {
    for (schema, folder) in [
        (Schema::EventGrid, "event_grid"),
        (Schema::CloudEvents, "cloud_events"),
    ] {
        for (file, function) in SAMPLE_TYPES {
            let name = format!("{folder}/{file}.json");
            let (event, data) = only(&name);
            assert_eq!(event.schema, schema, "{name}");
            assert_eq!(event.id, "831e1650-001e-001b-66ab-eeb76e069631");
            assert_eq!(event.event_type, function.event_type());
            assert_eq!(event.function(), Some(function), "{name}");
            assert_eq!(data.function(), Some(function), "{name}");
            assert_eq!(
                event.time.unwrap().to_string(),
                "2017-06-26T18:41:00.9584103Z"
            );
            assert!(
                event
                    .source
                    .as_deref()
                    .unwrap()
                    .ends_with("/workspaces/{workspace-name}")
            );
        }
    }
}

#[test]
fn sample_payloads_read_their_pascal_case_keys() {
    let (_, AmlEvent::ModelRegistered(model)) = only("event_grid/model_registered.json") else {
        panic!("not a ModelRegistered")
    };
    assert_eq!(
        model.model_name.as_deref(),
        Some("sklearn_regression_model")
    );
    assert_eq!(
        model.model_version.as_deref(),
        Some("20"),
        "a number held as a string"
    );
    assert_eq!(
        model.model_tags.unwrap().str_value("area").as_deref(),
        Some("diabetes")
    );

    let (_, AmlEvent::ModelDeployed(deployed)) = only("cloud_events/model_deployed.json") else {
        panic!("not a ModelDeployed")
    };
    assert_eq!(deployed.service_compute_type.as_deref(), Some("ACI"));
    assert_eq!(
        deployed.model_ids().collect::<Vec<_>>(),
        ["sklearn_regression_model:1", "sklearn_regression_model:2"]
    );

    let (_, AmlEvent::DatasetDriftDetected(drift)) = only("event_grid/dataset_drift_detected.json")
    else {
        panic!("not a DatasetDriftDetected")
    };
    assert_eq!(drift.drift_coefficient, Some(0.835_034_906_847_920_8));
    assert_eq!(drift.data_drift_name.as_deref(), Some("myDriftMonitor"));
    assert_eq!(
        drift.start_time.unwrap().to_string(),
        "2019-07-04T00:00:00Z"
    );
    assert_eq!(drift.end_time.unwrap().to_string(), "2019-07-05T00:00:00Z");
}

#[test]
fn sample_run_payloads_keep_null_run_type_and_string_properties() {
    let (_, AmlEvent::RunCompleted(run)) = only("event_grid/run_completed.json") else {
        panic!("not a RunCompleted")
    };
    assert_eq!(
        run.experiment_name.as_deref(),
        Some("automl-local-regression")
    );
    assert_eq!(run.run_type, None);
    let properties = run.run_properties.unwrap();
    let spec = properties.str_value("pipeline_spec").unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&spec).is_ok(),
        "JSON held as text"
    );

    let (_, AmlEvent::RunStatusChanged(status)) = only("cloud_events/run_status_changed.json")
    else {
        panic!("not a RunStatusChanged")
    };
    assert_eq!(
        status.run_status,
        Some(RunStatus::Failed),
        "sent as \"failed\""
    );
}

#[test]
fn subscription_validation_is_typed_in_both_schemas() {
    let (event, AmlEvent::SubscriptionValidation(validation)) =
        only("event_grid/subscription_validation.json")
    else {
        panic!("not a validation event")
    };
    assert_eq!(event.function(), None);
    assert_eq!(
        validation.validation_code.as_deref(),
        Some("512d38b6-c7b8-40c8-89fe-f46f9e9622b6")
    );

    let (event, AmlEvent::SubscriptionValidation(validation)) =
        only("variants/cloud_event_subscription_validation.json")
    else {
        panic!("not a validation event")
    };
    assert_eq!(event.schema, Schema::CloudEvents);
    assert!(validation.validation_code.is_some() && validation.validation_url.is_some());

    let (_, AmlEvent::SubscriptionDeleted(deleted)) =
        only("variants/event_grid_subscription_deleted.json")
    else {
        panic!("not a deletion event")
    };
    assert!(
        deleted
            .event_subscription_id
            .unwrap()
            .ends_with("/eventSubscriptions/mysub")
    );
}

#[test]
fn camel_case_keys_and_a_string_model_version() {
    let (_, data) = only("variants/event_grid_camel_case.json");
    let AmlEvent::ModelRegistered(ModelRegistered {
        model_name,
        model_version,
        ..
    }) = data
    else {
        panic!("not a ModelRegistered: {data:?}")
    };
    assert_eq!(model_name.as_deref(), Some("credit-default-classifier"));
    assert_eq!(model_version.as_deref(), Some("3"));
}

#[test]
fn mixed_case_keys_offsets_and_null_times() {
    let (_, data) = only("variants/event_grid_mixed_case.json");
    let AmlEvent::DatasetDriftDetected(DatasetDriftDetected {
        data_drift_id,
        data_drift_name,
        run_id,
        target_dataset_id,
        drift_coefficient,
        start_time,
        end_time,
        ..
    }) = data
    else {
        panic!("not a DatasetDriftDetected: {data:?}")
    };
    assert!(data_drift_id.is_some() && data_drift_name.is_some() && target_dataset_id.is_some());
    assert!(run_id.is_some(), "RUNID matches runId");
    assert_eq!(drift_coefficient, Some(0.42));
    assert_eq!(
        start_time
            .unwrap()
            .as_offset_date_time()
            .offset()
            .whole_hours(),
        -7
    );
    assert_eq!(end_time, None);
}

#[test]
fn a_bare_event_grid_object_is_one_event() {
    let (event, data) = only("variants/event_grid_bare_object.json");
    assert_eq!(event.schema, Schema::EventGrid);
    assert_eq!(event.time.unwrap().to_string(), "2024-03-01T12:00:00Z");
    let AmlEvent::RunCompleted(RunCompleted { run_type, .. }) = data else {
        panic!("{data:?}")
    };
    assert_eq!(run_type.as_deref(), Some("azureml.PipelineRun"));
}

#[test]
fn run_status_in_any_case_and_camel_case_deployments_in_one_batch() {
    let events = read("variants/event_grid_batch.json");
    let data: Vec<AmlEvent> = events.iter().map(|event| event.decode().unwrap()).collect();
    let statuses: Vec<_> = data
        .iter()
        .filter_map(|data| match data {
            AmlEvent::RunStatusChanged(RunStatusChanged { run_status, .. }) => run_status.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [RunStatus::Running, RunStatus::Failed]);
    let AmlEvent::ModelDeployed(deployed @ ModelDeployed { .. }) = &data[2] else {
        panic!("{:?}", data[2])
    };
    assert_eq!(deployed.service_compute_type.as_deref(), Some("AKS"));
    assert_eq!(deployed.model_ids().collect::<Vec<_>>(), ["m1:1", "m2:4"]);
}

#[test]
fn event_times_with_zero_to_nine_digits_and_offsets() {
    let times: Vec<String> = read("variants/event_grid_times.json")
        .iter()
        .map(|event| event.time.unwrap().to_string())
        .collect();
    assert_eq!(
        times,
        [
            "2024-03-01T12:00:00.123456789Z",
            "2024-03-01T17:30:00.123+05:30",
            "2024-03-01T05:00:00.1-07:00"
        ]
    );
}

#[test]
fn missing_data_and_missing_fields_read_as_null() {
    let events = read("variants/event_grid_missing_fields.json");
    assert_eq!(
        events[0].decode().unwrap(),
        AmlEvent::RunCompleted(RunCompleted::default())
    );
    assert!(events[1].data.is_none());
    assert_eq!(
        events[1].decode().unwrap(),
        AmlEvent::ModelRegistered(ModelRegistered::default())
    );
}

#[test]
fn unknown_properties_are_kept_and_never_fail() {
    let (event, data) = only("variants/event_grid_extra_properties.json");
    assert_eq!(event.extensions["deliveryAttempt"], 2);
    assert_eq!(event.extensions["someFutureField"]["a"], 1);
    let AmlEvent::ModelRegistered(model) = data else {
        panic!("{data:?}")
    };
    assert_eq!(model.model_version.as_deref(), Some("12"));

    let (event, _) = only("variants/cloud_event_extensions.json");
    assert_eq!(event.subject, None, "a null attribute is an absent one");
    assert_eq!(
        event.data_schema.as_deref(),
        Some("https://example.com/schema")
    );
    assert_eq!(event.extensions["partitionkey"], "abc");
    assert!(event.extensions.contains_key("traceparent"));
}

#[test]
fn other_types_are_not_ours_and_keep_their_raw_data() {
    let events = read("variants/event_grid_other_type.json");
    assert_eq!(events[0].function(), None);
    assert_eq!(
        events[0].decode().unwrap(),
        AmlEvent::Unknown {
            event_type: "Microsoft.Storage.BlobCreated".into()
        }
    );
    let raw: serde_json::Value = serde_json::from_str(events[0].raw_data().unwrap()).unwrap();
    assert_eq!(raw["blobType"], "BlockBlob");
    assert_eq!(events[1].function(), Some(Function::ModelRegistered));
}

#[test]
fn cloud_events_single_batch_base64_and_empty_batch() {
    let (event, data) = only("variants/cloud_event_single.json");
    assert_eq!(event.schema, Schema::CloudEvents);
    assert_eq!(event.data_content_type.as_deref(), Some("application/json"));
    let AmlEvent::RunStatusChanged(status) = data else {
        panic!("{data:?}")
    };
    assert_eq!(status.run_status, Some(RunStatus::Completed));

    let batch = read("variants/cloud_event_batch.json");
    let functions: Vec<_> = batch.iter().map(Event::function).collect();
    assert_eq!(
        functions,
        [
            Some(Function::ModelRegistered),
            Some(Function::DatasetDriftDetected)
        ]
    );
    let AmlEvent::ModelRegistered(model) = batch[0].decode().unwrap() else {
        panic!()
    };
    assert_eq!(model.model_version.as_deref(), Some("7"));

    let (event, data) = only("variants/cloud_event_data_base64.json");
    assert_eq!(event.data_base64.as_deref(), Some("aGVsbG8gd29ybGQ="));
    assert!(event.data.is_none());
    assert!(matches!(data, AmlEvent::Unknown { .. }));

    assert!(read("variants/cloud_event_empty_batch.json").is_empty());
}

#[test]
fn every_refusal_names_what_is_wrong() {
    let cases: [(&str, &str); 18] = [
        ("invalid/event_grid_missing_id.json", "`id`"),
        ("invalid/event_grid_missing_event_type.json", "`eventType`"),
        ("invalid/event_grid_missing_subject.json", "`subject`"),
        ("invalid/event_grid_missing_event_time.json", "`eventTime`"),
        (
            "invalid/event_grid_bad_event_time.json",
            "`eventTime` \"yesterday\" is not an RFC 3339",
        ),
        (
            "invalid/event_grid_id_not_string.json",
            "`id` must be a string, found a number",
        ),
        (
            "invalid/cloud_event_missing_specversion.json",
            "`specversion`",
        ),
        ("invalid/cloud_event_missing_id.json", "`id`"),
        ("invalid/cloud_event_missing_source.json", "`source`"),
        ("invalid/cloud_event_missing_type.json", "`type`"),
        (
            "invalid/cloud_event_data_and_base64.json",
            "`data_base64` must not appear together with `data`",
        ),
        (
            "invalid/cloud_event_bad_specversion.json",
            "`specversion` must be \"1.0\", found \"0.3\"",
        ),
        (
            "invalid/neither_schema.json",
            "not an Event Grid event nor a CloudEvent",
        ),
        (
            "invalid/scalar_body.json",
            "not an Event Grid event nor a CloudEvent",
        ),
        (
            "invalid/data_wrong_type.json",
            "`data.modelVersion` does not match ModelRegistered",
        ),
        (
            "invalid/data_not_object.json",
            "`data` does not match RunCompleted",
        ),
        (
            "invalid/not_json.txt",
            "not valid JSON: expected value at line 1 column 1",
        ),
        (
            "invalid/truncated.json",
            "not valid JSON: EOF while parsing",
        ),
    ];
    for (name, expected) in cases {
        let message = refusal(name).to_string();
        assert!(
            message.contains(expected),
            "{name}: {message:?} lacks {expected:?}"
        );
        assert!(!message.contains('\n'), "{name}: one line, got {message:?}");
    }
}

#[test]
fn missing_attributes_are_reported_as_fields() {
    let err = refusal("invalid/event_grid_missing_event_type.json");
    assert!(matches!(
        &err,
        ParseError::MissingAttribute {
            attribute: "eventType",
            schema: "Event Grid",
            index: 0,
            ..
        }
    ));
    assert_eq!(err.field().as_deref(), Some("eventType"));
    assert_eq!(
        refusal("invalid/data_wrong_type.json").field().as_deref(),
        Some("data.modelVersion")
    );
}

#[test]
fn the_content_type_only_breaks_ties() {
    let body = br#"{"id":"1","subject":"s"}"#;
    assert!(matches!(
        envelope::parse(Some("application/json"), body),
        Err(ParseError::UnrecognizedEnvelope { .. })
    ));
    let err =
        envelope::parse(Some("application/cloudevents+json; charset=utf-8"), body).unwrap_err();
    assert!(
        err.to_string()
            .contains("missing required CloudEvents attribute `specversion`"),
        "{err}"
    );
    // Attributes win over a misleading content type.
    let events = envelope::parse(
        Some("application/cloudevents-batch+json"),
        &fixture("event_grid/run_completed.json"),
    )
    .unwrap();
    assert_eq!(events[0].schema, Schema::EventGrid);
}

#[test]
fn a_batch_names_the_position_of_its_broken_event() {
    let body = br#"[{"id":"a","eventType":"t","subject":"s","eventTime":"2024-03-01T12:00:00Z"},
                    {"id":"b","eventType":"t","eventTime":"2024-03-01T12:00:00Z"}]"#;
    let message = envelope::parse(None, body).unwrap_err().to_string();
    assert_eq!(
        message,
        "event 1 (id \"b\"): missing required Event Grid attribute `subject`"
    );
    let body = b"[1, {\"id\": \"x\"}]";
    assert!(
        envelope::parse(None, body)
            .unwrap_err()
            .to_string()
            .starts_with("event 0: not an Event Grid")
    );
}

/// Every readable fixture survives parse -> serialize -> parse unchanged, in its own schema,
/// and its typed data survives too.
#[test]
fn round_trips() {
    let mut names = Vec::new();
    for folder in ["event_grid", "cloud_events", "variants"] {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(folder);
        for entry in fs::read_dir(dir).unwrap() {
            names.push(format!(
                "{folder}/{}",
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    assert!(names.len() >= 26, "fixtures missing: {names:?}");
    for name in names {
        let events = read(&name);
        let written = serde_json::to_vec(&events).unwrap();
        let reread = envelope::parse(None, &written).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(events, reread, "{name}");
        for (before, after) in events.iter().zip(&reread) {
            assert_eq!(before.decode().unwrap(), after.decode().unwrap(), "{name}");
        }
        // The typed payload written under canonical keys reads back the same.
        for event in &events {
            let typed = event.decode().unwrap();
            let canonical = serde_json::to_string(&typed).unwrap();
            let again =
                aml_events::AmlEvent::decode(&event.id, &event.event_type, Some(&canonical))
                    .unwrap();
            if !matches!(typed, AmlEvent::Unknown { .. }) {
                assert_eq!(typed, again, "{name}");
            }
        }
    }
}

#[test]
fn a_time_without_an_offset_is_read_as_utc() {
    // See: issue 13, "A time without an offset is read as UTC"
    // `2018-10-12T15:42:04.949555` (Azure's own SDK tests) reads as UTC, as Azure's
    // .NET SDK reads it; an event is never refused over the form of its time alone.
    for name in [
        "variants/event_grid_kept_as_written.json",
        "variants/cloud_event_kept_as_written.json",
    ] {
        let body = fixture(name);
        let events = envelope::parse(None, &body).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            events[0].time.unwrap().to_string(),
            "2018-10-12T15:42:04.949555Z",
            "{name}"
        );
        let decoded = envelope::parse_decoded(None, &body).unwrap();
        assert_eq!(decoded[0].time, events[0].time);
    }

    let events = read("variants/event_grid_kept_as_written.json");
    assert_eq!(events[2].time.unwrap().to_string(), "2019-07-05T01:02:03Z");
    let AmlEvent::DatasetDriftDetected(drift) = events[2].decode().unwrap() else {
        panic!("not a DatasetDriftDetected")
    };
    assert_eq!(
        drift.start_time.unwrap().to_string(),
        "2019-07-04T00:00:00Z"
    );
    assert_eq!(
        drift.end_time.unwrap().to_string(),
        "2019-07-05T00:00:00.5Z"
    );

    // Impossible dates and garbage are still refused, offset or not.
    for time in [
        "2024-02-30T12:00:00",
        "2024-03-01T12:00:00.",
        "2024-03-01T25:00:00",
    ] {
        let body = format!(r#"{{"id":"1","eventType":"t","subject":"s","eventTime":"{time}"}}"#);
        let err = envelope::parse(None, body.as_bytes()).unwrap_err();
        assert_eq!(err.field().as_deref(), Some("eventTime"), "{time}: {err}");
    }
}

#[test]
fn model_versions_keep_their_digits() {
    // See: issue 13, "Numbers keep their digits"
    // `12345678901234567890` reads as that string, `1.10` as "1.10".
    let versions = |name: &str| -> Vec<Option<String>> {
        let body = fixture(name);
        let two_steps: Vec<_> = envelope::parse(None, &body)
            .unwrap()
            .iter()
            .map(|event| event.decode().unwrap())
            .collect();
        let one_pass: Vec<_> = envelope::parse_decoded(None, &body)
            .unwrap()
            .into_iter()
            .map(|event| event.data.unwrap().unwrap())
            .collect();
        assert_eq!(one_pass, two_steps, "{name}");
        two_steps
            .into_iter()
            .filter_map(|data| match data {
                AmlEvent::ModelRegistered(model) => Some(model.model_version),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        versions("variants/event_grid_kept_as_written.json"),
        [
            Some("1.10".to_owned()),
            Some("123456789012345678901234".to_owned())
        ]
    );
    assert_eq!(
        versions("variants/cloud_event_kept_as_written.json"),
        [Some("12345678901234567890".to_owned())]
    );

    for (written, expected) in [
        ("1.10", Some("1.10")),
        ("-0.0", Some("-0.0")),
        ("1e400", Some("1e400")),
        ("9007199254740993", Some("9007199254740993")),
        (r#""007""#, Some("007")),
        (r#""\u0031.10""#, Some("1.10")),
        ("null", None),
    ] {
        let data = format!(r#"{{"modelVersion": {written}}}"#);
        let AmlEvent::ModelRegistered(model) =
            AmlEvent::decode("1", Function::ModelRegistered.event_type(), Some(&data)).unwrap()
        else {
            panic!("{data}")
        };
        assert_eq!(model.model_version.as_deref(), expected, "{data}");
    }

    // A payload built from a `serde_json::Value` keeps what the Value kept.
    let model: ModelRegistered = serde_json::from_value(serde_json::json!({
        "ModelVersion": 18446744073709551615u64, "modelName": "m"
    }))
    .unwrap();
    assert_eq!(model.model_version.as_deref(), Some("18446744073709551615"));
    let model: ModelRegistered =
        serde_json::from_value(serde_json::json!({"modelVersion": "3"})).unwrap();
    assert_eq!(model.model_version.as_deref(), Some("3"));
}

/// `runTags` holding `depth` levels of nesting in all: the tags object, then arrays around a
/// string.
fn nested_tags(depth: usize) -> String {
    let arrays = depth - 1;
    format!(
        r#"{{"t":{}"leaf"{}}}"#,
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

/// One RunCompleted event carrying `tags` as its `runTags`, in each shape the reader takes
/// apart differently: Event Grid (data read in the envelope's pass), CloudEvents, and data
/// that comes before the type (kept raw, then decoded).
fn run_completed_bodies(tags: &str) -> [String; 3] {
    let data = format!(r#"{{"runId":"r","runTags":{tags}}}"#);
    [
        format!(
            r#"[{{"id":"e1","eventType":"Microsoft.MachineLearningServices.RunCompleted","subject":"s","eventTime":"2024-03-01T12:00:00Z","data":{data}}}]"#
        ),
        format!(
            r#"{{"specversion":"1.0","id":"e1","source":"/w","type":"Microsoft.MachineLearningServices.RunCompleted","data":{data}}}"#
        ),
        format!(
            r#"{{"data":{data},"id":"e1","eventType":"Microsoft.MachineLearningServices.RunCompleted","subject":"s","eventTime":"2024-03-01T12:00:00Z"}}"#
        ),
    ]
}

/// The event's data as every reader sees it: `parse` then `decode`, and `parse_decoded`
/// (the hosts' one pass); both must agree.
fn decoded_both_ways(body: &str) -> Result<AmlEvent, ParseError> {
    let two_steps = envelope::parse(None, body.as_bytes())
        .unwrap_or_else(|err| panic!("the envelope reads: {err}"))
        .remove(0)
        .decode();
    let one_pass = envelope::parse_decoded_text(None, body)
        .unwrap_or_else(|err| panic!("the envelope reads: {err}"))
        .remove(0)
        .data
        .expect("data");
    assert_eq!(format!("{one_pass:?}"), format!("{two_steps:?}"));
    two_steps
}

#[test]
fn tags_nested_beyond_what_serde_json_reads_are_refused_by_name() {
    // See: issue 13, "Deep nesting"
    // serde_json keeps such tags raw without counting their depth, but cannot parse them
    // again: they used to read as `{}` (and two different ones as equal).
    for depth in [128, 200, 1000] {
        for body in run_completed_bodies(&nested_tags(depth)) {
            let err = decoded_both_ways(&body).expect_err("refused");
            assert_eq!(err.field().as_deref(), Some("data.runTags"), "{err}");
            let message = err.to_string();
            assert!(
                message.contains("`data.runTags`")
                    && message.contains("nested deeper than 127 levels"),
                "{message}"
            );
        }
    }
}

#[test]
fn tags_nested_as_deep_as_serde_json_reads_are_kept_whole() {
    // See: issue 13, "Deep nesting"
    let mut seen = Vec::new();
    for leaf in ["a", "b"] {
        let tags = nested_tags(127).replace("leaf", leaf);
        for body in run_completed_bodies(&tags) {
            let Ok(AmlEvent::RunCompleted(run)) = decoded_both_ways(&body) else {
                panic!("127 levels read")
            };
            let read = run.run_tags.expect("tags");
            assert_eq!(read.get(), tags);
            let expected: serde_json::Value = serde_json::from_str(&tags).unwrap();
            assert_eq!(serde_json::Value::Object(read.to_map()), expected);
            seen.push(read);
        }
    }
    assert_eq!(seen[0], seen[1]);
    assert_ne!(seen[0], seen[3], "different tags are not equal");
}

#[test]
fn tags_serde_json_cannot_parse_again_are_refused_or_kept_as_written() {
    // See: issue 13, "Deep nesting"
    // The same gap as deep nesting: kept raw unchecked, then `{}` when parsed. A lone
    // surrogate escape cannot become a Rust string: refused by name.
    for tags in [r#"{"s": "\ud800"}"#, r#"{"\udc00": "s"}"#] {
        for body in run_completed_bodies(tags) {
            let err = decoded_both_ways(&body).expect_err("refused");
            assert_eq!(err.field().as_deref(), Some("data.runTags"), "{err}");
            assert!(
                err.to_string().contains("lone UTF-16 surrogate escape"),
                "{err}"
            );
        }
    }
    // A number beyond an f64 is kept as written: its text, never an empty map.
    let tags = r#"{"n": 1e400, "s": "\ud83d\ude00", "m": -2.5E-400, "id": "1e999"}"#;
    for body in run_completed_bodies(tags) {
        let Ok(AmlEvent::RunCompleted(run)) = decoded_both_ways(&body) else {
            panic!("read")
        };
        let read = run.run_tags.unwrap();
        assert_eq!(read.get(), tags);
        assert_eq!(read.str_value("n").as_deref(), Some("1e400"));
        assert_eq!(read.str_value("s").as_deref(), Some("\u{1F600}"));
        assert_eq!(read.to_map().len(), 4);
        // The payload still becomes a `serde_json::Value`, as the notify action's `json!` needs.
        let value = serde_json::to_value(AmlEvent::RunCompleted(RunCompleted {
            run_tags: Some(read),
            ..RunCompleted::default()
        }))
        .unwrap();
        assert_eq!(value["runTags"]["n"], "1e400");
    }
}
