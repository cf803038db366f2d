//! The JSON report: per utterance, per session and per step (one N), the
//! service-level check of a step, the capacity of a ramp, and the server's
//! CPU time read from `/proc/<pid>/stat`.

use serde::Serialize;

use super::clips::Call;

/// One utterance of one call.
#[derive(Debug, Clone, Serialize)]
pub struct UtteranceReport {
    /// Voice label (`piper:…`, `espeak:…`).
    pub voice: String,
    /// Reference text.
    pub reference: String,
    /// The finals matched to this utterance, in order.
    pub hypothesis: String,
    /// Arrival of the first final covering the utterance minus the send
    /// time of its last audio frame, seconds; `null` when missing.
    pub final_latency_s: Option<f64>,
    /// Arrival of the first partial minus the send time of the
    /// utterance's first frame, seconds; `null` when none came.
    pub first_partial_s: Option<f64>,
}

/// One session (call).
#[derive(Debug, Clone, Serialize)]
pub struct SessionReport {
    /// Session number within its step.
    pub index: usize,
    /// Refused: HTTP 503 at the upgrade or close 1013.
    pub rejected: bool,
    /// Why the session could not run at all.
    pub error: Option<String>,
    /// Problems during the session (server `error` messages, unexpected closes, timeouts).
    pub errors: Vec<String>,
    /// The close code the server sent.
    pub close_code: Option<u16>,
    /// Partials received.
    pub partials: usize,
    /// Finals received (non-empty).
    pub finals: usize,
    /// Utterances no final was matched to.
    pub missing_finals: usize,
    /// WER of all finals against all reference texts (0 = perfect).
    pub wer: Option<f64>,
    /// The reference texts joined.
    pub reference: String,
    /// The finals joined in stream order.
    pub hypothesis: String,
    /// Per utterance.
    pub utterances: Vec<UtteranceReport>,
}

