//! `spmlab bench-report`: turns the two benchmark runs of `make bench` (the
//! unpatched base and the patched kernel, each booted under `-icount`) into
//! the raw results file, markdown tables, an SVG plot and the summary line.
//!
//! The guest prints its figures as TAP diagnostics (see lab/guest/bench.sh):
//!
//! ```text
//! # bench nospm row=nospm-pages-o0 rep=0 iters=200000 total_ns=123456789 node=0
//! # bench spm spm_fault: rep=0 pages=16384 total_ns=98765432
//! # bench spm sizeof task_struct=A pglist_data=B zone=C page=D
//! ```
//!
//! A figure is the median over repetitions of nanoseconds per operation;
//! under `-icount shift=0` a guest nanosecond is one guest instruction.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The default-allocation rows measured in both states on both kernels.
pub const ALLOC_ROWS: &[(&str, &str)] = &[
    ("pages-o0", "alloc_pages+__free_pages, order 0"),
    ("pages-o0-batch", "order 0, 256 held then freed"),
    ("pages-o9", "alloc_pages+__free_pages, order 9"),
    ("folio-o0", "folio_alloc+folio_put, order 0"),
    ("folio-o9", "folio_alloc+folio_put, order 9"),
];

/// Rows of the patched kernel: (SPM row, SysRAM row, description).
pub const NODE_ROWS: &[(&str, &str, &str)] = &[
    ("spmnode-o0", "sysram-o0", "order 0"),
    (
        "spmnode-o0-batch",
        "sysram-o0-batch",
        "order 0, 256 held then freed",
    ),
    ("spmnode-o9", "sysram-o9", "order 9"),
];

/// Targets of the summary ratios.
pub const TARGETS: &[(&str, f64)] = &[
    ("alloc_nospm", 1.005),
    ("alloc_spm", 1.01),
    ("fault", 1.005),
    ("spm_vs_sysram", 1.02),
];

/// What one kernel's run measured.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Run {
    /// (state, row) -> ns per operation of each repetition.
    pub rows: BTreeMap<(String, String), Vec<f64>>,
    /// state -> ns per fault of each repetition.
    pub faults: BTreeMap<String, Vec<f64>>,
    /// struct name -> size in bytes.
    pub sizes: BTreeMap<String, u64>,
    /// The raw lines, for the results file.
    pub raw: Vec<String>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

fn num(line: &str, key: &str) -> Result<u64, String> {
    field(line, key)
        .ok_or_else(|| format!("no {key}= in '{line}'"))?
        .parse()
        .map_err(|_| format!("bad {key}= in '{line}'"))
}

impl Run {
    /// Parse a guest output log.
    pub fn parse(text: &str) -> Result<Run, String> {
        let mut run = Run::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("# bench ") else {
                continue;
            };
            let Some((state, what)) = rest.split_once(' ') else {
                continue;
            };
            run.raw.push(rest.to_string());
            if let Some(row) = field(what, "row") {
                let name = row
                    .strip_prefix(state)
                    .and_then(|r| r.strip_prefix('-'))
                    .ok_or_else(|| format!("row '{row}' is not of state '{state}'"))?;
                let iters = num(what, "iters")?;
                if iters == 0 {
                    return Err(format!("iters=0 in '{line}'"));
                }
                let ns = num(what, "total_ns")? as f64 / iters as f64;
                run.rows
                    .entry((state.to_string(), name.to_string()))
                    .or_default()
                    .push(ns);
            } else if let Some(f) = what.strip_prefix("spm_fault: ") {
                let pages = num(f, "pages")?;
                if pages == 0 {
                    return Err(format!("pages=0 in '{line}'"));
                }
                let ns = num(f, "total_ns")? as f64 / pages as f64;
                run.faults.entry(state.to_string()).or_default().push(ns);
            } else if let Some(s) = what.strip_prefix("sizeof ") {
                for w in s.split_whitespace() {
                    if let Some((k, v)) = w.split_once('=') {
                        let v = v.parse().map_err(|_| format!("bad size in '{line}'"))?;
                        run.sizes.insert(k.to_string(), v);
                    }
                }
            }
        }
        if run.rows.is_empty() {
            return Err("no benchmark rows in the output".into());
        }
        Ok(run)
    }

    /// Median ns/op of a row.
    pub fn row(&self, state: &str, name: &str) -> Result<f64, String> {
        self.rows
            .get(&(state.to_string(), name.to_string()))
            .map(|v| median(v))
            .ok_or_else(|| format!("row {state}-{name} was not measured"))
    }

    /// Median ns per fault in a state.
    pub fn fault(&self, state: &str) -> Result<f64, String> {
        self.faults
            .get(state)
            .map(|v| median(v))
            .ok_or_else(|| format!("the fault benchmark did not run in state {state}"))
    }

    /// Largest relative spread (max-min)/median over the repetitions of any
    /// row: how repeatable the figures were within the run.
    pub fn spread(&self) -> f64 {
        self.rows
            .values()
            .chain(self.faults.values())
            .map(|v| {
                let (lo, hi) = v
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
                (hi - lo) / median(v)
            })
            .fold(0.0, f64::max)
    }
}

