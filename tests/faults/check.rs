//! The invariants, checked once the faults are over and Event Grid's redeliveries have run
//! out: an on-call product's worst failures are a missed page, a false page and a repeated
//! post.
//!
//! 1. Every event was delivered in the end (none dead-lettered).
//! 2. Every wanted (event, target) got its notice at least once; no target got a notice it
//!    was not wanted for (PagerDuty only for failures, breaches and a failed smoke test).
//! 3. No (event, target) got it twice, except where the instance that sent it stopped before
//!    hearing the answer (such repeats are counted, and are the only ones allowed).
//! 4. No notice claims a failure that did not happen: a deployment is called failed exactly
//!    when its endpoint fails; a retrain is called failed only after Azure refused, failed or
//!    hung on that job.
//! 5. Every breach's job was created exactly once, under its one name, unless its retrain was
//!    recorded skipped (one retrain at a time: another breach of its signal was starting its
//!    job then), and every effect ended recorded done in the ledger.

use std::collections::{BTreeMap, BTreeSet};

use aml_events::{
    Secret,
    ledger::{Entry, EntryState},
    notify::Target,
};

use super::{
    run::Ran,
    schedule::{Kind, Schedule},
};

/// What a schedule showed, beside passing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    /// Notices the targets took.
    pub taken: usize,
    /// Repeats of a notice whose first sender stopped before hearing the answer.
    pub repeats_after_a_stop: usize,
}

/// Checks `ran` against `schedule`; the first broken invariant, said plainly.
pub fn check(schedule: &Schedule, ran: &Ran) -> Result<Tally, String> {
    if !ran.dead_lettered.is_empty() {
        return Err(format!("dead-lettered: {:?}", ran.dead_lettered));
    }
    let taken = ran.world.taken();
    let mut tally = Tally {
        taken: taken.len(),
        ..Tally::default()
    };
    // A post whose sender stopped before recording it may be sent again: that, and only
    // that, excuses a repeat.
    let identities = identities();
    let mut by_pair: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
    for post in &taken {
        let (count, unrecorded) = by_pair
            .entry((post.event_id.clone(), post.target))
            .or_default();
        *count += 1;
        let stopped = !post.answered || ran.world.crashed(post.instance);
        if stopped
            && !ran
                .world
                .was_recorded_by(post.instance, &post.event_id, &identities[post.target])
        {
            *unrecorded += 1;
        }
    }
    for planned in &schedule.events {
        let wanted = wanted(planned.kind, schedule.endpoint_healthy);
        for target in TARGETS {
            let (count, unrecorded) = by_pair
                .get(&(planned.id.clone(), target))
                .copied()
                .unwrap_or_default();
            let is_wanted = wanted.contains(target);
            if is_wanted && count == 0 {
                return Err(format!(
                    "{} ({:?}) never reached {target}",
                    planned.id, planned.kind
                ));
            }
            if !is_wanted && count > 0 {
                return Err(format!(
                    "{} ({:?}) reached {target}, which was not wanted",
                    planned.id, planned.kind
                ));
            }
            if count > 1 + unrecorded {
                let senders: Vec<usize> = taken
                    .iter()
                    .filter(|post| post.event_id == planned.id && post.target == target)
                    .map(|post| post.instance)
                    .collect();
                return Err(format!(
                    "{} ({:?}) reached {target} {count} times ({unrecorded} by an instance that stopped before recording it), sent by instances {senders:?}",
                    planned.id, planned.kind
                ));
            }
            tally.repeats_after_a_stop += count.saturating_sub(1);
        }
    }
    claims(schedule, ran)?;
    jobs(schedule, ran)?;
    recorded(&ran.entries)?;
    Ok(tally)
}

/// Every target of the routes file, by the name the world gives it.
const TARGETS: [&str; 4] = ["team", "oncall-a", "oncall-b", "audit"];

