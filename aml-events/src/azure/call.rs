//! One request of the client, described so that it can be sent again: method, URL, what goes
//! in its `Authorization` header, its body, which failures it is repeated after and whether
//! the deadline cuts it in flight.

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::options::AmlClientOptions;
use crate::{
    Secret,
    pipeline::{InFlight, Repeat},
};

/// What goes into the `Authorization` header.
#[derive(Clone, Copy)]
pub(super) enum Auth<'a> {
    /// An ARM token from the credential.
    Arm,
    /// A scoring key, if any (never an ARM token).
    Key(Option<&'a Secret>),
    /// Nothing (the discovery document).
    Anonymous,
}

pub(super) enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Multipart { zip: &'a [u8], definition: Vec<u8> },
}

/// One request, described so that it can be sent again.
pub(super) struct Call<'a> {
    pub(super) operation: &'static str,
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) auth: Auth<'a>,
    pub(super) payload: Payload<'a>,
    /// Which failures it is sent again after: from its method, unless the caller says
    /// otherwise where it makes the call.
    pub(super) repeat: Repeat,
    /// Whether the deadline cuts an attempt in flight: it does, unless the caller says
    /// otherwise where it makes the call.
    pub(super) in_flight: InFlight,
}

impl<'a> Call<'a> {
    pub(super) fn new(operation: &'static str, method: Method, url: Url) -> Self {
        Call {
            operation,
            repeat: Repeat::of(&method),
            method,
            url,
            auth: Auth::Arm,
            payload: Payload::Empty,
            in_flight: InFlight::CutAtDeadline,
        }
    }

    /// Sends it again after every transient failure, whatever its method: for a POST that
    /// changes nothing (scoring computes a prediction). Say why where it is used.
    pub(super) fn idempotent(mut self) -> Self {
        self.repeat = Repeat::Idempotent;
        self
    }

    /// Lets an attempt in flight finish rather than be cut at the deadline, retrying only
    /// when its whole attempt and the reserve still fit ([`InFlight::Finish`]): for a call
    /// whose answer is worth more than the deadline. Say why where it is used.
    pub(super) fn finishing(mut self, options: &AmlClientOptions) -> Self {
        self.in_flight = InFlight::Finish {
            attempt_timeout: options.request_timeout,
            reserve: options.reserve,
        };
        self
    }

    pub(super) fn get(operation: &'static str, url: Url) -> Self {
        Call::new(operation, Method::GET, url)
    }

    pub(super) fn json(mut self, body: &'a Value) -> Self {
        self.payload = Payload::Json(body);
        self
    }

    pub(super) fn auth(mut self, auth: Auth<'a>) -> Self {
        self.auth = auth;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: issue 13, "Idempotency from the method": `Call::new` took every method, POST
    // included, as safe to repeat.
    #[test]
    fn whether_a_call_may_be_repeated_follows_from_its_method() {
        let url = Url::parse("https://management.azure.com/x").unwrap();
        let call = |method| Call::new("test", method, url.clone());
        for method in [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(
                call(method.clone()).repeat == Repeat::Idempotent,
                "{method}"
            );
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(
                call(method.clone()).repeat == Repeat::IfUnprocessed,
                "{method}"
            );
        }
    }
}
