//! Silero VAD over whole audio and as a stream, with the real model.

mod stt_support;

use stt_support::*;
use vocalis_inference::vad::{VadConfig, VadEvent, FRAME_SAMPLES};

#[test]
fn finds_the_two_sentences() {
    let regions = vad()
        .speech_regions(&read_wav("two_sentences.wav"))
        .unwrap();
    assert_eq!(regions.len(), 2, "{regions:?}");
    // 0.3 s lead-in, sentence 1 to ~5.1 s, 1 s pause, sentence 2 to ~9.7 s.
    assert!(
        regions[0].start > 0.1 && regions[0].start < 0.6,
        "{regions:?}"
    );
    assert!(regions[0].end > 4.6 && regions[0].end < 5.5, "{regions:?}");
    assert!(
        regions[1].start > 5.0 && regions[1].start < 6.3,
        "{regions:?}"
    );
    assert!(
        regions[1].end > 9.2 && regions[1].end <= 10.01,
        "{regions:?}"
    );
}

#[test]
fn silence_and_noise_have_no_speech() {
    let v = vad();
    assert!(v
        .speech_regions(&vec![0.0; 16_000 * 30])
        .unwrap()
        .is_empty());
    assert!(v
        .speech_regions(&white_noise(30.0, 0.3))
        .unwrap()
        .is_empty());
    assert!(v.speech_regions(&[]).unwrap().is_empty());
    assert!(v.speech_regions(&[0.5; 100]).unwrap().is_empty());
}

#[test]
fn stream_in_20ms_chunks_matches_whole_audio() {
    let audio = read_wav("two_sentences.wav");
    let v = vad();
    let probs = v.frame_probabilities_sequential(&audio).unwrap();
    let whole = v.regions(&probs, audio.len());
    let mut stream = v.stream();
    let mut events = Vec::new();
    for chunk in audio.chunks(320) {
        events.extend(stream.push(chunk).unwrap());
    }
    events.extend(stream.finish().unwrap());
    let starts: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            VadEvent::SpeechStart { at } => Some(*at),
            VadEvent::SpeechEnd { .. } => None,
        })
        .collect();
    assert_eq!(starts.len(), whole.len(), "{events:?} vs {whole:?}");
    for (s, r) in starts.iter().zip(&whole) {
        assert!((s - r.start).abs() < 1e-6, "{s} vs {r:?}");
    }
    assert!(!stream.in_speech());
}

#[test]
fn rows_on_threads_find_the_sequential_regions() {
    let v = vad();
    for name in ["two_sentences.wav", "fox.wav"] {
        let mut audio = read_wav(name);
        // Four times over, so there are several rows to compare.
        audio.extend(audio.clone());
        audio.extend(audio.clone());
        let probs = v.frame_probabilities_sequential(&audio).unwrap();
        let exact = v.regions(&probs, audio.len());
        // The first row starts where a single pass does: the same windows,
        // the same context, the same state, so the same probabilities.
        let rows = v.frame_probabilities(&audio).unwrap();
        assert_eq!(rows.len(), probs.len());
        for (i, (a, b)) in rows.iter().zip(&probs).take(60).enumerate() {
            assert!((a - b).abs() < 1e-4, "{name} frame {i}: {a} vs {b}");
        }
        for threads in [1, 2, 3] {
            let rows = v.speech_regions_on(&audio, threads).unwrap();
            assert_eq!(
                rows.len(),
                exact.len(),
                "{name} {threads}: {rows:?} vs {exact:?}"
            );
            for (a, b) in rows.iter().zip(&exact) {
                assert!(
                    (a.start - b.start).abs() <= 0.1 && (a.end - b.end).abs() <= 0.1,
                    "{name} {threads}: {rows:?} vs {exact:?}"
                );
            }
        }
    }
}

#[test]
fn probabilities_are_per_32ms_frame() {
    let audio = read_wav("fox.wav");
    let probs = vad().frame_probabilities(&audio).unwrap();
    assert_eq!(probs.len(), audio.len().div_ceil(FRAME_SAMPLES));
    assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(probs.iter().any(|&p| p > 0.9));
}

#[test]
fn missing_model_names_the_pull_command() {
    init_runtime();
    let err =
        vocalis_inference::vad::SileroModel::load(std::path::Path::new("/nope/silero_vad.onnx"))
            .unwrap_err();
    assert!(
        err.to_string().contains("vocalis models pull silero-vad"),
        "{err}"
    );
    assert!(VadConfig {
        threshold: 0.2,
        ..VadConfig::default()
    }
    .validate()
    .is_err());
}
