//! The tenant's signing keys, fetched from its JSON Web Key Set and kept: asked for once at
//! start, again when they are a day old or a token names a key they lack (at most once per
//! five minutes, so that tokens with made-up `kid`s cannot hammer the authority), and kept
//! through a failed refresh, so that an authority that goes down later stops nothing.
//!
//! Our own, and small: the crates that cache a JWKS come inside an OpenID client or a web
//! framework's middleware, or bring their own `jsonwebtoken`, and none tells "not this token's
//! key", said by keys fetched in the last five minutes (401), from "no keys to tell by": none
//! at all, or none fetched since (answered 503, so that Event Grid retries), which is the
//! distinction the webhook's answers rest on.
//!
//! It does not check tokens ([`super::token`] does), it keeps RSA signing keys only, and it
//! reads no key set longer than 256 KiB.
//! See <https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use jsonwebtoken::{
    DecodingKey,
    jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse},
};
use serde::Deserialize;
use tokio::time::Instant;
use tracing::{info, warn};

/// Keys this old are fetched again before use (the old ones kept if that fails).
const REFRESH_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
/// The least time between two fetches after the first.
const MIN_GAP: Duration = Duration::from_secs(5 * 60);
/// A fetch blocks the deliveries that need it: bound it well inside their deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Entra publishes a handful of keys; more than this is not a key set to trust whole.
const MAX_KEYS: usize = 64;
/// Entra's key set is a few KiB: a longer answer is refused, and not read past this.
const MAX_KEY_SET_BYTES: usize = 256 * 1024;

/// What the cache holds for a `kid`.
#[derive(Debug)]
pub(super) enum Lookup {
    /// The key to verify with.
    Found(DecodingKey),
    /// There are keys, fetched in the last five minutes, but not this one.
    Unknown,
    /// There are keys, but not this one, and none fetched in the last five minutes: the
    /// authority could not be asked for it (a failed fetch, or one less than five minutes ago).
    NotRechecked,
    /// No key was ever fetched.
    NoKeys,
}

/// Why the keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error("no HTTP client could be built")]
    NoClient,
    #[error("request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered no JSON Web Key Set")]
    Body {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url} answered more than {} KiB, which is no key set", MAX_KEY_SET_BYTES / 1024)]
    TooLarge { url: String },
    #[error("{url} answered no RSA signing key with a kid")]
    NoSigningKey { url: String },
}

/// The keys of one fetch, and when they came.
struct KeySet {
    keys: HashMap<String, DecodingKey>,
    fetched: Instant,
}

/// When the authority may be asked again. The first fetch (at start) is free; each later one
/// waits [`MIN_GAP`] after the one before.
#[derive(Debug, Default)]
struct Schedule {
    asked_once: bool,
    last: Option<Instant>,
}

impl Schedule {
    fn may_fetch(&self, now: Instant) -> bool {
        match (self.asked_once, self.last) {
            (false, _) | (true, None) => true,
            (true, Some(last)) => now.saturating_duration_since(last) >= MIN_GAP,
        }
    }

    fn record(&mut self, now: Instant) {
        if self.asked_once {
            self.last = Some(now);
        } else {
            self.asked_once = true;
        }
    }
}

/// The tenant's signing keys, by `kid`.
pub(super) struct KeyCache {
    url: String,
    http: Option<reqwest::Client>,
    current: RwLock<Option<Arc<KeySet>>>,
    schedule: tokio::sync::Mutex<Schedule>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("url", &self.url)
            .field("keys", &self.count())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache of the keys at `url`; nothing is fetched yet.
    pub(super) fn new(url: String) -> Self {
        // Keys must come from the authority named, never from wherever it redirects.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("aml-handlers/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok();
        KeyCache {
            url,
            http,
            current: RwLock::new(None),
            schedule: tokio::sync::Mutex::new(Schedule::default()),
        }
    }

