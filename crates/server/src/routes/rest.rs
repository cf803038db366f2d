//! Plumbing shared by the REST endpoints (`/v1/audio/*`, `POST /v1/listen`,
//! `/v1/email/send`): reading a body under `max_body_bytes`, admission and
//! one usage record per admitted request ([`RequestMeter`]), and the
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

/// Meters one REST request into exactly one usage record. Created by
/// [`admit`](Self::admit), which refuses the request (402 without credit,
/// 503 while the ledger cannot be written) before any work and without a
/// record. Commit it with [`finish`](Self::finish), [`ok`](Self::ok) or
/// [`failed`](Self::failed); if the request is dropped first (the client
/// went away), the record is written as `cancelled`, off the runtime.
#[derive(Debug)]
pub(crate) struct RequestMeter {
    meter: Option<Meter>,
    id: String,
}

impl RequestMeter {
    /// Admits a billable request (see [`crate::billing::credit`]) and starts
    /// metering it with id `id`.
    pub(crate) async fn admit(
        state: &AppState,
        principal: &Principal,
        service: Service,
        route: &str,
        id: String,
    ) -> Result<Self, ApiError> {
        crate::billing::admit(&state.ledger, principal).await?;
        Ok(Self::start(state, principal, service, route, id))
    }

    /// Starts metering a request with id `id`.
    fn start(
        state: &AppState,
        principal: &Principal,
        service: Service,
        route: &str,
        id: String,
    ) -> Self {
        let meter = Meter::start(
            &state.ledger,
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

    /// Moves the record into a new meter (for work that outlives the
    /// handler, such as a streamed body); this one is left empty, so
    /// committing or dropping it writes nothing.
    pub(crate) fn hand_over(&mut self) -> Self {
        Self {
            meter: self.meter.take(),
            id: self.id.clone(),
        }
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

    /// Writes the record with `outcome`; `false` when it could not be
    /// written (the ledger is then marked unavailable).
    pub(crate) async fn commit(mut self, outcome: Outcome, error_code: Option<&str>) -> bool {
        let Some(meter) = self.meter.take() else {
            return true;
        };
        match meter.commit(outcome, error_code).await {
            Ok(_) => true,
            Err(error) => {
                tracing::error!(request_id = %self.id, %error, "cannot record usage");
                false
            }
        }
    }

    /// Commits the request's record and passes its result on; a result
    /// whose usage cannot be recorded is not served: it becomes
    /// [`ApiError::LedgerUnavailable`] (503).
    pub(crate) async fn finish(
        self,
        result: Result<Response, ApiError>,
    ) -> Result<Response, ApiError> {
        match result {
            Ok(response) => {
                if self.commit(Outcome::Ok, None).await {
                    Ok(response)
                } else {
                    Err(ApiError::LedgerUnavailable(
                        "usage could not be recorded, so the result is withheld; retry shortly"
                            .into(),
                    ))
                }
            }
            Err(error) => {
                self.failed(&error).await;
                Err(error)
            }
        }
    }

    /// Writes the record of a request that succeeded.
    pub(crate) async fn ok(self) {
        let _ = self.commit(Outcome::Ok, None).await;
    }

    /// Writes the record of a request that failed with `error`.
    pub(crate) async fn failed(self, error: &ApiError) {
        let _ = self.commit(error.outcome(), Some(error.code())).await;
    }
}

impl Drop for RequestMeter {
    fn drop(&mut self) {
        if let Some(meter) = self.meter.take() {
            meter.commit_detached(Outcome::Cancelled, Some("client_closed"));
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
