// SPDX-License-Identifier: GPL-2.0
/*
 * dax_rw - write a pattern through a mapping of a file or device and read
 * it back: "dax_rw PATH BYTES SEED". With -c ("dax_rw -c PATH BYTES SEED")
 * only read it: check that the pattern of an earlier run with the same
 * SEED is still there. For a device-dax character device the mapping is
 * the device's memory itself. Exit 0 when every word matched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL;
}

int main(int argc, char **argv)
{
	uint64_t *p, seed, i, n, bad = 0;
	int fd, check_only = 0;
	size_t len;

	if (argc == 5 && !strcmp(argv[1], "-c")) {
		check_only = 1;
		argv++;
		argc--;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: %s [-c] PATH BYTES SEED\n", argv[0]);
		return 2;
	}
	len = strtoull(argv[2], NULL, 0);
	seed = strtoull(argv[3], NULL, 0);
	fd = open(argv[1], check_only ? O_RDONLY : O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	n = len / sizeof(*p);
	if (check_only)
		goto check;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++)
		p[i] = word(seed, i);
	if (msync(p, len, MS_SYNC))
		fprintf(stderr, "msync: %s\n", strerror(errno));
	munmap(p, len);

check:

	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "mmap %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++)
		if (p[i] != word(seed, i))
			bad++;
	munmap(p, len);
	close(fd);
	if (bad) {
		fprintf(stderr, "%s: %llu of %llu words differ\n", argv[1],
			(unsigned long long)bad, (unsigned long long)n);
		return 1;
	}
	return 0;
}
