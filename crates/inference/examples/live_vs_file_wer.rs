//! Live versus whole-file WER on the same 8 kHz μ-law phone calls.
//!
//! ```text
//! cargo run --release -p vocalis-inference --example live_vs_file_wer -- \
//!     [--weights q8_0|f16] [--utterance-end-ms 500] [--no-interim] [--final-beam N] [--verbose]
//! ```
//!
//! Builds a clip set like `vocalis loadgen` does (the Piper voice from the
//! model store and espeak-ng voices speaking [`SENTENCES`], trimmed to their
//! speech, 8 kHz μ-law, cached in `~/.cache/vocalis/live-wer/`), assembles
//! calls of four utterances with pauses, and transcribes every call twice
//! with tiny.en:
//!
//! * **file**: the whole call resampled to 16 kHz and decoded in one request
//!   with the default options (what `/v1/audio/transcriptions` does);
//! * **live**: the server's live path — 20 ms μ-law frames through the
//!   streaming resampler into a [`StreamingRecognizer`], every decode run as
//!   soon as it is handed out (no wall-clock pacing, so the run is
//!   deterministic); the finals are joined.
//!
//! WER is summed over all calls (errors / reference words). `--verbose`
//! prints every final (its span, loudness of its end, prompt) and every call
//! whose live text differs from the file text. The last line gives the
//! finals' cost: encoder frames (the `audio_ctx` each final ran with; 1500
//! for the full window) and process CPU seconds per final (whisper.cpp's
//! threads spin while waiting, so on a loaded machine this overstates the
//! work; compare frames). The run also checks that the live path's 16 kHz
//! samples equal the file path's.
//!
//! `--final-beam N` sets the recogniser's `final_beam_size` (default
//! `FINAL_BEAM_SIZE`, 5; 1 is greedy).
//!
//! Experiments on the finals only (applied by this example around the
//! recogniser's decode requests; issue 9): `--final-ctx full|margin:N`
//! (encoder window), `--final-tail-ms MS` (zeros appended),
//! `--final-no-prompt` (no carried context), `--final-lead-ms MS` (the audio
//! before the utterance decoded too, its words dropped by timestamp, or with
//! `--lead-drop text` the longest head that repeats the prompt's tail),
//! `--lead-prev` (the lead reaches back to the previous final's start; with
//! `--lead-drop align` the head that best aligns with the previous final is
//! dropped), `--dedupe` (a run of words that repeats the run before it is
//! dropped).

#[path = "support/live_calls.rs"]
mod live_calls;

use live_calls::*;
use std::process::Command;
use std::sync::Arc;

use vocalis_audio::{g711, pcm, StreamingResampler};
use vocalis_inference::phonemize::PhonemizerConfig;
use vocalis_inference::streaming::{
    DecodeKind, PartialDecode, StreamEvent, StreamingConfig, StreamingRecognizer, FINAL_BEAM_SIZE,
};
use vocalis_inference::stt::wer::{normalize_words, word_error_rate};
use vocalis_inference::stt::{
    audio_ctx_for, repeated_tail, sized_ctx, AudioCtx, SttModel, SttModelConfig, SttWorker,
    Transcribe, TranscribeOptions, Word, AUTO_MIN,
};
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};
use vocalis_inference::{runtime, PiperVoice, SessionOptions, SynthesisOptions, VoiceFiles};

struct Args {
    weights: String,
    utterance_end_ms: u32,
    interim: bool,
    verbose: bool,
    voices: String,
    onset_pad_ms: Option<u32>,
    end_pad_ms: Option<u32>,
    speculative_lead_ms: Option<u32>,
    no_context: bool,
    full_ctx: bool,
    /// Experiment: the finals' encoder window (`auto`, `full`, `margin:N`).
    final_ctx: String,
    /// Experiment: milliseconds of zeros appended to every final's audio.
    final_tail_ms: u32,
    /// Experiment: decode finals without the carried context.
    final_no_prompt: bool,
    /// Experiment: audio before the utterance decoded with each final (its
    /// words are dropped).
    final_lead_ms: u32,
    final_beam: usize,
    /// Experiment: how the lead's words are dropped (`time` or `text`).
    lead_drop: String,
    /// Experiment: drop a repeated run of words at the end of a final.
    dedupe: bool,
    /// Experiment: decode each final with the audio since the previous
    /// final's start.
    lead_prev: bool,
}

