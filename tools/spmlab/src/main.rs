//! `spmlab`: boots lab kernels under QEMU and turns what they print into
//! test results.
//!
//! ```text
//! spmlab boot  [OPTIONS] --name NAME --script PATH [--kunit]   run a guest script, record results
//! spmlab shell [OPTIONS]                                       interactive guest shell
//! spmlab qemu-cmd [OPTIONS]                                    print the QEMU command
//! spmlab tap NAME FILE                                         record a TAP file's results
//! spmlab cargo NAME FILE                                       record `cargo test` output
//! spmlab record NAME STATUS TEST [DETAIL]                      record one result
//! spmlab summary                                               print every result and the totals
//! spmlab presets                                               list the topologies
//! spmlab validate [OPTIONS]                                    check topology options
//! ```
//! Results go to `<results>/<NAME>.tsv` (default `build/results`).

mod bench;
mod console;
mod qemu;
mod results;
mod tap;

use qemu::{Invocation, Serial, Topology};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};
use tap::{Status, TestResult};

const USAGE: &str = "\
usage: spmlab COMMAND [OPTIONS]
commands:
  boot      --name NAME --script PATH [--kunit] [--allow TEXT]...   boot, run PATH in the guest, record results
  shell                                  interactive guest shell (ttyS0 on this terminal)
  qemu-cmd                               print the QEMU command line
  vng-args                               print virtme-ng options, one a line, that boot
                                         the same topology (make vng)
  tap NAME FILE                          record the TAP results in FILE as suite NAME
  cargo NAME FILE                        record `cargo test` output in FILE as suite NAME
  record NAME PASS|FAIL|SKIP TEST [DETAIL]   record one result in suite NAME
  summary [--expect SUITE,...]           print all recorded results, per-suite counts and
                                         'N passed, N failed'; an expected suite without
                                         results fails
  presets                                list topology presets
  bench-report --base LOG --spm LOG --size-base F --size-spm F --out DIR
                                         `make bench`'s tables, plot and summary line
  validate                               check the topology options (no kernel needed)
options (boot, shell, qemu-cmd, vng-args):
  --kernel PATH      kernel image (default build/obj/arch/x86/boot/bzImage)
  --preset NAME      topology preset (default cxl)
  --cxl-count N      number of emulated CXL devices
  --cxl-size MIB     size of each CXL device
  --ram-nodes N      number of RAM-backed soft-reserved nodes
  --ram-size MIB     size of each RAM-backed node
  --sysram MIB       node 0 memory
  --cpus N           CPUs
  --icount           deterministic instruction-counted guest time
  --timeout SECS     kill QEMU after SECS (default 300)
  --append TEXT      extra kernel parameter (repeatable)
  --arg TEXT         argument for the guest script (repeatable, no spaces)
  --top DIR          repository root (default: current directory)
  --results DIR      results directory (default <top>/build/results)
";

struct Opts {
    cmd: String,
    positional: Vec<String>,
    kernel: Option<String>,
    preset: String,
    cxl_count: Option<usize>,
    cxl_size: Option<u64>,
    ram_nodes: Option<usize>,
    ram_size: Option<u64>,
    sysram: Option<u64>,
    cpus: Option<u32>,
    icount: bool,
    timeout: u64,
    append: Vec<String>,
    args: Vec<String>,
    name: Option<String>,
    script: Option<String>,
    kunit: bool,
    allow: Vec<String>,
    expect: Vec<String>,
    top: PathBuf,
    results: Option<PathBuf>,
}

