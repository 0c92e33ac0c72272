//! [`Seconds`]: a duration as a message shows it, one way for every error of the crate that
//! names a time (an attempt's timeout, an operation's deadline).
//!
//! It imports nothing of the crate, so any module can use it.

use std::{fmt, time::Duration};

/// A duration as a message shows it: `300 ms`, `2 s`, `24.9 s`.
pub(crate) struct Seconds(pub(crate) Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis < 1000 {
            return write!(f, "{millis} ms");
        }
        let tenths = (millis + 50) / 100;
        match tenths % 10 {
            0 => write!(f, "{} s", tenths / 10),
            tenth => write!(f, "{}.{tenth} s", tenths / 10),
        }
    }
}
