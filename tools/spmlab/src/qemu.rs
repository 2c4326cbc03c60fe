//! Lab topologies and the QEMU command line that boots them.
//!
//! A topology is node 0 (SysRAM, all CPUs), optionally RAM-backed
//! soft-reserved nodes (fast stand-ins for device memory that take the same
//! hmem -> dax -> kmem path), optionally a node with a CPU and no memory
//! (which cannot be an SPM node), and optionally emulated CXL type-3
//! volatile devices, each behind its own host bridge and fixed memory
//! window, so that each becomes its own NUMA node.
//!
//! Memory map: `max-ram-below-4g=2G`, so node 0 covers at most 0-2 GiB and
//! every RAM-backed node lies wholly above 4 GiB, where no firmware region
//! (TSEG) eats into its tail; the whole node is marked Soft Reserved with
//! `memmap=SIZE%START-1+0xefffffff`, so it has no SysRAM at boot.

use std::fmt;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Memory block size on x86_64 guests of this size; ranges must align to it.
const BLOCK: u64 = 128 * MIB;
/// E820 type the kernel gives Soft Reserved memory.
const E820_SOFT_RESERVED: &str = "0xefffffff";
const LOW_RAM_LIMIT: u64 = 2 * GIB;

/// A lab topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Node 0 memory, MiB.
    pub sysram_mb: u64,
    /// Number of CPUs (all on node 0, but for `cpu_node`'s).
    pub cpus: u32,
    /// RAM-backed soft-reserved nodes, MiB each (nodes 1..).
    pub ram_nodes_mb: Vec<u64>,
    /// Emulated CXL type-3 volatile devices, MiB each.
    pub cxl_mb: Vec<u64>,
    /// One more node, after the RAM-backed ones, with the last CPU and no
    /// memory.
    pub cpu_node: bool,
}

/// Named presets that tests and `make run` select.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "cxl",
        "2 GiB SysRAM + one 512 MiB emulated CXL type-3 device",
    ),
    (
        "cxl2",
        "2 GiB SysRAM + two 512 MiB emulated CXL devices (two nodes)",
    ),
    (
        "ram",
        "2 GiB SysRAM + one 512 MiB RAM-backed soft-reserved node",
    ),
    (
        "cxl-ram",
        "2 GiB SysRAM + one 512 MiB RAM-backed node + one 512 MiB CXL device",
    ),
    (
        "ram2",
        "2 GiB SysRAM + two 512 MiB RAM-backed soft-reserved nodes (nodes 1 and 2)",
    ),
    ("plain", "2 GiB SysRAM only"),
    (
        "cpunode",
        "2 GiB SysRAM with CPU 0 + node 1 with CPU 1 and no memory",
    ),
];

