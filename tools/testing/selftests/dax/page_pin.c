// SPDX-License-Identifier: GPL-2.0
/*
 * page_pin - hold a reference on memory of one NUMA node, in one of two
 * ways that memory hot-remove treats differently.
 *
 * "page_pin -m vmsplice|iouring [-c] [-e] [-s] [-u FREE] [-n NODE]
 * [-d DEVICE] [-p PFNFILE] SIZE": map SIZE bytes (a K, M or G suffix is
 * allowed, as for FREE) of anonymous memory, bind it to NODE (default 1)
 * with mbind(MPOL_BIND), touch every page, then:
 *
 * -m vmsplice: splice the buffer into a pipe with vmsplice(2), without
 *   SPLICE_F_GIFT, and do not read it; with -u, all but its last FREE
 *   bytes, which stay free to migrate. The pipe holds a reference on each
 *   page (one pipe slot a page: the pipe is sized with F_SETPIPE_SZ). Such
 *   a page stays where it is and cannot be migrated while the pipe holds
 *   it, so offlining its memory block retries migration until it gives up.
 *
 * -m iouring: register the buffer with io_uring as one fixed buffer
 *   (IORING_REGISTER_BUFFERS, raw system calls, no liburing). That is a
 *   long-term pin (FOLL_LONGTERM): the kernel first migrates pages out of
 *   ZONE_MOVABLE, so afterwards they are no longer where they were
 *   faulted in. Before registering it prints the placement as faulted:
 *
 *     faulted pages=<n> node0=<n> node1=<n> ... other=<n>
 *
 * Then it writes the page frame numbers of the buffer's pages to PFNFILE
 * (one "0x..." a line, from /proc/self/pagemap: needs CAP_SYS_ADMIN) and
 * prints, with the pages per node as move_pages(2) reports them:
 *
 *   ready pages=<n> node0=<n> node1=<n> ... other=<n>
 *
 * With -d it maps SIZE bytes of the device-dax character device DEVICE
 * (MAP_SHARED, from offset 0) instead, and the placement lines say only
 * "pages=<n>": the device's memory has no node to move from.
 *
 * With -e the process asks for early kills of its memory's failures
 * (prctl PR_MCE_KILL_EARLY): a page of it that memory_failure() takes
 * away sends it SIGBUS (BUS_MCEERR_AO) at once, which kills it.
 *
 * Then it waits for SIGUSR1 (blocked from the start, so it may come at any
 * time). With -s it survives SIGBUS while it waits, and then prints
 *
 *   told ao=<n> other=<n>
 *
 * ao: the SIGBUS signals with si_code BUS_MCEERR_AO (what memory_failure()
 * sends a process whose page is taken away, or whose device-dax page is
 * about to go); other: other SIGBUS signals. Without -s such a signal
 * kills it.
 *
 * With -c it then reads every page of the buffer, catching SIGBUS, and
 * prints
 *
 *   checked pages=<n> intact=<n> sigbus_ar=<n> sigbus_adr=<n> bad=<n>
 *
 * intact: the page reads as written; sigbus_ar: reading it raised SIGBUS
 * with si_code BUS_MCEERR_AR at that page (the page was taken away, as
 * memory_failure() does); sigbus_adr (with -d only): SIGBUS with
 * BUS_ADRERR at that page (the device is gone: nothing maps it any more);
 * bad: anything else (other data, another SIGBUS).
 * Then it drains the pipe and checks what it reads, or unregisters the
 * buffer and closes the ring, prints "released" and exits 0.
 * Exit 1 when the drained data is not the buffer's or a page was bad,
 * 2 on a setup error,
 * 4 when io_uring_setup() fails ("io_uring_setup: <strerror>" on stderr:
 * the caller tells a kernel without io_uring, or one where
 * kernel.io_uring_disabled forbids it, from other failures).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "numa_pages.h"

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif

#define FILL		0x5a

static sigjmp_buf bus_env;
static int bus_code;
static void *bus_addr;
static int told_ao, told_other;

/*
 * Count the pages of [p, p + len) per node into per_node[] and other;
 * with @node -1 (a device's memory) only the number of pages.
 */
static int print_placement(const char *what, char *p, size_t len,
			   size_t page, int node)
{
	if (node < 0) {
		printf("%s pages=%zu\n", what, len / page);
		fflush(stdout);
		return 0;
	}
	if (placement(p, len, page))
		return -1;
	printf("%s pages=%zu", what, len / page);
	print_nodes(node);
	printf("\n");
	fflush(stdout);
	return 0;
}

