// SPDX-License-Identifier: GPL-2.0
/*
 * bwbench - the memory bandwidth the guest can reach, as the yardstick for
 * make bench's hotplug times.
 *
 * "bwbench MIB PASSES": map two buffers of MIB MiB each (their pages are
 * placed by the caller's NUMA policy: run it under numactl --membind),
 * touch them once, then time PASSES memset()s of the first and PASSES
 * memcpy()s from the first to the second. Prints
 *
 *   memset_gibs=<GiB/s> memcpy_gibs=<GiB/s>
 *
 * where memcpy counts the bytes copied (each read once and written once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MAP_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib, bytes;
	int passes, i;
	char *a, *b;
	double t, set_s, cpy_s;

	if (argc != 3 || atol(argv[1]) <= 0 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: bwbench MIB PASSES\n");
		return 2;
	}
	mib = atol(argv[1]);
	passes = atoi(argv[2]);
	bytes = mib << 20;
	a = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_FLAGS, -1, 0);
	b = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_FLAGS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED) {
		perror("bwbench: mmap");
		return 2;
	}
	memset(a, 1, bytes);
	memset(b, 2, bytes);

	t = now();
	for (i = 0; i < passes; i++)
		memset(a, i, bytes);
	set_s = now() - t;

	t = now();
	for (i = 0; i < passes; i++) {
		a[i] = (char)i;	/* not a copy of an unchanged buffer */
		memcpy(b, a, bytes);
	}
	cpy_s = now() - t;

	if (b[passes - 1] != (char)(passes - 1)) {
		fprintf(stderr, "bwbench: copy check failed\n");
		return 1;
	}
	printf("memset_gibs=%.3f memcpy_gibs=%.3f\n",
	       (double)bytes * passes / set_s / (1 << 30),
	       (double)bytes * passes / cpy_s / (1 << 30));
	return 0;
}