/// An invalid topology or option.
#[derive(Debug, PartialEq, Eq)]
pub struct TopologyError(pub String);

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Topology {
    /// The preset called `name`.
    pub fn preset(name: &str) -> Result<Topology, TopologyError> {
        let base = Topology {
            sysram_mb: 2048,
            cpus: 2,
            ram_nodes_mb: vec![],
            cxl_mb: vec![],
            cpu_node: false,
        };
        Ok(match name {
            "cxl" => Topology {
                cxl_mb: vec![512],
                ..base
            },
            "cxl2" => Topology {
                cxl_mb: vec![512, 512],
                ..base
            },
            "ram" => Topology {
                ram_nodes_mb: vec![512],
                ..base
            },
            "cxl-ram" => Topology {
                ram_nodes_mb: vec![512],
                cxl_mb: vec![512],
                ..base
            },
            "ram2" => Topology {
                ram_nodes_mb: vec![512, 512],
                ..base
            },
            "plain" => base,
            "cpunode" => Topology {
                cpu_node: true,
                ..base
            },
            _ => {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                return Err(TopologyError(format!(
                    "unknown preset '{name}' (presets: {})",
                    names.join(", ")
                )));
            }
        })
    }

    /// Check sizes: node 0 at least 512 MiB; every extra node a positive
    /// multiple of the memory block size; at most 4 CXL devices.
    pub fn validate(&self) -> Result<(), TopologyError> {
        if self.sysram_mb < 512 {
            return Err(TopologyError(format!(
                "SysRAM of {} MiB is too small (512 MiB at least)",
                self.sysram_mb
            )));
        }
        if self.cpus == 0 || self.cpus > 8 {
            return Err(TopologyError(format!(
                "{} CPUs: the lab kernel supports 1 to 8",
                self.cpus
            )));
        }
        if self.cpu_node && !self.cxl_mb.is_empty() {
            return Err(TopologyError(
                "a CPU-only node and CXL devices: the CXL nodes' numbers would shift".into(),
            ));
        }
        if self.cpu_node && self.cpus < 2 {
            return Err(TopologyError(
                "a CPU-only node needs 2 CPUs at least (node 0 keeps one)".into(),
            ));
        }
        if !self.ram_nodes_mb.is_empty() && self.sysram_mb * MIB < LOW_RAM_LIMIT {
            return Err(TopologyError(format!(
                "RAM-backed nodes need at least {} MiB of SysRAM, so that they sit above 4 GiB",
                LOW_RAM_LIMIT / MIB
            )));
        }
        for (what, sizes) in [
            ("RAM-backed node", &self.ram_nodes_mb),
            ("CXL device", &self.cxl_mb),
        ] {
            for &s in sizes.iter() {
                if s == 0 || !(s * MIB).is_multiple_of(BLOCK) {
                    return Err(TopologyError(format!(
                        "{what} size {s} MiB must be a positive multiple of {} MiB",
                        BLOCK / MIB
                    )));
                }
            }
        }
        if self.cxl_mb.len() > 4 {
            return Err(TopologyError(format!(
                "{} CXL devices: at most 4",
                self.cxl_mb.len()
            )));
        }
        if self.ram_nodes_mb.len() > 4 {
            return Err(TopologyError(format!(
                "{} RAM-backed nodes: at most 4",
                self.ram_nodes_mb.len()
            )));
        }
        Ok(())
    }

    /// Guest-physical ranges (start, size) of the RAM-backed nodes.
    pub fn ram_node_ranges(&self) -> Vec<(u64, u64)> {
        // RAM is laid out node after node; above LOW_RAM_LIMIT it continues
        // at 4 GiB.
        let mut offset = self.sysram_mb * MIB;
        let mut out = Vec::new();
        for &mb in &self.ram_nodes_mb {
            let start = if offset >= LOW_RAM_LIMIT {
                offset - LOW_RAM_LIMIT + 4 * GIB
            } else {
                offset
            };
            out.push((start, mb * MIB));
            offset += mb * MIB;
        }
        out
    }

    /// Kernel command-line parameters the topology needs.
    pub fn kernel_params(&self) -> Vec<String> {
        self.ram_node_ranges()
            .into_iter()
            .map(|(start, size)| {
                format!(
                    "memmap={}M%{:#x}-1+{}",
                    size / MIB,
                    start,
                    E820_SOFT_RESERVED
                )
            })
            .collect()
    }

    /// The QEMU options that make this topology's hardware: machine,
    /// CPUs, memory, NUMA nodes and CXL devices. `spmlab boot` and
    /// `make vng` (through `vng-args`) both use them, so that the two boot
    /// the same machine.
    pub fn hardware_args(&self) -> Vec<String> {
        let t = self;
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        let mut machine = "q35,max-ram-below-4g=2G".to_string();
        if !t.cxl_mb.is_empty() {
            machine.push_str(",cxl=on");
        }
        push(&["-machine", &machine]);
        // A CPU on a node of its own needs a package of its own: the
        // scheduler warns when CPUs that share a cache are on two nodes.
        let smp = if t.cpu_node {
            format!("{0},sockets={0},cores=1,threads=1", t.cpus)
        } else {
            t.cpus.to_string()
        };
        push(&["-smp", &smp]);
        push(&["-m", &format!("{}M", t.total_ram_mb())]);
        let node0_cpus = if t.cpu_node { t.cpus - 1 } else { t.cpus };
        push(&[
            "-object",
            &format!("memory-backend-ram,id=m0,size={}M", t.sysram_mb),
            "-numa",
            &format!("node,nodeid=0,cpus=0-{},memdev=m0", node0_cpus - 1),
        ]);
        for (i, mb) in t.ram_nodes_mb.iter().enumerate() {
            let n = i + 1;
            push(&[
                "-object",
                &format!("memory-backend-ram,id=m{n},size={mb}M"),
                "-numa",
                &format!("node,nodeid={n},memdev=m{n}"),
            ]);
        }
        if t.cpu_node {
            let n = t.ram_nodes_mb.len() + 1;
            push(&["-numa", &format!("node,nodeid={n},cpus={}", t.cpus - 1)]);
        }
        let mut fmw = Vec::new();
        for (j, mb) in t.cxl_mb.iter().enumerate() {
            let window = std::cmp::max(4 * GIB, (mb * MIB).div_ceil(256 * MIB) * 256 * MIB);
            push(&[
                "-object",
                &format!("memory-backend-ram,id=cxlmem{j},share=on,size={mb}M"),
                "-device",
                &format!("pxb-cxl,bus_nr={},bus=pcie.0,id=cxl.{j}", 12 + 40 * j),
                "-device",
                &format!(
                    "cxl-rp,port=0,bus=cxl.{j},id=cxl_rp{j},chassis=0,slot={}",
                    2 + j
                ),
                "-device",
                &format!("cxl-type3,bus=cxl_rp{j},volatile-memdev=cxlmem{j},id=cxl-vmem{j}"),
            ]);
            fmw.push(format!(
                "cxl-fmw.{j}.targets.0=cxl.{j},cxl-fmw.{j}.size={}G",
                window / GIB
            ));
        }
        if !fmw.is_empty() {
            push(&["-M", &fmw.join(",")]);
        }
        a
    }

    /// virtme-ng options that boot this topology: `--memory` and `--cpus`
    /// for what vng sizes itself, every other hardware option through
    /// `--qemu-opts` (QEMU merges vng's `-machine q35` and `-smp` with
    /// ours), and the kernel parameters, `extra` last, through `--append`.
    /// No option holds a space: vng joins them into a shell command.
    pub fn vng_args(&self, extra: &[String]) -> Vec<String> {
        // --force-9p: with virtiofsd, vng would add a NUMA node of its own.
        let mut out = vec![
            "--force-9p".to_string(),
            "--memory".to_string(),
            format!("{}M", self.total_ram_mb()),
            "--cpus".to_string(),
            self.cpus.to_string(),
        ];
        let hw = self.hardware_args();
        let mut i = 0;
        while i < hw.len() {
            if hw[i] == "-m" {
                i += 2;
                continue;
            }
            out.push(format!("--qemu-opts={}", hw[i]));
            i += 1;
        }
        for p in self.kernel_params().iter().chain(extra) {
            out.push(format!("--append={p}"));
        }
        out
    }

    /// Total `-m` size: SysRAM plus RAM-backed nodes (CXL memory is not
    /// guest RAM).
    pub fn total_ram_mb(&self) -> u64 {
        self.sysram_mb + self.ram_nodes_mb.iter().sum::<u64>()
    }
}

