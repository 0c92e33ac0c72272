//! `aml-handlers explain EVENT_FILE [--routes FILE]`: for each event of a delivery body, the
//! routes that match it (each condition, held or not, with what the event has) and what each
//! action would do. Without a routes file the routes are the implicit ones of the `AML_*`
//! settings, shown by name (`settings: RunStatusChanged`). The functions run for real on a
//! dry-run context (no Azure client, no notifier), so the decisions printed are the ones
//! `serve` takes; nothing is sent.

use std::fmt::Write as _;

use aml_events::{Event, Function, envelope::Decoded};

use crate::{
    AppContext,
    functions::{self, Prepared, actions::Delivery},
    routes::{Origin, Routes, matcher::EventView, scope},
};

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
        let prepared = match functions::prepare(event, None, ctx) {
            Ok(prepared) => prepared,
            Err(err) => {
                let _ = writeln!(out, "  cannot be handled: {err}\n");
                continue;
            }
        };
        if let Prepared::Act(typed) = &prepared {
            if let Some(function) = typed.data.function() {
                let view = EventView::new(function, &typed.event, &typed.data);
                explain_routes(&mut out, &ctx.config.routes, function, &view);
            }
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
