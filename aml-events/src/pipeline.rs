//! The one way this crate sends a request it may send again, for Azure's client and for the
//! notifier alike: attempts, retries when the request's [`Repeat`] allows, waits held against
//! the deadline in one place ([`crate::azure::retry`]), and the deadline itself.
//!
//! Each attempt goes out through a [`Transport`] and is timed here, by tokio
//! ([`Answer::exchange`]): a transport that stalls times out like a hung server, and under a
//! paused test clock every timeout, wait and deadline moves together. How an attempt still in
//! flight at the deadline is treated is the caller's choice ([`InFlight`]): cut with the
//! operation, or let finish, when hanging up on an answer costs more than waiting for it.
//!
//! It knows no error wording: each caller passes its own attempt, says which of its errors may
//! be retried ([`Retryable`]) and builds its own errors for an answer that was retried and for
//! the deadline.

use std::{future::Future, time::Duration};

use reqwest::{Method, StatusCode, header::HeaderMap};
use tokio::time::Instant;

use crate::{
    azure::retry::{self, RetryPolicy},
    transport::{BelowHttp, Transport, TransportError},
};

/// A client builder for one service, with its connect timeout and user agent, that follows no
/// redirect: a redirect would take a signed request, a key or a notification elsewhere, and
/// here can only be a misconfiguration; its 3xx is the answer. It sets no overall timeout:
/// requests sent through a [`Transport`] are timed by [`Answer::exchange`].
pub(crate) fn builder_following_no_redirect(
    connect_timeout: Duration,
    user_agent: &'static str,
) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
}

/// An HTTP client for one service, as [`builder_following_no_redirect`], that also times each
/// request itself, for callers that send with [`Answer::fetch`] (the ledger).
pub(crate) fn client_following_no_redirect(
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: &'static str,
) -> reqwest::Result<reqwest::Client> {
    builder_following_no_redirect(connect_timeout, user_agent)
        .timeout(request_timeout)
        .build()
}

/// Which failures a request may be sent again after (docs/actions.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Sending it twice is harmless: connect errors, timeouts, 408, 429, 500, 502, 503, 504.
    Idempotent,
    /// It must not run twice: only failures that prove it was not processed (no connection,
    /// a 429 or 503 refusal).
    IfUnprocessed,
    /// Deliberately at least once: connect errors, timeouts, 408, 429 and any 5xx; a 4xx
    /// refusal is final.
    AtLeastOnce,
}

impl Repeat {
    /// What the method promises: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent,
    /// POST and PATCH are not (RFC 9110 §9.2.2,
    /// <https://www.rfc-editor.org/rfc/rfc9110#section-9.2.2>).
    pub(crate) fn of(method: &Method) -> Repeat {
        match *method {
            Method::GET
            | Method::HEAD
            | Method::OPTIONS
            | Method::TRACE
            | Method::PUT
            | Method::DELETE => Repeat::Idempotent,
            _ => Repeat::IfUnprocessed,
        }
    }

    /// Whether an answer with `status` is worth sending the request again for.
    pub(crate) fn retries_status(self, status: StatusCode) -> bool {
        let status = status.as_u16();
        match self {
            Repeat::Idempotent => retry::is_retryable_status(status),
            Repeat::IfUnprocessed => retry::is_retryable_status_once_only(status),
            Repeat::AtLeastOnce => retry::is_retryable_status_at_least_once(status),
        }
    }

    /// Whether a failure below HTTP is worth sending the request again for: a failed
    /// connection always (nothing went out); a timeout or reset only when the request may be
    /// repeated, since the receiver may have acted on it. Reads a [`TransportError`], or
    /// reqwest's own error.
    pub(crate) fn retries_transport(self, error: &impl BelowHttp) -> bool {
        error.failed_to_connect()
            || (self != Repeat::IfUnprocessed && crate::transport::transport_is_transient(error))
    }
}

