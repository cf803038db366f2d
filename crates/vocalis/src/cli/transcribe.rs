//! `vocalis transcribe FILE…`: transcribe audio files (any format the audio
//! crate decodes) with an installed Whisper model, as text, JSON, SRT or VTT.
//! `--diarize` labels speaker turns (`Speaker A: …` lines, SRT `[Speaker A]`,
//! WebVTT `<v Speaker A>`, JSON `turns` and each word's `speaker`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vocalis_inference::diarize::{assign_words, DiarizeOptions, Diarizer};
use vocalis_inference::stt::{DecodeHooks, SttWorker, TranscribeOptions, Transcript};
use vocalis_models::Quantization;
use vocalis_server::engine;
use vocalis_server::wire::openai::{turns, DiarizedSegment, SpeakerWord};
use vocalis_server::wire::subtitles::{self, Cue};

/// Output formats of `vocalis transcribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text.
    Text,
    /// JSON with segments, words and language.
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
}

/// Flags of `vocalis transcribe`.
#[derive(Debug, clap::Args)]
pub struct TranscribeArgs {
    /// Audio files: WAV, MP3, FLAC, OGG/Vorbis.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Installed Whisper model.
    #[arg(long, default_value = "tiny.en")]
    model: String,
    /// Language code; omitted: detect (multilingual models).
    #[arg(long)]
    language: Option<String>,
    /// Text that biases decoding: names, vocabulary.
    #[arg(long)]
    prompt: Option<String>,
    /// Translate to English (multilingual models).
    #[arg(long)]
    translate: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// whisper.cpp threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Model store root.
    #[arg(long, env = "VOCALIS_MODELS")]
    models_dir: Option<PathBuf>,
    /// Label who spoke when (needs `vocalis models pull resemblyzer`).
    #[arg(long)]
    diarize: bool,
    /// With --diarize: the number of speakers, when known.
    #[arg(long)]
    speakers: Option<usize>,
}

/// Runs `vocalis transcribe`.
pub fn run(args: TranscribeArgs) -> anyhow::Result<()> {
    let store = super::engines::store(args.models_dir.clone())?;
    let vad = engine::load_vad(&store)?;
    let model = engine::load_stt_model(&store, &args.model, Some(Quantization::Q8_0))?;
    let diarizer = if args.diarize {
        let model = store.resolve(engine::DIARIZE_MODEL)?;
        let dir = model.primary.parent().context("speaker model directory")?;
        Some(Diarizer::load(dir)?)
    } else {
        None
    };
    let mut diarize_options = DiarizeOptions::default();
    if let Some(n) = args.speakers {
        diarize_options.min_speakers = n.clamp(1, 16);
        diarize_options.max_speakers = n.clamp(1, 16);
    }
    let mut worker = SttWorker::new(Arc::clone(&model), args.threads, Some(vad.clone()))?;
    let options = TranscribeOptions {
        language: args.language.clone(),
        initial_prompt: args.prompt.clone(),
        translate: args.translate,
        ..TranscribeOptions::default()
    };
    for file in &args.files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let hint = file.extension().and_then(|e| e.to_str());
        let audio = vocalis_audio::decode_file(&bytes, hint, 16_000)
            .with_context(|| format!("cannot decode {}", file.display()))?;
        let bar = progress_bar(audio.duration_s);
        let progress = |percent: u8| bar.set_position(u64::from(percent));
        let hooks = DecodeHooks {
            cancel: None,
            progress: Some(&progress),
        };
        let transcript = worker
            .transcribe_with(&audio.samples, &options, hooks)
            .with_context(|| format!("cannot transcribe {}", file.display()))?;
        bar.finish_and_clear();
        if args.files.len() > 1 && args.format == Format::Text {
            println!("{}:", file.display());
        }
        let speakers = match &diarizer {
            Some(d) => {
                let regions = vad.speech_regions(&audio.samples)?;
                let found = d.diarize(&audio.samples, &regions, &diarize_options)?;
                let times: Vec<(f64, f64)> =
                    transcript.words.iter().map(|w| (w.start, w.end)).collect();
                let labels = assign_words(&found, &times);
                Some(
                    transcript
                        .words
                        .iter()
                        .enumerate()
                        .map(|(i, w)| SpeakerWord {
                            start: w.start,
                            end: w.end,
                            text: &w.text,
                            speaker: labels.get(i).map_or(0, |l| l.speaker),
                        })
                        .collect::<Vec<_>>(),
                )
            }
            None => None,
        };
        let output = match &speakers {
            Some(words) => render_speakers(&transcript, words, args.format)?,
            None => render(&transcript, args.format)?,
        };
        print!("{output}");
    }
    Ok(())
}

fn progress_bar(duration_s: f64) -> indicatif::ProgressBar {
    // Short clips finish before a bar is worth drawing.
    if duration_s < 60.0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(100);
    bar.set_style(
        indicatif::ProgressStyle::with_template("transcribing {bar:40} {pos}% ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn render(transcript: &Transcript, format: Format) -> anyhow::Result<String> {
    let cues: Vec<Cue<'_>> = transcript
        .segments
        .iter()
        .map(|s| Cue {
            start: s.start,
            end: s.end,
            text: &s.text,
        })
        .collect();
    Ok(match format {
        Format::Text => format!("{}\n", transcript.text()),
        Format::Srt => subtitles::srt(&cues),
        Format::Vtt => subtitles::vtt(&cues),
        Format::Json => {
            let value = serde_json::json!({
                "text": transcript.text(),
                "language": transcript.language.as_ref().map(|(code, _)| code),
                "language_probability": transcript.language.as_ref().map(|(_, p)| p),
                "duration": transcript.duration_s,
                "segments": transcript.segments.iter().map(|s| serde_json::json!({
                    "start": s.start, "end": s.end, "text": s.text,
                    "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob,
                })).collect::<Vec<_>>(),
                "words": transcript.words.iter().map(|w| serde_json::json!({
                    "word": w.text, "start": w.start, "end": w.end, "probability": w.probability,
                })).collect::<Vec<_>>(),
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    })
}

/// Output with speaker turns (`--diarize`).
fn render_speakers(
    transcript: &Transcript,
    words: &[SpeakerWord<'_>],
    format: Format,
) -> anyhow::Result<String> {
    let segments: Vec<DiarizedSegment> = turns(words, 0.8);
    let cue_text = |s: &DiarizedSegment| match format {
        Format::Vtt => format!("<v Speaker {}>{}", s.speaker, s.text),
        _ => format!("[Speaker {}] {}", s.speaker, s.text),
    };
    let texts: Vec<String> = segments.iter().map(cue_text).collect();
    let cues: Vec<Cue<'_>> = segments
        .iter()
        .zip(&texts)
        .map(|(s, text)| Cue {
            start: s.start,
            end: s.end,
            text,
        })
        .collect();
    Ok(match format {
        Format::Text => segments
            .iter()
            .map(|s| format!("Speaker {}: {}\n", s.speaker, s.text))
            .collect(),
        Format::Srt => subtitles::srt(&cues),
        Format::Vtt => subtitles::vtt(&cues),
        Format::Json => {
            let value = serde_json::json!({
                "text": transcript.text(),
                "duration": transcript.duration_s,
                "turns": segments,
                "words": words.iter().map(|w| serde_json::json!({
                    "word": w.text, "start": w.start, "end": w.end,
                    "speaker": vocalis_server::wire::openai::speaker_label(w.speaker),
                })).collect::<Vec<_>>(),
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    })
}
