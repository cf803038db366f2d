//! Synthesise text with a Piper voice from the model store and write a WAV.
//!
//! ```text
//! cargo run -p vocalis-inference --release \
//!     --example speak -- "Hello from Vocalis." out.wav [voice] [speed] [threads]
//! ```
//!
//! The store root is `$VOCALIS_MODELS` or `~/.cache/vocalis/models`; the voice
//! defaults to `en_US-joe-medium`.

use std::path::PathBuf;
use std::time::Instant;

use vocalis_inference::{runtime, PiperVoice, SessionOptions, SynthesisOptions, VoiceFiles};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let text = args
        .next()
        .unwrap_or_else(|| "Hello from Vocalis. This is a test of the Piper voice.".into());
    let out = PathBuf::from(args.next().unwrap_or_else(|| "speak.wav".into()));
    let voice_name = args.next().unwrap_or_else(|| "en_US-joe-medium".into());
    let speed: f32 = args.next().map_or(Ok(1.0), |s| s.parse())?;
    let threads: usize = args.next().map_or(Ok(1), |s| s.parse())?;

    let root = std::env::var_os("VOCALIS_MODELS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vocalis/models"))
        })
        .ok_or("set VOCALIS_MODELS")?;
    runtime::init(&root.join("onnxruntime/libonnxruntime.so.1.31.1"))?;
    let options = SessionOptions {
        intra_threads: threads,
        ..SessionOptions::default()
    };
    let voice = PiperVoice::load(
        &VoiceFiles::in_dir(&root.join(&voice_name), &voice_name),
        &options,
        // An example with the caller's own text: espeak runs in process.
        &vocalis_inference::phonemize::PhonemizerConfig::InProcess,
    )?;

    let started = Instant::now();
    let result = voice.synthesize(
        &text,
        &SynthesisOptions {
            speed,
            ..SynthesisOptions::default()
        },
    )?;
    let elapsed = started.elapsed().as_secs_f64();
    let audio = result.duration_secs();
    println!(
        "{audio:.2} s of audio in {elapsed:.2} s (RTF {:.3}, {threads} thread(s)) -> {}",
        elapsed / audio.max(1e-9),
        out.display()
    );

    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: result.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(&out, spec)?;
    for s in &result.samples {
        wav.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
    }
    wav.finalize()?;
    Ok(())
}
