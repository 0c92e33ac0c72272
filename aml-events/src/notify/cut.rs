//! Cutting a text to a length: the one way every renderer keeps within its vendor's limits.
//!
//! [`limit`] keeps a text's start, [`limit_end`] its end (for a traceback, whose exception
//! line comes last); both count characters, never split one, and mark the cut with
//! [`ELLIPSIS`]. [`non_blank`] picks a fallback for a text with nothing to show. Nothing here
//! knows a vendor's format or escapes anything.

use std::borrow::Cow;

/// What ends a text [`limit`] cut, so a reader sees that something is missing.
pub const ELLIPSIS: char = '\u{2026}';

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