/// Median of a non-empty slice.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// `size` output's last line: text, data, bss.
pub fn parse_size(text: &str) -> Result<(u64, u64, u64), String> {
    let line = text
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .ok_or("empty size output")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .take(3)
        .map(|w| w.parse().map_err(|_| format!("bad size line '{line}'")))
        .collect::<Result<_, _>>()?;
    if v.len() != 3 {
        return Err(format!("bad size line '{line}'"));
    }
    Ok((v[0], v[1], v[2]))
}

/// One line of the main table.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Summary group the line counts towards.
    pub group: &'static str,
    pub case: String,
    pub base: f64,
    pub patched: f64,
}

impl Line {
    pub fn ratio(&self) -> f64 {
        self.patched / self.base
    }
}

/// Everything the report shows.
#[derive(Debug)]
pub struct Report {
    pub lines: Vec<Line>,
    /// (case, SysRAM, SPM).
    pub nodes: Vec<(String, f64, f64)>,
    /// Summary ratios in TARGETS order: each the worst (largest) ratio of
    /// its group.
    pub summary: Vec<(&'static str, f64)>,
}

impl Report {
    pub fn new(base: &Run, spm: &Run) -> Result<Report, String> {
        let mut lines = vec![];
        for (state, group, what) in [
            ("nospm", "alloc_nospm", "(a) no SPM node"),
            ("spm", "alloc_spm", "(b) SPM node present"),
        ] {
            for (row, desc) in ALLOC_ROWS {
                lines.push(Line {
                    group,
                    case: format!("{what}: {desc}"),
                    base: base.row(state, row)?,
                    patched: spm.row(state, row)?,
                });
            }
        }
        for (state, what) in [
            ("nospm", "(a) no SPM node"),
            ("spm", "(b) SPM node present"),
        ] {
            lines.push(Line {
                group: "fault",
                case: format!("{what}: anonymous page fault (per page)"),
                base: base.fault(state)?,
                patched: spm.fault(state)?,
            });
        }
        let mut nodes = vec![];
        for (s, r, desc) in NODE_ROWS {
            nodes.push((desc.to_string(), spm.row("spm", r)?, spm.row("spm", s)?));
        }
        let mut summary = vec![];
        for (name, _) in TARGETS {
            let worst = if *name == "spm_vs_sysram" {
                nodes.iter().map(|n| n.2 / n.1).fold(f64::MIN, f64::max)
            } else {
                lines
                    .iter()
                    .filter(|l| l.group == *name)
                    .map(Line::ratio)
                    .fold(f64::MIN, f64::max)
            };
            summary.push((*name, worst));
        }
        Ok(Report {
            lines,
            nodes,
            summary,
        })
    }

    /// `bench: alloc_nospm=R alloc_spm=R fault=R spm_vs_sysram=R`
    pub fn summary_line(&self) -> String {
        let parts: Vec<String> = self
            .summary
            .iter()
            .map(|(n, r)| format!("{n}={r:.4}"))
            .collect();
        format!("bench: {}", parts.join(" "))
    }

    /// Names of the summary ratios above their targets.
    pub fn missed(&self) -> Vec<String> {
        self.summary
            .iter()
            .zip(TARGETS)
            .filter(|((_, r), (_, t))| r > t)
            .map(|((n, r), (_, t))| format!("{n}={r:.4} > {t}"))
            .collect()
    }