/// Where the guest's serial ports go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serial {
    /// ttyS0 (console) and ttyS1 (results) to files.
    Files {
        /// Kernel console log.
        console: String,
        /// Guest script output.
        output: String,
    },
    /// ttyS0 on the terminal (interactive), ttyS1 to a file.
    Interactive {
        /// Guest script output.
        output: String,
    },
}

/// Everything that makes one QEMU invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// QEMU binary.
    pub qemu: String,
    /// The kernel image.
    pub kernel: String,
    /// Topology to boot.
    pub topology: Topology,
    /// Serial port wiring.
    pub serial: Serial,
    /// Deterministic instruction-counted time (`-icount shift=0,sleep=off`).
    pub icount: bool,
    /// Guest init program (a path on the host, which is the guest's root).
    pub init: String,
    /// Directory shared read-write with the guest as `spmout`.
    pub outdir: Option<String>,
    /// Extra kernel parameters.
    pub append: Vec<String>,
}

impl Invocation {
    /// The kernel command line.
    pub fn cmdline(&self) -> String {
        let mut p = vec![
            "console=ttyS0,115200".to_string(),
            "root=/dev/root".into(),
            "rootfstype=9p".into(),
            "rootflags=version=9p2000.L,trans=virtio,access=any,msize=262144".into(),
            "ro".into(),
            format!("init={}", self.init),
            "panic=-1".into(),
            "no_hash_pointers".into(),
        ];
        p.extend(self.topology.kernel_params());
        p.extend(self.append.iter().cloned());
        p.join(" ")
    }

