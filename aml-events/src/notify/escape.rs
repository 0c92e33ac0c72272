//! Untrusted text made safe for each chat format. A run's error message, a tag, a model or a
//! signal name can be written by anyone who can submit a job, and must never become a link, a
//! mention, a heading or emphasis in a notice: the only links are the ones the product makes.
//! Every renderer takes event text through this one module.
//!
//! # Layout
//! First every text is defused, whatever its format ([`plain`] stops there). A word joiner
//! (U+2060, invisible, and unlike a zero-width space no place to break a line) goes where a
//! chat tool or a linkifier would otherwise act:
//! - between the slashes of every `//`, after `www` before its dot and before the colon of
//!   `mailto:`. The text reads the same, but no linkifier sees a URL: Discord and Slack link
//!   only `scheme://`, and markdown-it's linkify-it also links a bare `//host` (so a space after
//!   `://`, the other common defusing, would still leave `//host` a link there; and `https[:]//`
//!   would change what a reader copies).
//! - after every `@`: `@everyone`, `@here` and `<@123>` mention no one.
//! - between the braces of `{{`: Adaptive Cards would read `{{DATE(...)}}` as a function.
//!
//! Besides, control characters become U+FFFD; bidi embeddings, overrides and isolates
//! (U+202A-U+202E, U+2066-U+2069) are dropped, so a text cannot reorder what is printed around
//! it; and in texts that wrap, a run of 30 characters with nowhere to break (no space, `-` or
//! `/`) gets a zero-width space (U+200B), so a long id or path wraps instead of running off the
//! card.
//!
//! Then each format's own escaping:
//! - [`markdown`] (Teams TextBlock and FactSet, Discord): one line; CommonMark backslash
//!   escapes before `\ [ ] ( ) * _ ~ ` < > # |` (but not an `_` between two letters or digits,
//!   which never emphasises: `churn_run_7` stays as it is), before `&` where it would start an
//!   entity, and before what would start a list, a thematic break or a setext underline (a
//!   leading `- `, `+ `, `1. `, `---`, `===`), so nothing becomes a link, image, emphasis, code,
//!   HTML, heading, list, quote, table or spoiler.
//! - [`mrkdwn`] (Slack): one line; Slack has no escape character for its formatting, so `*`,
//!   `_`, `~` and the backtick are replaced by look-alikes that format nothing (`∗ ˍ ∼ ˋ`),
//!   except `*`, `_` and `~` between two letters or digits, where Slack formats nothing; a
//!   leading `>` becomes `›`; then `&`, `<` and `>` become the entities Slack asks for.
//! - [`monospace`] (a Teams TextRun, which is never Markdown): lines kept, indentation kept as
//!   no-break spaces.
//! - [`fenced`] and [`mrkdwn_fenced`]: the inside of a ``` block (Discord, Slack), lines kept
//!   as written, with a word joiner between backticks so no ``` can close the block.
//!
//! Cutting a text to a vendor's limit after this goes through [`cut_plain`], [`cut_markdown`]
//! and [`cut_mrkdwn`], which never leave half an escape (or an `@` without its space) behind.
//!
//! A host that links bare domain names (`evil.example`, no scheme) is not covered: breaking
//! every dot would change every file name a reader copies.
//!
//! See:
//! - CommonMark backslash escapes and entities: <https://spec.commonmark.org/0.31.2/#backslash-escapes>
//! - linkify-it's schemas (`http:`, `https:`, `ftp:`, `//`, `mailto:`):
//!   <https://github.com/markdown-it/linkify-it/blob/master/index.mjs>
//! - Slack's escaping (only `& < >`; no escape for formatting):
//!   <https://docs.slack.dev/messaging/formatting-message-text#escaping>
//! - Discord's Markdown and its backslash escapes:
//!   <https://support.discord.com/hc/en-us/articles/210298617-Markdown-Text-101-Chat-Formatting-Bold-Italic-Underline>
//! - Adaptive Cards' date functions in texts:
//!   <https://learn.microsoft.com/adaptive-cards/authoring-cards/text-features>

use std::borrow::Cow;

use super::cut::{ELLIPSIS, limit};

/// What every defusing inserts: a word joiner, invisible and no line break.
pub const JOINER: char = '\u{2060}';

/// What makes a long run breakable: a zero-width space, invisible and a line break.
pub const ZWSP: char = '\u{200B}';

/// How many characters may follow each other with no break opportunity before a zero-width
/// space is put in.
const RUN: usize = 30;

