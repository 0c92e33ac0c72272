//! A problem in a routes file, said as `<file>:<line>: <key>: <problem>`, and how a TOML
//! parser's error becomes one (the key it is about, found from its span).

use std::{fmt, ops::Range, path::PathBuf};

/// A routes file that cannot be used: `<file>:<line>: <key>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RoutesError {
    /// The file, as named.
    pub file: PathBuf,
    /// 1-based; 0 when the file could not be read at all.
    pub line: usize,
    /// The key at fault (`targets.oncall.routing_key`, `routes[2].notify`, ...).
    pub key: String,
    /// What is wrong (never a secret's value).
    pub problem: String,
}

impl fmt::Display for RoutesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.problem)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                self.line,
                self.key,
                self.problem
            )
        }
    }
}

/// Builds a problem from the span it is at, the key at fault and what is wrong.
pub(super) type Problem<'a> = &'a dyn Fn(Range<usize>, &str, String) -> RoutesError;

/// The 1-based line of byte `offset` in `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The key a TOML error is about, and the problem: an unknown key's span is the key itself;
/// a bad value's key is the one written before the `=` that precedes it.
pub(super) fn describe_toml_error(
    text: &str,
    span: &Range<usize>,
    message: &str,
) -> (String, String) {
    let message = message.trim().to_owned();
    let spanned = text.get(span.clone()).unwrap_or_default().trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or(spanned);
        return (field.to_owned(), format!("unknown key; {message}"));
    }
    let before = &text[..span.start.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let key = before[line_start..]
        .rsplit_once('=')
        .map(|(head, _)| {
            head.trim_end()
                .rsplit(|c: char| c.is_whitespace() || c == '{' || c == ',')
                .next()
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned()
        })
        .filter(|key| !key.is_empty())
        .or_else(|| (!spanned.is_empty()).then(|| spanned.lines().next().unwrap_or("").to_owned()))
        .unwrap_or_else(|| "(file)".to_owned());
    (key, message)
}
