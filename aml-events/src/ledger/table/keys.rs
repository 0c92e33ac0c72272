//! How an effect or a mark becomes an entity's `PartitionKey` and `RowKey`, and how times are
//! written, so that keys never hold a character the table service refuses and times compare as
//! text.

use std::time::SystemTime;

use crate::ledger::EffectKey;

/// Table names: 3 to 63 alphanumeric characters, starting with a letter.
/// See <https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model#table-names>.
pub(super) fn valid_table_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A key part with every character but `A-Z a-z 0-9 - _ .` as `~XX` per UTF-8 byte: no `/ \
/// # ?`, no control characters, no quote, nothing a URL path changes, and never `!` (the
/// separator).
pub(super) fn encode(part: &str) -> String {
    let mut encoded = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("~{byte:02X}"));
        }
    }
    encoded
}

/// The longest key kept readable; the limit is 1 KiB.
const MAX_READABLE_KEY: usize = 512;

/// `(PartitionKey, RowKey)` of an effect.
pub(super) fn keys(key: &EffectKey) -> (String, String) {
    (partition_key(&key.event_id), row_key(key))
}

/// The `PartitionKey` of every effect of event `event_id`: what an entity is written under and
/// what [`history`](crate::ledger::Ledger::history) filters on, so an id of any length is found.
pub(super) fn partition_key(event_id: &str) -> String {
    readable_or_hashed(encode(event_id))
}

/// The `RowKey` of an effect within its event: `source!action!target`, each part encoded.
fn row_key(key: &EffectKey) -> String {
    readable_or_hashed(format!(
        "{}!{}!{}",
        encode(&key.source),
        encode(&key.action),
        encode(&key.target)
    ))
}

/// The partition of noise control's marks. Never an effect's: an effect's partition key is
/// encoded (`~` only before two uppercase hex digits) or hashed (`~h`), so no event id, however
/// written, lands here, and a query can leave marks out by this key alone.
pub(super) const MARK_PARTITION: &str = "~mark";

/// `(PartitionKey, RowKey)` of the mark at `key`: [`MARK_PARTITION`], and the key encoded (or
/// hashed when long) as an effect's is.
pub(super) fn mark_keys(key: &str) -> (String, String) {
    (MARK_PARTITION.to_owned(), readable_or_hashed(encode(key)))
}

/// `key` when short enough, else `~h` and its SHA-256 in hex (never a readable key: encoding
/// writes `~` before two uppercase hex digits only).
fn readable_or_hashed(key: String) -> String {
    if key.len() <= MAX_READABLE_KEY {
        return key;
    }
    format!("~h{}", crate::redact::sha256_hex(&key, 32))
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC: fixed width, so text order is time order.
pub(super) fn format_time(at: SystemTime) -> String {
    utc(at, Fraction::Microseconds)
}

/// `datetime'YYYY-MM-DDTHH:MM:SS.fffffffZ'`: an OData datetime literal (UTC, to the 100 ns
/// tick), to compare with the service's own `Timestamp` in a `$filter`.
/// See <https://learn.microsoft.com/rest/api/storageservices/querying-tables-and-entities#filtering-on-datetime-properties>.
pub(super) fn odata_datetime(at: SystemTime) -> String {
    format!("datetime'{}'", utc(at, Fraction::Ticks))
}

/// The digits after the seconds.
enum Fraction {
    /// Six: what the ledger writes.
    Microseconds,
    /// Seven, in 100 ns ticks: what the table service keeps.
    Ticks,
}

/// `YYYY-MM-DDTHH:MM:SS.<fraction>Z`, fixed width.
fn utc(at: SystemTime, fraction: Fraction) -> String {
    let at = time::OffsetDateTime::from(at);
    let (date, clock) = (at.date(), at.time());
    let fraction = match fraction {
        Fraction::Microseconds => format!("{:06}", clock.microsecond()),
        Fraction::Ticks => format!("{:07}", clock.nanosecond() / 100),
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{fraction}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        clock.hour(),
        clock.minute(),
        clock.second(),
    )
}

pub(super) fn parse_time(text: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keys_hold_no_reserved_characters_and_stay_distinct() {
        let key = EffectKey::new("/subs/x#y?z\\w", "id/1", "notify", "a!b");
        let (partition, row) = keys(&key);
        for key in [&partition, &row] {
            assert!(!key.contains(['/', '\\', '#', '?', '\'']), "{key}");
            assert!(!key.chars().any(char::is_control), "{key}");
        }
        assert_eq!(partition, "id~2F1");
        assert_eq!(row.matches('!').count(), 2, "{row}");
        let other = EffectKey::new("/subs/x#y?z\\w", "id/1", "notify!a", "b");
        assert_ne!(keys(&other).1, row);
        let long_id = "i".repeat(2000);
        let (partition, _) = keys(&EffectKey::new("s", long_id.as_str(), "notify", "t"));
        assert_eq!(partition, partition_key(&long_id));
        assert!(
            partition.starts_with("~h") && partition.len() == 66,
            "{partition}"
        );
        assert_ne!(partition, partition_key(&"i".repeat(1999)));
        let long = EffectKey::new("s".repeat(2000), "e", "notify", "t");
        let (_, row) = keys(&long);
        assert!(row.starts_with("~h") && row.len() == 66, "{row}");
    }

    #[test]
    fn marks_have_a_partition_of_their_own_and_distinct_rows() {
        for event_id in [MARK_PARTITION, "mark", "~mark~", ""] {
            assert_ne!(partition_key(event_id), MARK_PARTITION, "{event_id}");
        }
        let (partition, row) = mark_keys("notify/route a/group#1?/teams\\x");
        assert_eq!(partition, MARK_PARTITION);
        assert!(!row.contains(['/', '\\', '#', '?', '\'']), "{row}");
        assert_ne!(mark_keys("a/b").1, mark_keys("a~2Fb").1);
        let (_, long) = mark_keys(&"k".repeat(2000));
        assert!(long.starts_with("~h") && long.len() == 66, "{long}");
        assert_ne!(long, mark_keys(&"k".repeat(1999)).1);
    }

    #[test]
    fn times_are_fixed_width_and_round_trip() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let text = format_time(at);
        assert_eq!(text, "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_time(&text), Some(at));
        let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(format_time(whole) < text);
        assert_eq!(
            odata_datetime(at + Duration::from_nanos(700)),
            "datetime'2023-11-14T22:13:20.1234567Z'"
        );
    }
}
