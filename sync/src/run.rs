//! One run (`dirgate-sync run`), and the schedule of runs (`dirgate-sync daemon`).
//!
//! A run reads every source completely, normalises them together, and then makes one push.
//! All sources go into one push because the server replaces whole domains: were each source
//! pushed on its own, a source that shares a domain with another would wipe the other's
//! records of it on every run. The push's `source` is the source names joined with `+`.
//!
//! Nothing is pushed unless every source was read completely. A source that returns no entry
//! at all is refused too (unless forced): it is almost always a wrong base DN, filter or
//! permission, not an empty organisation.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::ldap::LdapSource;
use crate::normalise::{Normalised, Normaliser};
use crate::push::{AgentInfo, Answer, DomainDiff, PushBody, PushFlags, Server};
use crate::source::DirectorySource;
use crate::{Error, Result};

/// What the command line asks of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Show the per-domain counts and the server's diff; change nothing.
    pub dry_run: bool,
    /// Pass both deletion thresholds, and push even when a source returned no entry.
    pub force: bool,
    /// Push only the valid entries when some are invalid.
    pub skip_invalid: bool,
}

/// Writes one log line to standard error, with the time.
pub fn log(message: impl std::fmt::Display) {
    eprintln!("{} {message}", humantime::format_rfc3339_seconds(SystemTime::now()));
}

/// Runs once: read, normalise, (dry-)push.
pub fn run_once(config: &Config, options: RunOptions) -> Result<()> {
    let server = Server::new(&config.server)?;
    let sources = config
        .sources
        .iter()
        .map(|s| LdapSource::new(s.clone()).map(|s| Box::new(s) as Box<dyn DirectorySource>))
        .collect::<Result<Vec<_>>>()?;
    let domains = server.managed_domains()?;
    let normalised = read_all(&sources, domains, options.force)?;
    report(&normalised);

    let skip_invalid = options.skip_invalid || config.skip_invalid;
    let errors = normalised.errors();
    let names: Vec<&str> = sources.iter().map(|s| s.name()).collect();
    let body = PushBody { directory: &normalised.directory, agent: AgentInfo::here(), source: names.join("+") };

    if options.dry_run {
        // Show what the valid entries would do, even when a real run would refuse them.
        let flags = PushFlags { dry_run: true, force: options.force, skip_invalid: true };
        let Answer::DryRun(diff) = server.push(&body, flags)? else {
            return Err(Error::Push("the server did not answer the dry run with a diff".to_owned()));
        };
        log("dry run: the server's diff (nothing was changed):");
        print_diff(&diff);
        if errors > 0 && !skip_invalid {
            return Err(Error::Invalid(errors));
        }
        if !options.force {
            check_threshold(&diff, config.deletion_threshold_percent, true)?;
        }
        log("dry run: a real run would be applied");
        return Ok(());
    }

    if errors > 0 && !skip_invalid {
        return Err(Error::Invalid(errors));
    }
    let flags = PushFlags { dry_run: false, force: options.force, skip_invalid };
    if let Some(limit) = config.deletion_threshold_percent
        && !options.force
    {
        let Answer::DryRun(diff) = server.push(&body, PushFlags { dry_run: true, ..flags })? else {
            return Err(Error::Push("the server did not answer the dry run with a diff".to_owned()));
        };
        check_threshold(&diff, Some(limit), false)?;
    }
    match server.push(&body, flags)? {
        Answer::Applied { id, domains } => {
            log(format!("pushed: change {id} applied"));
            print_diff(&domains);
            Ok(())
        }
        Answer::ThresholdExceeded { message, domains } => {
            print_diff(&domains);
            Err(Error::Threshold(format!("the server refused the push, nothing was changed: {message}")))
        }
        Answer::DryRun(_) => Err(Error::Push("the server answered the push as a dry run".to_owned())),
    }
}

/// Reads every source into one normaliser; any failure aborts with nothing to push.
fn read_all(sources: &[Box<dyn DirectorySource>], domains: Vec<String>, force: bool) -> Result<Normalised> {
    let mut normaliser = Normaliser::new(domains);
    for source in sources {
        let name = source.name();
        log(format!("source {name}: reading {}", source.location()));
        let started = Instant::now();
        normaliser.begin_source(name);
        let summary = source.read(&mut |entry| normaliser.add(&entry))?;
        normaliser.end_source();
        log(format!("source {name}: {} entries in {:.1} s", summary.entries, started.elapsed().as_secs_f64()));
        if summary.entries == 0 && !force {
            return Err(Error::Source {
                source_name: name.to_owned(),
                message: "the search returned no entry at all; refusing to push (check base_dn, filter and the bind account's rights, or pass --force)".to_owned(),
            });
        }
    }
    Ok(normaliser.finish())
}

