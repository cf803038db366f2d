//! Where the time to first audio of a `/ws/tts` sentence goes: text
//! normalisation, espeak-ng phonemes, ids, the ONNX run, and μ-law 8 kHz
//! encoding, each timed on its own (median of 30 runs), for a whole first
//! sentence and for its first phrase, at 1 and 2 intra-op threads.
//!
//! ```text
//! cargo run --release -p vocalis-inference --example tts_breakdown
//! ```

use std::time::Instant;

use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::normalize::normalize_text;
use vocalis_inference::phonemize::PhonemizerConfig;
use vocalis_inference::{runtime, PiperVoice, SessionOptions, SynthesisOptions, VoiceFiles};

const RUNS: usize = 30;
const TEXTS: [&str; 3] = [
    "Good morning, and welcome to the weekly update.",
    "Good morning,",
    "Thank you for calling the support line.",
];

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(f());
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    median(times)
}

fn main() {
    let root = std::env::var_os("VOCALIS_MODELS").map_or_else(
        || std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/vocalis/models"),
        std::path::PathBuf::from,
    );
    let ort_dir = root.join("onnxruntime");
    let library = std::fs::read_dir(&ort_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so."))
        })
        .unwrap();
    runtime::init(&library).unwrap();
    let files = VoiceFiles::in_dir(&root.join("en_US-joe-medium"), "en_US-joe-medium");
    for threads in [1, 2] {
        let options = SessionOptions {
            intra_threads: threads,
            ..SessionOptions::default()
        };
        let voice = PiperVoice::load(&files, &options, &PhonemizerConfig::InProcess).unwrap();
        let synth = SynthesisOptions::default();
        let rate = voice.sample_rate();
        voice.synthesize(TEXTS[0], &synth).unwrap();
        for text in TEXTS {
            let norm = time(|| normalize_text(text));
            let normalized = normalize_text(text);
            let phon = time(|| voice.phonemize(&normalized).unwrap());
            let phonemes = voice.phonemize(&normalized).unwrap();
            let ids = time(|| voice.phoneme_ids(&phonemes[0]));
            let whole = time(|| voice.synthesize(text, &synth).unwrap());
            let audio = voice.synthesize(text, &synth).unwrap().samples;
            let enc_new = time(|| AudioEncoder::new(OutputFormat::Mulaw, rate, 8_000).unwrap());
            let encode = time(|| {
                let mut encoder = AudioEncoder::new(OutputFormat::Mulaw, rate, 8_000).unwrap();
                let mut out = Vec::new();
                encoder.push_into(&audio, &mut out).unwrap();
                out.len()
            });
            println!(
                "{threads}t {text:?}: audio {:.2} s | normalise {norm:.3} ms, phonemes {phon:.3} ms, \
                 ids {ids:.3} ms, synthesize (all) {whole:.2} ms => model ≈ {:.2} ms, \
                 encoder new {enc_new:.3} ms, new+encode {encode:.3} ms",
                audio.len() as f64 / f64::from(rate),
                whole - norm - phon - ids,
            );
        }
    }
}
