//! `aml-handlers history`: what was done for recent events, read back from the action ledger
//! (docs/ledger.md), as one readable line or one JSON object per effect.

use std::time::{Duration, SystemTime};

use aml_events::{
    Timestamp,
    ledger::{Entry, EntryState},
};
use serde_json::json;
use time::OffsetDateTime;

/// `--since`: a duration back from now (`30s`, `30m`, `1h`, `2d`) or an RFC 3339 time.
pub fn parse_since(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    let unit = text
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(at, _)| at);
    if let Some(at) = unit.filter(|at| *at > 0) {
        let seconds_per = match &text[at..] {
            "s" => Some(1),
            "m" => Some(60),
            "h" => Some(60 * 60),
            "d" => Some(24 * 60 * 60),
            _ => None,
        };
        if let (Some(per), Ok(count)) = (seconds_per, text[..at].parse::<u64>()) {
            return count
                .checked_mul(per)
                .and_then(|seconds| SystemTime::now().checked_sub(Duration::from_secs(seconds)))
                .ok_or_else(|| format!("--since {text} reaches before the epoch"));
        }
    }
    Timestamp::parse(text)
        .map(|time| SystemTime::from(time.as_offset_date_time()))
        .map_err(|_| {
            format!(
                "--since takes a duration such as 30m, 1h or 2d, or an RFC 3339 time, not {text:?}"
            )
        })
}

/// `2026-12-02T05:00:00Z  done     notify slack-1a2b... for event E  done: 200 took it: ...`
pub fn text_line(entry: &Entry) -> String {
    let state = match entry.state {
        EntryState::Claimed => "claimed",
        EntryState::Done => "done",
    };
    let mut line = format!("{}  {state:<7}  {}", rfc3339(entry.claimed_at), entry.key);
    if let Some(outcome) = &entry.outcome {
        line.push_str(&format!("  {}: {}", outcome.status, outcome.detail));
    }
    line
}

/// One JSON object: event, source, action, target, state, outcome, claimedAt, doneAt.
pub fn json_line(entry: &Entry) -> String {
    json!({
        "eventId": entry.key.event_id,
        "source": entry.key.source,
        "action": entry.key.action,
        "target": entry.key.target,
        "state": match entry.state { EntryState::Claimed => "claimed", EntryState::Done => "done" },
        "outcome": entry.outcome,
        "claimedAt": rfc3339(entry.claimed_at),
        "doneAt": entry.done_at.map(rfc3339),
    })
    .to_string()
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        let hour_ago = parse_since("1h").unwrap();
        let elapsed = SystemTime::now().duration_since(hour_ago).unwrap();
        assert!(elapsed >= Duration::from_secs(3600) && elapsed < Duration::from_secs(3700));
        assert_eq!(
            parse_since("2024-03-01T12:00:00Z").unwrap(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_294_400)
        );
        for bad in ["", "h", "1w", "yesterday", "99999999999999999999d"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
