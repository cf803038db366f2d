//! Transcribe a 16 kHz mono WAV with a Whisper model from the store.
//!
//! ```text
//! cargo run -p vocalis-inference --release --example transcribe -- \
//!     clip.wav [model=tiny.en] [threads=2] [audio_ctx=auto|full|N] [vad=gate|off|speech] [reps=1] [beam=1]
//! ```
//!
//! `model` is a directory of the store (its `ggml-model.bin`) or a file in
//! it (`tiny.en/ggml-model-q8_0.bin`). With `reps` > 1 the clip is decoded
//! that many times and the median time is printed too.
//!
//! The store root is `$VOCALIS_MODELS` or `~/.cache/vocalis/models`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use vocalis_inference::runtime;
use vocalis_inference::stt::{
    AudioCtx, SttModel, SttModelConfig, SttWorker, Transcribe, TranscribeOptions, VadMode,
};
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let wav = args
        .next()
        .ok_or("usage: transcribe clip.wav [model] [threads] [audio_ctx] [vad]")?;
    let model_name = args.next().unwrap_or_else(|| "tiny.en".into());
    let threads: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    let audio_ctx = match args.next().as_deref() {
        None | Some("auto") => AudioCtx::Auto,
        Some("full") => AudioCtx::Full,
        Some(n) => AudioCtx::Fixed(n.parse()?),
    };
    let vad_mode = match args.next().as_deref() {
        None | Some("gate") => VadMode::Gate,
        Some("off") => VadMode::Off,
        Some("speech") => VadMode::SpeechOnly,
        Some(other) => return Err(format!("unknown vad mode {other}").into()),
    };

    let root = std::env::var_os("VOCALIS_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vocalis/models"))
        })
        .ok_or("set VOCALIS_MODELS")?;
    runtime::init(&root.join("onnxruntime/libonnxruntime.so.1.31.1"))?;
    let vad = Vad::new(
        Arc::new(SileroModel::load(&root.join("silero-vad/silero_vad.onnx"))?),
        VadConfig::default(),
    )?;
    let reps: usize = args.next().map_or(Ok(1), |s| s.parse::<usize>())?.max(1);
    let beam_size: usize = args.next().map_or(Ok(1), |s| s.parse::<usize>())?.max(1);
    let model_path = if model_name.ends_with(".bin") {
        root.join(&model_name)
    } else {
        root.join(&model_name).join("ggml-model.bin")
    };
    let model = Arc::new(SttModel::load(&model_path, &SttModelConfig::default())?);
    let mut worker = SttWorker::new(model, threads, Some(vad))?;

    let mut reader = hound::WavReader::open(&wav)?;
    let spec = reader.spec();
    if spec.sample_rate != 16_000 || spec.channels != 1 {
        return Err("need 16 kHz mono (sox in.wav -r 16000 -c 1 out.wav)".into());
    }
    let audio: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<_, _>>()?;

    let options = TranscribeOptions {
        audio_ctx,
        vad: vad_mode,
        beam_size,
        ..TranscribeOptions::default()
    };
    let mut times = Vec::with_capacity(reps);
    let mut t = worker.transcribe(&audio, &options)?;
    let elapsed = {
        for _ in 0..reps {
            let started = Instant::now();
            t = worker.transcribe(&audio, &options)?;
            times.push(started.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    println!(
        "{:.2} s audio in {elapsed:.3} s (RTF {:.3}) language {:?}",
        t.duration_s,
        elapsed / t.duration_s.max(1e-9),
        t.language
    );
    for s in &t.segments {
        println!(
            "[{:6.2} – {:6.2}] lp {:.2} nsp {:.2} {}",
            s.start, s.end, s.avg_logprob, s.no_speech_prob, s.text
        );
    }
    for w in &t.words {
        println!(
            "  {:6.2} {:6.2} {:.2} {}",
            w.start, w.end, w.probability, w.text
        );
    }
    Ok(())
}
