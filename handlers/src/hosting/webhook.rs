//! Event Grid's webhook delivery protocol, the same in every host: the subscription-validation
//! handshakes, the key and the Microsoft Entra token, the status codes Event Grid acts on, and
//! batches of events in either schema. Hosts pass in the few headers and the body; nothing here
//! knows an HTTP framework.
//!
//! See <https://learn.microsoft.com/azure/event-grid/webhook-event-delivery> (validation,
//! `aeg-event-type`), <https://learn.microsoft.com/azure/event-grid/delivery-and-retry> (which
//! statuses are retried) and the CloudEvents webhook spec's abuse protection
//! (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/http-webhook.md#4-abuse-protection>).

use aml_events::{
    AmlEvent, Event, Function,
    envelope::{self, Decoded, validation::ValidationResponse},
    events::SUBSCRIPTION_VALIDATION_EVENT,
};
use serde_json::json;
use subtle::ConstantTimeEq;
use tracing::info;

use super::{Answer, HostError};
use crate::{
    AppContext,
    entra::{self, EntraError},
    functions,
    outcome::Outcome,
    traces::parent::Incoming,
};

/// The path of the Functions host's own Event Grid endpoint, kept so that subscriptions and
/// tools written for it work unchanged.
pub const PATH: &str = "/runtime/webhooks/eventgrid";
/// Event Grid's delivery kind: `SubscriptionValidation`, `Notification`.
pub const EVENT_TYPE_HEADER: &str = "aeg-event-type";
/// The `aeg-event-type` of the subscription-validation handshake.
const VALIDATION_DELIVERY: &str = "SubscriptionValidation";
/// The header a key may come in, as with Azure Functions.
pub const KEY_HEADER: &str = "x-functions-key";
/// The CloudEvents abuse-protection request header.
pub const ORIGIN_HEADER: &str = "webhook-request-origin";
/// Event Grid's largest delivery: 1 MiB.
/// See <https://learn.microsoft.com/azure/event-grid/quotas-limits>.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the webhook reads of a request before its body. Its `Debug` shows no key and no token.
#[derive(Clone, Copy, Default)]
pub struct WebhookRequest<'a> {
    /// The raw query string (`functionName=...&code=...`).
    pub query: Option<&'a str>,
    /// The `x-functions-key` header.
    pub key_header: Option<&'a str>,
    /// The `aeg-event-type` header.
    pub event_type_header: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The `Authorization` header: Event Grid's Microsoft Entra bearer token.
    pub authorization: Option<&'a str>,
    /// The W3C `traceparent` header: the parent of the events' spans when they name none.
    pub traceparent: Option<&'a str>,
    /// The W3C `tracestate` header.
    pub tracestate: Option<&'a str>,
}

impl std::fmt::Debug for WebhookRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REDACTED: &str = "<redacted>";
        // The query may carry the key (`code`), or anything a subscription's URL adds: only
        // the function's name is shown.
        let query = self.query.map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(name, value)| match &*name {
                    "functionName" => format!("{name}={value}"),
                    _ => format!("{name}={REDACTED}"),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        f.debug_struct("WebhookRequest")
            .field("query", &query)
            .field("key_header", &self.key_header.map(|_| REDACTED))
            .field("event_type_header", &self.event_type_header)
            .field("content_type", &self.content_type)
            .field("authorization", &self.authorization.map(|_| REDACTED))
            .field("traceparent", &self.traceparent)
            .field("tracestate", &self.tracestate)
            .finish()
    }
}

