//! `vocalis loadgen`: the telephony load generator. N concurrent simulated
//! phone calls (real speech, 8 kHz μ-law, 20 ms frames at real-time pace)
//! on `/ws/stt` or `WS /v1/listen`; per utterance the final latency and the
//! first partial, per session missing finals, errors, rejections and WER;
//! `--ramp` raises N until the SLO breaks and reports the capacity; `--tts`
//! measures `/ws/tts` time to first audio and playout underruns. Writes a
//! JSON report and an SVG capacity plot.
//!
//! - [`clips`]: the speech clip set and calls built from it.
//! - [`call`]: one STT call over the wire.
//! - [`tts`]: one TTS session over the wire.
//! - [`report`]: aggregation, the SLO check, server CPU time.
//! - [`plot`]: the capacity curve.
//! - [`target`]: the loopback-only target and the default key.

mod call;
mod clips;
mod plot;
mod report;
mod target;
mod tts;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;

use call::{CallPlan, Progress, Route};
use clips::{CallShape, ClipSet, VoiceSpec};
use report::{Slo, StepReport};

/// The ramp's default steps of concurrent calls.
const DEFAULT_RAMP: &str = "1,2,4,6,8,10,12,14,16,20,24,28,32,40,48";
/// The most concurrent sessions one step may open.
const MAX_CALLS: usize = 256;
/// The most rounds of one step.
const MAX_ROUNDS: usize = 64;

/// Flags of `vocalis loadgen`.
#[derive(Debug, clap::Args)]
pub struct LoadgenArgs {
    /// Server address (ws:// or http://). Only loopback without `--allow-remote`.
    #[arg(long, default_value = "ws://127.0.0.1:8080")]
    url: String,
    /// API key (default: the developer key the server wrote into its data dir).
    #[arg(long, env = "VOCALIS_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Live route of the calls.
    #[arg(long, value_enum, default_value = "stt")]
    route: Route,
    /// Concurrent calls (without `--ramp`), or concurrent TTS sessions with `--tts`.
    #[arg(long, default_value_t = 1)]
    calls: usize,
    /// Raise the number of calls step by step until the SLO breaks.
    #[arg(long)]
    ramp: bool,
    /// The ramp's steps, comma separated (a first step of 1 is added when missing).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_RAMP)]
    ramp_steps: Vec<usize>,
    /// Rounds of N concurrent calls per step (default: with `--ramp`, enough
    /// rounds to play every distinct call once; else 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    rounds: Option<u64>,
    /// SLO: largest p95 final latency, seconds.
    #[arg(long, default_value_t = 1.0)]
    slo_p95: f64,
    /// SLO: largest WER increase over one call alone, in WER points.
    #[arg(long, default_value_t = 3.0)]
    slo_wer_points: f64,
    /// Utterances per call.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=12))]
    utterances: u64,
    /// Silence between utterances, ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pause_ms: u64,
    /// Silence before the first utterance, ms.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    lead_ms: u64,
    /// Silence after the last utterance, ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    tail_ms: u64,
    /// Session starts are spread over this many ms.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    stagger_ms: u64,
    /// How long to wait for the server to close after the audio, seconds
    /// (four times this for a `--tts` session).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    drain_s: u64,
    /// Voices of the clip set: `piper:NAME` / `espeak:NAME`, comma separated.
    #[arg(long, value_delimiter = ',', default_value = clips::DEFAULT_VOICES)]
    voices: Vec<String>,
    /// Use only the first N of the 12 built-in sentences (fewer distinct
    /// calls: a quicker ramp baseline, less variety).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=12))]
    sentences: u64,
    /// Clip cache directory (default: ~/.cache/vocalis/loadgen).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Model store root (for the Piper voice).
    #[arg(long, env = "VOCALIS_MODELS")]
    models_dir: Option<PathBuf>,
    /// Measure `/ws/tts` instead: `--calls` sessions each speaking a paragraph.
    #[arg(long)]
    tts: bool,
    /// Server process id, to report its CPU time (from /proc/<pid>/stat).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Write the JSON report here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the SVG capacity plot here.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    tool: &'static str,
    version: &'static str,
    started_unix_s: u64,
    url: String,
    route: Route,
    machine: Machine,
    /// The server's `/ws/health` report at the start.
    server: Option<serde_json::Value>,
    slo: Slo,
    utterances_per_call: u64,
    call_seconds: Option<f64>,
    /// Different calls in the rotation (session i plays call i mod this).
    distinct_calls: Option<usize>,
    voices: Vec<String>,
    steps: Vec<StepReport>,
    /// The largest N that met the SLO (with `--ramp`); `null` otherwise.
    capacity: Option<usize>,
    tts: Option<tts::TtsReport>,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: Option<String>,
    /// `/proc/loadavg` when the run started.
    load_average: Option<String>,
}

