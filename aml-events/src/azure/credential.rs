//! Where Azure tokens come from (docs/actions.md): the [`TokenSource`] seam, the two credentials
//! the handlers use, and [`CachedTokenSource`], which keeps one token per scope and shares one
//! fetch among concurrent callers.
//!
//! # Layout
//! - [`TokenSource`]: one method, `token(scope)`, returning a boxed future; tests and users can
//!   plug in their own.
//! - [`ManagedIdentityCredential`]: App Service / Functions managed identity
//!   (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, optional user-assigned `AZURE_CLIENT_ID`).
//! - [`ClientSecretCredential`]: a service principal's client-credentials grant against the
//!   Microsoft Entra v2 token endpoint (`AZURE_AUTHORITY_HOST`).
//! - [`CachedTokenSource`]: caching and refresh ahead of expiry for any source.
//!
//! # Why not `azure_identity`
//! Azure's official crate was checked (1.0.0 and 1.1.0-beta.1) and not used. Its
//! `ManagedIdentityCredential` reads `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` from the process
//! environment itself (the override is test-only inside that crate), so a test could point it at
//! a loopback mock only by mutating the environment, which is `unsafe` in edition 2024 (this
//! workspace forbids `unsafe`) and races between parallel tests; its `ClientSecretCredential`
//! refuses any authority that is not https, so it cannot talk to a plain-http loopback mock
//! either. It would also bring `azure_core` and `typespec_client_core`: a second HTTP pipeline,
//! with its own retry and logging policies, beside this client's own, in a
//! binary that must start in under 10 ms. Both flows are a single HTTP request each, so they are implemented here with reqwest (rustls) behind
//! [`TokenSource`], which remains the seam should `azure_identity` become a fit.
//!
//! This module does not choose a credential from the environment: the settings layer reads
//! the variables once and passes values in (no credentials means dry-run, decided there).

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use futures_util::future::{FutureExt, Shared};
use reqwest::header::HeaderValue;
use serde_json::Value;
use url::Url;

// Defined with the client's other errors; still reachable here too.
pub use super::error::CredentialError;
use super::{
    error::ClientError,
    lenient,
    settings::{AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, IDENTITY_ENDPOINT, IDENTITY_HEADER},
    token_url::require_token_url,
};
use crate::{
    Secret,
    redact::{self, Show},
};

/// The scope of Azure Resource Manager tokens in the public cloud; ARM tokens also serve the
/// Azure ML regional API.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// The future [`TokenSource::token`] returns.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<AccessToken, CredentialError>> + Send + 'a>>;

/// Anything that can produce a bearer token for a scope. Implementations should not cache:
/// [`CachedTokenSource`] (which [`super::AmlClient`] always wraps around its credential) does.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token for `scope` (e.g. [`ARM_SCOPE`]).
    fn token<'a>(&'a self, scope: &'a str) -> TokenFuture<'a>;
}

/// A bearer token and when it stops working. `Debug` shows only the expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token; [`Secret`] keeps it out of logs.
    pub token: Secret,
    /// When Azure stops accepting it.
    pub expires_at: SystemTime,
}

impl AccessToken {
    /// A token valid until `expires_at`.
    pub fn new(token: Secret, expires_at: SystemTime) -> Self {
        AccessToken { token, expires_at }
    }

    /// Whether the token expires within `margin` of `now` (or already has).
    pub fn expires_within(&self, margin: Duration, now: SystemTime) -> bool {
        now.checked_add(margin)
            .is_none_or(|limit| self.expires_at <= limit)
    }
}

/// A token endpoint's error detail is cut to this many characters (after redaction).
const MAX_DETAIL_CHARS: usize = 300;

/// Token endpoints answer within a second or two; these bound a hung one. The client's
/// deadline bounds the whole call regardless.
const TOKEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for token endpoints. It follows no redirect: the identity header and the
/// client secret must reach the configured endpoint and nothing else (reqwest strips only
/// `Authorization` and cookies on cross-origin redirects).
fn token_http_client() -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(TOKEN_CONNECT_TIMEOUT)
        .timeout(TOKEN_REQUEST_TIMEOUT)
        .build()
        .map_err(ClientError::Http)
}

