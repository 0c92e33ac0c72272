//! The table service's refusals as [`LedgerError`]s, with anything key-like masked: an
//! `AuthenticationFailed` message quotes the signature it expected.

use serde_json::Value;

use super::entity::text;
use crate::{ledger::LedgerError, pipeline::Answer, redact};

/// The most of a service message an error keeps.
const MAX_MESSAGE_CHARS: usize = 200;

/// The service's refusal: its `odata.error` code and message, with anything that looks like a
/// key, signature or token masked (a `AuthenticationFailed` message quotes the signature).
pub(super) fn status_error(
    operation: &'static str,
    endpoint: &str,
    answer: &Answer,
    secrets: &[&str],
) -> LedgerError {
    let body: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let error = body.as_ref().and_then(|body| body.get("odata.error"));
    let code = error.and_then(|error| text(error, "code"));
    let message = error
        .and_then(|error| error.get("message"))
        .and_then(|message| message.get("value").or(Some(message)))
        .and_then(Value::as_str)
        .map(|message| {
            let first = message.lines().next().unwrap_or_default();
            redact::text(&mask_key_like(first), secrets, MAX_MESSAGE_CHARS)
        });
    LedgerError::Status {
        operation,
        endpoint: endpoint.to_owned(),
        status: answer.status.as_u16(),
        code,
        message,
    }
}

/// `text` with every run of 24 or more base64 characters replaced by [`redact::MASK`]: account
/// keys, HMAC signatures and token segments are such runs; words and ids are not.
pub(super) fn mask_key_like(text: &str) -> String {
    let is_key_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    let mut shown = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, shown: &mut String| {
        if run.len() >= 24 {
            shown.push_str(redact::MASK);
        } else {
            shown.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if is_key_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut shown);
            shown.push(c);
        }
    }
    flush(&mut run, &mut shown);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::table::connection::DEV_KEY;

    #[test]
    fn key_like_runs_are_masked() {
        let message = format!(
            "Server failed to authenticate the request. The MAC signature found in the HTTP request 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/=' is not the same; key {DEV_KEY}"
        );
        let masked = mask_key_like(&message);
        assert!(
            !masked.contains("AbCdEf") && !masked.contains("Eby8"),
            "{masked}"
        );
        assert!(masked.starts_with("Server failed to authenticate the request."));
    }
}
