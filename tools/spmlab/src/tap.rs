//! TAP 13/14 and KTAP parsing.
//!
//! The lab reads test results from three producers: kselftests and the lab's
//! own guest scripts (TAP on the guest's second serial port), and KUnit
//! (KTAP on the kernel console, with printk timestamps and nesting). All of
//! them reduce to one flat list of [`TestResult`]s, named by their path
//! (`suite/case`), so that one summary line can count them.
//!
//! Rules:
//! - `ok N name`, `not ok N name`; a `# SKIP` directive makes it a skip, a
//!   `# TODO` directive on a `not ok` is not a failure (TAP semantics).
//! - Nesting is by indentation (KTAP: 4 spaces per level, or a leading `# `
//!   before the nested lines as in older kselftest output). A result line
//!   that closes a block of subtests is the block's own result: it is
//!   reported only if it disagrees with its children (a suite that failed
//!   while every case passed, e.g. because it crashed), so every case counts
//!   once.
//! - A plan (`1..N`) that is not met by the results at that level is a
//!   failure of its own (`<parent>/plan`): a test program that died half way
//!   must not look green.
//! - `Bail out!` is a failure.

/// Outcome of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The test passed.
    Pass,
    /// The test failed (or its plan was not met).
    Fail,
    /// The test was skipped.
    Skip,
}

impl Status {
    /// Short upper-case label used in reports and result files.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }

