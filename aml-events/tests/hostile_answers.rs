//! Whatever a third party answers, the client neither panics nor stalls nor leaks:
//! property tests over the values a server controls. Any `Retry-After` / `retry-after-ms`
//! header yields a wait that ends before the deadline (or none), and a secret echoed anywhere
//! in an error body leaves no trace once [`aml_events::redact::text`] has shown it, whatever
//! the length it is cut to.
//!
//! Thousands of cases per property, yet the file runs in a second or two in debug builds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aml_events::{azure::retry, redact};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::time::Instant;

/// The headers a server paces retries with.
const WAIT_HEADERS: [&str; 3] = ["retry-after", "retry-after-ms", "x-ms-retry-after-ms"];

/// The last second HTTP dates can name (9999-12-31T23:59:59Z).
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// What a server may put in a wait header: numbers of any size, dates of any year, and text.
fn wait_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<u128>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0..=LAST_HTTP_DATE)
            .prop_map(|secs| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        Just("10000000000000000000".to_owned()),
        "[ -~]{0,40}",
        "[0-9 .+-]{0,30}",
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (any::<u64>(), 0..1_000_000_000u32).prop_map(|(secs, nanos)| Duration::new(secs, nanos)),
        (0..120_000u64).prop_map(Duration::from_millis),
        Just(Duration::MAX),
        Just(Duration::ZERO),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    // See: issue 13, "Retry-After of any size".
    #[test]
    fn any_wait_a_server_asks_for_ends_before_the_deadline(
        values in proptest::collection::vec((0..WAIT_HEADERS.len(), wait_value()), 0..3),
        fallback in duration(),
        left_ms in 0..60_000u64,
    ) {
        let mut headers = HeaderMap::new();
        for (name, value) in &values {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(WAIT_HEADERS[*name], value);
            }
        }
        let now = Instant::now();
        let left = Duration::from_millis(left_ms);
        let deadline = now + left;

        let _ = retry::retry_after(&headers, SystemTime::now());
        if let Some(wait) = retry::wait_after_answer(&headers, fallback, now, deadline) {
            prop_assert!(wait < left, "{wait:?} with {left:?} left, headers {headers:?}");
        }
    }

    // See: issue 13, "Retry-After of any size".
    #[test]
    fn any_wait_is_held_against_the_deadline(
        asked in duration(),
        left in duration(),
        past in 0..10_000u64,
    ) {
        let now = Instant::now();
        // A deadline ahead of now, as far as the platform allows, or one already past.
        if let Some(deadline) = now.checked_add(left) {
            if let Some(wait) = retry::wait_within(asked, now, deadline) {
                prop_assert!(wait < left && wait == asked);
            } else {
                prop_assert!(asked >= left);
            }
        }
        if let Some(earlier) = now.checked_sub(Duration::from_millis(past)) {
            prop_assert_eq!(retry::wait_within(asked, now, earlier), None);
        }
    }

    // See: issue 13, "Redact, then truncate".
    #[test]
    fn a_secret_anywhere_leaves_no_trace_whatever_the_cut(
        text in "[a-z ]{0,600}",
        secret in "[A-Z0-9]{8,40}",
        at in any::<prop::sample::Index>(),
        max_chars in 0..700usize,
    ) {
        let at = at.index(text.len() + 1);
        let body = format!("{}{secret}{}", &text[..at], &text[at..]);

        let shown = redact::text(&body, &[&secret], max_chars);

        prop_assert!(!shown.contains(&secret[..4]), "{shown:?}");
        prop_assert!(shown.chars().count() <= max_chars + 1, "{shown:?}");
    }
}
