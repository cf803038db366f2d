//! Diarization accuracy on synthetic conversations with the real models:
//! Piper and espeak-ng voices in alternating turns of 1–6 s (some through
//! 8 kHz μ-law), VAD regions from Silero, words from Whisper tiny.en. Word
//! attribution must reach 90 % after the best label mapping, and the speaker
//! count must be right (2, 3, and 1 for a monologue). DER is printed.

mod diarize_support;
mod stt_support;

use diarize_support::*;
use stt_support::{vad, worker};
use vocalis_inference::diarize::{assign_words, DiarizeOptions};
use vocalis_inference::stt::{Transcribe, TranscribeOptions};

/// Diarizes a conversation and scores it: (speakers found, word attribution, DER).
fn score(name: &str, c: &Conversation, options: &DiarizeOptions) -> (usize, f64, f64) {
    let regions = vad().speech_regions(&c.audio).expect("vad");
    let d = diarizer()
        .diarize(&c.audio, &regions, options)
        .expect("diarize");
    let t = worker()
        .transcribe(&c.audio, &TranscribeOptions::default())
        .expect("transcribe");
    assert!(
        t.words.len() >= 20,
        "{name}: too few words {}",
        t.words.len()
    );
    let times: Vec<(f64, f64)> = t.words.iter().map(|w| (w.start, w.end)).collect();
    let assigned = assign_words(&d, &times);
    assert_eq!(assigned.len(), times.len());
    let pairs: Vec<(usize, usize)> = assigned
        .iter()
        .zip(&times)
        .map(|(a, (s, e))| (a.speaker, truth_at(&c.turns, (s + e) / 2.0)))
        .collect();
    let accuracy = best_accuracy(&pairs, c.speakers);
    let der = der(&d, c);
    eprintln!(
        "{name}: {:.1} s, {} turns, {} words, speakers {} (truth {}), attribution {:.1} %, DER {:.1} %",
        c.audio.len() as f64 / 16_000.0,
        c.turns.len(),
        times.len(),
        d.speakers,
        c.speakers,
        accuracy * 100.0,
        der * 100.0
    );
    (d.speakers, accuracy, der)
}

#[test]
fn two_party_conversations_are_attributed_word_by_word() {
    let options = DiarizeOptions::default();
    let wideband = conversation(&[Voice::Piper, Voice::Espeak("en+f2")], &[0, 1], 14, 0);
    let (n, acc, _) = score("2-party piper/en+f2 16 kHz", &wideband, &options);
    assert_eq!(n, 2, "speaker count");
    assert!(acc >= 0.90, "attribution {acc}");

    let mut phone = conversation(
        &[Voice::Espeak("en+m3"), Voice::Espeak("en-us+f4")],
        &[0, 1],
        14,
        4,
    );
    phone.audio = through_mulaw(&phone.audio);
    let (n, acc, _) = score("2-party en+m3/en-us+f4 8 kHz mu-law", &phone, &options);
    assert_eq!(n, 2, "speaker count");
    assert!(acc >= 0.90, "attribution {acc}");
}

#[test]
fn three_party_conversation_finds_three_speakers() {
    let c = conversation(
        &[Voice::Piper, Voice::Espeak("en+m3"), Voice::Espeak("en+f2")],
        &[0, 1, 2, 1, 0, 2],
        15,
        2,
    );
    let (n, acc, _) = score("3-party piper/en+m3/en+f2", &c, &DiarizeOptions::default());
    assert_eq!(n, 3, "speaker count");
    assert!(acc >= 0.90, "attribution {acc}");
}

#[test]
fn monologues_are_one_speaker() {
    for voice in [Voice::Piper, Voice::Espeak("en-us+f4")] {
        let mut c = conversation(&[voice], &[0], 10, 0);
        if voice == Voice::Piper {
            c.audio = through_mulaw(&c.audio);
        }
        let (n, acc, _) = score(
            &format!("monologue {voice:?}"),
            &c,
            &DiarizeOptions::default(),
        );
        assert_eq!(n, 1, "{voice:?}: speaker count");
        assert!(acc >= 0.99, "{voice:?}: attribution {acc}");
    }
}

