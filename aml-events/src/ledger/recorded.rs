//! [`Recorded`]: what a done effect came to, stored with its entry so that a redelivery can
//! build the same notice, and bounded ([`Recorded::MAX_BYTES`]) so that any store takes it.

/// What a done effect came to, stored with its entry so that a redelivery can build the same
/// notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// How the effect ended: "done" or "failed" (free text; the handlers decide).
    pub status: String,
    /// One readable sentence.
    pub detail: String,
    /// What the effect found (e.g. a smoke test's {"status":500,"latencyMs":12.3}, a job name),
    /// when it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<serde_json::Value>,
}

/// [`Recorded`] as it is written: the same fields, borrowed, so that fitting an outcome into
/// [`Recorded::MAX_BYTES`] measures candidates without copying them.
#[derive(serde::Serialize)]
struct RecordedText<'a> {
    status: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    found: Option<&'a serde_json::Value>,
}

impl RecordedText<'_> {
    fn json(&self) -> String {
        // Strings and a JSON value always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn fits(&self) -> bool {
        self.json().len() <= Recorded::MAX_BYTES
    }
}

/// What ends a cut text.
const ELLIPSIS: &str = "…";

/// The most of a `status` kept when an outcome must be cut: far below the bound, so a cut
/// outcome always fits whatever the status holds (each byte is at most six in JSON).
const MAX_STATUS_BYTES: usize = 256;

impl Recorded {
    /// The most a stored outcome takes, in bytes of its JSON text (Table storage refuses
    /// properties over 64 KiB).
    pub const MAX_BYTES: usize = 4096;

    /// An outcome that found nothing worth keeping.
    pub fn new(status: impl Into<String>, detail: impl Into<String>) -> Self {
        Recorded {
            status: status.into(),
            detail: detail.into(),
            found: None,
        }
    }

    /// The same outcome, with what the effect found.
    pub fn with_found(self, found: serde_json::Value) -> Self {
        Recorded {
            found: Some(found),
            ..self
        }
    }

    /// JSON text of at most [`Recorded::MAX_BYTES`]: `detail` is cut (on a char boundary,
    /// ending with "…") until it fits; if `found` alone is too large it is dropped (`None`)
    /// first. Never fails.
    pub fn to_text(&self) -> String {
        let whole = self.borrowed();
        if whole.fits() {
            return whole.json();
        }
        let mut shown = RecordedText {
            status: &self.status,
            detail: ELLIPSIS,
            found: self.found.as_ref(),
        };
        let status;
        if self.status.len() > MAX_STATUS_BYTES {
            status = cut(&self.status, MAX_STATUS_BYTES);
            shown.status = &status;
        }
        if !shown.fits() {
            shown.found = None;
        }
        shown.detail = &self.detail;
        if shown.fits() {
            return shown.json();
        }
        fit_detail(shown, &self.detail)
    }

    /// Reads [`Recorded::to_text`]'s JSON; anything else (an entry written by an older version
    /// as plain text) becomes status "done", detail = the text.
    pub fn from_text(text: &str) -> Recorded {
        serde_json::from_str(text).unwrap_or_else(|_| Recorded::new("done", text))
    }

    fn borrowed(&self) -> RecordedText<'_> {
        RecordedText {
            status: &self.status,
            detail: &self.detail,
            found: self.found.as_ref(),
        }
    }
}

/// `text`'s longest prefix of at most `max` bytes that ends on a char boundary, then "…".
fn cut(text: &str, max: usize) -> String {
    let end = (0..=max.min(text.len()))
        .rev()
        .find(|&end| text.is_char_boundary(end))
        .unwrap_or(0);
    format!("{}{ELLIPSIS}", &text[..end])
}

