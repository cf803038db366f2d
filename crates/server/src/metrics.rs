//! Prometheus metrics, kept in atomics and rendered as text on `GET /metrics`.
//!
//! The label sets are fixed (routes and services are known at compile time),
//! so there is no registry and no allocation on the hot path: a session bumps
//! an atomic. Histograms use fixed latency buckets in seconds.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The metered routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/ws/stt`.
    WsStt,
    /// `/ws/tts`.
    WsTts,
    /// `/v1/listen` (WebSocket).
    Listen,
    /// `/v1/audio/transcriptions` and `POST /v1/listen`.
    Transcriptions,
    /// `/v1/audio/speech`.
    Speech,
}

impl Route {
    const ALL: [Route; 5] = [
        Self::WsStt,
        Self::WsTts,
        Self::Listen,
        Self::Transcriptions,
        Self::Speech,
    ];

    /// The route's path, used as the label value.
    pub fn path(self) -> &'static str {
        match self {
            Self::WsStt => "/ws/stt",
            Self::WsTts => "/ws/tts",
            Self::Listen => "/v1/listen",
            Self::Transcriptions => "/v1/audio/transcriptions",
            Self::Speech => "/v1/audio/speech",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

const BUCKETS: [f64; 12] = [
    0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0,
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation in seconds.
    pub fn observe(&self, seconds: f64) {
        let seconds = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in self.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Every metric the server exports.
#[derive(Debug, Default)]
pub struct Metrics {
    sessions_active: [AtomicU64; 5],
    sessions_total: [AtomicU64; 5],
    rejected_busy: AtomicU64,
    rejected_auth: AtomicU64,
    stt_audio_micros: AtomicU64,
    tts_audio_micros: AtomicU64,
    tts_characters: AtomicU64,
    /// Seconds from the end of the audio a partial covers to its sending.
    pub partial_latency: Histogram,
    /// Seconds from the end of an utterance to its final's sending.
    pub final_latency: Histogram,
    /// Seconds from a TTS request to its first audio.
    pub tts_first_audio: Histogram,
}

/// Decrements the active-session gauge when dropped.
#[derive(Debug)]
pub struct ActiveSession<'a> {
    metrics: &'a Metrics,
    route: Route,
}

impl Drop for ActiveSession<'_> {
    fn drop(&mut self) {
        self.metrics.sessions_active[self.route.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a session as started and active until the guard drops.
    pub fn session_started(&self, route: Route) -> ActiveSession<'_> {
        self.sessions_total[route.index()].fetch_add(1, Ordering::Relaxed);
        self.sessions_active[route.index()].fetch_add(1, Ordering::Relaxed);
        ActiveSession {
            metrics: self,
            route,
        }
    }

    /// Sessions currently open on `route`.
    pub fn active(&self, route: Route) -> u64 {
        self.sessions_active[route.index()].load(Ordering::Relaxed)
    }

    /// Counts a request rejected because the workers were full.
    pub fn rejected_busy(&self) {
        self.rejected_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request rejected for bad credentials.
    pub fn rejected_auth(&self) {
        self.rejected_auth.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds transcribed audio.
    pub fn add_stt_audio(&self, seconds: f64) {
        self.stt_audio_micros
            .fetch_add((seconds.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    /// Adds synthesized audio and characters.
    pub fn add_tts(&self, seconds: f64, characters: u64) {
        self.tts_audio_micros
            .fetch_add((seconds.max(0.0) * 1e6) as u64, Ordering::Relaxed);
        self.tts_characters.fetch_add(characters, Ordering::Relaxed);
    }

    /// Renders the Prometheus text exposition format. `extra` appends
    /// gauges owned by others (worker queues).
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::with_capacity(4096);
        for (name, help, values) in [
            (
                "vocalis_sessions_active",
                "Open sessions and requests by route.",
                &self.sessions_active,
            ),
            (
                "vocalis_sessions_total",
                "Sessions and requests accepted by route.",
                &self.sessions_total,
            ),
        ] {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for route in Route::ALL {
                let _ = writeln!(
                    out,
                    "{name}{{route=\"{}\"}} {}",
                    route.path(),
                    values[route.index()].load(Ordering::Relaxed)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP vocalis_rejections_total Requests rejected before any work.\n# TYPE vocalis_rejections_total counter"
        );
        let _ = writeln!(
            out,
            "vocalis_rejections_total{{reason=\"busy\"}} {}",
            self.rejected_busy.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "vocalis_rejections_total{{reason=\"unauthorized\"}} {}",
            self.rejected_auth.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP vocalis_audio_seconds_total Audio transcribed (stt) or synthesized (tts).\n# TYPE vocalis_audio_seconds_total counter"
        );
        let _ = writeln!(
            out,
            "vocalis_audio_seconds_total{{service=\"stt\"}} {}",
            self.stt_audio_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "vocalis_audio_seconds_total{{service=\"tts\"}} {}",
            self.tts_audio_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP vocalis_tts_characters_total Characters synthesized.\n# TYPE vocalis_tts_characters_total counter\nvocalis_tts_characters_total {}",
            self.tts_characters.load(Ordering::Relaxed)
        );
        self.partial_latency.render(
            "vocalis_stt_partial_latency_seconds",
            "Delay of partial transcripts.",
            &mut out,
        );
        self.final_latency.render(
            "vocalis_stt_final_latency_seconds",
            "Delay of final transcripts after the utterance ends.",
            &mut out,
        );
        self.tts_first_audio.render(
            "vocalis_tts_first_audio_seconds",
            "Time to first synthesized audio.",
            &mut out,
        );
        for (name, help, value) in extra {
            // Pool counters (`…_total`) only grow.
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_gauge_follows_the_guard() {
        let metrics = Metrics::default();
        {
            let _session = metrics.session_started(Route::WsStt);
            assert_eq!(metrics.active(Route::WsStt), 1);
        }
        assert_eq!(metrics.active(Route::WsStt), 0);
        let text = metrics.render(&[]);
        assert!(
            text.contains("vocalis_sessions_total{route=\"/ws/stt\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("vocalis_sessions_active{route=\"/ws/stt\"} 0"),
            "{text}"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.final_latency.observe(0.04);
        metrics.final_latency.observe(0.6);
        let text = metrics.render(&[("vocalis_worker_queue_depth", "Queued jobs.", 3.0)]);
        assert!(
            text.contains("vocalis_stt_final_latency_seconds_bucket{le=\"0.05\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("vocalis_stt_final_latency_seconds_bucket{le=\"0.75\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("vocalis_stt_final_latency_seconds_count 2"),
            "{text}"
        );
        assert!(text.contains("vocalis_worker_queue_depth 3"), "{text}");
    }
}
