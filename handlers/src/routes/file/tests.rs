//! The routes file read and checked: a good file, and each kind of problem named by its line
//! and key.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use aml_events::{
    Function,
    notify::{Kind, PAGERDUTY_EVENTS_URL, SigningKey},
};

use super::{RoutesError, job_file_path, parse};
use crate::routes::Routes;

const GOOD: &str = r#"
[targets.ml-team]
url = "${ML_TEAM_WEBHOOK}"
[targets.oncall]
kind = "pagerduty"
routing_key = "${PAGERDUTY_KEY}"

[[routes]]
name = "production training failures"
functions = ["RunStatusChanged"]
match = { run_status = ["Failed", "Canceled"], experiment = "prod-*", tags = { team = "growth" } }
notify = ["oncall", "ml-team"]

[[routes]]
name = "churn drift"
functions = ["RunStatusChanged", "DatasetDriftDetected"]
match = { monitor_breach = true, signal = "churn-*" }
retrain = { job_file = "job.json", drift_threshold = 0.3 }
notify = ["ml-team"]
enrich = false
"#;

fn settings() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        (
            "ML_TEAM_WEBHOOK",
            "https://hooks.slack.com/services/T0/B0/secret",
        ),
        ("PAGERDUTY_KEY", "pd-key"),
        ("HOOK_URL", "https://hooks.example.com/in"),
        ("HOOK_SECRET", HOOK_SECRET),
        ("SHORT_SECRET", "whsec_c2hvcnQtc2VjcmV0"),
    ])
}

/// A Standard Webhooks secret (24 bytes), as the libraries write them.
const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn folder() -> PathBuf {
    // One folder per call: tests run in parallel, and a job file being rewritten by one
    // would read as empty in another.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("aml-routes-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("job.json"),
        r#"{"properties": {"tags": {"signal": "{{signalName}}"}}}"#,
    )
    .unwrap();
    dir
}

fn check(text: &str) -> Result<Routes, RoutesError> {
    let values = settings();
    parse(&folder().join("routes.toml"), text, &|name| {
        values.get(name).map(|value| value.to_string())
    })
}

fn error(text: &str) -> RoutesError {
    match check(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err,
    }
}

#[test]
fn a_good_file_becomes_routes() {
    let routes = check(GOOD).unwrap();
    assert_eq!(routes.targets.len(), 2);
    let oncall = routes.targets.iter().find(|t| t.name == "oncall").unwrap();
    assert_eq!(oncall.target.kind, Kind::PagerDuty);
    assert_eq!(oncall.target.url.expose(), PAGERDUTY_EVENTS_URL);
    assert_eq!(
        oncall.target.routing_key.as_ref().unwrap().expose(),
        "pd-key"
    );
    let team = routes.targets.iter().find(|t| t.name == "ml-team").unwrap();
    assert_eq!(team.target.kind, Kind::Slack);
    let [prod, churn] = &routes.routes[..] else {
        panic!("two routes")
    };
    assert_eq!((prod.line, churn.line), (8, 14));
    assert_eq!(prod.functions, [Function::RunStatusChanged]);
    assert_eq!(prod.matchers.len(), 3);
    assert!(prod.enriches() && !churn.enriches());
    assert_eq!(churn.retrain.as_ref().unwrap().drift_threshold, Some(0.3));
    let described: Vec<String> = routes.describe().map(|d| d.to_string()).collect();
    assert!(
        described[0].contains("when: experiment = \"prod-*\" and run_status = [\"Failed\", \"Canceled\"] and tags.team = \"growth\""),
        "{}",
        described[0]
    );
    assert!(
        described[0].contains("notify: oncall (pagerduty), ml-team (slack)"),
        "{}",
        described[0]
    );
    let debug = format!("{routes:?}");
    assert!(
        !debug.contains("pd-key") && !debug.contains("secret"),
        "{debug}"
    );
}

