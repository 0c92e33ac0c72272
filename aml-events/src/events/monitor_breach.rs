//! How drift arrives today (docs/actions.md): Azure ML's model monitoring (v2) raises no
//! `DatasetDriftDetected`. When a signal crosses its thresholds, the monitor's run fails and
//! carries the run tag `azureml_modelmonitor_threshold_breached`, delivered as a
//! `RunStatusChanged`. This module reads that tag's text into a [`MonitorBreach`]: the signal
//! and each violating feature.
//!
//! Azure ML's monitoring component writes the text as (`evaluate_metrics_threshold.py` in
//! `Azure/azureml-assets`, `assets/model_monitoring/components/src/
//! model_monitor_evaluate_metrics_threshold/`):
//!
//! ```text
//! The signal '<signal>' has failed due to one or more features violating metric thresholds.
//! The feature names and their corresponding computed metric values violating the threshold are
//! ['{"group":"age","metric_value":0.42,"metric_name":"JensenShannonDistance","threshold_value":0.1}', ...]
//! ```
//!
//! The list is Python's text of a list of JSON strings (Spark's `DataFrame.toJSON()`), so
//! each item is a Python string literal holding one JSON object, its keys in either order,
//! `group` left out when the signal has none.
//!
//! Reading is best effort and pure: text that does not parse is still a breach, with no signal,
//! no violations and the text kept ([`MonitorBreach::text`]). It decides nothing: whether a
//! breach retrains or notifies is the handlers' job.

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

use super::{RunStatus, RunStatusChanged};

/// The run tag Azure ML's model monitoring sets on a breached monitor run.
pub const BREACH_TAG: &str = "azureml_modelmonitor_threshold_breached";

/// The phrase Azure's docs filter on (`StringContains` on
/// `data.RunTags.azureml_modelmonitor_threshold_breached`).
/// See <https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance>.
pub const BREACH_PHRASE: &str =
    "has failed due to one or more features violating metric thresholds";

/// A model-monitor signal that crossed its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorBreach {
    /// The signal's name (`<monitor>_<signal>`), when the text names one.
    pub signal: Option<String>,
    /// Each feature that violated a metric threshold, as written.
    pub violations: Vec<Violation>,
    /// The tag's text as it arrived.
    #[serde(skip)]
    pub text: String,
}

/// One feature's metric on the wrong side of its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The feature (`group`), when the signal has one.
    pub feature: Option<String>,
    /// The metric (`JensenShannonDistance`, `PopulationStabilityIndex`, ...).
    pub metric: Option<String>,
    /// The computed value; `None` when not a finite number (Spark writes NaN as `"NaN"`).
    pub value: Option<f64>,
    /// The threshold it was held to.
    pub threshold: Option<f64>,
}

impl Violation {
    /// How far past its threshold, relative to the threshold: the larger, the worse. Unknown
    /// values rank last.
    fn severity(&self) -> f64 {
        match (self.value, self.threshold) {
            (Some(value), Some(threshold)) if threshold != 0.0 => {
                ((value - threshold) / threshold).abs()
            }
            (Some(value), Some(_)) => value.abs(),
            _ => f64::NEG_INFINITY,
        }
    }
}

impl MonitorBreach {
    /// Reads the tag's text, as much of it as follows Azure ML's format.
    pub fn parse(text: &str) -> MonitorBreach {
        MonitorBreach {
            signal: signal_name(text),
            violations: violations(text),
            text: text.to_owned(),
        }
    }

    /// The `count` worst violations, worst first.
    pub fn worst(&self, count: usize) -> Vec<&Violation> {
        let mut ranked: Vec<&Violation> = self.violations.iter().collect();
        ranked.sort_by(|a, b| {
            b.severity()
                .partial_cmp(&a.severity())
                .unwrap_or(Ordering::Equal)
        });
        ranked.truncate(count);
        ranked
    }
}

impl RunStatusChanged {
    /// The breach tag's text, when the run carries it (key in any casing).
    pub fn monitor_breach_text(&self) -> Option<String> {
        let tags = self.run_tags.as_ref()?.to_map();
        tags.into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(BREACH_TAG))
            .map(|(_, value)| match value {
                Value::String(text) => text,
                other => other.to_string(),
            })
    }

    /// The breach, when this is one: the tag is present and the run failed. A
    /// tagged run in any other status (recovered, running) is not a breach.
    pub fn monitor_breach(&self) -> Option<MonitorBreach> {
        match self.run_status {
            Some(RunStatus::Failed) => self
                .monitor_breach_text()
                .map(|text| MonitorBreach::parse(&text)),
            _ => None,
        }
    }
}

