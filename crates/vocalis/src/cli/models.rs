//! `vocalis models pull|list|verify`: fetch, verify, convert and show the
//! models named in the embedded manifest.

use std::path::PathBuf;

use anyhow::Context;
use vocalis_models::{ConsoleProgress, InstallStatus, PullAction, PullOptions, Quantization};

/// Flags shared by the model subcommands.
#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Model store root.
    #[arg(long, env = "VOCALIS_MODELS", global = true)]
    models_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ModelsCommand {
    /// Download, verify and install models (all of the manifest when none are named).
    Pull {
        /// Model names from the manifest, e.g. `tiny.en`.
        names: Vec<String>,
        /// Also write this quantized variant of a Whisper model (the server's
        /// default weights are q8_0).
        #[arg(long, value_name = "KIND", default_value = "q8_0")]
        quantize: Quantization,
        /// Install Whisper models as f16 only (no quantized variant).
        #[arg(long)]
        no_quantize: bool,
        /// Reinstall even when the installed files verify.
        #[arg(long)]
        force: bool,
    },
    /// Show installed models, sizes and where they came from.
    List,
    /// Re-hash installed models against their receipts.
    Verify {
        /// Model names (all installed when none are named).
        names: Vec<String>,
    },
}

/// Runs a model subcommand.
pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let store = super::engines::store(args.models_dir)?;
    match args.command {
        ModelsCommand::Pull {
            names,
            quantize,
            no_quantize,
            force,
        } => {
            let quantize = (!no_quantize).then_some(quantize);
            let options = PullOptions { quantize, force };
            let outcomes = store
                .pull(&names, &options, &ConsoleProgress)
                .context("pull failed")?;
            for outcome in outcomes {
                let action = match outcome.action {
                    PullAction::UpToDate => "up to date (verified, nothing downloaded)",
                    PullAction::Installed => "installed",
                    PullAction::Quantized => "quantized variant added",
                };
                eprintln!(
                    "{:<18} {action} in {:.1}s -> {}",
                    outcome.name,
                    outcome.elapsed.as_secs_f64(),
                    outcome.model.dir.display()
                );
            }
        }
        ModelsCommand::List => {
            let installed = store.list()?;
            println!("store: {}", store.root().display());
            if installed.is_empty() {
                println!("no models installed; run `vocalis models pull`");
            }
            println!(
                "{:<18} {:<8} {:>10}  {:<10} source",
                "name", "kind", "size", "status"
            );
            for model in installed {
                let status = match &model.status {
                    InstallStatus::Ok => "ok".to_owned(),
                    InstallStatus::Damaged(why) => {
                        format!("DAMAGED ({why}); run `vocalis models pull {}`", model.name)
                    }
                    InstallStatus::Outdated(why) => {
                        format!("OUTDATED ({why}); run `vocalis models pull {}`", model.name)
                    }
                    InstallStatus::Unknown => "not in manifest".to_owned(),
                };
                let sources: Vec<String> = model
                    .receipt
                    .sources
                    .iter()
                    .map(|s| format!("{} {}=={}", s.registry, s.package, s.version))
                    .collect();
                let mut files: Vec<&str> = model.files.iter().map(|f| f.name.as_str()).collect();
                files.sort_unstable();
                println!(
                    "{:<18} {:<8} {:>7.1} MB  {:<10} {}  [{}]",
                    model.name,
                    model.receipt.kind.to_string(),
                    model.total_bytes() as f64 / 1e6,
                    status,
                    sources.join(" + "),
                    files.join(", ")
                );
            }
        }
        ModelsCommand::Verify { names } => {
            let names = if names.is_empty() {
                store.list()?.into_iter().map(|m| m.name).collect()
            } else {
                names
            };
            for name in names {
                store.verify(&name, &ConsoleProgress)?;
                eprintln!("{name}: verified");
            }
        }
    }
    Ok(())
}
