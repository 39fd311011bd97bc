/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What numa_fill and page_pin share: map anonymous memory
 * bound to one NUMA node, and count on which nodes its pages are, as
 * move_pages(2) reports them. Single-threaded test programs only: the
 * counts live in static storage.
 */
#ifndef NUMA_PAGES_H
#define NUMA_PAGES_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define POLICY_BIND	2	/* MPOL_BIND of <linux/mempolicy.h> */
#define MAX_NODES	64
#define CHUNK		4096

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

#endif /* NUMA_PAGES_H */
