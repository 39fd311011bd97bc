// SPDX-License-Identifier: GPL-2.0
/*
 * page_poison - poison one page of a process's anonymous memory on a NUMA
 * node with madvise(MADV_HWPOISON), the way a consumed memory error would,
 * and check that the process can no longer read it.
 *
 * "page_poison [-n NODE] [-w] [-s]": map one page bound to NODE (default
 * 1), write it, read its pfn from /proc/self/pagemap (root only), poison
 * it, then read it again. Prints one line:
 *
 *   pfn=<n> node=<n> madvise=<rc> madvise_sigbus=<si_code> read_sigbus=<si_code> addr=<hex>
 *
 * With -s the page is first spliced into a pipe with vmsplice(2) (no
 * SPLICE_F_GIFT): the pipe holds a reference on it across the poison.
 * SIGUSR1 then drains the pipe, which prints
 *
 *   drained=<bytes read> same=<1 if they are what was written, else 0>
 *
 * With -w it then stays, its poisoned mapping in place, until a signal
 * ends it (the caller reads its /proc/PID files meanwhile).
 *
 * node is where move_pages(2) saw the page before the poison; madvise is
 * its errno, 0 on success, -1 when a SIGBUS came before it returned; a
 * *_sigbus of 0 means no SIGBUS arrived at that step (BUS_MCEERR_AR is 4).
 * Exit 0 when the page was on NODE, the poison took (madvise() returned
 * 0, or its SIGBUS was BUS_MCEERR_AR) and the read got SIGBUS with
 * BUS_MCEERR_AR at the page's address; 1 otherwise; 2 on a setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "numa_pages.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON	100
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR	4
#endif

/*
 * The SIGBUS handler records the signal's si_code and address and jumps
 * back; what it records is read and written with atomic builtins, which
 * a signal handler may use.
 */
static sigjmp_buf jump;
static int bus_code;
static void *bus_addr;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	__atomic_store_n(&bus_code, si->si_code, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bus_addr, si->si_addr, __ATOMIC_SEQ_CST);
	siglongjmp(jump, 1);
}

/* The pfn backing @p (present pages only), 0 when it cannot be read. */
static uint64_t pfn_of(void *p, size_t page)
{
	uint64_t ent = 0;
	off_t off = (uintptr_t)p / page * sizeof(ent);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		ent = 0;
	close(fd);
	if (!(ent >> 63))
		return 0;
	return ent & ((1ULL << 55) - 1);
}

/*
 * Poison the page at @p, then read it. Returns madvise()'s errno, 0 on
 * success and -1 when a SIGBUS came before it returned; *madv_code and
 * *read_code get the si_code of a SIGBUS at each step, 0 when none came,
 * and bus_addr the last SIGBUS's address.
 */
static int poison_and_read(char *p, size_t page, int *madv_code,
			   int *read_code)
{
	static int rc;

	rc = -1;
	__atomic_store_n(&bus_code, 0, __ATOMIC_SEQ_CST);
	/* The poisoning task may be signalled on its way out of madvise(). */
	if (!sigsetjmp(jump, 1))
		rc = madvise(p, page, MADV_HWPOISON) ? errno : 0;
	*madv_code = __atomic_load_n(&bus_code, __ATOMIC_SEQ_CST);

	__atomic_store_n(&bus_code, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bus_addr, NULL, __ATOMIC_SEQ_CST);
	if (!sigsetjmp(jump, 1))
		(void)__atomic_load_n(p, __ATOMIC_SEQ_CST);
	*read_code = __atomic_load_n(&bus_code, __ATOMIC_SEQ_CST);
	/* no later SIGBUS may jump to a stale jump buffer */
	signal(SIGBUS, SIG_DFL);
	return rc;
}

int main(int argc, char **argv)
{
	int opt, node = 1, stay = 0, rc_madv, seen = -1, madv_code, read_code;
	int splice = 0, pipefd[2] = { -1, -1 };
	sigset_t usr1;
	char *p;
	struct sigaction sa;
	uint64_t pfn;
	size_t page;

	while ((opt = getopt(argc, argv, "n:ws")) != -1) {
		if (opt == 'w')
			stay = 1;
		else if (opt == 's')
			splice = 1;
		else if (opt == 'n')
			node = atoi(optarg);
		else
			goto usage;
	}
	if (optind != argc || node < 0 || node >= MAX_NODES)
		goto usage;
	page = sysconf(_SC_PAGESIZE);
	/* SIGUSR1 is taken by sigwait() only: blocked before the caller can send it */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &usr1, NULL))
		return 2;

	p = map_on_node(page, node);
	if (p == MAP_FAILED)
		return 2;
	memset(p, 0x5a, page);
	pfn = pfn_of(p, page);
	if (!pfn) {
		fprintf(stderr, "no pfn in /proc/self/pagemap (not root?)\n");
		return 2;
	}
	if (placement(p, page, page))
		return 2;
	if (splice) {
		struct iovec iov = { .iov_base = p, .iov_len = page };

		if (pipe(pipefd) || vmsplice(pipefd[1], &iov, 1, 0) != (ssize_t)page) {
			fprintf(stderr, "vmsplice: %s\n", strerror(errno));
			return 2;
		}
	}
	for (opt = 0; opt < MAX_NODES; opt++)
		if (per_node[opt])
			seen = opt;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL))
		return 2;

	rc_madv = poison_and_read(p, page, &madv_code, &read_code);
	printf("pfn=%llu node=%d madvise=%d madvise_sigbus=%d read_sigbus=%d addr=%#lx\n",
	       (unsigned long long)pfn, seen, rc_madv, madv_code, read_code,
	       (unsigned long)(uintptr_t)p);
	fflush(stdout);
	if (splice) {
		static char buf[65536];
		ssize_t got;
		size_t i, same = 1;

		if (sigwait(&usr1, &opt))
			return 2;
		got = read(pipefd[0], buf, page < sizeof(buf) ? page : sizeof(buf));
		for (i = 0; got > 0 && i < (size_t)got; i++)
			if (buf[i] != 0x5a)
				same = 0;
		printf("drained=%zd same=%zu\n", got, got > 0 ? same : 0);
		fflush(stdout);
	}
	while (stay)
		pause();
	/* the poison took: madvise() returned 0, or its SIGBUS came first */
	return seen == node &&
	       (!rc_madv || (rc_madv < 0 && madv_code == BUS_MCEERR_AR)) &&
	       read_code == BUS_MCEERR_AR &&
	       __atomic_load_n(&bus_addr, __ATOMIC_SEQ_CST) == p ? 0 : 1;

usage:
	fprintf(stderr, "usage: %s [-n NODE] [-w] [-s]\n", argv[0]);
	return 2;
}