/// The App Service / Azure Functions managed identity.
///
/// `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]` with
/// header `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; the answer's `expires_on` is epoch seconds as
/// a string (a number is accepted too).
/// See <https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>.
pub struct ManagedIdentityCredential {
    endpoint: Url,
    header: Secret,
    client_id: Option<String>,
    http: reqwest::Client,
}

const IDENTITY_API_VERSION: &str = "2019-08-01";

impl ManagedIdentityCredential {
    /// From `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` and, for a user-assigned identity,
    /// `AZURE_CLIENT_ID`. Refuses a plain-http endpoint that is not loopback (App Service's is
    /// `http://127.0.0.1:.../msi/token` or `http://localhost:...`).
    pub fn new(
        endpoint: Url,
        header: Secret,
        client_id: Option<String>,
    ) -> Result<Self, ClientError> {
        require_token_url(IDENTITY_ENDPOINT, &endpoint)?;
        if HeaderValue::from_str(header.expose()).is_err() {
            return Err(ClientError::InvalidSetting {
                setting: IDENTITY_HEADER,
                problem: "not a valid HTTP header value",
            });
        }
        Ok(ManagedIdentityCredential {
            endpoint,
            header,
            client_id: client_id.filter(|id| !id.is_empty()),
            http: token_http_client()?,
        })
    }

    async fn fetch(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        let endpoint = redact::url(&self.endpoint, Show::Path);
        let mut url = self.endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("api-version", IDENTITY_API_VERSION)
                .append_pair("resource", resource_of(scope));
            if let Some(client_id) = &self.client_id {
                query.append_pair("client_id", client_id);
            }
        }
        let mut header = HeaderValue::from_str(self.header.expose()).map_err(|_| {
            CredentialError::Malformed {
                endpoint: endpoint.clone(),
                problem: "IDENTITY_HEADER is not a valid header value",
            }
        })?;
        header.set_sensitive(true);
        let request = self.http.get(url).header("x-identity-header", header);
        let body = send(request, &endpoint, &[self.header.expose()]).await?;
        let token = token_text(&body, &endpoint)?;
        let expires_at = match lenient::string(&body, "expires_on") {
            Some(text) => epoch(&text, &endpoint)?,
            None => from_now(&body, &endpoint)?,
        };
        Ok(AccessToken::new(token, expires_at))
    }
}

impl TokenSource for ManagedIdentityCredential {
    fn token<'a>(&'a self, scope: &'a str) -> TokenFuture<'a> {
        Box::pin(self.fetch(scope))
    }
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityCredential")
            .field("endpoint", &redact::url(&self.endpoint, Show::Path))
            .field("header", &self.header)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A service principal with a client secret: the OAuth 2.0 client-credentials grant,
/// `POST {authority}/{tenant}/oauth2/v2.0/token` with a form body; the answer's `expires_in`
/// is seconds from now.
/// See <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>.
pub struct ClientSecretCredential {
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    http: reqwest::Client,
}

impl ClientSecretCredential {
    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and
    /// `AZURE_AUTHORITY_HOST` (`https://login.microsoftonline.com` in the public cloud).
    /// Refuses a plain-http authority that is not loopback.
    pub fn new(
        tenant_id: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        authority_host: Url,
    ) -> Result<Self, ClientError> {
        require_token_url(AZURE_AUTHORITY_HOST, &authority_host)?;
        if tenant_id.is_empty() || matches!(tenant_id, "." | "..") {
            return Err(ClientError::InvalidSetting {
                setting: AZURE_TENANT_ID,
                problem: "not a tenant id or domain",
            });
        }
        let mut token_url = authority_host;
        token_url.set_query(None);
        token_url.set_fragment(None);
        token_url
            .path_segments_mut()
            .map_err(|()| ClientError::InvalidSetting {
                setting: AZURE_AUTHORITY_HOST,
                problem: "not a base URL",
            })?
            .pop_if_empty()
            .extend([tenant_id, "oauth2", "v2.0", "token"]);
        Ok(ClientSecretCredential {
            token_url,
            client_id: client_id.into(),
            client_secret,
            http: token_http_client()?,
        })
    }

