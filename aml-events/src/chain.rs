//! An error with every cause after it, on one line: `request to Azure ML failed during get run:
//! error sending request: client error (Connect): tcp connect error: Connection refused (os
//! error 111)`. Outcomes and logs print errors through [`chain`] so they say *why* a call failed,
//! not only which call.
//!
//! Errors in this workspace never interpolate their `#[source]` into their own message, so each
//! link is printed once; a cause whose text the chain already holds (wrappers that repeat their
//! inner message) is skipped.

use std::{error::Error, fmt};

/// Displays an error followed by each of its sources, separated by `: `.
#[derive(Clone, Copy)]
pub struct Chain<'a>(&'a (dyn Error + 'static));

/// The whole chain of `error`, for a message or a log field (`error = %chain(&err)`).
pub fn chain<'a>(error: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(error)
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !text.is_empty() && !written.contains(&text) {
                written.push_str(": ");
                written.push_str(&text);
            }
            source = cause.source();
        }
        f.write_str(&written)
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("request to Azure ML failed during get run")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("error sending request")]
    struct Middle(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn prints_every_cause_once() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let error = Outer(Middle(refused));
        assert_eq!(
            chain(&error).to_string(),
            "request to Azure ML failed during get run: error sending request: connection refused"
        );
        let repeated = Repeats(std::io::Error::other("timed out"));
        assert_eq!(chain(&repeated).to_string(), "timed out");
    }
}
