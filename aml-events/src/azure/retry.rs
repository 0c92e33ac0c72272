//! When and how long to wait before trying a call to Azure again (docs/actions.md).
//!
//! The rules: retry connect errors, timeouts and the statuses 408, 429, 500, 502, 503 and 504;
//! wait with exponential backoff and equal jitter, or what `Retry-After` asks (delta-seconds or
//! an HTTP date; Azure's `retry-after-ms` too); never wait past the call's deadline. A request
//! that is not idempotent (a POST that starts a run) is retried only when it cannot have
//! reached Azure's logic: a failed connection, or a 429 / 503 refusal. A notification is
//! deliberately at least once: connect errors, timeouts, 408, 429 and any 5xx.
//!
//! Every wait, whoever asked for it, goes through [`wait_within`], the one place that holds it
//! against the deadline: a server's answer (`Retry-After: 10000000000000000000`, a date in the
//! year 9999) can make a call give up early, never crash or stall a worker.
//!
//! Instants are tokio's ([`tokio::time::Instant`]), like every deadline and elapsed time in this
//! crate: under a paused test clock (`tokio::time::pause()`) the waits, the attempts' timeouts
//! and the time left before a deadline then move together.
//!
//! This module decides; it does not send. The loop that sends lives in the crate's pipeline.
//! See <https://learn.microsoft.com/azure/architecture/best-practices/retry-service-specific>.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};
use tokio::time::Instant;

/// How often and how patiently a call is retried. The call's deadline
/// ([`super::AmlClientOptions::deadline`]) bounds everything regardless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles with each further one.
    pub initial_backoff: Duration,
    /// Ceiling of the exponential backoff (`Retry-After` may ask for more, within the deadline).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Four retries from 500 ms, capped at 8 s: about 7.5 s of waiting at most, well inside the
    /// default 25 s deadline.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retry` (0 for the first): the exponential step
    /// `min(max_backoff, initial_backoff * 2^retry)`, half of it fixed and half random ("equal
    /// jitter"), so that concurrent callers spread out but none retries at once.
    /// See <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>.
    pub fn backoff(&self, retry: u32) -> Duration {
        let step = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = step / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half.saturating_add(Duration::from_nanos(fastrand::u64(0..=jitter_nanos)))
    }
}

/// Whether an HTTP status is worth retrying: 408, 429, 500, 502, 503, 504.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a status is retryable for a request that must not run twice: only refusals that
/// say the request was not processed (429 Too Many Requests, 503 Service Unavailable).
pub(crate) fn is_retryable_status_once_only(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// Whether a status is retried for a request delivered at least once (a notification): 408,
/// 429 and any 5xx; a 4xx refusal is final.
pub(crate) fn is_retryable_status_at_least_once(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// How long the server asked to wait, from `retry-after-ms` / `x-ms-retry-after-ms`
/// (milliseconds, sent by some Azure services) or `Retry-After` (delta-seconds or an HTTP date,
/// RFC 9110 §10.2.3). A date in the past means no wait. `None` when absent or unreadable.
/// See <https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    const MS_HEADERS: [HeaderName; 2] = [
        HeaderName::from_static("retry-after-ms"),
        HeaderName::from_static("x-ms-retry-after-ms"),
    ];
    for name in &MS_HEADERS {
        if let Some(ms) = header_text(headers, name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = header_text(headers, &RETRY_AFTER)?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before trying again, or `None` to give up now: `asked` when it ends before
/// `deadline`, counted from `now`. A wait that would end at or past the deadline is not worth
/// starting (the call would fail at the deadline anyway), so the caller reports what it has.
///
/// Never panics and never returns more than `deadline - now`, whatever `asked` is: there is no
/// `Instant + Duration` here to overflow.
pub fn wait_within(asked: Duration, now: Instant, deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(now);
    (asked < left).then_some(asked)
}

/// The wait after an answer: what its headers ask ([`retry_after`]), else `fallback` (the
/// backoff, or a poll interval), held against the deadline by [`wait_within`].
pub fn wait_after_answer(
    headers: &HeaderMap,
    fallback: Duration,
    now: Instant,
    deadline: Instant,
) -> Option<Duration> {
    wait_within(asked_after_answer(headers, fallback), now, deadline)
}

/// What an answer asks to wait ([`retry_after`]), else `fallback`; not yet held against any
/// deadline.
pub(crate) fn asked_after_answer(headers: &HeaderMap, fallback: Duration) -> Duration {
    retry_after(headers, SystemTime::now()).unwrap_or(fallback)
}

/// The wait before a retry that must still find `needed` before the deadline when it starts
/// (its own timeout, and the reserve its caller keeps): `asked` when `asked + needed` ends
/// before `deadline`, else `None`. With `needed` zero, this is [`wait_within`].
pub(crate) fn wait_leaving(
    asked: Duration,
    needed: Duration,
    now: Instant,
    deadline: Instant,
) -> Option<Duration> {
    wait_within(asked.saturating_add(needed), now, deadline).map(|_| asked)
}

/// `now + budget`, or the latest instant the platform can represent after `now` when the sum
/// would overflow (a budget of `Duration::MAX` means "no deadline" in practice).
pub(crate) fn deadline_after(now: Instant, budget: Duration) -> Instant {
    let mut budget = budget;
    loop {
        if let Some(deadline) = now.checked_add(budget) {
            return deadline;
        }
        // Halving reaches zero, which always adds, in at most 128 steps.
        budget /= 2;
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            for (retry, step) in [
                (0, 100),
                (1, 200),
                (2, 400),
                (3, 800),
                (4, 1000),
                (40, 1000),
            ] {
                let wait = policy.backoff(retry);
                let step = Duration::from_millis(step);
                assert!(wait >= step / 2 && wait <= step, "retry {retry}: {wait:?}");
            }
        }
    }

    #[test]
    fn only_the_documented_statuses_are_retried() {
        let retried: Vec<u16> = (100..600).filter(|s| is_retryable_status(*s)).collect();
        assert_eq!(retried, [408, 429, 500, 502, 503, 504]);
    }

    #[test]
    fn reads_retry_after_as_seconds_date_or_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);

        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));

        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));

        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&earlier).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));

        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);

        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_millis(250)));
    }

    // See: issue 13, "Retry-After of any size".
    #[test]
    fn waits_end_before_the_deadline_or_not_at_all() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(10);
        let asked = Duration::from_secs(3);
        assert_eq!(wait_within(asked, now, deadline), Some(asked));
        assert_eq!(wait_within(Duration::from_secs(10), now, deadline), None);
        assert_eq!(wait_within(Duration::MAX, now, deadline), None);
        assert_eq!(wait_within(Duration::ZERO, deadline, now), None, "past it");
        let far = deadline_after(now, Duration::MAX);
        assert!(far > deadline);
        assert_eq!(wait_within(Duration::MAX, now, far), None);
    }

    #[test]
    fn a_retry_that_must_leave_time_starts_only_when_it_does() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(10);
        let asked = Duration::from_secs(1);
        let needed = |secs| Duration::from_secs(secs);
        assert_eq!(wait_leaving(asked, needed(8), now, deadline), Some(asked));
        assert_eq!(wait_leaving(asked, needed(9), now, deadline), None);
        assert_eq!(wait_leaving(asked, Duration::MAX, now, deadline), None);
        assert_eq!(
            wait_leaving(asked, Duration::ZERO, now, deadline),
            wait_within(asked, now, deadline)
        );
    }
}
