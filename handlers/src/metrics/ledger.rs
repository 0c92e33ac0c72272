//! The ledger, counted: [`CountedLedger`] wraps whichever ledger the context has (Azure Table
//! storage or this process's memory) and counts each operation by its result in
//! `aml_ledger_operations_total`, so that the functions and the stores stay as they are.

use std::{sync::Arc, time::SystemTime};

use aml_events::ledger::{
    Claim, ClaimToken, EffectKey, Entry, HistoryQuery, Ledger, LedgerError, LedgerFuture, Mark,
    MarkWrite, Recorded,
};
use prometheus_client::metrics::{counter::Counter, family::Family};

/// A ledger operation: the `operation` label, one per method of [`Ledger`].
#[derive(Debug, Clone, Copy)]
enum Operation {
    Claim,
    Complete,
    Release,
    History,
    Clean,
    ReadMark,
    WriteMark,
}

impl Operation {
    const ALL: [Operation; 7] = [
        Operation::Claim,
        Operation::Complete,
        Operation::Release,
        Operation::History,
        Operation::Clean,
        Operation::ReadMark,
        Operation::WriteMark,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Operation::Claim => "claim",
            Operation::Complete => "complete",
            Operation::Release => "release",
            Operation::History => "history",
            Operation::Clean => "clean",
            Operation::ReadMark => "read-mark",
            Operation::WriteMark => "write-mark",
        }
    }

    /// The results this operation can have: the series registered for it.
    fn results(self) -> &'static [Answer] {
        match self {
            Operation::Claim => &[
                Answer::Acquired,
                Answer::Done,
                Answer::HeldElsewhere,
                Answer::Error,
            ],
            Operation::Complete => &[Answer::Ok, Answer::ClaimLost, Answer::Error],
            Operation::WriteMark => &[Answer::Ok, Answer::Conflict, Answer::Error],
            Operation::Release | Operation::History | Operation::Clean | Operation::ReadMark => {
                &[Answer::Ok, Answer::Error]
            }
        }
    }
}

/// How a ledger operation ended: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A claim that is ours: the effect runs.
    Acquired,
    /// A claim on an effect done before: a duplicate.
    Done,
    /// A claim another instance holds: the effect is deferred.
    HeldElsewhere,
    /// Done as asked.
    Ok,
    /// A completion whose claim was taken over meanwhile.
    ClaimLost,
    /// A mark another writer changed first.
    Conflict,
    /// The ledger could not answer (unreachable, refused, too slow).
    Error,
}

impl Answer {
    const ALL: [Answer; 7] = [
        Answer::Acquired,
        Answer::Done,
        Answer::HeldElsewhere,
        Answer::Ok,
        Answer::ClaimLost,
        Answer::Conflict,
        Answer::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Answer::Acquired => "acquired",
            Answer::Done => "done",
            Answer::HeldElsewhere => "held-elsewhere",
            Answer::Ok => "ok",
            Answer::ClaimLost => "claim-lost",
            Answer::Conflict => "conflict",
            Answer::Error => "error",
        }
    }

    /// `Ok` or `Error`, for the operations that answer nothing else.
    fn of<T>(result: &Result<T, LedgerError>) -> Answer {
        match result {
            Ok(_) => Answer::Ok,
            Err(_) => Answer::Error,
        }
    }
}

/// A counter for every operation and result; those an operation cannot have are left off the
/// page (they are never counted).
#[derive(Debug)]
pub struct LedgerCounts([[Counter; Answer::ALL.len()]; Operation::ALL.len()]);

impl LedgerCounts {
    /// Every series of `family` (`aml_ledger_operations_total`), created at zero.
    pub fn new(family: &Family<[(&'static str, &'static str); 2], Counter>) -> LedgerCounts {
        LedgerCounts(std::array::from_fn(|operation| {
            let operation = Operation::ALL[operation];
            std::array::from_fn(|answer| {
                let answer = Answer::ALL[answer];
                if operation.results().contains(&answer) {
                    family.get_or_create_owned(&[
                        ("operation", operation.as_str()),
                        ("result", answer.as_str()),
                    ])
                } else {
                    Counter::default()
                }
            })
        }))
    }

    fn count(&self, operation: Operation, answer: Answer) {
        self.0[operation as usize][answer as usize].inc();
    }
}

/// A ledger that counts what it is asked and how each answer ended, then answers as the
/// ledger it wraps.
#[derive(Debug)]
pub struct CountedLedger {
    inner: Arc<dyn Ledger>,
    counts: Arc<LedgerCounts>,
}

impl CountedLedger {
    /// `inner`, counted in `counts`.
    pub fn new(inner: Arc<dyn Ledger>, counts: Arc<LedgerCounts>) -> CountedLedger {
        CountedLedger { inner, counts }
    }

    fn count(&self, operation: Operation, answer: Answer) {
        self.counts.count(operation, answer);
    }
}

