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
//! - here: what each kind must show, and one test per thing a reader relies on.
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
    /// The status word its band shows (any of these).
    status: &'static [&'static str],
}

/// Every kind of notice, in the order they are delivered.
const KINDS: [Kind; 9] = [
    Kind {
        name: "failed-run",
        status: &["FAILED"],
    },
    Kind {
        name: "canceled-run",
        status: &["CANCELED", "CANCELLED"],
    },
    Kind {
        name: "completed-run",
        status: &["COMPLETED"],
    },
    Kind {
        name: "monitor-breach",
        status: &["BREACH"],
    },
    Kind {
        name: "drift",
        status: &["DRIFT"],
    },
    Kind {
        name: "model-registered",
        status: &["REGISTERED"],
    },
    Kind {
        name: "model-deployed",
        status: &["PASSED", "DEPLOYED"],
    },
    Kind {
        name: "smoke-test-failed",
        status: &["FAILED"],
    },
    Kind {
        name: "hostile",
        status: &["FAILED"],
    },
];

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

enum Setup {
    Ready(Vec<Card>),
    Skipped(String),
}

/// The rendered cards, made once for all tests; `None` (said on stderr) when skipped.
fn cards() -> Option<&'static [Card]> {
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
        Ok(Setup::Skipped(why)) => {
            eprintln!("SKIPPED: the cards were not rendered: {why}");
            None
        }
        Err(why) => panic!("the cards could not be rendered: {why}"),
    }
}

fn setup() -> Setup {
    let chromium = match browser::chromium() {
        Ok(chromium) => chromium,
        Err(why) if std::env::var_os("CI").is_none() => return Setup::Skipped(why),
        Err(why) => panic!("{why}"),
    };
    browser::node_modules();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let posted = runtime.block_on(notices::post_every_kind());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../cards");
    std::fs::create_dir_all(&out).unwrap();
    let files: Vec<PathBuf> = posted
        .iter()
        .map(|card| {
            let file = out.join(format!("{}.json", card.kind));
            std::fs::write(&file, serde_json::to_vec_pretty(&card.body).unwrap()).unwrap();
            file
        })
        .collect();
    let rendered = browser::render(&chromium, &out, &files);
    if std::env::var("UPDATE_CARD_SCREENSHOTS").is_ok_and(|update| update == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/cards");
        std::fs::create_dir_all(&docs).unwrap();
        for card in &posted {
            let name = format!("{}.png", card.kind);
            std::fs::copy(out.join(&name), docs.join(&name)).unwrap();
        }
        eprintln!("cards: screenshots written to {}", docs.display());
    }
    let cards = posted
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
    Setup::Ready(cards)
}

/// Runs `check` on the cards `which` picks, and fails with every complaint of every card.
fn check(which: impl Fn(&Card) -> bool, check: impl Fn(&Card) -> Vec<String>) {
    let Some(cards) = cards() else { return };
    let complaints: Vec<String> = cards
        .iter()
        .filter(|card| which(card))
        .flat_map(|card| {
            check(card)
                .into_iter()
                .map(move |complaint| format!("{}: {complaint}", card.kind.name))
        })
        .collect();
    assert!(
        complaints.is_empty(),
        "{}\n(the cards and their screenshots are in target/cards/)",
        complaints.join("\n")
    );
}

fn every(_: &Card) -> bool {
    true
}

fn kind(name: &'static str) -> impl Fn(&Card) -> bool {
    move |card| card.kind.name == name
}

