//! Smoke-test: score each scoring URI the matched routes name, once per URI, and record the
//! status and latency. Whatever the endpoint answers is the result (a failing deployment is
//! news to report), and it is recorded, so a redelivery builds the same notice. The one thing
//! that is not a result is our own time running out before the endpoint was asked: then the
//! test is tried again on redelivery. A failing endpoint's answer is recorded too (its status
//! and the start of its body, without the key or the URI's secrets), for the notice to show.

use aml_events::{
    Secret,
    azure::CallbackError,
    chain,
    ledger::Recorded,
    redact::{self, Show},
};
use serde_json::json;
use url::Url;

use super::{Acted, Actions, once::Unsettled};
use crate::{
    outcome::{Action, ActionReport, ActionStatus},
    routes::{Route, SmokeTest},
    traces::spans,
};

impl Actions<'_> {
    /// Scores each scoring URI of the matched routes once: one report per URI, whose
    /// [`ActionReport::found`] holds the endpoint's status and latency (or the error).
    pub async fn smoke_test(&self) -> Acted {
        let mut tests: Vec<(&SmokeTest, &Route)> = Vec::new();
        for route in &self.matched {
            if let Some(smoke) = &route.smoke_test
                && !tests.iter().any(|(seen, _)| seen.uri == smoke.uri)
            {
                tests.push((smoke, route));
            }
        }
        if tests.is_empty() {
            let why = self.first().why_not.smoke_test.as_ref();
            return Acted::report(ActionReport::skipped(Action::SmokeTest, why));
        }
        let runs = tests.into_iter().map(|(smoke, route)| async move {
            let endpoint = || redact::url(&smoke.uri, Show::Origin);
            let test = || self.smoke_test_one(smoke);
            let (report, failure) =
                spans::action(Action::SmokeTest, &route.name, endpoint, test).await;
            (report.by(&route.name), failure)
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .collect()
    }

    async fn smoke_test_one(
        &self,
        smoke: &SmokeTest,
    ) -> (ActionReport, Option<crate::functions::HandlerError>) {
        let endpoint = redact::url(&smoke.uri, Show::Origin);
        let request = format!("POST {endpoint}");
        let Some(client) = self.delivery.client.clone() else {
            let detail = "would score the endpoint once and record status and latency";
            return (
                ActionReport::dry_run(Action::SmokeTest, request, detail),
                None,
            );
        };
        let (uri, key, payload) = (smoke.uri.clone(), smoke.key.clone(), smoke.payload.clone());
        let effect = async move {
            match client.score(&uri, key.as_ref(), &payload).await {
                Ok(answer) => {
                    let latency_ms = answer.latency.as_secs_f64() * 1000.0;
                    let status = if (200..300).contains(&answer.status) {
                        ActionStatus::Done
                    } else {
                        ActionStatus::Failed
                    };
                    let detail = format!(
                        "the endpoint answered {} in {latency_ms:.1} ms",
                        answer.status
                    );
                    let mut found = json!({ "status": answer.status, "latencyMs": (latency_ms * 10.0).round() / 10.0 });
                    // A failing endpoint's answer is the news: its start goes in the notice.
                    if status == ActionStatus::Failed {
                        found["body"] = json!(answer_start(&answer.body, &uri, key.as_ref()));
                    }
                    Ok(Recorded::new(status.as_str(), detail).with_found(found))
                }
                // Our deadline came before the endpoint was asked: no result to report.
                Err(err @ CallbackError::DeadlineExceeded { .. }) => {
                    Err(Unsettled::Transient(Box::new(err)))
                }
                Err(err) => {
                    let why = chain(&err).to_string();
                    let found = json!({ "error": why });
                    Ok(Recorded::new(ActionStatus::Failed.as_str(), why).with_found(found))
                }
            }
        };
        let result = self
            .claims
            .once(Action::SmokeTest, &smoke.identity(), effect)
            .await;
        self.settle(Action::SmokeTest, &endpoint, request, result)
    }
}

/// How much of a failing endpoint's answer is recorded: its exception line and the start of a
/// traceback, well within what the ledger keeps of an outcome.
const ANSWER_CHARS: usize = 500;

/// The query parameters whose values are secret whatever their length; any other value is
/// taken for one from 8 characters on (shorter ones, `v=1`, `verbose=true`, would mask every
/// `1` and `true` of the answer and garble it).
const KEY_LIKE: [&str; 7] = [
    "code", "key", "sig", "token", "secret", "password", "apikey",
];

/// How long a value of another parameter must be to be taken for a secret.
const SECRET_LIKE_CHARS: usize = 8;

/// The start of an endpoint's answer, without the key or anything secret of the URI (an answer
/// may echo the request, its query percent-encoded or decoded).
fn answer_start(body: &str, uri: &Url, key: Option<&Secret>) -> String {
    // The raw values, pair for pair as `query_pairs` reads them (it skips empty pairs).
    let raw = (uri.query().unwrap_or_default().split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or("", |(_, value)| value));
    let mut query: Vec<String> = Vec::new();
    for ((name, value), raw_value) in uri.query_pairs().zip(raw) {
        let name = name.to_ascii_lowercase().replace(['-', '_'], "");
        let key_like = KEY_LIKE.iter().any(|like| name.contains(like));
        if key_like || value.chars().count() >= SECRET_LIKE_CHARS {
            query.extend([value.into_owned(), raw_value.to_owned()]);
        }
    }
    let mut secrets: Vec<&str> = query.iter().map(String::as_str).collect();
    secrets.extend([uri.as_str(), uri.password().unwrap_or_default()]);
    secrets.extend(key.map(Secret::expose));
    redact::text(body.trim(), &secrets, ANSWER_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_keeps_no_secret_of_the_request() {
        let uri = Url::parse("https://user:pw1@ep.example.com/score?code=QUERYKEY").unwrap();
        let key = Secret::new("BEARERKEY".to_owned());
        let body = format!(
            "  bad key BEARERKEY for {uri} (code QUERYKEY, pw1)\n{}",
            "x".repeat(900)
        );
        let start = answer_start(&body, &uri, Some(&key));
        for secret in ["BEARERKEY", "QUERYKEY", "pw1"] {
            assert!(!start.contains(secret), "{start}");
        }
        assert!(
            start.starts_with("bad key *** for *** (code ***, ***)"),
            "{start}"
        );
        assert_eq!(
            start.chars().count(),
            ANSWER_CHARS + 1,
            "cut, with an ellipsis"
        );
    }

    #[test]
    fn a_key_echoed_percent_encoded_is_masked_and_short_values_are_left_alone() {
        let uri =
            Url::parse("https://ep.example.com/score?flag&&code=ab%2Bc%3D%3D&v=1&verbose=true")
                .unwrap();
        let body = "rejected code=ab%2Bc%3D%3D (decoded ab+c==) with v=1, verbose=true";

        let start = answer_start(body, &uri, None);

        assert_eq!(
            start,
            "rejected code=*** (decoded ***) with v=1, verbose=true"
        );
    }
}
