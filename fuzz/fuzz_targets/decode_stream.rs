//! Fuzz target: the live [`StreamDecoder`] (WAV, Ogg Opus, WebM Opus, MP3,
//! FLAC, fragmented MP4/AAC recognised from the first bytes) must never
//! panic, whatever the bytes and however they are split, nor at `finish`;
//! it never holds more
//! than `MAX_BUFFERED_BYTES` between pushes, never decodes more than
//! `MAX_SECONDS_PER_PUSH` of Opus, MP3, FLAC or AAC in one push, and every
//! sample is finite.
//!
//! The first input byte picks the chunk size; the rest is the stream.
//! Seeds: `fuzz/corpus/decode_stream/` holds short streams made by ffmpeg (`tone.webm`, `tone.ogg`, `tone.wav`, `tone.mp3`,
//! `tone_bytewise.flac`, `tone_fragmented.mp4`), committed
//! with `git add -f` although the corpus directory is ignored; the same
//! files seed `decode_file`, with MP4/M4A.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_audio::stream::{MAX_BUFFERED_BYTES, MAX_SECONDS_PER_PUSH};
use vocalis_audio::StreamDecoder;

const CHUNKS: [usize; 8] = [1, 3, 17, 160, 1_000, 4_096, 65_536, usize::MAX];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let chunk = CHUNKS[usize::from(selector) % CHUNKS.len()];
    let mut decoder = StreamDecoder::sniffing(16_000);
    let mut out = Vec::new();
    for piece in stream.chunks(chunk.min(stream.len().max(1))) {
        out.clear();
        let result = decoder.push(piece, &mut out);
        assert!(decoder.buffered() <= MAX_BUFFERED_BYTES);
        assert!(out.iter().all(|s| s.is_finite()));
        if let Some(info) = decoder.info() {
            let frames = out.len() / usize::from(info.channels.max(1));
            // PCM is bounded by the bytes pushed; Opus by the per-push cap.
            let bound = piece
                .len()
                .max((MAX_SECONDS_PER_PUSH * f64::from(info.sample_rate)) as usize + 5_760);
            assert!(frames <= bound, "{frames} > {bound}");
        }
        if result.is_err() {
            assert!(decoder.push(b"OggS", &mut out).is_err(), "errors are final");
            return;
        }
    }
    out.clear();
    if decoder.finish(&mut out).is_ok() {
        assert!(out.iter().all(|s| s.is_finite()));
        // At most one FLAC frame.
        assert!(out.len() <= 65_535 * 8, "{}", out.len());
    }
    assert!(decoder.push(b"OggS", &mut out).is_err(), "finish is final");
});
