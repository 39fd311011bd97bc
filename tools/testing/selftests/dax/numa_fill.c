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

#include "numa_pages.h"

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

/* Count the pages of [p, p + len) per node into per_node[] and other. */
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

	w = map_on_node(len, node);
	if (w == MAP_FAILED)
		return 2;
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