/// Runs `vocalis loadgen`.
pub fn run(args: LoadgenArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let base_url = runtime.block_on(target::check_target(&args.url, args.allow_remote))?;
    let key = match &args.key {
        Some(key) => key.clone(),
        None => target::default_key()?,
    };
    let slo = Slo {
        p95_final_s: args.slo_p95,
        wer_margin: args.slo_wer_points / 100.0,
    };
    let mut report = Report {
        tool: "vocalis loadgen",
        version: env!("CARGO_PKG_VERSION"),
        started_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        url: base_url.clone(),
        route: args.route,
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: target::cpu_model(),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .map(|s| s.trim().to_owned()),
        },
        server: runtime.block_on(target::server_health(&base_url)),
        slo,
        utterances_per_call: args.utterances,
        call_seconds: None,
        distinct_calls: None,
        voices: args.voices.clone(),
        steps: Vec::new(),
        capacity: None,
        tts: None,
    };
    let calls = args.calls.clamp(1, MAX_CALLS);
    if args.tts {
        let cpu_before = args.server_pid.and_then(report::process_cpu_seconds);
        let sessions = runtime.block_on(run_tts_step(&args, &base_url, &key, calls));
        let cpu = cpu_delta(args.server_pid, cpu_before);
        let tts = tts::TtsReport::new(sessions, cpu);
        eprintln!(
            "tts: {} sessions, time to first audio p50 {} p95 {}, {} underruns, {} with errors",
            tts.sessions_count,
            secs(tts.time_to_first_audio_s.p50),
            secs(tts.time_to_first_audio_s.p95),
            tts.underruns,
            tts.sessions_with_errors
        );
        report.tts = Some(tts);
        return write_report(&args, &report);
    }

    let voices = args
        .voices
        .iter()
        .map(|v| VoiceSpec::parse(v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| vocalis_server::config::default_cache_dir().join("loadgen"));
    eprintln!("building the clip set in {} …", cache_dir.display());
    let clips = ClipSet::load(
        &voices,
        usize::try_from(args.sentences).unwrap_or(12),
        &cache_dir,
        args.models_dir.clone(),
    )?;
    let shape = CallShape {
        utterances: usize::try_from(args.utterances).unwrap_or(1),
        lead_ms: args.lead_ms,
        pause_ms: args.pause_ms,
        tail_ms: args.tail_ms,
    };
    report.call_seconds = Some(clips.call(0, shape).seconds());
    eprintln!(
        "{} voices; a call is {:.1} s",
        clips.voice_count(),
        clips.call(0, shape).seconds()
    );

    let steps: Vec<usize> = if args.ramp {
        // The ramp starts with one call alone: the WER baseline.
        let mut steps = vec![1];
        steps.extend(args.ramp_steps.iter().map(|&n| n.clamp(1, MAX_CALLS)));
        steps.dedup();
        steps
    } else {
        vec![calls]
    };
    // Per distinct call: (WER, reference words) when it ran alone.
    let distinct = clips.distinct_calls(shape);
    report.distinct_calls = Some(distinct);
    let mut solo: Vec<Option<(f64, usize)>> = vec![None; distinct];
    for (i, &n) in steps.iter().enumerate() {
        let cpu_before = args.server_pid.and_then(report::process_cpu_seconds);
        let started = std::time::Instant::now();
        // A ramp step plays every distinct call at least once, in rounds
        // of `n` concurrent calls, so every step is judged on the same
        // calls; the one-call step is then every call alone: the WER baseline.
        let solo_step = args.ramp && i == 0 && n == 1;
        let rounds = match args.rounds {
            Some(rounds) => usize::try_from(rounds).unwrap_or(1),
            None if args.ramp => distinct.div_ceil(n),
            None => 1,
        }
        .clamp(1, MAX_ROUNDS);
        let mut sessions = Vec::with_capacity(n * rounds);
        for round in 0..rounds {
            let first = round * n;
            sessions.append(&mut runtime.block_on(run_step(
                &args,
                &base_url,
                &key,
                &clips,
                shape,
                first..first + n,
            )));
        }
        let wall = started.elapsed().as_secs_f64();
        if let Some(error) = sessions.iter().find_map(|s| s.error.as_deref()) {
            if error.contains("HTTP 401") || error.contains("HTTP 403") {
                bail!("the server refused the key ({error}); pass --key or VOCALIS_API_KEY");
            }
        }
        if solo_step {
            for s in &sessions {
                solo[s.index % distinct] = s.wer.map(|w| (w, s.reference_words()));
            }
        }
        let solo_wer = solo_baseline(&solo, &sessions);
        let mut step = StepReport::new(n, wall, sessions, cpu_delta(args.server_pid, cpu_before));
        step.rounds = rounds;
        step.check(&slo, solo_wer);
        eprintln!(
            "N={n:>3}: p50 final {} p95 {} | first partial p50 {} | {:.1} partials/call | missing {} | rejected {} | errors {} | WER {} (alone {}) | server CPU {} → {}",
            secs(step.final_latency_s.p50),
            secs(step.final_latency_s.p95),
            secs(step.first_partial_s.p50),
            step.partials_per_call,
            step.missing_finals,
            step.rejections,
            step.sessions_with_errors,
            percent(step.wer),
            percent(step.solo_wer),
            step.server_cpu_cores.map_or("-".into(), |c| format!("{c:.2} cores")),
            if step.slo_ok { "ok".to_owned() } else { step.slo_failures.join(", ") },
        );
        let ok = step.slo_ok;
        report.steps.push(step);
        if args.ramp && !ok {
            break;
        }
    }
    if args.ramp {
        report.capacity = report::capacity(&report.steps);
        eprintln!(
            "capacity: {} calls at p95 final ≤ {} s",
            report.capacity.map_or("none".into(), |c| c.to_string()),
            args.slo_p95
        );
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "vocalis {} capacity, {} (8 kHz μ-law calls)",
            env!("CARGO_PKG_VERSION"),
            match args.route {
                Route::Stt => "/ws/stt",
                Route::Listen => "/v1/listen",
            }
        );
        plot::write_svg(path, &report.steps, args.slo_p95, report.capacity, &title)?;
        eprintln!("plot → {}", path.display());
    }
    write_report(&args, &report)
}

