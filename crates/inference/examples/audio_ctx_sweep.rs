//! Measure WER and decode time of encoder-window (`audio_ctx`) settings.
//!
//! ```text
//! cargo run -p vocalis-inference --release --example audio_ctx_sweep -- \
//!     refs.tsv [model=tiny.en] [threads=1] [reps=2] [language]
//! ```
//!
//! `refs.tsv` lists `file.wav<TAB>reference text` (16 kHz mono WAVs,
//! relative to the TSV). For every (margin, min) pair the clips are decoded
//! with `audio_ctx = sized_ctx(samples, margin, min)` and compared with the
//! full 30 s window. Results are summarised in `crates/inference/AUDIO_CTX.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use vocalis_inference::stt::wer::{normalize_words, word_error_rate};
use vocalis_inference::stt::{
    sized_ctx, AudioCtx, SttModel, SttModelConfig, SttWorker, Transcribe, TranscribeOptions,
    VadMode,
};

/// Encoder window policy under test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setting {
    /// The full 30 s window.
    Full,
    /// `sized_ctx(samples, margin, min)`.
    Sized(i32, i32),
    /// The shipped `AudioCtx::Auto`, including its retry guard.
    Auto,
}

fn read_wav(path: &Path) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    let mut reader = hound::WavReader::open(path)?;
    Ok(reader
        .samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<_, _>>()?)
}

/// CPU seconds used by this process so far (user + system, all threads):
/// less sensitive than wall time to other load on the machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the ")": state is field 0, utime 11, stime 12 (USER_HZ = 100).
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let refs = PathBuf::from(
        args.next()
            .ok_or("usage: audio_ctx_sweep refs.tsv [model] [threads] [reps]")?,
    );
    let model_name = args.next().unwrap_or_else(|| "tiny.en".into());
    let threads: usize = args.next().map_or(Ok(1), |s| s.parse())?;
    let reps: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    // Fixing the language keeps detection (a separate full-window pass on
    // multilingual models) out of the comparison.
    let language = args.next();
    let root = std::env::var_os("VOCALIS_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vocalis/models"))
        })
        .ok_or("set VOCALIS_MODELS")?;
    // A store directory (its f16 `ggml-model.bin`) or a file in it
    // (`tiny.en/ggml-model-q8_0.bin`).
    let model_path = if model_name.ends_with(".bin") {
        root.join(&model_name)
    } else {
        root.join(&model_name).join("ggml-model.bin")
    };
    let model = Arc::new(SttModel::load(&model_path, &SttModelConfig::default())?);
    let n_ctx = model.n_audio_ctx();
    let mut worker = SttWorker::new(model, threads, None)?;

    let dir = refs.parent().unwrap_or(Path::new("."));
    let mut clips = Vec::new();
    for line in std::fs::read_to_string(&refs)?.lines() {
        let Some((file, text)) = line.split_once('\t') else {
            continue;
        };
        clips.push((
            file.to_string(),
            read_wav(&dir.join(file))?,
            text.to_string(),
        ));
    }
    let total_words: usize = clips.iter().map(|c| normalize_words(&c.2).len()).sum();
    let total_audio: f64 = clips.iter().map(|c| c.1.len() as f64 / 16_000.0).sum();
    println!("{} clips, {total_audio:.1} s audio, {total_words} words, model {model_name}, {threads} thread(s)", clips.len());

    let mut settings = vec![("full (1500)".to_string(), Setting::Full)];
    for (margin, min) in [
        (0, 0),
        (64, 128),
        (64, 256),
        (128, 256),
        (0, 384),
        (32, 384),
        (64, 384),
        (128, 384),
        (64, 512),
    ] {
        settings.push((
            format!("margin {margin} min {min}"),
            Setting::Sized(margin, min),
        ));
    }
    settings.push(("Auto (shipped)".into(), Setting::Auto));
    println!("| setting | WER % | wall s (min of {reps}) | CPU s (min of {reps}) | CPU speed-up | clips with errors |");
    println!("|---|---|---|---|---|---|");
    let mut full_time = 0.0;
    for (label, setting) in settings {
        let mut best = f64::INFINITY;
        let mut best_cpu = f64::INFINITY;
        let mut errors = 0.0;
        let mut bad = Vec::new();
        for rep in 0..reps {
            let mut elapsed = 0.0;
            let cpu0 = cpu_seconds();
            for (file, audio, text) in &clips {
                let audio_ctx = match setting {
                    Setting::Full => AudioCtx::Full,
                    Setting::Auto => AudioCtx::Auto,
                    Setting::Sized(m, min) => match sized_ctx(audio.len(), n_ctx, m, min) {
                        0 => AudioCtx::Full,
                        n => AudioCtx::Fixed(n as u16),
                    },
                };
                let options = TranscribeOptions {
                    vad: VadMode::Off,
                    language: language.clone(),
                    audio_ctx,
                    ..TranscribeOptions::default()
                };
                let started = Instant::now();
                let t = worker.transcribe(audio, &options)?;
                elapsed += started.elapsed().as_secs_f64();
                if rep == 0 {
                    let wer = word_error_rate(text, &t.text());
                    errors += wer * normalize_words(text).len() as f64;
                    if wer > 0.0 {
                        bad.push(format!("{file} {:.0}%", wer * 100.0));
                    }
                }
            }
            best = best.min(elapsed);
            best_cpu = best_cpu.min(cpu_seconds() - cpu0);
        }
        if setting == Setting::Full {
            full_time = best_cpu;
        }
        println!(
            "| {label} | {:.1} | {best:.2} | {best_cpu:.2} | {:.2}× | {} |",
            100.0 * errors / total_words as f64,
            full_time / best_cpu,
            bad.join("; ")
        );
    }
    Ok(())
}
