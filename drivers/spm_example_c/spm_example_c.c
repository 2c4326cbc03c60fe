// SPDX-License-Identifier: GPL-2.0
/*
 * spm_example_c: an out-of-tree driver that uses a Specific Purpose Memory
 * node, the template a device vendor copies.
 *
 * On load it allocates @pages order-0 pages from SPM node @nid with
 * GFP_SPM_NODE, checks that every page is on that node, writes a pattern to
 * each page and reads it back, then frees them all. It also checks the
 * other half of the contract: an allocation without GFP_SPM_NODE that names
 * the SPM node is not served from it. It keeps nothing allocated, so it
 * unloads at any time.
 *
 * Parameters: nid (default: the first SPM node), pages (default 64).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/slab.h>

static int nid = NUMA_NO_NODE;
module_param(nid, int, 0444);
MODULE_PARM_DESC(nid, "SPM node to allocate from (default: the first SPM node)");

static unsigned int pages = 64;
module_param(pages, uint, 0444);
MODULE_PARM_DESC(pages, "pages to allocate, check and free (1..65536)");

/* A pattern that differs per page and per word, so a misplaced page shows. */
static u64 pattern(unsigned int i, unsigned int w)
{
	return 0x53504d0000000000ULL ^ ((u64)i << 20) ^ w;
}

static bool write_and_check(struct page *page, unsigned int i)
{
	u64 *p = kmap_local_page(page);
	unsigned int w, words = PAGE_SIZE / sizeof(u64);
	bool good = true;

	for (w = 0; w < words; w++)
		p[w] = pattern(i, w);
	for (w = 0; w < words; w++)
		good &= p[w] == pattern(i, w);
	kunmap_local(p);
	return good;
}

static int __init spm_example_init(void)
{
	unsigned int i, on_node = 0, verified = 0;
	struct page **held, *page;
	int ret = 0;

	if (nid == NUMA_NO_NODE)
		nid = first_node(node_states[N_SPM]);
	if (nid < 0 || nid >= MAX_NUMNODES || !node_state(nid, N_SPM)) {
		pr_err("node %d is not an SPM node (SPM nodes: %*pbl)\n",
		       nid, nodemask_pr_args(&node_states[N_SPM]));
		return -EINVAL;
	}
	if (!pages || pages > 65536) {
		pr_err("pages must be 1..65536, not %u\n", pages);
		return -EINVAL;
	}
	held = kvcalloc(pages, sizeof(*held), GFP_KERNEL);
	if (!held)
		return -ENOMEM;

	for (i = 0; i < pages; i++) {
		held[i] = alloc_pages_node(nid, GFP_KERNEL | GFP_SPM_NODE, 0);
		if (!held[i]) {
			pr_err("node %d: allocation %u of %u failed\n", nid, i, pages);
			ret = -ENOMEM;
			goto free;
		}
		on_node += page_to_nid(held[i]) == nid;
		verified += write_and_check(held[i], i);
	}

	/* Without GFP_SPM_NODE, naming the SPM node must not reach it. */
	page = alloc_pages_node(nid, GFP_KERNEL, 0);
	if (page) {
		if (page_to_nid(page) == nid) {
			pr_err("node %d: a default allocation was served from the SPM node\n", nid);
			ret = -EIO;
		}
		__free_pages(page, 0);
	}
	if (on_node != pages || verified != pages)
		ret = -EIO;
	pr_info("node %d: allocated %u pages, %u on the node, %u verified\n",
		nid, pages, on_node, verified);
free:
	while (i--)
		__free_pages(held[i], 0);
	kvfree(held);
	if (!ret)
		pr_info("node %d: freed %u pages\n", nid, pages);
	return ret;
}
module_init(spm_example_init);

static void __exit spm_example_exit(void)
{
	pr_info("unloaded\n");
}
module_exit(spm_example_exit);

MODULE_DESCRIPTION("Example: allocate from a Specific Purpose Memory node");
MODULE_LICENSE("GPL");
