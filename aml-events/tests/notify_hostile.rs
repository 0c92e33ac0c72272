//! Untrusted text in notices: a run's error message, a tag, a model, signal or workspace name
//! can be written by anyone who can submit a job. Whatever it holds, the Teams, Slack and
//! Discord bodies carry no link, mention, heading, emphasis or HTML the product did not put
//! there, nothing panics, and the Teams body stays within its budget.
//!
//! Every hostile fixture (tests/fixtures/hostile/, its origins in tests/fixtures/README.md) goes
//! into every untrusted part of notices of every kind, and a property does the same with
//! arbitrary text. The bodies are read back by independent means, not by the escaper under
//! test: the Markdown of Teams' TextBlocks and Facts and of Discord by `pulldown-cmark` (a
//! CommonMark reader, as markdown-it and Adaptive Cards are), Slack's mrkdwn by its own few
//! rules (`<...>` is its only link and mention syntax; `*`, `_` and `~` format only at a word's
//! edge), and every text for what a linkifier or a chat tool would act on (`//`, `www.`,
//! `mailto:`, a bare `@name`).

use std::collections::BTreeSet;

use aml_events::notify::{
    ErrorText, Fact, Held, Link, Notice, Rows, Severity, discord, slack, teams,
};
use aml_events::{Timestamp, WorkspaceId};
use proptest::prelude::*;
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value};

const JOINER: char = '\u{2060}';

const WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws";

/// A workspace name that is itself hostile (an ARM name may hold all of this).
const HOSTILE_WORKSPACE: &str = "/subscriptions/6a2b1c3d-0000-4a5b-9c8d-1e2f3a4b5c6d/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/**ws**_[click](javascript:alert(1))_@everyone<img>";

