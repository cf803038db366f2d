//! Fuzz target: text → normalisation → sentence split → word bounds →
//! espeak-ng, in process, exactly the path a voice takes (minus the child
//! process that isolates espeak-ng in the server). espeak-ng runs in this
//! process on purpose: an abort (`*** buffer overflow detected ***`) on text
//! that passed [`bound_words`] is a finding. Also checks the bounds hold.
//!
//! Seeds: `fuzz/corpus/phonemize/` (stacked clitics, long words, digits,
//! apostrophes, Unicode).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vocalis_inference::normalize::normalize_text;
use vocalis_inference::phonemize::sanitize::{MAX_APOSTROPHES_PER_WORD, MAX_WORD_CHARS};
use vocalis_inference::phonemize::{bound_words, phonemize};
use vocalis_inference::tts::split::{sentences, DEFAULT_MAX_CHARS};

/// Longest input tried, in bytes (keeps each run fast).
const MAX_INPUT_BYTES: usize = 4_096;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(MAX_INPUT_BYTES)];
    let text = String::from_utf8_lossy(data);
    let normalized = normalize_text(&text);
    for sentence in sentences(&normalized, DEFAULT_MAX_CHARS) {
        let bounded = bound_words(sentence);
        for word in bounded.split_whitespace() {
            assert!(word.chars().count() <= MAX_WORD_CHARS, "{word:?}");
            let apostrophes = word
                .chars()
                .filter(|c| matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`'))
                .count();
            assert!(apostrophes <= MAX_APOSTROPHES_PER_WORD, "{word:?}");
        }
        // Errors (an unknown voice cannot happen; `Stalled` is typed) are
        // fine; only a crash or a panic is a finding.
        let _ = phonemize(&bounded, "en-us");
    }
});
