//! Groups: what events about the same thing share, so noise control (a route's `cooldown` and
//! `notify_every`, docs/routes.md) counts them together. A monitor breach groups by its signal
//! (else the monitor run's experiment), a drift by its monitor, a run status by experiment and
//! status, a deployment by service and smoke-test result, a registration by model name.

/// A model monitor's breaches: by signal, else by the monitor run's experiment.
pub fn breach(signal: Option<&str>, experiment: Option<&str>) -> String {
    match (signal, experiment) {
        (Some(signal), _) => format!("signal {signal}"),
        (None, Some(experiment)) => format!("monitor experiment {experiment}"),
        (None, None) => "monitor (unnamed)".to_owned(),
    }
}

/// A v1 dataset monitor's drift: by the monitor (`dataDriftId`, else its name).
pub fn drift(monitor: Option<&str>) -> String {
    format!("drift monitor {}", monitor.unwrap_or("(unnamed)"))
}

/// A run's status: by experiment and status.
pub fn run(experiment: Option<&str>, status: &str) -> String {
    format!(
        "experiment {}, status {status}",
        experiment.unwrap_or("(unknown)")
    )
}

/// A deployment: by service and what its smoke test said (`DEPLOYED`, `PASSED`, `FAILED`), so
/// a deployment that passed never holds back the news of one that failed.
pub fn service(service: &str, status_word: &str) -> String {
    format!("service {service}, {status_word}")
}

/// A registration: by model name.
pub fn model(name: &str) -> String {
    format!("model {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breach_without_a_signal_groups_by_its_experiment() {
        assert_eq!(breach(Some("churn-drift"), Some("m")), "signal churn-drift");
        assert_eq!(
            breach(None, Some("monitor-exp")),
            "monitor experiment monitor-exp"
        );
        assert_eq!(run(Some("e"), "Failed"), "experiment e, status Failed");
        assert_ne!(
            service("churn-api", "PASSED"),
            service("churn-api", "FAILED")
        );
    }
}
