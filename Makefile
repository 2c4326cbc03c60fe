# SPM lab: build, boot and test the Specific Purpose Memory series.
#
#   make run     build the patched kernel, boot it on emulated CXL memory, show the nodes
#   make check   every test suite; ends with "N passed, N failed"
#
# Developer targets: setup tree export export-check build shell vng ksft bisect-check bench
# compare-baseline clean help.
# Variables: PRESET (run/shell topology: cxl cxl2 ram cxl-ram ram2 plain), SPMLAB_ARGS
# (e.g. "--cxl-size 1024 --cxl-count 2", see tools/spmlab), SPM_DRIVER (make run:
# kmem or rust), JOBS.

SHELL := /bin/sh
.DEFAULT_GOAL := help
TOP := $(CURDIR)
include lab/versions.env

BUILD := $(TOP)/build
KSRC := $(BUILD)/linux
KOBJ := $(BUILD)/obj
KIMAGE := $(KOBJ)/arch/x86/boot/bzImage
KSFT := $(BUILD)/ksft-obj
RESULTS := $(BUILD)/results
PRESET ?= cxl
# make run: who brings the CXL memory up as an SPM node: kmem (the region's
# spm_node) or rust (the dax_spm driver).
SPM_DRIVER ?= kmem
SPMLAB_ARGS ?=
export PATH := $(HOME)/.cargo/bin:$(PATH)
SPMLAB := $(TOP)/tools/spmlab/target/release/spmlab
BOOT := $(SPMLAB) boot --top $(TOP) --results $(RESULTS)
# tools/testing/selftests/spm in the guest (lab/guest/spm-selftest.sh).
SPM_SELFTEST_ARGS = --arg bin=$(KSFT)/kselftest/spm/spm_isolation --arg ko=$(KOBJ)/lib/test_spm.ko \
	--arg brd=$(KOBJ)/drivers/block/brd.ko
# The spm_isolation cases a topology cannot run, by what they need (see
# docs/isolation.md). Any other case that skips fails its suite.
SKIP_NEEDS_TWO_SPM := cpuset_spm_only_no_sibling+cpuset_emptied_gets_parent_sysram
SKIP_NEEDS_TWO_SYSRAM := rebind_keeps_interleave+cpuset_migration_avoids_spm+cpuset_spm_only_follows_parent_sysram
# The negative control runs the workloads that must land pages on an
# ordinary node (make compare-baseline runs them all).
SPM_CONTROL_TESTS := thp_beyond_ram+page_cache_read+interleave_all_nodes+cpuset_default_allocations_avoid_spm+hugetlb_pool_avoids_spm
# With an SPM node between two SysRAM nodes (preset ram2): what needs two
# SysRAM nodes (policy rebinds, cpuset migration), and the placement and
# cpuset cases again on that topology.
SPM_RAM2_TESTS := rebind_keeps_interleave+cpuset_migration_avoids_spm+cpuset_spm_only_follows_parent_sysram+cpuset_spm_only_rebinds_policies+cpuset_attach_spm_only_rebinds_policies+set_mempolicy_refused+atomic_allocations_outside_cpuset+home_node_refused+interleave_all_nodes+mbind_refused+migrate_pages_refused+cpuset_mems_spans_spm+cpuset_default_allocations_avoid_spm+cpuset_refuses_gfp_spm_node

.PHONY: help setup tree export export-check build tools kernel ksft validate run shell vng check clean \
	bisect-check bench bench-module examples compare-baseline \
	check-host check-guest summary

help:
	@sed -n 's/^#   //p' Makefile
	@echo "developer targets: setup tree export export-check build shell vng ksft bisect-check bench compare-baseline clean"

setup:
	@sh lab/setup.sh

# The kernel tree: pinned base + patches/series (FORCE=1 drops unexported work).
tree: setup
	@sh lab/tree.sh create

export:
	@sh lab/tree.sh export

export-check:
	@sh lab/tree.sh check

$(KSRC)/.git:
	@sh lab/tree.sh create

