//! CPU cost of the live recogniser's decodes, per kind, on 8 kHz μ-law calls.
//!
//! ```text
//! cargo run --release -p vocalis-inference --example live_vs_file_wer   # builds the clips once
//! cargo run --release -p vocalis-inference --example partial_cost -- \
//!     [--partial-min-ctx 256] [--partial-context] [--interval-ms 500] [--calls N] \
//!     [--final-beam N] [--speculative-lead-ms MS]
//! ```
//!
//! Plays the calls of `live_vs_file_wer` (same clips, read from its cache
//! in `~/.cache/vocalis/live-wer/`) through a [`StreamingRecognizer`], runs
//! every decode as soon as it is handed out on one single-threaded worker
//! (as the server's pool does) and reports, per decode kind, how many ran,
//! their encoder frames and the thread CPU time they took, how many finals
//! came from a partial (no final decode), the finals' WER, and how far the
//! partials were from the final's words (a proxy for partial quality).
//! Deterministic apart from the CPU times, and those are thread CPU time
//! (`/proc/thread-self/schedstat`), so a busy machine disturbs them little.

#[path = "support/live_calls.rs"]
mod live_calls;

use live_calls::*;
use std::sync::Arc;

use vocalis_audio::{g711, pcm, StreamingResampler};
use vocalis_inference::runtime;
use vocalis_inference::streaming::{
    DecodeKind, PartialDecode, StreamEvent, StreamingConfig, StreamingRecognizer,
};
use vocalis_inference::stt::wer::{normalize_words, word_error_rate};
use vocalis_inference::stt::{
    audio_ctx_for, SttModel, SttModelConfig, SttWorker, Transcribe, TranscribeOptions,
};
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};

/// CPU time of the calling thread, seconds.
fn thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// The cached calls of `live_vs_file_wer` (which builds the cache).
fn cached_calls() -> Result<Vec<Call>, Error> {
    calls(VOICES, |voice, text| {
        let path = clip_path(voice, text);
        std::fs::read(&path).map_err(|e| {
            format!(
                "{}: {e} (run the live_vs_file_wer example first)",
                path.display()
            )
            .into()
        })
    })
}

#[derive(Default)]
struct Kind {
    decodes: usize,
    frames: u64,
    cpu_s: f64,
    audio_s: f64,
}

#[derive(Default)]
struct Totals {
    partial: Kind,
    fin: Kind,
    finals: usize,
    partial_events: usize,
    degenerate_partials: usize,
    /// Partial words differing from the same number of words of the final.
    partial_errors: f64,
    partial_words: usize,
    vad_cpu_s: f64,
}

fn partial_errors(partial: &str, final_text: &str) -> (f64, usize) {
    let p = normalize_words(partial);
    let f = normalize_words(final_text);
    let prefix = f[..p.len().min(f.len())].join(" ");
    (
        word_error_rate(&prefix, &p.join(" ")) * p.len().min(f.len()).max(1) as f64,
        p.len(),
    )
}

fn run_call(
    worker: &mut SttWorker,
    vad: &Vad,
    config: &StreamingConfig,
    mulaw: &[u8],
    t: &mut Totals,
) -> Result<Vec<String>, Error> {
    let mut rec = StreamingRecognizer::new(vad, config.clone())?;
    let mut resampler = StreamingResampler::new(8_000, 16_000)?;
    let mut events = Vec::new();
    let mut pcm16 = Vec::new();
    let mut decode = |rec: &mut StreamingRecognizer,
                      t: &mut Totals,
                      events: &mut Vec<StreamEvent>|
     -> Result<(), Error> {
        while let Some(request) = rec.next_request() {
            let before = thread_cpu();
            let result = worker.transcribe(&request.audio, &request.options);
            let cpu = thread_cpu() - before;
            let kind = match request.kind {
                DecodeKind::Partial => &mut t.partial,
                DecodeKind::Final => &mut t.fin,
            };
            kind.decodes += 1;
            kind.cpu_s += cpu;
            kind.audio_s += request.audio.len() as f64 / 16_000.0;
            let window = audio_ctx_for(request.audio.len(), 1500, request.options.audio_ctx);
            kind.frames += if window == 0 { 1500 } else { window as u64 };
            if request.kind == DecodeKind::Partial {
                if let Ok(tr) = &result {
                    let secs = request.audio.len() as f64 / 16_000.0;
                    if tr.words.len() as f64 > 6.0 * secs + 3.0 {
                        t.degenerate_partials += 1;
                    }
                }
            }
            events.extend(rec.complete(request.ticket, result)?);
        }
        Ok(())
    };
    let mut vad_cpu = 0.0;
    for frame in mulaw.chunks(160) {
        let pcm8: Vec<f32> = frame
            .iter()
            .map(|&b| pcm::i16_to_f32(g711::mulaw_to_linear(b)))
            .collect();
        pcm16.clear();
        resampler.push(&pcm8, &mut pcm16)?;
        let before = thread_cpu();
        events.extend(rec.push(&pcm16)?);
        vad_cpu += thread_cpu() - before;
        decode(&mut rec, t, &mut events)?;
    }
    pcm16.clear();
    resampler.flush(&mut pcm16)?;
    events.extend(rec.push(&pcm16)?);
    events.extend(rec.finish()?);
    decode(&mut rec, t, &mut events)?;
    t.vad_cpu_s += vad_cpu;
    // Partials against the final that follows them.
    let mut finals = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for e in events {
        match e {
            StreamEvent::Partial { text, .. } => pending.push(text),
            StreamEvent::Final { text, .. } => {
                for p in pending.drain(..) {
                    let (errors, words) = partial_errors(&p, &text);
                    t.partial_errors += errors;
                    t.partial_words += words;
                    t.partial_events += 1;
                }
                finals.push(text);
            }
            _ => {}
        }
    }
    t.finals += finals.len();
    Ok(finals)
}