/// The JSON of `shown` with the longest prefix of `detail` (then "…") that keeps it within the
/// bound. `shown` without its detail must fit.
fn fit_detail(shown: RecordedText<'_>, detail: &str) -> String {
    // JSON never writes a string shorter than it is, so only prefixes within the bound can fit;
    // the text grows with the prefix, so the longest that fits is found by bisection.
    let ends: Vec<usize> = detail
        .char_indices()
        .map(|(at, _)| at)
        .take_while(|&at| at <= Recorded::MAX_BYTES)
        .collect();
    let text_with = |end: usize| {
        let detail = format!("{}{ELLIPSIS}", &detail[..end]);
        RecordedText {
            detail: &detail,
            ..shown
        }
        .json()
    };
    let fitting = ends.partition_point(|&end| text_with(end).len() <= Recorded::MAX_BYTES);
    text_with(ends[..fitting].last().copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The detail `text` reads back with, and that it is within the bound.
    fn read_back(text: &str) -> Recorded {
        assert!(text.len() <= Recorded::MAX_BYTES, "{} bytes", text.len());
        let recorded = Recorded::from_text(text);
        assert_eq!(
            serde_json::from_str::<Recorded>(text).ok(),
            Some(recorded.clone())
        );
        recorded
    }

    #[test]
    fn a_small_outcome_round_trips_whole() {
        let outcome = Recorded::new("failed", "the endpoint answered 500")
            .with_found(json!({"status": 500, "latencyMs": 12.3}));
        assert_eq!(read_back(&outcome.to_text()), outcome);
        let plain = Recorded::new("done", "posted");
        assert_eq!(plain.to_text(), r#"{"status":"done","detail":"posted"}"#);
        assert_eq!(read_back(&plain.to_text()), plain);
    }

    #[test]
    fn a_one_megabyte_detail_is_cut_to_the_bound_and_still_reads_back() {
        // Quotes and newlines take two bytes each in JSON: the cut is measured on the text.
        let detail = "an answer \"quoted\"\nand long ".repeat(40_000);
        assert!(detail.len() > 1_000_000);
        let outcome = Recorded::new("failed", detail.clone()).with_found(json!("job-1"));
        let text = outcome.to_text();
        let back = read_back(&text);
        assert_eq!(back.status, "failed");
        assert_eq!(back.found, Some(json!("job-1")), "a small `found` is kept");
        let kept = back
            .detail
            .strip_suffix('…')
            .expect("a cut detail ends with …");
        assert!(detail.starts_with(kept));
        // As much as fits is kept: one more character would not.
        assert!(text.len() > Recorded::MAX_BYTES - 8, "{} bytes", text.len());
    }

    #[test]
    fn multi_byte_characters_are_never_split() {
        for unit in ["é", "🦀", "a🦀", "\u{7}"] {
            let outcome = Recorded::new("done", unit.repeat(10_000));
            let back = read_back(&outcome.to_text());
            let kept = back.detail.strip_suffix('…').unwrap();
            assert!(!kept.is_empty());
            assert!(outcome.detail.starts_with(kept), "{unit:?}");
        }
    }

    #[test]
    fn a_huge_found_is_dropped_before_the_detail_is_cut() {
        let outcome = Recorded::new("done", "smoke test answered 200")
            .with_found(json!({"body": "x".repeat(100_000)}));
        let back = read_back(&outcome.to_text());
        assert_eq!(back, Recorded::new("done", "smoke test answered 200"));

        let both = Recorded::new("done", "y".repeat(100_000)).with_found(json!(vec!["z"; 10_000]));
        let back = read_back(&both.to_text());
        assert_eq!(back.found, None);
        assert!(back.detail.starts_with("yyy") && back.detail.ends_with('…'));
    }

    #[test]
    fn a_huge_status_still_fits() {
        let outcome = Recorded::new("\"".repeat(100_000), "d".repeat(100_000));
        let back = read_back(&outcome.to_text());
        assert!(back.status.starts_with("\"\"") && back.status.ends_with('…'));
        assert!(back.detail.starts_with('d') && back.detail.ends_with('…'));
    }

    #[test]
    fn plain_text_written_by_an_older_version_reads_as_done() {
        for legacy in [
            "done",
            "failed: 500",
            "",
            "{not json",
            "[1]",
            r#"{"status":"x"}"#,
        ] {
            assert_eq!(Recorded::from_text(legacy), Recorded::new("done", legacy));
        }
    }
}