/// The hostile fixtures, by file name.
fn fixtures() -> Vec<(String, String)> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/hostile");
    let mut found: Vec<(String, String)> = std::fs::read_dir(folder)
        .unwrap_or_else(|err| panic!("{folder}: {err}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    found.sort();
    found
}

fn fixture(name: &str) -> String {
    fixtures()
        .into_iter()
        .find(|(file, _)| file == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .1
}

/// The kinds of notice the functions send, each with `hostile` in every part event text can
/// reach: the title's names, the summary, the facts' names and values, the error, the rows,
/// the subject, the product links' labels (they name models and jobs), and the workspace's name.
fn notices(hostile: &str) -> Vec<Notice> {
    let workspace = WorkspaceId::parse(WORKSPACE).unwrap();
    let base = |status: &str, severity: Severity| Notice {
        title: format!("Run {hostile} failed in {hostile}"),
        summary: format!("{hostile} {hostile}"),
        severity,
        status: status.to_owned(),
        facts: vec![
            Fact::new("Experiment", hostile),
            Fact::new(hostile, "value"),
            Fact::new(hostile, hostile),
        ],
        link: Some(workspace.studio_run_url(hostile)),
        links: vec![Link {
            label: format!("Open model {hostile}"),
            url: "https://ml.azure.com/model/churn-model:3".to_owned(),
        }],
        event_id: "831e1650-001e-001b-66ab-eeb76e069631".to_owned(),
        event_type: "Microsoft.MachineLearningServices.RunStatusChanged".to_owned(),
        function: "RunStatusChanged".to_owned(),
        subject: Some(format!("experiments/x/runs/{hostile}")),
        workspace: Some(WORKSPACE.to_owned()),
        time: Some(Timestamp::parse("2026-11-30T06:12:44.123Z").unwrap()),
        ..Notice::default()
    };
    let mut failed = base("FAILED", Severity::Error);
    failed.error = Some(ErrorText::new(format!(
        "Traceback (most recent call last):\n  File \"{hostile}\", line 1, in <module>\n    {hostile}\nKeyError: {hostile}"
    )));
    let mut message = base("FAILED", Severity::Error);
    message.error = Some(ErrorText::new(hostile));
    message.workspace = Some(HOSTILE_WORKSPACE.to_owned());
    let mut breach = base("BREACH", Severity::Warning);
    breach.rows = Some(Rows {
        header: vec![
            "Feature".into(),
            hostile.into(),
            "Value".into(),
            hostile.into(),
        ],
        rows: vec![
            vec![hostile.into(), "psi".into(), hostile.into(), "0.1".into()],
            vec![hostile.into()],
        ],
        more: 3,
    });
    breach.held = Some(Held {
        count: 37,
        since: Timestamp::parse("2026-11-30T05:00:00Z").unwrap(),
    });
    let mut drift = base("DRIFT", Severity::Warning);
    drift.workspace = Some(HOSTILE_WORKSPACE.to_owned());
    let mut smoke_test = base("FAILED", Severity::Warning);
    smoke_test.error = Some(ErrorText::new(format!("HTTP 500: {hostile}")));
    let deployed = base("DEPLOYED", Severity::Info);
    let mut registered = base("REGISTERED", Severity::Info);
    registered.link = None;
    registered.workspace = None;
    vec![
        failed, message, breach, drift, smoke_test, deployed, registered,
    ]
}

// ---------------------------------------------------------------------------------------
// What any text may show

/// Text that a linkifier or a chat tool would act on: a URL (`//`, `www.`, `mailto:`), an `@`
/// not followed by a word joiner, an Adaptive Cards function (`{{`).
fn acts(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    if lower.contains("//") {
        return Some("a URL (//)");
    }
    if lower.contains("www.") {
        return Some("a www. name");
    }
    if lower.contains("mailto:") {
        return Some("a mailto: link");
    }
    if text
        .match_indices('@')
        .any(|(at, _)| !text[at + 1..].starts_with(JOINER))
    {
        return Some("a mention (@)");
    }
    if text.contains("{{") {
        return Some("an Adaptive Cards function ({{)");
    }
    None
}

/// The product's own links: its buttons' URLs.
fn product_urls(notice: &Notice) -> BTreeSet<String> {
    notice
        .buttons()
        .links
        .into_iter()
        .flat_map(|link| {
            // As Discord's description writes them in a Markdown link.
            let markdown = discord::markdown_url(&link.url);
            [link.url, markdown]
        })
        .collect()
}

/// What `markdown` holds, read by pulldown-cmark: an error for any link (unless to a product
/// URL), image, heading, emphasis, strikethrough, list, quote, table, HTML or inline code; at
/// most `code_blocks` fenced code blocks; and every text checked by [`acts`].
fn check_markdown(
    markdown: &str,
    products: &BTreeSet<String>,
    code_blocks: usize,
) -> Result<(), String> {
    let options = Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM;
    let mut blocks = 0;
    for event in Parser::new_ext(markdown, options) {
        let wrong = match &event {
            Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url,
                ..
            }) if products.contains(dest_url.as_ref()) => None,
            Event::Start(Tag::CodeBlock(_)) => {
                blocks += 1;
                (blocks > code_blocks).then_some("a code block")
            }
            Event::Start(Tag::Paragraph) | Event::End(_) | Event::SoftBreak => None,
            Event::Start(_) => Some("markup"),
            Event::Text(text) => acts(text),
            Event::Html(_) | Event::InlineHtml(_) => Some("HTML"),
            _ => Some("markup"),
        };
        if let Some(wrong) = wrong {
            return Err(format!("{wrong}: {event:?} in {markdown:?}"));
        }
    }
    Ok(())
}

