//! Each notification target's body (docs/notifications.md), part by part, for four notices: a
//! failed run as the functions build it (a traceback, a studio link), a monitor breach (its
//! violations as rows, a retrain job's link, notices held back), an information notice with no
//! link, time or workspace, and one with 30 facts and texts far past every vendor's limits in
//! multi-byte characters. Then a property: for any texts of any length, every renderer stays
//! within its vendor's limits and never panics. (What untrusted text can and cannot do is
//! tests/notify_hostile.rs.)
//!
//! The limits are the vendors' documented ones, restated here rather than read from the
//! renderers' constants, so a constant changed by mistake fails a test.

use aml_events::notify::{
    BLANK, ELLIPSIS, ErrorText, Fact, Held, Link, Notice, Rows, Severity, discord, limit,
    limit_end, pagerduty, slack, teams, webhook,
};
use aml_events::{Timestamp, WorkspaceId};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";
const WORKSPACE_PAGE: &str = "https://ml.azure.com/?wsid=/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourcegroups/ml-rg/workspaces/ml-ws";
const EVENT_ID: &str = "831e1650-001e-001b-66ab-eeb76e069631";
const ROUTING_KEY: &str = "R0UT1NGKEY0000000000000000000001";
const RETRAIN_JOB: &str = "https://ml.azure.com/experiments/id/churn/runs/retrain-831e1650?wsid=/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourcegroups/ml-rg/workspaces/ml-ws";

/// The traceback of the failed run: the exception line last, as Python prints it.
const TRACEBACK: &str = "Traceback (most recent call last):
  File \"train.py\", line 12, in <module>
    check(x)
  File \"train.py\", line 7, in check
    raise ValueError(\"x < 0 & y > 1\")
ValueError: x < 0 & y > 1
";

/// A run that failed, as `RunStatusChanged` builds its notice: the error message holds `<`,
/// `&` and `>`, and the summary a mention that must never ping.
fn failed_run() -> Notice {
    let workspace = WorkspaceId::parse(WORKSPACE).unwrap();
    let mut extra = Map::new();
    extra.insert(
        "run".into(),
        json!({"runId": "churn_run_7", "status": "Failed", "error": "No module named 'sklearn'"}),
    );
    Notice {
        title: "Run churn_run_7 failed".into(),
        summary: "Run churn_run_7 of experiment churn-training is now Failed @everyone <!channel>"
            .into(),
        severity: Severity::Error,
        status: "Failed".into(),
        facts: vec![
            Fact::new("Experiment", "churn-training"),
            Fact::new("Run", "churn_run_7"),
            Fact::new("Status", "Failed"),
            Fact::new("Compute", "cpu-cluster"),
            Fact::new("Error", "ValueError: x < 0 & y > 1"),
        ],
        link: Some(workspace.studio_run_url("churn_run_7")),
        event_id: EVENT_ID.into(),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".into(),
        function: "RunStatusChanged".into(),
        subject: Some("experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/churn_run_7".into()),
        workspace: Some(WORKSPACE.into()),
        time: Some(Timestamp::parse("2024-03-01T12:00:00.123Z").unwrap()),
        alert: true,
        alert_key: format!("{WORKSPACE}/churn_run_7/RunStatusChanged"),
        data: json!({"runId": "churn_run_7", "runStatus": "Failed", "experimentName": "churn-training"}).into(),
        extra,
        error: Some(ErrorText::new(TRACEBACK)),
        ..Notice::default()
    }
}

/// A monitor breach: seven violations (five are shown), two more the notice already left out,
/// a retrain job's link, and 37 notices held back since 09:00.
fn breach() -> Notice {
    let violation = |feature: &str, value: &str| {
        vec![
            feature.to_owned(),
            "jensen_shannon_distance".to_owned(),
            value.to_owned(),
            "0.1".to_owned(),
        ]
    };
    Notice {
        title: "Monitor churn-drift breached on ml-ws".into(),
        summary: "Data drift on 9 features of churn-model".into(),
        severity: Severity::Warning,
        status: "BREACH".into(),
        facts: vec![Fact::new("Signal", "churn-drift")],
        link: Some(
            WorkspaceId::parse(WORKSPACE)
                .unwrap()
                .studio_run_url("monitor_run_3"),
        ),
        links: vec![Link {
            label: "Open retrain job".into(),
            url: RETRAIN_JOB.into(),
        }],
        event_id: EVENT_ID.into(),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".into(),
        function: "RunStatusChanged".into(),
        workspace: Some(WORKSPACE.into()),
        time: Some(Timestamp::parse("2024-03-01T12:00:00Z").unwrap()),
        alert: true,
        rows: Some(Rows {
            header: ["Feature", "Metric", "Value", "Threshold"]
                .map(str::to_owned)
                .to_vec(),
            rows: (0..7)
                .map(|i| violation(&format!("feature_{i}"), &format!("0.{}", 9 - i)))
                .collect(),
            more: 2,
        }),
        held: Some(Held {
            count: 37,
            since: Timestamp::parse("2024-03-01T09:00:00Z").unwrap(),
        }),
        ..Notice::default()
    }
}

/// A model registered: information, with no link, no time and no workspace.
fn model_registered() -> Notice {
    Notice {
        title: "Model churn-model:3 registered".into(),
        summary: "Model churn-model version 3 was registered".into(),
        severity: Severity::Info,
        status: "REGISTERED".into(),
        facts: vec![Fact::new("Model", "churn-model"), Fact::new("Version", "3")],
        link: None,
        event_id: "e-2".into(),
        event_type: "Microsoft.MachineLearningServices.ModelRegistered".into(),
        function: "ModelRegistered".into(),
        subject: Some("models/churn-model:3".into()),
        workspace: None,
        time: None,
        alert: false,
        alert_key: "models/churn-model:3/ModelRegistered".into(),
        data: json!({"modelName": "churn-model", "modelVersion": "3"}).into(),
        extra: Map::new(),
        ..Notice::default()
    }
}

/// 30 facts, and texts far past every limit in two-, three- and four-byte characters.
fn oversized() -> Notice {
    let long = |unit: &str, n: usize| unit.repeat(n);
    let mut notice = breach();
    notice.title = long("Ünïcødé 日本語 🚀 ", 100);
    notice.summary = long("é<&>🚀日", 5000);
    notice.facts = (0..30)
        .map(|i| Fact::new(format!("Fact {i} {}", long("名", 300)), long("ä🚀<>&", 800)))
        .collect();
    notice.event_id = long("🆔", 3000);
    notice.alert_key = long("ключ/", 200);
    notice.error = Some(ErrorText::new(format!(
        "{}KeyError: {}",
        long("  File \"ä🚀<>&.py\", line 1\n", 2000),
        long("<&>", 2000)
    )));
    notice.rows.as_mut().unwrap().rows = vec![vec![long("名<", 500); 9]; 40];
    notice
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"))
}

fn chars(value: &Value) -> usize {
    text(value).chars().count()
}

fn types(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| text(&item["type"]))
        .collect()
}

/// Every object in `value` (itself too), depth first.
fn objects(value: &Value) -> Vec<&Map<String, Value>> {
    let mut found = Vec::new();
    match value {
        Value::Object(map) => {
            found.push(map);
            map.values().for_each(|v| found.extend(objects(v)));
        }
        Value::Array(items) => items.iter().for_each(|v| found.extend(objects(v))),
        _ => {}
    }
    found
}

/// Each `&` opens one of the three entities, and no `<` or `>` is left bare.
fn is_escaped(mrkdwn: &str) -> bool {
    !mrkdwn.contains(['<', '>'])
        && mrkdwn.match_indices('&').all(|(at, _)| {
            let rest = &mrkdwn[at..];
            rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;")
        })
}

const JOINER: char = '\u{2060}';

// ---------------------------------------------------------------------------------------
// limit

#[test]
fn limit_counts_characters_not_bytes() {
    assert_eq!(limit("🚀🚀🚀", 3), "🚀🚀🚀");
    assert_eq!(limit("🚀🚀🚀🚀", 3), format!("🚀🚀{ELLIPSIS}"));
    assert_eq!(limit("日本語のテキスト", 5).chars().count(), 5);
    assert_eq!(limit("abc", 0), "");
    assert_eq!(limit("", 10), "");
    // The cut does not leave a space before the ellipsis.
    assert_eq!(
        limit("run failed badly", 12),
        format!("run failed{ELLIPSIS}")
    );
}

