//! A stand-in for Microsoft Entra ID, for the tests of the webhook's token check: RS256 key
//! pairs made by the openssl CLI, the tenant's JSON Web Key Set served on loopback by wiremock,
//! and tokens minted the way Entra mints Event Grid's (v1.0 and v2.0 claims), or forged.
//!
//! Included with `#[path]` by the tests that need it (tests/entra.rs, tests/lambda_bootstrap.rs).
//! See <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::Write,
    process::{Command, Stdio},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

/// The tenant whose tokens the webhook accepts.
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Another tenant.
pub const OTHER_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
/// The webhook app's client id.
pub const CLIENT_ID: &str = "0b9c2f4e-6d1a-4c3b-8e7f-5a4d3c2b1a09";
/// The webhook app's application id URI.
pub const APP_ID_URI: &str = "api://aml-handlers-tests";
/// Event Grid's application id in Azure's public cloud.
pub const EVENT_GRID: &str = "4962773b-9cdb-44cf-a8bf-237846a00ab7";
/// The role Event Grid's service principal is assigned.
pub const ROLE: &str = "AzureEventGridSecureWebhookSubscriber";

/// An RSA key pair and the `kid` it is published under.
pub struct KeyPair {
    pub kid: String,
    private: EncodingKey,
    /// The public key, PEM: what an attacker has.
    pub public_pem: Vec<u8>,
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI makes the tests' key pairs: install openssl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

impl KeyPair {
    /// A new 2048-bit key pair, published as `kid`.
    pub fn generate(kid: &str) -> KeyPair {
        let private_pem = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            b"",
        );
        let public_pem = openssl(&["pkey", "-pubout"], &private_pem);
        KeyPair {
            kid: kid.to_owned(),
            private: EncodingKey::from_rsa_pem(&private_pem).expect("an RSA private key"),
            public_pem,
        }
    }

    /// The public key as Entra publishes it: RSA, for signatures, with `kid` and `x5t`.
    pub fn jwk(&self) -> Value {
        let jwk = Jwk::from_encoding_key(&self.private, Algorithm::RS256).unwrap();
        let mut jwk = serde_json::to_value(jwk).unwrap();
        let fields = jwk.as_object_mut().unwrap();
        fields.remove("alg");
        fields.insert("kid".into(), self.kid.clone().into());
        fields.insert("x5t".into(), self.kid.clone().into());
        fields.insert("use".into(), "sig".into());
        jwk
    }

    /// `claims` signed with RS256, the header naming this key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid.clone(), claims)
    }

    /// `claims` signed with RS256 by this key, the header naming `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.private).unwrap()
    }

    /// The algorithm-confusion attack: `claims` signed with HS256 using this key's public PEM
    /// as the HMAC secret, the header naming this key.
    pub fn forge_hs256(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(&self.public_pem).unwrap(),
        )
        .unwrap()
    }
}

/// An unsigned token (`alg` `none`) naming `kid`.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        part(claims)
    )
}

/// `token` with its payload changed by `change`, the header and signature kept.
pub fn tampered(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    change(&mut claims);
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    )
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A v1.0 access token's claims as Entra issues them to Event Grid for `audience`.
pub fn v1_claims(audience: &str) -> Value {
    let now = now();
    json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "aio": "E2ZgYJj7",
        "appid": EVENT_GRID,
        "appidacr": "2",
        "idp": format!("https://sts.windows.net/{TENANT}/"),
        "oid": "a3c0f2d1-0e4b-4b8c-9f3e-2d1c0b9a8f7e",
        "roles": [ROLE],
        "sub": "a3c0f2d1-0e4b-4b8c-9f3e-2d1c0b9a8f7e",
        "tid": TENANT,
        "ver": "1.0"
    })
}

/// A v2.0 access token's claims, issued by `authority`, for the app's client id.
pub fn v2_claims(authority: &str) -> Value {
    let now = now();
    json!({
        "aud": CLIENT_ID,
        "iss": format!("{authority}/{TENANT}/v2.0"),
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "azp": EVENT_GRID,
        "azpacr": "2",
        "oid": "a3c0f2d1-0e4b-4b8c-9f3e-2d1c0b9a8f7e",
        "roles": [ROLE],
        "sub": "a3c0f2d1-0e4b-4b8c-9f3e-2d1c0b9a8f7e",
        "tid": TENANT,
        "ver": "2.0"
    })
}

/// The settings that turn the check on for `audience`, with keys from `authority`.
pub fn settings(authority: &str, audience: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AML_WEBHOOK_ENTRA_TENANT", TENANT.to_owned()),
        ("AML_WEBHOOK_ENTRA_AUDIENCE", audience.to_owned()),
        ("AZURE_AUTHORITY_HOST", authority.to_owned()),
    ]
}

/// The tenant's key URL path.
pub fn keys_path() -> String {
    format!("/{TENANT}/discovery/v2.0/keys")
}

/// A loopback Entra authority serving the tenant's keys, on its own runtime so that blocking
/// tests can drive it.
pub struct Authority {
    runtime: tokio::runtime::Runtime,
    server: Option<MockServer>,
    uri: String,
}

impl Authority {
    /// An authority publishing `keys`.
    pub fn publishing(keys: &[&KeyPair]) -> Authority {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Its own server, not one from wiremock's pool: dropping it must close its port.
        let server = runtime.block_on(MockServer::builder().start());
        let uri = server.uri();
        let authority = Authority {
            runtime,
            server: Some(server),
            uri,
        };
        authority.publish(keys);
        authority
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn server(&self) -> &MockServer {
        self.server.as_ref().expect("the authority is up")
    }

    /// Publishes `keys` instead of what was published before (a key rotation).
    pub fn publish(&self, keys: &[&KeyPair]) {
        self.publish_padded(keys, 0);
    }

    /// Publishes `keys` in a key set made `padding` bytes longer by a member of its own,
    /// with a `Content-Length`.
    pub fn publish_padded(&self, keys: &[&KeyPair], padding: usize) {
        let mut body = json!({"keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>()});
        if padding > 0 {
            body["padding"] = "x".repeat(padding).into();
        }
        self.runtime.block_on(async {
            self.server().reset().await;
            Mock::given(method("GET"))
                .and(path(keys_path()))
                .respond_with(ResponseTemplate::new(200).set_body_json(body))
                .mount(self.server())
                .await;
        });
    }

    /// Answers 503 to the next `times` fetches, then what is published.
    pub fn fail_next(&self, times: u64) {
        self.runtime.block_on(
            Mock::given(method("GET"))
                .and(path(keys_path()))
                .respond_with(ResponseTemplate::new(503))
                .up_to_n_times(times)
                .with_priority(1)
                .mount(self.server()),
        );
    }

    /// How many times the keys were fetched.
    pub fn fetches(&self) -> usize {
        self.runtime
            .block_on(self.server().received_requests())
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path() == keys_path())
            .count()
    }

    /// Stops answering: connections to it are refused from now on.
    pub fn go_down(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(async move { drop(server) });
        }
    }
}
