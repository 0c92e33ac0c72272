//! Posting a notification to an incoming webhook (Slack, Teams, or any JSON endpoint): the
//! same retries and deadline as the Azure calls, an `Idempotency-Key` so a redelivered event
//! can be recognised by the receiver, and no ARM token.
//!
//! The webhook URL carries its own key in the path, so it is held as a [`Secret`] and never
//! appears in errors: transport errors are stripped of it.

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::{AmlClient, Auth, Call, CallbackError, ScoreResponse, is_token_safe, without_url};
use crate::Secret;

const OPERATION: &str = "notify";

impl AmlClient {
    /// POSTs `body` to the webhook `url` with `Idempotency-Key: idempotency_key`. Delivered at
    /// least once: connect errors, timeouts, 408, 429 and any 5xx are retried within the
    /// deadline, a 4xx is final; any final answer is returned, 2xx or not.
    pub async fn notify(
        &self,
        url: &Secret,
        idempotency_key: &str,
        body: &Value,
    ) -> Result<ScoreResponse, CallbackError> {
        let url = Url::parse(url.expose()).map_err(|_| CallbackError::InvalidResponse {
            operation: OPERATION,
            problem: String::from("the notification URL (AML_NOTIFY_URL) is not a URL"),
        })?;
        if !is_token_safe(&url) {
            return Err(CallbackError::InsecureUrl {
                operation: OPERATION,
                what: "setting AML_NOTIFY_URL",
            });
        }
        // Deliberately at least once (SPEC §8.3): a lost alert costs more than a repeated one,
        // and the `Idempotency-Key`, the ledger and PagerDuty's `dedup_key` absorb repeats.
        let call = Call::new(OPERATION, Method::POST, url)
            .at_least_once()
            .auth(Auth::Anonymous)
            .idempotency_key(idempotency_key)
            .json(body);
        let answer = self
            .send(&call, self.deadline())
            .await
            .map_err(without_url)?;
        Ok(ScoreResponse {
            status: answer.status.as_u16(),
            latency: answer.latency,
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        })
    }
}
