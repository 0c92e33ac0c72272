//! `aml-handlers serve`: the actix-web adapter, one server for every route (docs/answers.md), started on
//! a listener the caller bound, so tests can bind port 0. Its routes only move headers and
//! bytes into [`webhook`] and [`custom_handler`] and their [`Answer`] back out (`to_response`,
//! the one place an answer becomes an actix-web response). Answers `GET /` at once (the
//! Functions host polls it every 25 ms at start-up) and every failure with a JSON body.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    dev::Server,
    http::{
        Method, StatusCode,
        header::{AUTHORIZATION, AsHeaderName, CONTENT_TYPE, HeaderName},
    },
    web,
};

use aml_events::Function;

use super::{
    Answer, Context, HostError, body,
    custom_handler::{self, INVOCATION_ID_HEADER, MAX_INVOCATION_BYTES},
    respond,
    webhook::{self, WebhookRequest},
};
use crate::{
    AppContext, metrics,
    traces::parent::{Incoming, TRACEPARENT, TRACESTATE},
};

// The headers read on every request, named once: a name given as text is parsed and
// lower-cased on each lookup.
static INVOCATION_ID: HeaderName = HeaderName::from_static(INVOCATION_ID_HEADER);
static TRACE_PARENT: HeaderName = HeaderName::from_static(TRACEPARENT);
static TRACE_STATE: HeaderName = HeaderName::from_static(TRACESTATE);
static WEBHOOK_KEY: HeaderName = HeaderName::from_static(webhook::KEY_HEADER);
static EVENT_TYPE: HeaderName = HeaderName::from_static(webhook::EVENT_TYPE_HEADER);

/// Registers every route on an actix-web app; tests use it with `actix_web::test`.
pub fn configure(ctx: web::Data<AppContext>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(ctx)
            .route("/", web::get().to(readiness))
            .route(metrics::PATH, web::to(metrics_page))
            .service(
                web::resource(webhook::PATH)
                    .route(web::post().to(webhook_post))
                    .route(web::method(Method::OPTIONS).to(webhook_options)),
            )
            .default_service(web::to(fallback));
        // Exact paths match without the router's pattern engine, and without a method guard,
        // which allocates on every request it checks; other spellings of a function's name
        // reach the same handler through `fallback`.
        for function in Function::ALL {
            config.route(&format!("/{}", function.name()), web::to(function_route));
        }
    }
}

/// Starts serving on `listener`; the returned server runs until SIGINT/SIGTERM (or its
/// handle stops it), then finishes the requests in flight before resolving.
pub fn serve(listener: TcpListener, ctx: Arc<AppContext>) -> std::io::Result<Server> {
    let grace = ctx.config.host.deadline + Duration::from_secs(5);
    let ctx = web::Data::from(ctx);
    let server = HttpServer::new(move || App::new().configure(configure(ctx.clone())))
        .listen(listener)?
        .shutdown_timeout(grace.as_secs())
        .run();
    Ok(server)
}

/// The one place an [`Answer`] becomes an actix-web response.
fn to_response(answer: Answer) -> HttpResponse {
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    response.insert_header((CONTENT_TYPE, "application/json"));
    for (name, value) in answer.headers {
        response.insert_header((name, value));
    }
    response.body(answer.body)
}

fn header(request: &HttpRequest, name: impl AsHeaderName) -> Option<&str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// `GET /`: name, version and functions.
async fn readiness() -> HttpResponse {
    to_response(super::readiness())
}

/// `GET /metrics`: the counts in the Prometheus text format, with no key (as `GET /`); other
/// methods are 404 `NotFound`, as from `fallback`.
async fn metrics_page(request: HttpRequest, ctx: web::Data<AppContext>) -> HttpResponse {
    if request.method() != Method::GET {
        return not_found(&request);
    }
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, metrics::CONTENT_TYPE))
        .body(ctx.metrics.render())
}

/// `POST /runtime/webhooks/eventgrid`: key and function checked before the body is read.
async fn webhook_post(
    request: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
) -> HttpResponse {
    let webhook_request = WebhookRequest {
        query: Some(request.query_string()),
        key_header: header(&request, &WEBHOOK_KEY),
        event_type_header: header(&request, &EVENT_TYPE),
        content_type: header(&request, CONTENT_TYPE),
        authorization: header(&request, AUTHORIZATION),
        traceparent: header(&request, &TRACE_PARENT),
        tracestate: header(&request, &TRACE_STATE),
    };
    let result = async {
        let function = webhook::admit(&webhook_request, &ctx)?;
        let body = body::read(&request, payload, webhook::MAX_BODY_BYTES).await?;
        webhook::deliver(&webhook_request, function, &body, &ctx).await
    }
    .await;
    to_response(respond(result, Context::default()))
}

