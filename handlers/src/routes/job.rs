//! Retraining jobs: the body template a route (or `AML_RETRAIN_JOB_FILE`) names, and the job's
//! name. The name is the effect's identity (a job is created once per name), so it must be
//! stable across redeliveries and distinct for every route that retrains on the same event.
//!
//! A name is `retrain-<event part>[-<route part>]`: the event part comes from the event id
//! (ids too long for it keep a digest of the whole id, so two long ids never share a name), the
//! route part from the route's name (routes of a file; the implicit routes of the `AML_*`
//! settings have none, so their jobs keep the names they always had). Azure ML job names take
//! letters, digits, `-` and `_`, at most 255 characters; these stay under 250.
//! See <https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command>.

use std::path::{Path, PathBuf};

use aml_events::redact;

/// The retraining job body, with `{{placeholders}}` still in it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobTemplate {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// The placeholders a job template may use: a v1 drift event fills the drift ones, a
/// model-monitor breach `signalName` and `monitorRunId`; the others are empty.
pub const JOB_PLACEHOLDERS: [&str; 8] = [
    "eventId",
    "runId",
    "dataDriftId",
    "baseDatasetId",
    "targetDatasetId",
    "driftCoefficient",
    "signalName",
    "monitorRunId",
];

impl JobTemplate {
    /// Reads and checks a job template: JSON (an object) once its placeholders are filled in.
    /// The error is the problem alone, for the caller to name the setting or key.
    pub fn read(path: &Path) -> Result<JobTemplate, String> {
        let text = std::fs::read_to_string(path).map_err(|err| err.to_string())?;
        let template = JobTemplate {
            path: path.to_path_buf(),
            text,
        };
        // A template must be JSON once filled in; try it with harmless values.
        let sample = template.fill(|name| {
            if name == "driftCoefficient" {
                "0.5".into()
            } else {
                "x".into()
            }
        });
        serde_json::from_str::<serde_json::Value>(&sample)
            .map_err(|err| {
                format!("not a JSON job body once its placeholders are filled in ({err})")
            })?
            .as_object()
            .ok_or_else(|| "the job body must be a JSON object".to_owned())?;
        Ok(template)
    }

    /// The template with each `{{name}}` replaced by `value(name)`, JSON-escaped (numbers are
    /// written as they are, so `{{driftCoefficient}}` may stand outside quotes).
    pub fn fill(&self, value: impl Fn(&str) -> String) -> String {
        let mut text = self.text.clone();
        for name in JOB_PLACEHOLDERS {
            let placeholder = format!("{{{{{name}}}}}");
            if text.contains(&placeholder) {
                let escaped = serde_json::to_string(&value(name)).unwrap_or_default();
                text = text.replace(&placeholder, &escaped[1..escaped.len() - 1]);
            }
        }
        text
    }
}

/// The most characters of a job name the event id gives.
const EVENT_PART: usize = 200;
/// The most characters of a job name the route's name gives.
pub const ROUTE_PART: usize = 40;

/// The job `event_id` starts for the route whose job-name part is `route_part`: stable across
/// redeliveries, so a redelivered event can never start a second job.
pub fn job_name(event_id: &str, route_part: Option<&str>) -> String {
    let event = event_part(event_id);
    match route_part {
        Some(route) => format!("retrain-{event}-{route}"),
        None => format!("retrain-{event}"),
    }
}

/// A route name's part of its jobs' names: the name fit for a job name, at most [`ROUTE_PART`] characters.
pub fn route_part(route_name: &str) -> String {
    name_part(route_name).chars().take(ROUTE_PART).collect()
}

/// The event id's part of a job name: the id fit for a job name, or, when that is longer than
/// the part allows, its start and a digest of the whole id.
fn event_part(event_id: &str) -> String {
    let part = name_part(event_id);
    if part.len() <= EVENT_PART {
        return part;
    }
    let digest = redact::fingerprint(event_id);
    let kept = EVENT_PART - digest.len() - 1;
    format!("{}-{digest}", &part[..kept])
}

/// `text` fit for a job name: letters and digits lowercased, `-` and `_` kept, anything else
/// `-` (ASCII only, so byte and character counts agree).
fn name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_stable_and_valid() {
        let id = "831E1650-001e-001b-66ab-eeb76e069631";
        assert_eq!(
            job_name(id, None),
            "retrain-831e1650-001e-001b-66ab-eeb76e069631"
        );
        assert_eq!(job_name("a/b c", None), "retrain-a-b-c");
        assert_eq!(
            job_name(id, Some(&route_part("Churn drift (prod)"))),
            "retrain-831e1650-001e-001b-66ab-eeb76e069631-churn-drift--prod-"
        );
    }

    #[test]
    fn long_ids_keep_a_digest_and_names_stay_within_azures_limit() {
        let long = "x".repeat(300);
        let other = format!("{}y", "x".repeat(299));
        let (a, b) = (job_name(&long, None), job_name(&other, None));
        assert_ne!(a, b, "ids that share their first 200 characters");
        let routed = job_name(&long, Some(&route_part(&"r".repeat(100))));
        assert!(routed.len() <= 250, "{}", routed.len());
        assert!(
            routed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
