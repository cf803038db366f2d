//! Telephony platforms on the live STT core: Twilio Media Streams,
//! jambonz's custom speech vendor API, FreeSWITCH `mod_audio_fork` and
//! Asterisk `chan_websocket`. Each dialect only translates frames; the
//! session itself (channels, billing, idle, back-pressure, shutdown) is
//! [`crate::session::live`]. `docs/protocol.md` documents each dialect.
//!
//! Routes: `GET /v1/twilio`, `GET /v1/jambonz/stt`, `POST /v1/jambonz/tts`,
//! `GET /v1/audiofork`, `GET /v1/asterisk` (and Twilio, jambonz and Asterisk
//! frames are recognised on `/ws/stt` too, see [`detect`]).
//!
//! # Layout
//! - [`twilio`], [`jambonz`], [`audiofork`], [`asterisk`]: the dialects.
//! - [`playback`]: speech played back on a Twilio socket.
//! - [`detect`]: which dialect a `/ws/stt` client speaks.

pub mod asterisk;
pub mod audiofork;
pub mod detect;
pub mod jambonz;
pub mod playback;
pub mod twilio;

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::Router;
use tracing::Instrument as _;

use crate::auth::{Authenticated, Credential, Principal};
use crate::billing::{Meter, Service};
use crate::error::{ApiError, SessionClose};
use crate::metrics::Route;
use crate::server::AppState;
use crate::session::live::{json, Core, Dialect, Frame, Limits, PoolStream, Transport};
use crate::wire::twilio::{Inbound, Outbound};

/// Frames a Twilio client may send before its `start` authenticates it
/// (`connected`, then `start`; a few spare).
pub const MAX_FRAMES_BEFORE_AUTH: usize = 8;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/twilio", get(twilio_upgrade))
        .route("/v1/jambonz/stt", get(jambonz::upgrade))
        .route("/v1/jambonz/tts", post(jambonz::tts))
        .route("/v1/audiofork", get(audiofork::upgrade))
        .route("/v1/asterisk", get(asterisk::upgrade))
}

/// A caller that may authenticate later, in-band (Twilio's
/// `customParameters`): `None` when no credential was presented at all; a
/// credential that is presented and wrong is still a 401 before the upgrade.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Authenticated>);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query();
        if crate::auth::credentials::find_credential(query, &parts.headers).is_none() {
            return Ok(Self(None));
        }
        crate::auth::extract::authenticate(state, query, &parts.headers)
            .await
            .map(|caller| Self(Some(caller)))
    }
}

/// The upgrade every telephony WebSocket route shares: the ledger must be
/// writable, frame limits, and the browser subprotocol echoed.
pub(crate) async fn prepare(
    state: &AppState,
    caller: Option<&Authenticated>,
    upgrade: WebSocketUpgrade,
) -> Result<WebSocketUpgrade, Response> {
    if let Err(refused) = state.ledger.ensure_writable().await {
        return Err(refused.into_response());
    }
    let mut upgrade = crate::session::socket::limit_upgrade(upgrade, &state.config);
    if let Some(Credential::Subprotocol { protocol, .. }) = caller.map(|c| &c.credential) {
        upgrade = upgrade.protocols([protocol.clone()]);
    }
    Ok(upgrade)
}