/// `OPTIONS /runtime/webhooks/eventgrid`: the abuse-protection handshake.
async fn webhook_options(request: HttpRequest) -> HttpResponse {
    let result = webhook::abuse_protection(header(&request, webhook::ORIGIN_HEADER));
    to_response(respond(result, Context::default()))
}

/// `/{function}`: a host invocation when POSTed, 404 `NotFound` (as from `fallback`) otherwise.
async fn function_route(
    request: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
) -> HttpResponse {
    if request.method() != Method::POST {
        return not_found(&request);
    }
    invoke(request, payload, ctx).await
}

/// `POST /{anything}` is a host invocation (answered 404 `UnknownFunction` when no function
/// has that name); anything else is 404 `NotFound`.
async fn fallback(
    request: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
) -> HttpResponse {
    let one_segment = request.path().len() > 1 && !request.path()[1..].contains('/');
    if request.method() == Method::POST && one_segment {
        return invoke(request, payload, ctx).await;
    }
    not_found(&request)
}

/// Reads a host invocation's body and hands it to [`custom_handler::invoke`]: only from
/// loopback, since the host routes check no key nor token (see [`HostError::NotLoopback`]).
async fn invoke(
    request: HttpRequest,
    payload: web::Payload,
    ctx: web::Data<AppContext>,
) -> HttpResponse {
    let name = request.path().trim_start_matches('/');
    let invocation_id = header(&request, &INVOCATION_ID).unwrap_or("");
    // Before the body is read: a caller beyond loopback is not the Functions host.
    if !from_loopback(&request) {
        let context = custom_handler::failure_context(name, invocation_id);
        return to_response(HostError::NotLoopback.to_answer(context));
    }
    let answer = match body::read(&request, payload, MAX_INVOCATION_BYTES).await {
        Ok(body) => {
            let incoming = Incoming {
                traceparent: header(&request, &TRACE_PARENT),
                tracestate: header(&request, &TRACE_STATE),
                invocation_id: Some(invocation_id),
            };
            custom_handler::invoke(name, &incoming, &body, &ctx).await
        }
        Err(err) => err.to_answer(custom_handler::failure_context(name, invocation_id)),
    };
    to_response(answer)
}

/// Whether the request came over loopback, as the Functions host's do (it runs the handler
/// beside itself and calls `127.0.0.1`). A request with no peer address (an in-process test
/// request; every TCP connection has one) counts as loopback.
fn from_loopback(request: &HttpRequest) -> bool {
    request
        .peer_addr()
        .is_none_or(|peer| peer.ip().to_canonical().is_loopback())
}

fn not_found(request: &HttpRequest) -> HttpResponse {
    let err = HostError::NotFound {
        method: request.method().to_string(),
        path: request.path().to_owned(),
    };
    to_response(err.to_answer(Context::default()))
}

#[cfg(test)]
mod tests {
    //! The actix-web adapter in process, without a socket: each route answers what its
    //! protocol core decides, always as JSON.

    use actix_web::{
        body::MessageBody,
        dev::ServiceResponse,
        test::{self, TestRequest},
    };
    use serde_json::{Value, json};

    use super::*;
    use crate::config::Config;

    const RUN_COMPLETED: &str =
        include_str!("../../../tests/fixtures/event_grid/run_completed.json");
    const VALIDATION: &str =
        include_str!("../../../tests/fixtures/event_grid/subscription_validation.json");

    fn ctx() -> web::Data<AppContext> {
        web::Data::new(AppContext::new(Config::from_lookup(|_| None).unwrap()).unwrap())
    }