/// One line of untrusted text for a Markdown text (Teams TextBlock and FactSet, Discord):
/// whitespace runs, line breaks too, become one space; defused; escaped.
pub fn markdown(text: &str) -> String {
    escape_markdown(&wrappable(&defuse(&one_line(text))))
}

/// One line of untrusted text for Slack mrkdwn: whitespace runs become one space; defused;
/// formatting characters replaced by look-alikes; `& < >` as entities.
pub fn mrkdwn(text: &str) -> String {
    if untouched(text, is_mrkdwn_markup) {
        return text.to_owned();
    }
    let line = one_line(text);
    let defused = defuse(&line);
    let defused = wrappable(&defused);
    if !defused.bytes().any(is_mrkdwn_markup) {
        return defused.into_owned();
    }
    replace_ascii(&defused, |at, byte| match byte {
        // Between two letters or digits (`churn_run_7`) Slack formats nothing: kept, so a run
        // id copied from the message is the run id.
        b'*' | b'_' | b'~' if intraword(&defused, at) => None,
        b'*' => Some("\u{2217}"),
        b'_' => Some("\u{02CD}"),
        b'~' => Some("\u{223C}"),
        b'`' => Some("\u{02CB}"),
        // A quote only starts a line; mid-line `>` is just escaped below.
        b'>' if at == 0 => Some("\u{203A}"),
        byte => entity(byte),
    })
}

/// `text` with each ASCII character for which `replacement` (given its byte offset) says so
/// replaced; the runs between them copied whole. An ASCII byte is never part of another
/// character in UTF-8, so every offset it stands at is a character boundary.
fn replace_ascii(text: &str, replacement: impl Fn(usize, u8) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    for (at, byte) in text.bytes().enumerate() {
        if let Some(replacement) = byte.is_ascii().then(|| replacement(at, byte)).flatten() {
            out.push_str(&text[copied..at]);
            out.push_str(replacement);
            copied = at + 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// One line of untrusted text shown as is (Slack's plain_text, Discord's footer, a Teams
/// button's title): defused only, since there is no markup to escape and a backslash would
/// show.
pub fn plain(text: &str) -> String {
    if untouched(text, |_| false) {
        return text.to_owned();
    }
    wrappable(&defuse(&one_line(text))).into_owned()
}

/// Untrusted lines shown as is in a monospace font (a Teams TextRun, never Markdown): defused,
/// each line's leading spaces (and tabs, as four) kept as no-break spaces, which an HTML host
/// would otherwise collapse.
pub fn monospace(text: &str) -> String {
    let lines = lines(text);
    let defused = defuse(&lines);
    let defused = wrappable(&defused);
    let mut out = String::with_capacity(defused.len() + 16);
    for (n, line) in defused.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let body = line.trim_start_matches([' ', '\t']);
        for c in line[..line.len() - body.len()].chars() {
            let width = if c == '\t' { 4 } else { 1 };
            out.extend(std::iter::repeat_n('\u{A0}', width));
        }
        out.push_str(body);
    }
    out
}

/// Untrusted lines for the inside of a Markdown ``` block (Discord): defused, kept as
/// written, and no ``` that could close the block.
pub fn fenced(text: &str) -> String {
    unfence(&defuse(&lines(text)))
}

/// Untrusted lines for the inside of a Slack ``` block: as [`fenced`], then `& < >` as
/// entities (Slack reads `<...>` even in code).
pub fn mrkdwn_fenced(text: &str) -> String {
    replace_ascii(&fenced(text), |_, byte| entity(byte))
}

/// `defused` (from [`plain`]) cut to `max` characters with an ellipsis, never leaving an `@`
/// without the word joiner after it.
pub fn cut_plain(defused: &str, max: usize) -> String {
    match limit(defused, max) {
        Cow::Borrowed(text) => text.to_owned(),
        Cow::Owned(mut cut) => {
            let body_end = cut.len() - ELLIPSIS.len_utf8();
            if cut[..body_end].ends_with('@') {
                cut.remove(body_end - 1);
            }
            cut
        }
    }
}

/// `escaped` (from [`markdown`]) cut to `max` characters with an ellipsis, never leaving a
/// lone backslash that would escape the ellipsis, nor an `@` without its word joiner.
pub fn cut_markdown(escaped: &str, max: usize) -> String {
    match limit(escaped, max) {
        Cow::Borrowed(text) => text.to_owned(),
        Cow::Owned(mut cut) => {
            let body_end = cut.len() - ELLIPSIS.len_utf8();
            let body = &cut[..body_end];
            let backslashes = body.len() - body.trim_end_matches('\\').len();
            if backslashes % 2 == 1 || body.ends_with(['_', '@']) {
                // A lone backslash would escape the ellipsis; an `_` kept between two letters
                // would now stand before it; an `@` would have lost its word joiner.
                cut.remove(body_end - 1);
            }
            cut
        }
    }
}

/// `escaped` (from [`mrkdwn`] or [`mrkdwn_fenced`]) cut to `max` characters with an ellipsis,
/// dropping an entity the cut would split (a lone `&am` would show as is), and an `@` that
/// would have lost its word joiner.
pub fn cut_mrkdwn(escaped: &str, max: usize) -> String {
    match limit(escaped, max) {
        Cow::Borrowed(text) => text.to_owned(),
        Cow::Owned(mut cut) => {
            let body_end = cut.len() - ELLIPSIS.len_utf8();
            // Every `&` of the escaped text opens an entity, so the last one without its `;`
            // is a split one.
            let split = cut[..body_end]
                .rfind('&')
                .filter(|&amp| !cut[amp..body_end].contains(';'));
            if let Some(amp) = split {
                cut.replace_range(amp..body_end, "");
            } else if cut[..body_end].ends_with(['*', '_', '~', '@']) {
                // Kept between two letters, it would now stand before the ellipsis; an `@`
                // would have lost its word joiner.
                cut.remove(body_end - 1);
            }
            cut
        }
    }
}

/// `text` with whitespace runs (line breaks, tabs, ...) as one space, trimmed, and control
/// and bidi characters dealt with.
fn one_line(text: &str) -> Cow<'_, str> {
    // Most texts are one line of printable ASCII already.
    let plain_ascii = text.bytes().all(|byte| matches!(byte, b' '..=b'~'));
    if plain_ascii && !text.starts_with(' ') && !text.ends_with(' ') && !text.contains("  ") {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(one_line_each_char(text))
    }
}

/// [`one_line`], a character at a time.
fn one_line_each_char(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if let Some(c) = printable(c) {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// `text` with its lines (any of `\n`, `\r\n`, `\r`, U+2028, U+2029 ending one) joined by
/// `\n`, tabs kept, and control and bidi characters dealt with.
fn lines(text: &str) -> Cow<'_, str> {
    // Most texts are printable ASCII lines ending in `\n` already.
    if text
        .bytes()
        .all(|byte| matches!(byte, b' '..=b'~' | b'\n' | b'\t'))
    {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(lines_each_char(text))
    }
}

/// [`lines`], a character at a time.
fn lines_each_char(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push('\n');
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\t' => out.push('\t'),
            c => out.extend(printable(c)),
        }
    }
    out
}