#[test]
fn speaker_count_hints_are_obeyed() {
    let c = conversation(&[Voice::Piper, Voice::Espeak("en+f2")], &[0, 1], 8, 6);
    let regions = vad().speech_regions(&c.audio).expect("vad");
    let one = DiarizeOptions {
        max_speakers: 1,
        ..DiarizeOptions::default()
    };
    assert_eq!(
        diarizer()
            .diarize(&c.audio, &regions, &one)
            .unwrap()
            .speakers,
        1
    );
    let three = DiarizeOptions {
        min_speakers: 3,
        ..DiarizeOptions::default()
    };
    assert_eq!(
        diarizer()
            .diarize(&c.audio, &regions, &three)
            .unwrap()
            .speakers,
        3
    );
    // No speech: no speakers, no spans.
    let silent = diarizer()
        .diarize(&vec![0.0; 32_000], &[], &DiarizeOptions::default())
        .unwrap();
    assert_eq!((silent.speakers, silent.spans.len()), (0, 0));
}

#[test]
fn online_labels_are_stable_across_a_live_conversation() {
    use vocalis_inference::diarize::OnlineSpeakers;
    let c = conversation(
        &[Voice::Piper, Voice::Espeak("en+m3"), Voice::Espeak("en+f2")],
        &[0, 1, 2, 1, 0, 2],
        12,
        3,
    );
    let mut online = OnlineSpeakers::new(&DiarizeOptions::default());
    let mut pairs = Vec::new();
    for &(start, end, truth) in &c.turns {
        let audio = &c.audio[(start * 16_000.0) as usize..(end * 16_000.0) as usize];
        let embedding = diarizer()
            .embed_utterance(audio)
            .expect("embed")
            .expect("long enough");
        pairs.push((online.assign(&embedding).0, truth));
    }
    let accuracy = best_accuracy(&pairs, c.speakers);
    eprintln!(
        "online: {} turns, {} speakers (truth 3), turn attribution {:.1} %",
        pairs.len(),
        online.count(),
        accuracy * 100.0
    );
    assert_eq!(online.count(), 3, "{pairs:?}");
    assert!(accuracy >= 0.9, "{pairs:?}");
}

#[test]
fn online_speaker_cap_labels_a_third_voice_with_a_known_one() {
    use vocalis_inference::diarize::OnlineSpeakers;
    let c = conversation(
        &[Voice::Piper, Voice::Espeak("en+m3"), Voice::Espeak("en+f2")],
        &[0, 1, 2, 1, 0, 2],
        12,
        3,
    );
    let embeddings: Vec<(Vec<f32>, usize)> = c
        .turns
        .iter()
        .map(|&(start, end, truth)| {
            let audio = &c.audio[(start * 16_000.0) as usize..(end * 16_000.0) as usize];
            let embedding = diarizer()
                .embed_utterance(audio)
                .expect("embed")
                .expect("long enough");
            (embedding, truth)
        })
        .collect();
    // `max_speakers=2`, and `diarize_speakers=2` (min = max = 2).
    for min_speakers in [1, 2] {
        let options = DiarizeOptions {
            min_speakers,
            max_speakers: 2,
            ..DiarizeOptions::default()
        };
        let mut online = OnlineSpeakers::new(&options);
        let pairs: Vec<(usize, usize)> = embeddings
            .iter()
            .map(|(embedding, truth)| (online.assign(embedding).0, *truth))
            .collect();
        eprintln!("online, max 2: {pairs:?}");
        assert_eq!(online.count(), 2, "{pairs:?}");
        assert!(pairs.iter().all(|&(id, _)| id < 2), "{pairs:?}");
        // The two voices heard first stay apart and stable.
        let first: Vec<(usize, usize)> = pairs.iter().copied().filter(|&(_, t)| t < 2).collect();
        assert!(best_accuracy(&first, 2) >= 0.9, "{pairs:?}");
    }
}
