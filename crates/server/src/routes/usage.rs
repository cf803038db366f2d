//! `GET /v1/usage?from=&to=`: the calling tenant's own metered sessions and
//! totals, never another tenant's. `from`/`to` are Unix seconds or
//! `YYYY-MM-DD` dates (UTC); both optional. Rows of live sessions (or of
//! sessions a crash cut short) are listed with outcome `open` and the usage
//! of their last checkpoint.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::ledger::UsageRecord;
use crate::store::tenants::micros_to_dollars;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/usage", get(usage))
}

#[derive(Debug, Deserialize)]
struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Serialize)]
struct UsageBody {
    tenant: String,
    from: Option<i64>,
    to: Option<i64>,
    sessions: Vec<UsageRow>,
    totals: Totals,
}

#[derive(Debug, Serialize)]
struct UsageRow {
    session_id: String,
    service: String,
    route: String,
    started_at: i64,
    ended_at: i64,
    audio_seconds: f64,
    characters: i64,
    billed_seconds: f64,
    cost: f64,
    outcome: &'static str,
    error_code: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    sessions: usize,
    audio_seconds: f64,
    characters: i64,
    cost: f64,
    currency: &'static str,
}

/// Parses Unix seconds or a `YYYY-MM-DD` date (midnight UTC).
fn parse_time(field: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(seconds) = value.parse::<i64>() {
        return Ok(seconds);
    }
    let parts: Vec<&str> = value.split('-').collect();
    if let [y, m, d] = parts.as_slice() {
        if let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) {
            if (1..=12).contains(&m) && (1..=31).contains(&d) {
                return Ok(days_from_civil(y, m, d) * 86_400);
            }
        }
    }
    Err(ApiError::InvalidPayload(format!(
        "`{field}` must be Unix seconds or YYYY-MM-DD, got `{value}`"
    )))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

async fn usage(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<UsageQuery>,
) -> Result<Json<UsageBody>, ApiError> {
    let from = query
        .from
        .as_deref()
        .map(|v| parse_time("from", v))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|v| parse_time("to", v))
        .transpose()?;
    let tenant = caller.principal.tenant;
    let store = state.store.clone();
    let lookup = tenant.clone();
    let records = tokio::task::spawn_blocking(move || store.usage_for_tenant(&lookup))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let in_range = |r: &UsageRecord| {
        from.is_none_or(|f| r.started_at >= f) && to.is_none_or(|t| r.started_at < t)
    };
    let mut totals = Totals {
        currency: "USD",
        ..Totals::default()
    };
    let sessions: Vec<UsageRow> = records
        .into_iter()
        .filter(in_range)
        .map(|r| {
            totals.sessions += 1;
            totals.audio_seconds += r.audio_seconds;
            totals.characters += r.characters;
            totals.cost += micros_to_dollars(r.cost_micros);
            UsageRow {
                session_id: r.session_id,
                service: r.service,
                route: r.route,
                started_at: r.started_at,
                ended_at: r.ended_at,
                audio_seconds: r.audio_seconds,
                characters: r.characters,
                billed_seconds: r.billed_seconds,
                cost: micros_to_dollars(r.cost_micros),
                outcome: r.outcome.as_str(),
                error_code: r.error_code,
            }
        })
        .collect();
    Ok(Json(UsageBody {
        tenant,
        from,
        to,
        sessions,
        totals,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_unix_seconds_parse() {
        assert_eq!(parse_time("from", "0").unwrap(), 0);
        assert_eq!(parse_time("from", "1970-01-02").unwrap(), 86_400);
        assert_eq!(parse_time("from", "2026-11-22").unwrap(), 1_795_305_600);
        assert!(parse_time("from", "yesterday").is_err());
        assert!(parse_time("from", "2026-13-01").is_err());
    }
}
