//! Memory stays flat across many variable-length syntheses (own test binary
//! so that no parallel test disturbs VmRSS).

mod tts_support;
use tts_support as common;

use vocalis_inference::SynthesisOptions;

const WORDS: &[&str] = &[
    "the",
    "weather",
    "station",
    "reported",
    "light",
    "rain",
    "across",
    "northern",
    "valleys",
    "while",
    "engineers",
    "measured",
    "seventeen",
    "bridges",
    "and",
    "counted",
    "birds",
    "quietly",
];

/// Deterministic pseudo-random sentence of `n` words.
fn sentence(seed: usize, n: usize) -> String {
    let mut words = Vec::with_capacity(n);
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        words.push(WORDS[(x >> 33) % WORDS.len()]);
    }
    format!("{}.", words.join(" "))
}

#[test]
fn rss_is_bounded_over_200_inputs() {
    let voice = common::load_voice(1);
    // Speed 2.0 halves the audio (and the run time) without changing input sizes.
    let opts = SynthesisOptions {
        speed: 2.0,
        ..SynthesisOptions::default()
    };
    let lengths = |i: usize| 1 + (i * 7919) % 24; // 1..=24 words, shuffled
                                                  // Warm-up: include the longest inputs so arenas reach their steady size.
    for i in 0..20 {
        voice.synthesize(&sentence(i, 24 - i), &opts).unwrap();
    }
    let before = common::rss_kib();
    let mut peak = before;
    for i in 0..200 {
        let out = voice
            .synthesize(&sentence(1000 + i, lengths(i)), &opts)
            .unwrap();
        assert!(!out.samples.is_empty());
        peak = peak.max(common::rss_kib());
    }
    let after = common::rss_kib();
    eprintln!("VmRSS before {before} KiB, after {after} KiB, peak {peak} KiB");
    assert!(
        after.saturating_sub(before) < 50 * 1024,
        "RSS grew by {} KiB",
        after - before
    );
}
