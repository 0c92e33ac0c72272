//! `aml-handlers explain EVENT_FILE [--routes FILE]`: for each event of a delivery body, the
//! routes that match it (each condition, held or not, with what the event has) and what each
//! action would do. Without a routes file the routes are the implicit ones of the `AML_*`
//! settings, shown by name (`settings: RunStatusChanged`). The functions run for real on a
//! dry-run context (no Azure client, no notifier), so the decisions printed are the ones
//! `serve` takes; nothing is sent.
//!
//! Under each retrain, and each notification a route's `notify_every` governs, it says what
//! noise control would weigh: the group, the rules, and, with a ledger configured and
//! reachable, their state now (the last job started, the last notice sent, how many were held
//! since), read and never written; without a ledger, that the state cannot be known here.

use std::{fmt::Write as _, time::Duration};

use aml_events::{Event, Function, WorkspaceId, chain, envelope::Decoded, ledger::Mark};
use time::OffsetDateTime;

use crate::{
    AppContext,
    functions::{
        self, Prepared,
        actions::{
            Delivery,
            quiet::{
                LastJob, LastNotice, MarkState, NEVER_HELD, holds_back, notify_key, retrain_key,
                shown,
            },
        },
    },
    outcome::{Action, ActionReport},
    routes::{Origin, Route, Routes, interval, matcher::EventView, scope},
};

/// How long `explain` waits for the ledger to read one mark.
const READ_MARK_WITHIN: Duration = Duration::from_secs(5);

/// The explanation of `events` under `ctx` (which must be a dry run), as text.
pub async fn explain(events: Vec<Event<Decoded>>, ctx: &AppContext) -> String {
    let mut out = String::new();
    let deadline = tokio::time::Instant::now() + ctx.config.host.deadline;
    let delivery = Delivery::new(ctx, deadline);
    for event in events {
        let _ = writeln!(
            out,
            "event {} ({}), subject {}",
            event.id,
            event.event_type,
            event.subject.as_deref().unwrap_or("(none)")
        );
        let workspace = event.workspace();
        let prepared = match functions::prepare(event, None, ctx) {
            Ok(prepared) => prepared,
            Err(err) => {
                let _ = writeln!(out, "  cannot be handled: {err}\n");
                continue;
            }
        };
        if let Prepared::Act(typed) = &prepared
            && let Some(function) = typed.data.function()
        {
            let view = EventView::new(function, &typed.event, &typed.data);
            explain_routes(&mut out, &ctx.config.routes, function, &view);
        }
        match functions::run(prepared, &delivery, ctx).await {
            Ok(outcome) => {
                if let Some(note) = &outcome.note {
                    let _ = writeln!(out, "  outcome: {note}");
                }
                if !outcome.actions.is_empty() {
                    let _ = writeln!(out, "  would do (dry run, nothing sent):");
                }
                for action in &outcome.actions {
                    let _ = write!(
                        out,
                        "    {} {}",
                        action.action.as_str(),
                        action.status.as_str()
                    );
                    match (&action.target, action.kind) {
                        (Some(target), Some(kind)) => {
                            let _ = write!(out, " to {target} ({kind})");
                        }
                        (Some(target), None) => {
                            let _ = write!(out, " to {target}");
                        }
                        _ => {}
                    }
                    if let Some(route) = &action.route {
                        let _ = write!(out, " (route {route:?})");
                    }
                    let _ = write!(out, ": {}", action.detail);
                    if let Some(request) = &action.request {
                        let _ = write!(out, " [{request}]");
                    }
                    out.push('\n');
                    if let Some(noise) = noise_control(action, workspace.as_ref(), ctx).await {
                        let _ = writeln!(out, "      noise control: {noise}");
                    }
                }
            }
            Err(err) => {
                let _ = writeln!(out, "  failed: {err}");
            }
        }
        out.push('\n');
    }
    out
}

/// Each route the event meets, with each condition held or not and what the event has, and
/// what a matching route asks for.
fn explain_routes(out: &mut String, routes: &Routes, function: Function, view: &EventView<'_>) {
    let _ = writeln!(out, "  function {function}; routes of {}:", routes.origin);
    // The settings make one route per function: those of other functions would only repeat
    // that they are for other functions.
    let shown = routes
        .routes
        .iter()
        .filter(|route| routes.origin != Origin::Settings || route.functions.contains(&function));
    for route in shown {
        let applies = route.applies(view);
        let verdict = if applies { "matches" } else { "does not match" };
        let _ = writeln!(out, "  {}: {verdict}", route.heading());
        if !route.functions.contains(&function) {
            let names = scope::names(route.functions.iter().copied());
            let _ = writeln!(out, "    [ ] functions = {names} (event: {function})");
            continue;
        }
        for matcher in &route.matchers {
            let mark = if matcher.holds(view) { "[x]" } else { "[ ]" };
            let _ = writeln!(out, "    {mark} {matcher} (event: {})", matcher.found(view));
        }
        if applies {
            for action in routes.actions(route) {
                let _ = writeln!(out, "    asks: {action}");
            }
        }
    }
}

