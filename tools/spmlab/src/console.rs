//! Scanning a guest's kernel console for reports that must fail a run:
//! oopses, BUG/WARN splats, KASAN/UBSAN, lockdep, hung tasks, RCU stalls,
//! panics. A test that passes while the kernel printed one of these has
//! not passed.

/// Headings of kernel problem reports: a console line that starts with
/// one of these, after its printk timestamp, is a report. They cover
/// WARN()/WARN_ON() ("WARNING: CPU: ..."), every lockdep report (its
/// headings all start "WARNING:" or "BUG:", or are "INFO: trying to
/// register non-static key."), BUG()/BUG_ON(), KASAN ("BUG: KASAN: ..."
/// and the "KASAN: ..." of a wild access), KFENCE ("BUG: KFENCE: ..."),
/// UBSAN, oopses and sleeping in atomic context ("BUG: sleeping function
/// called from invalid context").
const HEADINGS: &[&str] = &[
    "WARNING:",
    "BUG:",
    "Oops",
    "UBSAN:",
    "KASAN:",
    "KFENCE:",
    "INFO: trying to register non-static key",
];

/// Markers found anywhere in a line, for reports whose heading carries a
/// prefix of its own ("watchdog: BUG: soft lockup", "rcu: INFO: ...") or
/// has no heading of the forms above. Each is specific enough not to match
/// ordinary boot messages.
const PATTERNS: &[&str] = &[
    "BUG:",
    "kernel BUG at",
    "WARNING: CPU:",
    "------------[ cut here ]------------",
    "Kernel panic",
    "general protection fault",
    "KASAN:",
    "UBSAN:",
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

/// Does `line` (without its timestamp) open or belong to a problem report?
fn is_report(line: &str) -> bool {
    HEADINGS.iter().any(|h| line.starts_with(h))
        || (line.starts_with("INFO: task ") && line.contains(" blocked for more than "))
        || PATTERNS.iter().any(|p| line.contains(p))
}

/// Lines that end a report: the trace's end marker, or KASAN's closing
/// rule. The rule opens a KASAN report too: only a rule after the report's
/// first line ends it.
fn ends_report(line: &str) -> bool {
    line.starts_with("---[ end ") || line.starts_with("=====")
}

/// How many console lines after its first a report's text may take.
const REPORT_MAX_LINES: usize = 120;

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
            if is_report(line) && !self.allowed.iter().any(|a| line.contains(a.as_str())) {
                out.push(Report {
                    line_no: i + 1,
                    line: line.trim_end().to_string(),
                });
            }
        }
        out
    }
}

