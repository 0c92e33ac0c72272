//! actix-web with nothing on top: `GET /` answers 200 and any `POST` is read whole and answered
//! with the same bytes every time. Measured beside aml-handlers, it shows what the framework
//! itself costs per invocation, which no change to the handlers can go below.
//!
//!     actix-floor [--port PORT] [--answer FILE]
//!
//! The port is `FUNCTIONS_CUSTOMHANDLER_PORT` when set (as for aml-handlers), else `--port`, else
//! 8080. The answer is the file's bytes, else a dry-run answer of aml-handlers' shape and size.

use std::{env, fs, io, process};

use actix_web::{App, HttpResponse, HttpServer, http::header::CONTENT_TYPE, web};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// aml-handlers' dry-run answer to the benchmark's RunCompleted invocation (380 bytes).
const DEFAULT_ANSWER: &str = concat!(
    r#"{"Logs":["RunCompleted 831e1650-001e-001b-66ab-eeb76e069631: notify skipped: "#,
    r#"RunCompleted is not in AML_NOTIFY_ON"],"Outputs":{},"ReturnValue":{"actions":"#,
    r#"[{"action":"notify","detail":"RunCompleted is not in AML_NOTIFY_ON","status":"skipped"}],"#,
    r#""eventId":"831e1650-001e-001b-66ab-eeb76e069631","#,
    r#""eventType":"Microsoft.MachineLearningServices.RunCompleted","function":"RunCompleted"}}"#,
);

/// The largest invocation aml-handlers reads (`MAX_INVOCATION_BYTES`), so both refuse alike.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

struct Options {
    port: u16,
    answer: web::Bytes,
}

fn options() -> Result<Options, String> {
    let mut port = None;
    let mut answer = web::Bytes::from_static(DEFAULT_ANSWER.as_bytes());
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = Some(value()?),
            "--answer" => {
                let path = value()?;
                answer = fs::read(&path)
                    .map_err(|err| format!("cannot read {path}: {err}"))?
                    .into();
            }
            "-h" | "--help" => {
                println!("usage: actix-floor [--port PORT] [--answer FILE]");
                process::exit(0);
            }
            _ => return Err(format!("unknown argument {arg} (see --help)")),
        }
    }
    let port = env::var("FUNCTIONS_CUSTOMHANDLER_PORT").ok().or(port);
    let port = match port {
        Some(text) => text
            .parse()
            .map_err(|_| format!("{text:?} is not a port"))?,
        None => 8080,
    };
    Ok(Options { port, answer })
}

async fn invoke(_body: web::Bytes, answer: web::Data<web::Bytes>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(answer.get_ref().clone())
}

async fn readiness() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(r#"{"name":"actix-floor"}"#)
}

fn main() -> io::Result<()> {
    let options = options().unwrap_or_else(|problem| {
        eprintln!("actix-floor: {problem}");
        process::exit(2);
    });
    let answer = web::Data::new(options.answer);
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(answer.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .route("/", web::get().to(readiness))
                .default_service(web::post().to(invoke))
        })
        .bind(("127.0.0.1", options.port))?
        .run(),
    )
}
