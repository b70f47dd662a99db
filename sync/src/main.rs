//! `dirgate-sync`: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dirgate_sync::config::{self, Config};
use dirgate_sync::run::{self, RunOptions};
use dirgate_sync::{Error, Result};

/// The dirgate directory sync agent: reads LDAP / Active Directory and pushes the valid
/// addresses to the dirgate server.
///
/// Exit status: 0 success, 1 a source or the push failed (nothing was changed), 2 bad
/// configuration or usage, 3 a deletion threshold refused the push, 4 the directory has
/// invalid entries (see --skip-invalid).
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The configuration file.
    #[arg(short, long, global = true, default_value = "dirgate-sync.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a commented example configuration (to PATH, or dirgate-sync.toml).
    Init {
        /// Where to write it; an existing file is never overwritten.
        path: Option<PathBuf>,
    },
    /// Checks the configuration and that every secret it names can be read.
    CheckConfig,
    /// Reads every source once and pushes the directory.
    Run {
        /// Print the per-domain counts and the server's diff; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        flags: Flags,
    },
    /// Runs on the configured schedule, one run at a time, until stopped. It never forces:
    /// a run that a threshold refuses waits for an administrator's `run --force`.
    Daemon {
        /// Push only the valid entries when some are invalid.
        #[arg(long)]
        skip_invalid: bool,
    },
}

#[derive(clap::Args)]
struct Flags {
    /// Pass the deletion thresholds (the agent's and the server's), and push even when a
    /// source returned no entry.
    #[arg(long)]
    force: bool,
    /// Push only the valid entries when some are invalid.
    #[arg(long)]
    skip_invalid: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            run::log(format!("error: {e}"));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { path } => {
            let path = path.unwrap_or(cli.config);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::Config(format!("cannot create {}: {e}", path.display())))?;
            std::io::Write::write_all(&mut file, config::EXAMPLE.as_bytes())
                .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
            println!("wrote {}; edit it, then run `dirgate-sync check-config -c {}`", path.display(), path.display());
            Ok(())
        }
        Command::CheckConfig => {
            let config = Config::load(&cli.config)?;
            config.check_secrets()?;
            println!("{}: ok", cli.config.display());
            println!("  server {}", config.server.url);
            for s in &config.sources {
                println!(
                    "  source {} ({:?}): {}:{} tls={:?} base {:?} filter {}",
                    s.name,
                    s.kind,
                    s.host,
                    s.port(),
                    s.tls,
                    s.base_dn,
                    s.filter()
                );
            }
            println!("  schedule: every {}", config.schedule.every);
            Ok(())
        }
        Command::Run { dry_run, flags } => {
            let config = Config::load(&cli.config)?;
            let options = RunOptions { dry_run, force: flags.force, skip_invalid: flags.skip_invalid };
            run::run_once(&config, options)
        }
        Command::Daemon { skip_invalid } => {
            let options = RunOptions { dry_run: false, force: false, skip_invalid };
            run::daemon(&cli.config, options)
        }
    }
}