#[test]
fn problems_name_line_and_key() {
    let cases = [
        // An unknown key in a route.
        (
            GOOD.replace("enrich = false", "enrichh = false"),
            20,
            "enrichh",
            "unknown key",
        ),
        // An unknown key inside `match`.
        (
            GOOD.replace("signal = \"churn-*\"", "sginal = \"churn-*\""),
            17,
            "sginal",
            "unknown key",
        ),
        // An unknown function.
        (
            GOOD.replace("\"DatasetDriftDetected\"]", "\"DriftDetected\"]"),
            16,
            "routes[1].functions",
            "unknown function \"DriftDetected\"",
        ),
        // A target no table defines.
        (
            GOOD.replace("notify = [\"ml-team\"]", "notify = [\"ml-tema\"]"),
            19,
            "routes[1].notify",
            "unknown target \"ml-tema\"",
        ),
        // A job file that is not there.
        (
            GOOD.replace("job.json", "missing.json"),
            18,
            "routes[1].retrain.job_file",
            "missing.json",
        ),
        // A literal webhook URL.
        (
            GOOD.replace(
                "${ML_TEAM_WEBHOOK}",
                "https://hooks.slack.com/services/T0/B0/literal",
            ),
            3,
            "targets.ml-team.url",
            "literal URL is refused",
        ),
        // A literal routing key.
        (
            GOOD.replace("${PAGERDUTY_KEY}", "abc123"),
            6,
            "targets.oncall.routing_key",
            "literal routing key is refused",
        ),
        // A reference to a setting that is not set.
        (
            GOOD.replace("${PAGERDUTY_KEY}", "${NOT_SET}"),
            6,
            "targets.oncall.routing_key",
            "${NOT_SET} is not set",
        ),
        // A value of the wrong type.
        (
            GOOD.replace("enrich = false", "enrich = \"no\""),
            20,
            "enrich",
            "invalid type",
        ),
        // A kind that does not exist.
        (
            GOOD.replace("kind = \"pagerduty\"", "kind = \"pager\""),
            5,
            "targets.oncall.kind",
            "unknown kind",
        ),
        // A drift threshold that is no fraction.
        (
            GOOD.replace("drift_threshold = 0.3", "drift_threshold = 1.5"),
            18,
            "routes[1].retrain.drift_threshold",
            "1.5 is not a number from 0 to 1",
        ),
        // An empty list of patterns, for a field and for a tag.
        (
            GOOD.replace("experiment = \"prod-*\"", "experiment = []"),
            11,
            "routes[0].match.experiment",
            "an empty list matches nothing",
        ),
        (
            GOOD.replace("team = \"growth\"", "team = []"),
            11,
            "routes[0].match.tags.team",
            "an empty list matches nothing",
        ),
    ];
    for (text, line, key, problem) in cases {
        let err = error(&text);
        assert_eq!((err.line, err.key.as_str()), (line, key), "{err}");
        assert!(err.problem.contains(problem), "{err}");
        let shown = err.to_string();
        assert!(
            shown.contains(&format!("routes.toml:{line}: {key}: ")),
            "{shown}"
        );
        assert!(
            !shown.contains("literal\"") && !shown.contains("abc123"),
            "{shown}"
        );
    }
}

#[test]
fn pagerduty_endpoint_may_be_written_out_and_references_may_carry_a_kind() {
    let text = r#"
[targets.pd]
url = "https://events.eu.pagerduty.com/v2/enqueue"
routing_key = "${PAGERDUTY_KEY}"
[targets.team]
url = "${ML_TEAM_WEBHOOK}"
kind = "webhook"
[[routes]]
name = "all"
notify = ["pd", "team"]
"#;
    let routes = check(text).unwrap();
    assert_eq!(routes.targets[0].target.kind, Kind::PagerDuty);
    assert_eq!(routes.targets[1].target.kind, Kind::Webhook);
    assert_eq!(
        routes.routes[0].functions.len(),
        5,
        "all functions by default"
    );
    assert!(routes.routes[0].matchers.is_empty());
}