/* Write the pfn of every present page of [p, p + len) to @path. */
static int save_pfns(const char *path, char *p, size_t len, size_t page)
{
	FILE *out;
	int fd, rc;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "pagemap: %s\n", strerror(errno));
		return -1;
	}
	out = fopen(path, "w");
	if (!out) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	rc = write_pfns(out, fd, p, len, page);
	close(fd);
	if (fclose(out))
		rc = -1;
	return rc;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	__atomic_store_n(&bus_code, si->si_code, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bus_addr, si->si_addr, __ATOMIC_SEQ_CST);
	siglongjmp(bus_env, 1);
}

/*
 * 1 when the page at @p reads as written, 0 when it reads otherwise, -1
 * when reading it raised SIGBUS (bus_code and bus_addr say how).
 */
static int read_page(const char *p, size_t page)
{
	size_t j;

	__atomic_store_n(&bus_code, 0, __ATOMIC_SEQ_CST);
	if (sigsetjmp(bus_env, 1))
		return -1;
	for (j = 0; j < page; j++)
		if (__atomic_load_n(p + j, __ATOMIC_RELAXED) != FILL)
			return 0;
	return 1;
}

static void on_sigbus_told(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == BUS_MCEERR_AO)
		__atomic_fetch_add(&told_ao, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_add(&told_other, 1, __ATOMIC_SEQ_CST);
}

/*
 * Read every page of [buf, buf + len), say how each read; 1 if one was
 * bad. With @dev, SIGBUS BUS_ADRERR at the page is expected, else bad.
 */
static int check_pages(char *buf, size_t len, size_t page, int dev)
{
	size_t intact = 0, ar = 0, adr = 0, bad = 0, i;
	struct sigaction sa;
	char *addr;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGBUS, &sa, NULL))
		return 2;
	for (i = 0; i < len; i += page) {
		int r = read_page(buf + i, page);

		addr = __atomic_load_n(&bus_addr, __ATOMIC_SEQ_CST);
		if (r == 1)
			intact++;
		else if (r < 0 && addr >= buf + i && addr < buf + i + page &&
			 __atomic_load_n(&bus_code, __ATOMIC_SEQ_CST) == BUS_MCEERR_AR)
			ar++;
		else if (r < 0 && dev && addr >= buf + i && addr < buf + i + page &&
			 __atomic_load_n(&bus_code, __ATOMIC_SEQ_CST) == BUS_ADRERR)
			adr++;
		else
			bad++;
	}
	/* no later SIGBUS may jump to a stale jump buffer */
	signal(SIGBUS, SIG_DFL);
	printf("checked pages=%zu intact=%zu sigbus_ar=%zu sigbus_adr=%zu bad=%zu\n",
	       len / page, intact, ar, adr, bad);
	fflush(stdout);
	return bad ? 1 : 0;
}

/* Map @len bytes of the device-dax device at @path, shared, from 0. */
static char *map_device(const char *path, size_t len)
{
	char *p;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return MAP_FAILED;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		fprintf(stderr, "mmap %s: %s\n", path, strerror(errno));
	close(fd);
	return p;
}

/* Splice all of [buf, buf + len) into a new pipe; its fds into @pfd. */
static int pin_vmsplice(char *buf, size_t len, int pfd[2])
{
	size_t done = 0;
	struct iovec iov;
	ssize_t n;
	int size;

	if (len > INT_MAX) {
		fprintf(stderr, "%zu bytes do not fit into a pipe\n", len);
		return -1;
	}
	if (pipe(pfd)) {
		fprintf(stderr, "pipe: %s\n", strerror(errno));
		return -1;
	}
	/* one slot per page: room for the whole buffer */
	size = fcntl(pfd[1], F_SETPIPE_SZ, (int)len);
	if (size < 0 || (size_t)size < len) {
		fprintf(stderr, "F_SETPIPE_SZ %zu: %s\n", len,
			size < 0 ? strerror(errno) : "too small");
		return -1;
	}
	while (done < len) {
		iov.iov_base = buf + done;
		iov.iov_len = len - done;
		/* never block: a full pipe is an error here */
		n = vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK);
		if (n <= 0) {
			fprintf(stderr, "vmsplice at %zu of %zu: %s\n", done,
				len, n < 0 ? strerror(errno) : "nothing taken");
			return -1;
		}
		done += n;
	}
	return 0;
}

/* Read the pipe empty; 1 if it did not hold @len bytes of FILL. */
static int drain(int pfd[2], size_t len)
{
	static char tmp[1 << 16];
	size_t done = 0, i;
	ssize_t n;
	int bad = 0;

	close(pfd[1]);
	while ((n = read(pfd[0], tmp, sizeof(tmp))) > 0) {
		for (i = 0; i < (size_t)n; i++)
			bad |= tmp[i] != FILL;
		done += n;
	}
	if (n < 0) {
		fprintf(stderr, "read from the pipe: %s\n", strerror(errno));
		return 2;
	}
	close(pfd[0]);
	if (bad || done != len) {
		fprintf(stderr, "pipe gave %zu of %zu bytes%s\n", done, len,
			bad ? ", not the buffer's" : "");
		return 1;
	}
	return 0;
}

