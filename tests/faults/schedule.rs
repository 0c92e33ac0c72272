//! A fault schedule, drawn from a seed: the events, when Event Grid first delivers each (alone
//! or in a batch, sometimes twice at once, sometimes again later), the windows in which each
//! outside service refuses, hangs or is slow, the windows in which each instance's ledger is
//! slow, failing or stalled past the deadline, and which instance (if any) stops right after a
//! target took one of its posts. All faults end by [`FAULTS_END`]; Event Grid goes on
//! redelivering for its 24 hours.
//!
//! Times are the schedule's own: the runner reads them on a paused clock (the in-memory
//! ledger) or scaled down on the real one (Azurite).

use std::time::Duration;

/// When every fault is over.
pub const FAULTS_END: Duration = Duration::from_secs(10 * 60);

/// An outside service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// The team's Slack channel.
    Team,
    /// PagerDuty, on-call A's routing key.
    OncallA,
    /// PagerDuty, on-call B's routing key.
    OncallB,
    /// A plain webhook that keeps every notice.
    Audit,
    /// Azure ML's job API.
    Jobs,
    /// The deployment's scoring endpoint.
    Scoring,
}

/// What a service does during a fault window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers 503 at once (takes nothing).
    Refuse,
    /// Never answers (takes nothing).
    Hang,
    /// Takes the request when it comes, and answers this long after (less than an attempt's
    /// timeout).
    Slow(Duration),
    /// Refuses every other request (503 at once) and answers the others as [`Fault::Slow`].
    Flaky(Duration),
    /// Azure refuses the identity (403); other services refuse (503).
    Forbid,
}

/// A service's fault, from `from` until `until`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Whose fault.
    pub service: Service,
    /// From when.
    pub from: Duration,
    /// Until when.
    pub until: Duration,
    /// What it does.
    pub fault: Fault,
}

/// What an instance's ledger does during a fault window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerFault {
    /// Every call takes this much longer.
    Slow(Duration),
    /// Every call fails, transiently (the store unreachable, for less than the deadline).
    Fail,
    /// Every call hangs this long, past the delivery's deadline.
    Stall(Duration),
    /// Recording an effect done takes this long (claims are quick): the record outlives
    /// the delivery's deadline.
    SlowRecord(Duration),
}

/// An instance's ledger fault, from `from` until `until`.
#[derive(Debug, Clone, Copy)]
pub struct LedgerWindow {
    /// Whose ledger.
    pub instance: usize,
    /// From when.
    pub from: Duration,
    /// Until when.
    pub until: Duration,
    /// What it does.
    pub fault: LedgerFault,
}

/// An instance that stops right after a target took its `after_posts`-th post, before it
/// hears the answer: between the effect and its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash {
    /// Which instance.
    pub instance: usize,
    /// After how many posts taken from it.
    pub after_posts: usize,
}

/// What an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A production run failed: on-call A and B, the team, the audit log.
    ProdFailure,
    /// A dev run failed: the team, the audit log.
    DevFailure,
    /// A production run was canceled: the team, the audit log.
    Canceled,
    /// A model monitor breached: a retrain, the team, on-call A, the audit log.
    Breach,
    /// A deployment: a smoke test, the team, the audit log, and on-call B if it failed.
    Deployment,
}

/// One event of the schedule.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Its id.
    pub id: String,
    /// What it is.
    pub kind: Kind,
}

/// One delivery Event Grid starts on its own: the first of a batch, or a spurious repeat.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// When.
    pub at: Duration,
    /// Which events (indices), in one body.
    pub events: Vec<usize>,
}

/// A whole schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The seed it was drawn from.
    pub seed: u64,
    /// How many instances share the ledger.
    pub instances: usize,
    /// The delivery deadline (`AML_DEADLINE_SECONDS`): 25 s, or a short 4 s under which
    /// retries and slow answers crowd its end.
    pub deadline: Duration,
    /// The events.
    pub events: Vec<Planned>,
    /// Event Grid's own deliveries (redeliveries after a failure come on top).
    pub deliveries: Vec<Delivery>,
    /// The outside services' faults.
    pub service_faults: Vec<Window>,
    /// The ledger's faults.
    pub ledger_faults: Vec<LedgerWindow>,
    /// The instance that stops, if one does.
    pub crash: Option<Crash>,
    /// Whether the deployment's endpoint works (its smoke test passes).
    pub endpoint_healthy: bool,
}