/// What [`mrkdwn`] replaces, besides what every text goes through.
fn is_mrkdwn_markup(byte: u8) -> bool {
    matches!(byte, b'*' | b'_' | b'~' | b'`' | b'>' | b'&' | b'<')
}

/// Whether [`one_line`], [`defuse`] and [`wrappable`] would leave `text` as it is, and it has
/// no byte `markup` picks: one line of printable ASCII with single spaces, nothing to defuse,
/// no run longer than [`RUN`] without a break. Most texts are, and this is one pass over their
/// bytes instead of one per step.
fn untouched(text: &str, markup: impl Fn(u8) -> bool) -> bool {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return false;
    }
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if markup(byte) || defuses_at(bytes, at) {
            return false;
        }
        match byte {
            b' ' if at > 0 && bytes[at - 1] == b' ' => return false,
            b' ' | b'-' | b'/' => run = 0,
            b'!'..=b'~' => {
                run += 1;
                if run > RUN {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Whether [`defuse`] puts a word joiner at `bytes[at]`: after an `@`, between the slashes of
/// `//` and the braces of `{{`, before the `.` of `www.` and the `:` of `mailto:` (any case).
fn defuses_at(bytes: &[u8], at: usize) -> bool {
    match bytes[at] {
        b'@' => true,
        b'/' | b'{' => at > 0 && bytes[at - 1] == bytes[at],
        b'.' => at >= 3 && bytes[at - 3..at].eq_ignore_ascii_case(b"www"),
        b':' => at >= 6 && bytes[at - 6..at].eq_ignore_ascii_case(b"mailto"),
        _ => false,
    }
}

/// `c`, U+FFFD for a control character, nothing for a bidi embedding, override or isolate.
fn printable(c: char) -> Option<char> {
    match c {
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
        c if c.is_control() => Some('\u{FFFD}'),
        c => Some(c),
    }
}

/// `text` with word joiners that stop links, mentions and Adaptive Cards' functions:
/// between the slashes of `//`, after `www` and `mailto` before `.` and `:`, after `@`,
/// between `{{`.
fn defuse(text: &str) -> Cow<'_, str> {
    // Nothing to defuse: no `@`, `//` or `{{`, and no `www.` or `mailto:` in any case.
    let bytes = text.as_bytes();
    if !(0..bytes.len()).any(|at| defuses_at(bytes, at)) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(defuse_each_char(text))
    }
}

/// [`defuse`], a character at a time.
fn defuse_each_char(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        let splits = match c {
            '/' => out.ends_with('/'),
            '{' => out.ends_with('{'),
            '.' => ends_with_word(&out, "www"),
            ':' => ends_with_word(&out, "mailto"),
            _ => false,
        };
        if splits {
            out.push(JOINER);
        }
        out.push(c);
        if c == '@' {
            out.push(JOINER);
        }
    }
    out
}

