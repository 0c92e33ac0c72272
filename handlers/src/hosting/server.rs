//! `aml-handlers serve`: one actix-web server for every route (SPEC §4), started on a listener
//! the caller bound, so tests can bind port 0. Answers `GET /` at once (the Functions host
//! polls it every 25 ms at start-up) and every failure with a JSON body.

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::Server, web};
use aml_events::Function;
use serde_json::json;

use super::{HostError, custom_handler};
use crate::AppContext;

/// Registers every route on an actix-web app; tests use it with `actix_web::test`.
pub fn configure(ctx: web::Data<AppContext>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(ctx)
            .route("/", web::get().to(readiness))
            .route("/{function}", web::post().to(custom_handler::invoke))
            .default_service(web::to(not_found));
    }
}

/// Starts serving on `listener`; the returned server runs until SIGINT/SIGTERM (or its
/// handle stops it), then finishes the requests in flight before resolving.
pub fn serve(listener: TcpListener, ctx: Arc<AppContext>) -> std::io::Result<Server> {
    let grace = ctx.config.deadline + Duration::from_secs(5);
    let ctx = web::Data::from(ctx);
    let server = HttpServer::new(move || App::new().configure(configure(ctx.clone())))
        .listen(listener)?
        .shutdown_timeout(grace.as_secs())
        .run();
    Ok(server)
}

/// `GET /`: name, version and functions.
async fn readiness() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "functions": Function::ALL.map(Function::name),
    }))
}

async fn not_found(request: HttpRequest) -> Result<HttpResponse, HostError> {
    Err(HostError::NotFound {
        method: request.method().to_string(),
        path: request.path().to_owned(),
    })
}
