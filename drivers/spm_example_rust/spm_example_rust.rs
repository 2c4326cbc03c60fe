// SPDX-License-Identifier: GPL-2.0

//! spm_example_rust: an out-of-tree Rust driver that owns a Specific Purpose Memory node, the
//! template a device vendor copies.
//!
//! It binds to the dax device an administrator names in
//! `/sys/bus/dax/drivers/spm_example_rust/new_id` (a real driver would bind to its own device
//! and find its memory there). On bind it registers the device's node as an SPM node, hotplugs
//! the device's memory onto it, allocates 64 order-0 pages from the node, checks that each is
//! on the node, writes a pattern to every page and reads it back, and frees them. It keeps the
//! node and its memory while bound; unbinding (or unloading) drops them, which offlines and
//! removes the memory and ends the registration.

use kernel::{
    c_str, dax,
    mm::spm::{self, Memory, RegisterFlags},
    prelude::*,
    sync::Arc,
};

module! {
    type: SpmExampleModule,
    name: "spm_example_rust",
    author: "SPM developer",
    description: "Example: own a Specific Purpose Memory node from Rust",
    license: "GPL",
}

/// Pages the example allocates, checks and frees on bind.
const PAGES: usize = 64;

struct SpmExampleModule {
    _reg: Pin<KBox<dax::Registration<SpmExample>>>,
}

impl kernel::Module for SpmExampleModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let reg = KBox::pin_init(
            dax::Registration::new(c_str!("spm_example_rust"), module),
            GFP_KERNEL,
        )?;
        Ok(SpmExampleModule { _reg: reg })
    }
}

impl Drop for SpmExampleModule {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}

/// A bound device. Dropped in field order: the memory first, then the registration.
struct SpmExample {
    _memory: KVec<Memory>,
    node: Arc<spm::Node>,
}

/// The word written at offset `w` (in words) of page `i`.
fn pattern(i: usize, w: usize) -> u64 {
    0x5350_4d00_0000_0000u64 ^ ((i as u64) << 20) ^ w as u64
}

/// Writes the pattern to the whole page and reads it back.
fn write_and_check(p: &mut spm::Pages, i: usize) -> Result<bool> {
    let words = p.size() / 8;
    let mut buf = [0u8; 512];
    for chunk in 0..words / 64 {
        for (k, b) in buf.chunks_exact_mut(8).enumerate() {
            b.copy_from_slice(&pattern(i, chunk * 64 + k).to_le_bytes());
        }
        p.write(chunk * 512, &buf)?;
    }
    for chunk in 0..words / 64 {
        p.read(chunk * 512, &mut buf)?;
        for (k, b) in buf.chunks_exact(8).enumerate() {
            if b != pattern(i, chunk * 64 + k).to_le_bytes() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

impl dax::Driver for SpmExample {
    type Data = SpmExample;

    fn probe(dev: &dax::Device) -> Result<Pin<KBox<SpmExample>>> {
        let nid = dev.target_node().ok_or(EINVAL)?;
        let node = spm::Node::register(nid, RegisterFlags::NONE).inspect_err(|e| {
            pr_err!("node {} cannot be an SPM node: {:?}\n", nid, e);
        })?;
        let mut memory = KVec::new();
        // Only whole memory blocks can be hotplugged: trim each range to them, as dax/kmem does.
        let block = spm::memory_block_size();
        for r in dev.ranges()? {
            let start = r.start.checked_next_multiple_of(block).unwrap_or(u64::MAX);
            let end = r.end.saturating_sub(r.end.checked_rem(block).unwrap_or(0));
            if start >= end {
                continue;
            }
            let m = node
                .add_memory(start, end - start, c_str!("System RAM (spm_example_rust)"))
                .inspect_err(|e| {
                    pr_err!("{:#x}-{:#x}: {:?}\n", start, end - 1, e);
                })?;
            memory.push(m, GFP_KERNEL)?;
        }

        let mut held = KVec::with_capacity(PAGES, GFP_KERNEL)?;
        let (mut on_node, mut verified) = (0, 0);
        for i in 0..PAGES {
            let mut p = node.alloc_pages(0, GFP_KERNEL)?;
            on_node += usize::from(p.nid() == nid);
            verified += usize::from(write_and_check(&mut p, i)?);
            held.push(p, GFP_KERNEL)?;
        }
        pr_info!(
            "node {}: allocated {} pages, {} on the node, {} verified\n",
            nid,
            PAGES,
            on_node,
            verified
        );
        drop(held);
        if on_node != PAGES || verified != PAGES {
            return Err(EIO);
        }
        pr_info!(
            "node {}: freed {} pages, {} in use\n",
            nid,
            PAGES,
            node.pages_in_use()
        );
        Ok(KBox::pin(
            SpmExample {
                _memory: memory,
                node,
            },
            GFP_KERNEL,
        )?)
    }

    fn remove(dev: &dax::Device, data: Pin<&SpmExample>) {
        pr_info!("{}: releasing node {}\n", dev.name(), data.node.nid());
    }
}
