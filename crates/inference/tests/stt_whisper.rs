//! Whole-audio transcription with the real tiny.en / base models.

mod stt_support;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use stt_support::*;
use vocalis_inference::stt::wer::word_error_rate;
use vocalis_inference::stt::{
    AudioCtx, DecodeHooks, SttError, SttWorker, Transcribe, TranscribeOptions, VadMode,
};

#[test]
fn clip_transcribes_within_10_percent_wer() {
    let mut w = worker();
    let t = w
        .transcribe(&read_wav("fox.wav"), &TranscribeOptions::default())
        .unwrap();
    let wer = word_error_rate(FOX, &t.text());
    assert!(wer <= 0.10, "WER {wer:.2}: {:?}", t.text());
    assert_eq!(t.language, Some(("en".to_string(), 1.0)));
    assert!(!t.words.is_empty());

    let t = w
        .transcribe(
            &read_wav("two_sentences.wav"),
            &TranscribeOptions::default(),
        )
        .unwrap();
    let reference = format!("{SENTENCE_1} {SENTENCE_2}");
    let wer = word_error_rate(&reference, &t.text());
    assert!(wer <= 0.10, "WER {wer:.2}: {:?}", t.text());
}

#[test]
fn empty_and_tiny_inputs_give_empty_transcripts() {
    let mut w = worker();
    for len in [0usize, 1, 800, 1599] {
        let t = w
            .transcribe(&vec![0.1; len], &TranscribeOptions::default())
            .unwrap();
        assert!(t.is_empty() && t.words.is_empty(), "len {len}: {t:?}");
    }
    // 50 ms of real speech audio, even without the VAD gate.
    let audio = read_wav("fox.wav");
    let opts = TranscribeOptions {
        vad: VadMode::Off,
        ..TranscribeOptions::default()
    };
    let t = w.transcribe(&audio[16_000..16_800], &opts).unwrap();
    assert!(t.is_empty(), "{t:?}");
    assert!((t.duration_s - 0.05).abs() < 1e-9);
}

#[test]
fn thirty_seconds_of_silence_and_noise_give_no_words() {
    let mut w = worker();
    let silence = vec![0.0f32; 30 * 16_000];
    let noise = white_noise(30.0, 0.3);
    for (name, audio) in [("silence", &silence), ("noise", &noise)] {
        let t = w.transcribe(audio, &TranscribeOptions::default()).unwrap();
        assert!(t.words.is_empty() && t.segments.is_empty(), "{name}: {t:?}");
        assert!((t.duration_s - 30.0).abs() < 1e-9);
    }
}

#[test]
fn words_have_monotonic_timestamps_within_the_audio() {
    let mut w = worker();
    let audio = read_wav("two_sentences.wav");
    let duration = audio.len() as f64 / 16_000.0;
    let t = w.transcribe(&audio, &TranscribeOptions::default()).unwrap();
    assert!(t.words.len() >= 25, "{:?}", t.words);
    let mut prev_end = 0.0;
    for word in &t.words {
        assert!(
            word.start >= prev_end - 1e-9,
            "{word:?} starts before {prev_end}"
        );
        assert!(
            word.end >= word.start && word.end <= duration + 1e-9,
            "{word:?}"
        );
        assert!((0.0..=1.0).contains(&word.probability));
        assert!(!word.text.is_empty() && !word.text.contains("[_") && !word.text.contains("<|"));
        prev_end = word.end;
    }
    // The 1 s pause sits between "afternoon." and "After".
    let i = t
        .words
        .iter()
        .position(|w| w.text == "After")
        .expect("After");
    assert!(
        t.words[i].start > 5.0 && t.words[i - 1].end < 5.6,
        "{:?}",
        &t.words[i - 1..=i]
    );
    for s in &t.segments {
        assert!(s.start <= s.end && s.end <= duration + 1e-9, "{s:?}");
    }
}

