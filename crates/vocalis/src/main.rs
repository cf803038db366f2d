//! `vocalis`: the one binary. Subcommands serve the APIs, provision models,
//! and run the engines from the command line.
//!
//! This crate is thin: it parses the command line, sets up logging, and calls
//! the library crates. `anyhow` is used here, at the edge, and nowhere else.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing(cli.verbose);
    match cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
