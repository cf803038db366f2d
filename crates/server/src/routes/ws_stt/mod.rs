//! `/ws/stt`: the 60db-style live transcription WebSocket.
//!
//! The upgrade authenticates the caller; the session greets it
//! (`connecting`, `connection_established` with the credit balance), refuses
//! a tenant without credit (1008), then runs on the dialect-free live core
//! ([`crate::session::live`]) with the 60db [`dialect`]. Every accepted
//! connection is metered and writes exactly one usage record on every way
//! out. The protocol is documented in `docs/protocol.md`.
//!
//! # Layout
//! - [`start`]: validating `start` into effective settings.
//! - [`events`]: engine events to wire messages.
//! - [`dialect`]: 60db frames to and from the core.

pub(crate) mod dialect;
pub(crate) mod events;
pub mod start;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tracing::Instrument as _;

use crate::auth::Principal;
use crate::billing::{Meter, Service};
use crate::error::SessionClose;
use crate::metrics::Route;
use crate::routes::telephony::detect::{Detecting, Switch};
use crate::routes::telephony::MaybeAuthenticated;
use crate::server::AppState;
use crate::session::live::{json, Core, Limits, Transport};
use crate::session::socket::unix_ms;
use crate::store::ledger::Outcome;
use crate::store::tenants::dollars_to_micros;
use crate::wire::sixtydb::{ConnectionInfo, SttServerMessage};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/ws/stt", get(upgrade))
}

/// Accepts the upgrade once the caller is authenticated (a bad credential
/// has already been answered with 401 by the extractor). A request with no
/// credential at all is upgraded for Twilio Media Streams only, whose API
/// key arrives in `start.customParameters`.
async fn upgrade(
    State(state): State<AppState>,
    MaybeAuthenticated(caller): MaybeAuthenticated,
    upgrade: WebSocketUpgrade,
) -> Response {
    let upgrade = match crate::routes::telephony::prepare(&state, caller.as_ref(), upgrade).await {
        Ok(upgrade) => upgrade,
        Err(refused) => return refused,
    };
    let tasks = state.tasks.clone();
    // No credential at all: only Twilio, whose key arrives in its `start`.
    let Some(caller) = caller else {
        return upgrade.on_upgrade(move |socket| {
            let session =
                crate::routes::telephony::serve_twilio(socket, state, None, "/ws/stt", Vec::new());
            tasks.track_future(session)
        });
    };
    let session_id = crate::billing::new_session_id("stt");
    let principal = caller.principal;
    let span = tracing::info_span!("ws_stt", session_id = %session_id, tenant = %principal.tenant,
        key = principal.key_prefix.as_deref().unwrap_or("jwt"));
    upgrade.on_upgrade(move |socket| {
        tasks.track_future(run(socket, state, principal, session_id).instrument(span))
    })
}

async fn run(mut socket: WebSocket, state: AppState, principal: Principal, session_id: String) {
    let metrics = state.metrics.clone();
    let _active = metrics.session_started(Route::WsStt);
    tracing::info!("session accepted");
    let mut meter = Meter::start(
        &state.ledger,
        state.prices(),
        &principal,
        Service::Stt,
        "/ws/stt",
        session_id.clone(),
    );

    let balance = match lookup_balance(&state, &principal.tenant).await {
        Ok(balance) => balance,
        Err(error) => {
            tracing::error!(%error, "cannot read the tenant");
            Transport::close(&mut socket, 1011, SessionClose::Internal.reason()).await;
            let _ = meter
                .commit(Outcome::ServerError, Some("internal_error"))
                .await;
            return;
        }
    };
    let _ = Transport::send(
        &mut socket,
        json(&SttServerMessage::Connecting {
            message: "Authenticating...",
            timestamp: unix_ms(),
        }),
    )
    .await;
    let established = SttServerMessage::ConnectionEstablished {
        connection_established: ConnectionInfo {
            service: "stt",
            tenant: principal.tenant.clone(),
            credit_balance: balance,
        },
    };
    if !Transport::send(&mut socket, json(&established)).await {
        let _ = meter.commit(Outcome::Cancelled, None).await;
        return;
    }
    meter.limit_credit(balance.map(dollars_to_micros));
    if balance.is_some_and(|b| b <= 0.0) {
        let reason = SessionClose::InsufficientCredits;
        let refusal = dialect::error(reason.code(), "the tenant has no credit left");
        let _ = Transport::send(&mut socket, refusal).await;
        Transport::close(&mut socket, reason.close_code(), reason.reason()).await;
        let _ = meter.commit(reason.outcome(), Some(reason.code())).await;
        return;
    }

    let core = Core::new(meter, Limits::from_config(&state.config), metrics.clone());
    let sixtydb = dialect::SixtyDb::new(
        state.engines.clone(),
        metrics.clone(),
        state.live_pacer(),
        session_id.clone(),
    );
    let tts_meter: crate::routes::telephony::twilio::MeterFactory = {
        let (ledger, prices) = (state.ledger.clone(), state.prices());
        let id = format!("{session_id}_speech");
        Box::new(move || Meter::start(&ledger, prices, &principal, Service::Tts, "/ws/stt", id))
    };
    let switch = Switch::new(state.clone(), tts_meter);
    let mut dialect = Detecting::new(sixtydb, switch);
    core.run(&mut dialect, &mut socket, &state.shutdown).await;
}

pub(crate) async fn lookup_balance(
    state: &AppState,
    tenant: &str,
) -> Result<Option<f64>, crate::store::StoreError> {
    let store = state.store.clone();
    let tenant = tenant.to_owned();
    let record = tokio::task::spawn_blocking(move || store.tenant(&tenant))
        .await
        .map_err(|e| crate::store::StoreError::Task(e.to_string()))??;
    Ok(record.and_then(|t| t.credit_balance()))
}
