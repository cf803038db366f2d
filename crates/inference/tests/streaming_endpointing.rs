//! Deepgram-style live semantics of the streaming recogniser: why each final
//! was emitted (`FinalReason`), `endpointing = false`, the last word time
//! behind `UtteranceEnd`, and the language on partials.

mod stt_support;

use stt_support::*;
use vocalis_inference::streaming::{
    FinalReason, StreamEvent, StreamingConfig, StreamingRecognizer,
};
use vocalis_inference::stt::wer::word_error_rate;

/// Pushes `audio` in 20 ms chunks, decoding as it goes; `finalize_at`
/// (samples) calls `finalize` once there. Returns the events before
/// `finish` and those after it.
fn stream(
    audio: &[f32],
    config: StreamingConfig,
    finalize_at: Option<usize>,
) -> (Vec<StreamEvent>, Vec<StreamEvent>, StreamingRecognizer) {
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), config).unwrap();
    let mut events = Vec::new();
    let mut pushed = 0;
    for chunk in audio.chunks(320) {
        events.extend(rec.push(chunk).unwrap());
        pushed += chunk.len();
        if finalize_at.is_some_and(|at| pushed >= at && pushed - chunk.len() < at) {
            rec.finalize();
        }
        events.extend(rec.run_pending(&mut worker).unwrap());
    }
    let mut tail = rec.finish().unwrap();
    tail.extend(rec.run_pending(&mut worker).unwrap());
    assert!(!rec.has_pending_work());
    (events, tail, rec)
}

fn finals(events: &[StreamEvent]) -> Vec<(String, FinalReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Final { text, reason, .. } => Some((text.clone(), *reason)),
            _ => None,
        })
        .collect()
}

/// two_sentences.wav with 2 s of silence appended, so both sentences end at
/// a silence endpoint.
fn two_sentences_then_silence() -> Vec<f32> {
    let mut audio = read_wav("two_sentences.wav");
    audio.extend(std::iter::repeat_n(0.0f32, 32_000));
    audio
}

#[test]
fn silence_endpoints_are_speech_final_and_flushes_are_not() {
    let (events, tail, _) = stream(
        &two_sentences_then_silence(),
        StreamingConfig::default(),
        None,
    );
    let fin = finals(&events);
    assert_eq!(fin.len(), 2, "{events:#?}");
    assert!(
        fin.iter().all(|(_, r)| *r == FinalReason::Endpoint),
        "{fin:?}"
    );
    assert!(FinalReason::Endpoint.is_speech_final());
    assert!(finals(&tail).is_empty(), "{tail:?}");

    // Finalize in the middle of the sentence, then the stream ends while
    // the speaker is still talking.
    let fox = read_wav("fox.wav");
    let (events, tail, _) = stream(&fox, StreamingConfig::default(), Some(fox.len() / 2));
    let (before, after) = (finals(&events), finals(&tail));
    assert_eq!(before.len(), 1, "{events:#?}");
    assert_eq!(before[0].1, FinalReason::Finalize);
    // fox.wav has little trailing silence: its end is the end of stream.
    assert_eq!(
        after.iter().map(|f| f.1).collect::<Vec<_>>(),
        [FinalReason::EndOfStream],
        "{tail:#?}"
    );
    assert!(!FinalReason::Finalize.is_speech_final());
    assert!(!FinalReason::EndOfStream.is_speech_final());

    // Cuts of over-long utterances say so.
    let config = StreamingConfig {
        max_utterance_s: 3.0,
        interim_results: false,
        ..StreamingConfig::default()
    };
    let (events, _, _) = stream(&two_sentences_then_silence(), config, None);
    let fin = finals(&events);
    assert!(
        fin.iter().filter(|f| f.1 == FinalReason::MaxLength).count() >= 2,
        "{fin:?}"
    );
    assert!(!FinalReason::MaxLength.is_speech_final());
    assert_eq!(FinalReason::MaxLength.as_str(), "max_length");
}

