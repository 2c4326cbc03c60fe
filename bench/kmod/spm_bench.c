// SPDX-License-Identifier: GPL-2.0
/*
 * spm_bench: the page allocator's cost per operation, for `make bench`.
 *
 * Loading the module runs every measurement once per repetition and prints
 * one line per measurement; the module then stays loaded and does nothing
 * until it is removed. It builds against the unpatched base kernel as well
 * as against the SPM series: the GFP_SPM_NODE rows exist only where the
 * kernel has GFP_SPM_NODE.
 *
 * Under QEMU with -icount shift=0, guest time advances one nanosecond per
 * guest instruction, so the nanoseconds printed here are instruction counts
 * and the same kernel gives the same figures run after run.
 *
 * Output, one line per measurement:
 *   spm_bench: row=NAME rep=R iters=N total_ns=T
 * and once per load:
 *   spm_bench: sizeof task_struct=A pglist_data=B zone=C page=D
 *   spm_bench: done rows=N failed=F
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>

static unsigned int iters0 = 200000;
module_param(iters0, uint, 0444);
MODULE_PARM_DESC(iters0, "order-0 alloc+free pairs per measurement (>= 1)");

static unsigned int iters9 = 20000;
module_param(iters9, uint, 0444);
MODULE_PARM_DESC(iters9, "order-9 alloc+free pairs per measurement (>= 1)");

static unsigned int batch = 256;
module_param(batch, uint, 0444);
MODULE_PARM_DESC(batch, "pages held at once by the batch rows (1..4096)");

static unsigned int reps = 3;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "repetitions of every measurement (1..16)");

static char *tag = "run";
module_param(tag, charp, 0444);
MODULE_PARM_DESC(tag, "prefix of every row name, e.g. nospm or spm");

static int sysram_nid = NUMA_NO_NODE;
module_param(sysram_nid, int, 0444);
MODULE_PARM_DESC(sysram_nid, "a SysRAM node: also measure allocations that name it");

static int spm_nid = NUMA_NO_NODE;
module_param(spm_nid, int, 0444);
MODULE_PARM_DESC(spm_nid, "an SPM node: also measure GFP_SPM_NODE allocations from it");

enum bench_api { API_PAGES, API_FOLIO };

struct bench_row {
	const char *name;
	enum bench_api api;
	unsigned int order;
	int nid;		/* NUMA_NO_NODE: the default allocation */
	gfp_t gfp;
	bool batched;		/* hold @batch pages at once, then free them */
};

static unsigned int rows_run, rows_failed;

static struct page *bench_alloc(const struct bench_row *r)
{
	struct folio *folio;

	if (r->api == API_FOLIO) {
		if (r->nid == NUMA_NO_NODE)
			folio = folio_alloc(r->gfp, r->order);
		else
			folio = __folio_alloc_node(r->gfp, r->order, r->nid);
		return folio ? &folio->page : NULL;
	}
	if (r->nid == NUMA_NO_NODE)
		return alloc_pages(r->gfp, r->order);
	return alloc_pages_node(r->nid, r->gfp, r->order);
}

static void bench_free(const struct bench_row *r, struct page *page)
{
	if (r->api == API_FOLIO)
		folio_put(page_folio(page));
	else
		__free_pages(page, r->order);
}

/* One pass of @n operations; returns the pages that landed off @nid. */
static long bench_pass(const struct bench_row *r, unsigned int n,
		       struct page **held, u64 *ns)
{
	unsigned int i, j, k;
	struct page *page;
	u64 start;

	start = ktime_get_ns();
	if (!r->batched) {
		for (i = 0; i < n; i++) {
			page = bench_alloc(r);
			if (!page)
				return -ENOMEM;
			bench_free(r, page);
		}
	} else {
		for (i = 0; i < n; i += batch) {
			k = min(batch, n - i);
			for (j = 0; j < k; j++) {
				held[j] = bench_alloc(r);
				if (!held[j]) {
					while (j--)
						bench_free(r, held[j]);
					return -ENOMEM;
				}
			}
			for (j = 0; j < k; j++)
				bench_free(r, held[j]);
		}
	}
	*ns = ktime_get_ns() - start;
	return 0;
}

/* Where the row's pages land: checked outside the timed loop. */
static int bench_placement(const struct bench_row *r)
{
	struct page *page = bench_alloc(r);
	int nid;

	if (!page)
		return -ENOMEM;
	nid = page_to_nid(page);
	bench_free(r, page);
	if (r->nid != NUMA_NO_NODE && (r->gfp & __GFP_THISNODE) && nid != r->nid) {
		pr_err("row %s-%s: page on node %d, not %d\n", tag, r->name, nid, r->nid);
		return -EIO;
	}
	return nid;
}

