//! A per-tenant sliding-window rate limit: at most N sends in any 60 s.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Counts recent sends per tenant.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: usize,
    sends: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `per_minute` sends per tenant in any 60 s window.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1) as usize,
            sends: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one send for `tenant` at `now`, or says how long to wait.
    pub fn try_acquire(&self, tenant: &str, now: Instant) -> Result<(), Duration> {
        let mut sends = self.sends.lock().unwrap_or_else(|p| p.into_inner());
        // Forget idle tenants so the map stays small.
        if sends.len() > 1024 {
            sends.retain(|_, times| times.back().is_some_and(|t| now - *t < WINDOW));
        }
        let times = sends.entry(tenant.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= self.per_minute {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_tenant_separately_within_a_minute() {
        let limiter = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.try_acquire("a", t0).is_ok());
        assert!(limiter
            .try_acquire("a", t0 + Duration::from_secs(1))
            .is_ok());
        let wait = limiter
            .try_acquire("a", t0 + Duration::from_secs(2))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(58));
        assert!(limiter.try_acquire("b", t0).is_ok());
        assert!(limiter.try_acquire("a", t0 + WINDOW).is_ok());
    }
}