// See: issue 22, finding 10: routes that were valid TOML but could never work passed
// start-up and `routes check`.
#[test]
fn routes_that_could_never_work_are_refused_naming_line_and_key() {
    let route = |body: &str| {
        format!(
            "[targets.team]\nurl = \"${{ML_TEAM_WEBHOOK}}\"\n[[routes]]\nname = \"r\"\n{body}\n"
        )
    };
    let cases = [
        (
            route(
                "functions = [\"RunStatusChanged\", \"DatasetDriftDetected\"]\nmatch = { drift_at_least = 0.3 }\nnotify = [\"team\"]",
            ),
            6,
            "routes[0].match.drift_at_least",
            "cannot be used with RunStatusChanged",
        ),
        (
            route(
                "functions = [\"RunStatusChanged\"]\nsmoke_test = { uri = \"https://x.example.com/score\" }",
            ),
            6,
            "routes[0].smoke_test",
            "none of this route's functions (RunStatusChanged) can smoke_test",
        ),
        (
            route(
                "functions = [\"ModelRegistered\"]\nmatch = { experiment = \"prod-*\" }\nnotify = [\"team\"]",
            ),
            6,
            "routes[0].match.experiment",
            "could never match; experiment is carried by RunCompleted, RunStatusChanged",
        ),
        (
            route("functions = [\"ModelRegistered\"]\nenrich = true\nnotify = [\"team\"]"),
            6,
            "routes[0].enrich",
            "can enrich",
        ),
        (
            route(
                "functions = [\"ModelDeployed\"]\nsmoke_test = { uri = \"https://x.example.com/score?code=${SCORING_KEY}\" }",
            ),
            6,
            "routes[0].smoke_test.uri",
            "stands for a whole value only",
        ),
        (
            route(
                "functions = [\"DatasetDriftDetected\"]\nretrain = { job_file = \"../job.json\" }",
            ),
            6,
            "routes[0].retrain.job_file",
            "inside the routes file's folder",
        ),
        (
            route(
                "functions = [\"RunCompleted\"]\nmatch = { experiment = \"${EXPERIMENT}\" }\nnotify = [\"team\"]",
            ),
            6,
            "routes[0].match.experiment",
            "stands for a whole value only",
        ),
        (
            format!(
                "{}[[routes]]\nname = \"Churn drift\"\nfunctions = [\"DatasetDriftDetected\"]\nretrain = {{ job_file = \"job.json\" }}\n",
                route(
                    "functions = [\"DatasetDriftDetected\"]\nretrain = { job_file = \"job.json\" }"
                )
                .replace("name = \"r\"", "name = \"churn-drift\"")
            ),
            8,
            "routes[1].name",
            "would be named like those of \"churn-drift\" (line 3)",
        ),
    ];
    for (text, line, key, problem) in cases {
        let err = error(&text);
        assert_eq!((err.line, err.key.as_str()), (line, key), "{err}\n{text}");
        assert!(err.problem.contains(problem), "{err}");
    }
    let target = "[targets.team]\nurl = \"https://hooks.slack.com/services/${TOKEN}\"\n[[routes]]\nname = \"r\"\nnotify = [\"team\"]\n";
    let err = error(target);
    assert_eq!(
        (err.line, err.key.as_str()),
        (2, "targets.team.url"),
        "{err}"
    );
    assert!(err.problem.contains("whole value only"), "{err}");
}