    /// Status and JSON body, after checking the content type every answer carries.
    async fn answer(response: ServiceResponse<impl MessageBody>) -> (u16, Value) {
        let status = response.status().as_u16();
        assert_eq!(
            response.headers().get(CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = test::read_body(response).await;
        (status, serde_json::from_slice(&body).expect("a JSON body"))
    }

    #[actix_web::test]
    async fn answers_readiness_at_once() {
        let app = test::init_service(App::new().configure(configure(ctx()))).await;
        let (status, body) =
            answer(test::call_service(&app, TestRequest::get().uri("/").to_request()).await).await;
        assert_eq!(status, 200);
        assert_eq!(body["functions"].as_array().unwrap().len(), 5);
    }

    #[actix_web::test]
    async fn answers_a_host_invocation_with_outputs_logs_and_return_value() {
        let app = test::init_service(App::new().configure(configure(ctx()))).await;
        let events: Value = serde_json::from_str(RUN_COMPLETED).unwrap();
        let invocation = custom_handler::invocation(&events[0], Function::RunCompleted);
        let request = TestRequest::post()
            .uri("/RunCompleted")
            .insert_header((INVOCATION_ID_HEADER, "6b1ab2a5-0b7c-4a2e-b0ae-1f5d6b4c3e21"))
            .set_payload(invocation.to_string())
            .to_request();
        let (status, body) = answer(test::call_service(&app, request).await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["Outputs"], json!({}));
        assert!(!body["Logs"].as_array().unwrap().is_empty(), "{body}");
        assert_eq!(body["ReturnValue"]["function"], "RunCompleted");
        assert_eq!(body["ReturnValue"]["eventId"], events[0]["id"]);
    }

    // See: issue 25 review: the host routes check no key nor token, so an invocation from
    // beyond loopback would bypass the webhook's key and Entra ID.
    #[actix_web::test]
    async fn a_host_invocation_from_beyond_loopback_is_refused_before_its_body_is_read() {
        let app = test::init_service(App::new().configure(configure(ctx()))).await;
        let events: Value = serde_json::from_str(RUN_COMPLETED).unwrap();
        let invocation = custom_handler::invocation(&events[0], Function::RunCompleted);
        for (peer, path, allowed) in [
            ("10.1.2.3:40000", "/RunCompleted", false),
            ("10.1.2.3:40000", "/runcompleted", false),
            ("[2001:db8::1]:40000", "/RunCompleted", false),
            ("127.0.0.1:40000", "/RunCompleted", true),
            ("[::1]:40000", "/RunCompleted", true),
            ("[::ffff:127.0.0.1]:40000", "/RunCompleted", true),
        ] {
            let request = TestRequest::post()
                .uri(path)
                .peer_addr(peer.parse().unwrap())
                .set_payload(invocation.to_string())
                .to_request();
            let (status, body) = answer(test::call_service(&app, request).await).await;
            if allowed {
                assert_eq!(status, 200, "{peer} {path}: {body}");
            } else {
                assert_eq!(status, 403, "{peer} {path}: {body}");
                assert_eq!(body["error"]["code"], "Forbidden");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("only from loopback"),
                    "{body}"
                );
            }
        }
    }

    #[actix_web::test]
    async fn every_failure_is_json_with_its_status() {
        let app = test::init_service(App::new().configure(configure(ctx()))).await;
        let cases = [
            (
                TestRequest::post().uri("/Nope").set_payload("{}"),
                404,
                "UnknownFunction",
            ),
            (TestRequest::get().uri("/RunCompleted"), 404, "NotFound"),
            (TestRequest::get().uri("/a/b"), 404, "NotFound"),
            (
                TestRequest::post()
                    .uri("/RunCompleted")
                    .set_payload("not json"),
                400,
                "BadRequest",
            ),
            (
                TestRequest::post()
                    .uri("/RunCompleted")
                    .set_payload(r#"{"Data":{"event":"\"[{\\\"id\\\":1}]\""}}"#),
                400,
                "BadRequest",
            ),
            (
                TestRequest::post()
                    .uri(&format!("{}?functionName=Nope", webhook::PATH))
                    .set_payload("[]"),
                404,
                "UnknownFunction",
            ),
            (
                TestRequest::default()
                    .method(Method::OPTIONS)
                    .uri(webhook::PATH),
                400,
                "BadRequest",
            ),
        ];
        for (request, expected, code) in cases {
            let (status, body) = answer(test::call_service(&app, request.to_request()).await).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (expected, Some(code)),
                "{body}"
            );
            assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        }
    }

    #[actix_web::test]
    async fn answers_both_webhook_handshakes() {
        let app = test::init_service(App::new().configure(configure(ctx()))).await;
        let request = TestRequest::post()
            .uri(webhook::PATH)
            .insert_header((webhook::EVENT_TYPE_HEADER, "SubscriptionValidation"))
            .set_payload(VALIDATION)
            .to_request();
        let (status, body) = answer(test::call_service(&app, request).await).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["validationResponse"],
            "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
        );

        let request = TestRequest::default()
            .method(Method::OPTIONS)
            .uri(webhook::PATH)
            .insert_header((webhook::ORIGIN_HEADER, "eventgrid.azure.net"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(
            response.headers().get("webhook-allowed-origin").unwrap(),
            "eventgrid.azure.net"
        );
        assert_eq!(response.headers().get("webhook-allowed-rate").unwrap(), "*");
        assert_eq!(answer(response).await.0, 200);
    }
}