tools:
	@echo "[tools] building tools/spmlab"
	@cargo build --release --quiet --manifest-path tools/spmlab/Cargo.toml

kernel: $(KSRC)/.git
	@sh lab/kernel.sh build

build: setup tools kernel

ksft: kernel
	@echo "[ksft] building kselftests (mm cgroup spm)"
	@sh lab/kernel.sh make -- headers_install INSTALL_HDR_PATH=$(KOBJ)/usr >$(BUILD)/logs/headers.log 2>&1 \
		|| { tail -n 20 $(BUILD)/logs/headers.log; exit 1; }
	@$(MAKE) -k -s -C $(KSRC)/tools/testing/selftests TARGETS="mm cgroup spm" O=$(KSFT) \
		KHDR_INCLUDES="-isystem $(KOBJ)/usr/include" -j$$(($$(nproc) + 1)) \
		>$(BUILD)/logs/ksft.log 2>&1 || true
	@for t in $$(sed -e 's/#.*//' lab/kselftests.list) spm/spm_isolation; do \
		[ -x $(KSFT)/kselftest/$$t ] || { echo "[ksft] $$t did not build:"; \
			grep -B2 -A5 "$${t#*/}" $(BUILD)/logs/ksft.log | grep -m5 error; exit 1; }; \
	done

# Check PRESET and SPMLAB_ARGS before anything long starts.
validate: tools
	@$(SPMLAB) validate --preset $(PRESET) $(SPMLAB_ARGS) >/dev/null

run: setup tools validate kernel
	@case "$(SPM_DRIVER)" in kmem|rust) ;; *) echo "SPM_DRIVER must be kmem or rust, not '$(SPM_DRIVER)'" >&2; exit 2;; esac
	@rm -rf $(BUILD)/run-results
	@$(BOOT) --results $(BUILD)/run-results --name run --preset $(PRESET) $(SPMLAB_ARGS) \
		--script lab/guest/run.sh --arg driver=$(SPM_DRIVER) --timeout 180 >/dev/null; rc=$$?; \
	[ $$rc -ne 2 ] || exit 2; \
	sed -n 's/^# \{0,1\}//p' $(BUILD)/runs/run/output.log; \
	$(SPMLAB) summary --results $(BUILD)/run-results | tail -n 1; \
	exit $$rc

shell: setup tools validate kernel
	@$(SPMLAB) shell --top $(TOP) --preset $(PRESET) $(SPMLAB_ARGS)

# virtme-ng (pinned, in build/venv) on the lab kernel, e.g. make vng CMD='numactl -H'.
vng: build
	@PATH=$(BUILD)/venv/bin:$$PATH vng --disable-kvm -r $(KIMAGE) --memory 2G --cpus 2 \
		$(if $(CMD),-- '$(CMD)')

# The allocator and fault-path benchmark: unpatched base against the series,
# both under QEMU -icount; prints a table and a "bench: ..." line (not in check).
bench: setup tools $(KSRC)/.git
	@sh lab/bench.sh run

# The isolation workloads on the unpatched base kernel (the RAM-backed node
# as ordinary memory) against the patched kernel (the node as SPM): one
# table of the pages that landed on the node per workload (not in check).
compare-baseline: setup tools ksft
	@SPM_ALLOW_SKIP=$(SKIP_NEEDS_TWO_SPM)+$(SKIP_NEEDS_TWO_SYSRAM) sh lab/bench.sh compare

# The benchmark module and fault benchmark for the lab kernel (check runs
# them once with tiny counts so that they cannot rot).
bench-module: kernel
	@sh lab/bench.sh module $(KSRC) $(KOBJ) $(BUILD)/bench-lab

