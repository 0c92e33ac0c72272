//! Each notification target's body (docs/notifications.md), field by field, for three notices: a
//! failed run as the functions build it, an information notice with no link, time or workspace,
//! and one with 30 facts and texts far past every vendor's limits in multi-byte characters. Then a
//! property: for any texts of any length, every renderer stays within its vendor's limits and
//! never panics.
//!
//! The limits are the vendors' documented ones, restated here rather than read from the
//! renderers' constants, so a constant changed by mistake fails a test.

use aml_events::notify::notice::{BLANK, ELLIPSIS};
use aml_events::notify::{
    Fact, Notice, Severity, discord, limit, pagerduty, slack, teams, webhook,
};
use aml_events::{Timestamp, WorkspaceId};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";
const EVENT_ID: &str = "831e1650-001e-001b-66ab-eeb76e069631";
const ROUTING_KEY: &str = "R0UT1NGKEY0000000000000000000001";

/// A run that failed, as `RunStatusChanged` builds its notice: the error message holds `<`,
/// `&` and `>`, and a mention that must never ping.
fn failed_run() -> Notice {
    let workspace = WorkspaceId::parse(WORKSPACE).unwrap();
    let mut extra = Map::new();
    extra.insert(
        "run".into(),
        json!({"runId": "churn_run_7", "status": "Failed", "error": "No module named 'sklearn'"}),
    );
    Notice {
        title: "Run churn_run_7 failed".into(),
        summary: "Run churn_run_7 of experiment churn-training is now Failed: \
                  ValueError: x < 0 & y > 1 @everyone <!channel>"
            .into(),
        severity: Severity::Error,
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
        data: json!({"runId": "churn_run_7", "runStatus": "Failed", "experimentName": "churn-training"}),
        extra,
        ..Notice::default()
    }
}

/// A model registered: information, with no link, no time and no workspace.
fn model_registered() -> Notice {
    Notice {
        title: "Model churn-model:3 registered".into(),
        summary: "Model churn-model version 3 was registered".into(),
        severity: Severity::Info,
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
        data: json!({"modelName": "churn-model", "modelVersion": "3"}),
        extra: Map::new(),
        ..Notice::default()
    }
}

/// 30 facts, and texts far past every limit in two-, three- and four-byte characters.
fn oversized() -> Notice {
    let long = |unit: &str, n: usize| unit.repeat(n);
    let mut notice = failed_run();
    notice.severity = Severity::Warning;
    notice.title = long("Ünïcødé 日本語 🚀 ", 100);
    notice.summary = long("é<&>🚀日", 5000);
    notice.facts = (0..30)
        .map(|i| Fact::new(format!("Fact {i} {}", long("名", 300)), long("ä🚀<>&", 800)))
        .collect();
    notice.event_id = long("🆔", 3000);
    notice.alert_key = long("ключ/", 200);
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

/// Each `&` opens one of the three entities, and no `<` or `>` is left bare.
fn is_escaped(mrkdwn: &str) -> bool {
    !mrkdwn.contains(['<', '>'])
        && mrkdwn.match_indices('&').all(|(at, _)| {
            let rest = &mrkdwn[at..];
            rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;")
        })
}

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

// ---------------------------------------------------------------------------------------
// Teams

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
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    assert_eq!(card["version"], "1.4");
}

#[test]
fn teams_card_holds_title_summary_and_facts_in_order() {
    let notice = failed_run();
    let card = &teams::render(&notice)["attachments"][0]["content"];

    assert_eq!(types(&card["body"]), ["TextBlock", "TextBlock", "FactSet"]);
    let title = &card["body"][0];
    assert_eq!(title["text"], "Run churn_run_7 failed");
    assert_eq!(title["weight"], "bolder");
    assert_eq!(title["size"], "medium");
    assert_eq!(title["wrap"], true);
    assert_eq!(title["color"], "attention");
    let summary = &card["body"][1];
    assert_eq!(summary["text"], notice.summary.as_str());
    assert_eq!(summary["wrap"], true);
    // Adaptive Cards' Fact is `title` and `value`, the notice's facts then the event id.
    assert_eq!(
        card["body"][2]["facts"],
        json!([
            {"title": "Experiment", "value": "churn-training"},
            {"title": "Run", "value": "churn_run_7"},
            {"title": "Status", "value": "Failed"},
            {"title": "Compute", "value": "cpu-cluster"},
            {"title": "Error", "value": "ValueError: x < 0 & y > 1"},
            {"title": "Event id", "value": EVENT_ID},
        ])
    );
}