/// Logs the diagnostics (with DNs) and the per-domain counts of the normalised directory.
fn report(normalised: &Normalised) {
    for line in normalised.diagnostic_lines() {
        log(line);
    }
    let shown: u64 = normalised.report.diagnostics.len() as u64;
    let total: u64 = normalised.report.diagnostic_totals.values().sum();
    if total > shown {
        log(format!(
            "({} more diagnostics not shown; totals by code: {:?})",
            total - shown,
            normalised.report.diagnostic_totals
        ));
    }
    let c = &normalised.report.counts;
    log(format!(
        "normalised: {} recipients, {} aliases, {} groups; {} entries without an address skipped, {} addresses outside the managed domains left out, {} error(s)",
        c.recipients,
        c.aliases,
        c.groups,
        c.skipped,
        c.unmanaged,
        normalised.errors()
    ));
    for d in &normalised.report.domains {
        log(format!("  {}: {} recipients, {} aliases, {} groups", d.domain, d.recipients, d.aliases, d.groups));
    }
}

fn print_diff(diff: &[DomainDiff]) {
    for d in diff {
        log(format!(
            "  {}: {} -> {} addresses (+{} -{} ={}); recipients +{} -{}, aliases +{} -{}, groups +{} -{}{}",
            d.label(),
            d.before,
            d.after,
            d.added.count,
            d.removed.count,
            d.kept.count,
            d.recipients.added,
            d.recipients.removed,
            d.aliases.added,
            d.aliases.removed,
            d.groups.added,
            d.groups.removed,
            if d.threshold_exceeded { "  [over the server's deletion threshold]" } else { "" }
        ));
        if !d.removed.samples.is_empty() {
            log(format!("    removed, e.g.: {}", d.removed.samples.join(", ")));
        }
    }
}

/// Refuses a diff that removes more than the server's or the agent's threshold allows.
fn check_threshold(diff: &[DomainDiff], agent_percent: Option<f64>, dry_run: bool) -> Result<()> {
    let mut over = Vec::new();
    for d in diff {
        let percent = d.removed_percent();
        let agent_over = agent_percent.is_some_and(|limit| percent > limit);
        if d.threshold_exceeded || agent_over {
            over.push(format!("{} (removes {} of {}, {percent:.1}%)", d.label(), d.removed.count, d.before));
        }
    }
    if over.is_empty() {
        return Ok(());
    }
    let whose = match agent_percent {
        Some(limit) => format!("the deletion threshold (agent: {limit}%, and the server's)"),
        None => "the server's deletion threshold".to_owned(),
    };
    let verdict = if dry_run { "a real run would be refused" } else { "refused, nothing was changed" };
    Err(Error::Threshold(format!(
        "{verdict}: the push would remove more than {whose} allows in {}. Check the directory; repeat with --force to confirm",
        over.join(", ")
    )))
}

/// Runs on the schedule until the process is stopped. Each run starts when the previous one
/// has ended, so runs never overlap; a run longer than the interval delays the next one
/// rather than skipping it. The configuration is read again before each run, and a run that
/// fails is logged and retried at the next interval.
pub fn daemon(path: &Path, options: RunOptions) -> Result<()> {
    let config = Config::load(path)?;
    config.check_secrets()?;
    let mut interval = config.schedule.interval()?;
    log(format!("daemon: a run every {}", humantime::format_duration(interval)));
    loop {
        let started = Instant::now();
        log("daemon: run starting");
        let result = Config::load(path).and_then(|config| {
            interval = config.schedule.interval()?;
            run_once(&config, options)
        });
        match result {
            Ok(()) => log(format!("daemon: run succeeded in {:.1} s", started.elapsed().as_secs_f64())),
            Err(e) => log(format!("daemon: run failed (status {}): {e}", e.exit_code())),
        }
        let next = started + interval;
        let now = Instant::now();
        if next <= now {
            log("daemon: the run took longer than the interval; the next one starts now");
        } else {
            let wait = Duration::from_secs((next - now).as_secs());
            log(format!("daemon: next run in {}", humantime::format_duration(wait)));
            std::thread::sleep(next - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::Sample;

    fn diff(before: u64, removed: u64, server_over: bool) -> DomainDiff {
        DomainDiff {
            domain: Some("example.com".to_owned()),
            before,
            after: before - removed,
            added: Sample::default(),
            removed: Sample { count: removed, samples: Vec::new() },
            kept: Sample { count: before - removed, samples: Vec::new() },
            recipients: Default::default(),
            aliases: Default::default(),
            groups: Default::default(),
            threshold_exceeded: server_over,
        }
    }

    #[test]
    fn either_threshold_refuses() {
        assert!(check_threshold(&[diff(100, 5, false)], Some(10.0), false).is_ok());
        assert!(check_threshold(&[diff(100, 11, false)], Some(10.0), false).is_err());
        assert!(check_threshold(&[diff(100, 11, false)], None, false).is_ok());
        let refused = check_threshold(&[diff(100, 2, true)], Some(50.0), true).unwrap_err();
        assert!(matches!(refused, Error::Threshold(_)));
        assert!(refused.to_string().contains("example.com (removes 2 of 100"), "{refused}");
    }
}
