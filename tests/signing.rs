//! Signed notices end to end (docs/notifications.md, "Signed webhooks"): the real `serve`
//! posting to loopback receivers, and what they received checked by the Standard Webhooks
//! libraries themselves (PyPI's and npm's `standardwebhooks`, installed by the tests, see
//! `signing/standard_webhooks.rs`). A retry after a 5xx, a redelivery after a post that failed
//! for now, and the same event on two instances all carry one `webhook-id` per target; a
//! tampered body or a swapped id is refused; the secret is in no log, outcome or `history`;
//! a secret of another form, or on a target that cannot verify it, stops start-up.

#[path = "../aml-events/tests/azurite/mod.rs"]
mod azurite;
mod common;
#[path = "signing/standard_webhooks.rs"]
mod standard_webhooks;

use azurite::Azurite;
use common::{command, history_json, stand_in::*, stdout_of_success};
use serde_json::Value;
use standard_webhooks::{Library, verify};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

/// A Standard Webhooks secret: `whsec_` and the base64 of 32 bytes.
const SECRET: &str = "whsec_YW1sLWhhbmRsZXJzLXNpZ25pbmctdGVzdC1rZXktMDE=";
/// Two receivers' secrets, for a routes file.
const SECRET_A: &str = "whsec_dGVhbS1hLXJlY2VpdmVyLXNpZ25pbmcta2V5LTAwMDE=";
const SECRET_B: &str = "whsec_dGVhbS1iLXJlY2VpdmVyLXNpZ25pbmcta2V5LTAwMDI=";

/// What a secret must never show up as: whole, or its key's base64.
fn assert_no_secret(texts: &[&str]) {
    for text in texts {
        for secret in [SECRET, SECRET_A, SECRET_B] {
            assert!(
                !text.contains(&secret[6..30]),
                "the secret leaked into: {text}"
            );
        }
    }
}

/// A receiver answering `status` to every post.
async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    answer(&server, status).await;
    server
}

async fn answer(server: &MockServer, status: u16) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(server)
        .await;
}

/// The three Standard Webhooks headers of a request.
fn signature_headers(request: &wiremock::Request) -> Vec<(&'static str, String)> {
    ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .into_iter()
        .map(|name| {
            let value = request
                .headers
                .get(name)
                .map_or("", |value| value.to_str().unwrap());
            (name, value.to_owned())
        })
        .collect()
}

fn webhook_id(request: &wiremock::Request) -> String {
    signature_headers(request)[0].1.clone()
}

/// `library`'s verdict on `request` as received, signed with `secret`.
fn verdict(library: Library, secret: &str, request: &wiremock::Request) -> Result<String, String> {
    let headers = signature_headers(request);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    verify(library, secret, &headers, &request.body)
}

