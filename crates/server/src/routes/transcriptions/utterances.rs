//! Where `POST /v1/listen?utterances=true` starts a new utterance: at the
//! silences of at least `utt_split` seconds that the VAD finds in each
//! channel (Whisper's word times stretch the last word of a sentence into
//! the pause after it, so word gaps alone miss most pauses).
//!
//! For each pause, the next utterance starts at the first word that ends
//! after speech resumes; when that word follows a word without sentence-end
//! punctuation and itself ends a sentence, it is the stretched last word of
//! the previous utterance and the split moves past it. Without VAD results
//! (a VAD failure) the wire layer falls back to word gaps.

use vocalis_inference::stt::Transcript;

use crate::server::AppState;

/// Silences of at least `min_s` seconds in each track (between the VAD's
/// speech regions), computed off the runtime; `None` for a track the VAD
/// failed on.
pub(crate) async fn pauses(
    state: &AppState,
    tracks: &[Vec<f32>],
    min_s: f64,
) -> Vec<Option<Vec<(f64, f64)>>> {
    let mut out = Vec::with_capacity(tracks.len());
    for track in tracks {
        let vad = state.engines.vad.clone();
        let track = track.clone();
        let found = tokio::task::spawn_blocking(move || vad.speech_regions(&track)).await;
        out.push(match found {
            Ok(Ok(regions)) => Some(
                regions
                    .windows(2)
                    .map(|pair| (pair[0].end, pair[1].start))
                    .filter(|(end, start)| start - end >= min_s)
                    .collect(),
            ),
            Ok(Err(error)) => {
                tracing::warn!(%error, "VAD failed; utterances split at word gaps");
                None
            }
            Err(error) => {
                tracing::error!(%error, "VAD task failed");
                None
            }
        });
    }
    out
}

fn ends_sentence(text: &str) -> bool {
    text.trim_end().ends_with(['.', '?', '!'])
}

/// The start times (seconds, as on the wire) of the words that begin a new
/// utterance, one per pause that has words on both sides.
pub(crate) fn splits(transcript: &Transcript, pauses: &[(f64, f64)]) -> Vec<f64> {
    let words: Vec<_> = transcript
        .words
        .iter()
        .filter(|w| w.text.chars().any(char::is_alphanumeric))
        .collect();
    let mut out: Vec<f64> = Vec::new();
    for &(_, resumes) in pauses {
        let Some(mut index) = words.iter().position(|w| w.end > resumes) else {
            continue;
        };
        if index > 0
            && index + 1 < words.len()
            && !ends_sentence(&words[index - 1].text)
            && ends_sentence(&words[index].text)
        {
            index += 1;
        }
        if index == 0 {
            continue;
        }
        let at = (words[index].start * 1000.0).round() / 1000.0;
        if out.last().is_none_or(|&last| at > last) {
            out.push(at);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vocalis_inference::stt::Word;

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word {
            start,
            end,
            text: text.into(),
            probability: 0.9,
        }
    }

    #[test]
    fn stretched_last_words_stay_with_their_sentence() {
        // Speech 0–2.3 s and 3.8–5.5 s; Whisper stretched "morning." into
        // the pause (as measured on a real Piper clip).
        let transcript = Transcript {
            segments: vec![],
            words: vec![
                word("this", 2.55, 2.94),
                word("morning.", 3.68, 3.80),
                word("It", 3.82, 3.86),
                word("should", 3.86, 4.15),
            ],
            language: None,
            duration_s: 5.5,
        };
        assert_eq!(splits(&transcript, &[(2.3, 3.78)]), vec![3.82]);
        // No words after the pause: no split.
        assert!(splits(&transcript, &[(4.5, 5.4)]).is_empty());
    }
}
