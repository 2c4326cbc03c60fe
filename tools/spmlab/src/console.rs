//! Scanning a guest's kernel console for reports that must fail a run:
//! oopses, BUG/WARN splats, KASAN/UBSAN, lockdep, hung tasks, RCU stalls,
//! panics. A test that passes while the kernel printed one of these has
//! not passed.

/// Markers of kernel problem reports, matched on the console line after the
/// printk timestamp. Each is specific enough not to match ordinary boot
/// messages (e.g. "BUG:" with its colon, "WARNING: CPU:").
const PATTERNS: &[&str] = &[
    "Oops:",
    "BUG:",
    "kernel BUG at",
    "WARNING: CPU:",
    "WARNING: at ",
    "WARNING: possible",
    "WARNING: suspicious RCU usage",
    "------------[ cut here ]------------",
    "Kernel panic",
    "general protection fault",
    "KASAN:",
    "UBSAN:",
    "possible circular locking dependency",
    "possible recursive locking",
    "inconsistent lock state",
    "INFO: task ",
    "rcu: INFO:",
    "detected stalls on CPUs",
    "Unable to handle kernel",
    "page allocation failure:",
    "Out of memory and no killable processes",
    "invalid opcode:",
    "stack-protector:",
    "list_add corruption",
    "list_del corruption",
];

/// Messages a run may expect (e.g. the OOM killer in an OOM test). A line
/// that a caller declares expected is not reported.
pub struct Scanner<'a> {
    allowed: &'a [String],
}

/// One problem found on the console.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    /// 1-based line number in the console log.
    pub line_no: usize,
    /// The line, without its printk timestamp.
    pub line: String,
}

impl<'a> Scanner<'a> {
    /// A scanner that ignores lines containing any of `allowed`.
    pub fn new(allowed: &'a [String]) -> Self {
        Scanner { allowed }
    }

    /// Every problem line in `console`, in order.
    pub fn scan(&self, console: &str) -> Vec<Report> {
        let mut out = Vec::new();
        for (i, raw) in console.lines().enumerate() {
            let line = strip_stamp(raw);
            if PATTERNS.iter().any(|p| line.contains(p))
                && !self.allowed.iter().any(|a| line.contains(a.as_str()))
            {
                out.push(Report {
                    line_no: i + 1,
                    line: line.trim_end().to_string(),
                });
            }
        }
        out
    }
}

fn strip_stamp(l: &str) -> &str {
    let l = l.trim_end_matches('\r');
    if let Some(rest) = l.strip_prefix('[') {
        if let Some(i) = rest.find("] ") {
            return &rest[i + 2..];
        }
    }
    l
}

/// The last `n` lines of `text`, for failure reports.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_boot_has_no_reports() {
        let c = "[    0.000000] Linux version 6.12.117-spmlab\n[    0.1] ACPI: SRAT: Node 1 PXM 1 [mem 0x100000000-0x11fffffff]\n[    1.0] Run /init as init process\n[    1.1] kmem dax0.0: mapping0: 0x100000000-0x11fffffff could not reserve region\n";
        assert!(Scanner::new(&[]).scan(c).is_empty());
    }

    #[test]
    fn warn_and_oops_are_reported() {
        let c = "[    5.0] ------------[ cut here ]------------\n[    5.0] WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:4000 __alloc_pages+0x1/0x2\n[    6.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[    6.1] Oops: 0000 [#1] PREEMPT SMP\n";
        let r = Scanner::new(&[]).scan(c);
        assert_eq!(r.len(), 4);
        assert_eq!(r[1].line_no, 2);
        assert!(r[1].line.starts_with("WARNING: CPU: 0"));
    }

    #[test]
    fn lockdep_and_hung_tasks_are_reported() {
        let c = "WARNING: possible circular locking dependency detected\nINFO: task kworker/0:1:12 blocked for more than 120 seconds.\nrcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n";
        assert_eq!(Scanner::new(&[]).scan(c).len(), 3);
    }

    #[test]
    fn allowed_lines_are_ignored() {
        let allowed = vec!["page allocation failure: order:10".to_string()];
        let c = "[ 1.0] spm_test: page allocation failure: order:10, mode:0x40cc0\n";
        assert!(Scanner::new(&allowed).scan(c).is_empty());
        assert_eq!(Scanner::new(&[]).scan(c).len(), 1);
    }

    #[test]
    fn tail_takes_last_lines() {
        assert_eq!(tail("a\nb\nc\nd", 2), "c\nd");
        assert_eq!(tail("a", 5), "a");
    }
}