fn notify_action(body: &Value) -> Value {
    body["results"][0]["actions"]
        .as_array()
        .and_then(|actions| actions.iter().find(|action| action["action"] == "notify"))
        .cloned()
        .unwrap_or_else(|| panic!("no notify action in {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_notice_verifies_with_the_standard_webhooks_libraries_and_a_retry_keeps_its_id() {
    // Arrange: the receiver fails the first post; the ledger is a real Azure Table.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    answer(&receiver, 200).await;
    let azurite = Azurite::shared();
    let table = format!("t{}", new_id("signing").replace('-', ""));
    let server = start(&[
        ("AML_NOTIFY_URL", format!("webhook:{}/hook", receiver.uri())),
        ("AML_NOTIFY_SECRET", SECRET.into()),
        ("AML_LEDGER", azurite.connection_string()),
        ("AML_LEDGER_TABLE", table.clone()),
        ("RUST_LOG", "debug".into()),
    ]);
    let event = failed_run(&new_id("run"));
    let id = event["id"].as_str().unwrap().to_owned();

    // Act
    let (status, outcome, _) = webhook(&server, "", std::slice::from_ref(&event)).await;

    // Assert: the retry carries the first attempt's id; each attempt verifies as received.
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(notify_action(&outcome)["status"], "done", "{outcome}");
    assert!(
        server
            .ready_line
            .contains("signed: notices to 1 webhook target;"),
        "{}",
        server.ready_line
    );
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "the 503, then the retry");
    let message = webhook_id(&requests[0]);
    assert!(message.starts_with("msg_"), "{message}");
    assert_eq!(
        webhook_id(&requests[1]),
        message,
        "one id for every attempt"
    );
    for request in &requests {
        for library in [Library::Python, Library::Node] {
            assert_eq!(
                verdict(library, SECRET, request),
                Ok(format!("verified {id}")),
                "{library:?}"
            );
        }
    }

    // A tampered body, or the body and signature sent under another id, is refused.
    let mut tampered = requests[1].clone();
    let text = String::from_utf8(tampered.body.clone()).unwrap();
    assert!(text.contains("churn_run_7"), "{text}");
    tampered.body = text.replace("churn_run_7", "churn_run_8").into_bytes();
    let mut replayed = requests[1].clone();
    replayed
        .headers
        .insert("webhook-id", "msg_another".parse().unwrap());
    for forged in [&tampered, &replayed] {
        for library in [Library::Python, Library::Node] {
            let refusal = verdict(library, SECRET, forged).unwrap_err();
            assert!(refusal.contains("No matching signature"), "{refusal}");
        }
    }

    // The secret is in no log, outcome or history.
    let entries = history_json(&azurite.connection_string(), &table, &["--event", &id]).await;
    assert!(!entries.is_empty(), "history has the event");
    let stderr = server.wait_for_log("notify");
    assert_no_secret(&[
        &stderr,
        &server.ready_line,
        &outcome.to_string(),
        &format!("{entries:?}"),
    ]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivery_after_a_post_that_failed_for_now_carries_the_same_id() {
    // Arrange: the receiver is down for the first delivery (no ledger: this instance's memory).
    let receiver = receiver(503).await;
    let server = start(&[
        ("AML_NOTIFY_URL", format!("webhook:{}/hook", receiver.uri())),
        ("AML_NOTIFY_SECRET", SECRET.into()),
        ("AML_DEADLINE_SECONDS", "2".into()),
    ]);
    let event = failed_run(&new_id("run"));

    // Act: Event Grid delivers, is told to retry, and redelivers once the receiver is back.
    let (status, first, _) = webhook(&server, "", std::slice::from_ref(&event)).await;
    let failed = receiver.received_requests().await.unwrap();
    receiver.reset().await;
    answer(&receiver, 200).await;
    let (again, second, _) = webhook(&server, "", std::slice::from_ref(&event)).await;

    // Assert
    assert_ne!(status, 200, "the first delivery is to be retried: {first}");
    assert_eq!(again, 200, "{second}");
    assert_eq!(notify_action(&second)["status"], "done", "{second}");
    let redelivered = receiver.received_requests().await.unwrap();
    assert_eq!(redelivered.len(), 1);
    assert!(!failed.is_empty());
    let message = webhook_id(&redelivered[0]);
    for request in &failed {
        assert_eq!(webhook_id(request), message);
    }
    let id = event["id"].as_str().unwrap();
    assert_eq!(
        verdict(Library::Python, SECRET, &redelivered[0]),
        Ok(format!("verified {id}"))
    );
    assert_no_secret(&[&server.stderr(), &first.to_string(), &second.to_string()]);
}

/// With a routes file, each target signs with its own secret; two instances with no shared
/// ledger both post an event, under the same id per target.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_on_two_instances_carries_one_id_per_target() {
    // Arrange
    let receiver = receiver(200).await;
    let folder = std::env::temp_dir().join(new_id("signing-routes"));
    std::fs::create_dir_all(&folder).unwrap();
    let routes = folder.join("routes.toml");
    std::fs::write(
        &routes,
        r#"[targets.team-a]
url = "${HOOK_A}"
secret = "${SECRET_A}"
[targets.team-b]
url = "${HOOK_B}"
secret = "${SECRET_B}"

[[routes]]
name = "failures"
functions = ["RunStatusChanged"]
notify = ["team-a", "team-b"]
"#,
    )
    .unwrap();
    let env = [
        ("AML_ROUTES_FILE", routes.display().to_string()),
        ("HOOK_A", format!("{}/a", receiver.uri())),
        ("HOOK_B", format!("{}/b", receiver.uri())),
        ("SECRET_A", SECRET_A.into()),
        ("SECRET_B", SECRET_B.into()),
    ];
    let file = routes.display().to_string();
    let shown: Vec<(&str, &str)> = env[1..].iter().map(|(n, v)| (*n, v.as_str())).collect();
    let checked = command(&["routes", "check", &file], &shown)
        .output()
        .unwrap();
    let checked = stdout_of_success(&checked);
    assert!(
        checked.contains("notify: team-a (webhook, signed), team-b (webhook, signed)"),
        "routes check says which targets are signed: {checked}"
    );
    assert_no_secret(&[&checked]);
    let (first, second) = (start(&env), start(&env));
    let event = failed_run(&new_id("run"));
    let other = failed_run(&new_id("run"));

    // Act
    for server in [&first, &second] {
        let (status, body, _) = webhook(server, "", std::slice::from_ref(&event)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body, _) = webhook(&first, "", std::slice::from_ref(&other)).await;
    assert_eq!(status, 200, "{body}");

    // Assert
    assert!(
        first
            .ready_line
            .contains("signed: notices to 2 webhook targets;"),
        "{}",
        first.ready_line
    );
    let requests = receiver.received_requests().await.unwrap();
    let to = |path: &str| -> Vec<&wiremock::Request> {
        requests.iter().filter(|r| r.url.path() == path).collect()
    };
    let (a, b) = (to("/a"), to("/b"));
    assert_eq!((a.len(), b.len()), (3, 3));
    let ids = |requests: &[&wiremock::Request]| -> Vec<String> {
        requests.iter().map(|request| webhook_id(request)).collect()
    };
    let (a_ids, b_ids) = (ids(&a), ids(&b));
    // The two instances posted the event first, in either order; `other` came last.
    assert_eq!(a_ids[0], a_ids[1], "one id for the event on both instances");
    assert_eq!(b_ids[0], b_ids[1]);
    assert_ne!(a_ids[0], b_ids[0], "another target, another id");
    assert_ne!(a_ids[2], a_ids[0], "another event, another id");
    assert!(verdict(Library::Python, SECRET_A, a[0]).is_ok());
    assert!(verdict(Library::Python, SECRET_B, b[0]).is_ok());
    assert!(
        verdict(Library::Python, SECRET_B, a[0]).is_err(),
        "each target signs with its own secret"
    );
    assert_no_secret(&[&first.stderr(), &second.stderr()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_test_sends_a_signed_sample() {
    let receiver = receiver(200).await;
    let env = [
        ("AML_NOTIFY_URL", format!("webhook:{}/hook", receiver.uri())),
        ("AML_NOTIFY_SECRET", SECRET.to_owned()),
    ];

    let output = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
        command(&["notify", "--test"], &env).output().unwrap()
    })
    .await
    .unwrap();

    let stdout = stdout_of_success(&output);
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "{stdout}");
    let verified = verdict(Library::Python, SECRET, &requests[0]);
    assert!(verified.is_ok(), "{verified:?}");
    assert_no_secret(&[&stdout, &String::from_utf8_lossy(&output.stderr)]);

    // --to a webhook URL is signed the same way.
    let to = format!("webhook:{}/other", receiver.uri());
    let output = tokio::task::spawn_blocking(move || {
        command(
            &["notify", "--test", "--to", &to],
            &[("AML_NOTIFY_SECRET", SECRET)],
        )
        .output()
        .unwrap()
    })
    .await
    .unwrap();
    let stdout = stdout_of_success(&output);
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2, "{stdout}");
    let verified = verdict(Library::Python, SECRET, &requests[1]);
    assert!(verified.is_ok(), "--to URL is signed: {verified:?}");
}

#[test]
fn a_secret_of_another_form_or_on_a_target_that_cannot_verify_stops_start_up() {
    let folder = std::env::temp_dir().join(new_id("signing-refused"));
    std::fs::create_dir_all(&folder).unwrap();
    let routes = folder.join("routes.toml");
    std::fs::write(
        &routes,
        "[targets.chat]\nurl = \"${CHAT}\"\nsecret = \"${CHAT_SECRET}\"\n[[routes]]\nname = \"all\"\nnotify = [\"chat\"]\n",
    )
    .unwrap();
    let routes = routes.display().to_string();
    let hook = "webhook:http://127.0.0.1:9/hook";
    let slack = "slack:http://127.0.0.1:9/services/T0/B0/x";
    // The key's base64 of 12 bytes: too short.
    let short = "whsec_c2hvcnQtc2VjcmV0";
    let cases: [(Vec<(&str, &str)>, &str); 4] = [
        (
            vec![("AML_NOTIFY_URL", hook), ("AML_NOTIFY_SECRET", short)],
            "AML_NOTIFY_SECRET is not a Standard Webhooks secret (whsec_ followed by the base64 of 24 to 64 random bytes): its key is 12 bytes long",
        ),
        (
            vec![
                ("AML_NOTIFY_URL", hook),
                ("AML_NOTIFY_SECRET", "a-password-not-a-secret"),
            ],
            "AML_NOTIFY_SECRET is not a Standard Webhooks secret (whsec_ followed by the base64 of 24 to 64 random bytes): it does not start with whsec_",
        ),
        (
            vec![("AML_NOTIFY_URL", slack), ("AML_NOTIFY_SECRET", SECRET)],
            "AML_NOTIFY_SECRET is set, but AML_NOTIFY_URL has no webhook target to sign",
        ),
        (
            vec![
                ("AML_ROUTES_FILE", routes.as_str()),
                ("CHAT", slack),
                ("CHAT_SECRET", SECRET),
            ],
            "routes.toml:3: targets.chat.secret: only webhook targets are signed (this one is slack",
        ),
    ];
    for (env, message) in cases {
        let output = command(&["serve", "--port", "0"], &env).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
        assert!(output.stdout.is_empty(), "no ready line");
        assert_no_secret(&[&stderr]);
        for value in ["c2hvcnQtc2VjcmV0", "a-password-not-a-secret"] {
            assert!(!stderr.contains(value), "{stderr}");
        }
    }
}
