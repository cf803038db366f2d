//! Feed a 16 kHz mono WAV to the streaming recogniser in 20 ms chunks (as
//! fast as possible) and print its events.
//!
//! ```text
//! cargo run -p vocalis-inference --release --example stream_wav -- clip.wav [model=tiny.en] [threads=2]
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use vocalis_inference::runtime;
use vocalis_inference::streaming::{StreamEvent, StreamingConfig, StreamingRecognizer};
use vocalis_inference::stt::{SttModel, SttModelConfig, SttWorker};
use vocalis_inference::vad::{SileroModel, Vad, VadConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let wav = args
        .next()
        .ok_or("usage: stream_wav clip.wav [model] [threads]")?;
    let model_name = args.next().unwrap_or_else(|| "tiny.en".into());
    let threads: usize = args.next().map_or(Ok(2), |s| s.parse())?;
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
    let model = Arc::new(SttModel::load(
        &root.join(&model_name).join("ggml-model.bin"),
        &SttModelConfig::default(),
    )?);
    let mut worker = SttWorker::new(model, threads, None)?;
    let mut reader = hound::WavReader::open(&wav)?;
    let audio: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.map(|v| f32::from(v) / 32768.0))
        .collect::<Result<_, _>>()?;

    let mut rec = StreamingRecognizer::new(&vad, StreamingConfig::default())?;
    let started = Instant::now();
    let mut events = Vec::new();
    for chunk in audio.chunks(320) {
        events.extend(rec.push(chunk)?);
        events.extend(rec.run_pending(&mut worker)?);
    }
    events.extend(rec.finish()?);
    events.extend(rec.run_pending(&mut worker)?);
    for e in &events {
        match e {
            StreamEvent::SpeechStarted { at } => println!("{at:6.2} speech started"),
            StreamEvent::Partial {
                text,
                committed,
                end,
                ..
            } => println!(
                "{end:6.2} partial [{committed}] {}",
                &text[committed.len()..]
            ),
            StreamEvent::Final {
                text,
                start,
                end,
                confidence,
                ..
            } => println!("{end:6.2} FINAL {start:.2}–{end:.2} ({confidence:.2}) {text}"),
        }
    }
    println!(
        "{:.1} s of audio in {:.2} s",
        audio.len() as f64 / 16_000.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
