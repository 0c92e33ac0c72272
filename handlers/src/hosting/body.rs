//! Reads a request body with a size limit, refusing an oversized one from its
//! `Content-Length` before reading it, and a chunked one as soon as it passes the limit.

use actix_web::{HttpRequest, http::header::CONTENT_LENGTH, web};
use futures_util::StreamExt;

use super::HostError;

/// The whole body, or `PayloadTooLarge` / `BadRequest`.
pub(super) async fn read(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, HostError> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(HostError::PayloadTooLarge { limit });
    }
    // A body that arrives as one chunk (the usual one) is kept as it came; more are joined.
    let mut first = web::Bytes::new();
    let mut joined: Option<web::BytesMut> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| HostError::BadRequest {
            message: format!("could not read the request body: {err}"),
            field: None,
        })?;
        let read = joined.as_ref().map_or(first.len(), |joined| joined.len());
        if read + chunk.len() > limit {
            return Err(HostError::PayloadTooLarge { limit });
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let expected = declared.unwrap_or(0).max(read + chunk.len()).min(limit);
                let mut both = web::BytesMut::with_capacity(expected);
                both.extend_from_slice(&first);
                both.extend_from_slice(&chunk);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, web::BytesMut::freeze))
}
