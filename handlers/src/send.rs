//! `aml-handlers send`: delivers events the way Event Grid does (a webhook POST with `aeg-*`
//! headers, after the validation handshake with `--validate`) or the way the Functions host
//! does (the custom handler invocation, event double-encoded in `Data`), and reports each
//! answer. It accepts Event Grid dead-letter records, so dead-lettered events can be replayed.

use std::time::Duration;

use aml_events::{
    Event, Function, Schema, Secret, Timestamp,
    azure::is_loopback,
    chain,
    events::SUBSCRIPTION_VALIDATION_EVENT,
    redact::{self, Show},
};
use reqwest::{Client, Method, RequestBuilder, redirect};
use serde_json::{Value, json};
use url::Url;

use crate::hosting::{
    custom_handler::{self, HOST_VERSION_HEADER, INVOCATION_ID_HEADER},
    webhook,
};

/// Properties Event Grid adds to a dead-lettered event; stripped before a replay. CloudEvents
/// records carry them in lower case (`deadletterreason`), so they are compared without regard
/// to case ([`is_dead_letter_property`]).
/// See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry#dead-letter-events>.
pub const DEAD_LETTER_PROPERTIES: [&str; 6] = [
    "deadLetterReason",
    "deliveryAttempts",
    "lastDeliveryOutcome",
    "lastHttpStatusCode",
    "publishTime",
    "lastDeliveryAttemptTime",
];

/// How to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// As Event Grid does, to a webhook (`serve`'s or `func start`'s `/runtime/webhooks/eventgrid`).
    Webhook,
    /// As the Functions host does, to a custom handler's `/{Function}` route.
    Host,
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The target URL.
    pub to: Url,
    /// Webhook or host.
    pub mode: Mode,
    /// The function to address; by default each event's own.
    pub function: Option<Function>,
    /// The key: `?code=` on webhook URLs (as the Functions host's Event Grid endpoint takes
    /// it) and the `x-functions-key` header.
    pub key: Option<Secret>,
    /// Run the subscription-validation handshake first (webhook only).
    pub validate: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// One request and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// `POST http://…` and what it was for; keys removed.
    pub request: String,
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub body: String,
}

impl Exchange {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why nothing (more) could be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// `--key` with a plain-http URL to another machine.
    #[error("refusing to send --key over plain http to {host}: use https, or a loopback address")]
    InsecureKey {
        /// The target host.
        host: String,
    },
    /// `--validate` with `--as host`.
    #[error(
        "--validate is the webhook handshake; the Functions host protocol has none (drop --validate or use --as webhook)"
    )]
    ValidateNeedsWebhook,
    /// The file holds events of both schemas.
    #[error(
        "the file mixes Event Grid and CloudEvents events; Event Grid delivers one schema per subscription"
    )]
    MixedSchemas,
    /// An event has no function and none was named.
    #[error("event {id:?} of type {event_type} has no function; name one with --function")]
    NoFunction {
        /// The event id.
        id: String,
        /// Its type.
        event_type: String,
    },
    /// The target did not answer.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The target, without keys.
        url: String,
        /// The transport's reason.
        reason: String,
    },
    /// The handshake did not succeed, so the events were not sent.
    #[error("the validation handshake failed: {0}")]
    ValidationFailed(String),
}

/// Whether `name` is one of [`DEAD_LETTER_PROPERTIES`], in any casing.
pub fn is_dead_letter_property(name: &str) -> bool {
    DEAD_LETTER_PROPERTIES
        .iter()
        .any(|property| property.eq_ignore_ascii_case(name))
}

/// Strips Event Grid's dead-letter properties, in any casing, so the events go out as first
/// delivered.
pub fn replayable(mut events: Vec<Event>) -> Vec<Event> {
    for event in &mut events {
        event
            .extensions
            .retain(|name, _| !is_dead_letter_property(name));
    }
    events
}

