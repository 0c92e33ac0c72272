//! One notification, in no chat tool's terms: what each renderer turns into its target's body.
//!
//! Besides the [`Notice`] itself, this module holds what every renderer shares: [`limit`] and
//! [`limit_end`], the one way a text is cut to a length (keeping its start, or its end for a
//! traceback), and the few readings of a notice (its [`headline`](Notice::headline), its
//! [`status_word`](Notice::status_word) and [`tone`](Notice::tone), its
//! [`buttons`](Notice::buttons), the [`exception line`](ErrorText::exception_line) of its
//! error, ...) that keep the renderers from each deciding them differently. It knows no
//! vendor's format, and escapes nothing: that is [`escape`](super::escape)'s.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Timestamp, WorkspaceId};

/// `text` as the URL parser writes it, when it is an `http` or `https` URL of at most
/// [`MAX_LINK`] characters so written.
fn web_url(text: &str) -> Option<String> {
    let parsed = url::Url::parse(text).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.as_str().len() <= MAX_LINK)
        .then(|| parsed.to_string())
}

/// What ends a text [`limit`] cut, so a reader sees that something is missing.
pub const ELLIPSIS: char = '\u{2026}';

/// What stands in for a blank text where a target refuses empty strings (Discord's field
/// values, Slack's text objects).
pub const BLANK: &str = "\u{2014}";

/// The headline of a notice whose title and event type are both blank.
const NO_HEADLINE: &str = "Azure ML event";

/// The label of the button to [`Notice::link`].
pub const OPEN_LABEL: &str = "Open in Azure ML studio";

/// The label of the button to the workspace, which stands in for a link too long to put on a
/// button.
pub const WORKSPACE_LABEL: &str = "Open the workspace in Azure ML studio";

/// How long a title, a name or a label may be on a card: past about 80 characters a headline
/// stops being one and a label crowds out its value.
pub const MAX_NAME: usize = 80;

/// How long a status word may be: one word, `REGISTERED` the longest the functions send.
pub const MAX_STATUS: usize = 30;

/// How long a summary may be on a card: a paragraph read at a glance.
pub const MAX_SUMMARY: usize = 500;

/// How many buttons a card shows: the studio link and the product's few others (retrain job,
/// model, endpoint) fit; Teams shows no more than about this many actions in a row.
pub const MAX_BUTTONS: usize = 5;

/// The longest link a renderer puts on a button. A studio link is a few hundred characters;
/// the bound keeps within Slack's button `url` (3,000) and leaves Teams' byte budget to the
/// texts.
const MAX_LINK: usize = 2048;

/// `text` cut to at most `max` characters (Unicode scalar values, not bytes), ending with
/// [`ELLIPSIS`] when it was cut; borrowed when it already fits. Never splits a character, so
/// it never panics on multi-byte text; it may split a grapheme cluster (a flag, a combining
/// accent), which renders as a stray mark at worst.
///
/// Every vendor's length limit is applied through this one function.
pub fn limit(text: &str, max: usize) -> Cow<'_, str> {
    // A text of at most `max` bytes has at most `max` characters: skip counting.
    if text.len() <= max || text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    // Keep `max - 1` characters and leave the last place to the ellipsis.
    let cut = text
        .char_indices()
        .nth(max - 1)
        .map_or(text.len(), |(index, _)| index);
    let kept = text[..cut].trim_end();
    let mut out = String::with_capacity(kept.len() + ELLIPSIS.len_utf8());
    out.push_str(kept);
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `text` cut to at most `max` characters keeping its END, with [`ELLIPSIS`] where the cut was:
/// for a traceback, whose exception line comes last. When the kept part holds a line break,
/// the cut moves forward to it, so the text starts with whole lines after an ellipsis line of
/// its own (`…\n  File "train.py", ...`). Borrowed when it already fits.
pub fn limit_end(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max || text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    if max < 2 {
        return Cow::Borrowed(if max == 0 { "" } else { "\u{2026}" });
    }
    // The last `max - 2` characters: room for the ellipsis and a line break before them.
    let skip = text.chars().count() - (max - 2);
    let start = text
        .char_indices()
        .nth(skip)
        .map_or(text.len(), |(at, _)| at);
    let kept = &text[start..];
    let mut out = String::with_capacity(kept.len() + 4);
    out.push(ELLIPSIS);
    match kept.find('\n') {
        Some(at) if !kept[at + 1..].trim().is_empty() => {
            out.push('\n');
            out.push_str(&kept[at + 1..]);
        }
        // One long line: cut inside it, one character more for the missing line break.
        _ => {
            let start = text
                .char_indices()
                .nth(skip - 1)
                .map_or(text.len(), |(at, _)| at);
            out.push_str(&text[start..]);
        }
    }
    Cow::Owned(out)
}

