//! `aml-handlers inspect` as a user runs it: the real binary on the fixtures, from a file and
//! from standard input, and its refusals (one line on stderr, nothing on stdout, exit 1).

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn inspect(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aml-handlers"))
        .arg("inspect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn event_lines(output: &Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stderr.is_empty());
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

fn fixture_names(folder: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn prints_one_line_in_the_spec_shape_per_event_of_every_sample() {
    for folder in ["event_grid", "cloud_events"] {
        for path in fixture_names(folder) {
            let lines = event_lines(&inspect(&[&path], None));
            assert_eq!(lines.len(), 1, "{path}");
            let line = lines[0].as_object().unwrap();
            let keys: Vec<&str> = line.keys().map(String::as_str).collect();
            for key in [
                "schema", "id", "type", "source", "subject", "time", "function", "data",
            ] {
                assert!(keys.contains(&key), "{path}: no {key} in {keys:?}");
            }
            let schema = if folder == "event_grid" {
                "eventgrid"
            } else {
                "cloudevents"
            };
            assert_eq!(line["schema"], schema, "{path}");
        }
    }
}

#[test]
fn data_is_printed_under_canonical_names() {
    let path = fixtures().join("event_grid/model_registered.json");
    let line = &event_lines(&inspect(&[path.to_str().unwrap()], None))[0];
    assert_eq!(line["function"], "ModelRegistered");
    assert_eq!(line["time"], "2017-06-26T18:41:00.9584103Z");
    assert_eq!(line["data"]["modelName"], "sklearn_regression_model");
    assert_eq!(line["data"]["modelVersion"], "20");

    let path = fixtures().join("variants/event_grid_batch.json");
    let lines = event_lines(&inspect(&[path.to_str().unwrap()], None));
    let statuses: Vec<&Value> = lines
        .iter()
        .map(|line| &line["data"]["runStatus"])
        .collect();
    assert_eq!(
        statuses,
        [
            &Value::from("Running"),
            &Value::from("Failed"),
            &Value::Null
        ]
    );

    let path = fixtures().join("variants/event_grid_other_type.json");
    let lines = event_lines(&inspect(&[path.to_str().unwrap()], None));
    assert_eq!(lines[0]["function"], Value::Null);
    assert_eq!(
        lines[0]["data"]["blobType"], "BlockBlob",
        "other types keep their own data"
    );

    let path = fixtures().join("variants/cloud_event_data_base64.json");
    let binary = event_lines(&inspect(&[path.to_str().unwrap()], None));
    assert_eq!(binary[0]["dataBase64"], "aGVsbG8gd29ybGQ=");
    assert_eq!(binary[0]["data"], Value::Null);
}

#[test]
fn reads_every_variant_with_the_right_number_of_lines() {
    for path in fixture_names("variants") {
        let body = std::fs::read(&path).unwrap();
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        let expected = parsed.as_array().map_or(1, Vec::len);
        assert_eq!(
            event_lines(&inspect(&[&path], None)).len(),
            expected,
            "{path}"
        );
    }
}

#[test]
fn reads_standard_input() {
    let body = std::fs::read(fixtures().join("cloud_events/run_completed.json")).unwrap();
    for args in [&["-"][..], &[][..]] {
        let lines = event_lines(&inspect(args, Some(&body)));
        assert_eq!(lines[0]["function"], "RunCompleted");
        assert_eq!(lines[0]["data"]["runType"], Value::Null);
    }
}

#[test]
fn refuses_broken_input_with_one_line_on_stderr_and_nothing_on_stdout() {
    let cases = [
        (
            "event_grid_missing_event_type.json",
            "missing required Event Grid attribute `eventType`",
        ),
        (
            "cloud_event_missing_source.json",
            "missing required CloudEvents attribute `source`",
        ),
        (
            "cloud_event_data_and_base64.json",
            "`data_base64` must not appear together with `data`",
        ),
        ("data_wrong_type.json", "`data.modelVersion`"),
        ("truncated.json", "line 29 column"),
        ("not_json.txt", "not valid JSON"),
    ];
    for (name, expected) in cases {
        let path = fixtures().join("invalid").join(name);
        let output = inspect(&[path.to_str().unwrap()], None);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{name}");
        assert!(
            output.stdout.is_empty(),
            "{name}: stdout {:?}",
            output.stdout
        );
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    // One bad event spoils the body: no partial output.
    let body =
        br#"[{"id":"a","eventType":"t","subject":"s","eventTime":"2024-03-01T12:00:00Z"}, 7]"#;
    let output = inspect(&["-"], Some(body));
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
}

#[test]
fn a_missing_file_is_named() {
    let output = inspect(&["no/such/file.json"], None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("cannot read no/such/file.json"), "{stderr}");
}

#[test]
fn help_explains_the_accepted_shapes() {
    let output = inspect(&["--help"], None);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(
        help.contains("CloudEvents 1.0") && help.contains("Event Grid-schema"),
        "{help}"
    );
}

#[test]
fn prints_numbers_as_written_and_times_without_an_offset_as_utc() {
    // See: issue 13, "Numbers keep their digits"
    // See: issue 13, "A time without an offset is read as UTC"
    let path = fixtures().join("variants/event_grid_kept_as_written.json");
    let output = inspect(&[path.to_str().unwrap()], None);
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(stdout.contains(r#""modelVersion":"1.10""#), "{stdout}");
    assert!(
        stdout.contains(r#""modelVersion":"123456789012345678901234""#),
        "{stdout}"
    );
    // Tags are printed as they came, numbers included.
    assert!(
        stdout.contains(r#""threshold":0.50"#) && stdout.contains("123456789012345678901234}"),
        "{stdout}"
    );
    let lines = event_lines(&output);
    assert_eq!(lines[0]["time"], "2018-10-12T15:42:04.949555Z");
    assert_eq!(lines[2]["time"], "2019-07-05T01:02:03Z");
    assert_eq!(lines[2]["data"]["startTime"], "2019-07-04T00:00:00Z");

    let path = fixtures().join("variants/cloud_event_kept_as_written.json");
    let output = inspect(&[path.to_str().unwrap()], None);
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        stdout.contains(r#""modelVersion":"12345678901234567890""#),
        "{stdout}"
    );
    assert_eq!(
        event_lines(&output)[0]["time"],
        "2018-10-12T15:42:04.949555Z"
    );
}

/// `depth` levels of arrays around a string.
fn nested(depth: usize) -> String {
    format!(r#"{}"leaf"{}"#, "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn deep_tags_are_refused_by_name_and_deep_foreign_data_printed_whole() {
    // See: issue 13, "Deep nesting"
    // Tags deeper than serde_json reads used to print as `{}` or `null` (docs/events.md).
    let body = format!(
        r#"[{{"id":"1","eventType":"Microsoft.MachineLearningServices.RunCompleted","subject":"s",
            "eventTime":"2024-03-01T12:00:00Z","data":{{"runId":"r","runTags":{{"t":{}}}}}}}]"#,
        nested(200)
    );
    let output = inspect(&["-"], Some(body.as_bytes()));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains("`data.runTags`") && stderr.contains("nested deeper than 127 levels"),
        "{stderr}"
    );

    // A type that is not ours keeps its own data, however deep, and its numbers as written.
    let data = format!(r#"{{"deep": {}, "ratio": 1.10}}"#, nested(200));
    let body = format!(
        r#"{{"id":"1","eventType":"com.example.Deep","subject":"s","eventTime":"2024-03-01T12:00:00Z","data":{data}}}"#
    );
    let output = inspect(&["-"], Some(body.as_bytes()));
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let compact = data.replace(' ', "");
    assert!(stdout.contains(&format!(r#""data":{compact}"#)), "{stdout}");
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn prints_a_model_monitors_breach_beside_its_data() {
    let path = fixtures().join("variants/monitor_breach.json");
    let lines = event_lines(&inspect(&[path.to_str().unwrap()], None));
    assert_eq!(
        lines[0]["monitorBreach"]["signal"], "churn-drift",
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[0]["monitorBreach"]["violations"][1],
        serde_json::json!({"feature": "income", "metric": "PopulationStabilityIndex", "value": 0.3108, "threshold": 0.2})
    );
    // PascalCase keys and tag in a CloudEvent, and a tag that does not parse.
    let path = fixtures().join("variants/monitor_breach.cloud_events.json");
    let lines = event_lines(&inspect(&[path.to_str().unwrap()], None));
    assert_eq!(
        lines[0]["monitorBreach"]["signal"],
        "churn-prediction-drift"
    );
    let path = fixtures().join("variants/monitor_breach_unparseable.json");
    let lines = event_lines(&inspect(&[path.to_str().unwrap()], None));
    assert_eq!(
        lines[0]["monitorBreach"],
        serde_json::json!({"signal": null, "violations": []})
    );
    // The tag on a run that did not fail, and any other event: null, present.
    for name in [
        "variants/monitor_recovered.json",
        "event_grid/run_status_changed.json",
    ] {
        let path = fixtures().join(name);
        let lines = event_lines(&inspect(&[path.to_str().unwrap()], None));
        assert!(
            lines[0].as_object().unwrap().contains_key("monitorBreach"),
            "{name}"
        );
        assert_eq!(lines[0]["monitorBreach"], Value::Null, "{name}");
    }
}
