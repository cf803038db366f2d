//! The clip set: real English speech built locally (the Piper voice from the
//! model store and espeak-ng voices), trimmed to its speech, converted to
//! 8 kHz μ-law, and cached under `~/.cache/vocalis/loadgen/`; and calls
//! assembled from it (utterances separated by pauses, like a phone call).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use vocalis_inference::{PiperVoice, SynthesisOptions};

/// μ-law at 8 kHz: one byte per sample.
pub const SAMPLE_RATE: u32 = 8000;
/// One telephony frame: 20 ms of μ-law at 8 kHz.
pub const FRAME_BYTES: usize = 160;
/// Seconds per frame.
pub const FRAME_SECONDS: f64 = 0.02;
/// μ-law digital silence.
const MULAW_SILENCE: u8 = 0xFF;
/// Bumped when the way clips are made changes, so old cache files are unused.
const CACHE_VERSION: &str = "loadgen-clip-v1";

/// English sentences of 3–5 s each, what callers say on a support line.
pub const SENTENCES: &[&str] = &[
    "The quarterly report shows strong growth in every region this year.",
    "Please send the final numbers to the finance team by Friday afternoon.",
    "My order arrived yesterday but the box was damaged and wet.",
    "Could you check whether the technician can come on Tuesday morning?",
    "I would like to change the delivery address for my next shipment.",
    "The meeting has been moved to the third floor conference room.",
    "Our internet connection keeps dropping every evening around eight.",
    "Can you tell me the balance of my savings account please?",
    "We need two more tickets for the concert next Saturday night.",
    "The pharmacy said my prescription will be ready after lunch.",
    "I never received the confirmation email for my hotel booking.",
    "Please cancel the subscription and refund the last payment.",
];

/// Voices used by default: `piper:<installed voice>` or `espeak:<espeak-ng voice>`.
pub const DEFAULT_VOICES: &str = "piper:en_US-joe-medium,espeak:en-us+m3,espeak:en-us+f3";

/// Where a voice comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceSpec {
    /// An installed Piper voice, loaded like `vocalis speak` does.
    Piper(String),
    /// An espeak-ng voice, spoken by the `espeak-ng` command.
    Espeak(String),
}

impl VoiceSpec {
    /// Parses `piper:NAME` or `espeak:NAME`.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        match spec.trim().split_once(':') {
            Some(("piper", name)) if !name.is_empty() => Ok(Self::Piper(name.to_owned())),
            Some(("espeak", name)) if !name.is_empty() => Ok(Self::Espeak(name.to_owned())),
            _ => bail!("voice `{spec}` is neither `piper:NAME` nor `espeak:NAME`"),
        }
    }

    /// `piper:NAME` / `espeak:NAME`.
    pub fn label(&self) -> String {
        match self {
            Self::Piper(name) => format!("piper:{name}"),
            Self::Espeak(name) => format!("espeak:{name}"),
        }
    }
}

/// One spoken sentence as 8 kHz μ-law, trimmed to its speech and padded to
/// whole 20 ms frames.
#[derive(Debug, Clone)]
pub struct Clip {
    /// The voice label.
    pub voice: String,
    /// The reference text.
    pub text: String,
    /// μ-law bytes, a multiple of [`FRAME_BYTES`].
    pub mulaw: Vec<u8>,
}

/// The span of one utterance inside a call, in frames.
#[derive(Debug, Clone)]
pub struct UtteranceSpan {
    /// The voice label.
    pub voice: String,
    /// The reference text.
    pub text: String,
    /// First frame of the utterance.
    pub first_frame: usize,
    /// One past its last frame.
    pub end_frame: usize,
}

impl UtteranceSpan {
    /// Stream seconds where the utterance starts.
    pub fn start_s(&self) -> f64 {
        self.first_frame as f64 * FRAME_SECONDS
    }
    /// Stream seconds where the utterance's audio ends.
    pub fn end_s(&self) -> f64 {
        self.end_frame as f64 * FRAME_SECONDS
    }
}

/// The audio of one call and where its utterances are.
#[derive(Debug, Clone)]
pub struct Call {
    /// μ-law bytes, a multiple of [`FRAME_BYTES`].
    pub audio: Vec<u8>,
    /// The utterances in order.
    pub utterances: Vec<UtteranceSpan>,
}

