//! The streaming recogniser fed 20 ms chunks as fast as possible.

mod stt_support;

use stt_support::*;
use vocalis_inference::streaming::{StreamEvent, StreamingConfig, StreamingRecognizer};
use vocalis_inference::stt::wer::word_error_rate;
use vocalis_inference::stt::{Transcribe, TranscribeOptions};

fn run(audio: &[f32], config: StreamingConfig) -> Vec<StreamEvent> {
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), config).unwrap();
    let mut events = Vec::new();
    for chunk in audio.chunks(320) {
        events.extend(rec.push(chunk).unwrap());
        events.extend(rec.run_pending(&mut worker).unwrap());
    }
    events.extend(rec.finish().unwrap());
    events.extend(rec.run_pending(&mut worker).unwrap());
    assert!(!rec.has_pending_work());
    events
}

fn finals(events: &[StreamEvent]) -> Vec<(String, f64, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Final {
                text, start, end, ..
            } => Some((text.clone(), *start, *end)),
            _ => None,
        })
        .collect()
}

#[test]
fn two_sentences_give_partials_and_two_finals() {
    let audio = read_wav("two_sentences.wav");
    let events = run(&audio, StreamingConfig::default());

    let partials: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Partial { .. }))
        .collect();
    assert!(partials.len() >= 3, "{events:#?}");
    let fin = finals(&events);
    assert_eq!(fin.len(), 2, "{events:#?}");
    let starts = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::SpeechStarted { .. }))
        .count();
    assert_eq!(starts, 2);

    // Finals match the whole-file transcript.
    let whole = worker()
        .transcribe(&audio, &TranscribeOptions::default())
        .unwrap()
        .text();
    let joined = fin
        .iter()
        .map(|f| f.0.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let wer = word_error_rate(&whole, &joined);
    assert!(
        wer <= 0.05,
        "WER {wer:.3}\nwhole:  {whole}\nstream: {joined}"
    );

    // Finals are ordered, inside the audio, around the 1 s pause.
    assert!(
        fin[0].1 < fin[0].2 && fin[0].2 <= fin[1].1 && fin[1].2 <= 10.01,
        "{fin:?}"
    );
    assert!(
        fin[0].2 > 4.5 && fin[0].2 < 6.0 && fin[1].1 > 5.0,
        "{fin:?}"
    );

    // Committed prefixes never change: each one extends the previous one of
    // the same utterance.
    let mut prev: Option<(f64, String)> = None;
    for e in &events {
        match e {
            StreamEvent::Partial {
                text,
                committed,
                start,
                end,
                words,
                confidence,
                ..
            } => {
                assert!(
                    text.starts_with(committed.as_str()),
                    "{text:?} / {committed:?}"
                );
                assert!(start < end);
                // The partial's words spell its text, in stream time inside
                // the utterance, with a confidence.
                let spelled: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                assert_eq!(spelled.join(" "), *text);
                assert!(
                    words.iter().all(|w| w.start >= start - 0.05
                        && w.start <= w.end
                        && w.end <= end + 0.05),
                    "{words:?} outside {start}–{end}"
                );
                assert!(*confidence > 0.0 && *confidence <= 1.0, "{confidence}");
                if let Some((s, c)) = &prev {
                    if s == start {
                        assert!(
                            committed.starts_with(c.as_str()),
                            "committed changed: {c:?} -> {committed:?}"
                        );
                    }
                }
                prev = Some((*start, committed.clone()));
            }
            StreamEvent::Final { .. } => prev = None,
            StreamEvent::SpeechStarted { .. } => {}
        }
    }
    // Some words got committed along the way.
    assert!(events.iter().any(
        |e| matches!(e, StreamEvent::Partial { committed, .. } if committed.split(' ').count() >= 3)
    ));
}

#[test]
fn final_words_carry_stream_timestamps() {
    let audio = read_wav("two_sentences.wav");
    let events = run(&audio, StreamingConfig::default());
    let second = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Final {
                words,
                confidence,
                language,
                ..
            } => Some((words, confidence, language)),
            _ => None,
        })
        .nth(1)
        .unwrap();
    assert!(
        second.0.first().unwrap().start > 5.0,
        "{:?}",
        second.0.first()
    );
    assert!(second.0.last().unwrap().end <= 10.01);
    assert!(*second.1 > 0.5);
    assert_eq!(second.2.as_ref().map(|l| l.0.as_str()), Some("en"));
}

#[test]
fn finalize_and_finish_close_open_utterances() {
    let audio = read_wav("fox.wav");
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), StreamingConfig::default()).unwrap();
    // Stop pushing in the middle of the sentence and finalise.
    let mut events = Vec::new();
    for chunk in audio[..audio.len() / 2].chunks(320) {
        events.extend(rec.push(chunk).unwrap());
    }
    rec.finalize();
    events.extend(rec.run_pending(&mut worker).unwrap());
    assert_eq!(finals(&events).len(), 1, "{events:#?}");
    // The rest arrives and the stream ends while speaking.
    for chunk in audio[audio.len() / 2..].chunks(320) {
        events.extend(rec.push(chunk).unwrap());
    }
    events.extend(rec.finish().unwrap());
    events.extend(rec.run_pending(&mut worker).unwrap());
    let fin = finals(&events);
    assert_eq!(fin.len(), 2, "{events:#?}");
    let joined = format!("{} {}", fin[0].0, fin[1].0);
    assert!(word_error_rate(FOX, &joined) <= 0.3, "{joined}");
    assert!(rec.push(&[0.0; 320]).is_err());
}

