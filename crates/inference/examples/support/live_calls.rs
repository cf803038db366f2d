//! The call set shared by the `live_vs_file_wer` and `partial_cost`
//! examples: what the callers say, in which voices, and how the utterances
//! are laid out as 8 kHz μ-law calls. Clips are cached under
//! `~/.cache/vocalis/live-wer/`, keyed by [`clip_path`].

use std::path::PathBuf;

pub type Error = Box<dyn std::error::Error>;

/// What callers say; some with commas and two sentences in one turn, so
/// in-sentence pauses are part of the test.
pub const SENTENCES: &[&str] = &[
    "Hi, I am calling about the invoice you sent me last week.",
    "The amount is wrong. It should be two hundred and forty dollars.",
    "Can you put me through to someone in the billing department?",
    "I have been waiting on hold for almost twenty minutes now.",
    "My account number starts with seven, four, nine and ends with two.",
    "We moved to a new apartment, so the address has changed.",
    "The new street is Maple Avenue, number fifteen, second floor.",
    "Is it possible to schedule the installation for next Wednesday?",
    "Actually, Thursday would be better because I work from home then.",
    "The router keeps restarting, and the lights blink orange.",
    "I already tried unplugging it twice. Nothing changed at all.",
    "Could you send a technician to look at the cable outside?",
    "Please make sure they call me before they arrive.",
    "My phone number is the same as the one on the account.",
    "Thank you, that was very helpful. Have a nice day.",
    "Good morning, I would like to book a table for four people.",
    "Around seven thirty tonight, if you still have space.",
    "One of our guests is allergic to peanuts and shellfish.",
    "Do you have parking nearby, or should we take a taxi?",
    "I need to reschedule my dentist appointment on Monday.",
    "The doctor asked me to come back in two weeks for a check up.",
    "Can I pay with a credit card over the phone?",
    "The package was left at the wrong door, and now it is missing.",
    "I would like to speak to a manager about this problem, please.",
];

/// The voices of the set (`piper:<voice>` or `espeak:<voice>`).
pub const VOICES: &[&str] = &[
    "piper:en_US-joe-medium",
    "espeak:en-us+m3",
    "espeak:en-us+f3",
    "espeak:en-gb+m2",
];
pub const UTTERANCES_PER_CALL: usize = 4;
/// Pauses between utterances cycle through these (ms).
pub const PAUSES_MS: [usize; 3] = [700, 1000, 1300];
/// Silence before the first utterance and after the last (ms).
pub const LEAD_MS: usize = 600;
pub const TAIL_MS: usize = 1200;
const CACHE_VERSION: &str = "live-wer-v1";

/// One call: a label, its μ-law audio and what was said.
pub struct Call {
    /// Shown by `live_vs_file_wer --verbose`.
    #[allow(dead_code)]
    pub label: String,
    pub mulaw: Vec<u8>,
    pub reference: String,
}

pub fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
}

/// The model store (`VOCALIS_MODELS`, else `~/.cache/vocalis/models`).
pub fn store_root() -> PathBuf {
    std::env::var_os("VOCALIS_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/vocalis/models"))
}

/// FNV-1a, for stable cache file names.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Where one sentence in one voice is cached.
pub fn clip_path(voice: &str, text: &str) -> PathBuf {
    home()
        .join(".cache/vocalis/live-wer")
        .join(format!("{:016x}.ul", fnv(&[CACHE_VERSION, voice, text])))
}

/// The calls of `voices`: [`UTTERANCES_PER_CALL`] sentences each, `clip`
/// giving one sentence in one voice as 8 kHz μ-law.
pub fn calls(
    voices: &[&str],
    mut clip: impl FnMut(&str, &str) -> Result<Vec<u8>, Error>,
) -> Result<Vec<Call>, Error> {
    let silence = |ms: usize| vec![0xFFu8; ms * 8];
    let mut calls = Vec::new();
    for (v, voice) in voices.iter().enumerate() {
        for (c, group) in SENTENCES.chunks(UTTERANCES_PER_CALL).enumerate() {
            let mut mulaw = silence(LEAD_MS);
            for (u, text) in group.iter().enumerate() {
                if u > 0 {
                    mulaw.extend(silence(PAUSES_MS[(u + c + v) % PAUSES_MS.len()]));
                }
                mulaw.extend(clip(voice, text)?);
            }
            mulaw.extend(silence(TAIL_MS));
            calls.push(Call {
                label: format!("{voice} #{c}"),
                mulaw,
                reference: group.join(" "),
            });
        }
    }
    Ok(calls)
}
