//! Result files and the summary.
//!
//! Each suite writes `build/results/<suite>.tsv`: one line per test,
//! `STATUS<TAB>name<TAB>detail`. `spmlab summary` reads them all, prints one
//! line per test and ends with `N passed, N failed[, N skipped]`.

use crate::tap::{Status, TestResult};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// Serialize results as TSV lines (tabs and newlines in fields become spaces).
pub fn to_tsv(results: &[TestResult]) -> String {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut out = String::new();
    for r in results {
        let _ = writeln!(
            out,
            "{}\t{}\t{}",
            r.status.label(),
            clean(&r.name),
            clean(&r.detail)
        );
    }
    out
}

/// Parse TSV written by [`to_tsv`]. Malformed lines become failures, so a
/// corrupted result file cannot pass silently.
pub fn from_tsv(text: &str, origin: &str) -> Vec<TestResult> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let st = f.next().and_then(Status::from_label);
            let name = f.next();
            match (st, name) {
                (Some(status), Some(name)) => TestResult {
                    name: name.to_string(),
                    status,
                    detail: f.next().unwrap_or("").to_string(),
                },
                _ => TestResult {
                    name: format!("{origin}/malformed-result"),
                    status: Status::Fail,
                    detail: l.to_string(),
                },
            }
        })
        .collect()
}

/// Counts of each outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Passed tests.
    pub passed: usize,
    /// Failed tests.
    pub failed: usize,
    /// Skipped tests.
    pub skipped: usize,
}

impl Totals {
    /// Count `results`.
    pub fn of(results: &[TestResult]) -> Totals {
        let mut t = Totals::default();
        for r in results {
            match r.status {
                Status::Pass => t.passed += 1,
                Status::Fail => t.failed += 1,
                Status::Skip => t.skipped += 1,
            }
        }
        t
    }

    /// The closing line CI reads.
    pub fn line(&self) -> String {
        if self.skipped > 0 {
            format!(
                "{} passed, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            )
        } else {
            format!("{} passed, {} failed", self.passed, self.failed)
        }
    }
}

/// One report line per test.
pub fn report_line(r: &TestResult) -> String {
    if r.detail.is_empty() {
        format!("{}  {}", r.status.label(), r.name)
    } else {
        format!("{}  {}  ({})", r.status.label(), r.name, r.detail)
    }
}

/// Write `results` to `dir/<suite>.tsv`.
pub fn write_suite(dir: &Path, suite: &str, results: &[TestResult]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(format!("{suite}.tsv")), to_tsv(results))
}

/// Read every `*.tsv` under `dir`, sorted by file name.
pub fn read_all(dir: &Path) -> io::Result<Vec<(String, Vec<TestResult>)>> {
    let mut files: Vec<_> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let suite = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = fs::read_to_string(&f)?;
        out.push((suite.clone(), from_tsv(&text, &suite)));
    }
    Ok(out)
}

/// A failure for each suite in `expected` that has no results in `found`:
/// a suite that never ran must not be merely absent from the summary.
pub fn missing_suites(found: &[String], expected: &[String]) -> Vec<(String, TestResult)> {
    expected
        .iter()
        .filter(|e| !found.contains(e))
        .map(|e| {
            (
                e.clone(),
                TestResult {
                    name: format!("{e}/suite-ran"),
                    status: Status::Fail,
                    detail: format!("no results for suite '{e}': it did not run"),
                },
            )
        })
        .collect()
}

/// `SUITE: N passed, N failed, N skipped` for one suite.
pub fn suite_line(suite: &str, results: &[TestResult]) -> String {
    let t = Totals::of(results);
    format!(
        "{suite}: {} passed, {} failed, {} skipped",
        t.passed, t.failed, t.skipped
    )
}