fn parse_opts(argv: &[String]) -> Result<Opts, String> {
    let mut it = argv.iter();
    let cmd = it.next().cloned().ok_or("no command")?;
    let mut o = Opts {
        cmd,
        positional: vec![],
        kernel: None,
        preset: "cxl".into(),
        cxl_count: None,
        cxl_size: None,
        ram_nodes: None,
        ram_size: None,
        sysram: None,
        cpus: None,
        icount: false,
        timeout: 300,
        append: vec![],
        args: vec![],
        name: None,
        script: None,
        kunit: false,
        allow: vec![],
        expect: vec![],
        top: std::env::current_dir().map_err(|e| e.to_string())?,
        results: None,
    };
    fn val<'a>(it: &mut impl Iterator<Item = &'a String>, k: &str) -> Result<String, String> {
        it.next().cloned().ok_or(format!("{k} needs a value"))
    }
    fn num<T: std::str::FromStr>(s: String, k: &str) -> Result<T, String> {
        s.parse()
            .map_err(|_| format!("{k}: '{s}' is not a valid number"))
    }
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kernel" => o.kernel = Some(val(&mut it, a)?),
            "--preset" => o.preset = val(&mut it, a)?,
            "--cxl-count" => o.cxl_count = Some(num(val(&mut it, a)?, a)?),
            "--cxl-size" => o.cxl_size = Some(num(val(&mut it, a)?, a)?),
            "--ram-nodes" => o.ram_nodes = Some(num(val(&mut it, a)?, a)?),
            "--ram-size" => o.ram_size = Some(num(val(&mut it, a)?, a)?),
            "--sysram" => o.sysram = Some(num(val(&mut it, a)?, a)?),
            "--cpus" => o.cpus = Some(num(val(&mut it, a)?, a)?),
            "--icount" => o.icount = true,
            "--timeout" => o.timeout = num(val(&mut it, a)?, a)?,
            "--append" => o.append.push(val(&mut it, a)?),
            "--arg" => {
                let v = val(&mut it, a)?;
                if v.is_empty() || v.contains(char::is_whitespace) || v.contains(',') {
                    return Err(format!("--arg '{v}': no spaces or commas"));
                }
                o.args.push(v)
            }
            "--name" => o.name = Some(val(&mut it, a)?),
            "--script" => o.script = Some(val(&mut it, a)?),
            "--kunit" => o.kunit = true,
            "--allow" => o.allow.push(val(&mut it, a)?),
            "--expect" => o.expect.extend(
                val(&mut it, a)?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            "--top" => o.top = PathBuf::from(val(&mut it, a)?),
            "--results" => o.results = Some(PathBuf::from(val(&mut it, a)?)),
            s if s.starts_with("--") => return Err(format!("unknown option '{s}'")),
            _ => o.positional.push(a.clone()),
        }
    }
    if o.timeout == 0 {
        return Err("--timeout must be at least 1 second".into());
    }
    Ok(o)
}

impl Opts {
    fn results_dir(&self) -> PathBuf {
        self.results
            .clone()
            .unwrap_or_else(|| self.top.join("build/results"))
    }

    fn topology(&self) -> Result<Topology, String> {
        let mut t = Topology::preset(&self.preset).map_err(|e| e.0)?;
        if let Some(n) = self.cxl_count {
            let size = self.cxl_size.or(t.cxl_mb.first().copied()).unwrap_or(512);
            t.cxl_mb = vec![size; n];
        } else if let Some(s) = self.cxl_size {
            t.cxl_mb.iter_mut().for_each(|x| *x = s);
        }
        if let Some(n) = self.ram_nodes {
            let size = self
                .ram_size
                .or(t.ram_nodes_mb.first().copied())
                .unwrap_or(512);
            t.ram_nodes_mb = vec![size; n];
        } else if let Some(s) = self.ram_size {
            t.ram_nodes_mb.iter_mut().for_each(|x| *x = s);
        }
        if let Some(s) = self.sysram {
            t.sysram_mb = s;
        }
        if let Some(c) = self.cpus {
            t.cpus = c;
        }
        t.validate().map_err(|e| e.0)?;
        Ok(t)
    }

