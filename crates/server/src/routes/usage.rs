//! `GET /v1/usage?from=&to=&limit=&after=`: the calling tenant's own metered
//! sessions and totals, never another tenant's. `from`/`to` are Unix seconds
//! or `YYYY-MM-DD` dates (UTC); both optional. Sessions come oldest first,
//! at most `limit` per page ([`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]);
//! `next_after` is the cursor of the next page (`after=`), `null` on the
//! last one. `totals` cover the whole range, not only the page. Rows of live
//! sessions (or of sessions a crash cut short) are listed with outcome
//! `open` and the usage of their last checkpoint.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::macros::format_description;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::server::AppState;
use crate::store::report::{Cursor, UsageQuery as PageQuery};
use crate::store::tenants::micros_to_dollars;
use crate::store::StoreError;

/// Sessions per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u32 = 1000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/usage", get(usage))
}

#[derive(Debug, Deserialize)]
struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Serialize)]
struct UsageBody {
    tenant: String,
    from: Option<i64>,
    to: Option<i64>,
    limit: u32,
    next_after: Option<String>,
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
    sessions: u64,
    audio_seconds: f64,
    characters: i64,
    cost: f64,
    currency: &'static str,
}

/// Parses Unix seconds or a `YYYY-MM-DD` calendar date (midnight UTC).
fn parse_time(field: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(seconds) = value.parse::<i64>() {
        return Ok(seconds);
    }
    time::Date::parse(value, format_description!("[year]-[month]-[day]"))
        .map(|date| date.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            ApiError::InvalidPayload(format!(
                "`{field}` must be Unix seconds or a YYYY-MM-DD date, got `{value}`"
            ))
        })
}

fn parse_limit(value: Option<&str>) -> Result<u32, ApiError> {
    let Some(value) = value else {
        return Ok(DEFAULT_LIMIT);
    };
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| {
            ApiError::InvalidPayload(format!("`limit` must be 1 to {MAX_LIMIT}, got `{value}`"))
        })
}

fn parse_after(value: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    value
        .map(|text| {
            Cursor::decode(text).ok_or_else(|| {
                ApiError::InvalidPayload(format!(
                    "`after` must be a `next_after` value from a previous page, got `{text}`"
                ))
            })
        })
        .transpose()
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
    let limit = parse_limit(query.limit.as_deref())?;
    let after = parse_after(query.after.as_deref())?;
    let tenant = caller.principal.tenant;
    let store = state.store.clone();
    let page_query = PageQuery {
        tenant: tenant.clone(),
        from,
        to,
        limit,
        after,
    };
    let page = tokio::task::spawn_blocking(move || store.usage_page(&page_query))
        .await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
        .map_err(|e| match e.is_unavailable() {
            // The database went away after the key was checked: the same
            // retryable 503 as every other route, not a 500.
            true => ApiError::LedgerUnavailable(e.to_string()),
            false => ApiError::Internal(e.to_string()),
        })?;
    let sessions = page
        .records
        .into_iter()
        .map(|r| UsageRow {
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
        })
        .collect();
    Ok(Json(UsageBody {
        tenant,
        from,
        to,
        limit,
        next_after: page.next.map(Cursor::encode),
        sessions,
        totals: Totals {
            sessions: page.totals.sessions,
            audio_seconds: page.totals.audio_seconds,
            characters: page.totals.characters,
            cost: micros_to_dollars(page.totals.cost_micros),
            currency: "USD",
        },
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
        assert_eq!(parse_time("from", "2024-02-29").unwrap(), 1_709_164_800);
        assert!(parse_time("from", "yesterday").is_err());
        assert!(parse_time("from", "2026-13-01").is_err());
        assert!(parse_time("from", "2024-02-31").is_err());
        assert!(parse_time("from", "2023-02-29").is_err());
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
        assert!(parse_limit(Some("0")).is_err());
        assert!(parse_limit(Some("1001")).is_err());
        assert!(parse_limit(Some("ten")).is_err());
        assert_eq!(parse_after(None).unwrap(), None);
        assert_eq!(
            parse_after(Some("5_7")).unwrap(),
            Some(Cursor {
                started_at: 5,
                id: 7
            })
        );
        assert!(parse_after(Some("x")).is_err());
    }
}
