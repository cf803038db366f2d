//! The command line: one module per subcommand.

mod engines;
mod keys;
mod loadgen;
mod models;
mod serve;
mod speak;
mod transcribe;

use clap::{Parser, Subcommand};

/// Vocalis: a self-hosted speech-to-text and text-to-speech server.
#[derive(Debug, Parser)]
#[command(name = "vocalis", version, about)]
pub struct Cli {
    /// More log output (-v debug, -vv trace); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the HTTP and WebSocket server.
    Serve(serve::ServeArgs),
    /// Manage API keys and tenants.
    Keys(keys::KeysArgs),
    /// Download, verify and list models.
    Models(models::ModelsArgs),
    /// Synthesize speech to a file.
    Speak(speak::SpeakArgs),
    /// Transcribe audio files.
    Transcribe(transcribe::TranscribeArgs),
    /// Load-test a server with simulated phone calls (capacity curve).
    Loadgen(loadgen::LoadgenArgs),
    /// Internal: the isolated espeak-ng phonemizer process (speaks a framed
    /// protocol on stdin/stdout; started by `serve` and `speak`).
    #[command(name = engines::ESPEAK_WORKER_COMMAND, hide = true)]
    EspeakWorker,
}

/// Sets up `tracing` with `RUST_LOG` or the verbosity flag.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // whisper.cpp reports every cancelled decode (a stale partial dropped
    // under load) as an ERROR "failed to encode"; its real failures reach
    // our own logs as errors with context, so its lines are shown from -v.
    let whisper = if verbose == 0 { "off" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The engines' own libraries log every graph transformation at info.
        tracing_subscriber::EnvFilter::new(format!("{default},ort=warn,whisper_rs={whisper}"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Models(args) => models::run(args),
        Command::Speak(args) => speak::run(args),
        Command::Transcribe(args) => transcribe::run(args),
        Command::Loadgen(args) => loadgen::run(args),
        Command::EspeakWorker => {
            vocalis_inference::phonemize::worker::run_worker().map_err(anyhow::Error::from)
        }
    }
}
