//! An error's text as a notice carries it, and the one reading of it every renderer shares:
//! which line says what went wrong (a Python traceback's exception line, which comes last), and
//! what is left to show under it.

/// An error's text, as an event or an answer gave it (untrusted: renderers escape it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorText {
    /// The whole text: a message, or a traceback with its lines.
    pub text: String,
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
    /// traceback; else the last warning line (`UserWarning: ...`), so a warning printed after
    /// the exception (`Warning: the job will be retried`) never hides it; else the first line
    /// that is not blank. Empty when the whole text is blank.
    pub fn exception_line(&self) -> &str {
        let last = |kind: Kind| {
            self.lines()
                .map(str::trim)
                .filter(|line| kind_of(line) == Some(kind))
                .last()
        };
        last(Kind::Exception)
            .or_else(|| last(Kind::Warning))
            .or_else(|| self.lines().map(str::trim).find(|line| !line.is_empty()))
            .unwrap_or("")
    }

    /// What the block under the exception line shows: [`details`](ErrorText::details) when the
    /// line was shown whole, else the whole text ([`trimmed`](ErrorText::trimmed)), so a cut
    /// line's end is read in the block. Each renderer judges `line_whole` in its own format.
    pub fn under_line(&self, line_whole: bool) -> String {
        if line_whole {
            self.details()
        } else {
            self.trimmed()
        }
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
        block(&lines)
    }

    /// The whole text, blank lines at either end dropped, indentation kept: what the block
    /// under the exception line shows when a card had to cut that line, so the line's end
    /// (where a long message often says its cause) is still read, in the block.
    pub fn trimmed(&self) -> String {
        block(&self.lines().collect::<Vec<_>>())
    }
}

/// `lines` without the blank ones at either end, each without trailing whitespace, joined.
fn block(lines: &[&str]) -> String {
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

/// What a Python exception line names: an exception, or only a warning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exception,
    Warning,
}

/// The endings of Python's exception names: `ValueError`, `UserErrorException`, `SystemExit`,
/// `KeyboardInterrupt`, `StopIteration`.
/// See <https://docs.python.org/3/library/exceptions.html#exception-hierarchy>
const EXCEPTION_ENDINGS: [&str; 5] = ["Error", "Exception", "Exit", "Interrupt", "Iteration"];

/// What `line` (trimmed) is, when it is a Python exception line: a dotted name, alone or
/// followed by `:`, whose last part ends in one of [`EXCEPTION_ENDINGS`] (an exception) or in
/// `Warning` (a warning: `UserWarning`, `DeprecationWarning`).
fn kind_of(line: &str) -> Option<Kind> {
    let name = line.split_once(':').map_or(line, |(name, _)| name);
    let last = name.rsplit('.').next().unwrap_or(name);
    let is_identifier = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    if !name.split('.').all(is_identifier) {
        None
    } else if EXCEPTION_ENDINGS.iter().any(|end| last.ends_with(end)) {
        Some(Kind::Exception)
    } else if last.ends_with("Warning") {
        Some(Kind::Warning)
    } else {
        None
    }
}