impl SessionReport {
    /// An empty report for the call.
    pub fn new(index: usize, call: &Call) -> Self {
        Self {
            index,
            rejected: false,
            error: None,
            errors: Vec::new(),
            close_code: None,
            partials: 0,
            finals: 0,
            missing_finals: call.utterances.len(),
            wer: None,
            reference: call
                .utterances
                .iter()
                .map(|u| u.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            hypothesis: String::new(),
            utterances: call
                .utterances
                .iter()
                .map(|u| UtteranceReport {
                    voice: u.voice.clone(),
                    reference: u.text.clone(),
                    hypothesis: String::new(),
                    final_latency_s: None,
                    first_partial_s: None,
                })
                .collect(),
        }
    }

    /// This report with a fatal error.
    pub fn failed(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }

    /// Words of the reference.
    pub fn reference_words(&self) -> usize {
        self.reference.split_whitespace().count()
    }
}

/// p50 / p95 / max of a sample, seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Number of values.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile (nearest rank).
    pub p95: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values`.
    pub fn of(mut values: Vec<f64>) -> Self {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let rank = |p: f64| -> Option<f64> {
            if values.is_empty() {
                return None;
            }
            let index = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
            Some(values[index])
        };
        Self {
            count: values.len(),
            p50: rank(0.50),
            p95: rank(0.95),
            max: values.last().copied(),
        }
    }
}

/// The service-level objective a step must meet.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Slo {
    /// Largest allowed p95 final latency, seconds.
    pub p95_final_s: f64,
    /// Largest allowed WER above the one-call baseline (0.03 = 3 points).
    pub wer_margin: f64,
}

/// One step: N concurrent calls.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Concurrent calls.
    pub calls: usize,
    /// Rounds of `calls` concurrent calls played one after another.
    pub rounds: usize,
    /// Wall time of the step, seconds.
    pub wall_s: f64,
    /// Final latency over every utterance of every session.
    pub final_latency_s: Percentiles,
    /// Time to the first partial after speech onset.
    pub first_partial_s: Percentiles,
    /// Partials received per session.
    pub partials_per_call: f64,
    /// Utterances without a final, over all sessions.
    pub missing_finals: usize,
    /// Sessions with errors (fatal or during the session).
    pub sessions_with_errors: usize,
    /// Sessions refused (503 / 1013).
    pub rejections: usize,
    /// Word-weighted WER of all sessions' finals.
    pub wer: Option<f64>,
    /// The same calls' WER when each ran alone (the ramp's N=1 step plays
    /// every distinct call once, alone); `null` without a ramp.
    pub solo_wer: Option<f64>,
    /// Server CPU seconds (user + system) used during the step; `null`
    /// without `--server-pid`.
    pub server_cpu_s: Option<f64>,
    /// `server_cpu_s / wall_s`: cores busy on average.
    pub server_cpu_cores: Option<f64>,
    /// Whether the step met the SLO.
    pub slo_ok: bool,
    /// Why it did not.
    pub slo_failures: Vec<String>,
    /// Every session.
    pub sessions: Vec<SessionReport>,
}

impl StepReport {
    /// Aggregates the sessions of one step.
    pub fn new(
        calls: usize,
        wall_s: f64,
        sessions: Vec<SessionReport>,
        cpu_s: Option<f64>,
    ) -> Self {
        let utterances = || sessions.iter().flat_map(|s| s.utterances.iter());
        let words: usize = sessions
            .iter()
            .filter(|s| s.wer.is_some())
            .map(|s| s.reference_words())
            .sum();
        let weighted: f64 = sessions
            .iter()
            .filter_map(|s| s.wer.map(|w| w * s.reference_words() as f64))
            .sum();
        Self {
            calls,
            rounds: 1,
            wall_s,
            final_latency_s: Percentiles::of(
                utterances().filter_map(|u| u.final_latency_s).collect(),
            ),
            first_partial_s: Percentiles::of(
                utterances().filter_map(|u| u.first_partial_s).collect(),
            ),
            partials_per_call: sessions.iter().map(|s| s.partials as f64).sum::<f64>()
                / sessions.len().max(1) as f64,
            missing_finals: sessions.iter().map(|s| s.missing_finals).sum(),
            sessions_with_errors: sessions
                .iter()
                .filter(|s| s.error.is_some() || !s.errors.is_empty())
                .count(),
            rejections: sessions.iter().filter(|s| s.rejected).count(),
            wer: (words > 0).then(|| weighted / words as f64),
            solo_wer: None,
            server_cpu_s: cpu_s,
            server_cpu_cores: cpu_s.map(|c| c / wall_s.max(1e-9)),
            slo_ok: false,
            slo_failures: Vec::new(),
            sessions,
        }
    }

    /// Checks the SLO (`solo_wer`: the WER of the same calls alone, when known).
    pub fn check(&mut self, slo: &Slo, solo_wer: Option<f64>) {
        self.solo_wer = solo_wer;
        let mut failures = Vec::new();
        match self.final_latency_s.p95 {
            Some(p95) if p95 <= slo.p95_final_s => {}
            Some(p95) => failures.push(format!("p95 final {p95:.2} s > {:.2} s", slo.p95_final_s)),
            None => failures.push("no final latency measured".into()),
        }
        if self.missing_finals > 0 {
            failures.push(format!("{} missing finals", self.missing_finals));
        }
        if self.rejections > 0 {
            failures.push(format!("{} rejected sessions", self.rejections));
        }
        if self.sessions_with_errors > 0 {
            failures.push(format!(
                "{} sessions with errors",
                self.sessions_with_errors
            ));
        }
        if let (Some(wer), Some(base)) = (self.wer, solo_wer) {
            if wer > base + slo.wer_margin + 1e-9 {
                failures.push(format!(
                    "WER {:.1} % > {:.1} % alone + {:.1} points",
                    wer * 100.0,
                    base * 100.0,
                    slo.wer_margin * 100.0
                ));
            }
        }
        self.slo_ok = failures.is_empty();
        self.slo_failures = failures;
    }
}

/// The largest N of the steps that met the SLO, when every smaller step
/// met it too (the ramp stops at the first failure).
pub fn capacity(steps: &[StepReport]) -> Option<usize> {
    steps.iter().take_while(|s| s.slo_ok).map(|s| s.calls).max()
}

/// User + system CPU seconds of process `pid`, from `/proc/<pid>/stat`.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) overall: 12th and 13th after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second())
}

/// `getconf CLK_TCK`, 100 (Linux's USER_HZ) when unavailable.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_capacity_stops_at_the_first_failure() {
        let p = Percentiles::of((1..=20).map(f64::from).collect());
        assert_eq!(
            (p.count, p.p50, p.p95, p.max),
            (20, Some(10.0), Some(19.0), Some(20.0))
        );
        assert_eq!(Percentiles::of(vec![]).p95, None);
        let step = |calls, ok| {
            let mut s = StepReport::new(calls, 1.0, Vec::new(), None);
            s.slo_ok = ok;
            s
        };
        assert_eq!(
            capacity(&[step(1, true), step(2, true), step(4, false), step(6, true)]),
            Some(2)
        );
        assert_eq!(capacity(&[step(1, false)]), None);
        assert!(process_cpu_seconds(std::process::id()).is_some());
    }
}
