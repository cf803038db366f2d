//! A sentence spoken as its first phrase plus the rest (what `/ws/tts` does
//! for the first sentence of a segment, for earlier first audio) against the
//! same sentence spoken whole, with the real en_US-joe-medium voice: the
//! same length within a tolerance, no pause at the join longer than the
//! sentence's own pauses, and the rest continued at the phrase's gain.

mod tts_support;
use tts_support as common;

use vocalis_inference::tts::phrase::first_phrase_end;
use vocalis_inference::{PiperVoice, SynthesisOptions};

const SENTENCES: [&str; 3] = [
    "Good morning, and welcome to the weekly update.",
    "Hello and thank you, your order left our warehouse this morning.",
    "Well then; we shall see what the morning brings us.",
];

/// Deterministic durations (no duration noise), so lengths compare exactly.
fn options(gain: Option<f32>) -> SynthesisOptions {
    SynthesisOptions {
        noise_w: Some(0.0),
        gain,
        ..SynthesisOptions::default()
    }
}

/// Samples and the gain of the first chunk.
fn speak(voice: &PiperVoice, text: &str, gain: Option<f32>) -> (Vec<f32>, f32) {
    let mut samples = Vec::new();
    let mut first_gain = None;
    for chunk in voice.synthesize_stream(text, &options(gain)).unwrap() {
        let chunk = chunk.unwrap();
        first_gain.get_or_insert(chunk.gain);
        samples.extend_from_slice(&chunk.samples);
    }
    (samples, first_gain.unwrap())
}

/// Longest run of quiet 10 ms frames strictly inside the speech, seconds.
fn longest_inner_pause(samples: &[f32], rate: u32) -> f64 {
    let frame = (rate / 100) as usize;
    let loud: Vec<bool> = samples
        .chunks(frame)
        .map(|f| common::rms(f) > 0.01)
        .collect();
    let (Some(first), Some(last)) = (loud.iter().position(|&l| l), loud.iter().rposition(|&l| l))
    else {
        return 0.0;
    };
    let mut longest = 0;
    let mut run = 0;
    for &l in &loud[first..=last] {
        run = if l { 0 } else { run + 1 };
        longest = longest.max(run);
    }
    longest as f64 / 100.0
}

#[test]
fn a_sentence_split_after_its_first_phrase_sounds_like_the_whole() {
    let voice = common::shared_voice();
    let rate = voice.sample_rate();
    for sentence in SENTENCES {
        let end = first_phrase_end(sentence).unwrap_or_else(|| panic!("no cut in {sentence:?}"));
        let (head, tail) = (sentence[..end].trim(), sentence[end..].trim());
        let (whole, _) = speak(voice, sentence, None);
        let (mut joined, head_gain) = speak(voice, head, None);
        let head_len = joined.len();
        let (rest, tail_gain) = speak(voice, tail, Some(head_gain));
        joined.extend_from_slice(&rest);

        // The rest continues at the phrase's gain (lower only if it would clip).
        assert!(tail_gain <= head_gain + 1e-6, "{tail_gain} > {head_gain}");
        let peak = rest.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak <= 0.951, "rest peaks at {peak}");

        let seconds = |n: usize| n as f64 / f64::from(rate);
        let (split_s, whole_s) = (seconds(joined.len()), seconds(whole.len()));
        let pause_split = longest_inner_pause(&joined, rate);
        let pause_whole = longest_inner_pause(&whole, rate);
        eprintln!(
            "{sentence:?}: head {:.2} s, split {split_s:.2} s, whole {whole_s:.2} s, \
             longest pause {pause_split:.2} s (whole {pause_whole:.2} s), gains {head_gain:.2}/{tail_gain:.2}",
            seconds(head_len)
        );
        assert!(
            (split_s - whole_s).abs() <= 0.12 * whole_s,
            "{sentence:?}: {split_s:.2} s split, {whole_s:.2} s whole"
        );
        assert!(
            pause_split <= pause_whole.max(0.1) + 0.15,
            "{sentence:?}: a {pause_split:.2} s pause at the join (whole: {pause_whole:.2} s)"
        );
        assert!(
            head_len < whole.len() / 2,
            "{sentence:?}: the phrase is not short"
        );
    }
}