    /// The start-up fetch: the keys now, or why not (the failure is logged). Free of the
    /// five-minute limit, like the first fetch for a token when it was never called.
    pub(super) async fn start(&self) -> Result<usize, FetchError> {
        let mut schedule = self.schedule.lock().await;
        let now = Instant::now();
        schedule.record(now);
        self.refresh(now).await
    }

    /// How many keys are held.
    pub(super) fn count(&self) -> usize {
        self.snapshot().map_or(0, |set| set.keys.len())
    }

    /// The key named `kid`: from the keys held when they have it and are less than a day old;
    /// else after asking the authority, when the schedule allows.
    pub(super) async fn key(&self, kid: &str) -> Lookup {
        self.key_at(kid, Instant::now()).await
    }

    /// [`KeyCache::key`] at `now`.
    async fn key_at(&self, kid: &str, now: Instant) -> Lookup {
        if let Some(key) = self.usable(kid, now) {
            return Lookup::Found(key);
        }
        {
            let mut schedule = self.schedule.lock().await;
            // Another delivery may have fetched while this one waited for its turn.
            if self.usable(kid, now).is_none() && schedule.may_fetch(now) {
                schedule.record(now);
                // A failure is logged and the keys held are kept: the lookup below says the rest.
                let _ = self.refresh(now).await;
            }
        }
        match self.snapshot() {
            None => Lookup::NoKeys,
            Some(set) => match set.keys.get(kid) {
                Some(key) => Lookup::Found(key.clone()),
                // A key set read less than five minutes ago without it says the key is not the
                // tenant's: Entra keeps more than one valid key published, and only an emergency
                // rollover signs with a new one at once (refused for at most five minutes).
                // See <https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>.
                None if now.saturating_duration_since(set.fetched) < MIN_GAP => Lookup::Unknown,
                None => Lookup::NotRechecked,
            },
        }
    }

    /// The key named `kid` when it is held and the keys are less than a day old.
    fn usable(&self, kid: &str, now: Instant) -> Option<DecodingKey> {
        let set = self.snapshot()?;
        if now.saturating_duration_since(set.fetched) >= REFRESH_EVERY {
            return None;
        }
        set.keys.get(kid).cloned()
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Fetches the keys; replaces those held only with a set that has at least one key.
    async fn refresh(&self, now: Instant) -> Result<usize, FetchError> {
        match self.fetch().await {
            Ok(keys) => {
                let count = keys.len();
                let set = Arc::new(KeySet { keys, fetched: now });
                match self.current.write() {
                    Ok(mut current) => *current = Some(set),
                    Err(poisoned) => *poisoned.into_inner() = Some(set),
                }
                info!(keys = count, url = %self.url, "Microsoft Entra signing keys fetched");
                Ok(count)
            }
            Err(err) => {
                warn!(
                    error = %aml_events::chain(&err),
                    kept = self.count(),
                    "could not fetch the Microsoft Entra signing keys; the keys held are kept"
                );
                Err(err)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, FetchError> {
        let url = &self.url;
        let http = self.http.as_ref().ok_or(FetchError::NoClient)?;
        let transport = |source| FetchError::Transport {
            url: url.clone(),
            source,
        };
        let mut response = http.get(url).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
            });
        }
        let too_large = || FetchError::TooLarge { url: url.clone() };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_KEY_SET_BYTES as u64)
        {
            return Err(too_large());
        }
        // The length may be unsaid or wrong: the body is read a chunk at a time, up to the cap.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_KEY_SET_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let keys = signing_keys(&body).map_err(|source| FetchError::Body {
            url: url.clone(),
            source,
        })?;
        if keys.is_empty() {
            return Err(FetchError::NoSigningKey { url: url.clone() });
        }
        Ok(keys)
    }
}

/// A JSON Web Key Set as far as it is read: a list of keys, each read on its own so that one
/// of a kind this crate does not know spoils nothing.
#[derive(Deserialize)]
struct KeySetDocument {
    keys: Vec<serde_json::Value>,
}