/// `text`, or `fallback` when `text` is empty or only whitespace.
pub fn non_blank<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.trim().is_empty() {
        fallback
    } else {
        text
    }
}

/// How bad the news is. Chat renderers color by it; PagerDuty takes it as the alert's
/// severity, and pages only for [`Notice::alert`] notices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A model registered, a run completed, a deployment that passed its smoke test.
    #[default]
    Info,
    /// Drift, a monitor breach, a canceled run, a smoke test that failed.
    Warning,
    /// A failed run.
    Error,
    /// Reserved for what needs someone now; nothing the functions send is critical today.
    Critical,
}

impl Severity {
    /// `info`, `warning`, `error`, `critical`: PagerDuty's names too.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
            Severity::Critical => "critical",
        }
    }

    /// The band's word when a notice names no status: `INFO`, `WARNING`, `ERROR`, `CRITICAL`.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// What a card's band says at a glance, from the severity and the status word: its colour in
/// Teams, its marker in Slack and Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A failure (error or critical): red.
    Bad,
    /// Drift, a breach, a canceled run, a failed smoke test: amber.
    Warning,
    /// Information that is good news (`PASSED`, `DEPLOYED`, `REGISTERED`, `COMPLETED`): green.
    Good,
    /// Any other information: blue.
    Neutral,
}

/// The status words that are good news.
const GOOD_WORDS: [&str; 4] = ["PASSED", "DEPLOYED", "REGISTERED", "COMPLETED"];

impl Tone {
    /// A round coloured marker, read before any word: 🔴, 🟠, 🟢, 🔵.
    pub fn marker(self) -> &'static str {
        match self {
            Tone::Bad => "\u{1F534}",
            Tone::Warning => "\u{1F7E0}",
            Tone::Good => "\u{1F7E2}",
            Tone::Neutral => "\u{1F535}",
        }
    }
}

/// One labelled value: `Experiment: churn-training`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// The label.
    pub name: String,
    /// The value, as text.
    pub value: String,
}

