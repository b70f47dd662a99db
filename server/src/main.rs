//! `dirgate`: the server and the command-line checker, in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dirgate::{check, serve};

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
    /// Run the server: the REST API, the web UI and the recipient check, on one redb file.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Serve(args) => serve::run(&args),
    }
}
