//! SubRip (`.srt`) and WebVTT (`.vtt`) rendering of timed segments, shared by
//! the OpenAI-compatible endpoint and `vocalis transcribe`.

use std::fmt::Write as _;

/// A timed piece of text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cue<'a> {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Text.
    pub text: &'a str,
}

fn timestamp(seconds: f64, decimal: char) -> String {
    let total_ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, rest) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{decimal}{ms:03}")
}

/// SubRip: numbered cues, `HH:MM:SS,mmm`.
pub fn srt(cues: &[Cue<'_>]) -> String {
    let mut out = String::new();
    for (index, cue) in cues
        .iter()
        .filter(|c| !c.text.trim().is_empty())
        .enumerate()
    {
        let _ = write!(
            out,
            "{}\n{} --> {}\n{}\n\n",
            index + 1,
            timestamp(cue.start, ','),
            timestamp(cue.end.max(cue.start), ','),
            cue.text.trim()
        );
    }
    out
}

/// WebVTT: a `WEBVTT` header, `HH:MM:SS.mmm` cues.
pub fn vtt(cues: &[Cue<'_>]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for cue in cues.iter().filter(|c| !c.text.trim().is_empty()) {
        let _ = write!(
            out,
            "{} --> {}\n{}\n\n",
            timestamp(cue.start, '.'),
            timestamp(cue.end.max(cue.start), '.'),
            cue.text.trim()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUES: [Cue<'static>; 2] = [
        Cue {
            start: 0.0,
            end: 1.5,
            text: " Hello there.",
        },
        Cue {
            start: 3661.25,
            end: 3662.0,
            text: "Goodbye.",
        },
    ];

    #[test]
    fn srt_numbers_cues_with_comma_milliseconds() {
        assert_eq!(
            srt(&CUES),
            "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:01:01,250 --> 01:01:02,000\nGoodbye.\n\n"
        );
    }

    #[test]
    fn vtt_has_header_and_dot_milliseconds() {
        assert_eq!(
            vtt(&CUES[..1]),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
        );
        assert_eq!(vtt(&[]), "WEBVTT\n\n");
    }
}
