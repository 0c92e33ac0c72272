//! Teams cards as people see them (issue 24, "Cards that read well where they land"): the real
//! `serve` posts one notice of each kind to a loopback Teams Workflows webhook; every posted
//! card is rendered with Microsoft's Adaptive Cards renderer in one headless Chromium, with
//! Teams' host config and Teams' Markdown, and each check reads the rendered page, not the
//! card's JSON, so it holds whatever layout the card takes.
//!
//! # Layout
//! - `cards/notices.rs`: the events of each kind and the stand-ins; the posted cards.
//! - `cards/browser.rs`: Chromium and the Node harness (`cards/render.mjs`, `cards/page.js`),
//!   installed when missing; the rendered reports.
//! - here: what each kind must show, one rule per thing a reader relies on, and one test per
//!   rule. A card written to break every rule (`tests/fixtures/cards/breaks_every_rule.json`)
//!   is rendered with the others, and every rule must find fault with it.
//!
//! Every run writes the messages and screenshots to `target/cards/`; with
//! `UPDATE_CARD_SCREENSHOTS=1` the screenshots also replace `docs/images/cards/<kind>.png`.
//! Without Chromium, and where apt cannot install it (not root, no apt), the tests say so and
//! pass without checking, except under CI, where that is a failure.

#[path = "cards/browser.rs"]
mod browser;
mod common;
#[path = "cards/notices.rs"]
mod notices;

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use browser::Rendered;

/// What a card of one kind must say.
struct Kind {
    /// The card's file name: `failed-run` is `target/cards/failed-run.png`.
    name: &'static str,
    /// The status word its band shows.
    status: &'static str,
}

/// Every kind of notice, in the order they are delivered.
const KINDS: [Kind; 9] = [
    Kind {
        name: "failed-run",
        status: "FAILED",
    },
    Kind {
        name: "canceled-run",
        status: "CANCELED",
    },
    Kind {
        name: "completed-run",
        status: "COMPLETED",
    },
    Kind {
        name: "monitor-breach",
        status: "BREACH",
    },
    Kind {
        name: "drift",
        status: "DRIFT",
    },
    Kind {
        name: "model-registered",
        status: "REGISTERED",
    },
    Kind {
        name: "model-deployed",
        status: "PASSED",
    },
    Kind {
        name: "smoke-test-failed",
        status: "FAILED",
    },
    Kind {
        name: "hostile",
        status: "FAILED",
    },
];

/// A card written to break every rule (tests/fixtures/cards/breaks_every_rule.json), rendered
/// with the others: each rule must find fault with it, or it could not fail.
const BREAKS_EVERY_RULE: Kind = Kind {
    name: "breaks_every_rule",
    status: "PASSED",
};

/// The workspace the stand-in's events come from.
const WORKSPACE_NAME: &str = "ml-ws";
/// The only host a card may link to: Azure ML studio.
const STUDIO_HOST: &str = "ml.azure.com";
/// WCAG 2's minimum contrast for normal text (level AA).
/// See: <https://www.w3.org/TR/WCAG22/#contrast-minimum>
const MIN_CONTRAST: f64 = 4.5;

/// One rendered card.
struct Card {
    kind: &'static Kind,
    event_id: String,
    rendered: Rendered,
}

impl Card {
    /// The visible text as a reader sees it: non-breaking spaces as spaces (a card may keep a
    /// traceback's indentation with them) and without zero-width characters (a card may break
    /// a long token or a URL with them).
    fn text(&self) -> String {
        self.rendered.text.replace('\u{a0}', " ").replace(
            ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}'],
            "",
        )
    }
}

/// The rendered cards: one per kind, and the one that breaks every rule.
struct Cards {
    kinds: Vec<Card>,
    breaks_every_rule: Card,
}

enum Setup {
    Ready(Box<Cards>),
    Skipped,
}

/// The rendered cards, made once for all tests; `None` when skipped (said once on stderr).
fn cards() -> Option<&'static Cards> {
    static SETUP: OnceLock<Result<Setup, String>> = OnceLock::new();
    let setup = SETUP.get_or_init(|| {
        catch_unwind(AssertUnwindSafe(setup)).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                .unwrap_or_default()
        })
    });
    match setup {
        Ok(Setup::Ready(cards)) => Some(cards),
        Ok(Setup::Skipped) => None,
        Err(why) => panic!("the cards could not be rendered: {why}"),
    }
}