    /// The argument vector (without the QEMU binary itself).
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        push(&["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"]);
        if self.icount {
            push(&["-accel", "tcg", "-icount", "shift=0,sleep=off"]);
        } else {
            push(&["-accel", "tcg"]);
        }
        push(&["-cpu", "max"]);
        a.extend(self.topology.hardware_args());
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        // The host's root, read-only, is the guest's root (as virtme does).
        push(&[
            "-fsdev",
            "local,id=root9p,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device",
            "virtio-9p-pci,bus=pcie.0,fsdev=root9p,mount_tag=/dev/root",
        ]);
        if let Some(out) = &self.outdir {
            push(&[
                "-fsdev",
                &format!("local,id=out9p,path={out},security_model=none"),
                "-device",
                "virtio-9p-pci,bus=pcie.0,fsdev=out9p,mount_tag=spmout",
            ]);
        }
        match &self.serial {
            Serial::Files { console, output } => push(&[
                "-chardev",
                &format!("file,id=s0,path={console}"),
                "-serial",
                "chardev:s0",
                "-chardev",
                &format!("file,id=s1,path={output}"),
                "-serial",
                "chardev:s1",
            ]),
            Serial::Interactive { output } => push(&[
                "-serial",
                "mon:stdio",
                "-chardev",
                &format!("file,id=s1,path={output}"),
                "-serial",
                "chardev:s1",
            ]),
        }
        push(&["-kernel", &self.kernel]);
        let cmdline = self.cmdline();
        push(&["-append", &cmdline]);
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(t: Topology) -> Invocation {
        Invocation {
            qemu: "qemu-system-x86_64".into(),
            kernel: "/k/bzImage".into(),
            topology: t,
            serial: Serial::Files {
                console: "/o/console.log".into(),
                output: "/o/output.log".into(),
            },
            icount: false,
            init: "/lab/guest/init".into(),
            outdir: None,
            append: vec![],
        }
    }

    fn has_pair(a: &[String], k: &str, v: &str) -> bool {
        a.windows(2).any(|w| w[0] == k && w[1] == v)
    }

    #[test]
    fn presets_exist_and_validate() {
        for (name, _) in PRESETS {
            let t = Topology::preset(name).unwrap();
            t.validate().unwrap();
        }
        assert!(Topology::preset("nope").unwrap_err().0.contains("cxl2"));
    }

    #[test]
    fn cxl_preset_args() {
        let a = inv(Topology::preset("cxl").unwrap()).args();
        assert!(has_pair(&a, "-machine", "q35,max-ram-below-4g=2G,cxl=on"));
        assert!(has_pair(&a, "-m", "2048M"));
        assert!(has_pair(
            &a,
            "-device",
            "cxl-type3,bus=cxl_rp0,volatile-memdev=cxlmem0,id=cxl-vmem0"
        ));
        assert!(has_pair(
            &a,
            "-M",
            "cxl-fmw.0.targets.0=cxl.0,cxl-fmw.0.size=4G"
        ));
        assert!(has_pair(&a, "-numa", "node,nodeid=0,cpus=0-1,memdev=m0"));
        assert!(!a.iter().any(|x| x == "-icount"));
    }

    #[test]
    fn two_cxl_devices_get_distinct_buses_and_windows() {
        let a = inv(Topology::preset("cxl2").unwrap()).args();
        assert!(has_pair(
            &a,
            "-device",
            "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.0"
        ));
        assert!(has_pair(
            &a,
            "-device",
            "pxb-cxl,bus_nr=52,bus=pcie.0,id=cxl.1"
        ));
        assert!(has_pair(
            &a,
            "-M",
            "cxl-fmw.0.targets.0=cxl.0,cxl-fmw.0.size=4G,cxl-fmw.1.targets.0=cxl.1,cxl-fmw.1.size=4G"
        ));
    }

    #[test]
    fn ram_node_is_soft_reserved_above_4g() {
        let t = Topology::preset("ram").unwrap();
        assert_eq!(t.ram_node_ranges(), vec![(4 * GIB, 512 * MIB)]);
        let i = inv(t);
        assert!(i.cmdline().contains("memmap=512M%0x100000000-1+0xefffffff"));
        let a = i.args();
        assert!(has_pair(&a, "-m", "2560M"));
        assert!(has_pair(&a, "-numa", "node,nodeid=1,memdev=m1"));
        assert!(!a.iter().any(|x| x.contains("cxl=on")));
    }

    #[test]
    fn two_ram_nodes_are_contiguous() {
        let t = Topology {
            ram_nodes_mb: vec![256, 512],
            ..Topology::preset("plain").unwrap()
        };
        assert_eq!(
            t.ram_node_ranges(),
            vec![(4 * GIB, 256 * MIB), (4 * GIB + 256 * MIB, 512 * MIB)]
        );
    }

