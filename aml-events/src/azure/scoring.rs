//! Scoring a deployed model: POST a JSON payload to its scoring URI with the endpoint key as a
//! bearer token, and report status, latency and body (what `ModelDeployed`'s smoke test needs).
//!
//! No ARM token is ever sent here, and errors never name the URI (it may hold a key). Any HTTP answer is a result, not an error: a smoke test
//! records a 500 as faithfully as a 200 (transient statuses are retried first). A scoring
//! request once sent is never cut by the deadline (see [`super::AmlClientOptions::reserve`]).
//! See <https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-online-endpoint>.

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::{
    call::{Auth, Call},
    client::AmlClient,
    error::CallbackError,
    models::ScoreResponse,
    token_url::is_token_safe,
};
use crate::Secret;

impl AmlClient {
    /// POSTs `payload` to a scoring URI (`AML_SMOKE_TEST_URI`) with `Authorization: Bearer
    /// <key>` when a key is given. Refuses a plain-http URI that is not loopback.
    pub async fn score(
        &self,
        uri: &Url,
        key: Option<&Secret>,
        payload: &Value,
    ) -> Result<ScoreResponse, CallbackError> {
        const OPERATION: &str = "score";
        if !is_token_safe(uri) {
            return Err(CallbackError::InsecureUrl {
                operation: OPERATION,
                what: "setting AML_SMOKE_TEST_URI",
            });
        }
        // A POST, but scoring computes a prediction and changes nothing, so repeating it after
        // a timeout or a 5xx is harmless, and a smoke test that rides out a blip is the one
        // wanted (docs/actions.md: whether a request may be repeated follows from its method,
        // "unless said otherwise").
        //
        // Once sent, an attempt is let finish: the endpoint computes its answer anyway, and a
        // smoke test hung up on in the last milliseconds of the delivery would report a
        // failure for a model that answered. A retry starts only when a whole attempt and the
        // reserve still fit.
        let call = Call::new(OPERATION, Method::POST, uri.clone())
            .idempotent()
            .finishing(self.options())
            .auth(Auth::Key(key))
            .json(payload);
        // The URI may carry a key in its query (a Functions `?code=`): errors do not name it
        // (the transport's errors never do).
        let answer = self.send(&call, self.deadline()).await?;
        Ok(ScoreResponse {
            status: answer.status.as_u16(),
            latency: answer.latency,
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        })
    }
}