fn parse_args() -> Result<Args, Error> {
    let mut args = Args {
        weights: "q8_0".into(),
        utterance_end_ms: 500,
        interim: true,
        verbose: false,
        voices: VOICES.join(","),
        onset_pad_ms: None,
        end_pad_ms: None,
        speculative_lead_ms: None,
        no_context: false,
        full_ctx: false,
        final_ctx: "auto".into(),
        final_tail_ms: 0,
        final_no_prompt: false,
        final_lead_ms: 0,
        final_beam: FINAL_BEAM_SIZE,
        lead_drop: "time".into(),
        dedupe: false,
        lead_prev: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--weights" => args.weights = it.next().ok_or("--weights VALUE")?,
            "--utterance-end-ms" => {
                args.utterance_end_ms = it.next().ok_or("--utterance-end-ms MS")?.parse()?
            }
            "--onset-pad-ms" => args.onset_pad_ms = Some(it.next().ok_or("MS")?.parse()?),
            "--end-pad-ms" => args.end_pad_ms = Some(it.next().ok_or("MS")?.parse()?),
            "--speculative-lead-ms" => {
                args.speculative_lead_ms = Some(it.next().ok_or("MS")?.parse()?)
            }
            "--voices" => args.voices = it.next().ok_or("--voices LIST")?,
            "--no-context" => args.no_context = true,
            "--full-audio-ctx" => args.full_ctx = true,
            "--final-ctx" => args.final_ctx = it.next().ok_or("--final-ctx auto|full|margin:N")?,
            "--final-tail-ms" => args.final_tail_ms = it.next().ok_or("MS")?.parse()?,
            "--final-no-prompt" => args.final_no_prompt = true,
            "--final-lead-ms" => args.final_lead_ms = it.next().ok_or("MS")?.parse()?,
            "--lead-drop" => args.lead_drop = it.next().ok_or("--lead-drop time|text")?,
            "--dedupe" => args.dedupe = true,
            "--final-beam" => args.final_beam = it.next().ok_or("--final-beam N")?.parse()?,
            "--lead-prev" => args.lead_prev = true,
            "--no-interim" => args.interim = false,
            "--verbose" => args.verbose = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(args)
}

/// One sentence in one voice as 8 kHz μ-law, trimmed to its speech.
fn clip(voice: &str, text: &str, piper: &mut Option<PiperVoice>) -> Result<Vec<u8>, Error> {
    let path = clip_path(voice, text);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if let Ok(bytes) = std::fs::read(&path) {
        if !bytes.is_empty() {
            return Ok(bytes);
        }
    }
    let samples = match voice.split_once(':') {
        Some(("piper", name)) => {
            if piper.is_none() {
                let root = store_root();
                *piper = Some(PiperVoice::load(
                    &VoiceFiles::in_dir(&root.join(name), name),
                    &SessionOptions::default(),
                    &PhonemizerConfig::InProcess,
                )?);
            }
            let r = piper
                .as_ref()
                .expect("loaded")
                .synthesize(text, &SynthesisOptions::default())?;
            vocalis_audio::resample(&r.samples, r.sample_rate, 8_000)?
        }
        Some(("espeak", name)) => {
            let wav = std::env::temp_dir().join(format!("live-wer-{}.wav", std::process::id()));
            let out = Command::new("espeak-ng")
                .args(["-v", name, "-w"])
                .arg(&wav)
                .arg(text)
                .output()?;
            if !out.status.success() {
                return Err(format!("espeak-ng -v {name} failed").into());
            }
            let bytes = std::fs::read(&wav)?;
            let _ = std::fs::remove_file(&wav);
            vocalis_audio::decode_file(&bytes, Some("wav"), 8_000)?.samples
        }
        _ => return Err(format!("voice {voice}: use piper:NAME or espeak:NAME").into()),
    };
    let bytes = to_mulaw(&trim_to_speech(&samples));
    std::fs::write(&path, &bytes)?;
    Ok(bytes)
}

/// From the first to the last 20 ms frame with speech energy (one frame of
/// margin), peak-normalised to 0.7 — as the load generator's clips.
fn trim_to_speech(samples: &[f32]) -> Vec<f32> {
    let rms: Vec<f32> = samples
        .chunks(160)
        .map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let threshold = (rms.iter().copied().fold(0.0, f32::max) * 0.05).max(1e-3);
    let first = rms.iter().position(|&r| r > threshold).unwrap_or(0);
    let last = rms.iter().rposition(|&r| r > threshold).unwrap_or(0);
    let speech = &samples[first.saturating_sub(1) * 160..((last + 2) * 160).min(samples.len())];
    let peak = speech.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(1e-6);
    speech.iter().map(|s| s * 0.7 / peak).collect()
}

fn to_mulaw(samples: &[f32]) -> Vec<u8> {
    let pcm: Vec<i16> = samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    let mut bytes = g711::encode_mulaw(&pcm);
    bytes.resize(bytes.len().div_ceil(160) * 160, 0xFF);
    bytes
}

fn build_calls(voices: &[&str]) -> Result<Vec<Call>, Error> {
    let mut piper = None;
    calls(voices, |voice, text| clip(voice, text, &mut piper))
}

/// The whole call at 16 kHz, as the file path decodes it.
fn file_audio(mulaw: &[u8]) -> Result<Vec<f32>, Error> {
    let pcm8: Vec<f32> = mulaw
        .iter()
        .map(|&b| pcm::i16_to_f32(g711::mulaw_to_linear(b)))
        .collect();
    Ok(vocalis_audio::resample(&pcm8, 8_000, 16_000)?)
}

fn file_text(worker: &mut SttWorker, audio: &[f32]) -> Result<String, Error> {
    Ok(worker
        .transcribe(audio, &TranscribeOptions::default())?
        .text())
}

/// The live path, frame by frame; returns the finals' texts and the 16 kHz
/// audio the recogniser was given.
fn live_texts(
    worker: &mut SttWorker,
    vad: &Vad,
    config: &StreamingConfig,
    mulaw: &[u8],
    exp: &Experiment,
    cost: &mut FinalCost,
) -> Result<(Vec<String>, Vec<f32>), Error> {
    let mut rec = StreamingRecognizer::new(vad, config.clone())?;
    *exp.prev.borrow_mut() = None;
    let mut resampler = StreamingResampler::new(8_000, 16_000)?;
    let mut events = Vec::new();
    let mut pcm16 = Vec::new();
    let mut stream = Vec::new();
    for frame in mulaw.chunks(160) {
        let pcm8: Vec<f32> = frame
            .iter()
            .map(|&b| pcm::i16_to_f32(g711::mulaw_to_linear(b)))
            .collect();
        pcm16.clear();
        resampler.push(&pcm8, &mut pcm16)?;
        events.extend(rec.push(&pcm16)?);
        stream.extend_from_slice(&pcm16);
        events.extend(run_pending(&mut rec, worker, exp, cost, &stream)?);
    }
    pcm16.clear();
    resampler.flush(&mut pcm16)?;
    events.extend(rec.push(&pcm16)?);
    stream.extend_from_slice(&pcm16);
    events.extend(rec.finish()?);
    events.extend(run_pending(&mut rec, worker, exp, cost, &stream)?);
    let texts = events
        .into_iter()
        .filter_map(|e| match e {
            StreamEvent::Final { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    Ok((texts, stream))
}

/// Experimental changes to the finals' decodes (applied here, outside the
/// recogniser).
struct Experiment {
    final_ctx: String,
    final_tail_ms: u32,
    final_no_prompt: bool,
    final_lead_ms: u32,
    /// How the lead's words are dropped: `time` (word midpoint before the
    /// utterance) or `text` (the longest head matching the prompt's tail).
    lead_drop: String,
    /// Drop a run of words that repeats the run before it.
    dedupe: bool,
    /// Lead = everything since the previous final's start.
    lead_prev: bool,
    /// The previous final: its first sample and its text.
    prev: std::cell::RefCell<Option<(usize, String)>>,
    verbose: bool,
}

/// Each word of `words` normalised as the WER counts it.
fn normalized(words: &[Word]) -> Vec<String> {
    words
        .iter()
        .map(|w| normalize_words(&w.text).join(" "))
        .collect()
}

/// Word-level Levenshtein distance.
fn edit_distance(a: &[String], b: &[String]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(x != y)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Encoder work and CPU time spent on finals.
#[derive(Default)]
struct FinalCost {
    finals: usize,
    frames: u64,
    cpu_ticks: u64,
}

/// User + system CPU time of this process, clock ticks (1/100 s).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of the line; `after` starts at field 3.
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

fn run_pending(
    rec: &mut StreamingRecognizer,
    worker: &mut SttWorker,
    exp: &Experiment,
    cost: &mut FinalCost,
    stream: &[f32],
) -> Result<Vec<StreamEvent>, Error> {
    let mut events = Vec::new();
    while let Some(mut request) = rec.next_request() {
        let is_final = request.kind == DecodeKind::Final;
        let mut lead_s = 0.0;
        if is_final {
            if exp.final_no_prompt {
                request.options.initial_prompt = None;
            }
            if exp.verbose {
                let a = &request.audio;
                let rms = |x: &[f32]| {
                    10.0 * (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32 + 1e-10)
                        .log10()
                };
                println!(
                    "  final {:.2}-{:.2} s: rms {:.0} dB, last 100 ms {:.0} dB, last 300 ms {:.0} dB; prompt {:?}",
                    request.start,
                    request.start + a.len() as f64 / 16_000.0,
                    rms(a),
                    rms(&a[a.len().saturating_sub(1600)..]),
                    rms(&a[a.len().saturating_sub(4800)..]),
                    request.options.initial_prompt
                );
            }
            let start = (request.start * 16_000.0).round() as usize;
            let lead = match (exp.lead_prev, exp.prev.borrow().as_ref()) {
                (true, Some((prev_start, _))) => start - prev_start,
                (true, None) => 0,
                _ => (exp.final_lead_ms as usize * 16).min(start),
            };
            if lead > 0 {
                let mut audio = stream[start - lead..start].to_vec();
                audio.extend_from_slice(&request.audio);
                request.audio = audio;
            }
            lead_s = lead as f64 / 16_000.0;
            let tail = exp.final_tail_ms as usize * 16;
            if tail > 0 {
                request.audio.resize(request.audio.len() + tail, 0.0);
            }
            request.options.audio_ctx = match exp.final_ctx.as_str() {
                "auto" => request.options.audio_ctx,
                "full" => AudioCtx::Full,
                m => {
                    let margin: i32 = m.strip_prefix("margin:").ok_or("final ctx")?.parse()?;
                    match sized_ctx(request.audio.len(), 1500, margin, AUTO_MIN) {
                        0 => AudioCtx::Full,
                        n => AudioCtx::Fixed(n as u16),
                    }
                }
            };
        }
        let before = cpu_ticks();
        let mut result = worker.transcribe(&request.audio, &request.options);
        if let (true, Ok(t)) = (lead_s > 0.0 || (is_final && exp.dedupe), result.as_mut()) {
            if exp.dedupe {
                let norm = normalized(&t.words);
                if let Some(k) = repeated_tail(&norm) {
                    t.words.truncate(norm.len() - k);
                }
            }
            if lead_s == 0.0 {
            } else if exp.lead_drop == "align" {
                let prev = exp
                    .prev
                    .borrow()
                    .as_ref()
                    .map(|p| p.1.clone())
                    .unwrap_or_default();
                let p = normalize_words(&prev);
                let d = normalized(&t.words);
                let k = (0..=d.len().min(p.len() + 4))
                    .min_by_key(|&k| (edit_distance(&d[..k], &p), k))
                    .filter(|&k| 3 * edit_distance(&d[..k], &p) <= p.len())
                    .unwrap_or(0);
                t.words.drain(..k);
            } else if exp.lead_drop == "text" {
                let prompt = request.options.initial_prompt.clone().unwrap_or_default();
                let tail = normalize_words(&prompt);
                let heads = normalized(&t.words);
                let max = heads.len().min(tail.len()).min(8);
                let k = (1..=max)
                    .rev()
                    .find(|&k| heads[..k].join(" ") == tail[tail.len() - k..].join(" "))
                    .unwrap_or(0);
                t.words.drain(..k);
            } else {
                t.words.retain(|w| (w.start + w.end) / 2.0 >= lead_s);
            }
            t.shift(-lead_s);
            let text = t
                .words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if exp.verbose {
                println!("    with lead: {:?} -> {text:?}", t.text());
            }
            t.segments.truncate(1);
            if let Some(seg) = t.segments.first_mut() {
                seg.text = text;
            }
        }
        if is_final {
            cost.finals += 1;
            cost.cpu_ticks += cpu_ticks() - before;
            cost.frames += match audio_ctx_for(request.audio.len(), 1500, request.options.audio_ctx)
            {
                0 => 1500,
                n => n as u64,
            };
        }
        if is_final {
            if let Ok(t) = &result {
                let start = (request.start * 16_000.0).round() as usize;
                let text = t.text();
                *exp.prev.borrow_mut() = Some((start, text));
            }
        }
        events.extend(rec.complete(request.ticket, result)?);
    }
    Ok(events)
}

fn errors(reference: &str, hypothesis: &str) -> (f64, usize) {
    let n = normalize_words(reference).len();
    (word_error_rate(reference, hypothesis) * n as f64, n)
}

fn main() -> Result<(), Error> {
    let args = parse_args()?;
    let root = store_root();
    runtime::init(&root.join("onnxruntime/libonnxruntime.so.1.31.1"))?;
    let silero = Arc::new(SileroModel::load(&root.join("silero-vad/silero_vad.onnx"))?);
    let vad = Vad::new(silero, VadConfig::default())?;
    let file = match args.weights.as_str() {
        "f16" => "ggml-model.bin".to_owned(),
        w => format!("ggml-model-{w}.bin"),
    };
    let model = Arc::new(SttModel::load(
        &root.join("tiny.en").join(&file),
        &SttModelConfig::default(),
    )?);
    let mut worker = SttWorker::new(model, 2, Some(vad.clone()))?;
    let defaults = StreamingConfig::default();
    let config = StreamingConfig {
        onset_pad_ms: args.onset_pad_ms.unwrap_or(defaults.onset_pad_ms),
        end_pad_ms: args.end_pad_ms.unwrap_or(defaults.end_pad_ms),
        carry_context: !args.no_context,
        final_beam_size: args.final_beam,
        partial: PartialDecode {
            speculative_lead_ms: args
                .speculative_lead_ms
                .unwrap_or(defaults.partial.speculative_lead_ms),
            ..PartialDecode::default()
        },
        interim_results: args.interim,
        utterance_end_ms: args.utterance_end_ms,
        options: TranscribeOptions {
            language: Some("en".into()),
            audio_ctx: if args.full_ctx {
                AudioCtx::Full
            } else {
                AudioCtx::Auto
            },
            ..TranscribeOptions::default()
        },
        ..StreamingConfig::default()
    };
    let voices: Vec<&str> = args.voices.split(',').map(str::trim).collect();
    let calls = build_calls(&voices)?;
    let seconds: f64 = calls.iter().map(|c| c.mulaw.len() as f64 / 8000.0).sum();
    let (mut file_err, mut live_err, mut words, mut finals) = (0.0, 0.0, 0usize, 0usize);
    let exp = Experiment {
        final_ctx: args.final_ctx.clone(),
        final_tail_ms: args.final_tail_ms,
        final_no_prompt: args.final_no_prompt,
        final_lead_ms: args.final_lead_ms,
        lead_drop: args.lead_drop.clone(),
        dedupe: args.dedupe,
        lead_prev: args.lead_prev,
        prev: Default::default(),
        verbose: args.verbose,
    };
    let mut cost = FinalCost::default();
    let (mut same_samples, mut max_diff) = (true, 0.0f32);
    for call in &calls {
        let audio = file_audio(&call.mulaw)?;
        let whole = file_text(&mut worker, &audio)?;
        let (live, stream) = live_texts(&mut worker, &vad, &config, &call.mulaw, &exp, &mut cost)?;
        if stream.len() != audio.len() {
            same_samples = false;
        }
        for (a, b) in stream.iter().zip(&audio) {
            max_diff = max_diff.max((a - b).abs());
        }
        finals += live.len();
        let joined = live.join(" ");
        let (fe, n) = errors(&call.reference, &whole);
        let (le, _) = errors(&call.reference, &joined);
        file_err += fe;
        live_err += le;
        words += n;
        if args.verbose && normalize_words(&whole) != normalize_words(&joined) {
            println!("--- {} (file {fe:.0} errors, live {le:.0})", call.label);
            println!("  ref:  {}", call.reference);
            println!("  file: {}", whole.trim());
            for f in &live {
                println!("  live: {}", f.trim());
            }
        }
    }
    let utterances = calls.len() * UTTERANCES_PER_CALL;
    println!(
        "{} calls, {utterances} utterances, {seconds:.0} s of 8 kHz mu-law, {words} words; \
         tiny.en {}, utterance_end_ms {}, onset_pad_ms {}, end_pad_ms {}, carry_context {}, final beam {}, full audio_ctx {}, interim {}",
        calls.len(),
        args.weights,
        args.utterance_end_ms,
        config.onset_pad_ms,
        config.end_pad_ms,
        config.carry_context,
        config.final_beam_size,
        args.full_ctx,
        args.interim
    );
    println!(
        "file WER {:.2} %  live WER {:.2} %  (live - file {:+.2} points; {finals} finals)",
        100.0 * file_err / words as f64,
        100.0 * live_err / words as f64,
        100.0 * (live_err - file_err) / words as f64
    );
    println!(
        "finals decoded: {} (final_ctx {}, final_tail_ms {}, final_lead_ms {}, final_no_prompt {}), \
         {:.0} encoder frames and {:.3} process CPU s per final",
        cost.finals,
        exp.final_ctx,
        exp.final_tail_ms,
        exp.final_lead_ms,
        exp.final_no_prompt,
        cost.frames as f64 / cost.finals.max(1) as f64,
        cost.cpu_ticks as f64 / 100.0 / cost.finals.max(1) as f64
    );
    println!(
        "live 16 kHz samples vs file samples: same length {same_samples}, max |difference| {max_diff:e}"
    );
    Ok(())
}