static void bench_row(const struct bench_row *r, struct page **held)
{
	unsigned int n = r->order ? iters9 : iters0;
	unsigned int rep;
	long ret;
	int nid;
	u64 ns;

	rows_run++;
	nid = bench_placement(r);
	if (nid < 0)
		goto failed;
	/* Warm the per-cpu lists and the code path before timing. */
	ret = bench_pass(r, max(n / 8, 1U), held, &ns);
	if (ret)
		goto failed;
	for (rep = 0; rep < reps; rep++) {
		ret = bench_pass(r, n, held, &ns);
		if (ret)
			goto failed;
		pr_info("row=%s-%s rep=%u iters=%u total_ns=%llu node=%d\n",
			tag, r->name, rep, n, ns, nid);
		cond_resched();
	}
	return;
failed:
	rows_failed++;
	pr_err("row=%s-%s failed: %d\n", tag, r->name, nid < 0 ? nid : (int)ret);
}

#define ROW(_name, _api, _order, _nid, _gfp, _batched) \
	{ .name = _name, .api = _api, .order = _order, .nid = _nid, \
	  .gfp = _gfp, .batched = _batched }

static int __init spm_bench_init(void)
{
	const struct bench_row rows[] = {
		ROW("pages-o0", API_PAGES, 0, NUMA_NO_NODE, GFP_KERNEL, false),
		ROW("pages-o0-batch", API_PAGES, 0, NUMA_NO_NODE, GFP_KERNEL, true),
		ROW("pages-o9", API_PAGES, 9, NUMA_NO_NODE, GFP_KERNEL, false),
		ROW("folio-o0", API_FOLIO, 0, NUMA_NO_NODE, GFP_KERNEL, false),
		ROW("folio-o9", API_FOLIO, 9, NUMA_NO_NODE, GFP_KERNEL, false),
	};
	const struct bench_row node_rows[] = {
		ROW("sysram-o0", API_PAGES, 0, sysram_nid, GFP_KERNEL, false),
		ROW("sysram-o0-batch", API_PAGES, 0, sysram_nid, GFP_KERNEL, true),
		ROW("sysram-o9", API_PAGES, 9, sysram_nid, GFP_KERNEL, false),
		/* The same, insisting on the node as GFP_SPM_NODE does. */
		ROW("sysram-o0-thisnode", API_PAGES, 0, sysram_nid,
		    GFP_KERNEL | __GFP_THISNODE, false),
	};
#ifdef GFP_SPM_NODE
	const struct bench_row spm_rows[] = {
		ROW("spmnode-o0", API_PAGES, 0, spm_nid, GFP_KERNEL | GFP_SPM_NODE, false),
		ROW("spmnode-o0-batch", API_PAGES, 0, spm_nid, GFP_KERNEL | GFP_SPM_NODE, true),
		ROW("spmnode-o9", API_PAGES, 9, spm_nid, GFP_KERNEL | GFP_SPM_NODE, false),
	};
#endif
	struct page **held;
	unsigned int i;

	if (!iters0 || !iters9 || !batch || batch > 4096 || !reps || reps > 16 ||
	    !tag || !*tag || strlen(tag) > 32) {
		pr_err("iters0, iters9 >= 1; batch 1..4096; reps 1..16; tag 1..32 chars\n");
		return -EINVAL;
	}
	if (sysram_nid != NUMA_NO_NODE &&
	    (sysram_nid < 0 || sysram_nid >= MAX_NUMNODES ||
	     !node_state(sysram_nid, N_MEMORY))) {
		pr_err("sysram_nid=%d is not a node with SysRAM\n", sysram_nid);
		return -EINVAL;
	}
	if (spm_nid != NUMA_NO_NODE) {
#ifdef GFP_SPM_NODE
		if (spm_nid < 0 || spm_nid >= MAX_NUMNODES ||
		    !node_state(spm_nid, N_SPM)) {
			pr_err("spm_nid=%d is not an SPM node\n", spm_nid);
			return -EINVAL;
		}
#else
		pr_err("spm_nid: this kernel has no SPM nodes\n");
		return -EOPNOTSUPP;
#endif
	}

	held = kcalloc(batch, sizeof(*held), GFP_KERNEL);
	if (!held)
		return -ENOMEM;

	pr_info("sizeof task_struct=%zu pglist_data=%zu zone=%zu page=%zu\n",
		sizeof(struct task_struct), sizeof(struct pglist_data),
		sizeof(struct zone), sizeof(struct page));
	for (i = 0; i < ARRAY_SIZE(rows); i++)
		bench_row(&rows[i], held);
	if (sysram_nid != NUMA_NO_NODE)
		for (i = 0; i < ARRAY_SIZE(node_rows); i++)
			bench_row(&node_rows[i], held);
#ifdef GFP_SPM_NODE
	if (spm_nid != NUMA_NO_NODE)
		for (i = 0; i < ARRAY_SIZE(spm_rows); i++)
			bench_row(&spm_rows[i], held);
#endif
	pr_info("done rows=%u failed=%u\n", rows_run, rows_failed);
	kfree(held);
	return 0;
}
module_init(spm_bench_init);

static void __exit spm_bench_exit(void)
{
}
module_exit(spm_bench_exit);

MODULE_DESCRIPTION("Page allocator cost per operation, with and without SPM nodes");
MODULE_LICENSE("GPL");