/// Each target's identity in the ledger, as the handlers name it.
fn identities() -> BTreeMap<&'static str, String> {
    let target = |url: &str, routing_key: Option<&str>| {
        let mut target = Target::parse(url, "url", 1).expect("a target");
        target.routing_key = routing_key.map(Secret::new);
        target.ledger_id()
    };
    let pagerduty = "https://events.pagerduty.com/v2/enqueue";
    BTreeMap::from([
        (
            "team",
            target("https://hooks.slack.com/services/T0/B0/team", None),
        ),
        ("audit", target("https://hooks.example.com/audit", None)),
        ("oncall-a", target(pagerduty, Some("key-of-oncall-a"))),
        ("oncall-b", target(pagerduty, Some("key-of-oncall-b"))),
    ])
}

/// The targets an event is meant to reach.
fn wanted(kind: Kind, endpoint_healthy: bool) -> BTreeSet<&'static str> {
    let targets: &[&str] = match kind {
        Kind::ProdFailure => &["oncall-a", "oncall-b", "team", "audit"],
        Kind::DevFailure | Kind::Canceled => &["team", "audit"],
        Kind::Breach => &["team", "oncall-a", "audit"],
        Kind::Deployment if endpoint_healthy => &["team", "audit"],
        Kind::Deployment => &["team", "oncall-b", "audit"],
    };
    targets.iter().copied().collect()
}

/// No notice claims a failure that did not happen (the audit webhook keeps each notice's
/// whole body).
fn claims(schedule: &Schedule, ran: &Ran) -> Result<(), String> {
    let jobs = ran.world.jobs();
    for post in ran
        .world
        .taken()
        .iter()
        .filter(|post| post.target == "audit")
    {
        let body = &post.body;
        let title = body["title"].as_str().unwrap_or_default();
        if let Some(smoke) = body.get("smokeTest") {
            let says_failed = title.contains("failed its smoke test");
            if says_failed == schedule.endpoint_healthy {
                return Err(format!(
                    "{}: the notice says {title:?}, the endpoint is {}",
                    post.event_id,
                    if schedule.endpoint_healthy {
                        "healthy"
                    } else {
                        "failing"
                    }
                ));
            }
            let status = if schedule.endpoint_healthy { 200 } else { 500 };
            if smoke["status"] != status {
                return Err(format!(
                    "{}: the notice's smoke test {smoke}",
                    post.event_id
                ));
            }
        }
        if let Some(retrain) = body.get("retrain")
            && retrain["status"] == "failed"
        {
            let job = job_name(&post.event_id);
            let refused = jobs
                .iter()
                .any(|call| call.name == job && !matches!(call.status, 201 | 409));
            if !refused {
                return Err(format!(
                    "{}: the notice says the retrain failed ({retrain}), Azure never refused {job}",
                    post.event_id
                ));
            }
        }
    }
    Ok(())
}

/// The job a breach starts (the route `churn drift`).
fn job_name(event_id: &str) -> String {
    format!("retrain-{}-churn-drift", event_id.to_ascii_lowercase())
}

/// Every breach's job created once under its name, and no other job.
fn jobs(schedule: &Schedule, ran: &Ran) -> Result<(), String> {
    let created = ran.world.created();
    let mut wanted = BTreeSet::new();
    for planned in schedule
        .events
        .iter()
        .filter(|event| event.kind == Kind::Breach)
    {
        let name = job_name(&planned.id);
        let skipped = ran.entries.iter().any(|entry| {
            entry.key.event_id == planned.id
                && entry.key.action == "retrain"
                && entry
                    .outcome
                    .as_ref()
                    .is_some_and(|outcome| outcome.status == "skipped")
        });
        match created.get(&name) {
            Some(1) => {}
            None if skipped => {}
            other => return Err(format!("{name} created {other:?} times")),
        }
        wanted.insert(name);
    }
    if let Some(other) = created.keys().find(|name| !wanted.contains(*name)) {
        return Err(format!("a job nobody wanted: {other}"));
    }
    Ok(())
}

/// Every effect ended recorded: none left claimed.
fn recorded(entries: &[Entry]) -> Result<(), String> {
    match entries.iter().find(|entry| entry.state != EntryState::Done) {
        Some(open) => Err(format!("left claimed in the ledger: {}", open.key)),
        None => Ok(()),
    }
}
