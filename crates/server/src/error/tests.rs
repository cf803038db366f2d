//! Tests of the error mappings: HTTP status and code per error, the
//! OpenAI and Deepgram bodies, and WebSocket close codes.

use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::*;

#[test]
fn internal_details_are_not_sent() {
    let response = ApiError::Internal("secret path /etc/x".into()).into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn phonemizer_crashes_are_unspeakable_text() {
    use vocalis_inference::phonemize::PhonemizeError;
    use vocalis_inference::TtsError;
    let crashed = || {
        TtsError::Phonemize(PhonemizeError::WorkerCrashed {
            status: "signal: 6 (SIGABRT)".into(),
        })
    };
    assert_eq!(tts_sentence_error_code(&crashed()), "text_unspeakable");
    let error = ApiError::from(crashed());
    assert_eq!(
        (error.status().as_u16(), error.code()),
        (422, "text_unspeakable")
    );
    let timeout = TtsError::Phonemize(PhonemizeError::WorkerTimeout {
        after: std::time::Duration::from_secs(5),
    });
    assert_eq!(ApiError::from(timeout).code(), "text_unspeakable");
    let spawn = TtsError::Phonemize(PhonemizeError::WorkerSpawn {
        program: "/missing".into(),
        source: std::io::ErrorKind::NotFound.into(),
    });
    assert_eq!(tts_sentence_error_code(&spawn), "synthesis_failed");
    assert_eq!(ApiError::from(spawn).status().as_u16(), 500);
}

#[test]
fn each_error_has_a_stable_code_and_status() {
    let cases = [
        (ApiError::Unauthorized(String::new()), 401, "unauthorized"),
        (
            ApiError::InvalidPayload(String::new()),
            400,
            "invalid_payload",
        ),
        (
            ApiError::Unprocessable(String::new()),
            422,
            "invalid_payload",
        ),
        (
            ApiError::PayloadTooLarge(String::new()),
            413,
            "payload_too_large",
        ),
        (
            ApiError::UnsupportedMediaType(String::new()),
            415,
            "unsupported_media_type",
        ),
        (
            ApiError::Unspeakable(String::new()),
            422,
            "text_unspeakable",
        ),
        (ApiError::Busy(String::new()), 503, "busy"),
        (
            ApiError::RateLimited {
                message: String::new(),
                retry_after_s: 1,
            },
            429,
            "rate_limited",
        ),
        (
            ApiError::EmailUnavailable(String::new()),
            503,
            "service_unavailable",
        ),
        (
            ApiError::EmailSendFailed(String::new()),
            502,
            "email_send_failed",
        ),
        (
            ApiError::InsufficientCredits(String::new()),
            402,
            "insufficient_credits",
        ),
        (
            ApiError::LedgerUnavailable(String::new()),
            503,
            "ledger_unavailable",
        ),
    ];
    for (error, status, code) in cases {
        assert_eq!(error.status().as_u16(), status, "{error:?}");
        assert_eq!(error.code(), code, "{error:?}");
    }
}

#[test]
fn receive_errors_map_to_close_codes() {
    let capacity =
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        });
    let too_big = SessionClose::from_receive_error(axum::Error::new(capacity));
    assert_eq!(too_big, Some(SessionClose::TooBig));
    let utf8 = tungstenite::Error::Utf8("invalid".into());
    let invalid = SessionClose::from_receive_error(axum::Error::new(utf8)).unwrap();
    assert_eq!(
        (invalid.close_code(), invalid.reason()),
        (1007, "INVALID_UTF8")
    );
    assert_eq!(invalid.deepgram_reason(), "DATA-0000");
    let gone = tungstenite::Error::ConnectionClosed;
    assert_eq!(
        SessionClose::from_receive_error(axum::Error::new(gone)),
        None
    );
}

