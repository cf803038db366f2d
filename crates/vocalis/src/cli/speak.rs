//! `vocalis speak "TEXT" -o out.wav`: synthesize with a Piper voice from the
//! model store and write the audio in the requested format and rate.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use vocalis_audio::{AudioEncoder, OutputFormat};
use vocalis_inference::SynthesisOptions;

use super::engines;

/// Flags of `vocalis speak`.
#[derive(Debug, clap::Args)]
pub struct SpeakArgs {
    /// The text to speak; `-` reads standard input.
    text: String,
    /// Output file; `-` writes to standard output.
    #[arg(short, long)]
    output: PathBuf,
    /// Installed voice name.
    #[arg(long, default_value = engines::DEFAULT_VOICE)]
    voice: String,
    /// Speaking rate, 0.5 (slow) to 2.0 (fast).
    #[arg(long, default_value_t = 1.0)]
    speed: f32,
    /// Output format: wav, mp3, mulaw, alaw, pcm (s16le), opus (Ogg), flac.
    #[arg(long, default_value = "wav")]
    format: OutputFormat,
    /// Output sample rate in Hz (default: the voice's own; 8000 for mulaw/alaw; 48000 for opus).
    #[arg(long)]
    rate: Option<u32>,
    /// Speaker id, for multi-speaker voices.
    #[arg(long)]
    speaker: Option<u32>,
    /// Model store root.
    #[arg(long, env = "VOCALIS_MODELS")]
    models_dir: Option<PathBuf>,
}

/// Runs `vocalis speak`.
pub fn run(args: SpeakArgs) -> anyhow::Result<()> {
    let text = if args.text == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        args.text.clone()
    };
    let store = engines::store(args.models_dir.clone())?;
    let voice = engines::load_voice(&store, &args.voice, 1)?;
    let voice_rate = voice.sample_rate();
    let rate = args.rate.unwrap_or(match args.format {
        OutputFormat::Mulaw | OutputFormat::Alaw => 8000,
        OutputFormat::Opus => 48_000,
        _ => voice_rate,
    });
    let mut encoder = AudioEncoder::new(args.format, voice_rate, rate)?;
    let options = SynthesisOptions {
        speed: args.speed,
        speaker_id: args.speaker,
        ..SynthesisOptions::default()
    };
    let mut out: Box<dyn std::io::Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(&args.output)
                .with_context(|| format!("cannot create {}", args.output.display()))?,
        ))
    };
    let mut seconds = 0.0;
    if args.format == OutputFormat::Wav {
        // A whole-buffer WAV has exact sizes in its header, which every player accepts.
        let result = voice.synthesize(&text, &options)?;
        seconds = result.samples.len() as f64 / f64::from(voice_rate);
        out.write_all(&vocalis_audio::encode(
            &result.samples,
            voice_rate,
            OutputFormat::Wav,
            rate,
        )?)?;
    } else {
        for chunk in voice.synthesize_stream(&text, &options)? {
            let chunk = chunk?;
            seconds += chunk.samples.len() as f64 / f64::from(voice_rate);
            out.write_all(&encoder.push(&chunk.samples)?)?;
        }
        out.write_all(&encoder.finish()?)?;
    }
    out.flush()?;
    eprintln!(
        "{seconds:.2} s of audio at {rate} Hz ({}) -> {}",
        args.format,
        args.output.display()
    );
    Ok(())
}
