//! The AWS Lambda entry point: the Event Grid webhook behind a Function URL or an API Gateway
//! HTTP API. Reads the settings once, then serves invocations from the Lambda Runtime API.

use std::{process::ExitCode, sync::Arc};

use aml_handlers::{AppContext, config::Config, hosting, telemetry, traces};
use lambda_http::{Request, service_fn};

/// jemalloc rather than the system allocator: an event allocates dozens of small, short-lived
/// blocks, and glibc's malloc and free took about a tenth of the CPU per invocation; with
/// jemalloc a Functions invocation costs 6-8% less CPU and peak RSS is lower (bench/README.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What the Lambda runtime client reads from the environment Lambda sets up.
const LAMBDA_ENVIRONMENT: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    if let Some(missing) = LAMBDA_ENVIRONMENT
        .iter()
        .find(|name| std::env::var_os(name).is_none())
    {
        eprintln!(
            "bootstrap: {missing} is not set: this binary runs inside AWS Lambda; locally, run it with `cargo lambda watch` (see README)"
        );
        return ExitCode::FAILURE;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("bootstrap: {err}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = match telemetry::init(&config, &traces::Settings::from_env()) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("bootstrap: {}", aml_events::chain(&err));
            return ExitCode::FAILURE;
        }
    };
    let ctx = match AppContext::new(config) {
        Ok(ctx) => Arc::new(ctx),
        Err(err) => {
            eprintln!("bootstrap: {err}");
            return ExitCode::FAILURE;
        }
    };
    let handler = service_fn(move |request: Request| {
        let ctx = ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(hosting::lambda::handle(request, &ctx).await) }
    });
    let ran = lambda_http::run(handler).await;
    telemetry.shutdown();
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bootstrap: the Lambda runtime stopped: {err}");
            ExitCode::FAILURE
        }
    }
}
