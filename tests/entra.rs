//! Microsoft Entra ID on the webhook, end to end: the real `serve` with
//! `AML_WEBHOOK_ENTRA_*` set, a loopback authority publishing the tenant's keys, and tokens
//! minted with the tests' own RS256 key pairs (docs/entra.md). Each refusal is a 401 with
//! `WWW-Authenticate: Bearer` naming the check it failed; no keys at all is a 503; no token
//! ever shows in an answer or a log.

mod common;
#[path = "common/entra.rs"]
mod entra;

use common::{Server, client, fixture, refused_url};
use entra::{
    APP_ID_URI, Authority, CLIENT_ID, EVENT_GRID, KeyPair, OTHER_TENANT, TENANT, now, tampered,
    unsigned, v1_claims, v2_claims,
};
use serde_json::{Value, json};

const WEBHOOK: &str = "/runtime/webhooks/eventgrid";

/// What the webhook answered.
struct Answer {
    status: u16,
    body: Value,
    text: String,
    challenge: Option<String>,
}

/// POSTs `body` to the webhook with `headers`, and the token as a bearer token when given.
fn post(server: &Server, token: Option<&str>, headers: &[(&str, &str)], body: String) -> Answer {
    let mut request = client().post(server.at(WEBHOOK)).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|value| value.to_str().unwrap().to_owned());
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        text,
        challenge,
    }
}

const NOTIFICATION: (&str, &str) = ("aeg-event-type", "Notification");
const VALIDATION: (&str, &str) = ("aeg-event-type", "SubscriptionValidation");

/// A notification of one event, with `token`.
fn notify(server: &Server, token: Option<&str>) -> Answer {
    post(
        server,
        token,
        &[NOTIFICATION],
        fixture("event_grid/run_completed.json"),
    )
}

/// `serve` with the check on for `audience`, keys from `authority`, and `extra` settings.
fn serve(authority: &str, audience: &str, extra: &[(&str, &str)]) -> Server {
    let settings = entra::settings(authority, audience);
    let mut env: Vec<(&str, &str)> = settings
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    env.extend_from_slice(extra);
    Server::start(&env)
}

/// Asserts a 401 naming `check`, with a bearer challenge, and no token in the answer.
fn assert_refused(answer: &Answer, check: &str, token: Option<&str>, case: &str) {
    assert_eq!(answer.status, 401, "{case}: {}", answer.text);
    assert_eq!(answer.body["error"]["code"], "Unauthorized", "{case}");
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("Microsoft Entra ID token refused: {check}: ")),
        "{case}: the answer should name the check {check}: {message}"
    );
    let challenge = answer.challenge.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "{case}: WWW-Authenticate is {challenge:?}"
    );
    if let Some(token) = token {
        assert_no_token(&answer.text, token, case);
    }
}

/// Neither the token nor its signature shows in `text`.
fn assert_no_token(text: &str, token: &str, case: &str) {
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(
        !text.contains(token) && (signature.len() < 16 || !text.contains(signature)),
        "{case}: the token shows in {text}"
    );
}

#[test]
fn accepts_event_grid_tokens_of_both_versions_and_an_audience_as_id_or_uri() {
    // Arrange
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    let by_id = serve(authority.uri(), CLIENT_ID, &[]);
    let by_uri = serve(authority.uri(), APP_ID_URI, &[]);

    // Act
    let v1_for_id = notify(&by_id, Some(&key.sign(&v1_claims(CLIENT_ID))));
    let v2 = notify(&by_id, Some(&key.sign(&v2_claims(authority.uri()))));
    let v1_for_uri = notify(&by_uri, Some(&key.sign(&v1_claims(APP_ID_URI))));

    // Assert
    for (case, answer) in [
        ("v1.0, aud the client id", &v1_for_id),
        ("v2.0", &v2),
        ("v1.0, aud the application id URI", &v1_for_uri),
    ] {
        assert_eq!(answer.status, 200, "{case}: {}", answer.text);
        assert_eq!(answer.body["results"][0]["function"], "RunCompleted");
    }
    assert!(
        by_id.ready_line.contains(&format!(
            "webhook: Microsoft Entra ID (tenant {TENANT}, audience {CLIENT_ID}, caller {EVENT_GRID}, role AzureEventGridSecureWebhookSubscriber; 1 signing key)"
        )),
        "{}",
        by_id.ready_line
    );
}

