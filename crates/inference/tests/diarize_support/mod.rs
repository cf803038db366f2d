//! Synthetic conversations for the diarization tests: turns of 1–6 s from
//! different voices (the Piper voice, espeak-ng voice variants through the
//! `espeak-ng` CLI), optionally through 8 kHz μ-law, with the ground truth;
//! and the scores: word attribution after the best label mapping, and DER.
#![allow(dead_code)]

use std::process::Command;
use std::sync::OnceLock;

use vocalis_audio::{g711, resample::resample};
use vocalis_inference::diarize::{Diarization, Diarizer, MODEL_FILE};
use vocalis_inference::phonemize::PhonemizerConfig;
use vocalis_inference::{runtime, PiperVoice, SessionOptions, SynthesisOptions, VoiceFiles};

use crate::stt_support::{require, store_root};

/// A voice of the test conversations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Voice {
    /// The Piper voice en_US-joe-medium.
    Piper,
    /// An espeak-ng voice name such as `en+m3`.
    Espeak(&'static str),
}

/// Sentences of about 1 to 6 seconds.
pub const LINES: &[&str] = &[
    "Hello, thanks for calling.",
    "I would like to check the status of my order from last week.",
    "Sure.",
    "Can you give me the order number please?",
    "It is four five seven two nine one.",
    "Thank you, one moment while I look that up in our system.",
    "No problem, I can wait.",
    "Your package left the warehouse on Tuesday and should arrive by Friday afternoon at the latest.",
    "Great, that is good news.",
    "Is there anything else I can help you with today?",
    "Actually yes, I also wanted to change the delivery address for my next order.",
    "Of course, what is the new address?",
    "Twelve Maple Street, apartment three.",
    "Got it, I have updated the address on your account.",
    "Perfect, thank you so much for your help.",
    "You are welcome, have a wonderful day.",
    "You too, goodbye.",
    "The weather has been cold and rainy all week long.",
];

/// A built conversation: 16 kHz audio and who spoke when.
pub struct Conversation {
    pub audio: Vec<f32>,
    /// `(start, end, speaker)` of each turn, seconds.
    pub turns: Vec<(f64, f64, usize)>,
    pub speakers: usize,
}

fn piper() -> &'static PiperVoice {
    static VOICE: OnceLock<PiperVoice> = OnceLock::new();
    VOICE.get_or_init(|| {
        runtime::init(&require("onnxruntime", "libonnxruntime.so.1.31.1")).expect("ORT");
        let voice = "en_US-joe-medium";
        let files = VoiceFiles::in_dir(&store_root().join(voice), voice);
        assert!(files.onnx.is_file(), "run `vocalis models pull {voice}`");
        PiperVoice::load(
            &files,
            &SessionOptions::default(),
            &PhonemizerConfig::InProcess,
        )
        .expect("piper voice")
    })
}

/// The shared diarizer.
pub fn diarizer() -> &'static Diarizer {
    static D: OnceLock<Diarizer> = OnceLock::new();
    D.get_or_init(|| {
        let path = require("resemblyzer", MODEL_FILE);
        Diarizer::load(path.parent().expect("dir")).expect("speaker encoder")
    })
}

/// One utterance at 16 kHz, leading and trailing silence trimmed.
pub fn speak(voice: Voice, text: &str) -> Vec<f32> {
    let (samples, rate) = match voice {
        Voice::Piper => {
            let r = piper()
                .synthesize(text, &SynthesisOptions::default())
                .expect("piper synthesis");
            (r.samples, r.sample_rate)
        }
        Voice::Espeak(name) => {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("out.wav");
            let status = Command::new("espeak-ng")
                .args(["-v", name, "-w"])
                .arg(&path)
                .arg(text)
                .status()
                .expect("espeak-ng CLI (apt-get install espeak-ng)");
            assert!(status.success(), "espeak-ng -v {name}");
            let mut reader = hound::WavReader::open(&path).expect("espeak wav");
            let rate = reader.spec().sample_rate;
            let s = reader
                .samples::<i16>()
                .map(|s| f32::from(s.expect("sample")) / 32768.0)
                .collect();
            (s, rate)
        }
    };
    let audio = resample(&samples, rate, 16_000).expect("resample");
    let loud = |x: &f32| x.abs() > 0.01;
    let first = audio.iter().position(loud).unwrap_or(0);
    let last = audio.iter().rposition(loud).map_or(audio.len(), |i| i + 1);
    audio[first..last.max(first)].to_vec()
}