#[test]
fn limit_borrows_what_fits() {
    assert!(matches!(limit("short", 10), std::borrow::Cow::Borrowed(_)));
}

#[test]
fn limit_end_keeps_the_end_from_a_whole_line() {
    let text = "line 1\nline 2\nline 3\nKeyError: 'x'";
    assert_eq!(limit_end(text, 100), text);
    assert_eq!(
        limit_end(text, 24),
        format!("{ELLIPSIS}\nline 3\nKeyError: 'x'")
    );
    // One long line: cut inside it.
    assert_eq!(limit_end("abcdefgh", 4), format!("{ELLIPSIS}fgh"));
    assert_eq!(limit_end("🚀🚀🚀🚀", 3), format!("{ELLIPSIS}🚀🚀"));
}

// ---------------------------------------------------------------------------------------
// The notice's shared readings

#[test]
fn the_exception_line_is_the_last_exception_of_a_traceback() {
    let exception = |text: &str| ErrorText::new(text).exception_line().to_owned();
    assert_eq!(exception(TRACEBACK), "ValueError: x < 0 & y > 1");
    assert_eq!(
        exception(
            "Traceback:\n  x\nKeyError: 'a'\n\nDuring handling...\nTraceback:\n  y\ntorch.cuda.OutOfMemoryError: CUDA out of memory\n"
        ),
        "torch.cuda.OutOfMemoryError: CUDA out of memory"
    );
    assert_eq!(exception("  \nStopIteration\n"), "StopIteration");
    // No exception line: the first line that says something.
    assert_eq!(
        exception("\n  Execution failed: exit code 1\n  see std_log.txt"),
        "Execution failed: exit code 1"
    );
    assert_eq!(exception("raise KeyError(k)"), "raise KeyError(k)");
    assert_eq!(exception(" \n "), "");
}

#[test]
fn a_warning_after_the_exception_is_not_the_error() {
    let exception = |text: &str| ErrorText::new(text).exception_line().to_owned();
    let error = "Traceback (most recent call last):\n  File \"train.py\", line 7, in check\n    raise ValueError(\"bad input\")\nValueError: bad input\nWarning: the job will be retried\n";
    assert_eq!(exception(error), "ValueError: bad input");
    // The warning stays in the details, under the line that says what went wrong.
    assert!(
        ErrorText::new(error)
            .details()
            .ends_with("raise ValueError(\"bad input\")\nWarning: the job will be retried")
    );
    // Python's other exception names still win over a later warning.
    for (name, line) in [
        ("SystemExit", "SystemExit: 2"),
        ("KeyboardInterrupt", "KeyboardInterrupt"),
        ("StopIteration", "StopIteration"),
        ("UserErrorException", "azureml.UserErrorException: no data"),
    ] {
        assert_eq!(
            exception(&format!("{line}\nUserWarning: deprecated\n")),
            line,
            "{name}"
        );
    }
    // A warning is the line only when nothing worse is there; the last one then.
    assert_eq!(
        exception("starting\nFutureWarning: a\nDeprecationWarning: b\ndone"),
        "DeprecationWarning: b"
    );
}

