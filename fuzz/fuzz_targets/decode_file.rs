//! Fuzz target: `decode_file` must never panic; when it succeeds the output
//! respects the duration limit and every sample is finite.
//!
//! The first input byte picks the hint and target rate; the rest is the file.
//! Seed: `fuzz/corpus/decode_file/flac_bomb_384k` (selector 3, then
//! `crates/audio/tests/data/flac_bomb_384k.flac`: an hour of 384 kHz audio
//! in 310 KB), plus short WebM/Opus, Ogg/Opus, MP4 and M4A (AAC) tones made
//! by ffmpeg (`tone.*`), committed with `git add -f` although the corpus
//! directory is ignored.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_audio::{decode_file_with_limits, DecodeLimits};

const MAX_DURATION_S: f64 = 5.0;
const HINTS: [Option<&str>; 8] = [
    None,
    Some("wav"),
    Some("audio/mpeg"),
    Some("flac"),
    Some("audio/ogg"),
    Some("application/octet-stream"),
    Some("audio/webm"),
    Some("audio/mp4"),
];
const RATES: [u32; 6] = [8_000, 16_000, 22_050, 24_000, 44_100, 48_000];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, file)) = data.split_first() else {
        return;
    };
    let hint = HINTS[usize::from(selector) % HINTS.len()];
    let target = RATES[usize::from(selector / 8) % RATES.len()];
    let limits = DecodeLimits::with_max_duration_s(MAX_DURATION_S);
    if let Ok(audio) = decode_file_with_limits(file, hint, target, &limits) {
        assert_eq!(audio.sample_rate, target);
        assert!(audio.duration_s <= MAX_DURATION_S, "{}", audio.duration_s);
        let max_len = (MAX_DURATION_S * f64::from(target)).ceil() as usize + 1;
        assert!(
            audio.samples.len() <= max_len,
            "{} > {max_len}",
            audio.samples.len()
        );
        assert!(audio.samples.iter().all(|s| s.is_finite()));
    }
});