#[test]
fn teams_button_opens_the_run_in_studio() {
    let notice = failed_run();
    let card = &teams::render(&notice)["attachments"][0]["content"];

    assert_eq!(
        card["actions"],
        json!([{
            "type": "Action.OpenUrl",
            "title": "Open in Azure ML studio",
            "url": notice.link.as_deref().unwrap(),
        }])
    );
}

#[test]
fn teams_card_without_a_link_has_no_actions_and_info_keeps_the_default_color() {
    let card = &teams::render(&model_registered())["attachments"][0]["content"];

    assert!(card.get("actions").is_none());
    assert!(card["body"][0].get("color").is_none());
    assert_eq!(
        card["body"][2]["facts"][2],
        json!({"title": "Event id", "value": "e-2"})
    );
}

#[test]
fn teams_colors_the_title_by_severity() {
    let mut notice = model_registered();
    for (severity, color) in [
        (Severity::Critical, Some("attention")),
        (Severity::Error, Some("attention")),
        (Severity::Warning, Some("warning")),
        (Severity::Info, None),
    ] {
        notice.severity = severity;
        let body = teams::render(&notice);
        let title = &body["attachments"][0]["content"]["body"][0];
        assert_eq!(
            title.get("color").and_then(Value::as_str),
            color,
            "{severity:?}"
        );
    }
}

#[test]
fn teams_fits_an_oversized_notice_into_the_message_limit() {
    let notice = oversized();
    let body = teams::render(&notice);

    // Teams' documented limit is 28 KB per message; the renderer keeps well under it.
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(size <= teams::MAX_BYTES, "{size} bytes");
    assert!(size < 28 * 1024);
    let facts = body["attachments"][0]["content"]["body"][2]["facts"]
        .as_array()
        .unwrap();
    // Some facts made it, and the event id is always the last.
    assert!(facts.len() >= 2, "{} facts", facts.len());
    assert_eq!(facts.last().unwrap()["title"], "Event id");
    assert!(text(&facts.last().unwrap()["value"]).ends_with(ELLIPSIS));
}

// ---------------------------------------------------------------------------------------
// Slack

#[test]
fn slack_blocks_come_in_order() {
    let body = slack::render(&failed_run());

    assert_eq!(
        types(&body["blocks"]),
        ["header", "section", "section", "context", "actions"]
    );
    let header = &body["blocks"][0]["text"];
    assert_eq!(header["type"], "plain_text");
    assert_eq!(header["text"], "Run churn_run_7 failed");
    assert_eq!(body["blocks"][1]["text"]["type"], "mrkdwn");
    assert_eq!(
        body["blocks"][3]["elements"],
        json!([{"type": "mrkdwn", "text": format!("Event id: {EVENT_ID}")}])
    );
}

#[test]
fn slack_escapes_what_mrkdwn_would_parse() {
    let body = slack::render(&failed_run());

    let summary = text(&body["blocks"][1]["text"]["text"]);
    assert_eq!(
        summary,
        "Run churn_run_7 of experiment churn-training is now Failed: \
         ValueError: x &lt; 0 &amp; y &gt; 1 @everyone &lt;!channel&gt;"
    );
    // The fallback text too: it is mrkdwn as well.
    assert_eq!(body["text"], summary);
    let error = &body["blocks"][2]["fields"][4];
    assert_eq!(
        error,
        &json!({"type": "mrkdwn", "text": "*Error*\nValueError: x &lt; 0 &amp; y &gt; 1"})
    );
    // plain_text is shown as is: escaping it would show the entities.
    let mut notice = failed_run();
    notice.title = "Run a<b & c failed".into();
    assert_eq!(
        slack::render(&notice)["blocks"][0]["text"]["text"],
        "Run a<b & c failed"
    );
}

#[test]
fn slack_fields_are_bold_names_over_values() {
    let fields = &slack::render(&failed_run())["blocks"][2]["fields"];

    assert_eq!(
        fields[0],
        json!({"type": "mrkdwn", "text": "*Experiment*\nchurn-training"})
    );
    assert_eq!(fields.as_array().unwrap().len(), 5);
}

#[test]
fn slack_button_opens_the_run_in_studio() {
    let notice = failed_run();
    let actions = &slack::render(&notice)["blocks"][4];

    assert_eq!(
        actions["elements"],
        json!([{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in Azure ML studio"},
            "url": notice.link.as_deref().unwrap(),
        }])
    );
}

#[test]
fn slack_without_a_link_has_no_actions_block() {
    let body = slack::render(&model_registered());

    assert_eq!(
        types(&body["blocks"]),
        ["header", "section", "section", "context"]
    );
    assert_eq!(body["text"], "Model churn-model version 3 was registered");
}

