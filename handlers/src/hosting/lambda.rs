//! The AWS Lambda host: the same webhook behind a Lambda Function URL or an API Gateway HTTP
//! API (payload format 2.0), through `lambda_http`. It maps the request into [`webhook`] and
//! the answer back, nothing else: a Function URL is one endpoint, so every path is the
//! webhook.
//!
//! See <https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>.

use lambda_http::{
    Body, Request, Response,
    http::{
        Method,
        header::{AUTHORIZATION, CONTENT_TYPE},
    },
};

use super::{
    Answer, Context, HostError, respond,
    webhook::{self, WebhookRequest},
};
use crate::{
    AppContext,
    traces::parent::{TRACEPARENT, TRACESTATE},
};

/// Answers one Lambda HTTP request. Every outcome, failures included, is an HTTP response
/// with a JSON body, so the function itself never errors.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let result = match *request.method() {
        Method::GET | Method::HEAD => Ok(super::readiness()),
        Method::OPTIONS => webhook::abuse_protection(header(webhook::ORIGIN_HEADER)),
        Method::POST => {
            let webhook_request = WebhookRequest {
                query: request.uri().query(),
                key_header: header(webhook::KEY_HEADER),
                event_type_header: header(webhook::EVENT_TYPE_HEADER),
                content_type: header(CONTENT_TYPE.as_str()),
                authorization: header(AUTHORIZATION.as_str()),
                traceparent: header(TRACEPARENT),
                tracestate: header(TRACESTATE),
            };
            match webhook::admit(&webhook_request, ctx) {
                Ok(function) => {
                    webhook::deliver(&webhook_request, function, request.body().as_ref(), ctx).await
                }
                Err(err) => Err(err),
            }
        }
        ref method => Err(HostError::NotFound {
            method: method.to_string(),
            path: request.uri().path().to_owned(),
        }),
    };
    to_response(respond(result, Context::default()))
}

/// The one place an [`Answer`] becomes a Lambda response.
fn to_response(answer: Answer) -> Response<Body> {
    let mut builder = Response::builder()
        .status(answer.status)
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in answer.headers {
        builder = builder.header(name, value);
    }
    // The body is JSON text, so UTF-8; a text body keeps API Gateway from base64-encoding it.
    let body = String::from_utf8(answer.body)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
    builder.body(Body::Text(body)).unwrap_or_else(|_| {
        Response::new(Body::Text(
            r#"{"error":{"code":"Internal","message":"could not build the response"}}"#.into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use lambda_http::request::from_str;
    use serde_json::{Value, json};

    use super::*;
    use crate::config::Config;

    fn ctx(key: Option<&str>) -> AppContext {
        let key = key.map(str::to_owned);
        AppContext::new(
            Config::from_lookup(|name| (name == "AML_WEBHOOK_KEY").then(|| key.clone()).flatten())
                .unwrap(),
        )
        .unwrap()
    }

    /// An API Gateway HTTP API / Function URL request (payload format 2.0).
    fn request(method: &str, query: &str, headers: Value, body: Option<&str>) -> Request {
        let mut event: Value = serde_json::from_str(FUNCTION_URL_REQUEST).unwrap();
        event["requestContext"]["http"]["method"] = method.into();
        event["rawQueryString"] = query.into();
        event["headers"] = headers;
        event["body"] = body.into();
        from_str(&event.to_string()).expect("a payload 2.0 request")
    }

    /// A Function URL request (payload format 2.0) whose method, query, headers and body each
    /// test sets.
    const FUNCTION_URL_REQUEST: &str =
        include_str!("../../../tests/fixtures/lambda/run_status_changed.function_url.json");

    fn body_of(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("not a text body: {other:?}"),
        }
    }

    const VALIDATION: &str =
        include_str!("../../../tests/fixtures/event_grid/subscription_validation.json");
    const RUN_COMPLETED: &str =
        include_str!("../../../tests/fixtures/cloud_events/run_completed.json");

    #[tokio::test]
    async fn answers_the_validation_handshake() {
        let request = request(
            "POST",
            "",
            json!({"aeg-event-type": "SubscriptionValidation", "content-type": "application/json"}),
            Some(VALIDATION),
        );
        let response = handle(request, &ctx(None)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            body_of(&response),
            json!({"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"})
        );
    }

    #[tokio::test]
    async fn answers_the_abuse_protection_handshake() {
        let request = request(
            "OPTIONS",
            "",
            json!({"webhook-request-origin": "eventgrid.azure.net"}),
            None,
        );
        let response = handle(request, &ctx(None)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["webhook-allowed-origin"],
            "eventgrid.azure.net"
        );
        assert_eq!(response.headers()["webhook-allowed-rate"], "*");
    }

    #[tokio::test]
    async fn delivers_notifications_to_the_named_function() {
        let request = request(
            "POST",
            "functionName=RunCompleted",
            json!({"aeg-event-type": "Notification", "content-type": "application/cloudevents-batch+json"}),
            Some(RUN_COMPLETED),
        );
        let response = handle(request, &ctx(None)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = body_of(&response);
        assert_eq!(body["results"][0]["function"], "RunCompleted");
        assert_eq!(
            body["results"][0]["eventId"],
            "831e1650-001e-001b-66ab-eeb76e069631"
        );
    }

    #[tokio::test]
    async fn maps_failures_to_event_grid_statuses() {
        let ctx = ctx(Some("k3y"));
        let notification = json!({"aeg-event-type": "Notification"});
        let cases = [
            (
                request("POST", "", notification.clone(), Some(RUN_COMPLETED)),
                401,
            ),
            (
                request(
                    "POST",
                    "code=wrong",
                    notification.clone(),
                    Some(RUN_COMPLETED),
                ),
                401,
            ),
            (
                request(
                    "POST",
                    "code=k3y&functionName=Nope",
                    notification.clone(),
                    Some(RUN_COMPLETED),
                ),
                404,
            ),
            (
                request(
                    "POST",
                    "code=k3y",
                    notification.clone(),
                    Some("[{\"id\": 1}]"),
                ),
                400,
            ),
            (
                request(
                    "POST",
                    "code=k3y",
                    notification.clone(),
                    Some(&"x".repeat(webhook::MAX_BODY_BYTES + 1)),
                ),
                413,
            ),
            (
                request(
                    "POST",
                    "",
                    json!({"x-functions-key": "k3y"}),
                    Some(RUN_COMPLETED),
                ),
                200,
            ),
        ];
        for (request, status) in cases {
            let response = handle(request, &ctx).await;
            let body = body_of(&response);
            assert_eq!(response.status(), status, "{body}");
            assert_eq!(response.headers()["content-type"], "application/json");
        }
    }
}