impl Call {
    /// Audio duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.audio.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

/// Silence around and between the utterances of a call.
#[derive(Debug, Clone, Copy)]
pub struct CallShape {
    /// Utterances per call.
    pub utterances: usize,
    /// Silence before the first utterance, ms.
    pub lead_ms: u64,
    /// Silence between utterances, ms.
    pub pause_ms: u64,
    /// Silence after the last utterance, ms.
    pub tail_ms: u64,
}

/// Builds the clips for every (sentence, voice) pair `calls` need, from the
/// cache where present.
pub struct ClipSet {
    clips: Vec<Arc<Clip>>,
    voices: usize,
    sentences: usize,
}

impl ClipSet {
    /// The first `sentences` of [`SENTENCES`] in every voice, built or
    /// read from `cache_dir`.
    pub fn load(
        voices: &[VoiceSpec],
        sentences: usize,
        cache_dir: &Path,
        models_dir: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        if voices.is_empty() {
            bail!("no voices given");
        }
        let sentences = &SENTENCES[..sentences.clamp(1, SENTENCES.len())];
        std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("cannot create {}", cache_dir.display()))?;
        let mut piper: Option<PiperVoice> = None;
        let mut clips = Vec::with_capacity(sentences.len() * voices.len());
        for text in sentences {
            for voice in voices {
                let path = cache_dir.join(cache_name(voice, text));
                let mulaw = match std::fs::read(&path) {
                    Ok(bytes) if !bytes.is_empty() && bytes.len() % FRAME_BYTES == 0 => bytes,
                    _ => {
                        let samples = match voice {
                            VoiceSpec::Piper(name) => {
                                if piper.is_none() {
                                    let store = super::super::engines::store(models_dir.clone())?;
                                    piper =
                                        Some(super::super::engines::load_voice(&store, name, 1)?);
                                }
                                let voice = piper.as_ref().expect("loaded above");
                                let result =
                                    voice.synthesize(text, &SynthesisOptions::default())?;
                                vocalis_audio::resample(
                                    &result.samples,
                                    result.sample_rate,
                                    SAMPLE_RATE,
                                )?
                            }
                            VoiceSpec::Espeak(name) => espeak(name, text)?,
                        };
                        let bytes = to_mulaw_frames(&trim_to_speech(&samples));
                        if bytes.is_empty() {
                            bail!("voice {} produced no speech for {text:?}", voice.label());
                        }
                        write_atomic(&path, &bytes)?;
                        bytes
                    }
                };
                clips.push(Arc::new(Clip {
                    voice: voice.label(),
                    text: (*text).to_owned(),
                    mulaw,
                }));
            }
        }
        Ok(Self {
            clips,
            voices: voices.len(),
            sentences: sentences.len(),
        })
    }

    /// Number of distinct voices.
    pub fn voice_count(&self) -> usize {
        self.voices
    }

    /// How many different calls [`ClipSet::call`] makes: the call of
    /// session `i` is the call of session `i % distinct_calls`.
    pub fn distinct_calls(&self, shape: CallShape) -> usize {
        let sentences = self.sentences;
        let per_sentence_cycle = sentences / gcd(sentences, shape.utterances.max(1));
        lcm(per_sentence_cycle, self.voices.max(1))
    }