impl Schedule {
    /// The schedule of `seed`.
    pub fn draw(seed: u64) -> Schedule {
        let mut rng = fastrand::Rng::with_seed(seed);
        let instances = rng.usize(2..=3);
        let deadline = Duration::from_secs(if rng.bool() { 25 } else { 4 });
        // What an attempt may take at most (the notifier's timeout for this deadline): a slow
        // service answers within it.
        let attempt = aml_handlers::notifier_options(deadline).request_timeout;
        let slow = |rng: &mut fastrand::Rng| attempt.mul_f64(rng.f64() * 0.9);
        let kinds = [
            Kind::ProdFailure,
            Kind::DevFailure,
            Kind::Canceled,
            Kind::Breach,
            Kind::Deployment,
        ];
        let events: Vec<Planned> = (0..rng.usize(2..=6))
            .map(|index| Planned {
                id: format!("s{seed}-e{index}"),
                kind: kinds[rng.usize(..kinds.len())],
            })
            .collect();
        let mut deliveries = Vec::new();
        let mut next = 0;
        while next < events.len() {
            let batch = rng.usize(1..=3).min(events.len() - next);
            let at = seconds(&mut rng, 0..120);
            deliveries.push(Delivery {
                at,
                events: (next..next + batch).collect(),
            });
            // Sometimes the same batch twice at once (to two instances, or one).
            if rng.u8(..10) < 2 {
                deliveries.push(Delivery {
                    at: at + Duration::from_millis(rng.u64(0..50)),
                    events: (next..next + batch).collect(),
                });
            }
            next += batch;
        }
        // Event Grid delivers at least once: now and then an event comes again, later.
        for index in 0..events.len() {
            if rng.u8(..10) < 3 {
                deliveries.push(Delivery {
                    at: seconds(&mut rng, 0..1200),
                    events: vec![index],
                });
            }
        }
        let services = [
            Service::Team,
            Service::OncallA,
            Service::OncallB,
            Service::Audit,
            Service::Jobs,
        ];
        let mut service_faults = Vec::new();
        for service in services {
            for _ in 0..rng.usize(0..=2) {
                let (from, until) = window(&mut rng);
                let fault = match rng.u8(..12) {
                    0..=3 => Fault::Refuse,
                    4..=5 => Fault::Hang,
                    6..=8 => Fault::Slow(slow(&mut rng)),
                    9..=10 => Fault::Flaky(slow(&mut rng)),
                    _ => Fault::Forbid,
                };
                service_faults.push(Window {
                    service,
                    from,
                    until,
                    fault,
                });
            }
        }
        let mut ledger_faults = Vec::new();
        for instance in 0..instances {
            for _ in 0..rng.usize(0..=2) {
                let (from, mut until) = window(&mut rng);
                let fault = match rng.u8(..4) {
                    0 => LedgerFault::Slow(deadline.mul_f64(rng.f64() * 0.1)),
                    // The store unreachable for a while, shorter than the claim's lease: a
                    // record is tried again until it lands. (A longer outage right after an
                    // effect can repeat it once its lease is over: no one can know it was done.)
                    1 => {
                        until = until.min(from + deadline.mul_f64(0.1 + rng.f64() * 0.8));
                        LedgerFault::Fail
                    }
                    // Past the deadline, within the lease (twice the deadline).
                    2 => LedgerFault::Stall(deadline.mul_f64(1.05 + rng.f64() * 0.55)),
                    _ => LedgerFault::SlowRecord(deadline.mul_f64(0.2 + rng.f64() * 0.6)),
                };
                ledger_faults.push(LedgerWindow {
                    instance,
                    from,
                    until,
                    fault,
                });
            }
        }
        let crash = (rng.u8(..10) < 3).then(|| Crash {
            instance: rng.usize(..instances),
            after_posts: rng.usize(1..=3),
        });
        Schedule {
            seed,
            instances,
            deadline,
            events,
            deliveries,
            service_faults,
            ledger_faults,
            crash,
            endpoint_healthy: rng.bool(),
        }
    }
}

fn seconds(rng: &mut fastrand::Rng, range: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rng.u64(range.start * 1000..range.end * 1000))
}

/// A fault window inside the first ten minutes: from a second to three minutes long.
fn window(rng: &mut fastrand::Rng) -> (Duration, Duration) {
    let from = seconds(rng, 0..540);
    let until = (from + seconds(rng, 1..180)).min(FAULTS_END);
    (from, until)
}
