//! [`BlobClient`]: one container's blobs, listed with their metadata, read, and given new
//! metadata; each request signed with the account key (Shared Key) or carrying a storage token,
//! sent on the crate's retry pipeline within [`BlobClientOptions::deadline`].

use std::{collections::BTreeMap, sync::Arc, time::Duration, time::SystemTime};

use reqwest::{
    Method,
    header::{AUTHORIZATION, HeaderName, HeaderValue},
};
use url::Url;

use super::{BlobError, BlobItem, listing, shared_key};
use crate::{
    azure::{CachedTokenSource, RetryPolicy, TokenSource, is_token_safe},
    ledger::table::{STORAGE_SCOPE, TableConnection},
    pipeline::{self, Answer, BodyLimit, Deadline, Repeat, Retryable},
    redact::{self, Show},
    transport::{HttpTransport, TransportError},
};

/// The most of an answer read: a listing page of 5,000 blobs, or a dead-letter blob (Event Grid
/// events are at most 1 MB each), is far smaller.
const BODY_LIMIT: BodyLimit = BodyLimit(64 * 1024 * 1024);

/// The Blob service version sent with every request; bearer tokens need 2017-11-09 or later.
/// See <https://learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory>.
const API_VERSION: &str = "2021-08-06";

/// How patient the client is.
#[derive(Debug, Clone)]
pub struct BlobClientOptions {
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// The longest one attempt may take.
    pub request_timeout: Duration,
    /// The longest one operation may take, its retries included.
    pub deadline: Duration,
    /// How often and how patiently a failed attempt is retried.
    pub retry: RetryPolicy,
}

impl Default for BlobClientOptions {
    /// 10 s to connect, 30 s per attempt, 2 minutes per operation.
    fn default() -> Self {
        BlobClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(120),
            retry: RetryPolicy::default(),
        }
    }
}

/// The credentials sent with each request.
enum Auth {
    SharedKey { account: String, key: Vec<u8> },
    Token(CachedTokenSource),
}

/// One container of a storage account's blob service.
pub struct BlobClient {
    /// Builds the requests.
    http: reqwest::Client,
    /// Sends them, each attempt timed by the pipeline.
    transport: HttpTransport,
    container: Url,
    auth: Auth,
    options: BlobClientOptions,
}

impl std::fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobClient")
            .field("container", &self.describe())
            .finish_non_exhaustive()
    }
}

/// One request: what it is for, where, and its own headers.
struct Call {
    operation: &'static str,
    method: Method,
    url: Url,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Retryable for BlobError {
    fn retryable(&self, repeat: Repeat) -> bool {
        match self {
            BlobError::Transport { source, .. } => repeat.retries_transport(source),
            BlobError::Credential(source) => source.is_transient(),
            _ => false,
        }
    }
}

impl BlobClient {
    /// A client for `container` on `connection`'s blob service (read with
    /// [`StorageService::Blob`](crate::ledger::table::StorageService::Blob)). `tokens` is
    /// required for an identity-based connection (scope [`STORAGE_SCOPE`]) and ignored
    /// otherwise. Nothing is sent until the first call.
    pub fn new(
        connection: TableConnection,
        tokens: Option<Arc<dyn TokenSource>>,
        container: &str,
        options: BlobClientOptions,
    ) -> Result<BlobClient, BlobError> {
        if !valid_container_name(container) {
            return Err(BlobError::InvalidContainer {
                name: container.to_owned(),
            });
        }
        let (endpoint, auth) = match connection {
            TableConnection::SharedKey {
                account,
                raw,
                endpoint,
                ..
            } => (endpoint, Auth::SharedKey { account, key: raw }),
            TableConnection::Token { endpoint } => {
                let tokens = tokens.ok_or(BlobError::InvalidConnection {
                    problem: "a blob service URL needs the managed identity",
                })?;
                (endpoint, Auth::Token(CachedTokenSource::new(tokens)))
            }
        };
        if !is_token_safe(&endpoint) {
            return Err(BlobError::InvalidConnection {
                problem: "the blob endpoint must be https, or http to loopback",
            });
        }
        let mut container_url = endpoint;
        container_url
            .path_segments_mut()
            .map_err(|()| BlobError::InvalidConnection {
                problem: "the blob endpoint is not a URL with a path",
            })?
            .pop_if_empty()
            .push(container);
        // The signature covers one URL; a redirect can only be a misconfiguration.
        let http = pipeline::builder_following_no_redirect(
            options.connect_timeout,
            concat!("aml-events/", env!("CARGO_PKG_VERSION")),
        )
        .build()
        .map_err(BlobError::Http)?;
        Ok(BlobClient {
            transport: HttpTransport::new(http.clone()),
            http,
            container: container_url,
            auth,
            options,
        })
    }

