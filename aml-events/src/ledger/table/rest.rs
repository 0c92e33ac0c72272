//! One request to the table service: signed (Shared Key Lite) or with a bearer token, sent on
//! the crate's retry pipeline within the ledger's deadline; the read of one entity; the paged
//! query; and the removal of what a query finds.

use std::{ops::ControlFlow, time::SystemTime};

use reqwest::{
    Method, StatusCode,
    header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue},
};
use serde_json::{Value, json};
use url::Url;

use super::{
    auth::{Auth, sign},
    connection::{AML_LEDGER, STORAGE_SCOPE},
    entity::text,
    error::status_error,
    table_ledger::TableLedger,
};
use crate::{
    azure::TokenSource,
    ledger::LedgerError,
    pipeline::{self, Answer, Deadline, Repeat, Retryable},
    redact::{self, Show},
};

/// 2019-02-02 is the first version that accepts OAuth bearer tokens for tables.
const API_VERSION: &str = "2019-02-02";

/// One request to the table service.
pub(super) struct Call {
    pub(super) operation: &'static str,
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) body: Option<Vec<u8>>,
    pub(super) if_match: Option<String>,
    pub(super) repeat: Repeat,
}

/// One entity as read: its properties, its ETag, and the answer's `Date` (the table service's
/// clock when it answered).
pub(super) struct Found {
    pub(super) value: Value,
    pub(super) etag: String,
    pub(super) date: Option<String>,
}

impl Retryable for LedgerError {
    fn retryable(&self, repeat: Repeat) -> bool {
        match self {
            LedgerError::Transport { source, .. } => repeat.retries_transport(source),
            LedgerError::Credential(source) => source.is_transient(),
            _ => false,
        }
    }
}

impl TableLedger {
    pub(super) fn shown(&self) -> String {
        redact::url(&self.endpoint, Show::Path)
    }

    /// `{endpoint}/{path}`, `path` already safe (encoded keys only use URL-safe characters).
    pub(super) fn url(&self, path: &str) -> Url {
        let base = self.endpoint.as_str().trim_end_matches('/');
        // The endpoint is a valid URL and `path` holds only URL-safe characters.
        Url::parse(&format!("{base}/{path}")).unwrap_or_else(|_| self.endpoint.clone())
    }

    pub(super) fn entity_url(&self, partition: &str, row: &str) -> Url {
        self.url(&format!(
            "{}(PartitionKey='{partition}',RowKey='{row}')",
            self.table
        ))
    }

    /// The deadline of an operation starting now: the ledger's own budget
    /// ([`TableLedgerOptions::deadline`](super::TableLedgerOptions::deadline)), or `outer` (a
    /// delivery's end) when that is sooner.
    pub(super) fn deadline(&self, outer: Option<tokio::time::Instant>) -> Deadline {
        Deadline::starting_now(self.options.deadline, outer)
    }

    /// Sends `call`, retrying as it allows, until `deadline`.
    pub(super) async fn send(
        &self,
        call: &Call,
        deadline: Deadline,
    ) -> Result<Answer, LedgerError> {
        let operation = call.operation;
        let endpoint = self.shown();
        let request = pipeline::Request {
            operation,
            repeat: call.repeat,
            policy: &self.options.retry,
            deadline,
            answered: &|answer: Answer| status_error(operation, &endpoint, &answer, &[self.key()]),
            too_late: &|budget, last: Option<LedgerError>| LedgerError::DeadlineExceeded {
                operation,
                budget,
                last: last.map(Box::new),
            },
        };
        pipeline::send(request, || self.attempt(call)).await
    }