/// What Slack's mrkdwn `text` holds: no `<...>` (its only link and mention syntax) and only
/// its three entities; outside the product's ``` blocks and bold lines, no backtick, and `*`,
/// `_` and `~` only between two letters or digits, where Slack formats nothing; no ``` inside a
/// block; and [`acts`] on all of it.
fn check_mrkdwn(text: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{why} in {text:?}"));
    if text.contains(['<', '>']) {
        return fail("< or >");
    }
    let entities = text.match_indices('&').all(|(at, _)| {
        ["&amp;", "&lt;", "&gt;"]
            .iter()
            .any(|entity| text[at..].starts_with(entity))
    });
    if !entities {
        return fail("an & that is not an entity");
    }
    if let Some(wrong) = acts(text) {
        return fail(wrong);
    }
    let parts: Vec<&str> = text.split("```").collect();
    if parts.len().is_multiple_of(2) {
        return fail("an unclosed ```");
    }
    // Outside the blocks: even parts.
    for outside in parts.iter().step_by(2) {
        for line in outside.lines() {
            let line = match line.strip_prefix('*').and_then(|l| l.strip_suffix('*')) {
                Some(bold) if !bold.is_empty() => bold,
                _ => line,
            };
            if line.contains('`') {
                return fail("a backtick");
            }
            for (at, c) in line.char_indices() {
                if matches!(c, '*' | '_' | '~') {
                    let before = line[..at].chars().next_back();
                    let after = line[at + 1..].chars().next();
                    let inside = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                    if !inside(before) || !inside(after) {
                        return fail("formatting at a word's edge");
                    }
                }
            }
        }
    }
    Ok(())
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
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

fn check_teams(notice: &Notice) -> Result<(), String> {
    let body = teams::render(notice);
    let size = serde_json::to_vec(&body).unwrap().len();
    if size > teams::MAX_BYTES {
        return Err(format!("{size} bytes"));
    }
    let products = product_urls(notice);
    for object in objects(&body) {
        let object = Value::Object(object.clone());
        match str_at(&object, "type") {
            Some("TextBlock") => check_markdown(str_at(&object, "text").unwrap(), &products, 0)?,
            Some("TextRun") => {
                if let Some(wrong) = acts(str_at(&object, "text").unwrap()) {
                    return Err(format!("{wrong} in a TextRun"));
                }
            }
            Some("Action.OpenUrl") => {
                let url = str_at(&object, "url").unwrap();
                if !products.contains(url) {
                    return Err(format!("a button to {url}"));
                }
                if let Some(wrong) = acts(str_at(&object, "title").unwrap()) {
                    return Err(format!("{wrong} in a button's title"));
                }
            }
            None => {
                // A Fact: both halves are Markdown.
                for key in ["title", "value"] {
                    if let Some(text) = str_at(&object, key) {
                        check_markdown(text, &products, 0)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_slack(notice: &Notice) -> Result<(), String> {
    let body = slack::render(notice);
    let products = product_urls(notice);
    check_mrkdwn(str_at(&body, "text").unwrap())?;
    for object in objects(&body) {
        let object = Value::Object(object.clone());
        match str_at(&object, "type") {
            Some("mrkdwn") => check_mrkdwn(str_at(&object, "text").unwrap())?,
            Some("plain_text") => {
                if let Some(wrong) = acts(str_at(&object, "text").unwrap()) {
                    return Err(format!("{wrong} in plain_text"));
                }
            }
            Some("button") => {
                let url = str_at(&object, "url").unwrap();
                if !products.contains(url) {
                    return Err(format!("a button to {url}"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_discord(notice: &Notice) -> Result<(), String> {
    let body = discord::render(notice);
    if body["allowed_mentions"] != serde_json::json!({"parse": []}) {
        return Err("allowed_mentions".into());
    }
    let products = product_urls(notice);
    let embed = &body["embeds"][0];
    if let Some(url) = str_at(embed, "url")
        && !products.contains(url)
    {
        return Err(format!("the title links to {url}"));
    }
    let mut markdown = vec![
        (str_at(&body, "content").unwrap(), 0),
        (str_at(embed, "title").unwrap(), 0),
    ];
    markdown.extend(str_at(embed, "description").map(|text| (text, 1)));
    for field in embed["fields"].as_array().into_iter().flatten() {
        markdown.push((str_at(field, "name").unwrap(), 0));
        markdown.push((str_at(field, "value").unwrap(), 0));
    }
    for (text, code_blocks) in markdown {
        check_markdown(text, &products, code_blocks)?;
        // Discord's own syntax, which CommonMark does not know: mentions, channels, emoji and
        // timestamps in `<...>`, spoilers in `||`, subtext after `-#`. Each needs its `<`, `|`
        // or `#`, which must be escaped (outside the product's code block and links).
        let mut outside: String = text.split("```").step_by(2).collect();
        for url in &products {
            outside = outside.replace(&format!("]({url})"), "]");
        }
        for (at, c) in outside.char_indices() {
            if matches!(c, '<' | '|' | '#') && !outside[..at].ends_with('\\') {
                return Err(format!("an unescaped {c} in {text:?}"));
            }
        }
    }
    if let Some(footer) = embed["footer"]["text"].as_str()
        && let Some(wrong) = acts(footer)
    {
        return Err(format!("{wrong} in the footer"));
    }
    Ok(())
}

fn check_all(notice: &Notice) -> Result<(), String> {
    check_teams(notice).map_err(|err| format!("teams: {err}"))?;
    check_slack(notice).map_err(|err| format!("slack: {err}"))?;
    check_discord(notice).map_err(|err| format!("discord: {err}"))
}

// ---------------------------------------------------------------------------------------
// The fixtures

#[test]
fn the_fixtures_are_all_there() {
    let names: Vec<String> = fixtures().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names.len(), 15, "{names:?}");
    assert_eq!(fixture("long_message.txt").chars().count(), 5000);
}

#[test]
fn no_hostile_fixture_injects_anything_anywhere() {
    for (name, hostile) in fixtures() {
        for notice in notices(&hostile) {
            if let Err(err) = check_all(&notice) {
                panic!("{name}, {} notice: {err}", notice.status);
            }
        }
    }
}

#[test]
fn the_checks_catch_what_they_look_for() {
    // The readers themselves, on bodies that do inject: a check that cannot fail proves
    // nothing.
    let products = BTreeSet::from(["https://ml.azure.com/x".to_owned()]);
    for bad in [
        "[Re-authenticate](https://evil.example)",
        "<https://evil.example>",
        "https://evil.example",
        "# Heading",
        "**bold**",
        "_italic_",
        "~~strike~~",
        "<img src=x>",
        "- item",
        "> quote",
        "@everyone",
        "`code`",
    ] {
        assert!(check_markdown(bad, &products, 0).is_err(), "{bad}");
    }
    assert!(check_markdown("[Open](https://ml.azure.com/x)", &products, 0).is_ok());
    for bad in [
        "<!channel>",
        "<https://evil.example|x>",
        "x *bold* y",
        "_it_",
        "x ~s~",
        "`c`",
        "``` open",
        "a & b",
    ] {
        assert!(check_mrkdwn(bad).is_err(), "{bad}");
    }
    assert!(check_mrkdwn("*Name*\nchurn_run_7 &amp; 2*3\n```\n*x* _y_\n```").is_ok());
}

#[test]
fn names_read_back_exactly_as_written() {
    // After the Markdown is read, what a reader sees is what the run said: no emphasis eaten,
    // no backslash shown.
    let read = |markdown: &str| -> String {
        Parser::new(markdown)
            .filter_map(|event| match event {
                Event::Text(text) => Some(text.into_string()),
                Event::Start(Tag::Paragraph) | Event::End(TagEnd::Paragraph) => None,
                other => panic!("{other:?} in {markdown:?}"),
            })
            .collect()
    };
    for name in ["dunder_path.txt", "star_args.txt", "glob_path.txt"] {
        let written = fixture(name);
        let notice = Notice {
            title: written.clone(),
            summary: written.clone(),
            facts: vec![Fact::new(&written, &written)],
            error: Some(ErrorText::new(&written)),
            rows: Some(Rows {
                header: vec![written.clone()],
                rows: vec![vec![written.clone(), written.clone()]],
                more: 0,
            }),
            ..Notice::default()
        };

        let body = teams::render(&notice);
        let card = &body["attachments"][0]["content"]["body"];
        let texts = [
            &card[0]["items"][1]["text"],
            &card[1]["text"],
            &card[2]["text"],
            &card[3]["columns"][0]["items"][0]["text"],
            &card[4]["columns"][1]["items"][0]["text"],
            &card[5]["facts"][0]["title"],
            &card[5]["facts"][0]["value"],
        ];
        for text in texts {
            assert_eq!(read(text.as_str().unwrap()), written, "teams {text}");
        }

        let body = discord::render(&notice);
        let embed = &body["embeds"][0];
        let description = embed["description"].as_str().unwrap();
        let texts = [
            embed["title"].as_str().unwrap(),
            description.split("\n\n").next().unwrap(),
            description.split("\n\n").nth(1).unwrap(),
            embed["fields"][0]["name"].as_str().unwrap(),
            embed["fields"][1]["name"].as_str().unwrap(),
            embed["fields"][1]["value"].as_str().unwrap(),
        ];
        for text in texts {
            assert_eq!(read(text), written, "discord {text}");
        }
    }
}

#[test]
fn a_traceback_reads_back_as_written_in_every_code_block() {
    let traceback = "Traceback (most recent call last):\n  File \"torch/__init__.py\", line 1, in <module>\n    f(*args, **kwargs)\n    load(\"data/*_train_*.parquet\")\nKeyError: 'customer_id'";
    let notice = Notice {
        error: Some(ErrorText::new(traceback)),
        ..Notice::default()
    };
    let kept = traceback.rsplit_once('\n').unwrap().0;

    let body = discord::render(&notice);
    let description = body["embeds"][0]["description"].as_str().unwrap();
    let code: String = Parser::new(description)
        .skip_while(|event| !matches!(event, Event::Start(Tag::CodeBlock(_))))
        .filter_map(|event| match event {
            Event::Text(text) => Some(text.into_string()),
            _ => None,
        })
        .collect();
    assert_eq!(code.trim_end(), kept);

    let body = slack::render(&notice);
    let section = body["blocks"][1]["text"]["text"].as_str().unwrap();
    let inside = section
        .split("```\n")
        .nth(1)
        .unwrap()
        .trim_end_matches("\n```");
    assert_eq!(inside.replace("&lt;", "<").replace("&gt;", ">"), kept);
}

#[test]
fn a_long_message_is_cut_with_a_visible_ellipsis_and_its_end_kept() {
    let long = fixture("long_message.txt");
    let notice = Notice {
        summary: long.clone(),
        error: Some(ErrorText::new(&long)),
        ..Notice::default()
    };

    let body = teams::render(&notice);
    let card = &body["attachments"][0]["content"]["body"];
    let summary = card[1]["text"].as_str().unwrap();
    assert!(summary.chars().count() < long.chars().count() && summary.ends_with('\u{2026}'));
    assert!(
        card[2]["text"]
            .as_str()
            .unwrap()
            .starts_with("KeyError: 'customer_id'")
    );
    let body = slack::render(&notice);
    let error = body["blocks"][2]["text"]["text"].as_str().unwrap();
    assert!(error.starts_with("*KeyError: 'customer_id'"), "{error}");
    assert!(
        error.contains("\n```\n\u{2026}\n"),
        "cut at the start, with an ellipsis"
    );
    assert!(error.ends_with("#\n```"), "the end kept");
}

#[test]
fn right_to_left_overrides_cannot_reorder_the_card() {
    let notice = Notice {
        title: fixture("emoji_rtl.txt"),
        ..Notice::default()
    };
    for body in [
        teams::render(&notice),
        slack::render(&notice),
        discord::render(&notice),
    ] {
        let text = serde_json::to_string(&body).unwrap();
        assert!(!text.contains('\u{202E}') && !text.contains('\u{202C}'));
        // The right-to-left words and the emoji themselves are kept.
        assert!(text.contains("مرحبا") && text.contains("👨\u{200D}👩\u{200D}👧"));
    }
}

// ---------------------------------------------------------------------------------------
// Any text

/// Text made of what markup is made of (and of anything at all), in any order and length.
fn any_hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<String>(),
        proptest::sample::select(vec![
            "[",
            "]",
            "(",
            ")",
            "](",
            "![",
            "*",
            "**",
            "_",
            "__",
            "~",
            "~~",
            "`",
            "```",
            "#",
            "# ",
            "-",
            "- ",
            "+ ",
            "1. ",
            "1) ",
            ">",
            "> ",
            "<",
            "</",
            "|",
            "||",
            "\\",
            "&",
            "&amp;",
            "&#91;",
            ";",
            ":",
            "//",
            "://",
            "http",
            "https://",
            "www.",
            "mailto:",
            "@",
            "@everyone",
            "<@",
            "<!",
            "<#",
            "{{",
            "}}",
            "=",
            "===",
            "---",
            "\n",
            "\n\n",
            "\r",
            "\t",
            "    ",
            " ",
            "a",
            "é",
            "日",
            "🚀",
            "\u{200D}",
            "\u{202E}",
            "\u{0}",
            "evil.example",
        ])
        .prop_map(str::to_owned),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_text_injects_anything_anywhere(hostile in any_hostile(), kind in 0..7usize) {
        let notice = notices(&hostile).swap_remove(kind);
        if let Err(err) = check_all(&notice) {
            return Err(TestCaseError::fail(err));
        }
    }
}