impl Fact {
    /// A fact.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// One notification about one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notice {
    /// A short headline that says what happened where: `Run churn_run_7 failed in
    /// churn-training`.
    pub title: String,
    /// One readable line with the details, never the error (that is [`error`](Notice::error),
    /// said once): `Run churn_run_7 of experiment churn-training failed after 12 min on
    /// cpu-cluster`.
    pub summary: String,
    /// How bad it is.
    pub severity: Severity,
    /// What a reader scans: experiment, run, status, model, signal, ...
    pub facts: Vec<Fact>,
    /// Where to look: the run's page in Azure ML studio, when there is one.
    pub link: Option<String>,
    /// The event's id (also the `Idempotency-Key`).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// The function that handled it (`RunStatusChanged`).
    pub function: String,
    /// The event's subject.
    pub subject: Option<String>,
    /// The workspace's resource id, when the event came from one.
    pub workspace: Option<String>,
    /// When the event happened.
    pub time: Option<Timestamp>,
    /// Whether this notice is an alert (a failure, a breach, drift): the only kind PagerDuty
    /// is sent.
    pub alert: bool,
    /// What alerts about the same thing share, so redeliveries and repeats collapse into one
    /// PagerDuty incident: `<workspace>/<run, model or endpoint>/<function>`, and for a monitor
    /// breach `<workspace>/<signal>/monitor-breach` (one incident per signal, not per run).
    pub alert_key: String,
    /// The event's data, for the plain `webhook` kind.
    pub data: Value,
    /// Further fields of the `webhook` kind's body (`run`, `retrain`, `smokeTest`, ...).
    pub extra: Map<String, Value>,
    /// The word a card's band shows in capitals, what happened at a glance: `FAILED`,
    /// `BREACH`, `DRIFT`, `PASSED`, `DEPLOYED`, `REGISTERED`, ... (blank: the severity's word).
    pub status: String,
    /// The error the news is about (a run's error message, an endpoint's answer), shown once:
    /// its exception line first, the whole text in a monospace block.
    pub error: Option<ErrorText>,
    /// Rows a reader compares, the worst first: a breach's violations (feature, metric,
    /// value, threshold).
    pub rows: Option<Rows>,
    /// Links the product makes besides [`link`](Notice::link): the retrain job, the model, the
    /// endpoint in Azure ML studio.
    pub links: Vec<Link>,
    /// What notices about the same thing share, for noise control (a route's `notify_every`):
    /// `signal churn-drift`, `experiment churn-training, status Failed`, `service churn-api`.
    pub group: String,
    /// The notices held back since the last one sent to this target (a route's
    /// `notify_every`), which this one reports: `and 37 more since 09:00 UTC`.
    pub held: Option<Held>,
}

/// An error's text, as an event or an answer gave it (untrusted: renderers escape it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorText {
    /// The whole text: a message, or a traceback with its lines.
    pub text: String,
}

/// A small table: a header and rows of as many cells, the worst first, and how many rows
/// were left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rows {
    /// The column names: `Feature`, `Metric`, `Value`, `Threshold`.
    pub header: Vec<String>,
    /// The rows shown.
    pub rows: Vec<Vec<String>>,
    /// How many rows are not shown (`and 4 more`).
    pub more: usize,
}

/// A labelled link the product made (never one from the event's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The button's or link's label: `Open retrain job`.
    pub label: String,
    /// An `https` URL.
    pub url: String,
}

/// Notices held back by a route's `notify_every`, reported by the next one sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// How many.
    pub count: u64,
    /// Since when (the first held).
    pub since: Timestamp,
}

impl ErrorText {
    /// An error's text.
    pub fn new(text: impl Into<String>) -> ErrorText {
        ErrorText { text: text.into() }
    }

    /// The text's lines, without their line breaks (`\n` or `\r\n`).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }

    /// The line that matters, trimmed: the last `SomeError: message` line (a Python
    /// exception, dotted or not: `KeyError: 'customer_id'`,
    /// `azureml.exceptions.UserErrorException: ...`, or a bare `StopIteration`), which ends a
    /// traceback; else the first line that is not blank. Empty when the whole text is blank.
    pub fn exception_line(&self) -> &str {
        self.lines()
            .map(str::trim)
            .filter(|line| is_exception_line(line))
            .last()
            .or_else(|| self.lines().map(str::trim).find(|line| !line.is_empty()))
            .unwrap_or("")
    }

    /// What the monospace block under the exception line shows: the text without that line
    /// (so the error is said once), blank lines at either end dropped, the other lines and
    /// their indentation kept. Empty when the exception line is all there is.
    pub fn details(&self) -> String {
        let exception = self.exception_line();
        let mut lines: Vec<&str> = self.lines().collect();
        if let Some(at) = lines.iter().rposition(|line| line.trim() == exception) {
            lines.remove(at);
        }
        let first = lines.iter().position(|line| !line.trim().is_empty());
        let last = lines.iter().rposition(|line| !line.trim().is_empty());
        match (first, last) {
            (Some(first), Some(last)) => lines[first..=last]
                .iter()
                .map(|line| line.trim_end())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        }
    }
}