    #[test]
    fn ram2_preset_has_two_soft_reserved_nodes() {
        let i = inv(Topology::preset("ram2").unwrap());
        let c = i.cmdline();
        assert!(c.contains("memmap=512M%0x100000000-1+0xefffffff"));
        assert!(c.contains("memmap=512M%0x120000000-1+0xefffffff"));
        let a = i.args();
        assert!(has_pair(&a, "-m", "3072M"));
        assert!(has_pair(&a, "-numa", "node,nodeid=1,memdev=m1"));
        assert!(has_pair(&a, "-numa", "node,nodeid=2,memdev=m2"));
    }

    #[test]
    fn cpunode_preset_has_a_memoryless_cpu_node() {
        let a = inv(Topology::preset("cpunode").unwrap()).args();
        assert!(has_pair(&a, "-numa", "node,nodeid=0,cpus=0-0,memdev=m0"));
        assert!(has_pair(&a, "-numa", "node,nodeid=1,cpus=1"));
        assert!(has_pair(&a, "-m", "2048M"));
        assert!(has_pair(&a, "-smp", "2,sockets=2,cores=1,threads=1"));
        let mut t = Topology::preset("cpunode").unwrap();
        t.cpus = 1;
        assert!(t.validate().unwrap_err().0.contains("2 CPUs"));
        let mut t = Topology::preset("cpunode").unwrap();
        t.cxl_mb = vec![512];
        assert!(t.validate().unwrap_err().0.contains("CXL"));
    }

    #[test]
    fn vng_args_boot_the_same_hardware() {
        let t = Topology::preset("ram").unwrap();
        let v = t.vng_args(&["spm_nodes=1".into()]);
        assert!(has_pair(&v, "--memory", "2560M"));
        assert!(has_pair(&v, "--cpus", "2"));
        assert!(v.contains(&"--force-9p".to_string()));
        assert!(v.contains(&"--qemu-opts=node,nodeid=1,memdev=m1".to_string()));
        assert!(v.contains(&"--append=memmap=512M%0x100000000-1+0xefffffff".to_string()));
        assert_eq!(v.last().unwrap(), "--append=spm_nodes=1");
        assert!(!v.iter().any(|x| x == "--qemu-opts=-m"));
        // Every hardware option of spmlab boot but -m is passed on.
        let hw = t.hardware_args();
        let passed = v.iter().filter(|x| x.starts_with("--qemu-opts=")).count();
        assert_eq!(passed, hw.len() - 2);
        let c = Topology::preset("cxl").unwrap().vng_args(&[]);
        assert!(c.contains(
            &"--qemu-opts=cxl-type3,bus=cxl_rp0,volatile-memdev=cxlmem0,id=cxl-vmem0".to_string()
        ));
        assert!(c.contains(&"--qemu-opts=q35,max-ram-below-4g=2G,cxl=on".to_string()));
        assert!(!c.iter().any(|x| x.contains(' ')));
    }

    #[test]
    fn icount_and_interactive() {
        let mut i = inv(Topology::preset("plain").unwrap());
        i.icount = true;
        i.serial = Serial::Interactive {
            output: "/o/out".into(),
        };
        let a = i.args();
        assert!(has_pair(&a, "-icount", "shift=0,sleep=off"));
        assert!(has_pair(&a, "-serial", "mon:stdio"));
    }

    #[test]
    fn bad_sizes_are_refused() {
        let mut t = Topology::preset("cxl").unwrap();
        t.cxl_mb = vec![100];
        assert!(t.validate().unwrap_err().0.contains("multiple of 128"));
        let mut t = Topology::preset("ram").unwrap();
        t.sysram_mb = 1024;
        assert!(t.validate().unwrap_err().0.contains("above 4 GiB"));
        let mut t = Topology::preset("plain").unwrap();
        t.cpus = 0;
        assert!(t.validate().is_err());
        t.cpus = 2;
        t.cxl_mb = vec![256; 5];
        assert!(t.validate().is_err());
    }

    #[test]
    fn cmdline_has_root_init_and_extras() {
        let mut i = inv(Topology::preset("plain").unwrap());
        i.append = vec!["spmlab.run=/x.sh".into()];
        let c = i.cmdline();
        assert!(c.contains("root=/dev/root rootfstype=9p"));
        assert!(c.contains("init=/lab/guest/init"));
        assert!(c.ends_with("spmlab.run=/x.sh"));
    }
}