    /// The call for session `index`: consecutive sentences, voices rotating
    /// with the session so concurrent calls say different things in
    /// different voices.
    pub fn call(&self, index: usize, shape: CallShape) -> Call {
        let mut audio = silence(shape.lead_ms);
        let mut utterances = Vec::with_capacity(shape.utterances);
        for u in 0..shape.utterances {
            if u > 0 {
                audio.extend(silence(shape.pause_ms));
            }
            let sentence = (index * shape.utterances + u) % self.sentences;
            let voice = (index + u) % self.voices;
            let clip = &self.clips[sentence * self.voices + voice];
            let first_frame = audio.len() / FRAME_BYTES;
            audio.extend_from_slice(&clip.mulaw);
            utterances.push(UtteranceSpan {
                voice: clip.voice.clone(),
                text: clip.text.clone(),
                first_frame,
                end_frame: audio.len() / FRAME_BYTES,
            });
        }
        audio.extend(silence(shape.tail_ms));
        Call { audio, utterances }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

/// The cache file of one clip: a hash of the voice and the text.
fn cache_name(voice: &VoiceSpec, text: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [CACHE_VERSION, &voice.label(), text] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{}.ul", &hex::encode(hasher.finalize())[..24])
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `espeak-ng -v VOICE -w file.wav TEXT`, decoded to 8 kHz.
fn espeak(voice: &str, text: &str) -> anyhow::Result<Vec<f32>> {
    let dir = std::env::temp_dir().join(format!("vocalis-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let wav = dir.join("espeak.wav");
    let output = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&wav)
        .arg(text)
        .output()
        .context("cannot run espeak-ng (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "espeak-ng -v {voice} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let bytes = std::fs::read(&wav).with_context(|| format!("cannot read {}", wav.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(vocalis_audio::decode_file(&bytes, Some("wav"), SAMPLE_RATE)?.samples)
}

/// The samples from the first to the last 20 ms frame with speech energy
/// (one frame of margin each side), peak-normalised to 0.7.
fn trim_to_speech(samples: &[f32]) -> Vec<f32> {
    let frame = FRAME_BYTES;
    let rms: Vec<f32> = samples
        .chunks(frame)
        .map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().copied().fold(0.0_f32, f32::max);
    let threshold = (loudest * 0.05).max(1e-3);
    let (Some(first), Some(last)) = (
        rms.iter().position(|&r| r > threshold),
        rms.iter().rposition(|&r| r > threshold),
    ) else {
        return Vec::new();
    };
    let start = first.saturating_sub(1) * frame;
    let end = ((last + 2) * frame).min(samples.len());
    let speech = &samples[start..end];
    let peak = speech.iter().fold(0.0_f32, |m, s| m.max(s.abs()));
    let gain = if peak > 0.0 { 0.7 / peak } else { 1.0 };
    speech.iter().map(|s| s * gain).collect()
}

/// μ-law bytes padded with silence to whole frames.
fn to_mulaw_frames(samples: &[f32]) -> Vec<u8> {
    let pcm: Vec<i16> = samples
        .iter()
        .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    let mut bytes = vocalis_audio::g711::encode_mulaw(&pcm);
    let padded = bytes.len().div_ceil(FRAME_BYTES) * FRAME_BYTES;
    bytes.resize(padded, MULAW_SILENCE);
    bytes
}

fn silence(ms: u64) -> Vec<u8> {
    let frames = usize::try_from(ms / 20).unwrap_or(usize::MAX).min(50 * 60);
    vec![MULAW_SILENCE; frames * FRAME_BYTES]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voices_parse_and_trim_keeps_only_speech() {
        assert_eq!(
            VoiceSpec::parse("espeak:en-us+f3").unwrap(),
            VoiceSpec::Espeak("en-us+f3".into())
        );
        assert!(VoiceSpec::parse("en-us").is_err());
        let mut samples = vec![0.0_f32; 1600];
        samples.extend((0..800).map(|i| (i as f32 * 0.3).sin() * 0.5));
        samples.extend(vec![0.0_f32; 1600]);
        let trimmed = trim_to_speech(&samples);
        assert!(
            trimmed.len() >= 800 && trimmed.len() <= 800 + 3 * 160,
            "{}",
            trimmed.len()
        );
        let bytes = to_mulaw_frames(&trimmed);
        assert_eq!(bytes.len() % FRAME_BYTES, 0);
        assert!(trim_to_speech(&[0.0; 500]).is_empty());
    }

    #[test]
    fn calls_repeat_after_distinct_calls_and_spans_point_at_their_clips() {
        let clips = SENTENCES
            .iter()
            .enumerate()
            .flat_map(|(s, text)| {
                (0..3).map(move |v| {
                    Arc::new(Clip {
                        voice: format!("v{v}"),
                        text: (*text).to_owned(),
                        mulaw: vec![0x10; FRAME_BYTES * (s + v + 1)],
                    })
                })
            })
            .collect();
        let set = ClipSet {
            clips,
            voices: 3,
            sentences: SENTENCES.len(),
        };
        let shape = CallShape {
            utterances: 3,
            lead_ms: 500,
            pause_ms: 1000,
            tail_ms: 1000,
        };
        let period = set.distinct_calls(shape);
        assert_eq!(period, 12);
        let key = |c: &Call| {
            c.utterances
                .iter()
                .map(|u| (u.text.clone(), u.voice.clone()))
                .collect::<Vec<_>>()
        };
        for i in 0..period {
            assert_eq!(key(&set.call(i, shape)), key(&set.call(i + period, shape)));
        }
        let call = set.call(5, shape);
        assert_eq!(call.utterances[0].first_frame, 25);
        for pair in call.utterances.windows(2) {
            assert_eq!(pair[1].first_frame - pair[0].end_frame, 50);
            assert_ne!(pair[0].voice, pair[1].voice);
        }
        assert_eq!(
            call.audio.len() / FRAME_BYTES,
            call.utterances[2].end_frame + 50
        );
        let one = ClipSet {
            clips: set.clips[..1].to_vec(),
            voices: 1,
            sentences: 1,
        };
        assert_eq!(one.distinct_calls(shape), 1);
        assert_eq!(one.call(7, shape).utterances[2].text, SENTENCES[0]);
    }
}