/// A complaint when `ok` is false.
fn unless(ok: bool, complaint: impl FnOnce() -> String) -> Vec<String> {
    if ok { Vec::new() } else { vec![complaint()] }
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

#[test]
fn wcag_contrast_matches_known_pairs() {
    assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
    assert!((contrast([255, 255, 255], [255, 255, 255]) - 1.0).abs() < 1e-9);
    // #767676 is the lightest grey that passes on white; #777777 is not.
    assert!(contrast([0x76; 3], [255; 3]) >= MIN_CONTRAST);
    assert!(contrast([0x77; 3], [255; 3]) < MIN_CONTRAST);
}

#[test]
fn cards_render_without_problems_and_load_nothing() {
    check(every, |card| {
        let rendered = &card.rendered;
        let mut complaints = unless(rendered.problems.is_empty(), || {
            format!("the renderer complained: {:?}", rendered.problems)
        });
        complaints.extend(unless(rendered.requests.is_empty(), || {
            format!("the card asked the network for {:?}", rendered.requests)
        }));
        complaints
    });
}

#[test]
fn every_card_names_its_workspace_and_when() {
    check(every, |card| {
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
        let mut complaints = unless(has_word(&text, WORKSPACE_NAME), || {
            format!("the workspace {WORKSPACE_NAME} is not shown")
        });
        complaints.extend(unless(dated && text.contains("12:00"), || {
            "the event's time (2024-03-01 12:00 UTC) is not shown".to_owned()
        }));
        complaints
    });
}

#[test]
fn every_card_shows_its_status_word() {
    check(every, |card| {
        let text = card.text();
        unless(
            card.kind.status.iter().any(|word| has_word(&text, word)),
            || format!("no status word {:?} in {text:?}", card.kind.status),
        )
    });
}

#[test]
fn every_card_shows_its_event_id() {
    check(every, |card| {
        unless(card.text().contains(&card.event_id), || {
            format!("the event id {} is not shown", card.event_id)
        })
    });
}

#[test]
fn a_failed_runs_exception_shows_once_and_its_traceback_line_by_line() {
    let traceback = notices::traceback();
    let (frames, exception) = traceback.trim_end().rsplit_once('\n').unwrap();
    check(kind("failed-run"), |card| {
        let text = card.text();
        let shown: Vec<&str> = text.lines().map(str::trim).collect();
        let mut complaints = unless(text.matches(exception).count() == 1, || {
            format!(
                "{exception:?} is shown {} times, not once",
                text.matches(exception).count()
            )
        });
        for line in frames.lines().map(str::trim) {
            complaints.extend(unless(shown.contains(&line), || {
                format!("the traceback's line {line:?} is not a line of its own")
            }));
        }
        complaints
    });
}

#[test]
fn code_in_an_error_shows_exactly_as_written() {
    check(kind("failed-run"), |card| {
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
    });
}

#[test]
fn a_breach_shows_each_violation_with_its_value() {
    // The breach fixture's violations (tests/fixtures/variants/monitor_breach.json).
    let violations = [
        ("age", "0.4217"),
        ("income", "0.3108"),
        ("tenure_months", "0.1342"),
    ];
    check(kind("monitor-breach"), |card| {
        let text = card.text();
        violations
            .iter()
            .filter(|(feature, value)| !has_word(&text, feature) || !text.contains(value))
            .map(|(feature, value)| format!("the violation of {feature} ({value}) is not shown"))
            .collect()
    });
}

#[test]
fn hostile_text_shows_as_written_and_formats_nothing() {
    check(kind("hostile"), |card| {
        let text = card.text();
        let mut complaints: Vec<String> = [
            "**bold**",
            "# Heading",
            "@everyone",
            "\u{1F525}",
            "\u{5E9}\u{5D2}\u{5D9}\u{5D0}\u{5D4}",
        ]
        .into_iter()
        .filter(|written| !text.contains(written))
        .map(|written| format!("{written:?} is not shown as written"))
        .collect();
        complaints.extend(card.rendered.markup.iter().map(|made| {
            format!(
                "Markdown in the error made <{}>{}</{}>",
                made.tag, made.text, made.tag
            )
        }));
        complaints
    });
}

#[test]
fn no_card_links_anywhere_but_azure_ml_studio() {
    check(every, |card| {
        let rendered = &card.rendered;
        let anchors = rendered
            .anchors
            .iter()
            .map(|a| (a.href.as_str(), a.text.as_str(), "a link in the text"));
        let buttons = rendered.open_urls.iter().map(|action| {
            (
                action.url.as_deref().unwrap_or(""),
                action.title.as_deref().unwrap_or(""),
                "an Action.OpenUrl",
            )
        });
        anchors
            .chain(buttons)
            .filter(|(url, _, _)| !is_studio(url))
            .map(|(url, label, what)| format!("{what} {label:?} goes to {url}"))
            .collect()
    });
}

#[test]
fn every_card_has_a_button_to_azure_ml_studio() {
    check(every, |card| {
        let buttons = &card.rendered.buttons;
        let opens_studio = buttons.iter().any(|button| {
            button.actions.iter().any(|action| {
                action.kind == "Action.OpenUrl" && action.url.as_deref().is_some_and(is_studio)
            })
        });
        let labels: Vec<&str> = buttons.iter().map(|button| button.label.as_str()).collect();
        unless(opens_studio, || {
            format!("no button opens Azure ML studio (buttons: {labels:?})")
        })
    });
}

#[test]
fn nothing_overflows_or_is_clipped() {
    check(every, |card| {
        card.rendered
            .overflows
            .iter()
            .map(|overflow| format!("{} {:?}: {}", overflow.element, overflow.text, overflow.why))
            .collect()
    });
}

#[test]
fn titles_take_at_most_two_lines() {
    check(every, |card| match &card.rendered.title {
        None => vec!["no title was found".to_owned()],
        Some(title) => unless(title.lines.is_some_and(|lines| lines <= 2), || {
            format!("the title {:?} takes {:?} lines", title.text, title.lines)
        }),
    });
}

#[test]
fn band_and_title_text_stand_out_from_their_background() {
    check(every, |card| {
        let band = card
            .rendered
            .band
            .iter()
            .flat_map(|band| band.texts.iter().map(|text| (text, "band")));
        let title = card.rendered.title.iter().map(|title| (title, "title"));
        band.chain(title)
            .filter(|(text, _)| contrast(text.color, text.background) < MIN_CONTRAST)
            .map(|(text, place)| {
                format!(
                    "{:?} ({place:?}) has contrast {:.2}:1 (text {:?} on {:?}), under {MIN_CONTRAST}:1",
                    text.text,
                    contrast(text.color, text.background),
                    text.color,
                    text.background
                )
            })
            .collect()
    });
}