/// Whether `text` ends with `word`, in any ASCII case.
fn ends_with_word(text: &str, word: &str) -> bool {
    text.len() >= word.len()
        && text.is_char_boundary(text.len() - word.len())
        && text[text.len() - word.len()..].eq_ignore_ascii_case(word)
}

/// `text` with a zero-width space in every run of [`RUN`] characters that has no break
/// opportunity (whitespace, `-`, `/`, a zero-width space), never inside an emoji sequence or
/// before a combining mark.
fn wrappable(text: &str) -> Cow<'_, str> {
    // ASCII has no joining characters: only a run longer than `RUN` gets a break.
    if text.is_ascii() && longest_ascii_run(text) <= RUN {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(wrappable_each_char(text))
    }
}

/// [`wrappable`], a character at a time.
fn wrappable_each_char(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / RUN);
    let mut run = 0;
    let mut previous = ' ';
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '-' | '/' | ZWSP) {
            run = 0;
        } else {
            if run >= RUN && !joins(c) && previous != '\u{200D}' {
                out.push(ZWSP);
                run = 0;
            }
            run += 1;
        }
        out.push(c);
        previous = c;
    }
    out
}

/// The longest run of ASCII `text` with no break opportunity, as [`wrappable`] counts them.
fn longest_ascii_run(text: &str) -> usize {
    text.split(|c: char| c.is_ascii_whitespace() || matches!(c, '-' | '/' | '\u{0B}'))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// Whether `c` belongs to the character before it: a combining mark, a zero-width joiner, a
/// variation selector, a skin tone or a tag of an emoji sequence, or the word joiner that
/// defuses it.
fn joins(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{200D}'
        | JOINER
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '\u{E0020}'..='\u{E007F}')
}