/// Telephone quality: 8 kHz μ-law and back to 16 kHz.
pub fn through_mulaw(audio: &[f32]) -> Vec<f32> {
    let narrow = resample(audio, 16_000, 8_000).expect("down");
    let pcm: Vec<i16> = narrow
        .iter()
        .map(|x| (x.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    let back = g711::decode_mulaw_f32(&g711::encode_mulaw(&pcm));
    resample(&back, 8_000, 16_000).expect("up")
}

/// Alternating turns: turn `i` is spoken by `order[i % order.len()]` with line
/// `(first_line + i) % LINES.len()`; pauses of 0.4–0.8 s between turns.
pub fn conversation(
    voices: &[Voice],
    order: &[usize],
    turns: usize,
    first_line: usize,
) -> Conversation {
    let mut audio = vec![0f32; 8_000];
    let mut truth = Vec::new();
    for i in 0..turns {
        let speaker = order[i % order.len()];
        let line = LINES[(first_line + i) % LINES.len()];
        let start = audio.len() as f64 / 16_000.0;
        audio.extend(speak(voices[speaker], line));
        truth.push((start, audio.len() as f64 / 16_000.0, speaker));
        let pause = 6_400 + (i % 3) * 3_200; // 0.4, 0.6, 0.8 s
        audio.extend(std::iter::repeat_n(0.0, pause));
    }
    Conversation {
        audio,
        turns: truth,
        speakers: voices.len(),
    }
}

/// The truth speaker of a time (the turn containing it, else the nearest turn).
pub fn truth_at(turns: &[(f64, f64, usize)], t: f64) -> usize {
    turns
        .iter()
        .min_by(|a, b| {
            let da = (a.0 - t).max(t - a.1).max(0.0);
            let db = (b.0 - t).max(t - b.1).max(0.0);
            da.total_cmp(&db)
        })
        .map_or(0, |x| x.2)
}

/// All injective mappings from `0..from` into `0..to` (small counts only), as vectors;
/// a label beyond `to` maps to `usize::MAX` (never correct).
fn mappings(from: usize, to: usize) -> Vec<Vec<usize>> {
    fn rec(i: usize, from: usize, to: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if i == from {
            out.push(cur.clone());
            return;
        }
        for t in (0..to).chain(std::iter::once(usize::MAX)) {
            if t == usize::MAX || !cur.contains(&t) {
                cur.push(t);
                rec(i + 1, from, to, cur, out);
                cur.pop();
            }
        }
    }
    let mut out = Vec::new();
    rec(0, from.min(6), to, &mut Vec::new(), &mut out);
    out
}

/// Fraction of `(predicted, truth)` pairs equal under the best label mapping.
pub fn best_accuracy(pairs: &[(usize, usize)], truth_speakers: usize) -> f64 {
    let predicted = pairs.iter().map(|p| p.0 + 1).max().unwrap_or(0);
    if pairs.is_empty() {
        return 0.0;
    }
    mappings(predicted, truth_speakers)
        .iter()
        .map(|m| {
            pairs
                .iter()
                .filter(|(p, t)| m.get(*p).copied() == Some(*t))
                .count()
        })
        .max()
        .unwrap_or(0) as f64
        / pairs.len() as f64
}

/// Diarization error rate on a 10 ms grid: (missed + false alarm + confusion)
/// over truth speech, under the best label mapping.
pub fn der(d: &Diarization, c: &Conversation) -> f64 {
    let frames = c.audio.len() / 160;
    fn at(spans: &[(f64, f64, usize)], t: f64) -> Option<usize> {
        spans.iter().find(|s| s.0 <= t && t < s.1).map(|s| s.2)
    }
    let predicted: Vec<(f64, f64, usize)> = d
        .spans
        .iter()
        .map(|s| (s.start, s.end, s.speaker))
        .collect();
    let mut truth_speech = 0usize;
    let mut miss_fa = 0usize;
    let mut pairs = Vec::new();
    for f in 0..frames {
        let t = (f as f64 + 0.5) * 0.01;
        let truth = at(&c.turns, t);
        let pred = at(&predicted, t);
        match (pred, truth) {
            (Some(p), Some(tr)) => pairs.push((p, tr)),
            (None, None) => {}
            _ => miss_fa += 1,
        }
        truth_speech += usize::from(truth.is_some());
    }
    let matched = best_accuracy(&pairs, c.speakers) * pairs.len() as f64;
    (miss_fa as f64 + (pairs.len() as f64 - matched)) / truth_speech.max(1) as f64
}