/// Refuses to send a key over plain http to another machine: https, or loopback only.
pub fn check_key_route(to: &Url, key: Option<&Secret>) -> Result<(), SendError> {
    if key.is_some() && to.scheme() == "http" && !is_loopback(to) {
        return Err(SendError::InsecureKey {
            host: to.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

/// Delivers `events` as `options` says; returns every exchange, stopping at a failed handshake.
pub async fn send(events: Vec<Event>, options: &SendOptions) -> Result<Vec<Exchange>, SendError> {
    check_key_route(&options.to, options.key.as_ref())?;
    let client = Client::builder()
        .timeout(options.timeout)
        // The key travels as `x-functions-key` and `?code=`; a redirect would hand both to
        // wherever it points (reqwest strips only `Authorization` and cookies), so none is
        // followed: a 3xx is printed like any other answer.
        .redirect(redirect::Policy::none())
        .build()
        .map_err(|err| SendError::Unreachable {
            url: redact(&options.to),
            reason: reason(err),
        })?;
    match options.mode {
        Mode::Webhook => send_webhook(&client, replayable(events), options).await,
        Mode::Host => {
            if options.validate {
                return Err(SendError::ValidateNeedsWebhook);
            }
            send_host(&client, replayable(events), options).await
        }
    }
}

async fn send_webhook(
    client: &Client,
    events: Vec<Event>,
    options: &SendOptions,
) -> Result<Vec<Exchange>, SendError> {
    let schema = match events.first().map(|event| event.schema) {
        Some(first) if events.iter().any(|event| event.schema != first) => {
            return Err(SendError::MixedSchemas);
        }
        Some(first) => first,
        None => Schema::EventGrid,
    };
    let mut url = options.to.clone();
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(webhook::PATH);
    }
    if let Some(function) = options.function {
        let others: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| key != "functionName")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(others)
            .append_pair("functionName", function.name());
    }
    if let Some(key) = &options.key {
        // The Functions host's Event Grid endpoint takes its system key as `code=`.
        if !url.query_pairs().any(|(name, _)| name == "code") {
            url.query_pairs_mut().append_pair("code", key.expose());
        }
    }
    let mut exchanges = Vec::new();
    if options.validate {
        let exchange = match schema {
            Schema::EventGrid => validate_event_grid(client, &url, options).await?,
            Schema::CloudEvents => validate_cloud_events(client, &url, options).await?,
        };
        exchanges.push(exchange);
    }
    let content_type = match schema {
        Schema::EventGrid => "application/json",
        Schema::CloudEvents => "application/cloudevents-batch+json",
    };
    let body = serde_json::to_string(&events).unwrap_or_else(|_| "[]".into());
    let request = client
        .post(url.clone())
        .header("content-type", content_type)
        .header(webhook::EVENT_TYPE_HEADER, "Notification")
        .header("aeg-subscription-name", "AML-HANDLERS-SEND")
        .header("aeg-delivery-count", "0")
        .header("aeg-metadata-version", "1")
        .body(body);
    exchanges.push(
        exchange(
            with_key(request, options),
            Method::POST,
            &url,
            &format!("{} event(s)", events.len()),
        )
        .await?,
    );
    Ok(exchanges)
}

/// The Event Grid schema handshake: a validation event whose code must come back.
async fn validate_event_grid(
    client: &Client,
    url: &Url,
    options: &SendOptions,
) -> Result<Exchange, SendError> {
    let code = uuid::Uuid::new_v4().to_string();
    let event = json!([{
        "id": uuid::Uuid::new_v4().to_string(),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000",
        "subject": "",
        "data": { "validationCode": code, "validationUrl": "https://localhost/validate" },
        "eventType": SUBSCRIPTION_VALIDATION_EVENT,
        "eventTime": Timestamp::now(),
        "metadataVersion": "1",
        "dataVersion": "2"
    }]);
    let request = client
        .post(url.clone())
        .header("content-type", "application/json")
        .header(webhook::EVENT_TYPE_HEADER, "SubscriptionValidation")
        .body(event.to_string());
    let exchange = exchange(
        with_key(request, options),
        Method::POST,
        url,
        "validation handshake",
    )
    .await?;
    let answered: Option<String> = serde_json::from_str::<Value>(&exchange.body)
        .ok()
        .and_then(|body| body["validationResponse"].as_str().map(str::to_owned));
    if !exchange.succeeded() || answered.as_deref() != Some(code.as_str()) {
        return Err(SendError::ValidationFailed(format!(
            "{} answered {}: {}",
            exchange.request, exchange.status, exchange.body
        )));
    }
    Ok(exchange)
}

/// The CloudEvents abuse-protection handshake: the origin must be allowed back.
async fn validate_cloud_events(
    client: &Client,
    url: &Url,
    options: &SendOptions,
) -> Result<Exchange, SendError> {
    const ORIGIN: &str = "eventgrid.azure.net";
    let request = client
        .request(Method::OPTIONS, url.clone())
        .header("WebHook-Request-Origin", ORIGIN);
    let response =
        with_key(request, options)
            .send()
            .await
            .map_err(|err| SendError::Unreachable {
                url: redact(url),
                reason: reason(err),
            })?;
    let allowed = response
        .headers()
        .get("webhook-allowed-origin")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let exchange = Exchange {
        request: format!("OPTIONS {} (abuse-protection handshake)", redact(url)),
        status,
        body,
    };
    if !exchange.succeeded() || allowed.as_deref() != Some(ORIGIN) {
        return Err(SendError::ValidationFailed(format!(
            "{} answered {} with WebHook-Allowed-Origin {allowed:?}",
            exchange.request, exchange.status
        )));
    }
    Ok(exchange)
}

async fn send_host(
    client: &Client,
    events: Vec<Event>,
    options: &SendOptions,
) -> Result<Vec<Exchange>, SendError> {
    let mut exchanges = Vec::new();
    for event in events {
        let function = options
            .function
            .or_else(|| event.function())
            .ok_or_else(|| SendError::NoFunction {
                id: event.id.clone(),
                event_type: event.event_type.clone(),
            })?;
        let mut url = options.to.clone();
        url.set_path(&format!("/{}", function.name()));
        url.set_query(None);
        let invocation = custom_handler::invocation(&event, function);
        let request = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header(INVOCATION_ID_HEADER, uuid::Uuid::new_v4().to_string())
            .header(
                HOST_VERSION_HEADER,
                concat!("aml-handlers-send/", env!("CARGO_PKG_VERSION")),
            )
            .body(invocation.to_string());
        exchanges.push(
            exchange(
                with_key(request, options),
                Method::POST,
                &url,
                &format!("event {}", event.id),
            )
            .await?,
        );
    }
    Ok(exchanges)
}

fn with_key(request: RequestBuilder, options: &SendOptions) -> RequestBuilder {
    match &options.key {
        Some(key) => request.header(webhook::KEY_HEADER, key.expose()),
        None => request,
    }
}

async fn exchange(
    request: RequestBuilder,
    method: Method,
    url: &Url,
    what: &str,
) -> Result<Exchange, SendError> {
    let response = request.send().await.map_err(|err| SendError::Unreachable {
        url: redact(url),
        reason: reason(err),
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Ok(Exchange {
        request: format!("{method} {} ({what})", redact(url)),
        status,
        body,
    })
}

/// The URL with its key (`code=`, any query value but `functionName`) masked.
fn redact(url: &Url) -> String {
    redact::url(url, Show::Path)
}

/// Why a request failed, with every cause ("... tcp connect error: Connection refused (os
/// error 111)"), and without the URL reqwest puts in its message (it may hold the key).
fn reason(err: reqwest::Error) -> String {
    let timed_out = err.is_timeout();
    let reason = chain(&err.without_url()).to_string();
    if timed_out {
        format!("timed out: {reason}")
    } else {
        reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_dead_lettered_events_without_their_dead_letter_properties() {
        let record = br#"[{"id":"1","eventType":"Microsoft.MachineLearningServices.RunCompleted","subject":"s",
            "eventTime":"2024-03-01T12:00:00Z","data":{},"deadLetterReason":"MaxDeliveryAttemptsExceeded",
            "deliveryAttempts":30,"lastDeliveryOutcome":"Probation","lastHttpStatusCode":503,
            "publishTime":"2024-03-01T12:00:00Z","lastDeliveryAttemptTime":"2024-03-02T12:00:00Z","custom":1}]"#;
        let events = replayable(aml_events::envelope::parse(None, record).unwrap());
        let written = serde_json::to_value(&events).unwrap();
        assert!(
            written[0].get("deadLetterReason").is_none()
                && written[0].get("lastHttpStatusCode").is_none()
        );
        assert_eq!(written[0]["custom"], 1, "other extensions stay");
    }

    #[test]
    fn cloud_events_dead_letter_records_lose_their_lower_case_properties() {
        // CloudEvents dead-letter records carry the same properties in lower case.
        // See: https://learn.microsoft.com/azure/event-grid/delivery-and-retry#dead-letter-events
        let record = br#"[{"specversion":"1.0","id":"1","source":"/subscriptions/s","subject":"s",
            "type":"Microsoft.MachineLearningServices.RunCompleted","time":"2024-03-01T12:00:00Z",
            "data":{},"deadletterreason":"MaxDeliveryAttemptsExceeded","deliveryattempts":30,
            "lastdeliveryoutcome":"Probation","lasthttpstatuscode":503,
            "publishtime":"2024-03-01T12:00:00Z","lastdeliveryattempttime":"2024-03-02T12:00:00Z",
            "traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}]"#;
        let events = replayable(aml_events::envelope::parse(None, record).unwrap());
        let written = serde_json::to_value(&events).unwrap();
        let names: Vec<&String> = written[0].as_object().unwrap().keys().collect();
        assert!(
            !names.iter().any(|name| is_dead_letter_property(name)),
            "{names:?}"
        );
        assert!(
            written[0]["traceparent"].is_string(),
            "other extensions stay"
        );
    }

    #[test]
    fn keys_in_urls_are_redacted() {
        let url = Url::parse("http://127.0.0.1:8080/runtime/webhooks/eventgrid?functionName=RunCompleted&code=s3cr3t").unwrap();
        let shown = redact(&url);
        assert!(
            !shown.contains("s3cr3t") && shown.contains("functionName=RunCompleted"),
            "{shown}"
        );
    }
}