#[test]
fn slack_keeps_an_oversized_notice_within_block_kit_limits() {
    let body = slack::render(&oversized());

    let blocks = &body["blocks"];
    assert!(chars(&blocks[0]["text"]["text"]) <= 150);
    assert!(chars(&blocks[1]["text"]["text"]) <= 3000);
    assert!(is_escaped(text(&blocks[1]["text"]["text"])));
    let fields = blocks[2]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 10);
    for field in fields {
        assert!(chars(&field["text"]) <= 2000);
    }
    // Nine facts, and a tenth saying how many more there were.
    assert_eq!(fields[9]["text"], "*More*\n21 more not shown");
    assert!(chars(&blocks[3]["elements"][0]["text"]) <= 3000);
    assert!(chars(&body["text"]) <= 3000);
}

#[test]
fn slack_cut_never_splits_an_entity() {
    let mut notice = model_registered();
    for prefix in 2990..3000 {
        notice.summary = format!("{}{}", "a".repeat(prefix), "&".repeat(20));
        let body = slack::render(&notice);
        let summary = text(&body["blocks"][1]["text"]["text"]);
        assert!(summary.chars().count() <= 3000);
        assert!(summary.ends_with(ELLIPSIS));
        assert!(is_escaped(summary), "{prefix}: {}", &summary[2980..]);
    }
}

// ---------------------------------------------------------------------------------------
// Discord

#[test]
fn discord_embed_carries_the_notice() {
    let notice = failed_run();
    let body = discord::render(&notice);

    assert_eq!(body["content"], notice.summary.as_str());
    let embeds = body["embeds"].as_array().unwrap();
    assert_eq!(embeds.len(), 1);
    let embed = &embeds[0];
    assert_eq!(embed["title"], "Run churn_run_7 failed");
    assert_eq!(embed["description"], notice.summary.as_str());
    assert_eq!(embed["url"], notice.link.as_deref().unwrap());
    assert_eq!(embed["color"], 0xD1_34_38);
    assert_eq!(embed["footer"], json!({"text": EVENT_ID}));
    assert_eq!(embed["timestamp"], "2024-03-01T12:00:00.123Z");
    assert_eq!(
        embed["fields"][0],
        json!({"name": "Experiment", "value": "churn-training", "inline": true})
    );
    assert_eq!(embed["fields"].as_array().unwrap().len(), 5);
}

#[test]
fn discord_never_pings_whatever_the_text_says() {
    let body = discord::render(&failed_run());

    assert!(text(&body["content"]).contains("@everyone"));
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
}

#[test]
fn discord_leaves_out_url_and_timestamp_when_there_are_none() {
    let embed = &discord::render(&model_registered())["embeds"][0];

    assert!(embed.get("url").is_none());
    assert!(embed.get("timestamp").is_none());
    assert_eq!(embed["color"], 0x00_78_D4);
}

#[test]
fn discord_colors_by_severity() {
    let mut notice = model_registered();
    let mut colors = Vec::new();
    for severity in [
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ] {
        notice.severity = severity;
        colors.push(
            discord::render(&notice)["embeds"][0]["color"]
                .as_u64()
                .unwrap(),
        );
    }
    colors.dedup();
    assert_eq!(colors.len(), 4, "{colors:?}");
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
    assert_eq!(payload["summary"], notice.summary.as_str());
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
fn pagerduty_custom_details_hold_the_facts_the_event_id_and_the_subject() {
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
            "eventId": EVENT_ID,
            "subject": "experiments/0fa9dfaa-cba3-4fa7-b590-23e48548f5c1/runs/churn_run_7",
        })
    );
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
            "data": notice.data,
            "run": {"runId": "churn_run_7", "status": "Failed", "error": "No module named 'sklearn'"},
        })
    );
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
    for key in ["workspace", "time", "link"] {
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
    (texts, facts, any_severity(), any_link(), optional).prop_map(
        |(
            (title, summary, event_id, event_type, function, alert_key),
            facts,
            severity,
            link,
            (subject, workspace, timed),
        )| {
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
                workspace,
                time: timed.then(|| Timestamp::parse("2024-03-01T12:00:00Z").unwrap()),
                alert: true,
                alert_key,
                data: Value::Null,
                extra: Map::new(),
                ..Notice::default()
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
        let facts = card["body"][2]["facts"].as_array().unwrap();
        prop_assert_eq!(&facts.last().unwrap()["title"], "Event id");

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
                "context" => vec![&block["elements"][0]["text"]],
                "actions" => {
                    let url = &block["elements"][0]["url"];
                    prop_assert!(chars(url) <= 3000);
                    prop_assert!(text(url).starts_with("http"));
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
