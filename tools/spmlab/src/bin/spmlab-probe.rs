//! `spmlab-probe`: runs inside lab guests and reports where memory landed.
//!
//! ```text
//! spmlab-probe alloc MIB [--bind NODE | --interleave NODES | --move-to NODE]
//! ```
//! maps MIB of anonymous memory, optionally applies an `mbind(2)` policy,
//! touches every page, asks `move_pages(2)` which node holds each page and
//! prints `pages=N node0=N node1=N ... errors=N`. It exits non-zero when the
//! kernel refuses the policy (printing the errno), so tests can assert both
//! placements and refusals. With `--move-to`, it first asks `move_pages(2)`
//! to move every page to NODE and prints that call's per-page outcome
//! (`moved: ...`, negative errnos counted as `errN=count`) before the
//! placement line.
//!
//! ```text
//! spmlab-probe write PATH VALUE
//! spmlab-probe write-nth PATH VALUE N
//! ```
//! write VALUE to PATH with one write(2) and print "ok" or the errno's
//! name; `write-nth` makes the Nth fault-injection site of that write fail
//! (/proc/thread-self/fail-nth) and adds "injected" or "not-reached".

use std::process::ExitCode;

const PAGE: usize = 4096;
const PROT_READ: i32 = 1;
const PROT_WRITE: i32 = 2;
const MAP_PRIVATE: i32 = 0x02;
const MAP_ANONYMOUS: i32 = 0x20;
const SYS_MBIND: i64 = 237;
const SYS_MOVE_PAGES: i64 = 279;
const MPOL_BIND: i64 = 2;
const MPOL_INTERLEAVE: i64 = 3;
const MAX_NODES: usize = 64;

extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> i32;
    fn syscall(n: i64, ...) -> i64;
    fn __errno_location() -> *mut i32;
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *__errno_location() }
}