fn setup() -> Setup {
    let chromium = match browser::chromium() {
        Ok(chromium) => chromium,
        Err(why) if std::env::var_os("CI").is_none() => {
            // Straight to stderr, once: the test harness hides what passing tests print.
            let note = format!("SKIPPED: tests/cards.rs checked nothing: {why}\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
            return Setup::Skipped;
        }
        Err(why) => panic!("{why}"),
    };
    browser::node_modules();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let posted = runtime.block_on(notices::post_every_kind());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../cards");
    std::fs::create_dir_all(&out).unwrap();
    let mut files: Vec<PathBuf> = posted
        .iter()
        .map(|card| {
            let file = out.join(format!("{}.json", card.kind));
            std::fs::write(&file, serde_json::to_vec_pretty(&card.body).unwrap()).unwrap();
            file
        })
        .collect();
    files.push(common::fixtures().join(format!("cards/{}.json", BREAKS_EVERY_RULE.name)));
    let mut rendered = browser::render(&chromium, &out, &files);
    let breaks_every_rule = Card {
        kind: &BREAKS_EVERY_RULE,
        event_id: "an-event-id-it-does-not-show".to_owned(),
        rendered: rendered.pop().unwrap(),
    };
    if std::env::var("UPDATE_CARD_SCREENSHOTS").is_ok_and(|update| update == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/cards");
        std::fs::create_dir_all(&docs).unwrap();
        for card in &posted {
            let name = format!("{}.png", card.kind);
            std::fs::copy(out.join(&name), docs.join(&name)).unwrap();
        }
        eprintln!("cards: screenshots written to {}", docs.display());
    }
    let kinds = posted
        .into_iter()
        .zip(rendered)
        .map(|(posted, rendered)| {
            assert_eq!(posted.kind, rendered.name);
            let kind = KINDS.iter().find(|kind| kind.name == posted.kind).unwrap();
            Card {
                kind,
                event_id: posted.event_id,
                rendered,
            }
        })
        .collect();
    Setup::Ready(Box::new(Cards {
        kinds,
        breaks_every_rule,
    }))
}

/// A rule a card must keep: what is wrong with the card (nothing when it keeps the rule).
type Rule = fn(&Card) -> Vec<String>;

/// Checks `rule` on the cards of the kinds named (all of them when none is), and fails with
/// every fault of every card.
fn check(kinds: &[&str], rule: Rule) {
    let Some(cards) = cards() else { return };
    let faults: Vec<String> = (cards.kinds.iter())
        .filter(|card| kinds.is_empty() || kinds.contains(&card.kind.name))
        .flat_map(|card| {
            rule(card)
                .into_iter()
                .map(move |fault| format!("{}: {fault}", card.kind.name))
        })
        .collect();
    assert!(
        faults.is_empty(),
        "{}\n(the cards and their screenshots are in target/cards/)",
        faults.join("\n")
    );
}

/// Every kind.
const EVERY: &[&str] = &[];

/// A fault when `ok` is false.
fn unless(ok: bool, fault: impl FnOnce() -> String) -> Vec<String> {
    if ok { Vec::new() } else { vec![fault()] }
}

/// Whether `word` stands in `text` as a word of its own.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// WCAG 2's contrast ratio of two opaque sRGB colours, from 1 to 21.
/// See: <https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio>
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let luminance = |rgb: [u8; 3]| {
        let [r, g, b] = rgb.map(|c| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        });
        0.2126 * r + 0.7152 * g + 0.0722 * b
    };
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

fn is_studio(url: &str) -> bool {
    url::Url::parse(url)
        .is_ok_and(|url| url.scheme() == "https" && url.host_str() == Some(STUDIO_HOST))
}

// The rules.

fn renders_cleanly_and_loads_nothing(card: &Card) -> Vec<String> {
    let rendered = &card.rendered;
    let mut faults = unless(rendered.problems.is_empty(), || {
        format!("the renderer complained: {:?}", rendered.problems)
    });
    faults.extend(unless(rendered.requests.is_empty(), || {
        format!("the card asked the network for {:?}", rendered.requests)
    }));
    faults
}

fn names_its_workspace_and_when(card: &Card) -> Vec<String> {
    let text = card.text();
    let dated = [
        "2024-03-01",
        "Mar 1, 2024",
        "March 1, 2024",
        "1 Mar 2024",
        "3/1/2024",
    ]
    .iter()
    .any(|date| text.contains(date));
    let mut faults = unless(has_word(&text, WORKSPACE_NAME), || {
        format!("the workspace {WORKSPACE_NAME} is not shown")
    });
    faults.extend(unless(dated && text.contains("12:00"), || {
        "the event's time (2024-03-01 12:00 UTC) is not shown".to_owned()
    }));
    faults
}

