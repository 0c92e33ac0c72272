//! RFC 3339 times as Event Grid and Azure ML write them: 0 to 9 fractional digits, `Z` or an
//! offset (`2017-06-26T18:41:00.9584103Z`, `2019-07-04T00:00:00+00:00`), and the same without an
//! offset (`2018-10-12T15:42:04.949555`), read as UTC (docs/events.md).
//!
//! It does not guess at other forms: a date alone, a week date or `yesterday` is refused.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// A point in time read from an RFC 3339 string (or one without an offset, as UTC), written back
/// in RFC 3339 (`+00:00` as `Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// The text was not an RFC 3339 date-time.
#[derive(Debug, thiserror::Error)]
#[error("is not an RFC 3339 date-time such as 2019-07-04T00:00:00.123Z ({0})")]
pub struct TimestampError(time::error::Parse);

impl Timestamp {
    /// Parses an RFC 3339 date-time; one written without an offset is read as UTC.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(time) => Ok(Self(time)),
            // Azure's own SDK tests deliver `"eventTime": "2018-10-12T15:42:04.949555"` (the
            // Media Services events), and Azure's .NET SDK reads such a time as UTC; so do we,
            // rather than refuse the event over it. The RFC 3339 reader then checks
            // the date and time as for any other.
            // See: https://github.com/Azure/azure-sdk-for-net/blob/main/sdk/eventgrid/Azure.Messaging.EventGrid/tests/ConsumeEventTests.cs
            Err(_) if lacks_offset(text) => OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339)
                .map(Self)
                .map_err(TimestampError),
            Err(err) => Err(TimestampError(err)),
        }
    }

    /// The current time, in UTC.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// The instant, with the offset it was written in.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// RFC 3339 in UTC with exactly three fractional digits, `2026-11-30T06:12:44.123Z`: the
    /// one form every machine-read body (webhook, PagerDuty, Discord) carries, whatever
    /// precision and offset the event was written with. Digits past the millisecond are
    /// dropped, not rounded, so a time never moves into the next second.
    pub fn to_rfc3339_millis(&self) -> String {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        format!(
            "{}T{:02}:{:02}:{:02}.{:03}Z",
            date(utc),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.millisecond()
        )
    }

    /// The time as a person reads it on a card, in UTC to the second: `2026-11-30 06:12:44 UTC`.
    pub fn to_readable_utc(&self) -> String {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        format!(
            "{} {:02}:{:02}:{:02} UTC",
            date(utc),
            utc.hour(),
            utc.minute(),
            utc.second()
        )
    }

    /// The time of day in UTC to the minute, `09:00 UTC`, with the date before it when it is
    /// not the same UTC day as `day_of` (`2026-11-29 09:00 UTC`): "since when" as a card says it.
    pub fn to_utc_minute(&self, day_of: Option<Timestamp>) -> String {
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        let clock = format!("{:02}:{:02} UTC", utc.hour(), utc.minute());
        match day_of {
            Some(other) if other.0.to_offset(time::UtcOffset::UTC).date() == utc.date() => clock,
            _ => format!("{} {clock}", date(utc)),
        }
    }
}

/// `2026-11-30`: the calendar date of a UTC time (a year of four digits; RFC 3339 allows no
/// other).
fn date(utc: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day()
    )
}

/// Whether `text` ends right after its seconds or their fraction: `...T15:42:04` or
/// `...T15:42:04.949555`, where RFC 3339 wants `Z` or an offset. The rest of the text is left
/// to the RFC 3339 reader.
fn lacks_offset(text: &str) -> bool {
    match text.as_bytes().get(19..) {
        Some([]) => true,
        Some([b'.', digits @ ..]) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Formatting fails only for years beyond 9999 or offsets with seconds, which parsing
        // RFC 3339 can never produce.
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse(text).map_err(|err| E::custom(format!("{text:?} {err}")))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_zero_to_nine_fractional_digits_and_any_offset() {
        for text in [
            "2017-06-26T18:41:00.9584103Z",
            "2019-07-04T00:00:00+00:00",
            "2024-03-01T12:00:00Z",
            "2024-03-01T12:00:00.123456789Z",
            "2024-03-01T12:00:00.1-07:00",
            "2024-03-01T12:00:00.123+05:30",
        ] {
            let parsed = Timestamp::parse(text).unwrap();
            let reparsed = Timestamp::parse(&parsed.to_string()).unwrap();
            assert_eq!(parsed, reparsed, "{text}");
        }
    }

    #[test]
    fn keeps_precision_and_offset() {
        let time = Timestamp::parse("2017-06-26T18:41:00.9584103Z").unwrap();
        assert_eq!(time.to_string(), "2017-06-26T18:41:00.9584103Z");
        let time = Timestamp::parse("2019-07-04T00:00:00-07:00").unwrap();
        assert_eq!(time.as_offset_date_time().offset().whole_hours(), -7);
    }

    #[test]
    fn reads_a_time_without_an_offset_as_utc() {
        // See: issue 13, "A time without an offset is read as UTC"
        for (text, utc) in [
            ("2018-10-12T15:42:04.949555", "2018-10-12T15:42:04.949555Z"),
            ("2024-03-01T12:00:00", "2024-03-01T12:00:00Z"),
            ("2024-03-01T12:00:00.1", "2024-03-01T12:00:00.1Z"),
            (
                "2024-03-01T12:00:00.123456789",
                "2024-03-01T12:00:00.123456789Z",
            ),
        ] {
            let time = Timestamp::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(time.to_string(), utc);
            assert_eq!(time, Timestamp::parse(utc).unwrap());
            assert!(time.as_offset_date_time().offset().is_utc());
        }
    }

    #[test]
    fn writes_milliseconds_in_utc_for_machines() {
        for (text, millis) in [
            ("2026-11-30T06:12:44.123Z", "2026-11-30T06:12:44.123Z"),
            ("2026-11-30T06:12:44Z", "2026-11-30T06:12:44.000Z"),
            // Dropped, not rounded: .9999999 stays in its second.
            ("2017-06-26T18:41:00.9999999Z", "2017-06-26T18:41:00.999Z"),
            ("2024-03-01T00:30:00.5+05:30", "2024-02-29T19:00:00.500Z"),
            ("2018-10-12T15:42:04.949555", "2018-10-12T15:42:04.949Z"),
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_rfc3339_millis(), millis);
        }
    }

    #[test]
    fn writes_a_readable_utc_time_for_people() {
        let time = Timestamp::parse("2026-11-30T07:12:44.9+01:00").unwrap();
        assert_eq!(time.to_readable_utc(), "2026-11-30 06:12:44 UTC");
        let since = Timestamp::parse("2026-11-30T09:00:59Z").unwrap();
        let later = Timestamp::parse("2026-11-30T23:59:00Z").unwrap();
        let next_day = Timestamp::parse("2026-12-01T00:01:00Z").unwrap();
        assert_eq!(since.to_utc_minute(Some(later)), "09:00 UTC");
        assert_eq!(since.to_utc_minute(Some(next_day)), "2026-11-30 09:00 UTC");
        assert_eq!(since.to_utc_minute(None), "2026-11-30 09:00 UTC");
    }

    #[test]
    fn refuses_what_is_not_a_date_time() {
        for text in [
            "yesterday",
            "2024-02-30T12:00:00Z",
            "2024-02-30T12:00:00",
            "2024-03-01T24:00:00",
            "2024-03-01T12:00:00.",
            "2024-03-01T12:00:00.5x",
            "2024-03-01T12:00:00+05",
            "2024-03-01T12:00",
            "2024-03-01",
            "",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }
}