/// Whether `line` (trimmed) is a Python exception line: a dotted name whose last part ends in
/// `Error`, `Exception`, `Exit`, `Interrupt`, `Iteration` or `Warning`, alone or followed by
/// `:`.
fn is_exception_line(line: &str) -> bool {
    let name = line.split_once(':').map_or(line, |(name, _)| name);
    let last = name.rsplit('.').next().unwrap_or(name);
    let is_identifier = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    name.split('.').all(is_identifier)
        && [
            "Error",
            "Exception",
            "Exit",
            "Interrupt",
            "Iteration",
            "Warning",
        ]
        .iter()
        .any(|end| last.ends_with(end))
}

impl Rows {
    /// At most `max` of the rows, and how many are left out in all: those past `max` and
    /// those the notice already left out ([`more`](Rows::more)).
    pub fn first(&self, max: usize) -> (&[Vec<String>], usize) {
        let shown = &self.rows[..self.rows.len().min(max)];
        let more = self.more.saturating_add(self.rows.len() - shown.len());
        (shown, more)
    }
}

/// The buttons a card shows, and how many links it had to leave out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buttons {
    /// Labelled `http(s)` URLs of at most 2,048 characters, no URL twice.
    pub links: Vec<Link>,
    /// Links that could be no button, nor be replaced by the workspace's page.
    pub unusable: usize,
    /// Links past the first [`MAX_BUTTONS`].
    pub beyond: usize,
}

impl Buttons {
    /// What a card says about the links it could not show, rather than drop them silently:
    /// `1 link left out: not an http(s) URL of at most 2,048 characters`, `2 more links not
    /// shown`, or both.
    pub fn left_out_text(&self) -> Option<String> {
        let plural = |n: usize| if n == 1 { "link" } else { "links" };
        let mut said = Vec::new();
        if self.unusable > 0 {
            let n = self.unusable;
            said.push(format!(
                "{n} {} left out: not an http(s) URL of at most 2,048 characters",
                plural(n)
            ));
        }
        if self.beyond > 0 {
            let n = self.beyond;
            said.push(format!("{n} more {} not shown", plural(n)));
        }
        (!said.is_empty()).then(|| said.join("; "))
    }
}

impl Held {
    /// `and 37 more since 09:00 UTC` (the date too when `now` is another day, or unknown).
    pub fn text(&self, now: Option<Timestamp>) -> String {
        format!(
            "and {} more since {}",
            self.count,
            self.since.to_utc_minute(now)
        )
    }
}

impl Notice {
    /// The title; the event type when the title is blank; `Azure ML event` when both are.
    /// Slack refuses an empty header, and a card or embed without a headline says nothing.
    pub fn headline(&self) -> &str {
        non_blank(&self.title, non_blank(&self.event_type, NO_HEADLINE))
    }

    /// The band's word: [`status`](Notice::status) trimmed, in capitals and cut to
    /// [`MAX_STATUS`] characters, or the severity's word when it is blank.
    pub fn status_word(&self) -> String {
        let status = self.status.trim();
        if status.is_empty() {
            self.severity.word().to_owned()
        } else {
            limit(&status.to_uppercase(), MAX_STATUS).into_owned()
        }
    }

    /// The band's tone: red for errors, amber for warnings, green for good news, blue for other
    /// information.
    pub fn tone(&self) -> Tone {
        match self.severity {
            Severity::Critical | Severity::Error => Tone::Bad,
            Severity::Warning => Tone::Warning,
            Severity::Info if GOOD_WORDS.contains(&self.status_word().as_str()) => Tone::Good,
            Severity::Info => Tone::Neutral,
        }
    }