    async fn fetch(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        let endpoint = redact::url(&self.token_url, Show::Path);
        let request = self.http.post(self.token_url.clone()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose()),
            ("scope", scope),
        ]);
        let body = send(request, &endpoint, &[self.client_secret.expose()]).await?;
        let token = token_text(&body, &endpoint)?;
        Ok(AccessToken::new(token, from_now(&body, &endpoint)?))
    }
}

impl TokenSource for ClientSecretCredential {
    fn token<'a>(&'a self, scope: &'a str) -> TokenFuture<'a> {
        Box::pin(self.fetch(scope))
    }
}

impl fmt::Debug for ClientSecretCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecretCredential")
            .field("token_url", &redact::url(&self.token_url, Show::Path))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

/// `https://management.azure.com/.default` -> `https://management.azure.com/`: the managed
/// identity endpoint takes a resource, not a v2 scope.
fn resource_of(scope: &str) -> &str {
    scope
        .strip_suffix(".default")
        .filter(|resource| resource.ends_with('/'))
        .unwrap_or(scope)
}

/// Sends a token request and reads its JSON answer; error bodies become a short detail with
/// every `secrets` value blanked out.
async fn send(
    request: reqwest::RequestBuilder,
    endpoint: &str,
    secrets: &[&str],
) -> Result<Value, CredentialError> {
    let transport = |source: reqwest::Error| CredentialError::Transport {
        endpoint: endpoint.to_owned(),
        source: Arc::new(source.without_url()),
    };
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(CredentialError::Status {
            endpoint: endpoint.to_owned(),
            status: status.as_u16(),
            detail: error_detail(&body, secrets),
        });
    }
    serde_json::from_slice(&body).map_err(|_| CredentialError::Malformed {
        endpoint: endpoint.to_owned(),
        problem: "the body is not JSON",
    })
}

/// `error: error_description` (Entra) or `message` (managed identity), with every `secrets`
/// value masked *before* it is cut to 300 characters, so that a secret straddling the cut
/// leaves nothing behind.
fn error_detail(body: &[u8], secrets: &[&str]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = lenient::string(&value, "error")
        .or_else(|| lenient::get(&value, "error").and_then(|e| lenient::string(e, "code")));
    let description = lenient::string(&value, "error_description")
        .or_else(|| lenient::string(&value, "message"))
        .or_else(|| lenient::get(&value, "error").and_then(|e| lenient::string(e, "message")));
    let detail = match (code, description) {
        (Some(code), Some(description)) => format!("{code}: {description}"),
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => return None,
    };
    Some(redact::text(&detail, secrets, MAX_DETAIL_CHARS))
}

fn token_text(body: &Value, endpoint: &str) -> Result<Secret, CredentialError> {
    lenient::get(body, "access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .map(Secret::new)
        .ok_or_else(|| CredentialError::Malformed {
            endpoint: endpoint.to_owned(),
            problem: "no access_token",
        })
}

fn epoch(text: &str, endpoint: &str) -> Result<SystemTime, CredentialError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .and_then(|seconds| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds)))
        .ok_or_else(|| CredentialError::Malformed {
            endpoint: endpoint.to_owned(),
            problem: "expires_on is not epoch seconds",
        })
}

fn from_now(body: &Value, endpoint: &str) -> Result<SystemTime, CredentialError> {
    lenient::string(body, "expires_in")
        .and_then(|text| text.trim().parse::<u64>().ok())
        .and_then(|seconds| SystemTime::now().checked_add(Duration::from_secs(seconds)))
        .ok_or_else(|| CredentialError::Malformed {
            endpoint: endpoint.to_owned(),
            problem: "neither expires_on nor expires_in holds a number of seconds",
        })
}

/// How long before expiry [`CachedTokenSource`] fetches a new token by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A token that failed to refresh is still handed out while this much of it remains.
const STILL_USABLE: Duration = Duration::from_secs(30);

type SharedFetch =
    Shared<Pin<Box<dyn Future<Output = Result<AccessToken, CredentialError>> + Send>>>;

