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
KSFT := $(BUILD)/ksft-obj
# run_kselftest.sh and the cgroup and spm targets, installed (make ksft).
KSFT_INSTALL := $(KSFT)/install
# tools/testing/selftests/spm's programs; run_spm.sh runs them.
SPM_PROGS := spm/spm_api spm/spm_policy spm/spm_pressure spm/spm_hotplug
# DEBUG=1 (make check-debug): the debug kernel, lab/kconfig/debug.config on
# top of lab.config, with its own object directory, out-of-tree builds and
# results; guests get longer timeouts, and those that online no emulated
# CXL memory boot with page_poison=1 ($(POISON)): poisoning writes every
# freed page, at the few MB/s of CXL memory under TCG.
DEBUG ?=
ifeq ($(DEBUG),1)
KOBJ := $(BUILD)/obj-debug
EXTBUILD := $(BUILD)/debug
RESULTS := $(BUILD)/results-debug
export SPM_KCONFIG_EXTRA := $(TOP)/lab/kconfig/debug.config
TSCALE := 4
POISON := --append page_poison=1
else
KOBJ := $(BUILD)/obj
EXTBUILD := $(BUILD)
RESULTS := $(BUILD)/results
TSCALE := 1
POISON :=
endif
KIMAGE := $(KOBJ)/arch/x86/boot/bzImage
PRESET ?= cxl
# make run: who brings the CXL memory up as an SPM node: kmem (the region's
# spm_node) or rust (the dax_spm driver).
SPM_DRIVER ?= kmem
SPMLAB_ARGS ?=
export PATH := $(HOME)/.cargo/bin:$(PATH)
SPMLAB := $(TOP)/tools/spmlab/target/release/spmlab
BOOT := $(SPMLAB) boot --top $(TOP) --results $(RESULTS) --kernel $(KIMAGE)
# $(call tmo,SECS): a guest timeout, longer on the debug kernel.
tmo = --timeout $$(($(1) * $(TSCALE)))
# tools/testing/selftests/spm in the guest (lab/guest/spm-selftest.sh).
SPM_SELFTEST_ARGS = --arg ksft=$(KSFT_INSTALL) --arg ko=$(KOBJ)/lib/test_spm.ko \
	--arg brd=$(KOBJ)/drivers/block/brd.ko
# $(call stmo,SECS): the guest's timeout, and run_kselftest.sh's a minute
# shorter, so that a hung case ends as "# TIMEOUT" with the results so far
# rather than with QEMU killed.
stmo = $(call tmo,$(1)) --arg ksft_timeout=$$((($(1) - 60) * $(TSCALE)))
# The spm_isolation cases a topology cannot run, by what they need (see
# docs/isolation.md). Any other case that skips fails its suite.
SKIP_NEEDS_TWO_SPM := cpuset_spm_only_no_sibling+cpuset_emptied_gets_parent_sysram
SKIP_NEEDS_TWO_SYSRAM := rebind_keeps_interleave+cpuset_migration_avoids_spm+cpuset_spm_only_follows_parent_sysram
# The negative control runs every workload that allocates on the node when
# it is ordinary memory (on the unpatched kernel too: make compare-baseline);
# docs/isolation.md lists the others and why they have no control.
SPM_CONTROL_TESTS := anon_beyond_ram+thp_beyond_ram+page_cache_read+page_cache_write+swap_and_zswap+interleave_all_nodes+migrate_pages_refused+move_pages_refused+cpuset_default_allocations_avoid_spm+hugetlb_pool_avoids_spm+demotion_enabled+tmpfs_fill+slab_dentries_inodes
# On the debug kernel (DEBUG=1), spm-ram runs every case but those that
# squeeze SysRAM with a ballast and a hog: under KASAN (its shadow, its
# quarantine) and TCG the OOM killer, while the hog's memory is still
# being reaped, goes on to kill the harness. They run on the lab kernel.
SPM_PRESSURE_TESTS := anon_beyond_ram thp_beyond_ram page_cache_read page_cache_write \
	swap_and_zswap demotion_enabled unprivileged_user oom_kills_hog_not_spm_holder \
	tmpfs_fill slab_dentries_inodes
SPM_ALL_TESTS = $(shell cat $(KSRC)/tools/testing/selftests/spm/spm_*.c 2>/dev/null | \
	grep -o '^TEST_F[A-Z_]*.spm, [a-z0-9_]*' | sed 's/.*, //')