fn shows_its_status_word(card: &Card) -> Vec<String> {
    let text = card.text();
    unless(has_word(&text, card.kind.status), || {
        format!("the status word {} is not in {text:?}", card.kind.status)
    })
}

fn shows_its_event_id(card: &Card) -> Vec<String> {
    unless(card.text().contains(&card.event_id), || {
        format!("the event id {} is not shown", card.event_id)
    })
}

fn shows_the_exception_once_and_the_traceback_line_by_line(card: &Card) -> Vec<String> {
    let traceback = notices::traceback();
    let (frames, exception) = traceback.trim_end().rsplit_once('\n').unwrap();
    let text = card.text();
    let shown: Vec<&str> = text.lines().map(str::trim).collect();
    let times = text.matches(exception).count();
    let mut faults = unless(times == 1, || {
        format!("{exception:?} is shown {times} times, not once")
    });
    for line in frames.lines().map(str::trim) {
        faults.extend(unless(shown.contains(&line), || {
            format!("the traceback's line {line:?} is not a line of its own")
        }));
    }
    faults
}

fn shows_code_exactly_as_written(card: &Card) -> Vec<String> {
    let text = card.text();
    [
        "torch/__init__.py",
        "*args, **kwargs",
        "data/*_train_*.parquet",
    ]
    .into_iter()
    .filter(|code| !text.contains(code))
    .map(|code| {
        let made: Vec<String> = card
            .rendered
            .markup
            .iter()
            .map(|m| format!("<{}>{}", m.tag, m.text))
            .collect();
        format!("{code:?} is not shown as written (Markdown made {made:?})")
    })
    .collect()
}

fn shows_each_violation_with_its_value(card: &Card) -> Vec<String> {
    // The breach fixture's violations (tests/fixtures/variants/monitor_breach.json).
    let violations = [
        ("age", "0.4217"),
        ("income", "0.3108"),
        ("tenure_months", "0.1342"),
    ];
    let text = card.text();
    violations
        .iter()
        .filter(|(feature, value)| !has_word(&text, feature) || !text.contains(value))
        .map(|(feature, value)| format!("the violation of {feature} ({value}) is not shown"))
        .collect()
}

fn shows_hostile_text_as_written_and_formats_nothing(card: &Card) -> Vec<String> {
    let text = card.text();
    let written = [
        "**bold**",
        "# Heading",
        "@everyone",
        "\u{1F525}",
        "\u{5E9}\u{5D2}\u{5D9}\u{5D0}\u{5D4}",
    ];
    let mut faults: Vec<String> = (written.into_iter())
        .filter(|written| !text.contains(written))
        .map(|written| format!("{written:?} is not shown as written"))
        .collect();
    faults.extend(card.rendered.markup.iter().map(|made| {
        format!(
            "Markdown in the error made <{}>{}</{}>",
            made.tag, made.text, made.tag
        )
    }));
    faults
}

fn links_only_to_azure_ml_studio(card: &Card) -> Vec<String> {
    let rendered = &card.rendered;
    let anchors =
        (rendered.anchors.iter()).map(|a| (a.href.as_str(), a.text.as_str(), "a link in the text"));
    let actions = rendered.open_urls.iter().map(|action| {
        (
            action.url.as_deref().unwrap_or(""),
            action.title.as_deref().unwrap_or(""),
            "an Action.OpenUrl",
        )
    });
    anchors
        .chain(actions)
        .filter(|(url, _, _)| !is_studio(url))
        .map(|(url, label, what)| format!("{what} {label:?} goes to {url}"))
        .collect()
}

fn has_a_button_to_azure_ml_studio(card: &Card) -> Vec<String> {
    let buttons = &card.rendered.buttons;
    let opens_studio = buttons.iter().any(|button| {
        (button.actions.iter()).any(|action| {
            action.kind == "Action.OpenUrl" && action.url.as_deref().is_some_and(is_studio)
        })
    });
    let labels: Vec<&str> = buttons.iter().map(|button| button.label.as_str()).collect();
    unless(opens_studio, || {
        format!("no button opens Azure ML studio (buttons: {labels:?})")
    })
}

fn overflows_and_clips_nothing(card: &Card) -> Vec<String> {
    (card.rendered.overflows.iter())
        .map(|overflow| format!("{} {:?}: {}", overflow.element, overflow.text, overflow.why))
        .collect()
}

fn has_a_title_of_at_most_two_lines(card: &Card) -> Vec<String> {
    match &card.rendered.title {
        None => vec!["no title was found".to_owned()],
        Some(title) => unless(title.lines.is_some_and(|lines| lines <= 2), || {
            format!("the title {:?} takes {:?} lines", title.text, title.lines)
        }),
    }
}

