// SPDX-License-Identifier: GPL-2.0
/*
 * numa_fill - hold memory on one NUMA node and check that its contents
 * survive whatever happens to the node meanwhile (the hot-remove of the
 * node's memory migrating it elsewhere).
 *
 * "numa_fill [-l] [-n NODE] [-s SEED] MIB": map MIB MiB of anonymous
 * memory, bind it to NODE (default 1) with mbind(MPOL_BIND), fill it with
 * a pseudo-random pattern, mlock() it when -l is given, check it and print
 * one line (pages per node as move_pages(2) reports them):
 *
 *   ready mib=<n> pages=<n> node0=<n> node1=<n> ... other=<n> sum=<hex>
 *
 * Then wait for SIGUSR1, check every word again and print
 *
 *   done bad=<n> pages=<n> node0=<n> node1=<n> ... other=<n> sum=<hex>
 *
 * Exit 0 when every word is intact, 1 when some differ, 2 on a setup
 * error. SIGUSR1 is blocked from the start, so it may come at any time.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
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

static void print_nodes(int node)
{
	int k, last = node;

	for (k = 0; k < MAX_NODES; k++)
		if (per_node[k])
			last = k > last ? k : last;
	for (k = 0; k <= last; k++)
		printf(" node%d=%lu", k, per_node[k]);
	printf(" other=%lu", other);
}

/* Check every word; return how many differ, set *sum. */
static uint64_t check(const uint64_t *w, uint64_t n, uint64_t seed,
		      uint64_t *sum)
{
	uint64_t i, bad = 0, s = 0;

	for (i = 0; i < n; i++) {
		s += w[i];
		if (w[i] != word(seed, i))
			bad++;
	}
	*sum = s;
	return bad;
}

int main(int argc, char **argv)
{
	uint64_t *w, i, n, seed = 0x5eed, sum, bad;
	unsigned long mask[2] = { 0, 0 };
	int opt, node = 1, lock = 0, sig;
	size_t len, page;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 2;

	while ((opt = getopt(argc, argv, "ln:s:")) != -1) {
		switch (opt) {
		case 'l':
			lock = 1;
			break;
		case 'n':
			node = atoi(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || node < 0 || node >= MAX_NODES)
		goto usage;
	len = strtoull(argv[optind], NULL, 0) << 20;
	page = sysconf(_SC_PAGESIZE);
	if (!len)
		goto usage;

	w = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		fprintf(stderr, "mmap %zu: %s\n", len, strerror(errno));
		return 2;
	}
	mask[0] = 1UL << node;
	if (syscall(SYS_mbind, w, len, POLICY_BIND, mask, MAX_NODES + 1, 0)) {
		fprintf(stderr, "mbind node %d: %s\n", node, strerror(errno));
		return 2;
	}
	n = len / sizeof(*w);
	for (i = 0; i < n; i++)
		w[i] = word(seed, i);
	if (lock && mlock(w, len)) {
		fprintf(stderr, "mlock: %s\n", strerror(errno));
		return 2;
	}
	bad = check(w, n, seed, &sum);
	if (placement((char *)w, len, page))
		return 2;
	printf("ready mib=%zu pages=%zu", len >> 20, len / page);
	print_nodes(node);
	printf(" sum=%#llx\n", (unsigned long long)sum);
	fflush(stdout);
	if (bad) {
		fprintf(stderr, "%llu words differ right after the fill\n",
			(unsigned long long)bad);
		return 1;
	}

	if (sigwait(&set, &sig))
		return 2;

	bad = check(w, n, seed, &sum);
	if (placement((char *)w, len, page))
		return 2;
	printf("done bad=%llu pages=%zu", (unsigned long long)bad, len / page);
	print_nodes(node);
	printf(" sum=%#llx\n", (unsigned long long)sum);
	fflush(stdout);
	return bad ? 1 : 0;

usage:
	fprintf(stderr, "usage: %s [-l] [-n NODE] [-s SEED] MIB\n", argv[0]);
	return 2;
}
