//! Plumbing shared by the REST endpoints (`/v1/audio/*`, `POST /v1/listen`,
//! `/v1/email/send`): reading a body under `max_body_bytes`, one usage
//! record per authenticated request ([`RequestMeter`]), and the
//! `x-request-id` header that names that record.

use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use futures_util::StreamExt as _;

use crate::auth::Principal;
use crate::billing::{Meter, Service};
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::ledger::Outcome;

/// `x-request-id`: the request's id, also its usage record's session id.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Reads the whole body, refusing more than `limit` bytes with 413.
///
/// An oversized body is still read (and dropped) up to twice the limit
/// before answering: clients that send the whole body before reading the
/// response (httpx, urllib, reqwest) would otherwise see a broken pipe
/// instead of the 413. Beyond that, or when `Content-Length` already says
/// so, the answer goes out at once.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the request body is larger than the {limit}-byte limit"
        ))
    };
    let drain_limit = limit.saturating_mul(2) as u64;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > drain_limit) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::with_capacity(declared.map_or(0, |len| len.min(limit as u64) as usize));
    let mut total = 0u64;
    while let Some(frame) = stream.next().await {
        let frame = frame
            .map_err(|e| ApiError::InvalidPayload(format!("cannot read the request body: {e}")))?;
        total += frame.len() as u64;
        if total > drain_limit {
            return Err(too_large());
        }
        if total <= limit as u64 {
            buffer.extend_from_slice(&frame);
        }
    }
    if total > limit as u64 {
        return Err(too_large());
    }
    Ok(Bytes::from(buffer))
}

/// Sets `x-request-id` on a response.
pub(crate) fn with_request_id(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The media type of a request, lower-cased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let essence = value.split(';').next().unwrap_or("").trim();
    (!essence.is_empty()).then(|| essence.to_ascii_lowercase())
}

/// The full `Content-Type` of a request (with parameters), if readable.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Meters one REST request into exactly one usage record. Commit it with
/// [`ok`](Self::ok) or [`failed`](Self::failed); if the request is dropped
/// first (the client went away), the record is written as `cancelled`.
#[derive(Debug)]
pub(crate) struct RequestMeter {
    meter: Option<Meter>,
    id: String,
}

impl RequestMeter {
    /// Starts metering a request with id `id`.
    pub(crate) fn start(
        state: &AppState,
        principal: &Principal,
        service: Service,
        route: &str,
        id: String,
    ) -> Self {
        let meter = Meter::start(
            state.store.clone(),
            state.prices(),
            principal,
            service,
            route,
            id.clone(),
        );
        Self {
            meter: Some(meter),
            id,
        }
    }

    /// The request id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Adds audio transcribed or produced.
    pub(crate) fn add_audio_seconds(&mut self, seconds: f64) {
        if let Some(meter) = &mut self.meter {
            meter.add_audio_seconds(seconds);
        }
    }

    /// Adds characters synthesized.
    pub(crate) fn add_characters(&mut self, characters: u64) {
        if let Some(meter) = &mut self.meter {
            meter.add_characters(characters);
        }
    }

    /// Writes the record with `outcome`.
    pub(crate) async fn commit(mut self, outcome: Outcome, error_code: Option<&str>) {
        if let Some(meter) = self.meter.take() {
            if let Err(error) = meter.commit(outcome, error_code).await {
                tracing::error!(request_id = %self.id, %error, "cannot record usage");
            }
        }
    }

    /// Writes the record of a request that succeeded.
    pub(crate) async fn ok(self) {
        self.commit(Outcome::Ok, None).await;
    }

    /// Writes the record of a request that failed with `error`.
    pub(crate) async fn failed(self, error: &ApiError) {
        self.commit(error.outcome(), Some(error.code())).await;
    }
}

impl Drop for RequestMeter {
    fn drop(&mut self) {
        let Some(meter) = self.meter.take() else {
            return;
        };
        let id = std::mem::take(&mut self.id);
        let commit = move || {
            if let Err(error) = meter.commit_blocking(Outcome::Cancelled, Some("client_closed")) {
                tracing::error!(request_id = %id, %error, "cannot record usage");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(commit)),
            Err(_) => commit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_over_the_limit_are_413() {
        let headers = HeaderMap::new();
        let ok = read_body(Body::from(vec![1u8; 10]), &headers, 10).await;
        assert_eq!(ok.unwrap().len(), 10);
        let over = read_body(Body::from(vec![1u8; 11]), &headers, 10).await;
        assert!(matches!(over, Err(ApiError::PayloadTooLarge(_))));
        let far_over = read_body(Body::from(vec![1u8; 21]), &headers, 10).await;
        assert!(matches!(far_over, Err(ApiError::PayloadTooLarge(_))));
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, HeaderValue::from_static("1000"));
        let early = read_body(Body::empty(), &declared, 10).await;
        assert!(matches!(early, Err(ApiError::PayloadTooLarge(_))));
    }

    #[test]
    fn media_types_are_normalized() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("Audio/L16; rate=16000"),
        );
        assert_eq!(media_type(&headers).as_deref(), Some("audio/l16"));
        assert_eq!(content_type(&headers), Some("Audio/L16; rate=16000"));
    }
}
