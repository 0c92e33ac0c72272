//! What exporting traces costs an event: the dry-run rows of `rows` again, each beside itself
//! with traces on (a delivery span per event, an action span per action, batched and posted as
//! OTLP/HTTP protobuf to a loopback sink). Traces cannot be turned off again in a process, so
//! the traced rows run after all the others, and in a process of their own for the counts.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    time::Duration,
};

use aml_handlers::{
    AppContext,
    config::Config,
    telemetry::{self, Telemetry},
    traces,
};

use crate::rows::{self, Row};

/// The rows in pairs: each without traces, then the same with traces exported.
pub(crate) fn rows() -> Vec<(Row, bool)> {
    let dry_run = || AppContext::new(Config::from_lookup(|_| None).unwrap()).unwrap();
    vec![
        (row("whole function (dry run)", dry_run()), false),
        (
            row("whole function (dry run, traces exported)", dry_run()),
            true,
        ),
        (
            row("whole function (dry run, notify)", rows::notifying()),
            false,
        ),
        (
            row(
                "whole function (dry run, notify, traces exported)",
                rows::notifying(),
            ),
            true,
        ),
    ]
}

fn row(name: &'static str, ctx: AppContext) -> Row {
    Row { name, ctx }
}

/// Turns traces on for the rest of the process, exported to `endpoint`; logs off, so that
/// only the traces' cost is added to the rows (the rows without traces log nothing either).
pub(crate) fn export_to(endpoint: &str) -> Telemetry {
    let config =
        Config::from_lookup(|name| (name == "RUST_LOG").then(|| "off".to_owned())).unwrap();
    let settings = traces::Settings {
        endpoint: Some(endpoint.to_owned()),
        timeout: Duration::from_secs(10),
        headers: false,
    };
    telemetry::init(&config, &settings).expect("the exporter starts")
}

/// A loopback OTLP/HTTP sink: answers every request 200 with an empty body, as a collector
/// that took the spans does, on a thread of its own.
pub(crate) fn sink() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_each(stream));
        }
    });
    url
}

/// Reads requests off one connection (a head, then `Content-Length` bytes) and answers each.
fn answer_each(stream: TcpStream) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || writer
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .is_err()
        {
            return;
        }
    }
}
