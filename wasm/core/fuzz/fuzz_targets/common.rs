//! Checks shared by the fuzz targets: what must hold of any report, whatever the input.

use dirgate_core::{Outcome, Severity};

/// The report's invariants: `valid` means "no error", totals cover the kept diagnostics,
/// counts match the directory, and every position is 1-based.
pub fn check(outcome: &Outcome) {
    let report = &outcome.report;
    let errors = report.diagnostics.iter().any(|d| d.severity == Severity::Error);
    let error_totals: u64 = report
        .diagnostic_totals
        .iter()
        .filter(|(code, _)| dirgate_core::Code::from_name(code).is_some_and(|c| c.severity() == Severity::Error))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(report.valid, error_totals == 0, "valid must mean no error diagnostic");
    assert!(!errors || !report.valid);
    for d in &report.diagnostics {
        assert!(d.line >= 1, "lines are 1-based: {d:?}");
        assert!(d.column.is_none_or(|c| c >= 1), "columns are 1-based: {d:?}");
        let total = report.diagnostic_totals.get(d.code.as_str()).copied().unwrap_or(0);
        assert!(total >= 1, "a kept diagnostic is counted: {d:?}");
    }
    let dir = &outcome.directory;
    assert_eq!(report.counts.recipients, dir.recipients.len() as u64);
    assert_eq!(report.counts.aliases, dir.aliases.len() as u64);
    assert_eq!(report.counts.groups, dir.groups.len() as u64);
    for r in &dir.recipients {
        assert!(dirgate_core::address::parse_address(&r.address).is_ok(), "stored recipients are valid: {r:?}");
    }
}