/// The RSA signing keys of a JSON Web Key Set, by `kid`.
fn signing_keys(body: &[u8]) -> Result<HashMap<String, DecodingKey>, serde_json::Error> {
    let document: KeySetDocument = serde_json::from_slice(body)?;
    Ok(document
        .keys
        .into_iter()
        .filter_map(|value| rsa_signing_key(&serde_json::from_value(value).ok()?))
        .take(MAX_KEYS)
        .collect())
}

/// `jwk` as a key to verify RS256 signatures with, when it is one: RSA, named by a `kid`, for
/// signatures (or for no stated use), for RS256 (or no stated algorithm).
fn rsa_signing_key(jwk: &Jwk) -> Option<(String, DecodingKey)> {
    let kid = jwk.common.key_id.clone()?;
    let for_signing = matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    let for_rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
    if !(for_signing && for_rs256 && matches!(jwk.algorithm, AlgorithmParameters::RSA(_))) {
        return None;
    }
    Some((kid, DecodingKey::from_jwk(jwk).ok()?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };

    use super::*;

    #[test]
    fn the_first_fetch_is_free_and_later_ones_wait_five_minutes() {
        let start = Instant::now();
        let mut schedule = Schedule::default();
        assert!(schedule.may_fetch(start));
        schedule.record(start);
        // The start-up fetch failed or found no key: the first token may still ask.
        assert!(schedule.may_fetch(start));
        schedule.record(start);
        assert!(!schedule.may_fetch(start + Duration::from_secs(299)));
        assert!(schedule.may_fetch(start + MIN_GAP));
    }

    /// Makes `authority` publish a key set of `kids` (RSA keys whose made-up components
    /// suffice: a decoding key is built from them as given), or answer 503 when `None`.
    async fn publish(authority: &MockServer, kids: Option<&[&str]>) {
        authority.reset().await;
        let answer = match kids {
            Some(kids) => {
                let keys: Vec<_> = kids
                    .iter()
                    .map(|kid| json!({"kty": "RSA", "kid": kid, "n": "sXch", "e": "AQAB"}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({ "keys": keys }))
            }
            None => ResponseTemplate::new(503),
        };
        Mock::given(method("GET"))
            .and(path("/keys"))
            .respond_with(answer)
            .mount(authority)
            .await;
    }

    fn minutes(count: u64) -> Duration {
        Duration::from_secs(count * 60)
    }

    // A new key (a rollover) is named by tokens before the authority can be asked for it:
    // answered 401, Event Grid dead-lettered good deliveries. See docs/entra.md.
    #[tokio::test]
    async fn a_kid_not_held_while_the_keys_cannot_be_checked_again_is_not_called_unknown() {
        // Arrange: the keys fetched at start, then the authority down.
        let authority = MockServer::start().await;
        publish(&authority, Some(&["k1"])).await;
        let cache = KeyCache::new(format!("{}/keys", authority.uri()));
        let start = Instant::now();
        assert_eq!(cache.start().await.unwrap(), 1);
        publish(&authority, None).await;

        // Act and Assert: no key set fetched in the last five minutes has been read for it.
        let down = cache.key_at("k2", start + minutes(6)).await;
        assert!(matches!(down, Lookup::NotRechecked), "{down:?}");
        let skipped = cache.key_at("k2", start + minutes(7)).await;
        assert!(matches!(skipped, Lookup::NotRechecked), "{skipped:?}");
        assert_eq!(authority.received_requests().await.unwrap().len(), 1);
        assert!(matches!(
            cache.key_at("k1", start + minutes(7)).await,
            Lookup::Found(_)
        ));

        // The authority is back, with the new key: found once the limit lets it be asked.
        publish(&authority, Some(&["k1", "k2"])).await;
        let within_limit = cache.key_at("k2", start + minutes(10)).await;
        assert!(
            matches!(within_limit, Lookup::NotRechecked),
            "{within_limit:?}"
        );
        let after_limit = cache.key_at("k2", start + minutes(11)).await;
        assert!(matches!(after_limit, Lookup::Found(_)), "{after_limit:?}");
    }

    #[tokio::test]
    async fn a_kid_missing_from_keys_fetched_in_the_last_five_minutes_is_unknown() {
        // Arrange
        let authority = MockServer::start().await;
        publish(&authority, Some(&["k1"])).await;
        let cache = KeyCache::new(format!("{}/keys", authority.uri()));
        let start = Instant::now();
        cache.start().await.unwrap();

        // Act and Assert: a made-up kid right after the start-up fetch asks again, and
        // the next one within five minutes of that does not.
        let second = Duration::from_secs(1);
        let asked = cache.key_at("made-up", start + second).await;
        assert!(matches!(asked, Lookup::Unknown), "{asked:?}");
        let not_asked = cache.key_at("made-up-2", start + 2 * second).await;
        assert!(matches!(not_asked, Lookup::Unknown), "{not_asked:?}");
        assert_eq!(authority.received_requests().await.unwrap().len(), 2);

        // The authority goes down: the keys read at start + 1 s still say for five minutes.
        publish(&authority, None).await;
        let fresh = cache.key_at("made-up-3", start + minutes(5)).await;
        assert!(matches!(fresh, Lookup::Unknown), "{fresh:?}");
        let stale = cache
            .key_at("made-up-3", start + minutes(5) + 2 * second)
            .await;
        assert!(matches!(stale, Lookup::NotRechecked), "{stale:?}");
    }

    #[test]
    fn keeps_rsa_signing_keys_with_a_kid_and_nothing_else() {
        // n and e of a real 2048-bit key are not needed to tell kinds apart: the decoding key
        // is built from the components as given.
        let rsa = |extra: serde_json::Value| {
            let mut key = json!({"kty": "RSA", "n": "sXch", "e": "AQAB"});
            key.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            key
        };
        let document = json!({"keys": [
            rsa(json!({"kid": "entra", "use": "sig", "x5t": "entra", "x5c": ["MIIC"], "issuer": "https://login.microsoftonline.com/t/v2.0"})),
            rsa(json!({"kid": "plain"})),
            rsa(json!({"kid": "rs256", "alg": "RS256"})),
            rsa(json!({})),
            rsa(json!({"kid": "encryption", "use": "enc"})),
            rsa(json!({"kid": "ps256", "alg": "PS256"})),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "future-kind", "kid": "future"},
        ]});
        let keys = signing_keys(document.to_string().as_bytes()).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["entra", "plain", "rs256"]);
    }

    /// A loopback authority that answers one request with a key set of `size` bytes (one key
    /// and padding), sent in chunks without a `Content-Length`; its URL.
    async fn chunked_authority(size: usize) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/keys", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            let start =
                r#"{"keys": [{"kty": "RSA", "kid": "k1", "n": "sXch", "e": "AQAB"}], "padding": ""#;
            let body = format!("{start}{}\"}}", "x".repeat(size - start.len() - 2));
            let mut answer =
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    .to_vec();
            for chunk in body.as_bytes().chunks(16 * 1024) {
                answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                answer.extend_from_slice(chunk);
                answer.extend_from_slice(b"\r\n");
            }
            answer.extend_from_slice(b"0\r\n\r\n");
            // The cache may stop reading part way: what is not read is not written.
            let _ = stream.write_all(&answer).await;
        });
        url
    }

    #[tokio::test]
    async fn a_key_set_is_read_up_to_256_kib() {
        let small = KeyCache::new(chunked_authority(64 * 1024).await);
        assert_eq!(small.start().await.unwrap(), 1);

        let huge = KeyCache::new(chunked_authority(1024 * 1024).await);
        let refused = huge
            .start()
            .await
            .expect_err("a key set over 256 KiB is refused");

        assert!(refused.to_string().contains("256 KiB"), "{refused}");
        assert_eq!(huge.count(), 0);
    }

    #[test]
    fn a_body_without_keys_is_no_key_set() {
        assert!(signing_keys(b"{\"error\": \"invalid_tenant\"}").is_err());
        assert!(signing_keys(b"<html>").is_err());
    }
}