#[test]
fn the_job_file_rule_is_one_for_start_up_check_and_package() {
    let folder = Path::new("routes");
    assert_eq!(
        job_file_path(folder, "./jobs/retrain.json").unwrap(),
        folder.join("./jobs/retrain.json")
    );
    for bad in [
        "../x.json",
        "/etc/job.json",
        "jobs/../../x.json",
        "",
        "${JOB}",
    ] {
        assert!(job_file_path(folder, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_route_must_act_and_a_file_must_route() {
    let err = error("[[routes]]\nname = \"idle\"\n");
    assert_eq!(err.line, 2);
    assert!(err.problem.contains("does nothing"), "{err}");
    let err = error("");
    assert!(err.problem.contains("no [[routes]]"), "{err}");
    let err = error(
        "[[routes]]\nname = \"smoke\"\nsmoke_test = { uri = \"https://x.example.com/score?code=k\" }\n",
    );
    assert_eq!(
        (err.line, err.key.as_str()),
        (3, "routes[0].smoke_test.uri"),
        "{err}"
    );
}

#[test]
fn noise_control_keys_are_read_shown_and_checked_naming_line_and_key() {
    let noisy = GOOD
        .replace(
            "drift_threshold = 0.3 }",
            "drift_threshold = 0.3, cooldown = \"24h\" }",
        )
        .replace(
            "notify = [\"ml-team\"]\nenrich",
            "notify = [\"ml-team\"]\nnotify_every = \"15m\"\nenrich",
        );
    let routes = check(&noisy).unwrap();
    let churn = &routes.routes[1];
    let cooldown = churn.retrain.as_ref().unwrap().cooldown;
    assert_eq!(cooldown, Some(std::time::Duration::from_secs(24 * 3600)));
    assert_eq!(
        churn.notify_every,
        Some(std::time::Duration::from_secs(900))
    );
    assert_eq!(routes.routes[0].notify_every, None);
    let described = routes.describe().nth(1).unwrap().to_string();
    assert!(
        described.contains("one at a time per group, cooldown 1d"),
        "{described}"
    );
    assert!(described.contains("notify_every: 15m"), "{described}");

    let cases = [
        (
            noisy.replace("\"24h\"", "\"0h\""),
            18,
            "routes[1].retrain.cooldown",
            "it is zero",
        ),
        (
            noisy.replace("\"24h\"", "\"-1d\""),
            18,
            "routes[1].retrain.cooldown",
            "it is negative",
        ),
        (
            noisy.replace("\"15m\"", "\"soon\""),
            20,
            "routes[1].notify_every",
            "must end with a unit",
        ),
        (
            noisy.replace("\"15m\"", "900"),
            20,
            "notify_every",
            "invalid type",
        ),
        (
            noisy.replace("notify = [\"ml-team\"]\nnotify_every", "notify_every"),
            19,
            "routes[1].notify_every",
            "notifies no target",
        ),
    ];
    for (text, line, key, problem) in cases {
        let err = error(&text);
        assert_eq!((err.line, err.key.as_str()), (line, key), "{err}");
        assert!(err.problem.contains(problem), "{err}");
    }
}

#[test]
fn a_webhook_target_is_signed_with_the_secret_its_reference_names() {
    let signed = "[targets.hook]\nurl = \"${HOOK_URL}\"\nsecret = \"${HOOK_SECRET}\"\n[[routes]]\nname = \"all\"\nnotify = [\"hook\"]\n";
    let routes = check(signed).unwrap();
    let hook = &routes.targets[0].target;
    assert_eq!(hook.kind, Kind::Webhook);
    assert_eq!(hook.signing, Some(SigningKey::parse(HOOK_SECRET).unwrap()));
    let unsigned = check(&signed.replace("secret = \"${HOOK_SECRET}\"\n", "")).unwrap();
    assert_eq!(
        unsigned.targets[0].identity, routes.targets[0].identity,
        "a signature does not make the target another effect"
    );
    let debug = format!("{routes:?}");
    assert!(!debug.contains(&HOOK_SECRET[6..]), "{debug}");

    let cases = [
        (
            GOOD.replace(
                "url = \"${ML_TEAM_WEBHOOK}\"",
                "url = \"${ML_TEAM_WEBHOOK}\"\nsecret = \"${HOOK_SECRET}\"",
            ),
            4,
            "targets.ml-team.secret",
            "only webhook targets are signed (this one is slack",
        ),
        (
            signed.replace("${HOOK_SECRET}", HOOK_SECRET),
            3,
            "targets.hook.secret",
            "a literal secret is refused",
        ),
        (
            signed.replace("${HOOK_SECRET}", "${SHORT_SECRET}"),
            3,
            "targets.hook.secret",
            "${SHORT_SECRET} is not a Standard Webhooks secret (whsec_ followed by the base64 of 24 to 64 random bytes): its key is 12 bytes long",
        ),
        (
            signed.replace("${HOOK_SECRET}", "${NOT_SET}"),
            3,
            "targets.hook.secret",
            "${NOT_SET} is not set",
        ),
        (
            signed.replace("${HOOK_SECRET}", "whsec_${HOOK_SECRET}"),
            3,
            "targets.hook.secret",
            "stands for a whole value only",
        ),
        // Two names for one target are posted to once, so they cannot be signed two ways.
        (
            signed.replace(
                "[[routes]]",
                "[targets.same-hook]\nurl = \"${HOOK_URL}\"\n[[routes]]",
            ),
            4,
            "targets.same-hook",
            "the same target as targets.hook (the same kind and URL), signed otherwise",
        ),
    ];
    for (text, line, key, problem) in cases {
        let err = error(&text);
        assert_eq!((err.line, err.key.as_str()), (line, key), "{err}\n{text}");
        assert!(err.problem.contains(problem), "{err}");
        let shown = err.to_string();
        for secret in [&HOOK_SECRET[6..], "c2hvcnQtc2VjcmV0"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
