//! A dead-letter blob's events sent again, as Event Grid first sent them: grouped by the
//! function their type goes to, each group posted with `?functionName=` through
//! [`send::send`](crate::send::send) (webhook mode, no redirect followed), in batches no larger
//! than Event Grid's (1 MiB). Each batch's answer is kept, to mark the blob or to name what
//! failed.

use std::{fmt, time::Duration};

use aml_events::{Event, Function, Secret};
use url::Url;

use super::records::Record;
use crate::{
    hosting::webhook::MAX_BODY_BYTES,
    send::{self, Mode, SendOptions},
};

/// Where the events go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The webhook (`.../runtime/webhooks/eventgrid`).
    pub to: Url,
    /// Sent as `x-functions-key` (and `?code=`).
    pub key: Option<Secret>,
    /// Each request's timeout.
    pub timeout: Duration,
}

/// One batch sent, and its answer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The function it went to; `None` for events no function takes (never sent).
    pub function: Option<Function>,
    /// The events' ids.
    pub ids: Vec<String>,
    /// What came back.
    pub answer: Answer,
}

/// A batch's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The webhook answered.
    Status {
        /// The HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// Nothing was answered: why.
    NotSent(String),
}

impl Delivery {
    /// Answered 2xx.
    pub fn succeeded(&self) -> bool {
        matches!(self.answer, Answer::Status { status, .. } if (200..300).contains(&status))
    }
}

/// `RunCompleted events e1, e2: 503 {"error":...}`.
impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let function = self.function.map_or("unrouted", Function::name);
        write!(f, "{function} event(s) {}: ", self.ids.join(", "))?;
        match &self.answer {
            Answer::Status { status, body } => {
                let body: String = body.trim().chars().take(300).collect();
                write!(f, "{status} {body}")
            }
            Answer::NotSent(reason) => f.write_str(reason),
        }
    }
}

/// Sends `records`' events to `target`, function by function; every batch's answer.
pub async fn deliver(records: &[Record], target: &Target) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for function in Function::ALL {
        let events: Vec<Event> = records
            .iter()
            .filter(|record| record.event.function() == Some(function))
            .map(|record| record.event.clone())
            .collect();
        for batch in batches(events) {
            deliveries.push(send_batch(function, batch, target).await);
        }
    }
    for record in records
        .iter()
        .filter(|record| record.event.function().is_none())
    {
        deliveries.push(Delivery {
            function: None,
            ids: vec![record.event.id.clone()],
            answer: Answer::NotSent(format!(
                "type {} goes to no function ({})",
                record.event.event_type,
                Function::list()
            )),
        });
    }
    deliveries
}

async fn send_batch(function: Function, events: Vec<Event>, target: &Target) -> Delivery {
    let ids = events.iter().map(|event| event.id.clone()).collect();
    let options = SendOptions {
        to: target.to.clone(),
        mode: Mode::Webhook,
        function: Some(function),
        key: target.key.clone(),
        validate: false,
        timeout: target.timeout,
    };
    let answer = match send::send(events, &options).await {
        // Without the handshake, one exchange: the batch's.
        Ok(exchanges) => match exchanges.last() {
            Some(exchange) => Answer::Status {
                status: exchange.status,
                body: exchange.body.clone(),
            },
            None => Answer::NotSent("nothing was sent".to_owned()),
        },
        Err(err) => Answer::NotSent(err.to_string()),
    };
    Delivery {
        function: Some(function),
        ids,
        answer,
    }
}

/// `events` cut into batches whose JSON array stays within Event Grid's 1 MiB, in order. An
/// event larger than that goes alone (the webhook answers it 413, as it would Event Grid).
fn batches(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut batches: Vec<Vec<Event>> = Vec::new();
    let mut size = 0;
    for event in events {
        // Its JSON, plus the comma or bracket beside it.
        let length = serde_json::to_vec(&event).map_or(0, |json| json.len()) + 1;
        match batches.last_mut() {
            Some(batch) if size + length < MAX_BODY_BYTES => {
                batch.push(event);
                size += length;
            }
            _ => {
                batches.push(vec![event]);
                size = 1 + length;
            }
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, data_bytes: usize) -> Event {
        let body = format!(
            r#"[{{"id":"{id}","subject":"s","eventType":"Microsoft.MachineLearningServices.RunCompleted",
                "eventTime":"2024-03-01T12:00:00Z","data":{{"pad":"{}"}}}}]"#,
            "x".repeat(data_bytes)
        );
        aml_events::envelope::parse(None, body.as_bytes())
            .unwrap()
            .remove(0)
    }

    #[test]
    fn batches_stay_within_event_grids_limit() {
        let events: Vec<Event> = (0..5).map(|i| event(&i.to_string(), 300_000)).collect();
        let cut = batches(events);
        assert_eq!(
            cut.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 2],
            "three 300 kB events fit in 1 MiB, four do not"
        );
        for batch in &cut {
            assert!(serde_json::to_vec(batch).unwrap().len() <= MAX_BODY_BYTES);
        }
        let ids: Vec<String> = cut.concat().into_iter().map(|event| event.id).collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4"], "in order");
        assert!(batches(Vec::new()).is_empty());
    }

    #[test]
    fn a_failed_delivery_names_its_events_and_answer() {
        let delivery = Delivery {
            function: Some(Function::RunCompleted),
            ids: vec!["e1".into(), "e2".into()],
            answer: Answer::Status {
                status: 503,
                body: "{\"error\":\"later\"}\n".into(),
            },
        };
        assert!(!delivery.succeeded());
        assert_eq!(
            delivery.to_string(),
            "RunCompleted event(s) e1, e2: 503 {\"error\":\"later\"}"
        );
    }
}