    /// The container's URL, for messages.
    pub fn describe(&self) -> String {
        shown(&self.container)
    }

    /// Every blob whose name starts with `prefix`, with its metadata, page after page.
    /// See <https://learn.microsoft.com/rest/api/storageservices/list-blobs>.
    pub async fn list(&self, prefix: &str) -> Result<Vec<BlobItem>, BlobError> {
        const OPERATION: &str = "list blobs";
        let mut blobs = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut url = self.container.clone();
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("restype", "container")
                    .append_pair("comp", "list")
                    .append_pair("include", "metadata");
                if !prefix.is_empty() {
                    query.append_pair("prefix", prefix);
                }
                if let Some(marker) = &marker {
                    query.append_pair("marker", marker);
                }
            }
            let answer = self.ok(OPERATION, Method::GET, url, Vec::new()).await?;
            let page = std::str::from_utf8(&answer.body)
                .map_err(|_| "not UTF-8".to_owned())
                .and_then(|xml| listing::parse(xml).map_err(|err| err.to_string()))
                .map_err(|problem| BlobError::Malformed {
                    operation: OPERATION,
                    resource: self.describe(),
                    problem,
                })?;
            blobs.extend(page.blobs);
            match page.next_marker {
                Some(next) => marker = Some(next),
                None => return Ok(blobs),
            }
        }
    }

    /// The blob's content.
    /// See <https://learn.microsoft.com/rest/api/storageservices/get-blob>.
    pub async fn read(&self, name: &str) -> Result<Vec<u8>, BlobError> {
        let answer = self
            .ok("read blob", Method::GET, self.blob_url(name), Vec::new())
            .await?;
        Ok(answer.body)
    }

    /// Replaces `blob`'s metadata with `metadata` (the service keeps none of the old: pass
    /// what is to stay), only if the blob has not changed since it was listed (its ETag);
    /// otherwise a [`BlobError::Status`] 412. The names go as `x-ms-meta-` headers, which the
    /// HTTP client writes in lower case; the service compares metadata names without regard
    /// to case.
    /// See <https://learn.microsoft.com/rest/api/storageservices/set-blob-metadata>.
    pub async fn set_metadata(
        &self,
        blob: &BlobItem,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(), BlobError> {
        const OPERATION: &str = "set blob metadata";
        let mut url = self.blob_url(&blob.name);
        url.query_pairs_mut().append_pair("comp", "metadata");
        let invalid = |problem| BlobError::Malformed {
            operation: OPERATION,
            resource: shown(&url),
            problem,
        };
        let mut headers = Vec::new();
        for (name, value) in metadata {
            let name = HeaderName::from_bytes(format!("x-ms-meta-{name}").as_bytes())
                .map_err(|_| invalid(format!("metadata name {name:?} is not a header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("metadata {name} is not a header value")))?;
            headers.push((name, value));
        }
        if let Some(etag) = &blob.etag {
            let etag = HeaderValue::from_str(etag)
                .map_err(|_| invalid("the listed ETag is not a header value".to_owned()))?;
            headers.push((HeaderName::from_static("if-match"), etag));
        }
        self.ok(OPERATION, Method::PUT, url, headers).await?;
        Ok(())
    }

    /// `{container}/{name}`, each `/`-separated part of the name percent-encoded.
    fn blob_url(&self, name: &str) -> Url {
        let mut url = self.container.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.extend(name.split('/'));
        }
        url
    }

    /// Sends the call, retrying as its method allows; any answer but 2xx is an error.
    async fn ok(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<Answer, BlobError> {
        let resource = shown(&url);
        let call = Call {
            operation,
            method,
            url,
            headers,
        };
        let refused = |answer: Answer| BlobError::Status {
            operation,
            resource: resource.clone(),
            status: answer.status.as_u16(),
            code: answer.header("x-ms-error-code").map(str::to_owned),
        };
        let request = pipeline::Request {
            operation,
            repeat: Repeat::of(&call.method),
            policy: &self.options.retry,
            deadline: Deadline::starting_now(self.options.deadline, None),
            answered: &refused,
            too_late: &|budget, last: Option<BlobError>| BlobError::DeadlineExceeded {
                operation,
                budget,
                last: last.map(Box::new),
            },
        };
        let answer = pipeline::send(request, || self.attempt(&call, &resource)).await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(refused(answer))
        }
    }

    async fn attempt(&self, call: &Call, resource: &str) -> Result<Answer, BlobError> {
        let transport = |source| BlobError::Transport {
            operation: call.operation,
            resource: resource.to_owned(),
            source,
        };
        let mut builder = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header("x-ms-date", httpdate::fmt_http_date(SystemTime::now()))
            .header("x-ms-version", API_VERSION);
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        if call.method == Method::PUT {
            // An explicit empty body: the service wants `Content-Length: 0` on a PUT.
            builder = builder.body(Vec::new());
        }
        let mut request = builder
            .build()
            .map_err(|error| transport(TransportError::from_reqwest(error, None)))?;
        let authorization = match &self.auth {
            Auth::SharedKey { account, key } => shared_key::authorization(account, key, &request),
            Auth::Token(tokens) => {
                let token = tokens
                    .token(STORAGE_SCOPE)
                    .await
                    .map_err(BlobError::Credential)?;
                format!("Bearer {}", token.token.expose())
            }
        };
        let mut value =
            HeaderValue::from_str(&authorization).map_err(|_| BlobError::InvalidConnection {
                problem: "AccountName is not a valid header value",
            })?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        let request = reqwest::RequestBuilder::from_parts(self.http.clone(), request);
        Answer::exchange(
            &self.transport,
            request,
            self.options.request_timeout,
            BODY_LIMIT,
        )
        .await
        .map_err(transport)
    }
}

/// The container or blob a request is for, without its query, as messages show it.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    redact::url(&url, Show::Path)
}

/// 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or
/// digit.
/// See <https://learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata#container-names>.
fn valid_container_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_follow_the_service_rules() {
        for (name, valid) in [
            ("eventgrid-deadletter", true),
            ("abc", true),
            ("ab", false),
            ("Dead", false),
            ("-dead", false),
            ("dead--letters", false),
            ("dead/letters", false),
        ] {
            assert_eq!(valid_container_name(name), valid, "{name}");
        }
    }

    #[test]
    fn blob_names_are_encoded_part_by_part() {
        let connection = TableConnection::parse_for(
            crate::ledger::table::StorageService::Blob,
            "AML_DEADLETTER",
            "UseDevelopmentStorage=true",
        )
        .unwrap();
        let client = BlobClient::new(
            connection,
            None,
            "eventgrid-deadletter",
            BlobClientOptions::default(),
        )
        .unwrap();
        assert_eq!(
            client.blob_url("SUB/2024/3/1/9/a b#c.json").as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/eventgrid-deadletter/SUB/2024/3/1/9/a%20b%23c.json"
        );
        assert!(!format!("{client:?}").contains("Eby8"));
    }
}