    /// The workspace's name and the time, as a card's line under its title says where and
    /// when: `ml-ws · 2026-11-30 06:12:44 UTC`; either alone when the other is unknown.
    pub fn place_and_time(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.workspace_name()
                .map(|name| limit(&name, MAX_NAME).into_owned()),
            self.time.map(|time| time.to_readable_utc()),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join(" \u{b7} "))
    }

    /// `and 37 more since 09:00 UTC`, when notices were held back for this one.
    pub fn held_text(&self) -> Option<String> {
        self.held.map(|held| held.text(self.time))
    }

    /// The link, when it is an `http` or `https` URL of at most 2,048 characters: what a
    /// button or a title may point to. Anything else could have the target refuse the whole
    /// message for the sake of one link (Discord validates an embed's `url`), so it is left
    /// out instead.
    pub fn web_link(&self) -> Option<&str> {
        let link = self.link.as_deref()?.trim();
        web_url(link).is_some().then_some(link)
    }

    /// The buttons: [`link`](Notice::link) as `Open in Azure ML studio`, then each of
    /// [`links`](Notice::links), at most [`MAX_BUTTONS`]. A link that is not an `http(s)` URL
    /// of at most 2,048 characters (written as the URL parser writes it, so with non-ASCII
    /// characters percent-encoded) does not silently lose its button: the workspace's page in
    /// Azure ML studio, a shorter link the product can make, stands in for it
    /// ([`WORKSPACE_LABEL`]); when there is no workspace either, it is counted in
    /// [`Buttons::unusable`].
    pub fn buttons(&self) -> Buttons {
        let wanted = self
            .link
            .iter()
            .map(|url| (OPEN_LABEL, url.as_str()))
            .chain(
                self.links
                    .iter()
                    .map(|link| (link.label.as_str(), link.url.as_str())),
            );
        let mut buttons = Buttons::default();
        for (label, url) in wanted {
            let link = match web_url(url.trim()) {
                Some(url) => Some(Link {
                    label: non_blank(label, OPEN_LABEL).trim().to_owned(),
                    url,
                }),
                None => self.workspace_page().map(|url| Link {
                    label: WORKSPACE_LABEL.to_owned(),
                    url,
                }),
            };
            match link {
                Some(link) if buttons.links.iter().any(|shown| shown.url == link.url) => {}
                Some(link) if buttons.links.len() < MAX_BUTTONS => buttons.links.push(link),
                Some(_) => buttons.beyond += 1,
                None => buttons.unusable += 1,
            }
        }
        buttons
    }

    /// The workspace's page in Azure ML studio:
    /// `https://ml.azure.com/?wsid=/subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}`.
    fn workspace_page(&self) -> Option<String> {
        let workspace = WorkspaceId::parse(self.workspace.as_deref()?)?;
        let mut url = url::Url::parse("https://ml.azure.com/").ok()?;
        url.set_query(Some(&format!(
            "wsid=/subscriptions/{}/resourcegroups/{}/workspaces/{}",
            workspace.subscription, workspace.resource_group, workspace.workspace
        )));
        web_url(url.as_str())
    }

    /// The workspace's name, when [`workspace`](Notice::workspace) is a workspace resource id.
    pub fn workspace_name(&self) -> Option<String> {
        WorkspaceId::parse(self.workspace.as_deref()?).map(|id| id.workspace)
    }

    /// At most `max` facts: all of them when they fit, else the first `max - 1` and a last one
    /// saying how many were left out, so a reader knows the list is not whole.
    pub fn facts_at_most(&self, max: usize) -> Vec<Fact> {
        if self.facts.len() <= max {
            return self.facts.clone();
        }
        let Some(kept) = max.checked_sub(1) else {
            return Vec::new();
        };
        let mut facts = self.facts[..kept].to_vec();
        facts.push(Fact::new(
            "More",
            format!("{} more not shown", self.facts.len() - kept),
        ));
        facts
    }
}