fn main() -> Result<(), Error> {
    let mut partial = PartialDecode::default();
    let mut interval_ms = StreamingConfig::default().interim_interval_ms;
    let mut max_calls = usize::MAX;
    let mut interim = true;
    let mut final_beam = StreamingConfig::default().final_beam_size;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--partial-min-ctx" => partial.min_audio_ctx = it.next().ok_or("N")?.parse()?,
            "--partial-context" => partial.context = true,
            "--interval-ms" => interval_ms = it.next().ok_or("MS")?.parse()?,
            "--calls" => max_calls = it.next().ok_or("N")?.parse()?,
            "--no-interim" => interim = false,
            "--final-beam" => final_beam = it.next().ok_or("N")?.parse()?,
            "--speculative-lead-ms" => {
                partial.speculative_lead_ms = it.next().ok_or("MS")?.parse()?
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let root = store_root();
    runtime::init(&root.join("onnxruntime/libonnxruntime.so.1.31.1"))?;
    let silero = Arc::new(SileroModel::load(&root.join("silero-vad/silero_vad.onnx"))?);
    let vad = Vad::new(silero, VadConfig::default())?;
    let model = Arc::new(SttModel::load(
        &root.join("tiny.en/ggml-model-q8_0.bin"),
        &SttModelConfig::default(),
    )?);
    let mut worker = SttWorker::new(model, 1, Some(vad.clone()))?;
    let config = StreamingConfig {
        interim_results: interim,
        interim_interval_ms: interval_ms,
        partial: partial.clone(),
        final_beam_size: final_beam,
        options: TranscribeOptions {
            language: Some("en".into()),
            ..TranscribeOptions::default()
        },
        ..StreamingConfig::default()
    };
    let calls = cached_calls()?;
    let mut t = Totals::default();
    let (mut errors, mut words, mut seconds) = (0.0, 0usize, 0.0);
    for call in calls.iter().take(max_calls) {
        let finals = run_call(&mut worker, &vad, &config, &call.mulaw, &mut t)?;
        let n = normalize_words(&call.reference).len();
        errors += word_error_rate(&call.reference, &finals.join(" ")) * n as f64;
        words += n;
        seconds += call.mulaw.len() as f64 / 8_000.0;
    }
    let n_calls = calls.len().min(max_calls);
    println!(
        "{n_calls} calls, {seconds:.0} s; partial {partial:?}, interval {interval_ms} ms, interim {interim}"
    );
    for (name, k) in [("partial", &t.partial), ("final", &t.fin)] {
        println!(
            "{name:8} decodes {:4}  audio {:6.1} s  encoder frames/decode {:5.0}  CPU {:6.2} s ({:.1} ms/decode)",
            k.decodes,
            k.audio_s,
            k.frames as f64 / k.decodes.max(1) as f64,
            k.cpu_s,
            1000.0 * k.cpu_s / k.decodes.max(1) as f64
        );
    }
    let decode_cpu = t.partial.cpu_s + t.fin.cpu_s;
    println!(
        "finals {} ({} from a partial)  decode CPU per call {:.2} s  per audio second {:.3}  VAD+resample CPU {:.2} s",
        t.finals,
        t.finals.saturating_sub(t.fin.decodes),
        decode_cpu / n_calls as f64,
        decode_cpu / seconds,
        t.vad_cpu_s
    );
    println!(
        "finals WER {:.2} %  partials shown {}  partial words off the final {:.1} %  degenerate partials {}",
        100.0 * errors / words as f64,
        t.partial_events,
        100.0 * t.partial_errors / t.partial_words.max(1) as f64,
        t.degenerate_partials
    );
    Ok(())
}