/// Parse a node list like `0,2-3`.
fn parse_nodes(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a.parse().map_err(|_| format!("bad node list '{s}'"))?;
        let b: usize = b.parse().map_err(|_| format!("bad node list '{s}'"))?;
        if a > b || b >= MAX_NODES {
            return Err(format!("bad node list '{s}'"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn mask_of(nodes: &[usize]) -> u64 {
    nodes.iter().fold(0u64, |m, &n| m | (1 << n))
}

/// Format per-node page counts.
fn histogram(status: &[i32]) -> String {
    let mut counts = [0usize; MAX_NODES];
    let mut errors = 0;
    for &s in status {
        if s >= 0 && (s as usize) < MAX_NODES {
            counts[s as usize] += 1;
        } else {
            errors += 1;
        }
    }
    let mut out = format!("pages={}", status.len());
    for (n, c) in counts.iter().enumerate() {
        if *c > 0 {
            out.push_str(&format!(" node{n}={c}"));
        }
    }
    out.push_str(&format!(" errors={errors}"));
    out
}

/// Per-page outcomes of a move: node numbers, or negative errnos.
fn outcome(status: &[i32]) -> String {
    let mut out = histogram(status);
    let mut errs: Vec<(i32, usize)> = Vec::new();
    for &s in status.iter().filter(|&&s| s < 0) {
        match errs.iter_mut().find(|(e, _)| *e == s) {
            Some((_, c)) => *c += 1,
            None => errs.push((s, 1)),
        }
    }
    for (e, c) in errs {
        out.push_str(&format!(" err{}={c}", -e));
    }
    out
}

fn alloc(mib: usize, policy: Option<(i64, u64)>, move_to: Option<i32>) -> Result<String, String> {
    let len = mib << 20;
    // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
    let p = unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p as isize == -1 {
        return Err(format!("mmap: errno {}", errno()));
    }
    if let Some((mode, mask)) = policy {
        let m = [mask];
        // SAFETY: p..p+len is our mapping; the mask array outlives the call
        // and holds MAX_NODES bits.
        let r = unsafe {
            syscall(
                SYS_MBIND,
                p,
                len,
                mode,
                m.as_ptr(),
                (MAX_NODES + 1) as u64,
                0u32,
            )
        };
        if r != 0 {
            let e = errno();
            // SAFETY: unmapping our own mapping.
            unsafe { munmap(p, len) };
            return Err(format!("mbind: errno {e}"));
        }
    }
    let pages = len / PAGE;
    let mut addrs: Vec<*mut u8> = Vec::with_capacity(pages);
    for i in 0..pages {
        // SAFETY: i * PAGE < len, inside the mapping; writing faults it in.
        unsafe {
            let a = p.add(i * PAGE);
            a.write_volatile(1);
            addrs.push(a);
        }
    }
    let mut moved = String::new();
    if let Some(node) = move_to {
        moved = match move_pages(&addrs, Some(&vec![node; pages])) {
            Ok(st) => format!("moved: {}\n", outcome(&st)),
            Err(e) => format!("moved: call failed errno {e}\n"),
        };
    }
    let status = move_pages(&addrs, None);
    // SAFETY: unmapping our own mapping; `addrs` is not used afterwards.
    unsafe { munmap(p, len) };
    let status = status.map_err(|e| format!("move_pages: errno {e}"))?;
    Ok(format!("{moved}{}", histogram(&status)))
}

/// `move_pages(2)` on our own pages: with `nodes`, move each page to its
/// node; without, only ask where each page is. Returns the per-page status
/// (a node, or a negative errno), or the call's errno.
fn move_pages(addrs: &[*mut u8], nodes: Option<&[i32]>) -> Result<Vec<i32>, i32> {
    if let Some(n) = nodes {
        assert_eq!(n.len(), addrs.len());
    }
    let mut status = vec![-1i32; addrs.len()];
    // SAFETY: `addrs`, `status` and (when given) `nodes` have one slot per
    // page; pid 0 is the calling process, whose pages these are.
    let r = unsafe {
        syscall(
            SYS_MOVE_PAGES,
            0i32,
            addrs.len() as u64,
            addrs.as_ptr(),
            nodes.map_or(std::ptr::null(), |n| n.as_ptr()),
            status.as_mut_ptr(),
            0i32,
        )
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(status)
    }
}

/// The errno names the lab's tests compare against.
fn errno_name(e: i32) -> String {
    let name = match e {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        28 => "ENOSPC",
        95 => "EOPNOTSUPP",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// One write(2) of `value` to `path` (a sysfs file, say): "ok" or the errno's name.
fn write_file(path: &str, value: &str) -> String {
    use std::io::Write;
    let r = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write(value.as_bytes()).map(|_| ()));
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.raw_os_error().map_or_else(|| e.to_string(), errno_name),
    }
}

/// One write(2) of `value` to `path` with the `nth` fault-injection site
/// this task passes made to fail (/proc/thread-self/fail-nth, with
/// CONFIG_FAULT_INJECTION): "RESULT injected" when the fault was injected,
/// "RESULT not-reached" when the write passed fewer than `nth` sites.
/// RESULT is "ok" or the errno's name, as for `write`.
fn write_fail_nth(path: &str, value: &str, nth: u32) -> Result<String, String> {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    const FAIL_NTH: &str = "/proc/thread-self/fail-nth";
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    let ctl = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(FAIL_NTH)
        .map_err(|e| format!("{FAIL_NTH}: {e} (no CONFIG_FAULT_INJECTION?)"))?;
    // Everything the steps between arming and disarming touch exists
    // beforehand: a page fault of this task in between is a fault site
    // too, and failing it would kill the task (a stack that cannot grow).
    let count = nth.to_string();
    let mut buf = [0u8; 16];
    ctl.write_at(count.as_bytes(), 0)
        .map_err(|e| format!("{FAIL_NTH}: {e}"))?;
    let r = f.write(value.as_bytes());
    // What is left of the count (reading it allocates nothing), then
    // disarm: 0 means the fault was injected.
    let n = ctl.read_at(&mut buf, 0);
    let reset = ctl.write_at(b"0", 0);
    let n = n.map_err(|e| format!("{FAIL_NTH}: {e}"))?;
    reset.map_err(|e| format!("{FAIL_NTH}: {e}"))?;
    let left: u32 = std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("{FAIL_NTH}: unreadable"))?;
    let res = match r {
        Ok(_) => "ok".to_string(),
        Err(e) => e.raw_os_error().map_or_else(|| e.to_string(), errno_name),
    };
    Ok(format!(
        "{res} {}",
        if left == 0 { "injected" } else { "not-reached" }
    ))
}

fn run(args: &[String]) -> Result<String, String> {
    match args {
        [cmd, path, value] if cmd == "write" => Ok(write_file(path, value)),
        [cmd, path, value, nth] if cmd == "write-nth" => {
            let nth: u32 = nth.parse().map_err(|_| format!("bad count '{nth}'"))?;
            if nth == 0 {
                return Err("write-nth counts from 1".into());
            }
            write_fail_nth(path, value, nth)
        }
        [cmd, mib, rest @ ..] if cmd == "alloc" => {
            let mib: usize = mib.parse().map_err(|_| format!("bad size '{mib}'"))?;
            if mib == 0 || mib > 1 << 16 {
                return Err(format!("size {mib} MiB out of range"));
            }
            let (policy, move_to) = match rest {
                [] => (None, None),
                [f, n] if f == "--bind" => (Some((MPOL_BIND, mask_of(&parse_nodes(n)?))), None),
                [f, n] if f == "--interleave" => {
                    (Some((MPOL_INTERLEAVE, mask_of(&parse_nodes(n)?))), None)
                }
                [f, n] if f == "--move-to" => {
                    let node: i32 = n.parse().map_err(|_| format!("bad node '{n}'"))?;
                    (None, Some(node))
                }
                _ => return Err(format!("unknown arguments {rest:?}")),
            };
            alloc(mib, policy, move_to)
        }
        _ => Err(
            "usage: spmlab-probe alloc MIB [--bind NODES | --interleave NODES | --move-to NODE]\n       \
             spmlab-probe write PATH VALUE\n       \
             spmlab-probe write-nth PATH VALUE N"
                .into(),
        ),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("spmlab-probe: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lists() {
        assert_eq!(parse_nodes("0,2-3").unwrap(), vec![0, 2, 3]);
        assert!(parse_nodes("3-1").is_err());
        assert!(parse_nodes("x").is_err());
        assert!(parse_nodes("64").is_err());
        assert_eq!(mask_of(&[0, 2]), 0b101);
    }

    #[test]
    fn histogram_counts_nodes_and_errors() {
        assert_eq!(
            histogram(&[0, 0, 1, -14]),
            "pages=4 node0=2 node1=1 errors=1"
        );
    }

    #[test]
    fn local_allocation_is_reported() {
        // On the host: every page lands on some node, none is an error.
        let s = alloc(1, None, None).unwrap();
        assert!(s.starts_with("pages=256 node"), "{s}");
        assert!(s.ends_with("errors=0"), "{s}");
    }

    #[test]
    fn move_outcomes_count_errnos() {
        assert_eq!(
            outcome(&[0, -19, -19, -14]),
            "pages=4 node0=1 errors=3 err19=2 err14=1"
        );
    }

    #[test]
    fn write_reports_errno_names() {
        let dir = std::env::temp_dir().join(format!("spmlab-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, "").unwrap();
        assert_eq!(write_file(f.to_str().unwrap(), "x"), "ok");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
        assert_eq!(
            write_file(dir.join("none/x").to_str().unwrap(), "x"),
            "ENOENT"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(errno_name(16), "EBUSY");
        assert_eq!(errno_name(999), "errno 999");
    }

    #[test]
    fn bad_usage() {
        assert!(run(&["alloc".into(), "0".into()]).is_err());
        assert!(run(&["frob".into()]).is_err());
    }
}