# The out-of-tree example drivers (drivers/), built against the lab tree the
# way a vendor builds them.
examples: kernel
	@for d in drivers/*/; do \
		sh lab/extmod.sh $$d $(BUILD)/examples/$$(basename $$d) || exit 1; \
	done

# The suites make check runs; the summary fails on any that left no results.
# make check ONLY=suite[,suite] runs those only (host-unit or host-lab: the
# host steps, which make both).
CHECK_SUITES := host-unit,host-lab,lab-cxl,lab-cxl2,lab-ram,lab-ram-spm,lab-bootparam,bench-smoke,examples,rust-driver,spm-ram,spm-cxl2,spm-ram2,spm-control,kselftest
comma := ,
ONLY ?=
ONLY_LIST := $(subst $(comma), ,$(ONLY))
ifneq ($(filter-out $(subst $(comma), ,$(CHECK_SUITES)),$(ONLY_LIST)),)
$(error ONLY=$(ONLY): no such suite: $(filter-out $(subst $(comma), ,$(CHECK_SUITES)),$(ONLY_LIST)) (suites: $(CHECK_SUITES)))
endif
# $(call only,NAME...): a prefix that turns a suite's command into a no-op
# when ONLY leaves all of NAME... out.
only = $(if $(ONLY),$(if $(filter $(1),$(ONLY_LIST)),,: ))

# Every suite runs even when an earlier one failed; the summary decides.
check: build ksft bench-module examples
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@$(call only,host-unit host-lab)$(MAKE) -s check-host || \
		$(SPMLAB) record check-steps FAIL check-host "make check-host exited non-zero" --results $(RESULTS)
	@$(MAKE) -s check-guest || \
		$(SPMLAB) record check-steps FAIL check-guest "make check-guest exited non-zero" --results $(RESULTS)
	@$(MAKE) -s summary

# The summary of the last make check (every result, per-suite counts, the
# totals line); fails on an expected suite without results.
summary:
	@$(SPMLAB) summary --results $(RESULTS) --expect $(if $(ONLY),$(ONLY),$(CHECK_SUITES))

check-host:
	@echo "[check] host: lab tooling unit tests"
	@cargo test --manifest-path tools/spmlab/Cargo.toml >$(BUILD)/logs/cargo-test.log 2>&1 || true
	@$(SPMLAB) cargo host-unit $(BUILD)/logs/cargo-test.log --results $(RESULTS) | grep -v '^PASS' || true
	@sh lab/tests/host.sh $(RESULTS) $(SPMLAB)

check-guest:
	@$(call only,lab-cxl)echo "[check] guest: CXL lab suite + KUnit (preset cxl)"
	@$(call only,lab-cxl)$(BOOT) --name lab-cxl --preset cxl --script lab/guest/lab-cxl.sh --arg cxl=1 --kunit --timeout 240 | grep -v '^PASS' || true
	@$(call only,lab-cxl2)echo "[check] guest: two CXL devices (preset cxl2)"
	@$(call only,lab-cxl2)$(BOOT) --name lab-cxl2 --preset cxl2 --script lab/guest/lab-cxl.sh --arg cxl=2 --timeout 240 | grep -v '^PASS' || true
	@$(call only,lab-ram)echo "[check] guest: RAM-backed soft-reserved node (preset ram)"
	@$(call only,lab-ram)$(BOOT) --name lab-ram --preset ram --script lab/guest/lab-ram.sh --timeout 240 | grep -v '^PASS' || true
	@$(call only,lab-ram-spm)echo "[check] guest: RAM-backed node registered as SPM at boot, 1.5x-RAM memory hog (preset ram)"
	@$(call only,lab-ram-spm)$(BOOT) --name lab-ram-spm --preset ram --append spm_nodes=1 --script lab/guest/lab-ram-spm.sh \
		--timeout 300 | grep -v '^PASS' || true
	@$(call only,lab-bootparam)echo "[check] guest: spm_nodes= with nodes that cannot be SPM (preset cpunode)"
	@$(call only,lab-bootparam)$(BOOT) --name lab-bootparam --preset cpunode --append spm_nodes=0,1,7 --script lab/guest/lab-bootparam.sh \
		--timeout 240 | grep -v '^PASS' || true
	@$(call only,bench-smoke)echo "[check] guest: benchmark module and fault benchmark, tiny counts (preset ram)"
	@$(call only,bench-smoke)$(BOOT) --name bench-smoke --preset ram --script lab/guest/bench.sh \
		--arg kmod=$(BUILD)/bench-lab/spm_bench.ko --arg fault=$(BUILD)/bench-lab/spm_fault \
		--arg iters0=64 --arg iters9=8 --arg reps=1 --arg fmib=2 --arg freps=1 \
		--timeout 240 | grep -v '^PASS' || true
	@$(call only,examples)echo "[check] guest: out-of-tree example drivers, C and Rust (preset cxl-ram)"
	@$(call only,examples)$(BOOT) --name examples --preset cxl-ram --script lab/guest/examples.sh --arg dir=$(BUILD)/examples \
		--timeout 240 | grep -v '^PASS' || true
	@$(call only,rust-driver)echo "[check] guest: the Rust dax_spm driver, 20 bind/unbind cycles (preset cxl-ram)"
	@$(call only,rust-driver)$(BOOT) --name rust-driver --preset cxl-ram --script lab/guest/rust-driver.sh \
		--arg ko=$(KOBJ)/drivers/dax/dax_spm.ko --arg cycles=20 --timeout 480 | grep -v '^PASS' || true
	@$(call only,spm-ram)echo "[check] guest: SPM isolation kselftests, RAM-backed node registered as SPM (preset ram)"
	@$(call only,spm-ram)$(BOOT) --name spm-ram --preset ram --append spm_nodes=1 --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg expect_spm=1 \
		--arg allow_skip=$(SKIP_NEEDS_TWO_SPM)+$(SKIP_NEEDS_TWO_SYSRAM) --timeout 600 | grep -v '^PASS' || true
	@$(call only,spm-cxl2)echo "[check] guest: SPM isolation kselftests, two CXL devices as SPM nodes, 1 GiB (preset cxl2)"
	@$(call only,spm-cxl2)$(BOOT) --name spm-cxl2 --preset cxl2 --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg expect_spm=1-2 --arg allow_skip=$(SKIP_NEEDS_TWO_SYSRAM) \
		--timeout 600 | grep -v '^PASS' || true
	@$(call only,spm-ram2)echo "[check] guest: SPM isolation kselftests, SPM node 1 between SysRAM nodes 0 and 2 (preset ram2)"
	@$(call only,spm-ram2)$(BOOT) --name spm-ram2 --preset ram2 --append spm_nodes=1 --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg expect_spm=1 --arg online_sysram=1 --arg tests=$(SPM_RAM2_TESTS) \
		--timeout 300 | grep -v '^PASS' || true
	@$(call only,spm-control)echo "[check] guest: negative control, the RAM-backed node as ordinary memory (preset ram)"
	@$(call only,spm-control)$(BOOT) --name spm-control --preset ram --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg mode=control --arg tests=$(SPM_CONTROL_TESTS) \
		--timeout 600 | grep -v '^PASS' || true
	@$(call only,kselftest)echo "[check] guest: kselftests (preset plain)"
	@$(call only,kselftest)$(BOOT) --name kselftest --preset plain --script lab/guest/kselftests.sh \
		--arg $(KSFT)/kselftest $(foreach t,$(shell sed -e 's/#.*//' lab/kselftests.list),--arg $(t)) \
		--timeout 600 | grep -v '^PASS' || true

# Every commit of the series builds on its own, and the series builds with
# CONFIG_SPM_NODES=n (long: one kernel build per patch; not part of check).
bisect-check: setup $(KSRC)/.git
	@sh lab/bisect.sh

clean:
	rm -rf $(KOBJ) $(KSFT) $(BUILD)/runs $(RESULTS) $(BUILD)/logs tools/spmlab/target \
		$(BUILD)/bisect-obj $(BUILD)/bisect-obj-off $(BUILD)/bench $(BUILD)/bench-lab $(BUILD)/examples