/// Runs `n` concurrent calls, starts spread over `--stagger-ms`.
async fn run_step(
    args: &LoadgenArgs,
    base_url: &str,
    key: &str,
    clips: &ClipSet,
    shape: CallShape,
    indices: std::ops::Range<usize>,
) -> Vec<report::SessionReport> {
    let n = indices.len();
    let progress = Arc::new(Progress::default());
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "N={len} [{elapsed_precise}] {pos}/{len} calls done {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for (slot, index) in indices.enumerate() {
        let plan = CallPlan {
            index,
            route: args.route,
            base_url: base_url.to_owned(),
            key: key.to_owned(),
            call: Arc::new(clips.call(index, shape)),
            drain: Duration::from_secs(args.drain_s),
        };
        let delay = Duration::from_millis(args.stagger_ms) * u32::try_from(slot).unwrap_or(0)
            / u32::try_from(n).unwrap_or(1).max(1);
        let progress = Arc::clone(&progress);
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            call::run_call(plan, progress).await
        });
    }
    let mut sessions = Vec::with_capacity(n);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    while !tasks.is_empty() {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(session)) => {
                    sessions.push(session);
                    bar.inc(1);
                }
                Some(Err(error)) => eprintln!("a call task failed: {error}"),
                None => break,
            },
            _ = ticker.tick() => bar.set_message(format!(
                "| {} running, {} finals, {} rejected",
                progress.running.load(Ordering::Relaxed),
                progress.finals.load(Ordering::Relaxed),
                progress.rejected.load(Ordering::Relaxed),
            )),
        }
    }
    bar.finish_and_clear();
    sessions.sort_by_key(|s| s.index);
    sessions
}

/// Runs `n` concurrent TTS sessions.
async fn run_tts_step(
    args: &LoadgenArgs,
    base_url: &str,
    key: &str,
    n: usize,
) -> Vec<tts::TtsSession> {
    let bar = indicatif::ProgressBar::new(n as u64);
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..n {
        let (base_url, key) = (base_url.to_owned(), key.to_owned());
        let delay = Duration::from_millis(args.stagger_ms) * u32::try_from(index).unwrap_or(0)
            / u32::try_from(n).unwrap_or(1).max(1);
        let drain = Duration::from_secs(args.drain_s.saturating_mul(4));
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            tts::run_tts(index, base_url, key, drain).await
        });
    }
    let mut sessions = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(session) => sessions.push(session),
            Err(error) => eprintln!("a TTS task failed: {error}"),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    sessions.sort_by_key(|s| s.index);
    sessions
}

fn cpu_delta(pid: Option<u32>, before: Option<f64>) -> Option<f64> {
    Some(report::process_cpu_seconds(pid?)? - before?)
}

/// Word-weighted WER of `sessions`' calls when each ran alone; `None`
/// unless every one of them was measured alone.
fn solo_baseline(solo: &[Option<(f64, usize)>], sessions: &[report::SessionReport]) -> Option<f64> {
    let (mut weighted, mut words) = (0.0, 0);
    for s in sessions.iter().filter(|s| s.wer.is_some()) {
        let (wer, w) = solo.get(s.index % solo.len().max(1)).copied().flatten()?;
        weighted += wer * w as f64;
        words += w;
    }
    (words > 0).then(|| weighted / words as f64)
}

fn percent(value: Option<f64>) -> String {
    value.map_or("-".into(), |w| format!("{:.1} %", w * 100.0))
}

fn secs(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.2} s"))
}

fn write_report(args: &LoadgenArgs, report: &Report) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    match &args.out {
        Some(path) => {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("report → {}", path.display());
        }
        None => println!("{json}"),
    }
    Ok(())
}