/// `text` with CommonMark backslash escapes before everything that could start markup.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    // What only the start of a line makes: a list item (`- x`, `+ x`), a thematic break or
    // setext underline (`---`, `===`; a renderer may put this text on a line of its own).
    let marker = |c: char| {
        text.strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
    };
    let only = |c: char| text.starts_with(c) && text.chars().all(|t| t == c || t == ' ');
    if marker('-') || marker('+') || only('-') || only('=') {
        out.push('\\');
    }
    // An ordered list item: `1. x` (`1) x` has its `)` escaped below).
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let ordered = digits > 0
        && text[digits..]
            .strip_prefix('.')
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace));
    for (at, c) in text.char_indices() {
        let escape = match c {
            // CommonMark never opens or closes emphasis with an `_` between two letters or
            // digits (`churn_run_7`), and neither does Discord.
            '_' => !intraword(text, at),
            '\\' | '[' | ']' | '(' | ')' | '*' | '~' | '`' | '<' | '>' | '#' | '|' => true,
            '.' => ordered && at == digits,
            '&' => is_entity(&text[at + 1..]),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether the character at `at` in `text` stands between two ASCII letters or digits.
fn intraword(text: &str, at: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at..].chars().nth(1);
    before.is_some_and(|c| c.is_ascii_alphanumeric())
        && after.is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Whether `rest`, what follows an `&`, makes it an entity or character reference: `amp;`,
/// `#60;`, `#x3C;`.
pub(super) fn is_entity(rest: &str) -> bool {
    let name = rest.strip_prefix('#').unwrap_or(rest);
    let len = name.len()
        - name
            .trim_start_matches(|c: char| c.is_ascii_alphanumeric())
            .len();
    len > 0 && name[len..].starts_with(';')
}

/// `text` with a word joiner between two backticks, so it holds no ``` fence.
fn unfence(text: &str) -> String {
    if !text.contains("``") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '`' && out.ends_with('`') {
            out.push(JOINER);
        }
        out.push(c);
    }
    out
}

/// Slack's entity for `&`, `<` or `>`.
fn entity(byte: u8) -> Option<&'static str> {
    match byte {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The quick checks that let most texts through untouched agree with the passes they
        /// skip, on ASCII made of what those passes act on, and with a non-ASCII character.
        #[test]
        fn quick_checks_agree_with_each_char(
            ascii in "(//|\\{\\{|@|www\\.|MailTo:|[ \\t\\n\\r\\x0b-]|``|[&<>*~`_]|[ -~]|[a-z]{5,12}|[a-z0-9_]{28,40}){0,40}"
        ) {
            for text in [ascii.clone(), format!("{ascii}\u{2060}é")] {
                proptest::prop_assert_eq!(one_line(&text), one_line_each_char(&text));
                proptest::prop_assert_eq!(defuse(&text), defuse_each_char(&text));
                proptest::prop_assert_eq!(wrappable(&text), wrappable_each_char(&text));
                proptest::prop_assert_eq!(lines(&text), lines_each_char(&text));
                // What the one pass lets through, every step would have left as it is.
                if untouched(&text, is_mrkdwn_markup) {
                    proptest::prop_assert!(untouched(&text, |_| false));
                    proptest::prop_assert!(!text.bytes().any(is_mrkdwn_markup));
                }
                if untouched(&text, |_| false) {
                    proptest::prop_assert_eq!(&one_line_each_char(&text), &text);
                    proptest::prop_assert_eq!(&defuse_each_char(&text), &text);
                    proptest::prop_assert_eq!(&wrappable_each_char(&text), &text);
                }
            }
        }

        /// The one pass lets through most texts it may, all the way to the end: it is checked
        /// on what it says yes to, and it must say yes to the usual words.
        #[test]
        fn the_one_pass_lets_usual_words_through(
            words in "([A-Za-z0-9.,:;()'\"!?=+#%$-]{1,12} ){0,12}[a-z]{1,8}"
        ) {
            let plain_words = !words.to_ascii_lowercase().contains("www.");
            proptest::prop_assume!(plain_words && !words.to_ascii_lowercase().contains("mailto:"));
            proptest::prop_assert!(untouched(&words, |_| false), "{}", words);
            proptest::prop_assert_eq!(plain(&words), plain_each_step(&words));
        }
    }

    /// [`plain`] with every step taken, whatever the text.
    fn plain_each_step(text: &str) -> String {
        wrappable_each_char(&defuse_each_char(&one_line_each_char(text)))
    }

    #[test]
    fn the_one_pass_stops_at_what_each_step_acts_on() {
        for text in [
            " lead",
            "trail ",
            "two  spaces",
            "a//b",
            "a@b",
            "{{x}}",
            "WWW.x",
            "MailTo:x",
            "tab\there",
            "line\nbreak",
            "é",
            &"x".repeat(31),
        ] {
            assert!(!untouched(text, |_| false), "{text:?}");
        }
        for text in [
            "a/b",
            "{x}",
            "ww.x",
            "mail:x",
            &"x".repeat(30),
            "",
            "x-y",
            "v1.2 at 10:30",
        ] {
            assert!(untouched(text, |_| false), "{text:?}");
        }
        assert!(!untouched("a*b", is_mrkdwn_markup));
        assert_eq!(
            mrkdwn("churn_run_7 *now*"),
            "churn_run_7 \u{2217}now\u{2217}"
        );
    }

    #[test]
    fn markdown_escapes_what_could_start_markup() {
        assert_eq!(
            markdown("[Re-authenticate](x) **b** _i_ ~s~ `c` <img> # | \\"),
            "\\[Re-authenticate\\]\\(x\\) \\*\\*b\\*\\* \\_i\\_ \\~s\\~ \\`c\\` \\<img\\> \\# \\| \\\\"
        );
        assert_eq!(markdown("- item"), "\\- item");
        assert_eq!(markdown("+ item"), "\\+ item");
        assert_eq!(markdown("==="), "\\===");
        assert_eq!(markdown("- - -"), "\\- - -");
        assert_eq!(markdown(" \n "), "");
        assert_eq!(markdown("12. item"), "12\\. item");
        assert_eq!(markdown("12."), "12\\.");
        // Not list markers: nothing to escape.
        assert_eq!(markdown("-1.5 +3 0.31 v1. x"), "-1.5 +3 0.31 v1. x");
        assert_eq!(
            markdown("churn_run_7 _x x_ a__b"),
            "churn_run_7 \\_x x\\_ a\\_\\_b"
        );
        assert_eq!(markdown("AT&T &amp; &#60; &x"), "AT&T \\&amp; \\&\\#60; &x");
    }

    #[test]
    fn markdown_is_one_line() {
        assert_eq!(markdown("  a\n\n  b\r\n\tc  "), "a b c");
        assert_eq!(markdown("line\n===\n"), "line ===");
    }

    #[test]
    fn urls_and_mentions_are_defused_but_read_the_same() {
        let z = JOINER;
        assert_eq!(
            plain("https://evil.example //x www.a.b MAILTO:me@x"),
            format!("https:/{z}/evil.example /{z}/x www{z}.a.b MAILTO{z}:me@{z}x")
        );
        assert_eq!(plain("@everyone <@123>"), format!("@{z}everyone <@{z}123>"));
        assert_eq!(plain("{{DATE(x)}}"), format!("{{{z}{{DATE(x)}}}}"));
        assert_eq!(plain("a\u{202E}b\u{0}c"), "ab\u{FFFD}c");
    }

    #[test]
    fn long_runs_get_a_break_and_short_ones_none() {
        let guid = "831e1650-001e-001b-66ab-eeb76e069631";
        assert_eq!(plain(guid), guid);
        let path = "data/*_train_*.parquet";
        assert_eq!(plain(path), path);
        let long = "a".repeat(70);
        let broken = plain(&long);
        assert_eq!(broken.matches(ZWSP).count(), 2);
        assert_eq!(broken.replace(ZWSP, ""), long);
        // Not inside an emoji sequence: the family stays one picture.
        let family = format!("{}\u{1F468}\u{200D}\u{1F469}", "a".repeat(RUN - 1));
        assert!(!plain(&family).contains(ZWSP));
    }

    #[test]
    fn mrkdwn_replaces_formatting_and_escapes_entities() {
        assert_eq!(
            mrkdwn("> *b* _i_ ~s~ `c` <!channel> &"),
            "\u{203A} \u{2217}b\u{2217} \u{02CD}i\u{02CD} \u{223C}s\u{223C} \u{02CB}c\u{02CB} &lt;!channel&gt; &amp;"
        );
        assert_eq!(mrkdwn("a > b"), "a &gt; b");
        assert_eq!(mrkdwn("churn_run_7 2*3 a~b"), "churn_run_7 2*3 a~b");
        assert_eq!(mrkdwn("_x_"), "\u{02CD}x\u{02CD}");
    }

    #[test]
    fn fenced_text_keeps_lines_and_cannot_close_its_fence() {
        let z = JOINER;
        assert_eq!(
            fenced("a\r\n  ```b\n\t`c`"),
            format!("a\n  `{z}`{z}`b\n\t`c`")
        );
        assert_eq!(mrkdwn_fenced("x < y & z"), "x &lt; y &amp; z");
    }

    #[test]
    fn monospace_keeps_indentation() {
        assert_eq!(
            monospace("Traceback:\n  File \"a.py\"\n\tx"),
            "Traceback:\n\u{A0}\u{A0}File \"a.py\"\n\u{A0}\u{A0}\u{A0}\u{A0}x"
        );
    }

    #[test]
    fn cuts_leave_no_half_escape() {
        assert_eq!(cut_markdown("ab\\*cd", 4), format!("ab{ELLIPSIS}"));
        assert_eq!(cut_markdown("a\\\\bcd", 4), format!("a\\\\{ELLIPSIS}"));
        assert_eq!(cut_mrkdwn("ab&amp;cd", 5), format!("ab{ELLIPSIS}"));
        assert_eq!(cut_mrkdwn("short", 10), "short");
        assert_eq!(cut_markdown("ab_cd", 4), format!("ab{ELLIPSIS}"));
        assert_eq!(cut_mrkdwn("ab*cd", 4), format!("ab{ELLIPSIS}"));
        let mention = plain("ab@everyone");
        for cut in [
            cut_plain(&mention, 4),
            cut_markdown(&mention, 4),
            cut_mrkdwn(&mention, 4),
        ] {
            assert_eq!(cut, format!("ab{ELLIPSIS}"));
        }
    }
}
