//! Where Event Grid writes a dead letter: `<SUBSCRIPTION NAME IN CAPITALS>/<year>/<month>/<day>/
//! <hour>/<guid>.json` in the container, the date parts in UTC and not zero-padded
//! (`MY-SUB/2019/8/8/5/…json`); and which of those blobs a replay takes (`--subscription`,
//! `--since`).
//! See <https://learn.microsoft.com/azure/event-grid/manage-event-delivery#set-dead-letter-location>.

use std::time::SystemTime;

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A dead-letter blob's name, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPath {
    /// The blob's full name.
    pub name: String,
    /// The event subscription, as written (in capitals).
    pub subscription: String,
    /// The start of the hour (UTC) Event Grid wrote it in.
    pub hour: OffsetDateTime,
}

impl DeadLetterPath {
    /// Reads `name`; `None` when it is not in Event Grid's layout.
    pub fn parse(name: &str) -> Option<DeadLetterPath> {
        let parts: Vec<&str> = name.split('/').collect();
        let [subscription, year, month, day, hour, file] = parts.as_slice() else {
            return None;
        };
        if subscription.is_empty() || file.len() <= ".json".len() || !file.ends_with(".json") {
            return None;
        }
        let number = |text: &str| -> Option<u16> {
            // Not zero-padded, but read leniently: digits only, no sign.
            (!text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        };
        let year = i32::from(number(year)?);
        let month = Month::try_from(u8::try_from(number(month)?).ok()?).ok()?;
        let day = u8::try_from(number(day)?).ok()?;
        let hour = u8::try_from(number(hour)?).ok()?;
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms(hour, 0, 0).ok()?;
        Some(DeadLetterPath {
            name: name.to_owned(),
            subscription: (*subscription).to_owned(),
            hour: PrimitiveDateTime::new(date, time).assume_utc(),
        })
    }
}

/// Which dead letters a replay takes.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this event subscription's (any casing).
    pub subscription: Option<String>,
    /// Only blobs written in the hour holding this time or later.
    pub since: Option<SystemTime>,
}

impl Selection {
    /// The listing prefix: the subscription's folder, in the capitals Event Grid writes.
    pub fn prefix(&self) -> String {
        self.subscription
            .as_deref()
            .map(|name| format!("{}/", name.trim().to_uppercase()))
            .unwrap_or_default()
    }

    /// Whether `path` is taken. `--since` is judged by the hour in the path (when Event Grid
    /// wrote the blob), not by the blob's Last-Modified: a blob whose hour ends after `since`
    /// may hold events dead-lettered after it, so it is taken.
    pub fn takes(&self, path: &DeadLetterPath) -> bool {
        let subscription = self
            .subscription
            .as_deref()
            .is_none_or(|name| name.trim().to_lowercase() == path.subscription.to_lowercase());
        let recent = self
            .since
            // A path's year may be as late as 9999, whose last hour has no end to compute:
            // such a blob is newer than any `since`.
            .is_none_or(|since| {
                path.hour
                    .checked_add(Duration::HOUR)
                    .is_none_or(|end| end > OffsetDateTime::from(since))
            });
        subscription && recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn reads_event_grids_unpadded_layout() {
        let path = DeadLetterPath::parse(
            "MY-BLOB-SUBSCRIPTION/2019/8/8/5/111111111-1111-1111-1111-111111111111.json",
        )
        .unwrap();
        assert_eq!(path.subscription, "MY-BLOB-SUBSCRIPTION");
        assert_eq!(path.hour, hour("2019-08-08T05:00:00Z"));
        let late = DeadLetterPath::parse("SUB/2024/12/31/23/a.json").unwrap();
        assert_eq!(late.hour, hour("2024-12-31T23:00:00Z"));
        // Padded parts read the same.
        assert_eq!(
            DeadLetterPath::parse("SUB/2024/03/01/09/a.json")
                .unwrap()
                .hour,
            hour("2024-03-01T09:00:00Z")
        );
    }

    #[test]
    fn other_names_are_not_dead_letters() {
        for name in [
            "SUB/2024/3/1/9",
            "SUB/2024/3/1/a.json",
            "SUB/2024/3/1/9/a.txt",
            "SUB/2024/3/1/9/.json",
            "/2024/3/1/9/a.json",
            "SUB/2024/13/1/9/a.json",
            "SUB/2024/2/30/9/a.json",
            "SUB/2024/3/1/24/a.json",
            "SUB/2024/3/1/-1/a.json",
            "SUB/2024/3/1/+9/a.json",
            "SUB/x/2024/3/1/9/a.json",
        ] {
            assert_eq!(DeadLetterPath::parse(name), None, "{name}");
        }
    }

    #[test]
    fn subscriptions_match_in_any_casing_and_prefix_in_capitals() {
        let selection = Selection {
            subscription: Some("ml-RunCompleted".into()),
            since: None,
        };
        assert_eq!(selection.prefix(), "ML-RUNCOMPLETED/");
        let path = DeadLetterPath::parse("ML-RUNCOMPLETED/2024/3/1/9/a.json").unwrap();
        assert!(selection.takes(&path));
        let other = DeadLetterPath::parse("ML-RUNCOMPLETED2/2024/3/1/9/a.json").unwrap();
        assert!(!selection.takes(&other));
        assert_eq!(Selection::default().prefix(), "");
    }

    #[test]
    fn since_is_judged_by_the_hour_in_the_path() {
        let selection = Selection {
            subscription: None,
            since: Some(hour("2024-03-01T09:30:00Z").into()),
        };
        let at = |name: &str| selection.takes(&DeadLetterPath::parse(name).unwrap());
        assert!(!at("S/2024/3/1/8/a.json"), "ended before");
        assert!(at("S/2024/3/1/9/a.json"), "the hour holding since");
        assert!(at("S/2024/3/1/10/a.json"));
        assert!(at("S/2024/3/2/0/a.json"));
        assert!(!at("S/2024/2/29/23/a.json"));
        // The last hour there is: no end to compute, and newer than any `since`.
        assert!(at("S/9999/12/31/23/a.json"));
    }
}