    /// Inverse of [`Status::label`].
    pub fn from_label(s: &str) -> Option<Status> {
        match s {
            "PASS" => Some(Status::Pass),
            "FAIL" => Some(Status::Fail),
            "SKIP" => Some(Status::Skip),
            _ => None,
        }
    }
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestResult {
    /// Path of the test: parent names joined by `/`.
    pub name: String,
    /// Its outcome.
    pub status: Status,
    /// A reason (skip reason, failure diagnostics), may be empty.
    pub detail: String,
}

#[derive(Default)]
struct Level {
    indent: usize,
    /// Name announced by a `# Subtest: NAME` line for this level.
    name: Option<String>,
    plan: Option<usize>,
    seen: usize,
    results: Vec<TestResult>,
    /// Diagnostic lines since the last result at this level.
    diag: Vec<String>,
}

/// Strip a printk timestamp (`[   12.345678] `) and a leading `<N>` level.
fn strip_printk(line: &str) -> &str {
    let mut l = line;
    if let Some(rest) = l.strip_prefix('<') {
        if let Some(i) = rest.find('>') {
            if rest[..i].chars().all(|c| c.is_ascii_digit()) {
                l = &rest[i + 1..];
            }
        }
    }
    if let Some(rest) = l.strip_prefix('[') {
        if let Some(i) = rest.find("] ") {
            if rest[..i]
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            {
                l = &rest[i + 2..];
            }
        }
    }
    l
}

/// Split a line into (indentation depth in columns, content). Tabs count 8.
/// Older kselftest nesting prefixes nested output with `# `; that counts as
/// one level (4 columns) per prefix.
fn indentation(line: &str) -> (usize, &str) {
    let mut col = 0;
    let mut rest = line;
    loop {
        if let Some(r) = rest.strip_prefix("    ") {
            col += 4;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('\t') {
            col += 8;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("# ") {
            // `# ok 1 x` (nested kselftest) but not `# Subtest:` or a comment.
            let t = r.trim_start();
            if t.starts_with("ok ")
                || t.starts_with("not ok ")
                || t.starts_with("1..")
                || t.starts_with("TAP version")
                || t.starts_with("KTAP version")
                || t.starts_with("# ")
            {
                col += 4;
                rest = r;
            } else {
                break;
            }
        } else if let Some(r) = rest.strip_prefix(' ') {
            col += 1;
            rest = r;
        } else {
            break;
        }
    }
    (col, rest)
}

/// A result line's directive: (keyword upper-cased, reason).
type Directive = Option<(String, String)>;

/// Parse `ok 3 - name # SKIP why` into (ok, number, name, directive).
fn parse_result(s: &str) -> Option<(bool, Option<usize>, String, Directive)> {
    let (ok, rest) = if let Some(r) = s.strip_prefix("not ok") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("ok") {
        (true, r)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let rest = rest.trim_start();
    let mut num = None;
    let mut after = rest;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if !digits.is_empty() {
        num = digits.parse().ok();
        after = &rest[digits.len()..];
    }
    let after = after.trim_start();
    let after = after.strip_prefix("- ").unwrap_or(after);
    let (name, directive) = match after.find(" # ").or_else(|| {
        if after.starts_with("# ") {
            Some(0)
        } else {
            None
        }
    }) {
        Some(i) => {
            let d = after[i..]
                .trim_start_matches(' ')
                .trim_start_matches('#')
                .trim();
            let (kw, why) = match d.find(char::is_whitespace) {
                Some(j) => (&d[..j], d[j..].trim()),
                None => (d, ""),
            };
            (
                after[..i].trim().to_string(),
                Some((kw.to_ascii_uppercase(), why.to_string())),
            )
        }
        None => (after.trim().to_string(), None),
    };
    Some((ok, num, name, directive))
}

fn join(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}/{name}"),
    }
}

/// Close every level deeper than `indent`. Levels closed without a result
/// line of their own (a crash, a truncated log) fold into the next outer
/// level with an `incomplete` failure.
fn close_deeper(levels: &mut Vec<Level>, indent: usize) -> Option<Level> {
    let mut closed: Option<Level> = None;
    while levels.len() > 1 && levels.last().is_some_and(|l| l.indent > indent) {
        let mut l = levels.pop().unwrap();
        if let Some(inner) = closed.take() {
            let name = inner.name.clone().unwrap_or_else(|| "unnamed".into());
            absorb(&mut l, inner, &name, None);
        }
        closed = Some(l);
    }
    closed
}

/// Move a closed child level's results into `parent`, under `name`. `own` is
/// the status of the parent's result line for this block (None when the
/// block never got one).
fn absorb(parent: &mut Level, child: Level, name: &str, own: Option<(Status, String)>) {
    let mut failed = child.results.iter().any(|r| r.status == Status::Fail);
    if let Some(p) = child.plan {
        if p != child.seen {
            failed = true;
            parent.results.push(TestResult {
                name: join(name, "plan"),
                status: Status::Fail,
                detail: format!("planned {p} tests, {} reported", child.seen),
            });
        }
    }
    let seen = child.seen;
    for mut r in child.results {
        r.name = join(name, &r.name);
        parent.results.push(r);
    }
    match own {
        None => {
            parent.results.push(TestResult {
                name: join(name, "incomplete"),
                status: Status::Fail,
                detail: format!("subtest block ended without a result line ({seen} reported)"),
            });
        }
        Some((Status::Fail, detail)) if !failed => parent.results.push(TestResult {
            name: name.to_string(),
            status: Status::Fail,
            detail: if detail.is_empty() {
                "failed while all its subtests passed".into()
            } else {
                detail
            },
        }),
        Some((Status::Skip, detail)) if seen == 0 => parent.results.push(TestResult {
            name: name.to_string(),
            status: Status::Skip,
            detail,
        }),
        Some(_) => {}
    }
}

/// Parse TAP/KTAP text. `prefix` names the whole document (e.g. the suite or
/// run name) and prefixes every result. Lines that are not TAP (kernel
/// messages on a console, program chatter) are ignored, so a whole console
/// log can be passed in.
pub fn parse(text: &str, prefix: &str) -> Vec<TestResult> {
    let mut out = Vec::new();
    // Open levels, outermost first; result names are relative to their level.
    let mut levels: Vec<Level> = Vec::new();
    let mut pending_subtest: Option<String> = None;

    for raw in text.lines() {
        let line = strip_printk(raw.trim_end_matches('\r'));
        let (indent, body) = indentation(line);
        let body = body.trim_end();

        if body.starts_with("TAP version") || body.starts_with("KTAP version") {
            match levels.last() {
                None => levels.push(Level {
                    indent,
                    ..Default::default()
                }),
                Some(l) if indent > l.indent => levels.push(Level {
                    indent,
                    name: pending_subtest.take(),
                    ..Default::default()
                }),
                Some(_) if levels.len() == 1 && levels[0].seen > 0 => {
                    // A second top-level document (another test program).
                    finish(&mut levels, prefix, &mut out);
                    levels.push(Level {
                        indent,
                        ..Default::default()
                    });
                }
                Some(_) => {}
            }
            continue;
        }
        if levels.is_empty() {
            continue;
        }
        if let Some(name) = body.strip_prefix("# Subtest:") {
            // KTAP puts the name after the nested version line: name the
            // level just opened; otherwise the next one to open.
            let name = name.trim().to_string();
            let nested = levels.len() > 1;
            match levels.last_mut() {
                Some(l) if nested && l.indent == indent && l.name.is_none() && l.seen == 0 => {
                    l.name = Some(name)
                }
                _ => pending_subtest = Some(name),
            }
            continue;
        }
        let cur = levels.last().map(|l| l.indent).unwrap_or(0);
        if let Some(plan) = body.strip_prefix("1..") {
            let n = plan
                .split_whitespace()
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            if indent > cur {
                // A nested plan without a version line (KTAP allows it).
                levels.push(Level {
                    indent,
                    name: pending_subtest.take(),
                    plan: Some(n),
                    ..Default::default()
                });
            } else if indent == cur {
                levels.last_mut().unwrap().plan = Some(n);
            }
            continue;
        }
        if body.starts_with("Bail out!") {
            levels.last_mut().unwrap().results.push(TestResult {
                name: "bail-out".into(),
                status: Status::Fail,
                detail: body.to_string(),
            });
            continue;
        }
        if let Some((ok, _num, name, directive)) = parse_result(body) {
            if indent > cur {
                // Deeper than any open level: an implicit subtest block.
                levels.push(Level {
                    indent,
                    name: pending_subtest.take(),
                    ..Default::default()
                });
            }
            let children = close_deeper(&mut levels, indent);
            let level = levels.last_mut().unwrap();
            level.seen += 1;
            let status = match (&directive, ok) {
                (Some((kw, _)), _) if kw == "SKIP" => Status::Skip,
                (Some((kw, _)), false) if kw == "TODO" => Status::Skip,
                (_, true) => Status::Pass,
                (_, false) => Status::Fail,
            };
            let mut detail = directive.map(|(_, why)| why).unwrap_or_default();
            if status == Status::Fail && detail.is_empty() {
                detail = level.diag.join(" | ");
            }
            level.diag.clear();
            match children {
                Some(child) => absorb(level, child, &name, Some((status, detail))),
                None => level.results.push(TestResult {
                    name,
                    status,
                    detail,
                }),
            }
            continue;
        }
        // Diagnostics: kept for the next failing result at this level.
        if let Some(d) = body.strip_prefix("# ") {
            let l = levels.last_mut().unwrap();
            if l.diag.len() < 8 {
                l.diag.push(d.trim().to_string());
            }
        }
    }
    finish(&mut levels, prefix, &mut out);
    out
}

/// End of input (or of one document): fold every open level into the top
/// one, check the top plan, and emit the results under `prefix`.
fn finish(levels: &mut Vec<Level>, prefix: &str, out: &mut Vec<TestResult>) {
    if let Some(inner) = close_deeper(levels, 0) {
        let name = inner.name.clone().unwrap_or_else(|| "unnamed".into());
        absorb(levels.last_mut().unwrap(), inner, &name, None);
    }
    if let Some(top) = levels.pop() {
        if let Some(p) = top.plan {
            if p != top.seen {
                out.push(TestResult {
                    name: join(prefix, "plan"),
                    status: Status::Fail,
                    detail: format!("planned {p} tests, {} reported", top.seen),
                });
            }
        }
        for mut r in top.results {
            r.name = join(prefix, &r.name);
            out.push(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[TestResult]) -> Vec<(String, Status)> {
        v.iter().map(|r| (r.name.clone(), r.status)).collect()
    }

    #[test]
    fn flat_tap() {
        let t = "TAP version 13\n1..3\nok 1 - a\nnot ok 2 b\nok 3 c # SKIP no node\n";
        let r = parse(t, "s");
        assert_eq!(
            names(&r),
            vec![
                ("s/a".into(), Status::Pass),
                ("s/b".into(), Status::Fail),
                ("s/c".into(), Status::Skip)
            ]
        );
        assert_eq!(r[2].detail, "no node");
    }

    #[test]
    fn todo_is_not_failure() {
        let r = parse("TAP version 13\n1..1\nnot ok 1 x # TODO later\n", "s");
        assert_eq!(r[0].status, Status::Skip);
    }

    #[test]
    fn unmet_plan_fails() {
        let r = parse("TAP version 13\n1..3\nok 1 a\nok 2 b\n", "s");
        assert!(r
            .iter()
            .any(|x| x.name == "s/plan" && x.status == Status::Fail));
    }

    #[test]
    fn no_tap_no_results() {
        assert!(parse("hello\nok 1 not tap before version\n", "s").is_empty());
    }

    #[test]
    fn failure_carries_diagnostics() {
        let t = "TAP version 13\n1..1\n# expected 0 leaked pages, got 12\nnot ok 1 leak\n";
        let r = parse(t, "s");
        assert_eq!(r[0].status, Status::Fail);
        assert!(r[0].detail.contains("got 12"), "{:?}", r[0]);
    }

    #[test]
    fn ktap_on_console_nested() {
        let t = "\
[    1.000000] Booting
[    2.100000] KTAP version 1
[    2.100001] 1..2
[    2.100002]     KTAP version 1
[    2.100003]     # Subtest: spm_registry
[    2.100004]     # module: spm_test
[    2.100005]     1..2
[    2.100006]     ok 1 spm_register_twice
[    2.100007]     not ok 2 spm_unregister_busy
[    2.100008] # spm_registry: pass:1 fail:1 skip:0 total:2
[    2.100009] not ok 1 spm_registry
[    2.100010]     KTAP version 1
[    2.100011]     # Subtest: rust_doctests_kernel
[    2.100012]     1..1
[    2.100013]     ok 1 rust_doctest_kernel_alloc_box_rs_0
[    2.100014] ok 2 rust_doctests_kernel
[    3.000000] random message
";
        let r = parse(t, "kunit");
        assert_eq!(
            names(&r),
            vec![
                ("kunit/spm_registry/spm_register_twice".into(), Status::Pass),
                (
                    "kunit/spm_registry/spm_unregister_busy".into(),
                    Status::Fail
                ),
                (
                    "kunit/rust_doctests_kernel/rust_doctest_kernel_alloc_box_rs_0".into(),
                    Status::Pass
                ),
            ]
        );
    }

    #[test]
    fn suite_failing_with_passing_children_is_reported() {
        let t = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n    ok 1 a\nnot ok 1 s\n";
        let r = parse(t, "k");
        assert_eq!(
            names(&r),
            vec![("k/s/a".into(), Status::Pass), ("k/s".into(), Status::Fail)]
        );
    }

    #[test]
    fn crash_mid_suite_is_a_failure() {
        let t = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..3\n    ok 1 a\n[  5.0] BUG: kernel NULL pointer dereference\n";
        let r = parse(t, "k");
        assert!(r
            .iter()
            .any(|x| x.name == "k/s/a" && x.status == Status::Pass));
        assert!(
            r.iter().any(|x| x.status == Status::Fail),
            "an unfinished suite must fail: {r:?}"
        );
    }

    #[test]
    fn nested_plan_mismatch_fails() {
        let t = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..2\n    ok 1 a\nok 1 s\n";
        let r = parse(t, "k");
        assert!(
            r.iter()
                .any(|x| x.name == "k/s/plan" && x.status == Status::Fail),
            "{r:?}"
        );
    }

    #[test]
    fn kselftest_hash_nesting() {
        let t = "TAP version 13\n1..1\n# TAP version 13\n# 1..2\n# ok 1 x\n# not ok 2 y\nnot ok 1 selftests: spm: spm_test # exit=1\n";
        let r = parse(t, "ks");
        assert_eq!(
            names(&r),
            vec![
                ("ks/selftests: spm: spm_test/x".into(), Status::Pass),
                ("ks/selftests: spm: spm_test/y".into(), Status::Fail),
            ]
        );
    }

    #[test]
    fn skipped_suite_without_cases_counts_once() {
        let t = "KTAP version 1\n1..1\nok 1 spm_cxl # SKIP no CXL\n";
        let r = parse(t, "k");
        assert_eq!(names(&r), vec![("k/spm_cxl".into(), Status::Skip)]);
    }

    #[test]
    fn bail_out_fails() {
        let r = parse("TAP version 13\n1..2\nok 1 a\nBail out! no cgroup2\n", "s");
        assert!(r
            .iter()
            .any(|x| x.name == "s/bail-out" && x.status == Status::Fail));
    }

    #[test]
    fn printk_prefixes_are_stripped() {
        assert_eq!(strip_printk("[   12.345678] ok 1 a"), "ok 1 a");
        assert_eq!(strip_printk("<6>[    0.1] x"), "x");
        assert_eq!(strip_printk("[not a stamp] x"), "[not a stamp] x");
    }
}
