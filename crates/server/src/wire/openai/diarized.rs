//! OpenAI's `response_format=diarized_json` answer (the
//! `gpt-4o-transcribe-diarize` shape): the text, and segments of one speaker
//! each with `speaker` (`"A"`, `"B"`, …), `start`, `end` and `text`.

use serde::{Deserialize, Serialize};

/// The `diarized_json` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiarizedTranscription {
    /// Always `"transcribe"`.
    pub task: String,
    /// Audio duration, seconds.
    pub duration: f64,
    /// The whole transcript.
    pub text: String,
    /// One segment per speaker turn, in time order.
    pub segments: Vec<DiarizedSegment>,
}

/// One speaker turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiarizedSegment {
    /// Always `"transcript.text.segment"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `seg_0`, `seg_1`, …
    pub id: String,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The words of the turn.
    pub text: String,
    /// Speaker label: `A`, `B`, … in order of first appearance.
    pub speaker: String,
}

/// A speaker's label: 0 → `A`, 25 → `Z`, 26 → `S26`.
pub fn speaker_label(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("S{index}"),
    }
}

/// A word with its speaker, as the route hands them over.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeakerWord<'a> {
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The word as written.
    pub text: &'a str,
    /// Speaker index.
    pub speaker: usize,
}

/// Groups words into turns: a new segment where the speaker changes or
/// after a pause of `split_s` seconds.
pub fn turns(words: &[SpeakerWord<'_>], split_s: f64) -> Vec<DiarizedSegment> {
    let mut out: Vec<DiarizedSegment> = Vec::new();
    let mut last: Option<(usize, f64)> = None;
    for w in words {
        let text = w.text.trim();
        if text.is_empty() {
            continue;
        }
        let same = last.is_some_and(|(s, end)| s == w.speaker && w.start - end < split_s);
        match out.last_mut() {
            Some(seg) if same => {
                seg.end = w.end;
                seg.text.push(' ');
                seg.text.push_str(text);
            }
            _ => out.push(DiarizedSegment {
                kind: "transcript.text.segment".into(),
                id: format!("seg_{}", out.len()),
                start: w.start,
                end: w.end,
                text: text.to_owned(),
                speaker: speaker_label(w.speaker),
            }),
        }
        last = Some((w.speaker, w.end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_split_at_speaker_changes_and_pauses() {
        let w = |start, end, text, speaker| SpeakerWord {
            start,
            end,
            text,
            speaker,
        };
        let words = [
            w(0.0, 0.4, "Hello,", 0),
            w(0.4, 0.9, "there.", 0),
            w(1.2, 1.6, "Hi!", 1),
            w(3.0, 3.5, "Again.", 1),
        ];
        let segs = turns(&words, 0.8);
        assert_eq!(segs.len(), 3);
        assert_eq!(
            (segs[0].text.as_str(), segs[0].speaker.as_str()),
            ("Hello, there.", "A")
        );
        assert_eq!(
            (segs[1].text.as_str(), segs[1].speaker.as_str()),
            ("Hi!", "B")
        );
        assert_eq!((segs[2].id.as_str(), segs[2].start), ("seg_2", 3.0));
        assert_eq!(speaker_label(27), "S27");
        let json = serde_json::to_value(&segs[0]).unwrap();
        assert_eq!(json["type"], "transcript.text.segment");
    }
}