#[test]
fn openai_body_has_message_type_param_code() {
    let body = ApiError::InvalidPayload("bad `model`".into()).body(Dialect::OpenAi, "");
    assert_eq!(
        body,
        serde_json::json!({"error": {"message": "bad `model`", "type": "invalid_request_error",
                                     "param": null, "code": "invalid_payload"}})
    );
    let types = [
        (
            ApiError::InsufficientCredits(String::new()),
            "insufficient_quota",
        ),
        (
            ApiError::RateLimited {
                message: String::new(),
                retry_after_s: 1,
            },
            "requests",
        ),
        (ApiError::Busy(String::new()), "server_error"),
        (
            ApiError::Unauthorized(String::new()),
            "invalid_request_error",
        ),
    ];
    for (error, kind) in types {
        assert_eq!(error.openai_type(), kind, "{error:?}");
    }
    let hidden = ApiError::Internal("secret path /etc/x".into()).body(Dialect::OpenAi, "");
    assert_eq!(hidden["error"]["message"], "internal server error");
}

#[test]
fn deepgram_body_uses_deepgram_codes_and_names_the_request() {
    let cases = [
        (ApiError::Unauthorized("x".into()), "INVALID_AUTH"),
        (ApiError::InvalidPayload("x".into()), "Bad Request"),
        (ApiError::Unprocessable("x".into()), "Bad Request"),
        (
            ApiError::InsufficientCredits("x".into()),
            "ASR_PAYMENT_REQUIRED",
        ),
        (
            ApiError::LedgerUnavailable("x".into()),
            "LEDGER_UNAVAILABLE",
        ),
        (
            ApiError::UnsupportedMediaType("x".into()),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ];
    for (error, code) in cases {
        let body = error.body(Dialect::Deepgram, "r-1");
        assert_eq!(
            body,
            serde_json::json!({"err_code": code, "err_msg": "x", "request_id": "r-1"})
        );
    }
    assert_eq!(Dialect::for_path("/v1/listen"), Dialect::Deepgram);
    assert_eq!(Dialect::for_path("/v1/listen/"), Dialect::Deepgram);
    assert_eq!(
        Dialect::for_path("/v1/audio/transcriptions"),
        Dialect::OpenAi
    );
}

#[tokio::test]
async fn responses_are_rendered_again_in_the_route_dialect() {
    use axum::body::Body;
    let body_of = |response: axum::response::Response| async move {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    // An ApiError rendered in the common shape, on a Deepgram route.
    let mut response = ApiError::RateLimited {
        message: "slow down".into(),
        retry_after_s: 3,
    }
    .into_response();
    response
        .headers_mut()
        .insert("x-request-id", "abc".parse().unwrap());
    let response = in_dialect(response, Dialect::Deepgram).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(response.headers()["dg-request-id"], "abc");
    assert_eq!(
        body_of(response).await,
        serde_json::json!({"err_code": "TOO_MANY_REQUESTS", "err_msg": "slow down",
                           "request_id": "abc"})
    );
    // axum's plain-text rejection becomes the dialect's body, status kept.
    let rejection = axum::response::Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .header("content-type", "text/plain")
        .body(Body::from("Method Not Allowed"))
        .unwrap();
    let response = in_dialect(rejection, Dialect::OpenAi).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body = body_of(response).await;
    assert_eq!(body["error"]["message"], "Method Not Allowed");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], serde_json::Value::Null);
    // Successes pass untouched.
    let ok = axum::response::Response::new(Body::from("fine"));
    assert_eq!(
        in_dialect(ok, Dialect::Deepgram).await.status(),
        StatusCode::OK
    );
}

#[test]
fn deepgram_routes_close_with_deepgram_codes_only() {
    let all = [
        SessionClose::InsufficientCredits,
        SessionClose::Busy,
        SessionClose::IdleTimeout,
        SessionClose::TooBig,
        SessionClose::InvalidUtf8,
        SessionClose::BadAudio,
        SessionClose::ShuttingDown,
        SessionClose::LedgerUnavailable,
        SessionClose::Internal,
    ];
    for close in all {
        let (code, reason) = close.close_for(Dialect::Deepgram);
        assert!(matches!(code, 1000 | 1008 | 1011), "{close:?}: {code}");
        if code == 1011 {
            assert!(reason.starts_with("NET-"), "{close:?}: {reason}");
        }
        assert_eq!(
            close.close_for(Dialect::OpenAi),
            (close.close_code(), close.reason())
        );
    }
    assert_eq!(
        SessionClose::TooBig.close_for(Dialect::Deepgram),
        (1008, "DATA-0000")
    );
    assert_eq!(
        SessionClose::IdleTimeout.close_for(Dialect::Deepgram),
        (1011, "NET-0001")
    );
}
