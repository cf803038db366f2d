//! `vocalis transcribe FILE…`: transcribe audio files (any format the audio
//! crate decodes) with an installed Whisper model, as text, JSON, SRT or VTT.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use vocalis_inference::stt::{DecodeHooks, SttWorker, TranscribeOptions, Transcript};
use vocalis_models::Quantization;
use vocalis_server::engine;
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
}

/// Runs `vocalis transcribe`.
pub fn run(args: TranscribeArgs) -> anyhow::Result<()> {
    let store = super::engines::store(args.models_dir.clone())?;
    let vad = engine::load_vad(&store)?;
    let model = engine::load_stt_model(&store, &args.model, Some(Quantization::Q8_0))?;
    let mut worker = SttWorker::new(Arc::clone(&model), args.threads, Some(vad))?;
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
        print!("{}", render(&transcript, args.format)?);
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