#[derive(Default)]
struct Slot {
    token: Option<AccessToken>,
    fetch: Option<SharedFetch>,
}

/// Caches another source's tokens per scope and refreshes them ahead of expiry.
///
/// Concurrent callers that find no fresh token share one fetch: N parallel calls make one
/// token request, and a failed fetch fails all of them at once rather than being repeated
/// N times. If a refresh ahead of expiry fails while the old token still has 30 s or more,
/// the old token is used.
pub struct CachedTokenSource {
    inner: Arc<dyn TokenSource>,
    refresh_margin: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl CachedTokenSource {
    /// Caches `inner`'s tokens, refreshing [`DEFAULT_REFRESH_MARGIN`] (5 minutes) before expiry.
    pub fn new(inner: Arc<dyn TokenSource>) -> Self {
        CachedTokenSource {
            inner,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Refreshes tokens when less than `margin` of their life remains.
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Forgets the cached token for `scope`, so the next call fetches a new one.
    pub fn invalidate(&self, scope: &str) {
        if let Some(slot) = self.slots().get_mut(scope) {
            slot.token = None;
        }
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // The map holds plain data, consistent after any panic elsewhere.
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn cached(&self, scope: &str) -> Result<AccessToken, CredentialError> {
        let fetch = {
            let mut slots = self.slots();
            let slot = slots.entry(scope.to_owned()).or_default();
            if let Some(token) = &slot.token
                && !token.expires_within(self.refresh_margin, SystemTime::now())
            {
                return Ok(token.clone());
            }
            slot.fetch
                .get_or_insert_with(|| {
                    let inner = Arc::clone(&self.inner);
                    let scope = scope.to_owned();
                    let fetch: Pin<Box<dyn Future<Output = _> + Send>> =
                        Box::pin(async move { inner.token(&scope).await });
                    fetch.shared()
                })
                .clone()
        };
        let result = fetch.clone().await;

        let mut slots = self.slots();
        let slot = slots.entry(scope.to_owned()).or_default();
        if slot
            .fetch
            .as_ref()
            .is_some_and(|current| current.ptr_eq(&fetch))
        {
            slot.fetch = None;
            if let Ok(token) = &result {
                slot.token = Some(token.clone());
            }
        }
        match result {
            Ok(token) => Ok(token),
            Err(error) => match &slot.token {
                Some(token) if !token.expires_within(STILL_USABLE, SystemTime::now()) => {
                    Ok(token.clone())
                }
                _ => Err(error),
            },
        }
    }
}

impl TokenSource for CachedTokenSource {
    fn token<'a>(&'a self, scope: &'a str) -> TokenFuture<'a> {
        Box::pin(self.cached(scope))
    }
}

impl fmt::Debug for CachedTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedTokenSource")
            .field("inner", &self.inner)
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_become_managed_identity_resources() {
        assert_eq!(resource_of(ARM_SCOPE), "https://management.azure.com/");
        assert_eq!(
            resource_of("https://management.azure.com/"),
            "https://management.azure.com/"
        );
        assert_eq!(resource_of("api://x.default"), "api://x.default");
    }

    #[test]
    fn error_details_never_repeat_secrets() {
        let body = br#"{"error": "invalid_client", "error_description": "secret s3cr3t is wrong"}"#;
        assert_eq!(
            error_detail(body, &["s3cr3t"]).as_deref(),
            Some("invalid_client: secret *** is wrong")
        );
        assert_eq!(error_detail(b"not json s3cr3t", &["s3cr3t"]), None);
        let nested = br#"{"error": {"code": "BadRequest", "message": "no identity"}}"#;
        assert_eq!(
            error_detail(nested, &[]).as_deref(),
            Some("BadRequest: no identity")
        );
    }

    #[test]
    fn tokens_expire_within_a_margin() {
        let now = SystemTime::now();
        let token = AccessToken::new(Secret::new("t"), now + Duration::from_secs(120));
        assert!(token.expires_within(Duration::from_secs(300), now));
        assert!(!token.expires_within(Duration::from_secs(60), now));
        assert!(!format!("{token:?}").contains("\"t\""));
    }
}
