//! How a delivery's time is shared out: the reserve left for recording what was done, and
//! how long one notification attempt may take, so that no retry starts without the time to
//! finish it. Read by the context that builds the clients and by the actions that use them.

use std::time::Duration;

use aml_events::notify::NotifierOptions;

/// How long before a delivery's answer its effects stop, to leave time to record them: a
/// tenth of the deadline, at most two seconds.
pub fn reserve(deadline: Duration) -> Duration {
    (deadline / 10).min(Duration::from_secs(2))
}

/// How the notifier sends within a delivery of `deadline`: each attempt at most 10 s, or less
/// than half of what is left once the reserve for recording is set aside, so that a retry can
/// start and finish in time; no retry starts without that time.
pub fn notifier_options(deadline: Duration) -> NotifierOptions {
    let reserve = reserve(deadline);
    NotifierOptions {
        deadline,
        request_timeout: ((deadline - reserve) / 2).min(Duration::from_secs(10)),
        reserve,
        ..NotifierOptions::default()
    }
}