    fn invocation(&self, serial: Serial, outdir: Option<&Path>) -> Result<Invocation, String> {
        let kernel = self.kernel.clone().unwrap_or_else(|| {
            self.top
                .join("build/obj/arch/x86/boot/bzImage")
                .to_string_lossy()
                .into_owned()
        });
        if !Path::new(&kernel).is_file() {
            return Err(format!(
                "kernel image {kernel} not found (run 'make build')"
            ));
        }
        let init = self.top.join("lab/guest/init");
        if !init.is_file() {
            return Err(format!("{} not found (--top?)", init.display()));
        }
        let mut append = vec![format!("spmlab.top={}", self.top.display())];
        // The object directory the kernel came from: guest scripts load
        // its modules ($SPMLAB_KOBJ).
        if let Some(obj) = kernel.strip_suffix("/arch/x86/boot/bzImage") {
            append.push(format!("spmlab.kobj={obj}"));
        }
        if let Some(s) = &self.script {
            let p = absolute(&self.top, s);
            if !p.is_file() {
                return Err(format!("guest script {} not found", p.display()));
            }
            append.push(format!("spmlab.run={}", p.display()));
        }
        if !self.args.is_empty() {
            append.push(format!("spmlab.args={}", self.args.join(",")));
        }
        append.extend(self.append.iter().cloned());
        Ok(Invocation {
            qemu: "qemu-system-x86_64".into(),
            kernel,
            topology: self.topology()?,
            serial,
            icount: self.icount,
            init: init.to_string_lossy().into_owned(),
            outdir: outdir.map(|p| p.to_string_lossy().into_owned()),
            append,
        })
    }
}

fn absolute(top: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        top.join(p)
    }
}

/// Marker the guest init prints on ttyS1 when the script has finished.
const EXIT_MARKER: &str = "SPMLAB-EXIT ";

/// How one QEMU run ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// QEMU exited by itself, with this status description.
    Exited(Option<i32>, Option<i32>),
    /// We killed it after the timeout.
    TimedOut,
}

/// Results in a guest's TAP output so far, at any nesting depth: (all,
/// failed). For progress lines only; the verdict is [`tap::parse`]'s.
fn results_so_far(output: &str) -> (usize, usize) {
    let (mut all, mut failed) = (0, 0);
    for line in output.lines() {
        let mut l = line.trim_start();
        while let Some(r) = l.strip_prefix("# ") {
            l = r.trim_start();
        }
        if l.starts_with("not ok ") {
            all += 1;
            failed += 1;
        } else if l.starts_with("ok ") {
            all += 1;
        }
    }
    (all, failed)
}

