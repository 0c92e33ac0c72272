//! [`AmlClientOptions`]: how the client talks to Azure (endpoint, token scope, timeouts, retries,
//! deadline), with defaults for the public cloud.

use std::time::Duration;

use url::Url;

use super::retry::RetryPolicy;

/// How the client talks to Azure. `Default` is the public cloud with the delivery's budget
/// (docs/actions.md).
#[derive(Debug, Clone, PartialEq)]
pub struct AmlClientOptions {
    /// ARM base URL (`AML_ARM_ENDPOINT`): another cloud, or a loopback mock in tests.
    pub arm_endpoint: Url,
    /// The token scope; `None` derives it from `arm_endpoint` (`{origin}/.default`), or uses
    /// [`ARM_SCOPE`](super::ARM_SCOPE) when the endpoint is a loopback mock.
    pub token_scope: Option<String>,
    /// Longest a single attempt may take, from connecting to the end of the body; cuts hung
    /// connections.
    pub request_timeout: Duration,
    /// Longest a single attempt may take to connect.
    pub connect_timeout: Duration,
    /// What is retried, and how patiently.
    pub retry: RetryPolicy,
    /// Budget of one operation, all attempts, waits and polls included.
    /// See also [`AmlClient::with_deadline`](super::AmlClient::with_deadline).
    pub deadline: Duration,
    /// Wait between polls of a long-running operation when Azure sends no `Retry-After`.
    pub poll_interval: Duration,
    /// Time the smoke test ([`AmlClient::score`](super::AmlClient::score)) keeps for its caller after its last attempt,
    /// to record what the endpoint answered. Scoring is never cut by the deadline once sent
    /// (hanging up would lose an answer the endpoint computes anyway), so a retry starts only
    /// when `request_timeout + reserve` still fits before the deadline; otherwise the last
    /// answer or error stands.
    pub reserve: Duration,
}

impl Default for AmlClientOptions {
    fn default() -> Self {
        AmlClientOptions {
            arm_endpoint: Url::parse("https://management.azure.com").expect("a valid URL"),
            token_scope: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            // Event Grid waits 30 s for an answer; 25 leaves room to send it.
            // See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry>.
            deadline: Duration::from_secs(25),
            poll_interval: Duration::from_secs(2),
            reserve: Duration::from_secs(2),
        }
    }
}