impl WebhookRequest<'_> {
    fn query_value(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.unwrap_or_default().as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// `OPTIONS`: the CloudEvents abuse-protection handshake. Echo the origin and allow any rate.
pub fn abuse_protection(origin: Option<&str>) -> Result<Answer, HostError> {
    let origin = origin.map(str::trim).filter(|origin| !origin.is_empty()).ok_or_else(|| HostError::BadRequest {
        message: "an OPTIONS request must carry WebHook-Request-Origin (the CloudEvents abuse-protection handshake)".into(),
        field: Some("WebHook-Request-Origin".into()),
    })?;
    info!(origin, "abuse-protection handshake answered");
    Ok(
        Answer::ok(&json!({ "allowedOrigin": origin, "allowedRate": "*" }))
            .with_header("WebHook-Allowed-Origin", origin.to_owned())
            .with_header("WebHook-Allowed-Rate", "*".to_owned()),
    )
}

/// Checks the key, what can be checked of the Microsoft Entra token without a key, and the
/// function name, before the body is read; returns the function named by `functionName`, if any.
pub fn admit(
    request: &WebhookRequest<'_>,
    ctx: &AppContext,
) -> Result<Option<Function>, HostError> {
    if let Some(key) = &ctx.config.host.webhook_key {
        let offered = request
            .key_header
            .map(str::to_owned)
            .or_else(|| request.query_value("code"));
        let matches = offered
            .is_some_and(|offered| bool::from(offered.as_bytes().ct_eq(key.expose().as_bytes())));
        if !matches {
            return Err(HostError::Unauthorized);
        }
    }
    // What needs the token and holds none is refused unread, as a wrong key is.
    if ctx.entra.is_some() && !may_be_handshake(request.event_type_header) {
        entra::check_form(request.authorization).map_err(EntraError::from)?;
    }
    request
        .query_value("functionName")
        .map(|name| Function::from_name(&name).ok_or(HostError::UnknownFunction { name }))
        .transpose()
}

/// `POST`: a subscription-validation handshake or a delivery of events. With Microsoft Entra
/// ID on, events need the token; the handshake is answered with or without one (Azure does not
/// say whether it carries one).
pub async fn deliver(
    request: &WebhookRequest<'_>,
    function: Option<Function>,
    body: &[u8],
    ctx: &AppContext,
) -> Result<Answer, HostError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(HostError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let mut delivery = ctx.metrics.delivery(function);
    // Who may not deliver costs no parsing, unless the body may be the handshake.
    let admitted = match admit_token(request, ctx).await {
        Err(err) if !may_be_handshake(request.event_type_header) => return Err(err),
        admitted => admitted,
    };
    let events = match envelope::parse_decoded(request.content_type, body) {
        Ok(events) => events,
        // Who may not deliver learns nothing about the body.
        Err(err) => {
            admitted?;
            ctx.metrics.unreadable(function);
            return Err(HostError::BadRequest {
                field: err.field(),
                message: err.to_string(),
            });
        }
    };
    delivery.name_after(&events);
    match delivery_kind(request.event_type_header, &events) {
        Kind::Validation => {
            let validation = events.iter().find(|event| is_validation(event));
            match validation {
                Some(event) => validate(event),
                None => Err(HostError::BadRequest {
                    message: format!(
                        "aeg-event-type is SubscriptionValidation but the body holds no {SUBSCRIPTION_VALIDATION_EVENT}"
                    ),
                    field: Some("eventType".into()),
                }),
            }
        }
        // Every event of a notification is dispatched; a validation event among them is a
        // system event like any other, acknowledged by `functions::prepare` (docs/answers.md).
        Kind::Notification => {
            admitted?;
            let incoming = Incoming {
                traceparent: request.traceparent,
                tracestate: request.tracestate,
                invocation_id: None,
            };
            let outcomes = functions::handle_all(events, function, &incoming, ctx).await?;
            for outcome in &outcomes {
                log_outcome(outcome);
            }
            Ok(Answer::ok(&json!({ "results": outcomes })))
        }
    }
}

/// The Microsoft Entra check of the request's bearer token, when it is on.
async fn admit_token(request: &WebhookRequest<'_>, ctx: &AppContext) -> Result<(), HostError> {
    match &ctx.entra {
        Some(gate) => Ok(gate.admit(request.authorization).await?),
        None => Ok(()),
    }
}

/// What a delivery is: the subscription handshake, or events to handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Validation,
    Notification,
}

/// Whether a request with this `aeg-event-type` may be the handshake, the one delivery that
/// needs no token: when it says so, or says nothing (a tool's, or a CloudEvents validation event).
fn may_be_handshake(header: Option<&str>) -> bool {
    header.is_none_or(|kind| kind.eq_ignore_ascii_case(VALIDATION_DELIVERY))
}

/// `aeg-event-type` decides when Event Grid sent it; without it (a CloudEvents validation
/// event, a tool), a body of nothing but validation events is the handshake.
fn delivery_kind(header: Option<&str>, events: &[Event<Decoded>]) -> Kind {
    match header {
        Some(kind) if kind.eq_ignore_ascii_case(VALIDATION_DELIVERY) => Kind::Validation,
        Some(kind) if kind.eq_ignore_ascii_case("Notification") => Kind::Notification,
        _ if !events.is_empty() && events.iter().all(is_validation) => Kind::Validation,
        _ => Kind::Notification,
    }
}

fn is_validation(event: &Event<Decoded>) -> bool {
    event
        .event_type
        .eq_ignore_ascii_case(SUBSCRIPTION_VALIDATION_EVENT)
}

/// Answers the handshake with the event's `validationCode`.
fn validate(event: &Event<Decoded>) -> Result<Answer, HostError> {
    let code = match &event.data {
        Some(Ok(AmlEvent::SubscriptionValidation(data))) => data.validation_code.clone(),
        Some(Ok(_)) | None => None,
        Some(Err(err)) => {
            return Err(HostError::BadRequest {
                field: err.field(),
                message: err.to_string(),
            });
        }
    };
    let code = code.ok_or_else(|| HostError::BadRequest {
        message: format!(
            "event {:?}: the validation event carries no validationCode",
            event.id
        ),
        field: Some("data.validationCode".into()),
    })?;
    info!(event_id = %event.id, "subscription validated");
    Ok(Answer::ok(&ValidationResponse {
        validation_response: code,
    }))
}

fn log_outcome(outcome: &Outcome) {
    info!(
        event_id = %outcome.event_id,
        event_type = %outcome.event_type,
        function = outcome.function.map(Function::name),
        actions = %outcome.summary(),
        "event handled"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_never_prints_its_token_or_key() {
        let request = WebhookRequest {
            query: Some("functionName=RunCompleted&code=qu3ry-k3y&other=x"),
            key_header: Some("h3ader-k3y"),
            event_type_header: Some("Notification"),
            content_type: Some("application/json"),
            authorization: Some("Bearer eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl"),
            ..WebhookRequest::default()
        };

        let printed = format!("{request:?}");

        for secret in ["qu3ry-k3y", "h3ader-k3y", "eyJ", "c2lnbmF0dXJl"] {
            assert!(!printed.contains(secret), "{secret} shows in {printed}");
        }
        for shown in [
            "functionName=RunCompleted",
            "Notification",
            "application/json",
        ] {
            assert!(printed.contains(shown), "{shown} is missing from {printed}");
        }
    }
}