/// `The signal '<name>' has failed ...`: the name between the first quote and the last quote
/// before the phrase, so a name holding a quote is read whole.
fn signal_name(text: &str) -> Option<String> {
    const OPENING: &str = "The signal '";
    let start = text.find(OPENING)? + OPENING.len();
    let end = start + text[start..].find("' has failed")?;
    let name = text[start..end].trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The items of the Python list after the last `are`, each read as a JSON object.
fn violations(text: &str) -> Vec<Violation> {
    let Some(start) = text.find('[') else {
        return Vec::new();
    };
    python_strings(&text[start + 1..])
        .iter()
        .filter_map(|item| serde_json::from_str::<Value>(item).ok())
        .filter(Value::is_object)
        .map(|item| Violation {
            feature: text_of(&item, "group"),
            metric: text_of(&item, "metric_name"),
            value: number_of(&item, "metric_value"),
            threshold: number_of(&item, "threshold_value"),
        })
        .collect()
}

fn text_of(item: &Value, key: &str) -> Option<String> {
    match item.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn number_of(item: &Value, key: &str) -> Option<f64> {
    let number = match item.get(key)? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    number.filter(|number| number.is_finite())
}

/// The string literals of a Python list's text, `'...'` or `"..."`, with Python's escapes
/// undone, up to the list's closing `]`. Stops quietly at anything else.
fn python_strings(list: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let quote = match chars.next() {
            Some(quote @ ('\'' | '"')) => quote,
            _ => return items,
        };
        let mut item = String::new();
        loop {
            match chars.next() {
                None => return items,
                Some(c) if c == quote => break,
                Some('\\') => match chars.next() {
                    Some('n') => item.push('\n'),
                    Some('t') => item.push('\t'),
                    Some('r') => item.push('\r'),
                    Some(other @ ('\\' | '\'' | '"')) => item.push(other),
                    Some(other) => {
                        item.push('\\');
                        item.push(other);
                    }
                    None => return items,
                },
                Some(c) => item.push(c),
            }
        }
        items.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text as Azure ML's component writes it (see the module docs), `group` first.
    const TEXT: &str = "The signal 'churn-drift' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"group\":\"age\",\"metric_value\":0.42,\"metric_name\":\"JensenShannonDistance\",\"threshold_value\":0.1}', '{\"group\":\"income\",\"metric_value\":0.31,\"metric_name\":\"PopulationStabilityIndex\",\"threshold_value\":0.2}']\n";

    #[test]
    fn reads_the_signal_and_each_violation() {
        let breach = MonitorBreach::parse(TEXT);
        assert_eq!(breach.signal.as_deref(), Some("churn-drift"));
        assert_eq!(breach.violations.len(), 2);
        assert_eq!(
            breach.violations[0],
            Violation {
                feature: Some("age".into()),
                metric: Some("JensenShannonDistance".into()),
                value: Some(0.42),
                threshold: Some(0.1),
            }
        );
        assert_eq!(
            breach.violations[1],
            Violation {
                feature: Some("income".into()),
                metric: Some("PopulationStabilityIndex".into()),
                value: Some(0.31),
                threshold: Some(0.2),
            }
        );
        assert_eq!(breach.worst(1)[0].feature.as_deref(), Some("age"));
    }

    #[test]
    fn reads_keys_in_any_order_without_a_group_and_with_escapes() {
        // The order of Azure ML's unit test, a signal without groups, a NaN and a quote.
        // Python writes a string holding both quotes between single quotes, escaping `'`.
        let text = "The signal 'it''s' has failed due to one or more features violating metric thresholds.\nThe feature names and their corresponding computed metric values violating the threshold are \n['{\"metric_value\":4.6,\"metric_name\":\"NullValueRate\",\"threshold_value\":\"NaN\"}', '{\"metric_value\":0.01,\"metric_name\":\"PearsonsChiSquaredTest\",\"threshold_value\":0.05,\"group\":\"o\\'brien\"}']\n";
        let breach = MonitorBreach::parse(text);
        assert_eq!(breach.signal.as_deref(), Some("it''s"));
        assert_eq!(breach.violations.len(), 2);
        assert_eq!(breach.violations[0].feature, None);
        assert_eq!(breach.violations[0].threshold, None);
        assert_eq!(
            breach.violations[0].metric.as_deref(),
            Some("NullValueRate")
        );
        assert_eq!(breach.violations[0].value, Some(4.6));
        assert_eq!(
            breach.violations[1],
            Violation {
                feature: Some("o'brien".into()),
                metric: Some("PearsonsChiSquaredTest".into()),
                value: Some(0.01),
                threshold: Some(0.05),
            }
        );
    }

    #[test]
    fn text_that_does_not_parse_is_kept() {
        for text in [
            "",
            "threshold breached",
            "The signal '' has failed",
            "[",
            "['{not json}'",
        ] {
            let breach = MonitorBreach::parse(text);
            assert_eq!(breach.signal, None, "{text:?}");
            assert!(breach.violations.is_empty(), "{text:?}");
            assert_eq!(breach.text, text);
        }
    }
}