fn sets_band_and_title_apart_from_their_background(card: &Card) -> Vec<String> {
    let band =
        (card.rendered.band.iter()).flat_map(|band| band.texts.iter().map(|text| (text, "band")));
    let title = card.rendered.title.iter().map(|title| (title, "title"));
    band.chain(title)
        .filter(|(text, _)| contrast(text.color, text.background) < MIN_CONTRAST)
        .map(|(text, place)| {
            format!(
                "{:?} ({place}) has contrast {:.2}:1 (text {:?} on {:?}), under {MIN_CONTRAST}:1",
                text.text,
                contrast(text.color, text.background),
                text.color,
                text.background
            )
        })
        .collect()
}

/// Every rule, for the card that breaks them all.
const RULES: [(&str, Rule); 13] = [
    ("renders cleanly", renders_cleanly_and_loads_nothing),
    ("workspace and time", names_its_workspace_and_when),
    ("status word", shows_its_status_word),
    ("event id", shows_its_event_id),
    (
        "exception and traceback",
        shows_the_exception_once_and_the_traceback_line_by_line,
    ),
    ("code as written", shows_code_exactly_as_written),
    ("violations", shows_each_violation_with_its_value),
    (
        "hostile text",
        shows_hostile_text_as_written_and_formats_nothing,
    ),
    ("studio links only", links_only_to_azure_ml_studio),
    ("studio button", has_a_button_to_azure_ml_studio),
    ("no overflow", overflows_and_clips_nothing),
    ("title lines", has_a_title_of_at_most_two_lines),
    ("contrast", sets_band_and_title_apart_from_their_background),
];

// The tests.

#[test]
fn wcag_contrast_matches_known_pairs() {
    assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
    assert!((contrast([255, 255, 255], [255, 255, 255]) - 1.0).abs() < 1e-9);
    // #767676 is the lightest grey that passes on white; #777777 is not.
    assert!(contrast([0x76; 3], [255; 3]) >= MIN_CONTRAST);
    assert!(contrast([0x77; 3], [255; 3]) < MIN_CONTRAST);
}

#[test]
fn every_rule_finds_fault_with_the_card_that_breaks_them_all() {
    let Some(cards) = cards() else { return };
    let kept: Vec<&str> = (RULES.iter())
        .filter(|(_, rule)| rule(&cards.breaks_every_rule).is_empty())
        .map(|(name, _)| *name)
        .collect();
    assert!(
        kept.is_empty(),
        "these rules found nothing wrong with {}: {kept:?}",
        BREAKS_EVERY_RULE.name
    );
}

#[test]
fn cards_render_without_problems_and_load_nothing() {
    check(EVERY, renders_cleanly_and_loads_nothing);
}

#[test]
fn every_card_names_its_workspace_and_when() {
    check(EVERY, names_its_workspace_and_when);
}

#[test]
fn every_card_shows_its_status_word() {
    check(EVERY, shows_its_status_word);
}

#[test]
fn every_card_shows_its_event_id() {
    check(EVERY, shows_its_event_id);
}

#[test]
fn a_failed_runs_exception_shows_once_and_its_traceback_line_by_line() {
    check(
        &["failed-run"],
        shows_the_exception_once_and_the_traceback_line_by_line,
    );
}

#[test]
fn code_in_an_error_shows_exactly_as_written() {
    check(&["failed-run"], shows_code_exactly_as_written);
}

#[test]
fn a_breach_shows_each_violation_with_its_value() {
    check(&["monitor-breach"], shows_each_violation_with_its_value);
}

#[test]
fn hostile_text_shows_as_written_and_formats_nothing() {
    check(
        &["hostile"],
        shows_hostile_text_as_written_and_formats_nothing,
    );
}

#[test]
fn no_card_links_anywhere_but_azure_ml_studio() {
    check(EVERY, links_only_to_azure_ml_studio);
}

#[test]
fn every_card_has_a_button_to_azure_ml_studio() {
    check(EVERY, has_a_button_to_azure_ml_studio);
}

#[test]
fn nothing_overflows_or_is_clipped() {
    check(EVERY, overflows_and_clips_nothing);
}

#[test]
fn titles_take_at_most_two_lines() {
    check(EVERY, has_a_title_of_at_most_two_lines);
}

#[test]
fn band_and_title_text_stand_out_from_their_background() {
    check(EVERY, sets_band_and_title_apart_from_their_background);
}
