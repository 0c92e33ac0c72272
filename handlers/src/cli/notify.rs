//! `aml-handlers notify --test`: a sample notice to every notification target, or to one, to
//! see that each is reached and renders it.

use std::process::ExitCode;

use aml_events::{
    Secret,
    notify::{Kind, Notifier, NotifierOptions, Target},
};
use aml_handlers::config::{AML_NOTIFY_PAGERDUTY_KEY, AML_NOTIFY_URL};

use super::start::{self, Failed, fail};

/// Send a test message to every notification target (AML_NOTIFY_URL), or to one.
///
/// The sample is a failed run, rendered for each target's kind: an Adaptive Card for Teams
/// Workflows, Block Kit for Slack, an embed for Discord, an Events API v2 alert for
/// PagerDuty (routing key from AML_NOTIFY_PAGERDUTY_KEY), the plain JSON body for any other
/// webhook. Prints each target's answer; exits 1 if any target failed.
///
/// A target is a URL, its kind told by its host, or kind:URL for proxies, custom domains
/// and stand-ins (kinds: teams, slack, discord, pagerduty, webhook).
///
/// Examples:
///   AML_NOTIFY_URL=https://hooks.slack.com/services/T0/B0/XXXX aml-handlers notify --test
///   aml-handlers notify --test --to 'teams:https://proxy.example.com/hook'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Send the sample notice (the only thing `notify` does).
    #[arg(long, required = true)]
    test: bool,
    /// The one target to try, URL or kind:URL (default: every target of AML_NOTIFY_URL).
    #[arg(long, value_name = "TARGET")]
    to: Option<String>,
}

/// Sends the sample and prints each target's answer.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let config = start::config()?;
    let targets = match args.to.as_deref() {
        Some(text) => vec![target(text)?],
        None => config.actions.notify_targets.clone(),
    };
    if targets.is_empty() {
        return Err(fail(format!(
            "no notification target: set {AML_NOTIFY_URL} or pass --to TARGET"
        )));
    }
    let notifier = Notifier::new(NotifierOptions {
        deadline: config.host.deadline,
        ..NotifierOptions::default()
    })
    .map_err(fail)?;
    let runtime = start::runtime()?;
    let answers = runtime.block_on(aml_handlers::notify::send_test(&notifier, &targets));
    for answer in &answers {
        println!("{}", answer.line());
    }
    if answers.iter().all(|answer| answer.result.is_ok()) {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

/// The one target `--to` names; a PagerDuty one takes its routing key from the environment.
fn target(text: &str) -> Result<Target, Failed> {
    let key = std::env::var(AML_NOTIFY_PAGERDUTY_KEY)
        .ok()
        .filter(|key| !key.trim().is_empty())
        .map(|key| Secret::new(key.trim()));
    match Target::parse(text, "--to", 1) {
        Ok(target) if target.kind == Kind::PagerDuty && key.is_none() => Err(fail(format!(
            "--to: a pagerduty target needs a routing key: set {AML_NOTIFY_PAGERDUTY_KEY}"
        ))),
        Ok(mut target) => {
            target.routing_key = key;
            Ok(target)
        }
        Err(err) => Err(fail(err)),
    }
}
