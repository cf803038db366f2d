//! Piper synthesis with the real en_US-joe-medium voice and ONNX Runtime.

mod tts_support;
use tts_support as common;

use vocalis_inference::{SynthesisOptions, TtsError};

#[test]
fn hello_phoneme_ids_match_piper() {
    let voice = common::shared_voice();
    let sentences = voice.phonemize("hello").unwrap();
    assert_eq!(sentences.len(), 1);
    let encoded = voice.phoneme_ids(&sentences[0]);
    let map = &voice.config().phoneme_id_map;
    assert_eq!(encoded.ids.first(), map[&'^'].first());
    assert_eq!(encoded.ids.get(1), map[&'_'].first());
    assert_eq!(encoded.ids.last(), map[&'$'].first());
    assert!(encoded.missing.is_empty());
    // piper_phonemize.phoneme_ids_espeak(list("həlˈoʊ")) with piper-phonemize 1.1.0
    assert_eq!(
        encoded.ids,
        vec![1, 0, 20, 0, 59, 0, 24, 0, 120, 0, 27, 0, 100, 0, 2]
    );
}

#[test]
fn hello_world_is_speech_length_audio() {
    let voice = common::shared_voice();
    let result = voice
        .synthesize("Hello world.", &SynthesisOptions::default())
        .unwrap();
    assert_eq!(result.sample_rate, 22050);
    let secs = result.duration_secs();
    assert!((0.5..=3.0).contains(&secs), "duration {secs}");
    let rms = common::rms(&result.samples);
    assert!((0.02..=0.5).contains(&rms), "rms {rms}");
    assert!(result
        .samples
        .iter()
        .all(|x| x.is_finite() && x.abs() <= 1.0));
    // Non-silent: a good share of 10 ms frames carry energy.
    let loud = result
        .samples
        .chunks(220)
        .filter(|f| common::rms(f) > 0.02)
        .count();
    assert!(loud * 3 >= result.samples.len() / 220, "mostly silent");

    // Round-trip through a WAV file for manual listening / ASR checks.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hello.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: result.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(&path, spec).unwrap();
    for s in &result.samples {
        wav.write_sample((s * 32767.0) as i16).unwrap();
    }
    wav.finalize().unwrap();
    let reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().sample_rate, 22050);
    assert_eq!(reader.len() as usize, result.samples.len());
}

#[test]
fn faster_speed_is_shorter() {
    let voice = common::shared_voice();
    let text = "The quick brown fox jumps over the lazy dog.";
    let len = |speed: f32| {
        let opts = SynthesisOptions {
            speed,
            ..SynthesisOptions::default()
        };
        voice.synthesize(text, &opts).unwrap().samples.len()
    };
    let (fast, slow) = (len(2.0), len(0.5));
    assert!(fast * 2 < slow, "fast {fast} vs slow {slow}");
}

#[test]
fn stream_is_lazy_and_per_sentence() {
    // Own voice instance so model_runs is not shared with parallel tests.
    let voice = common::load_voice(1);
    let opts = SynthesisOptions::default();
    let mut stream = voice
        .synthesize_stream("Doctor Smith is here. He says hello!", &opts)
        .unwrap();
    assert_eq!(voice.model_runs(), 0, "nothing runs before next()");

    let first = stream.next().unwrap().unwrap();
    assert_eq!(
        voice.model_runs(),
        1,
        "first chunk needs only one model run"
    );
    assert_eq!(first.sentence_index, 0);
    assert_eq!(first.text, "Doctor Smith is here.");
    // ends with the inter-sentence silence (0.2 s)
    assert!(first.samples[first.samples.len() - 4410..]
        .iter()
        .all(|&x| x == 0.0));

    let second = stream.next().unwrap().unwrap();
    assert_eq!(voice.model_runs(), 2);
    assert_eq!(second.sentence_index, 1);
    assert_eq!(second.text, "He says hello!");
    assert!(stream.next().is_none());
    assert!(stream.next().is_none());
}

#[test]
fn abbreviations_do_not_split_sentences() {
    let voice = common::shared_voice();
    let chunks: Vec<_> = voice
        .synthesize_stream(
            "Dr. Smith met Mr. Jones at 10:30 am. It cost $5.20.",
            &SynthesisOptions::default(),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "Doctor Smith met Mister Jones at ten thirty AM.",
            "It cost five dollars and twenty cents."
        ]
    );
}

#[test]
fn huge_text_streams_in_bounded_pieces() {
    let voice = common::load_voice(1);
    // ~100 000 characters without any sentence punctuation.
    let text = "lorem ipsum dolor sit amet ".repeat(3_704);
    assert!(text.len() >= 100_000);
    let mut stream = voice
        .synthesize_stream(&text, &SynthesisOptions::default())
        .unwrap();
    for i in 0..2 {
        let chunk = stream.next().unwrap().unwrap();
        assert_eq!(chunk.sentence_index, i);
        assert!(chunk.text.chars().count() <= 400, "{}", chunk.text.len());
        assert!(chunk.text.ends_with("amet") || chunk.text.ends_with(char::is_alphabetic));
        let secs = chunk.samples.len() as f64 / 22050.0;
        assert!((5.0..60.0).contains(&secs), "{secs} s");
    }
    assert_eq!(voice.model_runs(), 2, "only the consumed sentences ran");
}

#[test]
fn options_are_validated() {
    let voice = common::shared_voice();
    let bad_speed = SynthesisOptions {
        speed: 4.5,
        ..SynthesisOptions::default()
    };
    assert!(matches!(
        voice.synthesize("hi", &bad_speed),
        Err(TtsError::InvalidOption(_))
    ));
    let bad_speaker = SynthesisOptions {
        speaker_id: Some(1),
        ..SynthesisOptions::default()
    };
    assert!(matches!(
        voice.synthesize_stream("hi", &bad_speaker),
        Err(TtsError::UnknownSpeaker { id: 1, .. })
    ));
    let speaker0 = SynthesisOptions {
        speaker_id: Some(0),
        noise_scale: Some(0.0),
        noise_w: Some(0.0),
        sentence_silence: 0.0,
        ..SynthesisOptions::default()
    };
    assert!(!voice
        .synthesize("hi", &speaker0)
        .unwrap()
        .samples
        .is_empty());
}

#[test]
fn empty_and_punctuation_only_text_yield_no_audio() {
    let voice = common::shared_voice();
    for text in ["", "   ", "...", "?!"] {
        let result = voice
            .synthesize(text, &SynthesisOptions::default())
            .unwrap();
        assert!(result.samples.is_empty(), "{text:?}");
    }
}