#[test]
fn the_details_are_the_error_without_its_exception_line() {
    let error = ErrorText::new(TRACEBACK);
    assert_eq!(
        error.details(),
        "Traceback (most recent call last):\n  File \"train.py\", line 12, in <module>\n    check(x)\n  File \"train.py\", line 7, in check\n    raise ValueError(\"x < 0 & y > 1\")"
    );
    assert_eq!(ErrorText::new("one line\n").details(), "");
    // All of it, for a card that had to cut the exception line.
    assert_eq!(
        ErrorText::new("\n  \n  a  \nb: c\n\n").trimmed(),
        "  a\nb: c"
    );
    assert_eq!(
        ErrorText::new("a\r\nb").lines().collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn the_status_word_falls_back_to_the_severity() {
    let mut notice = model_registered();
    assert_eq!(notice.status_word(), "REGISTERED");
    notice.status = " failed ".into();
    assert_eq!(notice.status_word(), "FAILED");
    notice.status = String::new();
    for (severity, word) in [
        (Severity::Info, "INFO"),
        (Severity::Warning, "WARNING"),
        (Severity::Error, "ERROR"),
        (Severity::Critical, "CRITICAL"),
    ] {
        notice.severity = severity;
        assert_eq!(notice.status_word(), word);
    }
}

#[test]
fn an_over_long_link_keeps_its_button_through_the_workspace_page() {
    let mut notice = failed_run();
    notice.link = Some(format!("https://ml.azure.com/runs/{}", "r".repeat(2100)));
    notice.links = vec![Link {
        label: "Open retrain job".into(),
        url: RETRAIN_JOB.into(),
    }];

    let buttons = notice.buttons();

    assert_eq!((buttons.unusable, buttons.beyond), (0, 0));
    let shown: Vec<(&str, &str)> = buttons
        .links
        .iter()
        .map(|link| (link.label.as_str(), link.url.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("Open the workspace in Azure ML studio", WORKSPACE_PAGE),
            ("Open retrain job", RETRAIN_JOB),
        ]
    );

    // No workspace to stand in: the card says a link was left out.
    notice.workspace = None;
    let buttons = notice.buttons();
    assert_eq!(buttons.links.len(), 1);
    assert_eq!((buttons.unusable, buttons.beyond), (1, 0));
    assert_eq!(
        buttons.left_out_text().unwrap(),
        "1 link left out: not an http(s) URL of at most 2,048 characters"
    );
}

// ---------------------------------------------------------------------------------------
// Teams

fn card(body: &Value) -> &Value {
    &body["attachments"][0]["content"]
}

#[test]
fn teams_wraps_one_adaptive_card_in_a_message() {
    let body = teams::render(&failed_run());

    assert_eq!(body["type"], "message");
    let attachments = body["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    // Present and null, as the Workflows samples send it.
    assert_eq!(attachments[0].get("contentUrl"), Some(&Value::Null));
    let card = card(&body);
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(card["version"], "1.4");
}

#[test]
fn teams_card_reads_top_down_band_summary_error_facts_event_id() {
    let body = teams::render(&failed_run());
    let card = card(&body);

    assert_eq!(
        types(&card["body"]),
        [
            "Container",
            "TextBlock",
            "TextBlock",
            "RichTextBlock",
            "FactSet",
            "TextBlock"
        ]
    );
    assert_eq!(
        card["body"][1]["text"],
        // Escaped for Markdown: the mention gets a zero-width space, `<` and `>` a backslash.
        format!(
            "Run churn_run_7 of experiment churn-training is now Failed @{JOINER}everyone \\<!channel\\>"
        )
    );
    let event_id = &card["body"][5];
    assert_eq!(event_id["text"], format!("Event id: {EVENT_ID}"));
    assert_eq!(event_id["size"], "small");
    assert_eq!(event_id["isSubtle"], true);
}

#[test]
fn teams_band_says_status_title_workspace_and_time_in_default_colours() {
    let body = teams::render(&failed_run());
    let band = &card(&body)["body"][0];

    assert_eq!(band["style"], "attention");
    assert_eq!(band["bleed"], true);
    assert_eq!(
        band["items"],
        json!([
            {"type": "TextBlock", "text": "FAILED", "weight": "bolder", "wrap": true},
            {"type": "TextBlock", "text": "Run churn_run_7 failed", "size": "large",
             "weight": "bolder", "spacing": "none", "wrap": true},
            {"type": "TextBlock", "text": "ml-ws \u{b7} 2024-03-01 12:00:00 UTC",
             "spacing": "small", "wrap": true},
        ])
    );
    // No text anywhere sets its colour: yellow on white was unreadable.
    assert!(
        objects(&body)
            .iter()
            .all(|object| !object.contains_key("color"))
    );
}

#[test]
fn teams_band_style_follows_the_tone() {
    let mut notice = model_registered();
    for (severity, status, style) in [
        (Severity::Critical, "FAILED", "attention"),
        (Severity::Error, "", "attention"),
        (Severity::Warning, "DRIFT", "warning"),
        (Severity::Info, "DEPLOYED", "good"),
        (Severity::Info, "CANCELED", "accent"),
        (Severity::Info, "", "accent"),
    ] {
        notice.severity = severity;
        notice.status = status.into();
        let body = teams::render(&notice);
        assert_eq!(
            card(&body)["body"][0]["style"],
            style,
            "{severity:?} {status}"
        );
    }
}

#[test]
fn teams_says_the_error_once_exception_line_then_the_traceback_in_monospace() {
    let body = teams::render(&failed_run());
    let card = card(&body);

    let exception = &card["body"][2];
    assert_eq!(exception["text"], "ValueError: x \\< 0 & y \\> 1");
    assert_eq!(exception["weight"], "bolder");
    let run = &card["body"][3]["inlines"][0];
    assert_eq!(run["type"], "TextRun");
    assert_eq!(run["fontType"], "monospace");
    // A TextRun is never Markdown: the traceback as written, its indentation as no-break
    // spaces, and without the exception line it already said.
    assert_eq!(
        run["text"],
        "Traceback (most recent call last):\n\u{a0}\u{a0}File \"train.py\", line 12, in <module>\n\u{a0}\u{a0}\u{a0}\u{a0}check(x)\n\u{a0}\u{a0}File \"train.py\", line 7, in check\n\u{a0}\u{a0}\u{a0}\u{a0}raise ValueError(\"x < 0 & y > 1\")"
    );
    let said = serde_json::to_string(card).unwrap();
    assert_eq!(
        said.matches("ValueError: x").count(),
        1 + 1,
        "the line and the Error fact"
    );
}

#[test]
fn teams_cuts_a_long_traceback_keeping_its_end() {
    let mut notice = failed_run();
    let frames: String = (0..2000)
        .map(|i| format!("  File \"layer_{i}.py\", line {i}, in forward\n"))
        .collect();
    notice.error = Some(ErrorText::new(format!(
        "Traceback (most recent call last):\n{frames}KeyError: 'customer_id'"
    )));

    let body = teams::render(&notice);
    let card = card(&body);

    assert_eq!(card["body"][2]["text"], "KeyError: 'customer_id'");
    let traceback = text(&card["body"][3]["inlines"][0]["text"]);
    assert!(
        traceback.starts_with(&format!("{ELLIPSIS}\n")),
        "{}",
        &traceback[..40]
    );
    assert!(traceback.ends_with("File \"layer_1999.py\", line 1999, in forward"));
    assert!(!traceback.contains("layer_0.py"));
}

#[test]
fn teams_rows_are_a_header_and_a_column_set_each_the_worst_five() {
    let body = teams::render(&breach());
    let card = card(&body);

    assert_eq!(
        types(&card["body"]),
        [
            "Container",
            "TextBlock",
            "TextBlock",
            "ColumnSet",
            "ColumnSet",
            "ColumnSet",
            "ColumnSet",
            "ColumnSet",
            "ColumnSet",
            "TextBlock",
            "FactSet",
            "TextBlock"
        ]
    );
    assert_eq!(card["body"][0]["style"], "warning");
    assert_eq!(card["body"][2]["text"], "and 37 more since 09:00 UTC");
    assert_eq!(card["body"][2]["isSubtle"], true);
    let row = |at: usize| -> Vec<(&str, &str)> {
        card["body"][at]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|column| {
                let block = &column["items"][0];
                (text(&block["text"]), text(&block["weight"]))
            })
            .collect()
    };
    assert_eq!(
        row(3),
        [
            ("Feature", "bolder"),
            ("Metric", "bolder"),
            ("Value", "bolder"),
            ("Threshold", "bolder")
        ]
    );
    assert_eq!(
        row(4),
        [
            ("feature_0", "default"),
            ("jensen_shannon_distance", "default"),
            ("0.9", "default"),
            ("0.1", "default")
        ]
    );
    assert_eq!(row(8)[0].0, "feature_4");
    // Two rows past the five, two the notice had left out.
    assert_eq!(card["body"][9]["text"], "and 4 more");
}

#[test]
fn teams_buttons_open_the_link_and_each_product_link() {
    let notice = breach();
    let body = teams::render(&notice);

    assert_eq!(
        card(&body)["actions"],
        json!([
            {"type": "Action.OpenUrl", "title": "Open in Azure ML studio",
             "url": notice.link.as_deref().unwrap()},
            {"type": "Action.OpenUrl", "title": "Open retrain job", "url": RETRAIN_JOB},
        ])
    );
}

#[test]
fn teams_an_over_long_link_falls_back_and_one_without_a_stand_in_is_said() {
    let mut notice = failed_run();
    notice.link = Some(format!("https://ml.azure.com/runs/{}", "r".repeat(2100)));
    let body = teams::render(&notice);
    assert_eq!(
        card(&body)["actions"],
        json!([{"type": "Action.OpenUrl", "title": "Open the workspace in Azure ML studio",
                "url": WORKSPACE_PAGE}])
    );

    notice.workspace = None;
    let body = teams::render(&notice);
    let card = card(&body);
    assert!(card.get("actions").is_none());
    let note = &card["body"].as_array().unwrap()[card["body"].as_array().unwrap().len() - 2];
    assert_eq!(
        note["text"],
        "1 link left out: not an http\\(s\\) URL of at most 2,048 characters"
    );
}

#[test]
fn teams_keeps_five_of_the_longest_links_within_its_budget_and_says_the_rest() {
    let mut notice = oversized();
    notice.link = Some(format!("https://ml.azure.com/runs/{}", "r".repeat(2000)));
    notice.links = (0..6)
        .map(|i| Link {
            label: format!("Open {i} {}", "名".repeat(100)),
            url: format!("https://ml.azure.com/{i}/{}", "x".repeat(2000)),
        })
        .collect();

    let body = teams::render(&notice);

    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size <= teams::MAX_BYTES, "{size} bytes");
    let card = card(&body);
    assert_eq!(card["actions"].as_array().unwrap().len(), 5);
    let blocks = card["body"].as_array().unwrap();
    assert_eq!(blocks[blocks.len() - 2]["text"], "2 more links not shown");
}

#[test]
fn teams_card_without_a_link_time_or_workspace() {
    let body = teams::render(&model_registered());
    let card = card(&body);

    assert!(card.get("actions").is_none());
    assert_eq!(card["body"][0]["style"], "good");
    // The band holds the status and the title; there is no place or time to tell.
    assert_eq!(card["body"][0]["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        card["body"][2]["facts"],
        json!([{"title": "Model", "value": "churn-model"}, {"title": "Version", "value": "3"}])
    );
}

#[test]
fn teams_every_text_block_wraps() {
    for notice in [failed_run(), breach(), model_registered(), oversized()] {
        let body = teams::render(&notice);
        for object in objects(&body) {
            if object.get("type") == Some(&json!("TextBlock")) {
                assert_eq!(object.get("wrap"), Some(&json!(true)), "{object:?}");
            }
        }
    }
}

#[test]
fn teams_caps_names_and_summary_with_a_visible_ellipsis() {
    let mut notice = failed_run();
    notice.title = "t".repeat(200);
    notice.summary = "s ".repeat(400);
    let body = teams::render(&notice);
    let card = card(&body);

    let title = text(&card["body"][0]["items"][1]["text"]);
    assert_eq!(
        title.chars().count(),
        80 + 2,
        "two zero-width spaces let it wrap"
    );
    assert!(title.ends_with(ELLIPSIS));
    let summary = text(&card["body"][1]["text"]);
    assert!(summary.chars().count() <= 500 && summary.ends_with(ELLIPSIS));
}

#[test]
fn teams_fits_an_oversized_notice_into_the_message_limit() {
    let notice = oversized();
    let body = teams::render(&notice);

    // Teams' documented limit is 28 KB per message; the renderer keeps well under it.
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size <= teams::MAX_BYTES, "{size} bytes");
    assert!(size < 28 * 1024);
    let blocks = card(&body)["body"].as_array().unwrap();
    // The band, the exception line and the event id always stay.
    assert_eq!(blocks[0]["type"], "Container");
    assert!(blocks.iter().any(|block| {
        block["text"]
            .as_str()
            .is_some_and(|text| text.starts_with("KeyError"))
    }));
    let last = text(&blocks.last().unwrap()["text"]);
    assert!(last.starts_with("Event id: ") && last.ends_with(ELLIPSIS));
}

// ---------------------------------------------------------------------------------------
// Slack

/// Every mrkdwn text object of a Slack body, with the path to it.
fn mrkdwn_objects(body: &Value) -> Vec<&Map<String, Value>> {
    objects(body)
        .into_iter()
        .filter(|object| object.get("type") == Some(&json!("mrkdwn")))
        .collect()
}

#[test]
fn slack_sends_the_bytes_of_its_json() {
    // What is posted is written from the blocks; what the tests read is the JSON tree of them.
    // Both must be the same bytes, key order included.
    for notice in [
        failed_run(),
        breach(),
        model_registered(),
        oversized(),
        Notice::default(),
    ] {
        let sent = serde_json::to_vec(&slack::message(&notice)).unwrap();
        let tree = serde_json::to_vec(&slack::render(&notice)).unwrap();
        assert_eq!(String::from_utf8(sent), String::from_utf8(tree));
    }
}

#[test]
fn slack_blocks_come_in_order() {
    let body = slack::render(&failed_run());

    assert_eq!(
        types(&body["blocks"]),
        [
            "header", "context", "section", "section", "section", "context", "actions"
        ]
    );
    let header = &body["blocks"][0]["text"];
    assert_eq!(header["type"], "plain_text");
    assert_eq!(
        header["text"],
        "\u{1F534} FAILED \u{b7} Run churn_run_7 failed"
    );
    assert_eq!(
        body["blocks"][1]["elements"],
        json!([{"type": "mrkdwn", "text": "ml-ws \u{b7} 2024-03-01 12:00:00 UTC", "verbatim": true}])
    );
    assert_eq!(
        body["blocks"][5]["elements"],
        json!([{"type": "mrkdwn", "text": format!("Event id: {EVENT_ID}"), "verbatim": true}])
    );
}

#[test]
fn slack_marks_the_tone_before_the_status_word() {
    let mut notice = model_registered();
    for (severity, status, header) in [
        (Severity::Error, "FAILED", "\u{1F534} FAILED"),
        (Severity::Warning, "", "\u{1F7E0} WARNING"),
        (Severity::Info, "COMPLETED", "\u{1F7E2} COMPLETED"),
        (Severity::Info, "", "\u{1F535} INFO"),
    ] {
        notice.severity = severity;
        notice.status = status.into();
        let body = slack::render(&notice);
        let shown = text(&body["blocks"][0]["text"]["text"]);
        assert!(
            shown.starts_with(&format!("{header} \u{b7} Model")),
            "{shown}"
        );
    }
}

#[test]
fn slack_escapes_what_mrkdwn_would_parse_and_parses_no_url() {
    let body = slack::render(&failed_run());

    let summary = text(&body["blocks"][2]["text"]["text"]);
    assert_eq!(
        summary,
        format!(
            "Run churn_run_7 of experiment churn-training is now Failed @{JOINER}everyone &lt;!channel&gt;"
        )
    );
    // Every mrkdwn text is verbatim: Slack links no URL and no channel name in it.
    for object in mrkdwn_objects(&body) {
        assert_eq!(object.get("verbatim"), Some(&json!(true)), "{object:?}");
    }
    // The fallback text is mrkdwn as well.
    assert_eq!(
        body["text"],
        format!("\u{1F534} FAILED \u{b7} Run churn_run_7 failed\n{summary}")
    );
    // plain_text is shown as is: escaping it would show the entities.
    let mut notice = failed_run();
    notice.title = "Run a<b & c failed".into();
    assert_eq!(
        slack::render(&notice)["blocks"][0]["text"]["text"],
        "\u{1F534} FAILED \u{b7} Run a<b & c failed"
    );
}

#[test]
fn slack_says_the_error_once_in_bold_then_a_code_block() {
    let body = slack::render(&failed_run());

    assert_eq!(
        body["blocks"][3]["text"]["text"],
        "*ValueError: x &lt; 0 &amp; y &gt; 1*\n```\nTraceback (most recent call last):\n  File \"train.py\", line 12, in &lt;module&gt;\n    check(x)\n  File \"train.py\", line 7, in check\n    raise ValueError(\"x &lt; 0 &amp; y &gt; 1\")\n```"
    );
}

#[test]
fn slack_cuts_a_long_traceback_keeping_its_end_within_a_section() {
    let mut notice = failed_run();
    let frames: String = (0..500)
        .map(|i| format!("  File \"<layer_{i}>.py\", line {i}\n"))
        .collect();
    notice.error = Some(ErrorText::new(format!("{frames}KeyError: 'customer_id'")));

    let body = slack::render(&notice);
    let section = text(&body["blocks"][3]["text"]["text"]);

    assert!(section.chars().count() <= 3000);
    assert!(section.starts_with(&format!("*KeyError: 'customer_id'*\n```\n{ELLIPSIS}\n")));
    assert!(section.ends_with("File \"&lt;layer_499&gt;.py\", line 499\n```"));
    assert!(is_escaped(section));
}

/// An exception line far past a card's 300 characters, whose cause is at its end: alone, and
/// ending a traceback.
fn long_exception_lines() -> [String; 2] {
    let line = format!(
        "ValueError: {}{CAUSE}",
        "could not convert the input frame; ".repeat(20)
    );
    [
        line.clone(),
        format!("Traceback (most recent call last):\n  File \"train.py\", line 7\n{line}\n"),
    ]
}

const CAUSE: &str = "the cause: column customer_id missing from batch 7";

#[test]
fn a_long_exception_line_keeps_its_end_in_every_chat_card() {
    for (which, error) in ["alone", "after a traceback"]
        .into_iter()
        .zip(long_exception_lines())
    {
        let mut notice = failed_run();
        notice.error = Some(ErrorText::new(error));
        let mut lost = Vec::new();

        // Teams: the bold line starts with the exception's name; the monospace block under it
        // holds the whole line, so its end is read there.
        let body = teams::render(&notice);
        let card = card(&body);
        assert!(text(&card["body"][2]["text"]).starts_with("ValueError: could not"));
        let block = card["body"][3]["inlines"][0]["text"].as_str();
        if !block.is_some_and(|block| block.ends_with(CAUSE)) {
            lost.push("Teams");
        }

        // Slack: the same in its section: the bold line, then the code block.
        let body = slack::render(&notice);
        let section = text(&body["blocks"][3]["text"]["text"]);
        assert!(section.starts_with("*ValueError: could not"), "{section}");
        if !section.ends_with(&format!("{CAUSE}\n```")) {
            lost.push("Slack");
        }

        // Discord: in its description's code block.
        let body = discord::render(&notice);
        let description = text(&body["embeds"][0]["description"]);
        if !description.contains(&format!("{CAUSE}\n```")) {
            lost.push("Discord");
        }

        assert!(
            lost.is_empty(),
            "the line's end is lost {which} in {lost:?}"
        );
    }
}

#[test]
fn slack_rows_are_an_aligned_table_then_how_many_more() {
    let body = slack::render(&breach());

    assert_eq!(
        types(&body["blocks"]),
        [
            "header", "context", "section", "context", "section", "section", "context", "actions"
        ]
    );
    assert_eq!(
        body["blocks"][3]["elements"][0]["text"],
        "and 37 more since 09:00 UTC"
    );
    assert_eq!(
        body["blocks"][4]["text"]["text"],
        "```\n\
         Feature    Metric                   Value  Threshold\n\
         feature_0  jensen_shannon_distance  0.9    0.1\n\
         feature_1  jensen_shannon_distance  0.8    0.1\n\
         feature_2  jensen_shannon_distance  0.7    0.1\n\
         feature_3  jensen_shannon_distance  0.6    0.1\n\
         feature_4  jensen_shannon_distance  0.5    0.1\n\
         ```\n\
         and 4 more"
    );
}

#[test]
fn slack_fields_are_bold_names_over_values() {
    let fields = &slack::render(&failed_run())["blocks"][4]["fields"];

    assert_eq!(
        fields[0],
        json!({"type": "mrkdwn", "text": "*Experiment*\nchurn-training", "verbatim": true})
    );
    assert_eq!(
        fields[4],
        json!({"type": "mrkdwn", "text": "*Error*\nValueError: x &lt; 0 &amp; y &gt; 1", "verbatim": true})
    );
    assert_eq!(fields.as_array().unwrap().len(), 5);
}

#[test]
fn slack_buttons_open_the_link_and_each_product_link() {
    let notice = breach();
    let body = slack::render(&notice);
    let actions = body["blocks"].as_array().unwrap().last().unwrap();

    assert_eq!(
        actions["elements"],
        json!([
            {"type": "button", "text": {"type": "plain_text", "text": "Open in Azure ML studio"},
             "url": notice.link.as_deref().unwrap()},
            {"type": "button", "text": {"type": "plain_text", "text": "Open retrain job"},
             "url": RETRAIN_JOB},
        ])
    );
}

#[test]
fn slack_an_over_long_link_falls_back_to_the_workspace() {
    let mut notice = failed_run();
    notice.link = Some(format!("https://ml.azure.com/runs/{}", "r".repeat(2100)));
    let body = slack::render(&notice);
    let actions = body["blocks"].as_array().unwrap().last().unwrap();

    assert_eq!(actions["elements"][0]["url"], WORKSPACE_PAGE);
    assert_eq!(
        actions["elements"][0]["text"]["text"],
        "Open the workspace in Azure ML studio"
    );
}

#[test]
fn slack_without_a_link_has_no_actions_block() {
    let body = slack::render(&model_registered());

    assert_eq!(
        types(&body["blocks"]),
        ["header", "section", "section", "context"]
    );
    assert_eq!(
        body["text"],
        "\u{1F7E2} REGISTERED \u{b7} Model churn-model:3 registered\nModel churn-model version 3 was registered"
    );
}

#[test]
fn slack_keeps_an_oversized_notice_within_block_kit_limits() {
    let body = slack::render(&oversized());

    let blocks = body["blocks"].as_array().unwrap();
    assert!(chars(&blocks[0]["text"]["text"]) <= 150);
    for object in mrkdwn_objects(&body) {
        let text = text(&object["text"]);
        assert!(text.chars().count() <= 3000);
        assert!(is_escaped(text), "{text}");
    }
    let fields = blocks
        .iter()
        .find_map(|block| block.get("fields"))
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(fields.len(), 10);
    for field in fields {
        assert!(chars(&field["text"]) <= 2000);
    }
    // Nine facts, and a tenth saying how many more there were.
    assert_eq!(fields[9]["text"], "*More*\n21 more not shown");
    assert!(chars(&body["text"]) <= 3000);
}

#[test]
fn slack_cut_never_splits_an_entity() {
    let mut notice = model_registered();
    for prefix in 490..500 {
        notice.summary = format!("{}{}", "a".repeat(prefix), "&".repeat(20));
        let body = slack::render(&notice);
        let summary = text(&body["blocks"][1]["text"]["text"]);
        assert!(summary.ends_with(ELLIPSIS));
        assert!(is_escaped(summary), "{prefix}: {}", &summary[480..]);
    }
}

// ---------------------------------------------------------------------------------------
// Discord

#[test]
fn discord_embed_carries_the_notice() {
    let notice = failed_run();
    let body = discord::render(&notice);

    assert_eq!(body["content"], "\u{1F534} FAILED \u{b7} ml-ws");
    let embeds = body["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    assert_eq!(embed["title"], "Run churn_run_7 failed");
    assert_eq!(embed["url"], notice.link.as_deref().unwrap());
    assert_eq!(embed["color"], 0xD1_34_38);
    assert_eq!(
        embed["footer"],
        json!({"text": format!("Event id: {EVENT_ID}")})
    );
    assert_eq!(embed["timestamp"], "2024-03-01T12:00:00.123Z");
    assert_eq!(
        embed["fields"][0],
        json!({"name": "Experiment", "value": "churn-training", "inline": true})
    );
    assert_eq!(embed["fields"].as_array().unwrap().len(), 5);
}

#[test]
fn discord_description_says_summary_error_once_and_links() {
    let notice = failed_run();
    let body = discord::render(&notice);

    assert_eq!(
        body["embeds"][0]["description"],
        format!(
            "Run churn_run_7 of experiment churn-training is now Failed @{JOINER}everyone \\<!channel\\>\n\n\
             ValueError: x \\< 0 & y \\> 1\n\
             ```\n\
             Traceback (most recent call last):\n  File \"train.py\", line 12, in <module>\n    check(x)\n  File \"train.py\", line 7, in check\n    raise ValueError(\"x < 0 & y > 1\")\n\
             ```\n\n\
             [Open in Azure ML studio]({})",
            notice.link.as_deref().unwrap()
        )
    );
}

#[test]
fn discord_rows_then_facts_as_fields_and_every_link_in_the_description() {
    let body = discord::render(&breach());
    let embed = &body["embeds"][0];

    assert_eq!(body["content"], "\u{1F7E0} BREACH \u{b7} ml-ws");
    assert_eq!(embed["color"], 0xFF_B9_00);
    let fields = embed["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 5 + 1 + 1);
    assert_eq!(
        fields[0],
        json!({"name": "feature_0", "value": "Metric: jensen_shannon_distance\nValue: 0.9\nThreshold: 0.1", "inline": true})
    );
    assert_eq!(
        fields[5],
        json!({"name": "More", "value": "and 4 more", "inline": true})
    );
    assert_eq!(
        fields[6],
        json!({"name": "Signal", "value": "churn-drift", "inline": true})
    );
    let description = text(&embed["description"]);
    assert!(
        description
            .starts_with("Data drift on 9 features of churn-model\nand 37 more since 09:00 UTC")
    );
    assert!(description.ends_with(&format!(
        "[Open in Azure ML studio]({}) \u{b7} [Open retrain job]({RETRAIN_JOB})",
        breach().link.unwrap()
    )));
}

#[test]
fn discord_never_pings_whatever_the_text_says() {
    let body = discord::render(&failed_run());

    assert!(text(&body["embeds"][0]["description"]).contains(&format!("@{JOINER}everyone")));
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
}

#[test]
fn discord_leaves_out_url_and_timestamp_when_there_are_none() {
    let body = discord::render(&model_registered());
    let embed = &body["embeds"][0];

    assert!(embed.get("url").is_none());
    assert!(embed.get("timestamp").is_none());
    assert_eq!(embed["color"], 0x10_7C_10);
    assert_eq!(body["content"], "\u{1F7E2} REGISTERED");
}

#[test]
fn discord_colors_by_tone_and_critical_darker() {
    let mut notice = model_registered();
    let mut colors = Vec::new();
    for (severity, status) in [
        (Severity::Info, "REGISTERED"),
        (Severity::Info, ""),
        (Severity::Warning, ""),
        (Severity::Error, ""),
        (Severity::Critical, ""),
    ] {
        notice.severity = severity;
        notice.status = status.into();
        colors.push(
            discord::render(&notice)["embeds"][0]["color"]
                .as_u64()
                .unwrap(),
        );
    }
    colors.dedup();
    assert_eq!(colors.len(), 5, "{colors:?}");
}

#[test]
fn discord_replaces_blank_field_values_which_it_refuses() {
    let mut notice = model_registered();
    notice.facts = vec![Fact::new("Tags", ""), Fact::new(" ", "  ")];
    let fields = &discord::render(&notice)["embeds"][0]["fields"];

    assert_eq!(
        fields[0],
        json!({"name": "Tags", "value": BLANK, "inline": true})
    );
    assert_eq!(
        fields[1],
        json!({"name": BLANK, "value": BLANK, "inline": true})
    );
}

#[test]
fn discord_keeps_an_oversized_notice_within_embed_limits() {
    let body = discord::render(&oversized());

    assert!(chars(&body["content"]) <= 2000);
    assert_embed_within_limits(&body["embeds"][0]);
    assert_eq!(body["embeds"][0]["color"], 0xFF_B9_00);
    // The links survive: they are placed before the texts that can be cut.
    assert!(text(&body["embeds"][0]["description"]).ends_with(&format!("({RETRAIN_JOB})")));
}

/// Discord's embed limits, and its refusal of blank field names and values.
fn assert_embed_within_limits(embed: &Value) {
    let title = embed.get("title").map_or(0, chars);
    let description = embed.get("description").map_or(0, chars);
    let footer = embed
        .get("footer")
        .map_or(0, |footer| chars(&footer["text"]));
    assert!((1..=256).contains(&title), "title {title}");
    assert!(description <= 4096, "description {description}");
    assert!(footer <= 2048, "footer {footer}");
    let fields = embed
        .get("fields")
        .map_or(&[][..], |fields| fields.as_array().unwrap());
    assert!(fields.len() <= 25, "{} fields", fields.len());
    let mut total = title + description + footer;
    for field in fields {
        let (name, value) = (text(&field["name"]), text(&field["value"]));
        assert!(
            !name.trim().is_empty() && !value.trim().is_empty(),
            "{field}"
        );
        assert!(name.chars().count() <= 256 && value.chars().count() <= 1024);
        assert_eq!(field["inline"], true);
        total += name.chars().count() + value.chars().count();
    }
    assert!(total <= 6000, "embed total {total}");
}

// ---------------------------------------------------------------------------------------
// PagerDuty

#[test]
fn pagerduty_trigger_has_every_required_field() {
    let notice = failed_run();
    let body = pagerduty::render(&notice, ROUTING_KEY);

    assert_eq!(body["routing_key"], ROUTING_KEY);
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["dedup_key"], notice.alert_key.as_str());
    assert_eq!(body["client"], "aml-handlers");
    let payload = &body["payload"];
    assert_eq!(
        payload["summary"],
        format!("{}: ValueError: x < 0 & y > 1", notice.summary)
    );
    assert_eq!(payload["source"], WORKSPACE);
    assert_eq!(payload["severity"], "error");
    assert_eq!(payload["timestamp"], "2024-03-01T12:00:00.123Z");
    assert_eq!(payload["component"], "RunStatusChanged");
    assert_eq!(payload["group"], "ml-ws");
    assert_eq!(
        payload["class"],
        "Microsoft.MachineLearningServices.RunStatusChanged"
    );
    assert_eq!(
        body["links"],
        json!([{"href": notice.link.as_deref().unwrap(), "text": "Open in Azure ML studio"}])
    );
}

#[test]
fn pagerduty_custom_details_hold_the_facts_the_error_the_event_id_and_the_subject() {
    let mut notice = failed_run();
    // A fact named like a fixed key loses to it; a repeated name keeps both values.
    notice.facts.push(Fact::new("eventId", "not the event id"));
    notice.facts.push(Fact::new("Run", "churn_run_8"));

    let details = &pagerduty::render(&notice, ROUTING_KEY)["payload"]["custom_details"];

    assert_eq!(
        details,
        &json!({
            "Experiment": "churn-training",
            "Run": "churn_run_7",
            "Run (2)": "churn_run_8",
            "Status": "Failed",
            "Compute": "cpu-cluster",
            "Error": "ValueError: x < 0 & y > 1",
            "error": TRACEBACK.trim_end(),
            "eventId": EVENT_ID,
            "subject": "experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/churn_run_7",
        })
    );
}

/// A failed run's page as `RunStatusChanged` builds the notice: the summary says what
/// happened, the run's error is the notice's error (no Error fact), the traceback ends with its
/// exception line.
fn paged_run() -> Notice {
    let mut notice = failed_run();
    notice.summary = "Run churn_run_7 of experiment churn-training failed".into();
    notice.facts.retain(|fact| fact.name != "Error");
    notice.error = Some(ErrorText::new(format!(
        "Traceback (most recent call last):\n  File \"train.py\", line 12, in <module>\n    frame[\"customer_id\"]\n{KEY_ERROR}\n"
    )));
    notice
}

const KEY_ERROR: &str = "KeyError: 'customer_id'";

#[test]
fn pagerduty_page_of_a_failed_run_says_its_error() {
    let notice = paged_run();

    let body = pagerduty::render(&notice, ROUTING_KEY);

    let payload = &body["payload"];
    assert_eq!(
        payload["summary"],
        format!("Run churn_run_7 of experiment churn-training failed: {KEY_ERROR}")
    );
    assert_eq!(
        payload["custom_details"],
        json!({
            "Experiment": "churn-training",
            "Run": "churn_run_7",
            "Status": "Failed",
            "Compute": "cpu-cluster",
            "error": format!("Traceback (most recent call last):\n  File \"train.py\", line 12, in <module>\n    frame[\"customer_id\"]\n{KEY_ERROR}"),
            "eventId": EVENT_ID,
            "subject": "experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/churn_run_7",
        })
    );
}

#[test]
fn pagerduty_keeps_the_end_of_a_long_error() {
    let mut notice = paged_run();
    let frames: String = (0..2000)
        .map(|i| format!("  File \"layer_{i}.py\", line {i}, in forward\n"))
        .collect();
    notice.error = Some(ErrorText::new(format!(
        "Traceback (most recent call last):\n{frames}{KEY_ERROR}"
    )));

    let body = pagerduty::render(&notice, ROUTING_KEY);

    let error = text(&body["payload"]["custom_details"]["error"]);
    assert!(error.chars().count() <= 4096, "{}", error.chars().count());
    assert!(error.starts_with(&format!("{ELLIPSIS}\n  File \"layer_")));
    assert!(error.ends_with(&format!(
        "layer_1999.py\", line 1999, in forward\n{KEY_ERROR}"
    )));
    assert!(text(&body["payload"]["summary"]).ends_with(&format!("failed: {KEY_ERROR}")));
}

#[test]
fn pagerduty_summary_shares_its_room_with_a_long_exception_line() {
    let mut notice = paged_run();
    notice.summary = format!("Run churn_run_7 {}failed", "of a long story ".repeat(100));
    let line = format!(
        "ValueError: {}{CAUSE}",
        "could not convert the input frame; ".repeat(40)
    );
    notice.error = Some(ErrorText::new(line.as_str()));

    let summary = pagerduty::render(&notice, ROUTING_KEY)["payload"]["summary"].clone();

    let summary = text(&summary);
    assert_eq!(summary.chars().count(), 1024);
    assert!(
        summary.starts_with("Run churn_run_7 of a long story"),
        "{summary}"
    );
    assert!(summary.ends_with(CAUSE), "{summary}");
    assert!(
        summary.contains(&format!("{ELLIPSIS}: {ELLIPSIS}")),
        "{summary}"
    );
    // The whole line is in the details.
    assert_eq!(
        body_error(&notice),
        line,
        "the error in custom_details, whole"
    );
}

fn body_error(notice: &Notice) -> String {
    text(&pagerduty::render(notice, ROUTING_KEY)["payload"]["custom_details"]["error"]).to_owned()
}

#[test]
fn pagerduty_page_of_a_failed_smoke_test_says_the_answer() {
    let mut notice = model_registered();
    notice.title = "Endpoint churn-api failed its smoke test".into();
    notice.summary = "Endpoint churn-api deployed on aks-prod; smoke test: failed".into();
    notice.severity = Severity::Warning;
    notice.alert = true;
    notice.error = Some(ErrorText::new(
        "answered 500: {\"error\": \"model not loaded\"}",
    ));

    let body = pagerduty::render(&notice, ROUTING_KEY);

    assert_eq!(
        body["payload"]["summary"],
        "Endpoint churn-api deployed on aks-prod; smoke test: failed: answered 500: {\"error\": \"model not loaded\"}"
    );
    assert_eq!(
        body["payload"]["custom_details"]["error"],
        "answered 500: {\"error\": \"model not loaded\"}"
    );
}

#[test]
fn pagerduty_page_of_a_breach_holds_its_violations_held_count_and_every_link() {
    let notice = breach();

    let body = pagerduty::render(&notice, ROUTING_KEY);

    let details = &body["payload"]["custom_details"];
    let rows = details["violations"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(
        rows[0],
        json!({"Feature": "feature_0", "Metric": "jensen_shannon_distance", "Value": "0.9", "Threshold": "0.1"})
    );
    assert_eq!(rows[6]["Feature"], "feature_6");
    assert_eq!(details["violations"]["more"], 2);
    assert_eq!(
        details["held"],
        json!({"count": 37, "since": "2024-03-01T09:00:00.000Z"})
    );
    assert_eq!(
        body["links"],
        json!([
            {"href": notice.link.as_deref().unwrap(), "text": "Open in Azure ML studio"},
            {"href": RETRAIN_JOB, "text": "Open retrain job"},
        ])
    );
    // No error: no key for it.
    assert!(details.get("error").is_none());
}

#[test]
fn pagerduty_violations_are_keyed_by_column_whatever_the_rows() {
    let mut notice = breach();
    notice.rows = Some(Rows {
        header: ["Feature", "Value", " ", "Value"]
            .map(str::to_owned)
            .to_vec(),
        rows: vec![
            ["age", "0.4", "x", "0.5", "extra"]
                .map(str::to_owned)
                .to_vec(),
            vec!["tenure".to_owned()],
        ],
        more: 0,
    });
    // Rows past the worst ten are counted, not listed.
    notice
        .rows
        .as_mut()
        .unwrap()
        .rows
        .extend(vec![vec!["f".to_owned()]; 12]);

    let details = &pagerduty::render(&notice, ROUTING_KEY)["payload"]["custom_details"];

    let rows = details["violations"]["rows"].as_array().unwrap();
    assert_eq!(
        rows[0],
        json!({"Feature": "age", "Value": "0.4", "column 3": "x", "Value (2)": "0.5", "column 5": "extra"})
    );
    assert_eq!(rows[1], json!({"Feature": "tenure"}));
    assert_eq!(rows.len(), 10);
    assert_eq!(details["violations"]["more"], 4);
}

#[test]
fn pagerduty_links_fall_back_and_say_what_was_left_out() {
    let mut notice = breach();
    notice.link = Some(format!("https://ml.azure.com/runs/{}", "r".repeat(2100)));
    notice.links.push(Link {
        label: "Open model".into(),
        url: "not a url".into(),
    });
    notice.workspace = None;

    let body = pagerduty::render(&notice, ROUTING_KEY);

    assert_eq!(
        body["links"],
        json!([{"href": RETRAIN_JOB, "text": "Open retrain job"}])
    );
    assert_eq!(
        body["payload"]["custom_details"]["linksLeftOut"],
        "2 links left out: not an http(s) URL of at most 2,048 characters"
    );
}

#[test]
fn pagerduty_stays_within_512_kb_with_every_part_at_its_bound() {
    // Control characters: six bytes each once escaped in JSON, the most any character takes.
    let worst = |n: usize| "\u{1}".repeat(n);
    let mut notice = oversized();
    notice.summary = worst(5000);
    notice.facts = (0..60)
        .map(|i| Fact::new(format!("{i}{}", worst(2000)), worst(5000)))
        .collect();
    notice.error = Some(ErrorText::new(worst(50_000)));
    notice.rows = Some(Rows {
        header: (0..12).map(|i| format!("{i}{}", worst(1000))).collect(),
        rows: vec![vec![worst(5000); 12]; 40],
        more: usize::MAX,
    });
    notice.links = (0..8)
        .map(|i| Link {
            label: worst(1000),
            url: format!("https://ml.azure.com/{i}/{}", "a".repeat(2000)),
        })
        .collect();
    notice.subject = Some(worst(5000));
    notice.function = worst(5000);
    notice.event_type = worst(5000);
    notice.workspace = Some(worst(5000));

    let body = pagerduty::render(&notice, ROUTING_KEY);

    assert_pagerduty_within_limits(&body);
    let bytes = serde_json::to_vec(&body).unwrap().len();
    assert!(bytes <= 460 * 1024, "{bytes} bytes");
}

#[test]
fn pagerduty_without_workspace_link_or_time() {
    let body = pagerduty::render(&model_registered(), ROUTING_KEY);

    let payload = &body["payload"];
    assert_eq!(payload["source"], "aml-handlers");
    assert_eq!(payload["severity"], "info");
    assert!(payload.get("timestamp").is_none());
    assert!(payload.get("group").is_none());
    assert!(body.get("links").is_none());
}

#[test]
fn pagerduty_timestamp_has_milliseconds_in_utc() {
    let mut notice = failed_run();
    notice.time = Some(Timestamp::parse("2026-11-30T07:12:44.9584103+01:00").unwrap());

    let body = pagerduty::render(&notice, ROUTING_KEY);

    assert_eq!(body["payload"]["timestamp"], "2026-11-30T06:12:44.958Z");
}

#[test]
fn pagerduty_resolve_closes_the_alert_the_trigger_opened() {
    let notice = oversized();
    let trigger = pagerduty::render(&notice, ROUTING_KEY);

    let resolve = pagerduty::resolve(&notice, ROUTING_KEY);

    assert_eq!(
        resolve,
        json!({
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": trigger["dedup_key"],
        })
    );
}

#[test]
fn pagerduty_severity_is_one_of_the_four() {
    let mut notice = failed_run();
    for severity in [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ] {
        notice.severity = severity;
        let body = pagerduty::render(&notice, ROUTING_KEY);
        assert_eq!(body["payload"]["severity"], severity.as_str());
    }
}

#[test]
fn pagerduty_keeps_an_oversized_notice_within_its_limits() {
    let notice = oversized();
    let body = pagerduty::render(&notice, ROUTING_KEY);

    assert_pagerduty_within_limits(&body);
    // The same alert key always gives the same (cut) dedup key.
    assert_eq!(
        body["dedup_key"],
        pagerduty::render(&notice, ROUTING_KEY)["dedup_key"]
    );
}

fn assert_pagerduty_within_limits(body: &Value) {
    assert_eq!(body["routing_key"], ROUTING_KEY);
    assert_eq!(body["event_action"], "trigger");
    assert!(chars(&body["dedup_key"]) <= 255);
    let payload = &body["payload"];
    let summary = chars(&payload["summary"]);
    assert!((1..=1024).contains(&summary), "summary {summary}");
    assert!(!text(&payload["source"]).trim().is_empty());
    assert!(
        ["critical", "error", "warning", "info"].contains(&text(&payload["severity"])),
        "{}",
        payload["severity"]
    );
    assert!(payload["custom_details"].is_object());
    assert!(serde_json::to_vec(body).unwrap().len() <= 512 * 1024);
}

// ---------------------------------------------------------------------------------------
// webhook

#[test]
fn webhook_body_has_every_key() {
    let notice = failed_run();
    let body = webhook::render(&notice);

    assert_eq!(
        body,
        json!({
            "text": notice.summary,
            "title": "Run churn_run_7 failed",
            "severity": "error",
            "eventId": EVENT_ID,
            "eventType": "Microsoft.MachineLearningServices.RunStatusChanged",
            "subject": "experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/churn_run_7",
            "function": "RunStatusChanged",
            "workspace": WORKSPACE,
            "time": "2024-03-01T12:00:00.123Z",
            "link": notice.link,
            "status": "FAILED",
            "links": [],
            "error": {"text": TRACEBACK, "exceptionLine": notice.error.as_ref().unwrap().exception_line()},
            "rows": null,
            "held": null,
            "data": notice.data.to_value(),
            "run": {"runId": "churn_run_7", "status": "Failed", "error": "No module named 'sklearn'"},
        })
    );
}

#[test]
fn webhook_body_carries_rows_links_and_the_held_count_as_data() {
    let notice = breach();

    let body = webhook::render(&notice);

    assert_eq!(body["status"], "BREACH");
    assert_eq!(
        body["links"],
        json!([{"label": "Open retrain job", "url": RETRAIN_JOB}])
    );
    assert_eq!(body["rows"]["header"][0], "Feature");
    assert_eq!(body["rows"]["rows"].as_array().unwrap().len(), 7);
    assert_eq!(body["rows"]["more"], 2);
    assert_eq!(
        body["held"],
        json!({"count": 37, "since": "2024-03-01T09:00:00.000Z"})
    );
    assert_eq!(body["error"], Value::Null);
}

#[test]
fn webhook_time_has_milliseconds_in_utc() {
    let mut notice = failed_run();
    for (time, written) in [
        ("2017-06-26T18:41:00.9584103Z", "2017-06-26T18:41:00.958Z"),
        ("2019-07-04T00:00:00-07:00", "2019-07-04T07:00:00.000Z"),
    ] {
        notice.time = Some(Timestamp::parse(time).unwrap());
        assert_eq!(webhook::render(&notice)["time"], written);
    }
}

#[test]
fn webhook_fixed_keys_win_over_extra_and_absent_ones_are_null() {
    let mut notice = model_registered();
    notice.extra.insert("text".into(), json!("from extra"));
    notice.extra.insert("eventId".into(), json!("from extra"));
    notice
        .extra
        .insert("smokeTest".into(), json!({"status": 200}));

    let body = webhook::render(&notice);

    assert_eq!(body["text"], "Model churn-model version 3 was registered");
    assert_eq!(body["eventId"], "e-2");
    assert_eq!(body["smokeTest"], json!({"status": 200}));
    for key in ["workspace", "time", "link", "error", "rows", "held"] {
        assert_eq!(body.get(key), Some(&Value::Null), "{key}");
    }
}

// ---------------------------------------------------------------------------------------
// Any texts of any length

/// Text of any length, some of it dense in what the renderers escape or count specially.
/// Long texts are a short arbitrary one repeated: as varied where it matters (what is cut,
/// what is escaped, where a multi-byte character falls), and far cheaper to generate than
/// thousands of independent characters.
fn any_text() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just('&'),
        Just('<'),
        Just('>'),
        Just(' '),
        Just('a'),
        Just('é'),
        Just('日'),
        Just('🚀'),
        Just('\u{0}'),
        Just('\n'),
    ];
    prop_oneof![
        any::<String>(),
        (any::<String>(), 0..3000usize).prop_map(|(unit, n)| unit.repeat(n)),
        (proptest::collection::vec(special, 1..16), 0..3000usize)
            .prop_map(|(unit, n)| String::from_iter(unit).repeat(n)),
    ]
}

fn any_link() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(
            WorkspaceId::parse(WORKSPACE)
                .unwrap()
                .studio_run_url("churn_run_7")
        )),
        any_text().prop_map(|path| Some(format!("https://ml.azure.com/{path}"))),
        any_text().prop_map(Some),
    ]
}