    pub fn markdown(&self, sizes: &str) -> String {
        let mut s = String::new();
        s.push_str("| case | unpatched (ns/op) | patched (ns/op) | ratio |\n");
        s.push_str("|---|---:|---:|---:|\n");
        for l in &self.lines {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} | {:.4} |",
                l.case,
                l.base,
                l.patched,
                l.ratio()
            );
        }
        s.push_str("\nPatched kernel, SPM node present: `GFP_SPM_NODE` from the SPM node ");
        s.push_str("(node 1) against a default allocation from SysRAM (node 0), ");
        s.push_str("both with `alloc_pages_node()`.\n\n");
        s.push_str("| case | SysRAM node 0 (ns/op) | SPM node 1 (ns/op) | ratio |\n");
        s.push_str("|---|---:|---:|---:|\n");
        for (case, sys, spm) in &self.nodes {
            let _ = writeln!(s, "| {case} | {sys:.1} | {spm:.1} | {:.4} |", spm / sys);
        }
        s.push('\n');
        s.push_str(sizes);
        s.push_str("\nSummary (each ratio the worst of its rows; target in brackets):\n\n");
        for ((n, r), (_, t)) in self.summary.iter().zip(TARGETS) {
            let _ = writeln!(
                s,
                "- {n} = {r:.4} (<= {t}) {}",
                if r <= t { "met" } else { "MISSED" }
            );
        }
        s
    }

    /// A horizontal bar chart of every ratio, 1.0 marked.
    pub fn svg(&self) -> String {
        let mut bars: Vec<(String, f64, f64)> = self
            .lines
            .iter()
            .map(|l| {
                let t = TARGETS.iter().find(|t| t.0 == l.group).map_or(1.0, |t| t.1);
                (l.case.clone(), l.ratio(), t)
            })
            .collect();
        let t = TARGETS[3].1;
        for (case, sys, spm) in &self.nodes {
            bars.push((format!("GFP_SPM_NODE vs SysRAM: {case}"), spm / sys, t));
        }
        let lo = 0.9_f64;
        let hi = bars.iter().map(|b| b.1.max(b.2)).fold(1.1_f64, f64::max) + 0.01;
        let (left, width, row, top) = (420.0, 420.0, 22.0, 40.0);
        let x = |v: f64| left + (v - lo) / (hi - lo) * width;
        let h = top + row * bars.len() as f64 + 40.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" \
             font-family=\"sans-serif\" font-size=\"12\">",
            left + width + 40.0
        );
        let _ = writeln!(
            s,
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" \
             font-size=\"14\">SPM series cost: patched / unpatched instructions per operation \
             (QEMU -icount); | = target</text>"
        );
        for (i, (case, r, target)) in bars.iter().enumerate() {
            let y = top + row * i as f64;
            let colour = if r <= target { "#4a7ebb" } else { "#c0392b" };
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                y + 14.0,
                xml_escape(case)
            );
            let _ = writeln!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{:.1}\" height=\"16\" fill=\"{colour}\"/>",
                left,
                y + 2.0,
                (x(*r) - left).max(1.0)
            );
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"black\" \
                 stroke-width=\"2\"/>",
                x(*target),
                x(*target),
                y,
                y + 20.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{}\">{r:.4}</text>",
                x(r.max(*target)) + 4.0,
                y + 14.0
            );
        }
        let axis_y = top + row * bars.len() as f64 + 4.0;
        for v in [lo, 1.0, hi] {
            let _ = writeln!(
                s,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#888\" \
                 stroke-dasharray=\"3,3\"/>\n<text x=\"{0:.1}\" y=\"{3}\" \
                 text-anchor=\"middle\">{v:.2}</text>",
                x(v),
                top,
                axis_y,
                axis_y + 16.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn sizes_table(base: &Run, spm: &Run, size_base: &str, size_spm: &str) -> Result<String, String> {
    let (bt, bd, bb) = parse_size(size_base)?;
    let (pt, pd, pb) = parse_size(size_spm)?;
    let mut s = String::from("| memory | unpatched (bytes) | patched (bytes) | difference |\n");
    s.push_str("|---|---:|---:|---:|\n");
    let mut row = |name: &str, a: u64, b: u64| {
        let _ = writeln!(s, "| {name} | {a} | {b} | {:+} |", b as i64 - a as i64);
    };
    row("vmlinux text", bt, pt);
    row("vmlinux data", bd, pd);
    row("vmlinux bss", bb, pb);
    for (k, a) in &base.sizes {
        let b = spm
            .sizes
            .get(k)
            .ok_or_else(|| format!("the patched run has no sizeof {k}"))?;
        row(&format!("sizeof(struct {k})"), *a, *b);
    }
    Ok(s)
}

/// `spmlab bench-report --base LOG --spm LOG --size-base F --size-spm F --out DIR`
pub fn cmd(args: &[String]) -> Result<bool, String> {
    let mut opt: BTreeMap<&str, &str> = BTreeMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let key = match a.as_str() {
            "--base" | "--spm" | "--size-base" | "--size-spm" | "--out" => a.as_str(),
            _ => return Err(format!("bench-report: unknown argument '{a}'")),
        };
        let v = it
            .next()
            .ok_or_else(|| format!("bench-report: {key} needs a value"))?;
        opt.insert(key, v);
    }
    let get = |k: &str| {
        opt.get(k)
            .copied()
            .ok_or_else(|| format!("bench-report: {k} is required"))
    };
    let read = |k: &str| {
        let p = get(k)?;
        fs::read_to_string(p).map_err(|e| format!("bench-report: {p}: {e}"))
    };
    let base = Run::parse(&read("--base")?).map_err(|e| format!("unpatched run: {e}"))?;
    let spm = Run::parse(&read("--spm")?).map_err(|e| format!("patched run: {e}"))?;
    let report = Report::new(&base, &spm)?;
    let sizes = sizes_table(&base, &spm, &read("--size-base")?, &read("--size-spm")?)?;
    let out = PathBuf::from(get("--out")?);
    let md = report.markdown(&sizes);
    let mut raw = String::from("# kernel state measurement (ns are guest instructions)\n");
    for (k, r) in [("unpatched", &base), ("patched", &spm)] {
        for l in &r.raw {
            let _ = writeln!(raw, "{k} {l}");
        }
    }
    let line = report.summary_line();
    let write = |name: &str, text: &str| {
        let p: &Path = &out.join(name);
        fs::write(p, text).map_err(|e| format!("bench-report: {}: {e}", p.display()))
    };
    write("results.txt", &raw)?;
    write("table.md", &md)?;
    write("bench.svg", &report.svg())?;
    write("summary.txt", &format!("{line}\n"))?;
    print!("{md}");
    println!(
        "\nrepetitions within a run differ by at most {:.4}% (unpatched) and {:.4}% (patched)",
        base.spread() * 100.0,
        spm.spread() * 100.0
    );
    let missed = report.missed();
    if !missed.is_empty() {
        println!("targets missed: {}", missed.join(", "));
    }
    println!("{line}");
    Ok(missed.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(scale: f64) -> String {
        let mut s = String::from("TAP version 13\nok 1 x\n");
        for state in ["nospm", "spm"] {
            for (r, _) in ALLOC_ROWS {
                for rep in 0..3 {
                    let t = (1000.0 * scale) as u64 * 100 + rep;
                    s += &format!(
                        "# bench {state} row={state}-{r} rep={rep} iters=100 total_ns={t} node=0\n"
                    );
                }
            }
            s += &format!(
                "# bench {state} spm_fault: rep=0 pages=10 total_ns={}\n",
                (2000.0 * scale) as u64 * 10
            );
        }
        for (a, b, _) in NODE_ROWS {
            s += &format!("# bench spm row=spm-{a} rep=0 iters=10 total_ns=10150 node=1\n");
            s += &format!("# bench spm row=spm-{b} rep=0 iters=10 total_ns=10000 node=0\n");
        }
        s += "# bench spm sizeof task_struct=100 zone=20\n";
        s
    }

    #[test]
    fn parses_rows_faults_and_sizes() {
        let r = Run::parse(&log(1.0)).unwrap();
        assert_eq!(r.row("nospm", "pages-o0").unwrap(), 1000.01);
        assert_eq!(r.fault("spm").unwrap(), 2000.0);
        assert_eq!(r.sizes["task_struct"], 100);
        assert!(r.row("nospm", "nosuch").is_err());
        assert!(Run::parse("ok 1 nothing\n").is_err());
        assert!(Run::parse("# bench spm row=nospm-x rep=0 iters=1 total_ns=1\n").is_err());
        assert!(Run::parse("# bench spm row=spm-x rep=0 iters=0 total_ns=1\n").is_err());
    }

    #[test]
    fn ratios_are_worst_of_group_and_judged() {
        let base = Run::parse(&log(1.0)).unwrap();
        let spm = Run::parse(&log(1.01)).unwrap();
        let r = Report::new(&base, &spm).unwrap();
        let s = r.summary_line();
        assert!(s.starts_with("bench: alloc_nospm=1.0100 alloc_spm=1.0100 fault=1.0100 "));
        assert!(s.ends_with(" spm_vs_sysram=1.0150"));
        // 1.01 meets alloc_spm's target (1.01), not alloc_nospm's or fault's.
        let missed = r.missed();
        assert_eq!(missed.len(), 2, "{missed:?}");
        assert!(missed[0].starts_with("alloc_nospm"));
        assert!(missed[1].starts_with("fault"));
        let same = Report::new(&base, &base).unwrap();
        assert!(same.missed().is_empty());
        assert!(r.markdown("").contains("| 1.0150 |"));
        assert!(r.svg().starts_with("<svg"));
    }

    #[test]
    fn missing_rows_are_errors() {
        let base = Run::parse(&log(1.0)).unwrap();
        let partial =
            Run::parse("# bench nospm row=nospm-pages-o0 rep=0 iters=1 total_ns=5\n").unwrap();
        assert!(Report::new(&base, &partial).is_err());
    }

    #[test]
    fn median_and_size() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(
            parse_size("   text    data     bss     dec     hex filename\n 1 2 3 6 6 v\n").unwrap(),
            (1, 2, 3)
        );
        assert!(parse_size("").is_err());
    }
}
