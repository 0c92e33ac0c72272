//! The table service's REST API on the shared Azurite, signed as the ledger signs (Shared Key
//! Lite), for the ledger tests: to write what another instance, with another clock, would have
//! written, which the ledger itself never writes.
//!
//! Needs `mod azurite;` beside it in the test binary.

#![allow(dead_code)]

use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::azurite::{self, Azurite};

/// Requests to the shared Azurite's table service.
pub(crate) struct Rest {
    http: reqwest::Client,
    endpoint: String,
}

impl Rest {
    pub(crate) fn new() -> Rest {
        Rest {
            http: reqwest::Client::new(),
            endpoint: Azurite::shared().endpoint(),
        }
    }

    /// Sends `method` to `{endpoint}/{path}` with `query` pairs, `body` and `If-Match: *`.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut url = reqwest::Url::parse(&format!("{}/{path}", self.endpoint)).unwrap();
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let date = httpdate::fmt_http_date(SystemTime::now());
        let base64 = base64::engine::general_purpose::STANDARD;
        let key = base64.decode(azurite::KEY).unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{date}\n/{}{}", azurite::ACCOUNT, url.path()).as_bytes());
        let signature = base64.encode(mac.finalize().into_bytes());
        let mut request = self
            .http
            .request(method, url)
            .header("x-ms-date", date)
            .header("x-ms-version", "2019-02-02")
            .header("DataServiceVersion", "3.0;NetFx")
            .header("Accept", "application/json;odata=minimalmetadata")
            .header(
                "Authorization",
                format!("SharedKeyLite {}:{signature}", azurite::ACCOUNT),
            )
            .header("If-Match", "*");
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let body = answer.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

/// Rewrites the one entity of `table` that `filter` finds, as `change` says; the service
/// stamps it as written now.
pub(crate) async fn rewrite(
    table: &str,
    filter: &str,
    change: impl FnOnce(&mut Map<String, Value>),
) {
    let rest = Rest::new();
    let (status, found) = rest
        .send(
            reqwest::Method::GET,
            &format!("{table}()"),
            &[("$filter", filter)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let mut entity = found["value"][0].as_object().cloned().expect("the entity");
    entity.retain(|name, _| !name.starts_with("odata.") && name != "Timestamp");
    change(&mut entity);
    let path = format!(
        "{table}(PartitionKey='{}',RowKey='{}')",
        entity["PartitionKey"].as_str().unwrap(),
        entity["RowKey"].as_str().unwrap()
    );
    let entity = Value::Object(entity);
    let (status, answer) = rest
        .send(reqwest::Method::PUT, &path, &[], Some(&entity))
        .await;
    assert_eq!(status, 204, "{answer}");
}