    pub(super) async fn attempt(&self, call: &Call) -> Result<Answer, LedgerError> {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("DataServiceVersion", "3.0;NetFx")
            .header("MaxDataServiceVersion", "3.0;NetFx")
            .header(ACCEPT, "application/json;odata=minimalmetadata");
        match &self.auth {
            Auth::SharedKey { account, raw, .. } => {
                let resource = format!("/{account}{}", call.url.path());
                let signature = sign(raw, &format!("{date}\n{resource}"));
                let mut value =
                    HeaderValue::from_str(&format!("SharedKeyLite {account}:{signature}"))
                        .map_err(|_| LedgerError::InvalidSetting {
                            setting: AML_LEDGER,
                            problem: "AccountName is not a valid header value",
                        })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            Auth::Token(tokens) => {
                let token = tokens
                    .token(STORAGE_SCOPE)
                    .await
                    .map_err(LedgerError::Credential)?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.token.expose()))
                    .map_err(|_| LedgerError::Malformed {
                        operation: call.operation,
                        problem: "the storage token is not a valid header value",
                    })?;
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
        }
        if let Some(etag) = &call.if_match {
            request = request.header("If-Match", etag);
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .header("Prefer", "return-no-content")
                .body(body.clone());
        }
        Answer::fetch(&*self.transport, request)
            .await
            .map_err(|source| LedgerError::Transport {
                operation: call.operation,
                endpoint: self.shown(),
                source,
            })
    }

    pub(super) fn fail(&self, operation: &'static str, answer: &Answer) -> LedgerError {
        status_error(operation, &self.shown(), answer, &[self.key()])
    }

    /// The account key's text, for redaction ("" with a token).
    pub(super) fn key(&self) -> &str {
        match &self.auth {
            Auth::SharedKey { key, .. } => key.expose(),
            Auth::Token(_) => "",
        }
    }

    /// Creates the table on the first call of this instance (one per process), by `deadline`;
    /// `TableAlreadyExists` (409) is success.
    /// See <https://learn.microsoft.com/rest/api/storageservices/create-table>.
    pub(super) async fn ensure_table(&self, deadline: Deadline) -> Result<(), LedgerError> {
        self.table_ready
            .get_or_try_init(|| async {
                let body =
                    serde_json::to_vec(&json!({ "TableName": self.table })).unwrap_or_default();
                let call = Call {
                    operation: "create table",
                    method: Method::POST,
                    url: self.url("Tables"),
                    body: Some(body),
                    if_match: None,
                    // Creating twice is harmless: the second finds it (409).
                    repeat: Repeat::Idempotent,
                };
                let answer = self.send(&call, deadline).await?;
                match answer.status.as_u16() {
                    200..=299 | 409 => Ok(()),
                    _ => Err(self.fail(call.operation, &answer)),
                }
            })
            .await
            .map(|_| ())
    }

    /// The entity at `(partition, row)`, or `None` when there is none (404).
    /// See <https://learn.microsoft.com/rest/api/storageservices/query-entities>.
    pub(super) async fn get_entity(
        &self,
        operation: &'static str,
        (partition, row): (&str, &str),
        deadline: Deadline,
    ) -> Result<Option<Found>, LedgerError> {
        let call = Call {
            operation,
            method: Method::GET,
            url: self.entity_url(partition, row),
            body: None,
            if_match: None,
            repeat: Repeat::Idempotent,
        };
        let answer = self.send(&call, deadline).await?;
        match answer.status {
            StatusCode::OK => {
                let value: Value =
                    serde_json::from_slice(&answer.body).map_err(|_| LedgerError::Malformed {
                        operation,
                        problem: "the entity is not JSON",
                    })?;
                let etag = answer
                    .header("etag")
                    .map(str::to_owned)
                    .or_else(|| text(&value, "odata.etag"))
                    .ok_or(LedgerError::Malformed {
                        operation,
                        problem: "no ETag",
                    })?;
                let date = answer.header("date").map(str::to_owned);
                Ok(Some(Found { value, etag, date }))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(operation, &answer)),
        }
    }

