//! A dead-letter blob's content: a JSON array of records, each the original event (Event Grid
//! schema or CloudEvents) plus why Event Grid gave up on it: `deadLetterReason`,
//! `deliveryAttempts`, `lastDeliveryOutcome`, `lastHttpStatusCode` (when there was one),
//! `publishTime`, `lastDeliveryAttemptTime`; CloudEvents records carry the same names in lower
//! case, so they are read without regard to case.
//! See <https://learn.microsoft.com/azure/event-grid/delivery-and-retry#dead-letter-events>.

use std::fmt;

use aml_events::{Event, ParseError};
use serde_json::{Map, Value};

use crate::send;

/// One dead-lettered event: the event as first delivered, and why it was dead-lettered.
#[derive(Debug, Clone)]
pub struct Record {
    /// The original event, its dead-letter properties removed.
    pub event: Event,
    /// Why Event Grid dead-lettered it.
    pub why: DeadLetter,
}

/// What Event Grid wrote about a dead-lettered event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetter {
    /// `deadLetterReason`: `MaxDeliveryAttemptsExceeded`, `TimeToLiveExceeded`, ...
    pub reason: Option<String>,
    /// `deliveryAttempts`.
    pub attempts: Option<u64>,
    /// `lastDeliveryOutcome`: `Probation`, `Unauthorized`, `BadRequest`, ...
    pub last_outcome: Option<String>,
    /// `lastHttpStatusCode`, when the endpoint answered.
    pub last_status: Option<u64>,
    /// `lastDeliveryAttemptTime`.
    pub last_attempt: Option<String>,
}

impl DeadLetter {
    fn read(extensions: &Map<String, Value>) -> DeadLetter {
        let find = |name: &str| {
            extensions
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        };
        let text = |name: &str| {
            find(name).and_then(|value| match value {
                Value::String(text) => Some(text.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        // Numbers, or numbers written as text.
        let number = |name: &str| {
            find(name).and_then(|value| {
                value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
            })
        };
        DeadLetter {
            reason: text("deadLetterReason"),
            attempts: number("deliveryAttempts"),
            last_outcome: text("lastDeliveryOutcome"),
            last_status: number("lastHttpStatusCode"),
            last_attempt: text("lastDeliveryAttemptTime"),
        }
    }
}

/// `MaxDeliveryAttemptsExceeded after 30 attempts; last: Probation (HTTP 503) at T`.
impl fmt::Display for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason.as_deref().unwrap_or("no reason given"))?;
        if let Some(attempts) = self.attempts {
            write!(f, " after {attempts} attempt(s)")?;
        }
        if self.last_outcome.is_some() || self.last_status.is_some() {
            f.write_str("; last:")?;
            if let Some(outcome) = &self.last_outcome {
                write!(f, " {outcome}")?;
            }
            if let Some(status) = self.last_status {
                write!(f, " (HTTP {status})")?;
            }
        }
        if let Some(at) = &self.last_attempt {
            write!(f, " at {at}")?;
        }
        Ok(())
    }
}

/// Reads a dead-letter blob's records.
pub fn read(body: &[u8]) -> Result<Vec<Record>, ParseError> {
    let events = aml_events::envelope::parse(None, body)?;
    let reasons: Vec<DeadLetter> = events
        .iter()
        .map(|event| DeadLetter::read(&event.extensions))
        .collect();
    Ok(send::replayable(events)
        .into_iter()
        .zip(reasons)
        .map(|(event, why)| Record { event, why })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_grid_records_say_why_in_camel_case() {
        let body = br#"[{"id":"e1","topic":"/subscriptions/s","subject":"s","eventType":"Microsoft.MachineLearningServices.RunCompleted",
            "eventTime":"2024-03-01T12:00:00Z","data":{},"dataVersion":"2","metadataVersion":"1",
            "deadLetterReason":"MaxDeliveryAttemptsExceeded","deliveryAttempts":30,"lastDeliveryOutcome":"Probation",
            "lastHttpStatusCode":503,"publishTime":"2024-03-01T12:00:01Z","lastDeliveryAttemptTime":"2024-03-02T12:00:00Z"}]"#;
        let records = read(body).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].why.to_string(),
            "MaxDeliveryAttemptsExceeded after 30 attempt(s); last: Probation (HTTP 503) at 2024-03-02T12:00:00Z"
        );
        assert!(records[0].event.extensions.is_empty());
    }

    #[test]
    fn cloud_events_records_say_why_in_lower_case() {
        let body = br#"[{"specversion":"1.0","id":"c1","source":"/subscriptions/s","subject":"s",
            "type":"Microsoft.MachineLearningServices.ModelRegistered","time":"2024-03-01T12:00:00Z","data":{},
            "deadletterreason":"DeliveryFailed","deliveryattempts":"1","lastdeliveryoutcome":"BadRequest",
            "lasthttpstatuscode":400,"publishtime":"2024-03-01T12:00:01Z"}]"#;
        let records = read(body).unwrap();
        assert_eq!(
            records[0].why,
            DeadLetter {
                reason: Some("DeliveryFailed".into()),
                attempts: Some(1),
                last_outcome: Some("BadRequest".into()),
                last_status: Some(400),
                last_attempt: None,
            }
        );
        assert!(records[0].event.extensions.is_empty());
    }

    #[test]
    fn a_record_with_nothing_said_still_reads() {
        let body = br#"[{"id":"e1","subject":"s","eventType":"Other","eventTime":"2024-03-01T12:00:00Z","data":{}}]"#;
        assert_eq!(read(body).unwrap()[0].why.to_string(), "no reason given");
        assert!(read(b"{not json").is_err());
    }
}