/// Results of `cargo test` output (the libtest text format):
/// `test path::name ... ok|FAILED|ignored`. The `test result:` lines are
/// cross-checked: a crate whose summary reports failures that no line
/// named fails as a whole.
pub fn from_cargo_test(text: &str, suite: &str) -> Vec<TestResult> {
    let mut out = Vec::new();
    let mut named_failures = 0;
    let mut summary_failures = 0;
    let mut saw_summary = false;
    for l in text.lines() {
        let l = l.trim_end();
        if let Some(rest) = l.strip_prefix("test result: ") {
            saw_summary = true;
            if let Some(n) = rest
                .split(';')
                .find_map(|p| p.trim().strip_suffix(" failed"))
            {
                summary_failures += n.trim().parse::<usize>().unwrap_or(0);
            }
        } else if let Some(rest) = l.strip_prefix("test ") {
            if let Some((name, outcome)) = rest.rsplit_once(" ... ") {
                let name = name.trim_end_matches(" - should panic");
                let status = match outcome.trim() {
                    "ok" => Status::Pass,
                    "FAILED" => Status::Fail,
                    o if o.starts_with("ignored") => Status::Skip,
                    _ => continue,
                };
                if status == Status::Fail {
                    named_failures += 1;
                }
                out.push(TestResult {
                    name: format!("{suite}/{name}"),
                    status,
                    detail: String::new(),
                });
            }
        }
    }
    if !saw_summary {
        out.push(TestResult {
            name: format!("{suite}/cargo-test"),
            status: Status::Fail,
            detail: "cargo test printed no 'test result:' line (build failure?)".into(),
        });
    } else if summary_failures > named_failures {
        out.push(TestResult {
            name: format!("{suite}/cargo-test"),
            status: Status::Fail,
            detail: format!("{summary_failures} failures reported, {named_failures} named"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, status: Status, detail: &str) -> TestResult {
        TestResult {
            name: name.into(),
            status,
            detail: detail.into(),
        }
    }

    #[test]
    fn missing_suites_fail_and_suite_lines_count() {
        let found = vec!["a".to_string(), "b".to_string()];
        let want = vec!["a".to_string(), "c".to_string()];
        let m = missing_suites(&found, &want);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0, "c");
        assert_eq!(m[0].1.status, Status::Fail);
        assert_eq!(m[0].1.name, "c/suite-ran");
        assert!(missing_suites(&found, &[]).is_empty());
        let v = vec![
            r("a/x", Status::Pass, ""),
            r("a/y", Status::Skip, "why"),
            r("a/z", Status::Fail, ""),
        ];
        assert_eq!(suite_line("a", &v), "a: 1 passed, 1 failed, 1 skipped");
    }

    #[test]
    fn tsv_round_trip() {
        let v = vec![
            r("a/b", Status::Pass, ""),
            r("a/c", Status::Fail, "got\t3\npages"),
            r("a/d", Status::Skip, "no CXL"),
        ];
        let back = from_tsv(&to_tsv(&v), "x");
        assert_eq!(back[0], v[0]);
        assert_eq!(back[1].detail, "got 3 pages");
        assert_eq!(back[2].status, Status::Skip);
    }

    #[test]
    fn malformed_tsv_fails() {
        let v = from_tsv("PASS\tok\t\nWHAT\tx\n", "s");
        assert_eq!(v[1].status, Status::Fail);
        assert_eq!(v[1].name, "s/malformed-result");
    }

    #[test]
    fn totals_line() {
        let v = vec![
            r("a", Status::Pass, ""),
            r("b", Status::Fail, ""),
            r("c", Status::Pass, ""),
        ];
        assert_eq!(Totals::of(&v).line(), "2 passed, 1 failed");
        let v2 = vec![r("a", Status::Skip, "")];
        assert_eq!(Totals::of(&v2).line(), "0 passed, 0 failed, 1 skipped");
    }

    #[test]
    fn cargo_test_output() {
        let t = "running 3 tests\ntest tap::tests::a ... ok\ntest tap::tests::b ... FAILED\ntest tap::tests::c ... ignored, slow\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        let v = from_cargo_test(t, "host");
        assert_eq!(
            Totals::of(&v),
            Totals {
                passed: 1,
                failed: 1,
                skipped: 1
            }
        );
        assert_eq!(v[1].name, "host/tap::tests::b");
    }

    #[test]
    fn cargo_build_failure_is_a_failure() {
        let v = from_cargo_test("error[E0425]: cannot find value\n", "host");
        assert_eq!(Totals::of(&v).failed, 1);
    }
}
