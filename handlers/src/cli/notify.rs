//! `aml-handlers notify --test`: a sample notice to every notification target, or to one, to
//! see that each is reached and renders it.

use std::{path::PathBuf, process::ExitCode};

use aml_events::notify::{Notifier, NotifierOptions, Target};
use aml_handlers::{
    config::{AML_NOTIFY_URL, ActionSettings},
    routes::NamedTarget,
    settings::AML_ROUTES_FILE,
};

use super::start::{self, Failed, fail};

/// Send a test message to every notification target, or to one.
///
/// The targets are the routes file's [targets] (--routes, else AML_ROUTES_FILE), or without
/// a file those of AML_NOTIFY_URL. The sample is a failed run, rendered for each target's
/// kind: an Adaptive Card for Teams Workflows, Block Kit for Slack, an embed for Discord, an
/// Events API v2 alert for PagerDuty, the plain JSON body for any other webhook. A PagerDuty
/// test sends `trigger` and then `resolve` with the same dedup_key, so it leaves no incident
/// open. Prints each target's answer; exits 1 if any target failed.
///
/// --to picks one target: a name from the routes file ([targets.NAME]; without a file the
/// kind: slack, slack-2, ...), or any URL, its kind told by its host or given as kind:URL
/// (kinds: teams, slack, discord, pagerduty, webhook). A webhook URL is signed with
/// AML_NOTIFY_SECRET when it is set.
///
/// Examples:
///   AML_NOTIFY_URL=https://hooks.slack.com/services/T0/B0/XXXX aml-handlers notify --test
///   aml-handlers notify --test --routes routes.toml --to oncall
///   aml-handlers notify --test --to 'teams:https://proxy.example.com/hook'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Send the sample notice (the only thing `notify` does).
    #[arg(long, required = true)]
    test: bool,
    /// The one target to try: a target's name, or a URL / kind:URL (default: every target).
    #[arg(long, value_name = "NAME|URL")]
    to: Option<String>,
    /// The routes file whose targets to try (default: AML_ROUTES_FILE).
    #[arg(long, value_name = "FILE")]
    routes: Option<PathBuf>,
}

/// Sends the sample and prints each target's answer.
pub(crate) fn run(args: Args) -> Result<ExitCode, Failed> {
    let routes = args.routes.map(|path| path.display().to_string());
    let config = start::config_from(|setting| match setting {
        AML_ROUTES_FILE if routes.is_some() => routes.clone(),
        other => std::env::var(other).ok(),
    })?;
    let known = config.routes.targets();
    let targets = match args.to.as_deref() {
        Some(to) => vec![chosen(to, known, &config.actions)?],
        None => known.to_vec(),
    };
    if targets.is_empty() {
        return Err(fail(format!(
            "no notification target: set {AML_NOTIFY_URL}, give a routes file with [targets], or pass --to URL"
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

/// The target `--to` names: one of `known` by name, else a URL, given the keys its kind takes
/// from the settings (a PagerDuty routing key, which it needs; a webhook's signing key).
fn chosen(
    to: &str,
    known: &[NamedTarget],
    actions: &ActionSettings,
) -> Result<NamedTarget, Failed> {
    if let Some(named) = known.iter().find(|named| named.name == to) {
        return Ok(named.clone());
    }
    if !to.contains("://") {
        let names: Vec<&str> = known.iter().map(|named| named.name.as_str()).collect();
        let names = if names.is_empty() {
            "there are none".to_owned()
        } else {
            format!("they are: {}", names.join(", "))
        };
        return Err(fail(format!(
            "--to {to}: no target of that name ({names}); or give a URL"
        )));
    }
    let target = Target::parse(to, "--to", 1)
        .and_then(|target| {
            target.with_keys(
                actions.notify_routing_key.as_ref(),
                actions.notify_signing.as_ref(),
                "--to",
            )
        })
        .map_err(fail)?;
    Ok(NamedTarget::new("--to".to_owned(), target))
}