// A GUID is the same GUID in either case; Entra writes a v2.0 token's `aud` (the client id) in
// lower case, so an audience set in upper case refused every delivery, which Event Grid
// dead-letters.
#[test]
fn a_guid_audience_matches_in_either_case() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    let upper = CLIENT_ID.to_ascii_uppercase();
    let server = serve(authority.uri(), &upper, &[]);

    let v2 = notify(&server, Some(&key.sign(&v2_claims(authority.uri()))));
    let v1_upper = notify(&server, Some(&key.sign(&v1_claims(&upper))));

    assert_eq!(v2.status, 200, "v2.0, aud in lower case: {}", v2.text);
    assert_eq!(
        v1_upper.status, 200,
        "v1.0, aud in upper case: {}",
        v1_upper.text
    );
    assert!(
        server
            .ready_line
            .contains(&format!("audience {CLIENT_ID},")),
        "{}",
        server.ready_line
    );
}

#[test]
fn refuses_each_failing_check_with_401_naming_it() {
    // Arrange
    let key = KeyPair::generate("key-1");
    let attacker = KeyPair::generate("key-attacker");
    let authority = Authority::publishing(&[&key]);
    let server = serve(authority.uri(), CLIENT_ID, &[("RUST_LOG", "debug")]);
    let v1 = || v1_claims(CLIENT_ID);
    let v2 = || v2_claims(authority.uri());
    let with = |mut claims: Value, change: &dyn Fn(&mut Value)| {
        change(&mut claims);
        claims
    };
    let now = now();
    let tokens = [
        (
            "expired",
            key.sign(&with(v1(), &|c| c["exp"] = (now - 75).into())),
            "exp",
        ),
        (
            "not yet valid",
            key.sign(&with(v1(), &|c| c["nbf"] = (now + 75).into())),
            "nbf",
        ),
        (
            "no nbf",
            key.sign(&with(v1(), &|c| {
                c.as_object_mut().unwrap().remove("nbf");
            })),
            "nbf",
        ),
        (
            "another audience",
            key.sign(&with(v1(), &|c| c["aud"] = "api://another-app".into())),
            "aud",
        ),
        (
            "another tenant",
            key.sign(&with(v1(), &|c| {
                c["iss"] = format!("https://sts.windows.net/{OTHER_TENANT}/").into()
            })),
            "iss",
        ),
        (
            "another authority",
            key.sign(&with(v2(), &|c| {
                c["iss"] = format!("https://login.microsoftonline.com/{TENANT}/v2.0").into()
            })),
            "iss",
        ),
        (
            "another caller (v1.0)",
            key.sign(&with(v1(), &|c| {
                c["appid"] = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c".into()
            })),
            "appid",
        ),
        (
            "another caller (v2.0)",
            key.sign(&with(v2(), &|c| {
                c["azp"] = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c".into()
            })),
            "azp",
        ),
        (
            "a v2.0 token naming its caller the v1.0 way",
            key.sign(&with(v2(), &|c| {
                let claims = c.as_object_mut().unwrap();
                claims.remove("azp");
                claims.insert("appid".into(), EVENT_GRID.into());
            })),
            "azp",
        ),
        (
            "no role",
            key.sign(&with(v1(), &|c| c["roles"] = json!(["Reader"]))),
            "roles",
        ),
        (
            "no roles claim",
            key.sign(&with(v1(), &|c| {
                c.as_object_mut().unwrap().remove("roles");
            })),
            "roles",
        ),
        ("alg none", unsigned(&key.kid, &v1()), "alg"),
        (
            "HS256 signed with the public key (algorithm confusion)",
            key.forge_hs256(&v1()),
            "alg",
        ),
        (
            "a tampered payload",
            tampered(&key.sign(&with(v1(), &|c| c["roles"] = json!([]))), |c| {
                c["roles"] = json!([entra::ROLE])
            }),
            "signature",
        ),
        (
            "signed by another key under the tenant's kid",
            attacker.sign_as(&key.kid, &v1()),
            "signature",
        ),
        (
            "a kid the tenant never published",
            attacker.sign(&v1()),
            "kid",
        ),
        (
            "another made-up kid",
            attacker.sign_as("made-up", &v1()),
            "kid",
        ),
        ("not a JWT", "not-a-token".to_owned(), "token"),
    ];

    // Act and Assert: each refused, naming its check.
    let answer = notify(&server, None);
    assert_refused(&answer, "token", None, "no Authorization header");
    assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
    let response = client()
        .post(server.at(WEBHOOK))
        .header("Authorization", format!("Basic {}", key.kid))
        .header(NOTIFICATION.0, NOTIFICATION.1)
        .body(fixture("event_grid/run_completed.json"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 401, "a Basic Authorization header");
    for (case, token, check) in &tokens {
        assert_refused(&notify(&server, Some(token)), check, Some(token), case);
    }
    // Within the 60 s leeway, and a good token after all the refusals.
    for (case, claims) in [
        (
            "expired 30 s ago",
            with(v1(), &|c| c["exp"] = (now - 30).into()),
        ),
        (
            "valid in 30 s",
            with(v1(), &|c| c["nbf"] = (now + 30).into()),
        ),
        ("good", v1()),
    ] {
        let answer = notify(&server, Some(&key.sign(&claims)));
        assert_eq!(answer.status, 200, "{case}: {}", answer.text);
    }

    // The start-up fetch, then one refresh for the unknown kids: the second made-up kid came
    // within five minutes of it.
    assert_eq!(authority.fetches(), 2);
    let logs = server.wait_for_log("Microsoft Entra ID token refused");
    for (case, token, _) in &tokens {
        assert_no_token(&logs, token, &format!("logs, {case}"));
    }
}

#[test]
fn answers_the_handshake_with_or_without_a_token_and_nothing_else() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    let server = serve(authority.uri(), CLIENT_ID, &[]);
    let validation = fixture("event_grid/subscription_validation.json");
    let forged = key.forge_hs256(&v1_claims(CLIENT_ID));

    for token in [None, Some(forged.as_str())] {
        let answer = post(&server, token, &[VALIDATION], validation.clone());
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(
            answer.body["validationResponse"],
            "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
        );
    }
    // Events need the token, whatever their body: malformed ones get 401, not 400.
    assert_refused(
        &notify(&server, None),
        "token",
        None,
        "events without a token",
    );
    let malformed = post(
        &server,
        None,
        &[NOTIFICATION],
        fixture("invalid/event_grid_missing_event_type.json"),
    );
    assert_refused(
        &malformed,
        "token",
        None,
        "a malformed body without a token",
    );
    let inferred = post(
        &server,
        None,
        &[],
        fixture("variants/event_grid_batch.json"),
    );
    assert_refused(&inferred, "token", None, "events without aeg-event-type");
}

