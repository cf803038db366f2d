//! The recogniser's partial decodes: cheap while the caller talks, and one
//! speculative partial with the final's settings once the caller is quiet,
//! which stands in for the final decode (also when the endpoint comes
//! while it is still running).

mod stt_support;

use stt_support::*;
use vocalis_inference::streaming::{
    DecodeKind, DecodeRequest, StreamEvent, StreamingConfig, StreamingRecognizer,
    PARTIAL_MIN_AUDIO_CTX,
};
use vocalis_inference::stt::wer::word_error_rate;
use vocalis_inference::stt::{AudioCtx, SttError, SttWorker, Transcribe, AUTO_MIN};

fn finals(events: &[StreamEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Final { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn run(
    worker: &mut SttWorker,
    rec: &mut StreamingRecognizer,
    request: DecodeRequest,
) -> Vec<StreamEvent> {
    let result = worker.transcribe(&request.audio, &request.options);
    rec.complete(request.ticket, result).unwrap()
}

/// Partials while the caller talks use a smaller encoder window and no
/// context prompt; each utterance gets one urgent partial with the final's
/// window once the caller is quiet, and that partial is its final: no
/// final decode runs and the finals are as good as before.
#[test]
fn partials_are_cheap_while_talking_and_the_quiet_one_is_the_final() {
    let audio = read_wav("two_sentences.wav");
    let mut worker = worker();
    let config = StreamingConfig {
        final_beam_size: 5,
        ..StreamingConfig::default()
    };
    let mut rec = StreamingRecognizer::new(&vad(), config).unwrap();
    let (mut events, mut cheap, mut urgent, mut final_decodes) = (Vec::new(), 0, 0, 0);
    let mut step = |rec: &mut StreamingRecognizer, events: &mut Vec<StreamEvent>| {
        while let Some(request) = rec.next_request() {
            match (request.kind, request.urgent) {
                (DecodeKind::Final, _) => {
                    assert_eq!(request.options.beam_size, 5);
                    final_decodes += 1;
                }
                (DecodeKind::Partial, true) => {
                    assert_eq!(request.options.audio_ctx, AudioCtx::Auto);
                    // It may become the final: decoded as one would be.
                    assert_eq!(request.options.beam_size, 5);
                    urgent += 1;
                }
                (DecodeKind::Partial, false) => {
                    // Under 6.4 s of audio the final's window is AUTO_MIN.
                    let seconds = request.audio.len() as f64 / 16_000.0;
                    if seconds < 6.0 {
                        let AudioCtx::Fixed(frames) = request.options.audio_ctx else {
                            panic!("mid-speech partial with {:?}", request.options.audio_ctx);
                        };
                        assert!(
                            frames >= PARTIAL_MIN_AUDIO_CTX && i32::from(frames) < AUTO_MIN,
                            "{frames} frames for {seconds:.1} s"
                        );
                    }
                    assert_eq!(request.options.initial_prompt, None);
                    assert_eq!(
                        request.options.beam_size, 1,
                        "mid-speech partials are greedy"
                    );
                    cheap += 1;
                }
            }
            events.extend(run(&mut worker, rec, request));
        }
    };
    for chunk in audio.chunks(320) {
        events.extend(rec.push(chunk).unwrap());
        step(&mut rec, &mut events);
    }
    events.extend(rec.finish().unwrap());
    step(&mut rec, &mut events);
    assert!(!rec.has_pending_work());
    let fin = finals(&events);
    assert_eq!(fin.len(), 2, "{events:#?}");
    assert!(cheap >= 4, "{cheap} mid-speech partials");
    assert!(urgent >= 2, "{urgent} urgent partials");
    assert_eq!(final_decodes, 0, "{final_decodes} final decodes");
    let wer = word_error_rate(&format!("{SENTENCE_1} {SENTENCE_2}"), &fin.join(" "));
    assert!(wer <= 0.1, "WER {wer:.2}: {fin:?}");
}

/// The endpoint arrives while the urgent partial is still running: no
/// final decode is queued, and the partial's result is the final; when it
/// fails instead, the final decode follows it. Finals stay in order.
#[test]
fn the_endpoint_waits_for_the_urgent_partial_in_flight() {
    let audio = read_wav("two_sentences.wav");
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), StreamingConfig::default()).unwrap();
    let mut events = Vec::new();
    // The urgent partial held back, and for how many chunks.
    let mut held: Option<DecodeRequest> = None;
    let mut held_for = 0;
    let (mut awaited, mut final_decodes) = (0, 0);
    let mut chunks = audio.chunks(320);
    loop {
        let more = match chunks.next() {
            Some(chunk) => {
                events.extend(rec.push(chunk).unwrap());
                true
            }
            None => {
                events.extend(rec.finish().unwrap());
                false
            }
        };
        held_for += 1;
        if held_for > 20 {
            // Speech resumed after a pause: this one was only a partial.
            if let Some(request) = held.take() {
                events.extend(run(&mut worker, &mut rec, request));
            }
        }
        if let Some(request) = held.take_if(|_| !rec.in_utterance()) {
            // The utterance ended with its urgent partial in flight.
            assert_eq!(rec.queued_finals(), 0);
            assert!(rec.has_pending_work());
            awaited += 1;
            if awaited == 1 {
                let before = finals(&events).len();
                events.extend(run(&mut worker, &mut rec, request));
                assert_eq!(finals(&events).len(), before + 1, "{events:#?}");
            } else {
                let none = rec
                    .complete(request.ticket, Err(SttError::Cancelled))
                    .unwrap();
                assert!(none.is_empty());
                assert_eq!(rec.queued_finals(), 1);
            }
        }
        while held.is_none() {
            let Some(request) = rec.next_request() else {
                break;
            };
            match (request.kind, request.urgent) {
                (DecodeKind::Partial, true) => {
                    held = Some(request);
                    held_for = 0;
                }
                (kind, _) => {
                    final_decodes += usize::from(kind == DecodeKind::Final);
                    events.extend(run(&mut worker, &mut rec, request));
                }
            }
        }
        if !more {
            if let Some(request) = held.take() {
                events.extend(run(&mut worker, &mut rec, request));
            }
            while let Some(request) = rec.next_request() {
                final_decodes += usize::from(request.kind == DecodeKind::Final);
                events.extend(run(&mut worker, &mut rec, request));
            }
            break;
        }
    }
    assert!(!rec.has_pending_work());
    assert_eq!(awaited, 2, "{events:#?}");
    assert_eq!(final_decodes, 1);
    let fin = finals(&events);
    assert_eq!(fin.len(), 2, "{events:#?}");
    let wer = word_error_rate(&format!("{SENTENCE_1} {SENTENCE_2}"), &fin.join(" "));
    assert!(wer <= 0.1, "WER {wer:.2}: {fin:?}");
}

/// A cheap partial still in flight when the caller has been quiet long
/// enough is reported (`speculative_partial_waiting`); cancelling it, as
/// the server does, lets the urgent partial start at once.
#[test]
fn a_cheap_partial_in_flight_yields_to_the_urgent_one() {
    let audio = read_wav("two_sentences.wav");
    let mut worker = worker();
    let mut rec = StreamingRecognizer::new(&vad(), StreamingConfig::default()).unwrap();
    let mut events = Vec::new();
    let mut held: Option<DecodeRequest> = None;
    let mut yielded = 0;
    for chunk in audio.chunks(320) {
        events.extend(rec.push(chunk).unwrap());
        if rec.speculative_partial_waiting() {
            let cheap = held.take().expect("a cheap partial in flight");
            let none = rec
                .complete(cheap.ticket, Err(SttError::Cancelled))
                .unwrap();
            assert!(none.is_empty());
            let next = rec.next_request().expect("the urgent partial");
            assert!(next.urgent && next.kind == DecodeKind::Partial);
            yielded += 1;
            events.extend(run(&mut worker, &mut rec, next));
        }
        assert!(!rec.speculative_partial_waiting());
        if held.is_none() {
            while let Some(request) = rec.next_request() {
                if request.kind == DecodeKind::Partial && !request.urgent {
                    held = Some(request);
                    break;
                }
                events.extend(run(&mut worker, &mut rec, request));
            }
        }
    }
    if let Some(request) = held.take() {
        events.extend(run(&mut worker, &mut rec, request));
    }
    events.extend(rec.finish().unwrap());
    while let Some(request) = rec.next_request() {
        events.extend(run(&mut worker, &mut rec, request));
    }
    assert!(yielded >= 1, "{events:#?}");
    assert_eq!(finals(&events).len(), 2, "{events:#?}");
}

/// Audio that arrives faster than it is decoded (a burst, or a busy box):
/// the speculative partial still decodes what the final would (up to the
/// quiet spell plus the pads), not everything received by then, so its
/// text does not depend on timing.
#[test]
fn a_burst_does_not_stretch_the_speculative_partial() {
    let mut audio = read_wav("two_sentences.wav");
    let speech_samples = audio.len();
    audio.extend(std::iter::repeat_n(0.0f32, 16_000 * 2));
    let config = StreamingConfig {
        utterance_end_ms: 5_000,
        ..StreamingConfig::default()
    };
    let mut rec = StreamingRecognizer::new(&vad(), config).unwrap();
    // Everything arrives before any decode is asked for.
    for chunk in audio.chunks(320) {
        rec.push(chunk).unwrap();
    }
    let mut urgent = Vec::new();
    while let Some(request) = rec.next_request() {
        let end = (request.start * 16_000.0).round() as usize + request.audio.len();
        if request.kind == DecodeKind::Partial && request.urgent {
            urgent.push(end);
        }
        let ticket = request.ticket;
        rec.complete(ticket, Err(SttError::Cancelled)).ok();
    }
    assert!(
        !urgent.is_empty(),
        "a speculative partial after 2 s of quiet"
    );
    for end in urgent {
        assert!(
            end < speech_samples + 16_000,
            "the speculative partial ends {:.2} s after the speech's file end",
            (end as f64 - speech_samples as f64) / 16_000.0
        );
    }
}