empty :=
space := $(empty) $(empty)
SPM_DEBUG_TESTS = $(subst $(space),+,$(filter-out $(SPM_PRESSURE_TESTS),$(SPM_ALL_TESTS)))
# With an SPM node between two SysRAM nodes (preset ram2): what needs two
# SysRAM nodes (policy rebinds, cpuset migration, demotion to a real target:
# node 2, in a lower memory tier), and the placement and cpuset cases again
# on that topology.
SPM_RAM2_TESTS := demotion_enabled+rebind_keeps_interleave+cpuset_migration_avoids_spm+cpuset_spm_only_follows_parent_sysram+cpuset_spm_only_rebinds_policies+cpuset_attach_spm_only_rebinds_policies+set_mempolicy_refused+atomic_allocations_outside_cpuset+home_node_refused+interleave_all_nodes+mbind_refused+migrate_pages_refused+cpuset_mems_spans_spm+cpuset_default_allocations_avoid_spm+cpuset_refuses_gfp_spm_node

.PHONY: help setup tree export export-check build tools kernel ksft validate run shell vng check clean \
	bisect-check bench bench-module examples compare-baseline \
	check-host check-guest check-debug summary

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
	@sh lab/kernel.sh build $(KSRC) $(KOBJ)

build: setup tools kernel

ksft: kernel
	@echo "[ksft] building kselftests (mm cgroup spm)"
	@sh lab/kernel.sh make $(KSRC) $(KOBJ) -- headers_install INSTALL_HDR_PATH=$(KOBJ)/usr >$(BUILD)/logs/headers.log 2>&1 \
		|| { tail -n 20 $(BUILD)/logs/headers.log; exit 1; }
	@sh lab/progress.sh ksft $(BUILD)/logs/ksft.log \
		$(MAKE) -k -s -C $(KSRC)/tools/testing/selftests TARGETS="mm cgroup spm" O=$(KSFT) \
		KHDR_INCLUDES="-isystem $(KOBJ)/usr/include" -j$$(($$(nproc) + 1)) || true
	@for t in $$(sed -e 's/#.*//' lab/kselftests.list) $(SPM_PROGS); do \
		[ -x $(KSFT)/kselftest/$$t ] || { echo "[ksft] $$t did not build:"; \
			grep -B2 -A5 "$${t#*/}" $(BUILD)/logs/ksft.log | grep -m5 error; exit 1; }; \
	done
	@echo "[ksft] installing the cgroup and spm kselftests, with run_kselftest.sh, into $(KSFT_INSTALL)"
	@rm -rf $(KSFT_INSTALL)
	@$(MAKE) -s -C $(KSRC)/tools/testing/selftests TARGETS="cgroup spm" O=$(KSFT) \
		KHDR_INCLUDES="-isystem $(KOBJ)/usr/include" INSTALL_PATH=$(KSFT_INSTALL) install \
		>$(BUILD)/logs/ksft-install.log 2>&1 || { tail -n 20 $(BUILD)/logs/ksft-install.log; exit 1; }
	@for t in cgroup:test_cpuset cgroup:test_core spm:run_spm.sh; do \
		grep -qx $$t $(KSFT_INSTALL)/kselftest-list.txt || { echo "[ksft] $$t is not in $(KSFT_INSTALL)/kselftest-list.txt"; exit 1; }; \
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

# virtme-ng (pinned, in build/venv) on the lab kernel, booting the PRESET's
# topology (the same hardware as spmlab boot), e.g. make vng PRESET=ram CMD='numactl -H'.
vng: validate build
	@args=$$($(SPMLAB) vng-args --preset $(PRESET) $(SPMLAB_ARGS)) || exit 1; \
	PATH=$(BUILD)/venv/bin:$$PATH vng --disable-kvm -r $(KIMAGE) $$args \
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
	@sh lab/bench.sh module $(KSRC) $(KOBJ) $(EXTBUILD)/bench-lab

