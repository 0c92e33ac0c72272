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
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| HostError::BadRequest {
            message: format!("could not read the request body: {err}"),
            field: None,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(HostError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