/// The one upgrade-and-run preamble of the keyed telephony dialects
/// (jambonz, `mod_audio_fork`, Asterisk): [`prepare`], a session id and span,
/// [`admit`] (with `refusal` in the dialect's own error shape), then the
/// dialect that `dialect` builds, run on the live core.
pub(crate) async fn serve_keyed<D>(
    state: AppState,
    caller: Authenticated,
    upgrade: WebSocketUpgrade,
    route: &'static str,
    refusal: fn(&'static str, &str) -> Message,
    dialect: impl FnOnce(&AppState) -> D + Send + 'static,
) -> Response
where
    D: Dialect<PoolStream> + 'static,
{
    let upgrade = match prepare(&state, Some(&caller), upgrade).await {
        Ok(upgrade) => upgrade,
        Err(refused) => return refused,
    };
    let tasks = state.tasks.clone();
    // `/v1/jambonz/stt` → `jambonz_…`, as each dialect's ids have read.
    let kind = route
        .trim_start_matches("/v1/")
        .split('/')
        .next()
        .unwrap_or("telephony");
    let session_id = crate::billing::new_session_id(kind);
    let span = tracing::info_span!("telephony", route, session_id = %session_id,
        tenant = %caller.principal.tenant);
    upgrade.on_upgrade(move |mut socket| {
        let session = async move {
            let _active = state.metrics.session_started(Route::WsStt);
            let Some(meter) = admit(
                &mut socket,
                &state,
                &caller.principal,
                route,
                &session_id,
                refusal,
            )
            .await
            else {
                return;
            };
            let core = Core::new(
                meter,
                Limits::from_config(&state.config),
                state.metrics.clone(),
            );
            let mut dialect = dialect(&state);
            core.run(&mut dialect, &mut socket, &state.shutdown).await;
        };
        tasks.track_future(session.instrument(span))
    })
}

/// Admits `principal` (credit, ledger) and starts its session's meter; on
/// refusal the socket has been told and closed.
pub(crate) async fn admit(
    socket: &mut WebSocket,
    state: &AppState,
    principal: &Principal,
    route: &str,
    session_id: &str,
    refusal: impl Fn(&'static str, &str) -> Message,
) -> Option<Meter> {
    let credit = match crate::billing::admit(&state.ledger, principal).await {
        Ok(admission) => admission.credit_micros,
        Err(error) => {
            let reason = match error {
                ApiError::InsufficientCredits(_) => SessionClose::InsufficientCredits,
                ApiError::Internal(_) => SessionClose::Internal,
                _ => SessionClose::LedgerUnavailable,
            };
            let _ = Transport::send(socket, refusal(reason.code(), &error.to_string())).await;
            Transport::close(socket, reason.close_code(), reason.reason()).await;
            return None;
        }
    };
    let mut meter = Meter::start(
        &state.ledger,
        state.prices(),
        principal,
        Service::Stt,
        route,
        session_id.to_owned(),
    );
    meter.limit_credit(credit);
    Some(meter)
}

async fn twilio_upgrade(
    State(state): State<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    upgrade: WebSocketUpgrade,
) -> Response {
    let upgrade = match prepare(&state, caller.as_ref(), upgrade).await {
        Ok(upgrade) => upgrade,
        Err(refused) => return refused,
    };
    let principal = caller.map(|c| c.principal);
    let tasks = state.tasks.clone();
    upgrade.on_upgrade(move |socket| {
        tasks.track_future(serve_twilio(
            socket,
            state,
            principal,
            "/v1/twilio",
            Vec::new(),
        ))
    })
}

/// Serves a Twilio stream on `route`. Without `principal`, the API key must
/// arrive in `start.customParameters` within [`MAX_FRAMES_BEFORE_AUTH`]
/// frames and one idle timeout (`idle_timeout_ms`) from the upgrade; media before it is dropped unprocessed, and
/// a frame that is not Twilio's ends the connection at once (1008).
/// `read` holds frames the route already read.
pub(crate) async fn serve_twilio(
    mut socket: WebSocket,
    state: AppState,
    principal: Option<Principal>,
    route: &'static str,
    read: Vec<Frame>,
) {
    let session_id = crate::billing::new_session_id("twilio");
    let span = tracing::info_span!("twilio", session_id = %session_id, route);
    async move {
        let mut replay = read;
        let principal = match principal {
            Some(principal) => principal,
            None => match authenticate_in_band(&mut socket, &state, &mut replay).await {
                Some(principal) => principal,
                None => return,
            },
        };
        tracing::info!(tenant = %principal.tenant, "twilio stream accepted");
        let _active = state.metrics.session_started(Route::WsStt);
        let refusal = |code, message: &str| json(&Outbound::error(code, message));
        let Some(meter) = admit(&mut socket, &state, &principal, route, &session_id, refusal).await
        else {
            return;
        };
        let tts_meter: twilio::MeterFactory = {
            let (ledger, prices) = (state.ledger.clone(), state.prices());
            let (principal, id) = (principal.clone(), format!("{session_id}_speech"));
            Box::new(move || Meter::start(&ledger, prices, &principal, Service::Tts, route, id))
        };
        let mut core = Core::new(
            meter,
            Limits::from_config(&state.config),
            state.metrics.clone(),
        );
        for frame in replay {
            core.replay(frame);
        }
        let mut dialect = twilio::Twilio::new(
            state.engines.clone(),
            state.metrics.clone(),
            state.live_pacer(),
            tts_meter,
        );
        core.run(&mut dialect, &mut socket, &state.shutdown).await;
    }
    .instrument(span)
    .await
}

/// Reads frames until Twilio's `start` carries a valid API key in its
/// `customParameters`; `None` after telling and closing (1008).
async fn authenticate_in_band(
    socket: &mut WebSocket,
    state: &AppState,
    replay: &mut Vec<Frame>,
) -> Option<Principal> {
    // One deadline for the whole exchange, however the frames trickle in.
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(state.config.idle_timeout_ms);
    let mut pending = std::mem::take(replay).into_iter();
    for _ in 0..MAX_FRAMES_BEFORE_AUTH {
        let frame = match pending.next() {
            Some(frame) => frame,
            None => match tokio::time::timeout_at(deadline, Transport::recv(socket)).await {
                Ok(Some(Ok(Message::Text(text)))) => Frame::Text(text),
                Ok(Some(Ok(Message::Binary(bytes)))) => Frame::Binary(bytes),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return None,
                Err(_) => break,
            },
        };
        // Twilio sends only JSON text frames with an `event`: anything else
        // (a 60db or Deepgram client without a key) is refused at once.
        let Frame::Text(text) = &frame else {
            break;
        };
        if !crate::wire::twilio::looks_like(text) {
            break;
        }
        // `connected`, and anything else before `start`, is skipped (media
        // is never processed before the key is checked).
        if let Ok(Inbound::Start { start, .. }) = serde_json::from_str::<Inbound>(text) {
            let Some(key) = crate::wire::twilio::api_key(&start.custom_parameters) else {
                break;
            };
            let auth = state.auth.clone();
            let checked = tokio::task::spawn_blocking(move || {
                auth.authenticate(Some(&Credential::Query(key)))
            })
            .await;
            match checked {
                Ok(Ok(principal)) => {
                    replay.push(frame);
                    return Some(principal);
                }
                Ok(Err(error)) => {
                    tracing::info!(%error, "twilio stream refused");
                    break;
                }
                Err(_) => break,
            }
        }
    }
    let message = "missing or invalid API key: pass it as the <Parameter name=\"apiKey\"> of the <Stream> (start.customParameters.apiKey), or in the URL or Authorization header";
    let _ = Transport::send(socket, json(&Outbound::error("unauthorized", message))).await;
    Transport::close(socket, 1008, "UNAUTHORIZED").await;
    None
}
