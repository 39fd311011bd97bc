/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What numa_fill, page_pin and loss_victim share: map anonymous memory
 * bound to one NUMA node, count on which nodes its pages are, as
 * move_pages(2) reports them, and write the page frame numbers of a
 * buffer. Single-threaded test programs only: the counts live in static
 * storage.
 */
#ifndef NUMA_PAGES_H
#define NUMA_PAGES_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define POLICY_BIND	2	/* MPOL_BIND of <linux/mempolicy.h> */
#define MAX_NODES	64
#define CHUNK		4096
#define PFN_MASK	0x007fffffffffffffULL	/* pagemap bits 0-54 */
#define PAGE_PRESENT	0x8000000000000000ULL	/* pagemap bit 63 */

static void *chunk_pages[CHUNK];
static int chunk_status[CHUNK];
static unsigned long per_node[MAX_NODES];
static unsigned long other;

/* Map @len bytes of anonymous memory bound to @node; MAP_FAILED on error. */
static void *map_on_node(size_t len, int node)
{
	unsigned long mask[2] = { 0, 0 };
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap %zu: %s\n", len, strerror(errno));
		return MAP_FAILED;
	}
	mask[0] = 1UL << node;
	if (syscall(SYS_mbind, p, len, POLICY_BIND, mask, MAX_NODES + 1, 0)) {
		fprintf(stderr, "mbind node %d: %s\n", node, strerror(errno));
		munmap(p, len);
		return MAP_FAILED;
	}
	return p;
}

/* Count the pages of [p, p + len) per node into per_node[] and other. */
static int placement(char *p, size_t len, size_t page)
{
	size_t n = len / page, i, j, cnt;

	memset(per_node, 0, sizeof(per_node));
	other = 0;
	for (i = 0; i < n; i += cnt) {
		cnt = n - i < CHUNK ? n - i : CHUNK;
		for (j = 0; j < cnt; j++)
			chunk_pages[j] = p + (i + j) * page;
		if (syscall(SYS_move_pages, 0, cnt, chunk_pages, NULL,
			    chunk_status, 0)) {
			fprintf(stderr, "move_pages: %s\n", strerror(errno));
			return -1;
		}
		for (j = 0; j < cnt; j++) {
			if (chunk_status[j] >= 0 && chunk_status[j] < MAX_NODES)
				per_node[chunk_status[j]]++;
			else
				other++;
		}
	}
	return 0;
}

/* Print " node0=<n> ... other=<n>": every node up to @node or the last used. */
static inline void print_nodes(int node)
{
	int k, last = node;

	for (k = 0; k < MAX_NODES; k++)
		if (per_node[k] && k > last)
			last = k;
	for (k = 0; k <= last; k++)
		printf(" node%d=%lu", k, per_node[k]);
	printf(" other=%lu", other);
}

/*
 * Append the pfn of every present page of [p, p + len) to @out, one
 * "0x..." a line, from the open /proc/self/pagemap @pagemap (the pfns
 * read as 0 without CAP_SYS_ADMIN: such pages are left out).
 */
static inline int write_pfns(FILE *out, int pagemap, char *p, size_t len,
			     size_t page)
{
	static uint64_t chunk_pfns[CHUNK];
	size_t n = len / page, i, j, cnt;

	for (i = 0; i < n; i += cnt) {
		off_t off = (off_t)((uintptr_t)(p + i * page) / page) * 8;

		cnt = n - i < CHUNK ? n - i : CHUNK;
		if (pread(pagemap, chunk_pfns, cnt * 8, off) != (ssize_t)(cnt * 8)) {
			fprintf(stderr, "pagemap read: %s\n", strerror(errno));
			return -1;
		}
		for (j = 0; j < cnt; j++) {
			if (!(chunk_pfns[j] & PAGE_PRESENT) ||
			    !(chunk_pfns[j] & PFN_MASK))
				continue;
			fprintf(out, "%#llx\n",
				(unsigned long long)(chunk_pfns[j] & PFN_MASK));
		}
	}
	return 0;
}

#endif /* NUMA_PAGES_H */