// Without a token, events are refused before their body is read, as they are without the
// key: a client with no token made `serve` read 1 MiB and parse it before its 401.
#[test]
fn events_without_a_token_are_refused_before_their_body_is_read() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    let server = serve(authority.uri(), CLIENT_ID, &[]);
    let head = |authorization: &str| {
        let request = common::oversized_post(&server.url, WEBHOOK, 1024 * 1024, "[{\"id\": ");
        request.replacen(
            "\r\n",
            &format!("\r\naeg-event-type: Notification\r\n{authorization}"),
            1,
        )
    };

    // Only the head and the start of a 1 MiB body are sent: an answer means it was not read.
    for (case, authorization) in [
        ("no token", ""),
        (
            "not a bearer token",
            "Authorization: Basic dXNlcjpwYXNz\r\n",
        ),
        ("not a token", "Authorization: Bearer not-a-token\r\n"),
    ] {
        let answer = common::raw_exchange(&server.url, &head(authorization), "}}");
        assert!(answer.starts_with("HTTP/1.1 401"), "{case}: {answer}");
        assert!(
            answer.contains("Microsoft Entra ID token refused: token: "),
            "{case}: {answer}"
        );
    }
}

#[test]
fn follows_a_key_rotation_without_restart() {
    let old = KeyPair::generate("key-old");
    let new = KeyPair::generate("key-new");
    let authority = Authority::publishing(&[&old]);
    let server = serve(authority.uri(), CLIENT_ID, &[]);
    assert_eq!(
        notify(&server, Some(&old.sign(&v1_claims(CLIENT_ID)))).status,
        200
    );

    // Entra publishes a new key and signs with it.
    authority.publish(&[&old, &new]);
    let answer = notify(&server, Some(&new.sign(&v1_claims(CLIENT_ID))));

    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        notify(&server, Some(&old.sign(&v1_claims(CLIENT_ID)))).status,
        200
    );
    // One fetch since the new key was published (publishing forgets the fetches before).
    assert_eq!(authority.fetches(), 1);
}

#[test]
fn with_no_keys_at_all_answers_503_never_401() {
    // The authority refuses connections from the start.
    let (_reserved, authority) = refused_url();
    let key = KeyPair::generate("key-1");
    let server = serve(&authority, CLIENT_ID, &[]);
    assert!(
        server.ready_line.contains("no signing keys yet"),
        "{}",
        server.ready_line
    );

    for attempt in 0..2 {
        let answer = notify(&server, Some(&key.sign(&v1_claims(CLIENT_ID))));
        assert_eq!(answer.status, 503, "attempt {attempt}: {}", answer.text);
        assert_eq!(answer.body["error"]["code"], "Unavailable");
        assert_eq!(answer.challenge, None);
    }
    // No token at all is never a good delivery: that stays a 401.
    assert_refused(&notify(&server, None), "token", None, "no token, no keys");
    server.wait_for_log("could not fetch the Microsoft Entra signing keys");
}