/// A header and rows of any texts (ragged ones too), and any count left out.
fn any_rows() -> impl Strategy<Value = Rows> {
    let cells = || proptest::collection::vec(any_text(), 0..6);
    (
        cells(),
        proptest::collection::vec(cells(), 0..12),
        any::<usize>(),
    )
        .prop_map(|(header, rows, more)| Rows { header, rows, more })
}

fn any_severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Info),
        Just(Severity::Warning),
        Just(Severity::Error),
        Just(Severity::Critical),
    ]
}

fn any_notice() -> impl Strategy<Value = Notice> {
    let texts = (
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        any_text(),
    );
    let facts = proptest::collection::vec((any_text(), any_text()), 0..40);
    let optional = (
        proptest::option::of(any_text()),
        prop_oneof![
            Just(None),
            Just(Some(WORKSPACE.to_owned())),
            any_text().prop_map(Some)
        ],
        any::<bool>(),
    );
    let parts = (
        proptest::option::of(any_text().prop_map(ErrorText::new)),
        proptest::option::of(any_rows()),
        proptest::collection::vec((any_text(), any_link()), 0..8),
        proptest::option::of(any::<u64>()),
        prop_oneof![Just(String::new()), Just("FAILED".to_owned()), any_text()],
    );
    (texts, facts, any_severity(), any_link(), optional, parts).prop_map(
        |(
            (title, summary, event_id, event_type, function, alert_key),
            facts,
            severity,
            link,
            (subject, workspace, timed),
            (error, rows, links, held, status),
        )| {
            let time = || Timestamp::parse("2024-03-01T12:00:00Z").unwrap();
            Notice {
                title,
                summary,
                severity,
                facts: facts
                    .into_iter()
                    .map(|(name, value)| Fact::new(name, value))
                    .collect(),
                link,
                event_id,
                event_type,
                function,
                subject,
                source: None,
                workspace,
                time: timed.then(time),
                alert: true,
                alert_key,
                data: Value::Null.into(),
                extra: Map::new(),
                status,
                error,
                rows,
                links: links
                    .into_iter()
                    .map(|(label, url)| Link {
                        label,
                        url: url.unwrap_or_default(),
                    })
                    .collect(),
                held: held.map(|count| Held {
                    count,
                    since: time(),
                }),
                group: String::new(),
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_renderer_stays_within_its_limits(notice in any_notice()) {
        // Teams: one card, within the budget (and so under 28 KB).
        let body = teams::render(&notice);
        prop_assert!(serde_json::to_vec(&body).unwrap().len() <= teams::MAX_BYTES);
        let card = &body["attachments"][0]["content"];
        prop_assert_eq!(&card["version"], "1.4");
        prop_assert_eq!(&card["body"][0]["type"], "Container");
        for object in objects(&body) {
            if object.get("type") == Some(&json!("TextBlock")) {
                prop_assert_eq!(object.get("wrap"), Some(&json!(true)));
            }
        }

        // Slack.
        let body = slack::render(&notice);
        let blocks = body["blocks"].as_array().unwrap();
        prop_assert_eq!(&blocks[0]["type"], "header");
        let header = chars(&blocks[0]["text"]["text"]);
        prop_assert!((1..=150).contains(&header), "header {}", header);
        prop_assert!(chars(&body["text"]) <= 3000);
        prop_assert!(is_escaped(text(&body["text"])));
        for block in blocks {
            let mrkdwn: Vec<&Value> = match text(&block["type"]) {
                "section" if block.get("fields").is_some() => {
                    let fields = block["fields"].as_array().unwrap();
                    prop_assert!((1..=10).contains(&fields.len()));
                    for field in fields {
                        prop_assert!(chars(&field["text"]) <= 2000);
                    }
                    fields.iter().map(|field| &field["text"]).collect()
                }
                "section" => vec![&block["text"]["text"]],
                "context" => block["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|element| &element["text"])
                    .collect(),
                "actions" => {
                    for button in block["elements"].as_array().unwrap() {
                        prop_assert!(chars(&button["url"]) <= 3000);
                        prop_assert!(text(&button["url"]).starts_with("http"));
                        let label = chars(&button["text"]["text"]);
                        prop_assert!((1..=75).contains(&label), "button {}", label);
                    }
                    vec![]
                }
                _ => vec![],
            };
            for value in mrkdwn {
                prop_assert!(chars(value) <= 3000);
                prop_assert!(!text(value).trim().is_empty());
                prop_assert!(is_escaped(text(value)), "{}", value);
            }
        }

        // Discord.
        let body = discord::render(&notice);
        prop_assert!(body.get("content").map_or(0, chars) <= 2000);
        prop_assert_eq!(&body["allowed_mentions"], &json!({"parse": []}));
        assert_embed_within_limits(&body["embeds"][0]);

        // PagerDuty.
        let body = pagerduty::render(&notice, ROUTING_KEY);
        assert_pagerduty_within_limits(&body);

        // The webhook: nothing cut.
        let body = webhook::render(&notice);
        prop_assert_eq!(&body["text"], notice.summary.as_str());
        prop_assert_eq!(&body["eventId"], notice.event_id.as_str());
    }

    #[test]
    fn limit_never_exceeds_and_keeps_a_prefix(text in any_text(), max in 0..9000usize) {
        let cut = limit(&text, max);
        prop_assert!(cut.chars().count() <= max);
        if text.chars().count() <= max {
            prop_assert_eq!(cut.as_ref(), text.as_str());
        } else if max > 0 {
            let kept = cut.strip_suffix(ELLIPSIS).unwrap();
            prop_assert!(text.starts_with(kept));
        }
    }
}
