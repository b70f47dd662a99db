//! `dirgate`: the server and the command-line checker, in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;

#[derive(Parser)]
#[command(name = "dirgate", version, about = "User-directory validation and storage for an email security gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate LDIF and CSV directory files with the same core as the browser and the server.
    Check(check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
    }
}
