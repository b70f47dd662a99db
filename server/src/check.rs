//! `dirgate check`: the validation core, native, for scripts and pipelines.
//!
//! Exit status: 0 when the import is valid, 1 when it has errors, 2 when the command could not
//! run (an unreadable file or bad arguments).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use dirgate_core::{FormatChoice, Options, Report, Severity, Validator};

/// How much of a file is read per chunk: large enough to amortise the calls, small enough that
/// memory does not depend on the file.
const CHUNK_BYTES: usize = 256 * 1024;

#[derive(Args)]
pub struct CheckArgs {
    /// The files of one import (`-` reads standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The format of the files.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// A managed domain; addresses in other domains are reported and left out. Repeatable.
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// Print exactly one JSON report object on standard output.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    Ldif,
    Csv,
}

pub fn run(args: &CheckArgs) -> ExitCode {
    let format = match args.format {
        FormatArg::Auto => FormatChoice::Auto,
        FormatArg::Ldif => FormatChoice::Ldif,
        FormatArg::Csv => FormatChoice::Csv,
    };
    let options = Options { format, managed_domains: args.domains.clone(), ..Options::default() };
    let mut validator = Validator::new(options);
    let mut buffer = vec![0u8; CHUNK_BYTES];
    for path in &args.files {
        let name = path.display().to_string();
        if let Err(error) = feed_file(&mut validator, path, &name, &mut buffer) {
            eprintln!("dirgate check: cannot read {name}: {error}");
            return ExitCode::from(2);
        }
    }
    let outcome = validator.finish();
    let report = &outcome.report;
    let printed = if args.json { print_json(report) } else { print_human(report) };
    if let Err(error) = printed {
        if error.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("dirgate check: cannot write the report: {error}");
        }
        return ExitCode::from(2);
    }
    if report.valid { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn feed_file(validator: &mut Validator, path: &PathBuf, name: &str, buffer: &mut [u8]) -> io::Result<()> {
    validator.begin_file(name);
    let mut reader: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(path)?;
        // A regular file's size lets the core size its tables once; a pipe's says nothing.
        if let Some(meta) = file.metadata().ok().filter(|m| m.is_file()) {
            validator.expect_size(meta.len());
        }
        Box::new(file)
    };
    loop {
        let n = match reader.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        validator.feed(&buffer[..n]);
    }
    validator.end_file();
    Ok(())
}

fn print_json(report: &Report) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, report).map_err(io::Error::other)?;
    writeln!(out)
}

fn print_human(report: &Report) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for d in &report.diagnostics {
        writeln!(out, "{d}")?;
    }
    let kept = report.diagnostics.len() as u64;
    let total: u64 = report.diagnostic_totals.values().sum();
    if total > kept {
        writeln!(out, "... and {} more diagnostics not shown (capped per code):", total - kept)?;
        for (code, n) in &report.diagnostic_totals {
            let shown = report.diagnostics.iter().filter(|d| d.code.as_str() == code).count() as u64;
            if *n > shown {
                writeln!(out, "    {code}: {n} in all, {shown} shown")?;
            }
        }
    }
    if !report.diagnostics.is_empty() {
        writeln!(out)?;
    }
    let c = &report.counts;
    let files = report.files.len();
    writeln!(
        out,
        "{} file{} ({}, {}{}): {} recipients, {} aliases, {} groups; {} entries without an address skipped; {} addresses in unmanaged domains left out",
        files,
        if files == 1 { "" } else { "s" },
        report.format,
        report.encoding,
        if report.bom { " with BOM" } else { "" },
        c.recipients,
        c.aliases,
        c.groups,
        c.skipped,
        c.unmanaged
    )?;
    for d in &report.domains {
        writeln!(
            out,
            "  {:<40} {:>9} recipients {:>8} aliases {:>6} groups",
            d.domain, d.recipients, d.aliases, d.groups
        )?;
    }
    let count = |severity: Severity| {
        report
            .diagnostic_totals
            .iter()
            .filter(|(code, _)| dirgate_core::Code::from_name(code).is_some_and(|c| c.severity() == severity))
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    if report.valid {
        writeln!(out, "valid: {warnings} warnings")
    } else {
        writeln!(out, "invalid: {errors} errors, {warnings} warnings; fix the file or import only the valid records")
    }
}