/// How often a guest run says how far it got: 30 s, or SPM_PROGRESS_SECS.
fn progress_every() -> Duration {
    let secs = std::env::var("SPM_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// Run QEMU until it exits or @timeout passes. With @progress (the run's
/// name and its TAP output file), say every [`progress_every`] how long it
/// has run and how many results it has printed.
fn run_qemu(
    inv: &Invocation,
    log: &Path,
    timeout: Duration,
    progress: Option<(&str, &Path)>,
) -> Result<Ending, String> {
    let log_file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(&inv.qemu)
        .args(inv.args())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", inv.qemu))?;
    let start = Instant::now();
    let every = progress_every();
    let mut next = every;
    loop {
        if let (Some((name, out)), true) = (progress, start.elapsed() >= next) {
            let text = fs::read(out).unwrap_or_default();
            let (all, failed) = results_so_far(&String::from_utf8_lossy(&text));
            eprintln!(
                "[spmlab] {name}: {} s, {all} results so far ({failed} failed)",
                start.elapsed().as_secs()
            );
            next += every;
        }
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            use std::os::unix::process::ExitStatusExt;
            return Ok(Ending::Exited(st.code(), st.signal()));
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ending::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What one guest run left behind.
struct Run<'a> {
    ending: &'a Ending,
    /// ttyS0: the kernel console.
    console: &'a str,
    /// ttyS1: the guest script's output.
    output: &'a str,
    /// QEMU's own stdout and stderr.
    qemu_log: &'a str,
    timeout: u64,
}

/// Turn one finished guest run into results.
fn judge_run(name: &str, run: &Run, allow: &[String], kunit: bool) -> Vec<TestResult> {
    let Run {
        ending,
        console,
        output,
        qemu_log,
        timeout,
    } = *run;
    let mut res = Vec::new();
    let exit = output
        .lines()
        .find_map(|l| l.trim().strip_prefix(EXIT_MARKER))
        .map(|s| s.trim().parse::<i32>().unwrap_or(-1));
    let ending_text = match ending {
        Ending::TimedOut => format!("QEMU killed after the {timeout} s timeout"),
        Ending::Exited(Some(c), _) => format!("QEMU exited with status {c}"),
        Ending::Exited(None, Some(s)) => format!("QEMU died from signal {s}"),
        Ending::Exited(None, None) => "QEMU ended without a status".into(),
    };
    let completed = match (ending, exit) {
        (Ending::Exited(Some(0), _), Some(_)) => Ok(()),
        (_, Some(_)) => Err(format!("the script finished, but {ending_text}")),
        (_, None) => Err(format!(
            "the guest never finished its script: {ending_text}; qemu: {}",
            console::tail(qemu_log, 3).replace('\n', " | ")
        )),
    };
    res.push(TestResult {
        name: format!("{name}/guest-completed"),
        status: if completed.is_ok() {
            Status::Pass
        } else {
            Status::Fail
        },
        detail: completed.err().unwrap_or_default(),
    });
    let tap_results = tap::parse(output, name);
    if exit.is_some() && tap_results.is_empty() {
        res.push(TestResult {
            name: format!("{name}/tap-output"),
            status: Status::Fail,
            detail: "the guest script printed no TAP results".into(),
        });
    }
    res.extend(tap_results);
    if let Some(code) = exit {
        if code != 0 {
            res.push(TestResult {
                name: format!("{name}/script-exit"),
                status: Status::Fail,
                detail: format!("guest script exited with {code}"),
            });
        }
    }
    if kunit {
        let k = tap::parse(boot_part(console), "kunit");
        if k.is_empty() {
            res.push(TestResult {
                name: "kunit/results".into(),
                status: Status::Fail,
                detail: "no KTAP output on the console".into(),
            });
        }
        res.extend(k);
    }
    let reports = console::Scanner::new(allow).scan(console);
    let clean = reports.is_empty() && !console.trim().is_empty();
    res.push(TestResult {
        name: format!("{name}/kernel-log-clean"),
        status: if clean { Status::Pass } else { Status::Fail },
        detail: if console.trim().is_empty() {
            "the kernel console is empty".to_string()
        } else {
            reports
                .iter()
                .take(3)
                .map(|r| format!("console:{}: {}", r.line_no, r.line))
                .collect::<Vec<_>>()
                .join(" | ")
        },
    });
    res
}

/// The console up to the start of userspace: built-in KUnit suites run
/// before init, and anything after (test modules a guest script loads and
/// reports itself) is not part of their KTAP document.
fn boot_part(console: &str) -> &str {
    match console.find(" as init process") {
        Some(i) => &console[..i],
        None => console,
    }
}

fn cmd_boot(o: &Opts) -> Result<bool, String> {
    let name = o.name.clone().ok_or("boot needs --name")?;
    if o.script.is_none() {
        return Err("boot needs --script".into());
    }
    let dir = o.top.join("build/runs").join(&name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("out")).map_err(|e| e.to_string())?;
    let console_p = dir.join("console.log");
    let output_p = dir.join("output.log");
    let inv = o.invocation(
        Serial::Files {
            console: console_p.to_string_lossy().into_owned(),
            output: output_p.to_string_lossy().into_owned(),
        },
        Some(&dir.join("out")),
    )?;
    fs::write(
        dir.join("qemu-cmd.txt"),
        format!("{} {}\n", inv.qemu, shell_words(&inv.args())),
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "[spmlab] {name}: booting ({} preset, timeout {} s, logs in {})",
        o.preset,
        o.timeout,
        dir.display()
    );
    let start = Instant::now();
    let ending = run_qemu(
        &inv,
        &dir.join("qemu.log"),
        Duration::from_secs(o.timeout),
        Some((&name, &output_p)),
    )?;
    let console = fs::read_to_string(&console_p).unwrap_or_default();
    let output = fs::read_to_string(&output_p).unwrap_or_default();
    let qemu_log = fs::read_to_string(dir.join("qemu.log")).unwrap_or_default();
    eprintln!(
        "[spmlab] {name}: {:?} after {:.1} s",
        ending,
        start.elapsed().as_secs_f64()
    );
    let run = Run {
        ending: &ending,
        console: &console,
        output: &output,
        qemu_log: &qemu_log,
        timeout: o.timeout,
    };
    let mut res = judge_run(&name, &run, &o.allow, o.kunit);
    let reports = console::Scanner::new(&o.allow).scan(&console);
    if !reports.is_empty() {
        let splat = dir.join("splat.txt");
        let text = decode_splat(&inv.kernel, &console::splat_text(&console, &reports));
        fs::write(&splat, text).map_err(|e| e.to_string())?;
        if let Some(r) = res
            .iter_mut()
            .find(|r| r.name.ends_with("/kernel-log-clean"))
        {
            r.detail
                .push_str(&format!(" (the reports: {})", splat.display()));
        }
        eprintln!(
            "[spmlab] {name}: kernel reports saved in {}",
            splat.display()
        );
    }
    let failed = res.iter().any(|r| r.status == Status::Fail);
    if failed {
        eprintln!("[spmlab] {name}: last console lines:");
        eprintln!("{}", console::tail(&console, 25));
    }
    for r in &res {
        println!("{}", results::report_line(r));
    }
    results::write_suite(&o.results_dir(), &name, &res).map_err(|e| e.to_string())?;
    Ok(!failed)
}

/// `text` (kernel reports) run through the kernel's
/// scripts/decode_stacktrace.sh, which turns "func+0x12/0x40" into file
/// and line, when `kernel` is the bzImage of an object directory whose
/// vmlinux has debug info; otherwise `text` as it is, with a first line
/// saying why it was not decoded.
fn decode_splat(kernel: &str, text: &str) -> String {
    let Some(obj) = kernel
        .strip_suffix("/arch/x86/boot/bzImage")
        .map(PathBuf::from)
    else {
        return format!("# not decoded: {kernel} is not in a kernel object directory\n{text}");
    };
    let config = fs::read_to_string(obj.join(".config")).unwrap_or_default();
    if !config.lines().any(|l| l == "CONFIG_DEBUG_INFO=y") {
        return format!("# not decoded: the kernel has no debug info (CONFIG_DEBUG_INFO)\n{text}");
    }
    let script = obj.join("source/scripts/decode_stacktrace.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(obj.join("vmlinux"))
        .arg(obj.join("source"))
        .arg(&obj)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            // Fed from a thread: the script writes as it reads, and a
            // long report would fill both pipes.
            let input = text.to_string();
            let feeder = c.stdin.take().map(|mut i| {
                std::thread::spawn(move || {
                    use std::io::Write;
                    let _ = i.write_all(input.as_bytes());
                })
            });
            let out = c.wait_with_output();
            if let Some(f) = feeder {
                let _ = f.join();
            }
            out
        });
    match out {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => format!(
            "# decoded by {}\n{}",
            script.display(),
            String::from_utf8_lossy(&o.stdout)
        ),
        _ => format!("# not decoded: {} failed\n{text}", script.display()),
    }
}

fn shell_words(a: &[String]) -> String {
    a.iter()
        .map(|s| {
            if s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=,./:%+".contains(c))
            {
                s.clone()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn cmd_shell(o: &Opts) -> Result<bool, String> {
    let dir = o.top.join("build/runs/shell");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut o2 = Opts { ..clone_opts(o) };
    o2.script = Some(
        o.top
            .join("lab/guest/shell.sh")
            .to_string_lossy()
            .into_owned(),
    );
    let inv = o2.invocation(
        Serial::Interactive {
            output: dir.join("output.log").to_string_lossy().into_owned(),
        },
        None,
    )?;
    eprintln!(
        "[spmlab] interactive guest ({} preset); 'poweroff' or Ctrl-A x leaves",
        o.preset
    );
    let st = Command::new(&inv.qemu)
        .args(inv.args())
        .status()
        .map_err(|e| format!("cannot start {}: {e}", inv.qemu))?;
    Ok(st.success())
}

fn clone_opts(o: &Opts) -> Opts {
    Opts {
        cmd: o.cmd.clone(),
        positional: o.positional.clone(),
        kernel: o.kernel.clone(),
        preset: o.preset.clone(),
        cxl_count: o.cxl_count,
        cxl_size: o.cxl_size,
        ram_nodes: o.ram_nodes,
        ram_size: o.ram_size,
        sysram: o.sysram,
        cpus: o.cpus,
        icount: o.icount,
        timeout: o.timeout,
        append: o.append.clone(),
        args: o.args.clone(),
        name: o.name.clone(),
        script: o.script.clone(),
        kunit: o.kunit,
        allow: o.allow.clone(),
        expect: vec![],
        top: o.top.clone(),
        results: o.results.clone(),
    }
}

fn record(o: &Opts, suite: &str, mut res: Vec<TestResult>) -> Result<bool, String> {
    let path = o.results_dir().join(format!("{suite}.tsv"));
    if let Ok(old) = fs::read_to_string(&path) {
        let mut prev = results::from_tsv(&old, suite);
        prev.append(&mut res);
        res = prev;
    }
    results::write_suite(&o.results_dir(), suite, &res).map_err(|e| e.to_string())?;
    Ok(!res.iter().any(|r| r.status == Status::Fail))
}

fn cmd_parse_file(o: &Opts, cargo: bool) -> Result<bool, String> {
    let [suite, file] = o.positional.as_slice() else {
        return Err(format!("usage: spmlab {} NAME FILE", o.cmd));
    };
    let text = fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let res = if cargo {
        results::from_cargo_test(&text, suite)
    } else {
        let r = tap::parse(&text, suite);
        if r.is_empty() {
            vec![TestResult {
                name: format!("{suite}/tap-output"),
                status: Status::Fail,
                detail: format!("{file} has no TAP results"),
            }]
        } else {
            r
        }
    };
    for r in &res {
        println!("{}", results::report_line(r));
    }
    record(o, suite, res)
}

fn cmd_record(o: &Opts) -> Result<bool, String> {
    let (suite, status, test, detail) = match o.positional.as_slice() {
        [s, st, t] => (s, st, t, String::new()),
        [s, st, t, d] => (s, st, t, d.clone()),
        _ => return Err("usage: spmlab record NAME PASS|FAIL|SKIP TEST [DETAIL]".into()),
    };
    let status =
        Status::from_label(status).ok_or(format!("status '{status}' is not PASS, FAIL or SKIP"))?;
    let r = TestResult {
        name: format!("{suite}/{test}"),
        status,
        detail,
    };
    println!("{}", results::report_line(&r));
    record(o, suite, vec![r])
}

fn cmd_summary(o: &Opts) -> Result<bool, String> {
    let dir = o.results_dir();
    let mut all = results::read_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let found: Vec<String> = all.iter().map(|(s, _)| s.clone()).collect();
    for (suite, res) in results::missing_suites(&found, &o.expect) {
        all.push((suite, vec![res]));
    }
    let mut flat = Vec::new();
    let mut per_suite = Vec::new();
    for (suite, res) in all {
        per_suite.push(results::suite_line(&suite, &res));
        flat.extend(res);
    }
    let failed: Vec<_> = flat.iter().filter(|r| r.status == Status::Fail).collect();
    println!();
    for r in &flat {
        println!("{}", results::report_line(r));
    }
    if !failed.is_empty() {
        println!("\nfailed:");
        for r in &failed {
            println!("  {}", results::report_line(r));
        }
    }
    println!("\nper suite:");
    for l in &per_suite {
        println!("  {l}");
    }
    let t = results::Totals::of(&flat);
    println!("{}", t.line());
    Ok(t.failed == 0 && t.passed > 0)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv[0] == "-h" || argv[0] == "--help" {
        eprint!("{USAGE}");
        return if argv.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    if argv[0] == "bench-report" {
        return match bench::cmd(&argv[1..]) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("spmlab: {e}");
                ExitCode::from(2)
            }
        };
    }
    let o = match parse_opts(&argv) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("spmlab: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let r = match o.cmd.as_str() {
        "boot" => cmd_boot(&o),
        "shell" => cmd_shell(&o),
        "qemu-cmd" => o
            .invocation(
                Serial::Files {
                    console: "console.log".into(),
                    output: "output.log".into(),
                },
                None,
            )
            .map(|inv| {
                println!("{} {}", inv.qemu, shell_words(&inv.args()));
                true
            }),
        "vng-args" => o.topology().map(|t| {
            for a in t.vng_args(&o.append) {
                println!("{a}");
            }
            true
        }),
        "tap" => cmd_parse_file(&o, false),
        "cargo" => cmd_parse_file(&o, true),
        "record" => cmd_record(&o),
        "summary" => cmd_summary(&o),
        "validate" => o.topology().map(|t| {
            println!(
                "{}: {} MiB SysRAM, {} CPUs, RAM-backed nodes {:?} MiB, CXL devices {:?} MiB{}",
                o.preset,
                t.sysram_mb,
                t.cpus,
                t.ram_nodes_mb,
                t.cxl_mb,
                if t.cpu_node {
                    ", a node with the last CPU and no memory"
                } else {
                    ""
                }
            );
            true
        }),
        "presets" => {
            for (n, d) in qemu::PRESETS {
                println!("{n:8} {d}");
            }
            Ok(true)
        }
        c => Err(format!("unknown command '{c}'\n{USAGE}")),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("spmlab: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse_opts(&s(&[
            "boot",
            "--preset",
            "ram",
            "--timeout",
            "60",
            "--arg",
            "a=1",
            "--kunit",
        ]))
        .unwrap();
        assert_eq!(o.preset, "ram");
        assert_eq!(o.timeout, 60);
        assert_eq!(o.args, vec!["a=1"]);
        assert!(o.kunit);
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(parse_opts(&s(&["boot", "--bogus"]))
            .err()
            .unwrap()
            .contains("unknown option"));
        assert!(parse_opts(&s(&["boot", "--timeout", "x"]))
            .err()
            .unwrap()
            .contains("not a valid number"));
        assert!(parse_opts(&s(&["boot", "--timeout"])).is_err());
        assert!(parse_opts(&s(&["boot", "--timeout", "0"])).is_err());
        assert!(parse_opts(&s(&["boot", "--arg", "a b"])).is_err());
    }

    #[test]
    fn topology_overrides() {
        let o = parse_opts(&s(&[
            "boot",
            "--preset",
            "cxl",
            "--cxl-count",
            "2",
            "--cxl-size",
            "256",
        ]))
        .unwrap();
        assert_eq!(o.topology().unwrap().cxl_mb, vec![256, 256]);
        let o = parse_opts(&s(&["boot", "--preset", "cxl", "--cxl-size", "100"])).unwrap();
        assert!(o.topology().is_err());
        let o = parse_opts(&s(&["boot", "--preset", "zzz"])).unwrap();
        assert!(o.topology().unwrap_err().contains("unknown preset"));
    }

    /// judge_run() of a run named "lab" with a 60 s timeout.
    fn judge(
        ending: &Ending,
        console: &str,
        output: &str,
        qemu_log: &str,
        kunit: bool,
    ) -> Vec<TestResult> {
        let run = Run {
            ending,
            console,
            output,
            qemu_log,
            timeout: 60,
        };
        judge_run("lab", &run, &[], kunit)
    }

    fn statuses(r: &[TestResult]) -> Vec<(String, Status)> {
        r.iter().map(|x| (x.name.clone(), x.status)).collect()
    }

    #[test]
    fn clean_run_passes() {
        let out = "TAP version 13\n1..1\nok 1 node1-present\nSPMLAB-EXIT 0\n";
        let r = judge(
            &Ending::Exited(Some(0), None),
            "[ 0.1] boot\n",
            out,
            "",
            false,
        );
        assert_eq!(
            statuses(&r),
            vec![
                ("lab/guest-completed".into(), Status::Pass),
                ("lab/node1-present".into(), Status::Pass),
                ("lab/kernel-log-clean".into(), Status::Pass),
            ]
        );
    }

    #[test]
    fn progress_counts_results_at_any_depth() {
        let out = "TAP version 13\nok 1 a\n    ok 1 b # SKIP x\n    # # not ok 2 c\n\
                   # a comment, not ok\nnot ok 2 d\n1..2\n";
        assert_eq!(results_so_far(out), (4, 2));
        assert_eq!(results_so_far(""), (0, 0));
    }

    #[test]
    fn timeout_fails_even_with_passing_tap() {
        let out = "TAP version 13\n1..2\nok 1 a\n";
        let r = judge(&Ending::TimedOut, "", out, "", false);
        let failed: Vec<_> = r
            .iter()
            .filter(|x| x.status == Status::Fail)
            .map(|x| x.name.as_str())
            .collect();
        assert!(failed.contains(&"lab/guest-completed"));
        assert!(failed.contains(&"lab/plan"));
    }

    #[test]
    fn qemu_crash_fails() {
        let out = "TAP version 13\n1..1\nok 1 a\n";
        let r = judge(&Ending::Exited(None, Some(11)), "", out, "", false);
        assert_eq!(r[0].status, Status::Fail);
        assert!(r[0].detail.contains("signal 11"));
    }

    #[test]
    fn warn_on_console_fails_the_run() {
        let out = "TAP version 13\n1..1\nok 1 a\nSPMLAB-EXIT 0\n";
        let console = "[ 3.0] WARNING: CPU: 1 PID: 50 at mm/page_alloc.c:1 x\n";
        let r = judge(&Ending::Exited(Some(0), None), console, out, "", false);
        let last = r.last().unwrap();
        assert_eq!(last.status, Status::Fail);
        assert!(last.detail.contains("console:1"));
    }

    #[test]
    fn nonzero_script_exit_and_missing_tap_fail() {
        let r = judge(
            &Ending::Exited(Some(0), None),
            "[ 0.1] x\n",
            "SPMLAB-EXIT 3\n",
            "",
            false,
        );
        let failed: Vec<_> = r
            .iter()
            .filter(|x| x.status == Status::Fail)
            .map(|x| x.name.as_str())
            .collect();
        assert_eq!(failed, vec!["lab/tap-output", "lab/script-exit"]);
        let r = judge(&Ending::Exited(Some(1), None), "", "", "", false);
        assert_eq!(
            r.last().unwrap().status,
            Status::Fail,
            "an empty console is not a clean one"
        );
    }

    #[test]
    fn missing_kunit_output_fails() {
        let out = "TAP version 13\n1..1\nok 1 a\nSPMLAB-EXIT 0\n";
        let r = judge(&Ending::Exited(Some(0), None), "no ktap", out, "", true);
        assert!(r
            .iter()
            .any(|x| x.name == "kunit/results" && x.status == Status::Fail));
    }

    #[test]
    fn kunit_is_read_from_boot_only() {
        let console = "[ 1.0] KTAP version 1\n[ 1.0] 1..1\n[ 1.1] ok 1 rust_doctests_kernel\n\
            [ 2.0] Run /lab/guest/init as init process\n\
            [ 9.0]     KTAP version 1\n[ 9.0]     # Subtest: spm_alloc\n[ 9.0]     1..1\n\
            [ 9.1]     not ok 1 spm_zonelists\n[ 9.1] not ok 1 spm_alloc\n";
        let out = "TAP version 13\nok 1 a\n1..1\nSPMLAB-EXIT 0\n";
        let r = judge(&Ending::Exited(Some(0), None), console, out, "", true);
        let k: Vec<_> = r.iter().filter(|x| x.name.starts_with("kunit/")).collect();
        assert_eq!(k.len(), 1, "{k:?}");
        assert_eq!(k[0].name, "kunit/rust_doctests_kernel");
        assert_eq!(k[0].status, Status::Pass);
    }

    #[test]
    fn shell_words_quotes() {
        assert_eq!(shell_words(&s(&["-m", "2G", "a b"])), "-m 2G 'a b'");
    }
}