#[test]
fn endpointing_off_finalises_only_on_request_or_end_of_stream() {
    let audio = two_sentences_then_silence();
    let config = StreamingConfig {
        endpointing: false,
        ..StreamingConfig::default()
    };
    let (events, tail, _) = stream(&audio, config.clone(), None);
    // 2 s of silence after each sentence is not an endpoint: nothing is
    // final until the stream ends, and then both sentences are one final.
    assert!(finals(&events).is_empty(), "{events:#?}");
    let starts = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::SpeechStarted { .. }))
        .count();
    assert_eq!(
        starts, 2,
        "a SpeechStarted per burst of speech: {events:#?}"
    );
    let fin = finals(&tail);
    assert_eq!(fin.len(), 1, "{tail:#?}");
    assert_eq!(fin[0].1, FinalReason::EndOfStream);
    let wer = word_error_rate(&format!("{SENTENCE_1} {SENTENCE_2}"), &fin[0].0);
    assert!(wer <= 0.1, "WER {wer:.2}: {}", fin[0].0);

    // An explicit finalize between the sentences splits them.
    let (events, tail, _) = stream(&audio, config, Some(16_000 * 6));
    let fin = finals(&events);
    assert_eq!(fin.len(), 1, "{events:#?}");
    assert_eq!(fin[0].1, FinalReason::Finalize);
    assert!(word_error_rate(SENTENCE_1, &fin[0].0) <= 0.1, "{fin:?}");
    let fin = finals(&tail);
    assert_eq!(fin.len(), 1, "{tail:#?}");
    assert_eq!(fin[0].1, FinalReason::EndOfStream);
    assert!(word_error_rate(SENTENCE_2, &fin[0].0) <= 0.1, "{fin:?}");
}

#[test]
fn last_word_end_and_language_ride_on_the_events() {
    let (events, _, rec) = stream(
        &two_sentences_then_silence(),
        StreamingConfig::default(),
        None,
    );
    let mut latest: Option<f64> = None;
    let mut partials = 0;
    for e in &events {
        let (end_of_audio, last, language) = match e {
            StreamEvent::Partial {
                end,
                last_word_end,
                language,
                ..
            } => {
                partials += 1;
                (*end, *last_word_end, language.clone())
            }
            StreamEvent::Final {
                end,
                last_word_end,
                language,
                words,
                ..
            } => {
                let max_word = words.iter().map(|w| w.end).fold(0.0, f64::max);
                assert!(last_word_end.unwrap() <= max_word + 1e-9, "{e:?}");
                (*end + 0.1, *last_word_end, language.clone())
            }
            StreamEvent::SpeechStarted { .. } => continue,
        };
        assert_eq!(language.map(|l| l.0).as_deref(), Some("en"), "{e:?}");
        let last = last.expect("words have times");
        assert!(
            last <= end_of_audio + 1e-9,
            "{last} after {end_of_audio}: {e:?}"
        );
        latest = Some(latest.map_or(last, |l: f64| l.max(last)));
    }
    assert!(partials >= 3, "{events:#?}");
    assert_eq!(rec.last_word_end(), latest);
    // The second sentence ends before the 2 s of appended silence (10 s in).
    let last = rec.last_word_end().unwrap();
    assert!(last > 8.0 && last <= 10.1, "{last}");
    let speech_end = rec.last_speech_end().unwrap();
    assert!(
        last <= speech_end + 1e-9 && speech_end <= 10.1,
        "{speech_end}"
    );
    assert!(rec.position() - last >= 1.9, "{}", rec.position());
}

/// The utterance audio reaches `onset_pad_ms` before the VAD's speech start
/// and `end_pad_ms` past its end (into the silence), never into the
/// neighbouring utterance.
#[test]
fn finals_keep_padding_around_the_vad_speech() {
    let config = StreamingConfig::default();
    let (onset, end_pad) = (
        f64::from(config.onset_pad_ms) / 1000.0,
        f64::from(config.end_pad_ms) / 1000.0,
    );
    assert!(onset >= 0.2 && end_pad >= 0.2, "{config:?}");
    let (events, _, _) = stream(&two_sentences_then_silence(), config, None);
    let starts: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::SpeechStarted { at } => Some(*at),
            _ => None,
        })
        .collect();
    let spans: Vec<(f64, f64)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Final { start, end, .. } => Some((*start, *end)),
            _ => None,
        })
        .collect();
    assert_eq!((starts.len(), spans.len()), (2, 2), "{events:#?}");
    for (at, (start, _)) in starts.iter().zip(&spans) {
        let want = (at - onset).max(0.0);
        assert!(
            (start - want).abs() < 0.002,
            "start {start} for speech at {at}"
        );
    }
    // Sentence 1 ends ~1 s before sentence 2 starts: its end pad stays in
    // that pause, and the second utterance starts after it.
    assert!(spans[0].1 <= spans[1].0 + 1e-9, "{spans:?}");
    assert!(spans[1].1 <= 12.01, "{spans:?}");

    let bad = StreamingConfig {
        onset_pad_ms: 1500,
        ..StreamingConfig::default()
    };
    assert!(StreamingRecognizer::new(&vad(), bad).is_err());
}