#[test]
fn long_utterances_are_cut() {
    let audio = read_wav("two_sentences.wav");
    let config = StreamingConfig {
        max_utterance_s: 3.0,
        interim_results: false,
        ..StreamingConfig::default()
    };
    let events = run(&audio, config);
    let fin = finals(&events);
    assert!(fin.len() >= 4, "{fin:?}");
    for pair in fin.windows(2) {
        assert!(pair[0].2 <= pair[1].1 + 1e-9, "{fin:?}");
    }
    for f in &fin {
        assert!(f.2 - f.1 <= 3.0 + 1e-6, "{f:?}");
    }
    assert!(!events
        .iter()
        .any(|e| matches!(e, StreamEvent::Partial { .. })));
    let joined = fin
        .iter()
        .map(|f| f.0.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let wer = word_error_rate(&format!("{SENTENCE_1} {SENTENCE_2}"), &joined);
    assert!(wer <= 0.35, "WER {wer:.2}: {joined}");
}

#[test]
fn silence_and_noise_streams_produce_nothing() {
    for audio in [vec![0.0; 16_000 * 5], white_noise(5.0, 0.3)] {
        let events = run(&audio, StreamingConfig::default());
        assert!(events.is_empty(), "{events:?}");
    }
}

#[test]
fn rejects_bad_config() {
    let config = StreamingConfig {
        utterance_end_ms: 100,
        ..StreamingConfig::default()
    };
    assert!(StreamingRecognizer::new(&vad(), config).is_err());
}

#[test]
fn released_finals_are_handed_out_again() {
    use vocalis_inference::streaming::DecodeKind;
    let audio = read_wav("fox.wav");
    let config = StreamingConfig {
        interim_results: false,
        ..StreamingConfig::default()
    };
    let mut rec = StreamingRecognizer::new(&vad(), config).unwrap();
    rec.push(&audio).unwrap();
    rec.finalize();
    let first = rec.next_request().expect("final");
    assert_eq!(first.kind, DecodeKind::Final);
    assert!(
        rec.next_request().is_none(),
        "one request in flight at a time"
    );
    let len = first.audio.len();
    rec.release(first); // e.g. the pool said Busy
    let again = rec.next_request().expect("final again");
    assert_eq!((again.kind, again.audio.len()), (DecodeKind::Final, len));
    let events = rec.complete(again.ticket, Ok(Default::default())).unwrap();
    assert!(
        events.is_empty(),
        "empty final without partials is not reported"
    );
    assert!(rec.complete(again.ticket, Ok(Default::default())).is_err());
}

/// Minutes of audio in one push (a client sending a whole recording as one
/// message) are split into utterances exactly as 20 ms chunks would be:
/// utterances end at pauses and none is longer than `max_utterance_s`.
#[test]
fn one_huge_push_is_cut_like_small_ones() {
    let speech = read_wav("two_sentences.wav");
    let mut audio = Vec::new();
    for _ in 0..6 {
        audio.extend_from_slice(&speech);
        audio.extend(std::iter::repeat_n(0.0f32, 16_000 * 5));
    }
    let config = StreamingConfig::default();
    let max = f64::from(config.max_utterance_s);
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), config).unwrap();
    let mut events = rec.push(&audio).unwrap();
    events.extend(rec.finish().unwrap());
    events.extend(rec.run_pending(&mut worker).unwrap());
    let fin = finals(&events);
    assert_eq!(fin.len(), 12, "{fin:#?}");
    for (text, start, end) in &fin {
        assert!(end - start <= max, "{start}..{end}: {text}");
        assert!(!text.is_empty());
    }
}

/// When the last partial already decoded all of an utterance's speech
/// cleanly, it becomes the final and no final decode runs; the finals are as
/// good as decoding each utterance again.
#[test]
fn a_partial_covering_the_utterance_is_its_final() {
    use vocalis_inference::streaming::DecodeKind;
    let audio = read_wav("two_sentences.wav");
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), StreamingConfig::default()).unwrap();
    let (mut events, mut final_decodes) = (Vec::new(), 0);
    let mut run = |rec: &mut StreamingRecognizer, events: &mut Vec<StreamEvent>| {
        while let Some(request) = rec.next_request() {
            if request.kind == DecodeKind::Final {
                final_decodes += 1;
            }
            let result = worker.transcribe(&request.audio, &request.options);
            events.extend(rec.complete(request.ticket, result).unwrap());
        }
    };
    for chunk in audio.chunks(320) {
        events.extend(rec.push(chunk).unwrap());
        run(&mut rec, &mut events);
    }
    events.extend(rec.finish().unwrap());
    run(&mut rec, &mut events);
    let fin = finals(&events);
    assert_eq!(fin.len(), 2, "{events:#?}");
    assert!(
        final_decodes < 2,
        "{final_decodes} final decodes for 2 finals"
    );
    let joined = format!("{} {}", fin[0].0, fin[1].0);
    let wer = word_error_rate(&format!("{SENTENCE_1} {SENTENCE_2}"), &joined);
    assert!(wer <= 0.1, "WER {wer:.2}: {joined}");
}