/// What noise control would weigh for `action` (of an event from `workspace`), when it judges
/// it: the group, the route's rules, and the state the ledger holds now.
async fn noise_control(
    action: &ActionReport,
    workspace: Option<&WorkspaceId>,
    ctx: &AppContext,
) -> Option<String> {
    let routes = &ctx.config.routes;
    let route = routes
        .routes
        .iter()
        .find(|route| Some(&route.name) == action.route.as_ref())?;
    let never_held = action.action == Action::Notify
        && route.notify_every.is_some()
        && action.kind.is_some_and(|kind| !holds_back(kind));
    if never_held {
        return Some(NEVER_HELD.to_owned());
    }
    let group = action.group.as_deref()?;
    let (key, rules) = match action.action {
        Action::Retrain => {
            let cooldown = route.retrain.as_ref()?.cooldown;
            let rules = match cooldown {
                Some(cooldown) => format!(
                    "one retrain at a time, cooldown {}",
                    interval::show(cooldown)
                ),
                None => "one retrain at a time, no cooldown".to_owned(),
            };
            (retrain_key(workspace?, &route.name, group), rules)
        }
        Action::Notify => {
            let every = route.notify_every?;
            let target = (routes.targets.iter())
                .find(|target| Some(&target.name) == action.target.as_ref())?;
            let rules = format!(
                "at most one notice to {} every {}",
                target.name,
                interval::show(every)
            );
            (
                notify_key(workspace, &route.name, &target.identity, group),
                rules,
            )
        }
        Action::Enrich | Action::SmokeTest => return None,
    };
    let state = if ctx.ledger_shared {
        let read = tokio::time::timeout(READ_MARK_WITHIN, ctx.ledger.read_mark(&key)).await;
        match read {
            Ok(Ok(mark)) => state_now(action.action, route, mark.as_ref()),
            Ok(Err(err)) => format!(
                "the ledger could not be read ({}), so the state cannot be known",
                chain(&err)
            ),
            Err(_) => "the ledger did not answer in time, so the state cannot be known".to_owned(),
        }
    } else {
        "the state (last job, last notice, held count) lives in the ledger: without one (AML_LEDGER) it cannot be known here".to_owned()
    };
    Some(format!("group {group}; {rules}; {state}"))
}

/// The state a mark holds, and what it means for an event now.
fn state_now(action: Action, route: &Route, mark: Option<&Mark>) -> String {
    let now = OffsetDateTime::now_utc();
    if action == Action::Retrain {
        let last = LastJob::from_mark(mark);
        let (Some(job), Some(started)) = (&last.job, last.started) else {
            return "no job started for this group yet".to_owned();
        };
        let mut said = format!(
            "last job started {job} at {} (whether it still runs is asked of Azure when a retrain comes)",
            shown(started.as_offset_date_time())
        );
        let cooldown = route.retrain.as_ref().and_then(|retrain| retrain.cooldown);
        if let Some(until) = cooldown.and_then(|cooldown| last.cooldown_until(cooldown)) {
            let verdict = if now < until {
                "not over: a retrain now would be skipped"
            } else {
                "over"
            };
            let _ = write!(said, "; its cooldown ends {} ({verdict})", shown(until));
        }
        return said;
    }
    let last = LastNotice::from_mark(mark);
    let (Some(sent), Some(until)) = (
        last.last_sent(),
        route.notify_every.and_then(|every| last.quiet_until(every)),
    ) else {
        return "no notice sent for this group yet: this one would be sent".to_owned();
    };
    let held = match last.held_since {
        Some(since) if last.held > 0 => format!(
            "{} held since {}",
            last.held,
            shown(since.as_offset_date_time())
        ),
        _ => "none held since".to_owned(),
    };
    let verdict = if now < until {
        format!("until {}, this one would be held", shown(until))
    } else {
        "the interval is over: this one would be sent, reporting those held".to_owned()
    };
    format!(
        "last notice sent at {} (event {}); {held}; {verdict}",
        shown(sent.as_offset_date_time()),
        last.last_event_id.as_deref().unwrap_or("unknown")
    )
}
