//! The one way anything that may hold a secret is shown: a URL (webhook and scoring URLs carry
//! keys in their path or query), or text a third party sent back (an error body may echo the
//! client secret or the identity header).
//!
//! Secrets are removed *before* text is shortened, so a secret that straddles the cut can never
//! leave its first characters behind.
//!
//! It does not decide what is secret in free text: callers pass the values they sent.

use std::borrow::Cow;

use url::Url;

/// What stands in for a removed secret.
pub const MASK: &str = "***";

/// Query parameters known to carry no secret; every other query value is masked.
const PLAIN_QUERY_KEYS: [&str; 2] = ["functionName", "api-version"];

/// How much of a URL a message may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// `scheme://host[:port]/…`: for URLs whose path is the secret (Slack, Teams, Discord
    /// webhooks, scoring endpoints).
    Origin,
    /// `scheme://host[:port]/path?name=***`: the path, and the query with every value but
    /// `functionName` and `api-version` masked (Functions keys travel as `?code=`).
    Path,
}

/// `url` as a message may show it; never its user name or password.
pub fn url(url: &Url, show: Show) -> String {
    let host = url.host_str().unwrap_or_default();
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let origin = format!("{}://{host}{port}", url.scheme());
    match show {
        Show::Origin => format!("{origin}/…"),
        Show::Path => {
            let mut shown = format!("{origin}{}", url.path());
            if url.query().is_some() {
                let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = url
                    .query_pairs()
                    .map(|(key, value)| {
                        let plain = PLAIN_QUERY_KEYS.contains(&key.as_ref());
                        (key, if plain { value } else { Cow::Borrowed(MASK) })
                    })
                    .collect();
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish();
                shown.push('?');
                shown.push_str(&query);
            }
            shown
        }
    }
}

/// [`url`](fn@url) for text that may not be a URL at all: `(invalid URL)` then, never the text itself.
pub fn url_text(text: &str, show: Show) -> String {
    match Url::parse(text) {
        Ok(parsed) => url(&parsed, show),
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// A short, stable name for a secret value (a webhook URL, a scoring URI): the first 16 hex
/// digits of its SHA-256. Same value, same name, on every instance; the value cannot be read
/// back from it, so it may be stored and shown (the ledger's keys, `history`).
pub fn fingerprint(secret: &str) -> String {
    sha256_hex(secret, 8)
}

/// The first `bytes` bytes (at most 32) of `text`'s SHA-256, in lowercase hex: the one digest
/// behind every fingerprint, key hash and message id.
pub fn sha256_hex(text: &str, bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(2 * bytes);
    for byte in digest.iter().take(bytes) {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

/// `text` with every non-empty `secrets` value replaced by [`MASK`], then cut to `max_chars`
/// characters (an ellipsis marks the cut). Longer secrets are removed first, so one that
/// contains another goes whole.
pub fn text(text: &str, secrets: &[&str], max_chars: usize) -> String {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|secret| !secret.is_empty())
        .collect();
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    let mut clean = Cow::Borrowed(text);
    for secret in secrets {
        if clean.contains(secret) {
            clean = Cow::Owned(clean.replace(secret, MASK));
        }
    }
    match clean.char_indices().nth(max_chars) {
        None => clean.into_owned(),
        Some((cut, _)) => format!("{}…", &clean[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_hides_path_query_and_user() {
        let hook = Url::parse("https://user:pw@hooks.slack.com/services/T0/B0/SECRET?x=1").unwrap();
        assert_eq!(url(&hook, Show::Origin), "https://hooks.slack.com/…");
        let score = Url::parse("http://127.0.0.1:8081/score?code=k").unwrap();
        assert_eq!(url(&score, Show::Origin), "http://127.0.0.1:8081/…");
    }

    #[test]
    fn path_masks_every_query_value_but_the_plain_ones() {
        let webhook = Url::parse(
            "http://127.0.0.1:8080/runtime/webhooks/eventgrid?functionName=RunCompleted&code=s3cr3t&sig=abc",
        )
        .unwrap();
        assert_eq!(
            url(&webhook, Show::Path),
            "http://127.0.0.1:8080/runtime/webhooks/eventgrid?functionName=RunCompleted&code=***&sig=***"
        );
        let token = Url::parse("https://login.example.com/tenant/oauth2/v2.0/token").unwrap();
        assert_eq!(
            url(&token, Show::Path),
            "https://login.example.com/tenant/oauth2/v2.0/token"
        );
        assert_eq!(url_text("not a url s3cr3t", Show::Path), "(invalid URL)");
    }

    // See: issue 13, "Redact, then truncate": a secret straddling the cut leaked its start.
    #[test]
    fn a_secret_straddling_the_cut_leaves_nothing_behind() {
        let secret = "SUPERSECRETVALUE";
        let body = format!("{}{secret} and more", "x".repeat(290));
        let shown = text(&body, &[secret], 300);
        assert!(!shown.contains("SUPER"), "{shown}");
        assert!(
            shown.starts_with(&"x".repeat(290)) && shown.contains(MASK),
            "{shown}"
        );
    }

    #[test]
    fn fingerprints_are_stable_short_and_distinct() {
        let a = fingerprint("https://hooks.slack.com/services/T0/B0/A");
        assert_eq!(a, fingerprint("https://hooks.slack.com/services/T0/B0/A"));
        assert_eq!(a.len(), 16);
        assert_ne!(a, fingerprint("https://hooks.slack.com/services/T0/B0/B"));
    }

    #[test]
    fn digests_are_sha256_in_lowercase_hex() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assert_eq!(
            sha256_hex("abc", 32),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex("abc", 4), "ba7816bf");
    }

    #[test]
    fn longer_secrets_go_first_and_empty_ones_are_ignored() {
        assert_eq!(text("abc abcdef", &["abc", "abcdef", ""], 100), "*** ***");
        assert_eq!(text("plain", &[], 3), "pla…");
    }
}