impl Ledger for CountedLedger {
    fn claim<'a>(
        &'a self,
        key: &'a EffectKey,
        lease: std::time::Duration,
        deadline: tokio::time::Instant,
    ) -> LedgerFuture<'a, Claim> {
        Box::pin(async move {
            let result = self.inner.claim(key, lease, deadline).await;
            let answer = match &result {
                Ok(Claim::Acquired(_)) => Answer::Acquired,
                Ok(Claim::Done { .. }) => Answer::Done,
                Ok(Claim::HeldElsewhere { .. }) => Answer::HeldElsewhere,
                Err(_) => Answer::Error,
            };
            self.count(Operation::Claim, answer);
            result
        })
    }

    fn complete<'a>(
        &'a self,
        token: &'a ClaimToken,
        outcome: &'a Recorded,
    ) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            let result = self.inner.complete(token, outcome).await;
            let answer = match &result {
                Err(LedgerError::ClaimLost { .. }) => Answer::ClaimLost,
                other => Answer::of(other),
            };
            self.count(Operation::Complete, answer);
            result
        })
    }

    fn release<'a>(&'a self, token: &'a ClaimToken) -> LedgerFuture<'a, ()> {
        Box::pin(async move {
            let result = self.inner.release(token).await;
            self.count(Operation::Release, Answer::of(&result));
            result
        })
    }

    fn history<'a>(&'a self, query: &'a HistoryQuery<'a>) -> LedgerFuture<'a, Vec<Entry>> {
        Box::pin(async move {
            let result = self.inner.history(query).await;
            self.count(Operation::History, Answer::of(&result));
            result
        })
    }

    fn clean(&self, older_than: SystemTime, max_entries: usize) -> LedgerFuture<'_, usize> {
        Box::pin(async move {
            let result = self.inner.clean(older_than, max_entries).await;
            self.count(Operation::Clean, Answer::of(&result));
            result
        })
    }

    fn read_mark<'a>(&'a self, key: &'a str) -> LedgerFuture<'a, Option<Mark>> {
        Box::pin(async move {
            let result = self.inner.read_mark(key).await;
            self.count(Operation::ReadMark, Answer::of(&result));
            result
        })
    }

    fn write_mark<'a>(&'a self, write: MarkWrite<'a>) -> LedgerFuture<'a, bool> {
        Box::pin(async move {
            let result = self.inner.write_mark(write).await;
            let answer = match &result {
                Ok(false) => Answer::Conflict,
                other => Answer::of(other),
            };
            self.count(Operation::WriteMark, answer);
            result
        })
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aml_events::ledger::MemoryLedger;
    use prometheus_client::{encoding::prometheus_text, registry::Registry};

    use super::*;

    fn count(page: &str, operation: &str, result: &str) -> u64 {
        let wanted =
            format!(r#"aml_ledger_operations_total{{operation="{operation}",result="{result}"}} "#);
        let line = page.lines().find(|line| line.starts_with(&wanted));
        line.unwrap_or_else(|| panic!("no {wanted} on the page:\n{page}"))[wanted.len()..]
            .parse()
            .unwrap()
    }

    #[test]
    fn the_index_of_each_handle_is_its_place_in_the_lists() {
        for (index, operation) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(operation as usize, index, "{}", operation.as_str());
        }
        for (index, answer) in Answer::ALL.into_iter().enumerate() {
            assert_eq!(answer as usize, index, "{}", answer.as_str());
        }
    }

    #[tokio::test]
    async fn each_operation_is_counted_by_its_result_and_answered_as_the_ledger_answers() {
        let family = Family::default();
        let mut registry = Registry::default();
        registry.register("aml_ledger_operations", "", family.clone());
        let counts = Arc::new(LedgerCounts::new(&family));
        let ledger = CountedLedger::new(Arc::new(MemoryLedger::new()), counts);
        let key = EffectKey::new("source", "event-1", "notify", "target");
        let (lease, deadline) = (
            Duration::from_secs(50),
            tokio::time::Instant::now() + Duration::from_secs(5),
        );

        let Claim::Acquired(token) = ledger.claim(&key, lease, deadline).await.unwrap() else {
            panic!("a first claim is acquired");
        };
        let again = ledger.claim(&key, lease, deadline).await.unwrap();
        assert!(matches!(again, Claim::HeldElsewhere { .. }), "{again:?}");
        ledger
            .complete(&token, &Recorded::new("done", "took it"))
            .await
            .unwrap();
        let done = ledger.claim(&key, lease, deadline).await.unwrap();
        assert!(matches!(done, Claim::Done { .. }), "{done:?}");
        let write = |version| MarkWrite {
            key: "mark",
            text: "{}",
            version,
            keep: Duration::from_secs(60),
        };
        assert!(ledger.write_mark(write(None)).await.unwrap());
        assert!(!ledger.write_mark(write(None)).await.unwrap(), "it exists");
        assert!(ledger.read_mark("mark").await.unwrap().is_some());

        let mut page = String::new();
        prometheus_text::encode(&mut page, &registry).unwrap();
        for (operation, result, expected) in [
            ("claim", "acquired", 1),
            ("claim", "held-elsewhere", 1),
            ("claim", "done", 1),
            ("claim", "error", 0),
            ("complete", "ok", 1),
            ("write-mark", "ok", 1),
            ("write-mark", "conflict", 1),
            ("read-mark", "ok", 1),
            ("release", "ok", 0),
        ] {
            assert_eq!(
                count(&page, operation, result),
                expected,
                "{operation} {result}"
            );
        }
        assert!(!page.contains(r#"operation="history",result="acquired""#));
        assert_eq!(ledger.describe(), MemoryLedger::new().describe());
    }
}