#[test]
fn long_audio_uses_the_seek_loop_with_progress() {
    // 40 s: four copies of the two-sentence clip.
    let clip = read_wav("two_sentences.wav");
    let audio: Vec<f32> = (0..4).flat_map(|_| clip.iter().copied()).collect();
    let mut w = worker();
    let last = AtomicU8::new(0);
    let calls = AtomicU8::new(0);
    let progress = |p: u8| {
        last.store(p, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
    };
    let hooks = DecodeHooks {
        cancel: None,
        progress: Some(&progress),
    };
    let t = w
        .transcribe_with(&audio, &TranscribeOptions::default(), hooks)
        .unwrap();
    let reference = [SENTENCE_1, SENTENCE_2].join(" ").repeat(4);
    let reference = reference.replace(".A", ". A").replace(".P", ". P");
    let wer = word_error_rate(&reference, &t.text());
    assert!(wer <= 0.10, "WER {wer:.2}: {}", t.text());
    assert!(t.words.last().unwrap().end > 35.0);
    assert!(calls.load(Ordering::Relaxed) >= 2);
}

#[test]
fn cancelled_before_start_is_reported() {
    let mut w = worker();
    let flag = AtomicBool::new(true);
    let cancel = || flag.load(Ordering::Relaxed);
    let hooks = DecodeHooks {
        cancel: Some(&cancel),
        progress: None,
    };
    let r = w.transcribe_with(&read_wav("fox.wav"), &TranscribeOptions::default(), hooks);
    assert!(matches!(r, Err(SttError::Cancelled)), "{r:?}");
}

#[test]
fn english_only_model_rejects_translate_and_other_languages() {
    let mut w = worker();
    let audio = read_wav("fox.wav");
    let translate = TranscribeOptions {
        translate: true,
        ..TranscribeOptions::default()
    };
    assert!(matches!(
        w.transcribe(&audio, &translate),
        Err(SttError::InvalidOption(_))
    ));
    let german = TranscribeOptions {
        language: Some("de".into()),
        ..TranscribeOptions::default()
    };
    assert!(matches!(
        w.transcribe(&audio, &german),
        Err(SttError::InvalidOption(_))
    ));
}

#[test]
fn multilingual_model_detects_english() {
    let mut w = SttWorker::new(whisper("base"), 1, Some(vad())).unwrap();
    let t = w
        .transcribe(&read_wav("fox.wav"), &TranscribeOptions::default())
        .unwrap();
    let (lang, p) = t.language.clone().expect("language");
    assert_eq!(lang, "en");
    assert!(p > 0.5, "p = {p}");
    // base writes "riverbank" for "river bank" (2 of 13 words).
    assert!(word_error_rate(FOX, &t.text()) <= 0.16, "{:?}", t.text());
    let bad = TranscribeOptions {
        language: Some("xx".into()),
        ..TranscribeOptions::default()
    };
    assert!(matches!(
        w.transcribe(&read_wav("fox.wav"), &bad),
        Err(SttError::InvalidOption(_))
    ));
}

#[test]
fn options_beam_prompt_full_window_and_speech_only() {
    let mut w = worker();
    let audio = read_wav("two_sentences.wav");
    let reference = format!("{SENTENCE_1} {SENTENCE_2}");
    for opts in [
        TranscribeOptions {
            beam_size: 3,
            initial_prompt: Some("Umbrella, forecast, station.".into()),
            ..TranscribeOptions::default()
        },
        TranscribeOptions {
            audio_ctx: AudioCtx::Full,
            ..TranscribeOptions::default()
        },
        TranscribeOptions {
            vad: VadMode::SpeechOnly,
            ..TranscribeOptions::default()
        },
    ] {
        let t = w.transcribe(&audio, &opts).unwrap();
        let wer = word_error_rate(&reference, &t.text());
        assert!(wer <= 0.10, "{opts:?}: WER {wer:.2}: {}", t.text());
        assert!(
            t.words.first().unwrap().start >= 0.2,
            "{:?}",
            t.words.first()
        );
    }
}

#[test]
fn missing_model_names_the_pull_command() {
    let err = vocalis_inference::stt::SttModel::load(
        std::path::Path::new("/nonexistent/small.en/ggml-model.bin"),
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("vocalis models pull small.en"),
        "{err}"
    );
}

/// Prompts are caller input: 1 500 words (past whisper.cpp's 1 024-token
/// buffer), one enormous word, NULs and emoji must all transcribe normally.
#[test]
fn hostile_prompts_are_bounded_not_fatal() {
    let mut w = worker();
    let audio = read_wav("fox.wav");
    let many_words: Vec<String> = (0..1_500).map(|i| format!("word{i}")).collect();
    for prompt in [
        many_words.join(" "),
        "x".repeat(200_000),
        format!("{}\0{}", "fox ".repeat(400), "😀".repeat(5_000)),
        "s's".repeat(20_000),
    ] {
        let opts = TranscribeOptions {
            initial_prompt: Some(prompt),
            ..TranscribeOptions::default()
        };
        let t = w.transcribe(&audio, &opts).unwrap();
        let wer = word_error_rate(FOX, &t.text());
        assert!(wer <= 0.25, "WER {wer:.2}: {:?}", t.text());
    }
}