# The out-of-tree example drivers (drivers/), built against the lab tree the
# way a vendor builds them.
examples: kernel
	@for d in drivers/*/; do \
		sh lab/extmod.sh $$d $(EXTBUILD)/examples/$$(basename $$d) $(KSRC) $(KOBJ) || exit 1; \
	done

# The suites make check runs; the summary fails on any that left no results.
# make check ONLY=suite[,suite] runs those only (host-unit or host-lab: the
# host steps, which make both).
CHECK_SUITES := host-unit,host-lab,lab-cxl,lab-cxl2,lab-ram,lab-ram-spm,lab-bootparam,bench-smoke,examples,rust-driver,spm-ram,spm-cxl2,spm-ram2,spm-control,kselftest
comma := ,
ONLY ?=
ONLY_LIST := $(subst $(comma), ,$(ONLY))
# Suites only the debug kernel runs (make check-debug).
DEBUG_ONLY_SUITES := fault-inject
ALL_SUITES := $(subst $(comma), ,$(CHECK_SUITES)) $(DEBUG_ONLY_SUITES)
ifneq ($(filter-out $(ALL_SUITES),$(ONLY_LIST)),)
$(error ONLY=$(ONLY): no such suite: $(filter-out $(ALL_SUITES),$(ONLY_LIST)) (suites: $(CHECK_SUITES), and with DEBUG=1 $(DEBUG_ONLY_SUITES)))
endif
ifneq ($(DEBUG),1)
ifeq ($(filter check-debug,$(MAKECMDGOALS)),)
ifneq ($(filter $(DEBUG_ONLY_SUITES),$(ONLY_LIST)),)
$(error ONLY=$(ONLY): $(filter $(DEBUG_ONLY_SUITES),$(ONLY_LIST)) runs on the debug kernel only: make check-debug ONLY=$(ONLY))
endif
endif
endif
# $(call only,NAME...): a prefix that turns a suite's command into a no-op
# when ONLY leaves all of NAME... out. debugonly: likewise, and a no-op
# but on the debug kernel (the suite needs its fault injection).
only = $(if $(ONLY),$(if $(filter $(1),$(ONLY_LIST)),,: ))
debugonly = $(if $(filter 1,$(DEBUG)),$(call only,$(1)),: )

# Every suite runs even when an earlier one failed; the summary decides.
check: build ksft bench-module examples
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@$(call only,host-unit host-lab)$(MAKE) -s check-host || \
		$(SPMLAB) record check-steps FAIL check-host "make check-host exited non-zero" --results $(RESULTS)
	@$(MAKE) -s check-guest || \
		$(SPMLAB) record check-steps FAIL check-guest "make check-guest exited non-zero" --results $(RESULTS)
	@$(MAKE) -s summary

# make check on the debug kernel (DEBUG=1 above): the suites that run SPM
# code, kernel and Rust (KUnit and the Rust doctests, the CXL path, boot
# registration, the Rust driver, the examples, spm_isolation). Left out:
# lab-cxl2 and spm-cxl2, the same code on two CXL nodes, whose emulated
# memory makes them many times slower there; fault-inject, which memory
# hot-add's own BUG_ON()s on allocation failure stop (README). Results in
# build/results-debug; ONLY= chooses others.
DEBUG_SUITES := lab-cxl,lab-bootparam,lab-ram-spm,examples,rust-driver,spm-ram
check-debug:
	@$(MAKE) -s check DEBUG=1 ONLY=$(if $(ONLY),$(ONLY),$(DEBUG_SUITES))

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
	@$(call only,lab-cxl)$(BOOT) --name lab-cxl --preset cxl --script lab/guest/lab-cxl.sh --arg cxl=1 --kunit $(call tmo,240) | grep -v '^PASS' || true
	@$(call only,lab-cxl2)echo "[check] guest: two CXL devices (preset cxl2)"
	@$(call only,lab-cxl2)$(BOOT) --name lab-cxl2 --preset cxl2 --script lab/guest/lab-cxl.sh --arg cxl=2 $(call tmo,240) | grep -v '^PASS' || true
	@$(call only,lab-ram)echo "[check] guest: RAM-backed soft-reserved node (preset ram)"
	@$(call only,lab-ram)$(BOOT) --name lab-ram $(POISON) --preset ram --script lab/guest/lab-ram.sh $(call tmo,240) | grep -v '^PASS' || true
	@$(call only,lab-ram-spm)echo "[check] guest: RAM-backed node registered as SPM at boot, 1.5x-RAM memory hog (preset ram)"
	@$(call only,lab-ram-spm)$(BOOT) --name lab-ram-spm $(POISON) --preset ram --append spm_nodes=1 --script lab/guest/lab-ram-spm.sh \
		$(call tmo,300) | grep -v '^PASS' || true
	@$(call only,lab-bootparam)echo "[check] guest: spm_nodes= with nodes that cannot be SPM (preset cpunode)"
	@$(call only,lab-bootparam)$(BOOT) --name lab-bootparam $(POISON) --preset cpunode --append spm_nodes=0,1,7 --script lab/guest/lab-bootparam.sh \
		$(call tmo,240) | grep -v '^PASS' || true
	@$(call only,bench-smoke)echo "[check] guest: benchmark module and fault benchmark, tiny counts (preset ram)"
	@$(call only,bench-smoke)$(BOOT) --name bench-smoke $(POISON) --preset ram --script lab/guest/bench.sh \
		--arg kmod=$(EXTBUILD)/bench-lab/spm_bench.ko --arg fault=$(EXTBUILD)/bench-lab/spm_fault \
		--arg iters0=64 --arg iters9=8 --arg reps=1 --arg fmib=2 --arg freps=1 \
		$(call tmo,240) | grep -v '^PASS' || true
	@$(call only,examples)echo "[check] guest: out-of-tree example drivers, C and Rust (preset cxl-ram)"
	@$(call only,examples)$(BOOT) --name examples --preset cxl-ram --script lab/guest/examples.sh --arg dir=$(EXTBUILD)/examples \
		$(call tmo,240) | grep -v '^PASS' || true
	@$(call only,rust-driver)echo "[check] guest: the Rust dax_spm driver, 20 bind/unbind cycles, 150 s of concurrency (preset cxl-ram)"
	@$(call only,rust-driver)$(BOOT) --name rust-driver --preset cxl-ram --script lab/guest/rust-driver.sh \
		--arg ko=$(KOBJ)/drivers/dax/dax_spm.ko --arg cycles=20 --arg stress=150 $(call tmo,720) | grep -v '^PASS' || true
	@$(call only,spm-ram)echo "[check] guest: SPM isolation kselftests, RAM-backed node registered as SPM (preset ram)"
	@$(call only,spm-ram)$(BOOT) --name spm-ram $(POISON) --preset ram --append spm_nodes=1 --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg expect_spm=1 $(if $(filter 1,$(DEBUG)),--arg tests=$(SPM_DEBUG_TESTS)) \
		--arg allow_skip=$(SKIP_NEEDS_TWO_SPM)+$(SKIP_NEEDS_TWO_SYSRAM) $(call stmo,600) | grep -v '^PASS' || true
	@$(call only,spm-cxl2)echo "[check] guest: SPM isolation kselftests, two CXL devices as SPM nodes, 1 GiB (preset cxl2)"
	@$(call only,spm-cxl2)$(BOOT) --name spm-cxl2 --preset cxl2 --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg expect_spm=1-2 --arg allow_skip=$(SKIP_NEEDS_TWO_SYSRAM) \
		$(call stmo,600) | grep -v '^PASS' || true
	@$(call only,spm-ram2)echo "[check] guest: SPM isolation kselftests, SPM node 1 between SysRAM nodes 0 and 2 (preset ram2)"
	@$(call only,spm-ram2)$(BOOT) --name spm-ram2 $(POISON) --preset ram2 --append spm_nodes=1 --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg expect_spm=1 --arg online_sysram=1 --arg ko_by=wrapper --arg tests=$(SPM_RAM2_TESTS) \
		$(call stmo,300) | grep -v '^PASS' || true
	@$(call only,spm-control)echo "[check] guest: negative control, the RAM-backed node as ordinary memory (preset ram)"
	@$(call only,spm-control)$(BOOT) --name spm-control $(POISON) --preset ram --script lab/guest/spm-selftest.sh \
		$(SPM_SELFTEST_ARGS) --arg mode=control --arg tests=$(SPM_CONTROL_TESTS) \
		$(call stmo,600) | grep -v '^PASS' || true
	@$(call debugonly,fault-inject)echo "[check] guest: fault injection on the SPM paths (debug kernel, preset ram)"
	@$(call debugonly,fault-inject)$(BOOT) --name fault-inject $(POISON) --preset ram --script lab/guest/fault-inject.sh \
		--arg ko=$(KOBJ)/drivers/dax/dax_spm.ko --allow 'page allocation failure:' \
		$(call tmo,600) | grep -v '^PASS' || true
	@$(call only,kselftest)echo "[check] guest: kselftests (preset plain)"
	@$(call only,kselftest)$(BOOT) --name kselftest --preset plain --script lab/guest/kselftests.sh \
		--arg $(KSFT)/kselftest --arg $(KSFT_INSTALL) $(foreach t,$(shell sed -e 's/#.*//' lab/kselftests.list),--arg $(t)) \
		$(call tmo,600) | grep -v '^PASS' || true

# Every commit of the series builds on its own, and the series builds with
# CONFIG_SPM_NODES=n (long: one kernel build per patch; not part of check).
bisect-check: setup $(KSRC)/.git
	@sh lab/bisect.sh

clean:
	rm -rf $(BUILD)/obj $(KSFT) $(BUILD)/runs $(BUILD)/results $(BUILD)/logs tools/spmlab/target \
		$(BUILD)/bisect-obj $(BUILD)/bisect-obj-off $(BUILD)/bench $(BUILD)/bench-lab $(BUILD)/examples \
		$(BUILD)/obj-debug $(BUILD)/debug $(BUILD)/results-debug