/// An attempt's error that may or may not be worth another attempt.
pub(crate) trait Retryable {
    /// Whether to try again after it, for a request that repeats as `repeat`.
    fn retryable(&self, repeat: Repeat) -> bool;
}

/// An HTTP answer, its body read up to a bound.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) latency: Duration,
}

/// How much of an answer's body is read; the rest is dropped with the connection, so no
/// answer (an endless stream, a misdirected download) can grow memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

impl BodyLimit {
    /// A notification target's answer: only a status and an error text are read from it.
    pub(crate) const TARGET: BodyLimit = BodyLimit(64 * 1024);
    /// An Azure answer: JSON the client parses (a run's details, a job), far smaller than this.
    pub(crate) const AZURE: BodyLimit = BodyLimit(8 * 1024 * 1024);
}

impl Answer {
    /// Builds `request`, hands it to `transport` and reads the answer, its body up to `limit`,
    /// timing it. The attempt ends after `timeout` whatever the transport does, sending and
    /// reading the body included: the timeout is ours, not the transport's, so that a stand-in
    /// that stalls times out like a hung server, under a paused clock too.
    pub(crate) async fn exchange(
        transport: &dyn Transport,
        request: reqwest::RequestBuilder,
        timeout: Duration,
        limit: BodyLimit,
    ) -> Result<Answer, TransportError> {
        let request = request
            .build()
            .map_err(|error| TransportError::from_reqwest(error, None))?;
        let started = Instant::now();
        let exchange = async {
            let mut response = transport.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while body.len() < limit.0 {
                let chunk = response
                    .chunk()
                    .await
                    .map_err(|error| TransportError::from_reqwest(error, None))?;
                let Some(chunk) = chunk else { break };
                let room = limit.0 - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(Answer {
                status,
                headers,
                body,
                latency: started.elapsed(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(TransportError::TimedOut { after: timeout }))
    }

    /// Builds `request`, hands it to `transport` and reads the whole answer, timing it; the
    /// reqwest client's own timeout bounds it (the ledger's, which times each request itself).
    pub(crate) async fn fetch(
        transport: &dyn Transport,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, TransportError> {
        let below_http = |error| TransportError::from_reqwest(error, None);
        let request = request.build().map_err(below_http)?;
        let started = Instant::now();
        let response = transport.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(below_http)?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
            latency: started.elapsed(),
        })
    }

    /// A header's value, when it is text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// When an operation must be done, and how long it had when it started (for its error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) budget: Duration,
}

impl Deadline {
    /// The deadline of an operation starting now with `budget`, or by `outer` if that is
    /// sooner (the end of the current delivery).
    pub(crate) fn starting_now(budget: Duration, outer: Option<Instant>) -> Deadline {
        let now = Instant::now();
        let own = retry::deadline_after(now, budget);
        let at = outer.map_or(own, |outer| outer.min(own));
        Deadline {
            at,
            budget: at.saturating_duration_since(now),
        }
    }
}

/// How an attempt still in flight at the deadline is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InFlight {
    /// Today's behaviour: the whole operation is cut at the deadline, an attempt in flight
    /// included.
    CutAtDeadline,
    /// An attempt in flight is never cut by the deadline: it ends with its answer or its own
    /// timeout. A retry starts only when the time left at its start covers `attempt_timeout +
    /// reserve` (the reserve leaves the caller time to record the effect); otherwise the last
    /// outcome is returned as it is (the last answer, e.g. a 503, or the last error). The first
    /// attempt is sent when the deadline has not passed yet; after it, the deadline error
    /// without sending.
    ///
    /// For a request whose receiver may act on it (a notification posted, a model scored):
    /// hanging up in the last milliseconds of the budget would lose an answer the receiver
    /// sends anyway, and report a failure for an effect that happened.
    Finish {
        /// The longest one attempt takes: the timeout [`Answer::exchange`] holds it to.
        attempt_timeout: Duration,
        /// Time kept after the last attempt, for the caller's own work.
        reserve: Duration,
    },
}

impl InFlight {
    /// What a retry must still find before the deadline when it starts: nothing when the
    /// deadline cuts it anyway; its whole attempt and the reserve when it finishes.
    fn needed_at_retry(self) -> Duration {
        match self {
            InFlight::CutAtDeadline => Duration::ZERO,
            InFlight::Finish {
                attempt_timeout,
                reserve,
            } => attempt_timeout.saturating_add(reserve),
        }
    }
}

/// What the pipeline needs of its caller for one request.
pub(crate) struct Request<'a, E> {
    /// Named in the debug line of each retry.
    pub(crate) operation: &'static str,
    /// Which failures it is sent again after.
    pub(crate) repeat: Repeat,
    /// How often and how patiently.
    pub(crate) policy: &'a RetryPolicy,
    /// When to give up.
    pub(crate) deadline: Deadline,
    /// The caller's error for an answer it retried and then could not wait for again.
    pub(crate) answered: &'a (dyn Fn(Answer) -> E + Sync),
    /// The caller's error for the deadline, given the failure before the cut attempt.
    pub(crate) too_late: &'a (dyn Fn(Duration, Option<E>) -> E + Sync),
}

/// [`send_with`] an attempt in flight cut at the deadline ([`InFlight::CutAtDeadline`]).
pub(crate) async fn send<E, A, F>(request: Request<'_, E>, attempt: A) -> Result<Answer, E>
where
    E: Retryable,
    A: FnMut() -> F,
    F: Future<Output = Result<Answer, E>>,
{
    send_with(request, InFlight::CutAtDeadline, attempt).await
}

/// Sends by `attempt` until an answer or error is final, retrying as the request allows,
/// within its deadline, treating an attempt in flight at the deadline as `in_flight` says.
/// Returns the last answer, whatever its status.
pub(crate) async fn send_with<E, A, F>(
    request: Request<'_, E>,
    in_flight: InFlight,
    mut attempt: A,
) -> Result<Answer, E>
where
    E: Retryable,
    A: FnMut() -> F,
    F: Future<Output = Result<Answer, E>>,
{
    let deadline = request.deadline;
    let needed = in_flight.needed_at_retry();
    // The failure before the attempt the deadline cut, if any: the cause to report. Only a
    // cut has one; an attempt that finishes reports its own outcome.
    let cut = in_flight == InFlight::CutAtDeadline;
    let mut last = None;
    let attempts = async {
        let policy = request.policy;
        let mut retry = 0;
        loop {
            let outcome = attempt().await;
            let now = Instant::now();
            let asked = match &outcome {
                _ if retry >= policy.max_retries => return outcome,
                Ok(answer) if request.repeat.retries_status(answer.status) => {
                    retry::asked_after_answer(&answer.headers, policy.backoff(retry))
                }
                Err(error) if error.retryable(request.repeat) => policy.backoff(retry),
                _ => return outcome,
            };
            // The wait (and, for an attempt that finishes, the attempt after it) would end
            // past the deadline: report what happened rather than wait for nothing.
            let Some(wait) = retry::wait_leaving(asked, needed, now, deadline.at) else {
                return outcome;
            };
            tracing::debug!(
                operation = request.operation,
                status = outcome.as_ref().ok().map(|answer| answer.status.as_u16()),
                retry = retry + 1,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying a request"
            );
            if cut {
                last = Some(match outcome {
                    Ok(answer) => (request.answered)(answer),
                    Err(error) => error,
                });
            }
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    };
    match in_flight {
        InFlight::CutAtDeadline => match tokio::time::timeout_at(deadline.at, attempts).await {
            Ok(result) => result,
            Err(_) => Err((request.too_late)(deadline.budget, last)),
        },
        // Every retry was checked to fit; only the first attempt can start too late.
        InFlight::Finish { .. } if Instant::now() >= deadline.at => {
            Err((request.too_late)(deadline.budget, None))
        }
        InFlight::Finish { .. } => attempts.await,
    }
}