    /// Removes at most `max` of the entities matching `filter`, each only as it was found (a
    /// conditional delete: one written since is not what the filter chose); returns how many
    /// it removed.
    pub(super) async fn remove_matching(
        &self,
        operation: &'static str,
        filter: &str,
        max: usize,
    ) -> Result<usize, LedgerError> {
        if max == 0 {
            return Ok(0);
        }
        let mut found = Vec::new();
        let visit = |values: Vec<Value>| {
            found.extend(values);
            if found.len() >= max {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let columns = "PartitionKey,RowKey";
        self.query_pages(operation, filter, columns, max, visit)
            .await?;
        found.truncate(max);
        let mut removed = 0;
        for value in &found {
            let (Some(partition), Some(row), Some(etag)) = (
                text(value, "PartitionKey"),
                text(value, "RowKey"),
                text(value, "odata.etag"),
            ) else {
                continue;
            };
            let call = Call {
                operation,
                method: Method::DELETE,
                url: self.entity_url(&partition, &row),
                body: None,
                if_match: Some(etag),
                repeat: Repeat::Idempotent,
            };
            let answer = self.send(&call, self.deadline(None)).await?;
            match answer.status.as_u16() {
                200..=299 => removed += 1,
                // Gone, or written since.
                404 | 412 => {}
                _ => return Err(self.fail(call.operation, &answer)),
            }
        }
        Ok(removed)
    }

    /// Hands `visit` the entities matching `filter` (only the `select`ed properties), a page of
    /// at most `page` (up to 1,000, the service's most) at a time, following the continuation
    /// headers until the pages end or `visit` breaks. One page is held at a time: a query
    /// costs memory by its page, never by the table. Each page has the ledger's budget.
    pub(super) async fn query_pages(
        &self,
        operation: &'static str,
        filter: &str,
        select: &str,
        page: usize,
        mut visit: impl FnMut(Vec<Value>) -> ControlFlow<()> + Send,
    ) -> Result<(), LedgerError> {
        let mut next: Option<(String, String)> = None;
        loop {
            let url = self.query_url(filter, select, page, next.as_ref());
            let call = Call {
                operation,
                method: Method::GET,
                url,
                body: None,
                if_match: None,
                repeat: Repeat::Idempotent,
            };
            let answer = self.send(&call, self.deadline(None)).await?;
            if answer.status != StatusCode::OK {
                return Err(self.fail(operation, &answer));
            }
            let mut body: Value =
                serde_json::from_slice(&answer.body).map_err(|_| LedgerError::Malformed {
                    operation,
                    problem: "the query answer is not JSON",
                })?;
            let values = match body.get_mut("value").map(Value::take) {
                Some(Value::Array(values)) => values,
                _ => Vec::new(),
            };
            if visit(values).is_break() {
                return Ok(());
            }
            next = continuation(&answer);
            if next.is_none() {
                return Ok(());
            }
        }
    }

    /// `{table}()?$filter=..&$select=..&$top=..`, from the continuation point `next` if any.
    /// See <https://learn.microsoft.com/rest/api/storageservices/query-timeout-and-pagination>.
    fn query_url(
        &self,
        filter: &str,
        select: &str,
        page: usize,
        next: Option<&(String, String)>,
    ) -> Url {
        let mut url = self.url(&format!("{}()", self.table));
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("$filter", filter);
            query.append_pair("$select", select);
            query.append_pair("$top", &page.clamp(1, MAX_PAGE).to_string());
            if let Some((partition, row)) = next {
                query.append_pair("NextPartitionKey", partition);
                query.append_pair("NextRowKey", row);
            }
        }
        url
    }
}

/// The most entities the table service returns in one page.
const MAX_PAGE: usize = 1000;

/// Where the next page of a query starts, when there is one.
fn continuation(answer: &Answer) -> Option<(String, String)> {
    let partition = answer.header("x-ms-continuation-NextPartitionKey")?;
    let row = answer
        .header("x-ms-continuation-NextRowKey")
        .unwrap_or_default();
    Some((partition.to_owned(), row.to_owned()))
}

/// The ETag of a write Azure accepted: what a later conditional write or delete needs.
pub(super) fn etag_of(answer: &Answer, operation: &'static str) -> Result<String, LedgerError> {
    answer
        .header("etag")
        .map(str::to_owned)
        .ok_or(LedgerError::Malformed {
            operation,
            problem: "no ETag",
        })
}