/* Register [buf, buf + len) as a fixed buffer of a new ring: its fd. */
static int pin_iouring(char *buf, size_t len)
{
	struct io_uring_params params;
	struct iovec iov;
	int ring;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0) {
		/* the caller tells "not there" from other failures */
		fprintf(stderr, "io_uring_setup: %s\n", strerror(errno));
		return -4;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1)) {
		fprintf(stderr, "IORING_REGISTER_BUFFERS: %s\n",
			strerror(errno));
		return -2;
	}
	return ring;
}

static int unpin_iouring(int ring)
{
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0)) {
		fprintf(stderr, "IORING_UNREGISTER_BUFFERS: %s\n",
			strerror(errno));
		return 2;
	}
	close(ring);
	return 0;
}

/* SIZE with an optional K, M or G suffix; 0 when it is not one. */
static size_t parse_size(const char *s)
{
	static const char suffixes[] = "KMG";
	const char *suffix;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return 0;
	suffix = *end ? strchr(suffixes, *end) : NULL;
	if (suffix) {
		v <<= 10 * (suffix - suffixes + 1);
		end++;
	}
	return *end ? 0 : v;
}

int main(int argc, char **argv)
{
	const char *pfn_file = NULL, *mode = NULL, *devpath = NULL;
	int opt, node = 1, sig, rc, rel, ring = -1, check = 0, early = 0;
	int survive = 0;
	struct sigaction sa;
	size_t spliced, free_len = 0;
	int pfd[2] = { -1, -1 };
	size_t len, page;
	sigset_t set;
	char *buf;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 2;

	while ((opt = getopt(argc, argv, "cd:em:n:p:su:")) != -1) {
		switch (opt) {
		case 'c':
			check = 1;
			break;
		case 'd':
			devpath = optarg;
			break;
		case 'e':
			early = 1;
			break;
		case 's':
			survive = 1;
			break;
		case 'u':
			free_len = parse_size(optarg);
			if (!free_len)
				goto usage;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			node = atoi(optarg);
			break;
		case 'p':
			pfn_file = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!mode || (strcmp(mode, "vmsplice") && strcmp(mode, "iouring")))
		goto usage;
	if (optind != argc - 1 || node < 0 || node >= MAX_NODES)
		goto usage;
	page = sysconf(_SC_PAGESIZE);
	len = parse_size(argv[optind]);
	len -= len % page;
	free_len -= free_len % page;
	if (!len || free_len >= len)
		goto usage;
	spliced = len - free_len;
	if (early && prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0)) {
		fprintf(stderr, "PR_MCE_KILL_EARLY: %s\n", strerror(errno));
		return 2;
	}

	if (survive) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus_told;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		if (sigaction(SIGBUS, &sa, NULL))
			return 2;
	}

	if (devpath) {
		buf = map_device(devpath, len);
	} else {
		buf = map_on_node(len, node);
		/* base pages: one pfn a page, one pipe slot a page */
		if (buf != MAP_FAILED)
			madvise(buf, len, MADV_NOHUGEPAGE);
	}
	if (buf == MAP_FAILED)
		return 2;
	memset(buf, FILL, len);

	if (!strcmp(mode, "vmsplice")) {
		if (pin_vmsplice(buf, spliced, pfd))
			return 2;
	} else {
		if (print_placement("faulted", buf, len, page,
				    devpath ? -1 : node))
			return 2;
		ring = pin_iouring(buf, len);
		if (ring < 0)
			return -ring;
	}

	if (pfn_file && save_pfns(pfn_file, buf, len, page))
		return 2;
	if (print_placement("ready", buf, len, page, devpath ? -1 : node))
		return 2;

	while ((rc = sigwait(&set, &sig)) == EINTR)
		;
	if (rc)
		return 2;
	if (survive) {
		printf("told ao=%d other=%d\n",
		       __atomic_load_n(&told_ao, __ATOMIC_SEQ_CST),
		       __atomic_load_n(&told_other, __ATOMIC_SEQ_CST));
		fflush(stdout);
	}

	/* release what is held in any case, report the first failure */
	rc = check ? check_pages(buf, len, page, !!devpath) : 0;
	rel = ring >= 0 ? unpin_iouring(ring) : drain(pfd, spliced);
	if (rc || rel)
		return rc ?: rel;
	munmap(buf, len);
	printf("released\n");
	fflush(stdout);
	return 0;

usage:
	fprintf(stderr,
		"usage: %s -m vmsplice|iouring [-c] [-e] [-s] [-u FREE] [-n NODE] [-d DEVICE] [-p PFNFILE] SIZE[K|M|G]\n",
		argv[0]);
	return 2;
}
