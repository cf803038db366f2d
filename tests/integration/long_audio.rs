//! A file longer than Whisper's window on `/v1/audio/transcriptions`: it is
//! cut at its pauses into pieces decoded in parallel, and the answer is one
//! transcript with the whole recording's timestamps, also when it has more
//! pieces than the pool's queue holds.

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::rest_transcriptions::speak;
use crate::support::{dev_key, wer, ServerProcess};

const SENTENCES: [&str; 6] = [
    "The quarterly report shows strong growth in every region.",
    "Please send the final numbers to the finance team by Friday.",
    "Our new office in the harbor district opens next month.",
    "Customers asked for longer support hours on the weekend.",
    "The training session moved to the large meeting room upstairs.",
    "Remember to back up your laptop before the software update.",
];

/// The six sentences with three seconds of silence after each: about 37 s.
fn long_recording() -> Vec<u8> {
    let mut samples = Vec::new();
    for sentence in SENTENCES {
        let wav = speak(sentence, "wav");
        let audio = vocalis_audio::decode_file(&wav, Some("wav"), 16_000).unwrap();
        samples.extend_from_slice(&audio.samples);
        samples.extend(std::iter::repeat_n(0.0f32, 16_000 * 3));
    }
    vocalis_audio::encode::encode(
        &samples,
        16_000,
        vocalis_audio::encode::OutputFormat::Wav,
        16_000,
    )
    .unwrap()
}

#[tokio::test]
async fn a_long_file_is_decoded_in_pieces_and_merged() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]);
    let key = dev_key(data.path());
    let wav = long_recording();
    let jobs = "vocalis_stt_final_queue_wait_seconds_count";
    let before = server.metric(&key, jobs).await;
    let form = Form::new()
        .part("file", Part::bytes(wav).file_name("call.wav"))
        .text("model", "whisper-1")
        .text("response_format", "verbose_json");
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let after = server.metric(&key, jobs).await;
    assert!(
        after - before >= 2.0,
        "one request ran {} jobs",
        after - before
    );

    let text = body["text"].as_str().unwrap();
    let error = wer(&SENTENCES.join(" "), text);
    assert!(error <= 0.1, "WER {error:.2}: {text}");
    let duration = body["duration"].as_f64().unwrap();
    assert!(duration > 30.0, "{duration}");
    let segments = body["segments"].as_array().unwrap();
    let starts: Vec<f64> = segments
        .iter()
        .map(|s| s["start"].as_f64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
    let last = segments.last().unwrap();
    assert!(last["start"].as_f64().unwrap() > 25.0, "{last}");
    assert!(last["end"].as_f64().unwrap() <= duration + 0.01, "{last}");

    // Ten minutes of silence, then the sentences: 23 pieces, more than the
    // pool's queue holds (16), fed as workers free up, not refused as busy.
    let speech = vocalis_audio::decode_file(&long_recording(), Some("wav"), 16_000).unwrap();
    let mut samples = vec![0.0f32; 16_000 * 600];
    samples.extend_from_slice(&speech.samples);
    let wav = vocalis_audio::encode::encode(
        &samples,
        16_000,
        vocalis_audio::encode::OutputFormat::Wav,
        16_000,
    )
    .unwrap();
    let form = Form::new()
        .part("file", Part::bytes(wav).file_name("meeting.wav"))
        .text("model", "whisper-1")
        .text("response_format", "verbose_json");
    let response = reqwest::Client::new()
        .post(server.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let text = body["text"].as_str().unwrap();
    let error = wer(&SENTENCES.join(" "), text);
    assert!(error <= 0.1, "WER {error:.2}: {text}");
    // Placed in the whole file's time: within the last piece (whose sized
    // window gives one segment from the piece's start), not at 0 s.
    let first = body["segments"][0]["start"].as_f64().unwrap();
    assert!(first >= 600.0 - 28.0, "{first}: {body}");
}