/// The whole text of each report in `console` (`reports` from `scan`):
/// from the report's first line (or the "cut here" or "=====" line just
/// before it) to the end of its trace, at most `REPORT_MAX_LINES` lines;
/// overlapping reports are one text. Each text starts with a line naming
/// where it is in the console. Empty when there are no reports.
pub fn splat_text(console: &str, reports: &[Report]) -> String {
    let lines: Vec<&str> = console.lines().collect();
    let mut out = String::new();
    let mut done = 0; // lines[..done] are already in a text
    for r in reports {
        let first = r.line_no - 1;
        if first < done {
            continue;
        }
        let mut start = first;
        if start > done {
            let prev = strip_stamp(lines[start - 1]);
            if prev.contains("[ cut here ]") || prev.starts_with("=====") {
                start -= 1;
            }
        }
        let mut end = first + 1;
        while end < lines.len() && end - first <= REPORT_MAX_LINES {
            let l = strip_stamp(lines[end]);
            end += 1;
            if ends_report(l) {
                break;
            }
        }
        out.push_str(&format!("--- console.log line {} ---\n", start + 1));
        for l in &lines[start..end] {
            out.push_str(l.trim_end_matches('\r'));
            out.push('\n');
        }
        done = end;
    }
    out
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

    /// Real report texts, one per heading (trimmed to their first lines,
    /// timestamps as the console prints them). Each must be reported on
    /// its heading line.
    const SPLATS: &[(&str, &str)] = &[
        (
            "WARN_ON",
            "[   12.345678] ------------[ cut here ]------------\n\
             [   12.345690] WARNING: CPU: 1 PID: 231 at mm/page_alloc.c:4562 __alloc_pages_noprof+0x2f1/0x330\n\
             [   12.345701] Modules linked in: test_spm\n\
             [   12.345712] CPU: 1 UID: 0 PID: 231 Comm: spm_isolation Not tainted 6.12.117-spmlab #1\n\
             [   12.345800] RIP: 0010:__alloc_pages_noprof+0x2f1/0x330\n\
             [   12.345900] Call Trace:\n\
             [   12.345910]  <TASK>\n\
             [   12.345920]  spm_test_ioctl+0x1a2/0x3c0 [test_spm]\n\
             [   12.345930]  </TASK>\n\
             [   12.345940] ---[ end trace 0000000000000000 ]---\n",
        ),
        (
            "KASAN",
            "[   30.100000] ==================================================================\n\
             [   30.100010] BUG: KASAN: slab-use-after-free in spm_test_free+0x4c/0x90 [test_spm]\n\
             [   30.100020] Read of size 8 at addr ffff888005a1c2e8 by task spm_isolation/240\n\
             [   30.100030] \n\
             [   30.100040] CPU: 0 UID: 0 PID: 240 Comm: spm_isolation Tainted: G    B   6.12.117-spmlab #1\n\
             [   30.100050] Call Trace:\n\
             [   30.100060]  <TASK>\n\
             [   30.100070]  kasan_report+0xc0/0x100\n\
             [   30.100080]  </TASK>\n\
             [   30.100090] ==================================================================\n",
        ),
        (
            "KASAN wild access",
            "[   31.000000] Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN\n\
             [   31.000010] KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]\n\
             [   31.000020] CPU: 0 UID: 0 PID: 1 Comm: sh Not tainted 6.12.117-spmlab #1\n",
        ),
        (
            "KFENCE",
            "[   40.000000] ==================================================================\n\
             [   40.000010] BUG: KFENCE: out-of-bounds read in spm_node_name+0x21/0x40\n\
             [   40.000020] \n\
             [   40.000030] Out-of-bounds read at 0x00000000a3c5f1e2 (32B right of kfence-#42):\n\
             [   40.000040]  spm_node_name+0x21/0x40\n\
             [   40.000050] ==================================================================\n",
        ),
        (
            "UBSAN",
            "[   50.000000] ------------[ cut here ]------------\n\
             [   50.000010] UBSAN: array-index-out-of-bounds in mm/spm.c:120:20\n\
             [   50.000020] index 64 is out of range for type 'struct spm_node[64]'\n\
             [   50.000030] CPU: 0 UID: 0 PID: 250 Comm: sh Not tainted 6.12.117-spmlab #1\n\
             [   50.000040] ---[ end trace ]---\n",
        ),
        (
            "oops",
            "[   60.000000] Oops: divide error: 0000 [#1] PREEMPT SMP NOPTI\n\
             [   60.000010] CPU: 1 UID: 0 PID: 260 Comm: sh Not tainted 6.12.117-spmlab #1\n\
             [   60.000020] RIP: 0010:bitmap_fold+0x4d/0x90\n\
             [   60.000030] ---[ end trace 0000000000000000 ]---\n",
        ),
        (
            "null pointer",
            "[   61.000000] BUG: kernel NULL pointer dereference, address: 0000000000000010\n\
             [   61.000010] #PF: supervisor read access in kernel mode\n",
        ),
        (
            "hung task",
            "[  250.000000] INFO: task kworker/u8:2:45 blocked for more than 122 seconds.\n\
             [  250.000010]       Not tainted 6.12.117-spmlab #1\n\
             [  250.000020] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n",
        ),
        (
            "soft lockup",
            "[  300.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [spm_isolation:300]\n\
             [  300.000010] Modules linked in: test_spm\n",
        ),
        (
            "lockdep circular",
            "[   70.000000] ======================================================\n\
             [   70.000010] WARNING: possible circular locking dependency detected\n\
             [   70.000020] 6.12.117-spmlab #1 Not tainted\n\
             [   70.000030] ------------------------------------------------------\n\
             [   70.000040] sh/270 is trying to acquire lock:\n",
        ),
        (
            "lockdep recursive",
            "[   71.000000] ============================================\n\
             [   71.000010] WARNING: possible recursive locking detected\n\
             [   71.000020] 6.12.117-spmlab #1 Not tainted\n",
        ),
        (
            "lockdep inconsistent",
            "[   72.000000] ================================\n\
             [   72.000010] WARNING: inconsistent lock state\n\
             [   72.000020] 6.12.117-spmlab #1 Not tainted\n\
             [   72.000030] inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.\n",
        ),
        (
            "lockdep irq inversion",
            "[   73.000000] ========================================================\n\
             [   73.000010] WARNING: possible irq lock inversion dependency detected\n",
        ),
        (
            "lockdep safe->unsafe",
            "[   74.000000] =====================================================\n\
             [   74.000010] WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected\n",
        ),
        (
            "lockdep bad unlock",
            "[   75.000000] =====================================\n\
             [   75.000010] WARNING: bad unlock balance detected!\n",
        ),
        (
            "lockdep held lock freed",
            "[   76.000000] =========================\n\
             [   76.000010] WARNING: held lock freed!\n",
        ),
        (
            "lockdep held at return to user",
            "[   77.000000] ================================================\n\
             [   77.000010] WARNING: lock held when returning to user space!\n",
        ),
        (
            "lockdep suspicious RCU",
            "[   78.000000] =============================\n\
             [   78.000010] WARNING: suspicious RCU usage\n\
             [   78.000020] 6.12.117-spmlab #1 Not tainted\n",
        ),
        (
            "lockdep non-static key",
            "[   79.000000] INFO: trying to register non-static key.\n\
             [   79.000010] The code is fine but needs lockdep annotation, or maybe\n",
        ),
        (
            "lockdep too many keys",
            "[   80.000000] BUG: MAX_LOCKDEP_KEYS too low!\n\
             [   80.000010] turning off the locking correctness validator.\n",
        ),
        (
            "sleep in atomic",
            "[   81.000000] BUG: sleeping function called from invalid context at mm/page_alloc.c:4420\n\
             [   81.000010] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 281, name: sh\n",
        ),
        (
            "RCU stall",
            "[  400.000000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n",
        ),
        (
            "list corruption",
            "[   90.000000] list_del corruption. prev->next should be ffff888004c01048, but was dead000000000100. (prev=ffff888004186810)\n",
        ),
    ];

    #[test]
    fn every_heading_is_reported() {
        for (what, text) in SPLATS {
            let r = Scanner::new(&[]).scan(text);
            assert!(!r.is_empty(), "{what}: not reported");
            let first = strip_stamp(text.lines().nth(r[0].line_no - 1).unwrap());
            assert_eq!(r[0].line, first.trim_end(), "{what}");
            let splat = splat_text(text, &r);
            assert!(splat.contains(first.trim_end()), "{what}: not in splat.txt");
        }
    }

    #[test]
    fn reports_need_the_heading_at_line_start() {
        // Ordinary messages that mention the words.
        let c = "[ 1.0] dax_spm: see the WARNING: below if any\n\
                 [ 1.1] INFO: task list ready\n\
                 [ 1.2] kfence: initialized - using 2097152 bytes for 255 objects\n\
                 [ 1.3] Oopsie-free boot\n";
        let r = Scanner::new(&[]).scan(c);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].line_no, 4);
    }

    #[test]
    fn splat_text_spans_the_whole_report() {
        let (_, warn) = SPLATS[0];
        let c = format!("[ 1.0] before\n{warn}[ 13.0] after\n");
        let r = Scanner::new(&[]).scan(&c);
        let s = splat_text(&c, &r);
        assert!(s.starts_with("--- console.log line 2 ---\n"), "{s}");
        assert!(s.contains("[ cut here ]"));
        assert!(s.contains("spm_test_ioctl+0x1a2/0x3c0 [test_spm]"));
        assert!(s.contains("---[ end trace"));
        assert!(!s.contains("before") && !s.contains("after"), "{s}");
        // The cut-here line and the WARNING line are one report text.
        assert_eq!(s.matches("--- console.log line").count(), 1);
        let (_, kasan) = SPLATS[1];
        let r = Scanner::new(&[]).scan(kasan);
        let s = splat_text(kasan, &r);
        assert!(s.contains("kasan_report+0xc0/0x100"));
        let rules = s
            .lines()
            .filter(|l| strip_stamp(l).starts_with("====="))
            .count();
        assert_eq!(rules, 2, "{s}");
        assert!(splat_text("[ 1.0] fine\n", &[]).is_empty());
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