// The key set is read up to 256 KiB: an authority (or what stands in its way) answering
// 400 MiB was read whole, into memory.
#[test]
fn a_key_set_over_256_kib_is_a_failed_fetch() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    authority.publish_padded(&[&key], 1024 * 1024);
    let server = serve(authority.uri(), CLIENT_ID, &[]);

    let answer = notify(&server, Some(&key.sign(&v1_claims(CLIENT_ID))));

    assert!(
        server.ready_line.contains("no signing keys yet"),
        "{}",
        server.ready_line
    );
    assert_eq!(answer.status, 503, "{}", answer.text);
    server.wait_for_log("answered more than 256 KiB");
}

#[test]
fn a_failed_start_up_fetch_is_retried_by_the_first_token() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    authority.fail_next(1);
    let server = serve(authority.uri(), CLIENT_ID, &[]);
    assert!(
        server.ready_line.contains("no signing keys yet"),
        "{}",
        server.ready_line
    );

    let answer = notify(&server, Some(&key.sign(&v2_claims(authority.uri()))));

    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(authority.fetches(), 2);
}

#[test]
fn keeps_the_last_keys_when_the_authority_goes_down() {
    let key = KeyPair::generate("key-1");
    let other = KeyPair::generate("key-2");
    let mut authority = Authority::publishing(&[&key]);
    let server = serve(authority.uri(), CLIENT_ID, &[]);
    assert_eq!(
        notify(&server, Some(&key.sign(&v1_claims(CLIENT_ID)))).status,
        200
    );

    authority.go_down();

    assert_eq!(
        notify(&server, Some(&key.sign(&v1_claims(CLIENT_ID)))).status,
        200
    );
    // An unknown kid sends for the keys, which fails; the keys fetched at start, less than
    // five minutes ago, say it is not the tenant's (the keys held are kept).
    assert_refused(
        &notify(&server, Some(&other.sign(&v1_claims(CLIENT_ID)))),
        "kid",
        None,
        "an unknown kid while the authority is down",
    );
    server.wait_for_log("the keys held are kept");
    assert_eq!(
        notify(&server, Some(&key.sign(&v1_claims(CLIENT_ID)))).status,
        200
    );
}

// Under the Functions host, Event Grid delivers to the host's own endpoint, and the host's
// invocations carry no token: the ready line said the token was checked all the same.
#[test]
fn under_the_functions_host_the_ready_line_says_the_token_is_checked_on_serves_webhook_only() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);

    let server = serve(
        authority.uri(),
        CLIENT_ID,
        &[("FUNCTIONS_CUSTOMHANDLER_PORT", "0")],
    );

    let line = &server.ready_line;
    assert!(
        line.contains("webhook: Microsoft Entra ID (tenant"),
        "{line}"
    );
    assert!(
        line.contains(
            "on serve's own /runtime/webhooks/eventgrid only, not on deliveries through the Functions host"
        ),
        "{line}"
    );
    server.wait_for_log("deliveries through the Functions host carry no token");
}

#[test]
fn with_a_key_too_both_are_required() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    let server = serve(
        authority.uri(),
        CLIENT_ID,
        &[("AML_WEBHOOK_KEY", "k3y-and-token")],
    );
    assert!(
        server
            .ready_line
            .contains("webhook: key (AML_WEBHOOK_KEY) and Microsoft Entra ID (tenant"),
        "{}",
        server.ready_line
    );
    let token = key.sign(&v1_claims(CLIENT_ID));
    let with_key = [NOTIFICATION, ("x-functions-key", "k3y-and-token")];
    let body = || fixture("event_grid/run_completed.json");

    let token_only = post(&server, Some(&token), &[NOTIFICATION], body());
    let key_only = post(&server, None, &with_key, body());
    let both = post(&server, Some(&token), &with_key, body());

    assert_eq!(token_only.status, 401);
    assert!(
        token_only.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AML_WEBHOOK_KEY"),
        "{}",
        token_only.text
    );
    assert_refused(&key_only, "token", None, "the key without a token");
    assert_eq!(both.status, 200, "{}", both.text);
}

#[test]
fn entra_alone_lets_serve_listen_beyond_loopback() {
    let key = KeyPair::generate("key-1");
    let authority = Authority::publishing(&[&key]);
    let settings = entra::settings(authority.uri(), CLIENT_ID);
    let env: Vec<(&str, &str)> = settings
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();

    let server = Server::start_with(&["serve", "--bind", "0.0.0.0", "--port", "0"], &env);

    let server_url = server.url.replace("0.0.0.0", "127.0.0.1");
    let response = client()
        .post(format!("{server_url}{WEBHOOK}"))
        .header(NOTIFICATION.0, NOTIFICATION.1)
        .body(fixture("event_grid/run_completed.json"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
}
