// SPDX-License-Identifier: GPL-2.0
/*
 * loss_victim - a process whose mlocked memory and file page cache are on
 * one NUMA node, for a test that makes that node's memory go away.
 *
 * "loss_victim [-n NODE] -p PFNFILE DIR SIZE": three buffers of SIZE bytes
 * (a K or M suffix is allowed) each, their pages on NODE (default 1):
 *
 *   mlocked  anonymous memory, mbind(MPOL_BIND) to NODE, mlock()ed,
 *            filled with 0xa1;
 *   clean    DIR/clean, filled with 0xc1 and fsync()ed, mapped shared
 *            and read only: clean page cache;
 *   dirty    DIR/dirty, filled with 0xd0 and fsync()ed, mapped shared,
 *            then every page written with 0xd1 through the mapping and
 *            not synced: dirty page cache whose file holds 0xd0.
 *
 * The files are written with write(2) before anything is bound to NODE
 * and dropped from the page cache (POSIX_FADV_DONTNEED), so that their
 * blocks and the file system's metadata are read and cached on other
 * nodes; they are mapped, and then, with the task's policy bound to NODE
 * (set_mempolicy), faulting the mappings in reads their pages into page
 * cache on NODE. The anonymous buffer is kept to base pages
 * (MADV_NOHUGEPAGE).
 * The policy goes back to the default once they are in: nothing the
 * process allocates later (a page read again after the loss) depends
 * on NODE. The caller should keep writeback off meanwhile
 * (vm.dirty_writeback_centisecs=0), or the dirty pages may be cleaned.
 *
 * Then it writes the page frame numbers of the three buffers to PFNFILE
 * (one "0x..." a line, from /proc/self/pagemap: needs CAP_SYS_ADMIN) and
 * prints, with the pages per node as move_pages(2) reports them,
 *
 *   placed mlocked|clean|dirty pages=<n> node0=<n> ... other=<n>
 *   ready
 *
 * and waits for SIGUSR1 (blocked from the start). Then it checks:
 *
 *   mlocked pages=<n> intact=<n> sigbus_ar=<n> bad=<n>
 *   clean pages=<n> resident=<n> intact=<n> sigbus_ar=<n> bad=<n>
 *   dirty fsync=<r> fsync2=<r> read_new=<n> read_old=<n> read_bad=<n>
 *   dirty mapped pages=<n> new=<n> old=<n> sigbus_ar=<n> bad=<n>
 *   done
 *
 * resident: the clean file's pages still in the page cache (mincore(2))
 * before they are read. mlocked, clean: each page read through its
 * mapping; intact: it reads as written (a clean page read again from its
 * file counts), sigbus_ar:
 * the read raised SIGBUS with BUS_MCEERR_AR at that page, bad: anything
 * else. dirty: fsync(2) twice on the file descriptor opened before the
 * loss (<r> is 0 or the errno's name: EIO once when the dirty pages were
 * lost, then 0), then every page read with pread(2) (new: 0xd1, old:
 * 0xd0, what the file had before), then through the mapping.
 *
 * Then it forks a child that maps the same pages (mlock(2) is not
 * inherited: the child has the mlocked buffer's pages, shared until
 * written, in a VMA that is not locked), prints
 *
 *   child <pid>
 *
 * and the child sleeps until its parent ends (PR_SET_PDEATHSIG).
 *
 * Before "ready" it handles SIGBUS: BUS_MCEERR_AO (memory_failure() telling
 * the process that a page it maps is gone) is counted, by whether its
 * address is in the mlocked buffer, and the process goes on; the first
 * line after SIGUSR1, before any buffer is read, is
 *
 *   told ao=<n> mlocked=<n> other=<n>
 *
 * (a signal that arrives while one is pending is merged into it: <n> is
 * at least 1 when any was sent, not the number of pages). Any other
 * SIGBUS outside the reads below ends the process with status 4.
 *
 * "loss_victim -k [-n NODE] -p PFNFILE SIZE" maps, places and mlocks only
 * the anonymous buffer, writes its pfns, prints its "placed" line and
 * "ready", and keeps SIGBUS's default action, with SIGBUS blocked until
 * SIGUSR1: the process and its mappings stay while its pages are taken
 * (each one is told of), and a SIGBUS sent meanwhile ends it when it
 * unblocks SIGBUS after SIGUSR1. Else it exits 3, without touching the
 * buffer.
 *
 * Exit 0 after "done", 2 on a setup error.
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
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "numa_pages.h"

#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR	4
#endif
#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO	5
#endif

#define POLICY_DEFAULT	0	/* MPOL_DEFAULT of <linux/mempolicy.h> */
#define FILL_MLOCKED	0xa1
#define FILL_CLEAN	0xc1
#define FILL_OLD	0xd0
#define FILL_NEW	0xd1

static sigjmp_buf bus_env;
static int bus_code;
static void *bus_addr;
static int bus_reading;
static const char *locked_lo, *locked_hi;
static int told_ao, told_mlocked, told_other;

static void usage(void)
{
	fprintf(stderr, "loss_victim [-n NODE] -p PFNFILE DIR SIZE\n"
		"loss_victim -k [-n NODE] -p PFNFILE SIZE\n");
	exit(2);
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage();
	switch (*end) {
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'M':
		v <<= 20;
		end++;
		break;
	}
	if (*end || !v)
		usage();
	return v;
}

/* Set the task's policy: bound to @node, or the default with @node -1. */
static int task_policy(int node)
{
	unsigned long mask[2] = { 0, 0 };

	if (node < 0)
		return syscall(SYS_set_mempolicy, POLICY_DEFAULT, NULL, 0);
	mask[0] = 1UL << node;
	return syscall(SYS_set_mempolicy, POLICY_BIND, mask, MAX_NODES + 1);
}

/*
 * Write @len bytes of @fill to @path (created or truncated), fsync it and
 * drop its page cache; return the open file descriptor, -1 on error.
 */
static int write_file(const char *path, size_t len, int fill, size_t page)
{
	char *buf;
	size_t done;
	int fd;

	buf = malloc(page);
	if (!buf)
		return -1;
	memset(buf, fill, page);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		free(buf);
		return -1;
	}
	for (done = 0; done < len; done += page) {
		if (pwrite(fd, buf, page, done) != (ssize_t)page) {
			fprintf(stderr, "write %s: %s\n", path, strerror(errno));
			goto fail;
		}
	}
	if (fsync(fd) || posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED)) {
		fprintf(stderr, "fsync %s: %s\n", path, strerror(errno));
		goto fail;
	}
	free(buf);
	return fd;
fail:
	free(buf);
	close(fd);
	return -1;
}

static int place(const char *what, char *p, size_t len, size_t page,
		 int node)
{
	if (placement(p, len, page))
		return -1;
	printf("placed %s pages=%zu", what, len / page);
	print_nodes(node);
	printf("\n");
	return 0;
}

/*
 * BUS_MCEERR_AO: count it and go on. Anything else: back to read_page()
 * when it is reading, else the end of the process.
 */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	const char *a = si->si_addr;

	(void)sig;
	(void)uc;
	if (si->si_code == BUS_MCEERR_AO) {
		__atomic_fetch_add(&told_ao, 1, __ATOMIC_SEQ_CST);
		if (a >= locked_lo && a < locked_hi)
			__atomic_fetch_add(&told_mlocked, 1, __ATOMIC_SEQ_CST);
		else
			__atomic_fetch_add(&told_other, 1, __ATOMIC_SEQ_CST);
		return;
	}
	if (!__atomic_load_n(&bus_reading, __ATOMIC_SEQ_CST))
		_exit(4);
	__atomic_store_n(&bus_code, si->si_code, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bus_addr, si->si_addr, __ATOMIC_SEQ_CST);
	siglongjmp(bus_env, 1);
}

/*
 * The byte every byte of the page at @p holds, -1 for a mix, -2 when
 * reading it raised SIGBUS BUS_MCEERR_AR at the page, -3 for another
 * SIGBUS.
 */
static int read_page(const char *p, size_t page)
{
	size_t j;
	int first;

	__atomic_store_n(&bus_code, 0, __ATOMIC_SEQ_CST);
	if (sigsetjmp(bus_env, 1)) {
		const char *a = __atomic_load_n(&bus_addr, __ATOMIC_SEQ_CST);

		__atomic_store_n(&bus_reading, 0, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&bus_code, __ATOMIC_SEQ_CST) == BUS_MCEERR_AR &&
		    a >= p && a < p + page)
			return -2;
		return -3;
	}
	__atomic_store_n(&bus_reading, 1, __ATOMIC_SEQ_CST);
	first = (unsigned char)__atomic_load_n(p, __ATOMIC_RELAXED);
	for (j = 1; j < page; j++)
		if ((unsigned char)__atomic_load_n(p + j, __ATOMIC_RELAXED) != first)
			break;
	__atomic_store_n(&bus_reading, 0, __ATOMIC_SEQ_CST);
	return j < page ? -1 : first;
}

/*
 * Read every page of [p, p + len) through the mapping: count those that
 * hold @want, @other (when not -1), SIGBUS BUS_MCEERR_AR, and the rest.
 */
static void read_mapped(const char *p, size_t len, size_t page, int want,
			int other, size_t *n_want, size_t *n_other,
			size_t *n_ar, size_t *n_bad)
{
	size_t i;
	int r;

	*n_want = *n_other = *n_ar = *n_bad = 0;
	for (i = 0; i < len; i += page) {
		r = read_page(p + i, page);
		if (r == want)
			(*n_want)++;
		else if (other >= 0 && r == other)
			(*n_other)++;
		else if (r == -2)
			(*n_ar)++;
		else
			(*n_bad)++;
	}
}

/* How many pages of the file mapping [p, p + len) are in the page cache. */
static size_t resident(void *p, size_t len, size_t page)
{
	size_t n = len / page, i, in = 0;
	unsigned char *vec;

	vec = malloc(n);
	if (!vec || mincore(p, len, vec)) {
		free(vec);
		return (size_t)-1;
	}
	for (i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	return in;
}

static const char *fsync_word(int fd)
{
	static char buf[32];

	if (!fsync(fd))
		return "0";
	switch (errno) {
	case EIO:
		return "EIO";
	case ENOSPC:
		return "ENOSPC";
	}
	snprintf(buf, sizeof(buf), "errno%d", errno);
	return buf;
}

static void check_dirty(int fd, const char *map, size_t len, size_t page)
{
	size_t i, n_new = 0, n_old = 0, n_bad = 0, n_ar;
	const char *f1, *f2;
	unsigned char *buf;
	size_t j;

	f1 = fsync_word(fd);
	printf("dirty fsync=%s", f1);
	f2 = fsync_word(fd);
	printf(" fsync2=%s", f2);
	buf = malloc(page);
	for (i = 0; buf && i < len; i += page) {
		if (pread(fd, buf, page, i) != (ssize_t)page) {
			n_bad++;
			continue;
		}
		for (j = 1; j < page && buf[j] == buf[0]; j++)
			;
		if (j < page)
			n_bad++;
		else if (buf[0] == FILL_NEW)
			n_new++;
		else if (buf[0] == FILL_OLD)
			n_old++;
		else
			n_bad++;
	}
	free(buf);
	printf(" read_new=%zu read_old=%zu read_bad=%zu\n", n_new, n_old,
	       n_bad);
	read_mapped(map, len, page, FILL_NEW, FILL_OLD, &n_new, &n_old, &n_ar,
		    &n_bad);
	printf("dirty mapped pages=%zu new=%zu old=%zu sigbus_ar=%zu bad=%zu\n",
	       len / page, n_new, n_old, n_ar, n_bad);
}

/* The anonymous buffer: on @node, base pages, mlocked, filled. */
static char *locked_buffer(size_t len, int node)
{
	char *anon = map_on_node(len, node);

	if (anon == MAP_FAILED)
		return NULL;
	/* order-0 pages: a large folio is not taken from its users */
	if (madvise(anon, len, MADV_NOHUGEPAGE)) {
		fprintf(stderr, "madvise: %s\n", strerror(errno));
		return NULL;
	}
	if (mlock(anon, len)) {
		fprintf(stderr, "mlock: %s\n", strerror(errno));
		return NULL;
	}
	memset(anon, FILL_MLOCKED, len);
	return anon;
}

int main(int argc, char **argv)
{
	char path_clean[4096], path_dirty[4096];
	char *anon, *clean = NULL, *dirty = NULL;
	size_t len, page, i, a, b, c, d, r;
	const char *pfn_path = NULL;
	int node = 1, opt, fd_clean = -1, fd_dirty = -1, pagemap;
	int only_locked = 0;
	pid_t child = -1;
	struct sigaction sa;
	sigset_t set, bus;
	FILE *out;

	while ((opt = getopt(argc, argv, "kn:p:")) != -1) {
		switch (opt) {
		case 'k':
			only_locked = 1;
			break;
		case 'n':
			node = atoi(optarg);
			break;
		case 'p':
			pfn_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + (only_locked ? 1 : 2) != argc || !pfn_path || node < 0 ||
	    node >= MAX_NODES)
		usage();
	len = parse_size(argv[argc - 1]);
	page = sysconf(_SC_PAGESIZE);
	if (len % page)
		usage();

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 2;
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	if (only_locked && sigprocmask(SIG_BLOCK, &bus, NULL))
		return 2;

	if (!only_locked) {
		snprintf(path_clean, sizeof(path_clean), "%s/clean", argv[optind]);
		snprintf(path_dirty, sizeof(path_dirty), "%s/dirty", argv[optind]);
		fd_clean = write_file(path_clean, len, FILL_CLEAN, page);
		fd_dirty = write_file(path_dirty, len, FILL_OLD, page);
		if (fd_clean < 0 || fd_dirty < 0)
			return 2;
	}

	anon = locked_buffer(len, node);
	if (!anon)
		return 2;
	if (place("mlocked", anon, len, page, node))
		return 2;

	if (!only_locked) {
		clean = mmap(NULL, len, PROT_READ, MAP_SHARED, fd_clean, 0);
		dirty = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			     fd_dirty, 0);
		if (clean == MAP_FAILED || dirty == MAP_FAILED) {
			fprintf(stderr, "mmap: %s\n", strerror(errno));
			return 2;
		}
		/* from here to the default policy: only the faults allocate */
		if (task_policy(node)) {
			fprintf(stderr, "set_mempolicy node %d: %s\n", node,
				strerror(errno));
			return 2;
		}
		for (i = 0; i < len; i += page)
			(void)__atomic_load_n(clean + i, __ATOMIC_RELAXED);
		for (i = 0; i < len; i += page)
			(void)__atomic_load_n(dirty + i, __ATOMIC_RELAXED);
		memset(dirty, FILL_NEW, len);
		if (task_policy(-1)) {
			fprintf(stderr, "set_mempolicy default: %s\n",
				strerror(errno));
			return 2;
		}
		if (place("clean", clean, len, page, node) ||
		    place("dirty", dirty, len, page, node))
			return 2;
	}

	pagemap = open("/proc/self/pagemap", O_RDONLY);
	out = fopen(pfn_path, "w");
	if (pagemap < 0 || !out) {
		fprintf(stderr, "pagemap, %s: %s\n", pfn_path, strerror(errno));
		return 2;
	}
	if (write_pfns(out, pagemap, anon, len, page) ||
	    (!only_locked &&
	     (write_pfns(out, pagemap, clean, len, page) ||
	      write_pfns(out, pagemap, dirty, len, page))) ||
	    fclose(out))
		return 2;
	close(pagemap);

	if (!only_locked) {
		child = fork();
		if (child < 0) {
			fprintf(stderr, "fork: %s\n", strerror(errno));
			return 2;
		}
		if (!child) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			for (;;)
				pause();
		}
		printf("child %d\n", (int)child);
		locked_lo = anon;
		locked_hi = anon + len;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		if (sigaction(SIGBUS, &sa, NULL))
			return 2;
	}
	printf("ready\n");
	fflush(stdout);

	/* a handled SIGBUS interrupts the wait */
	while (sigwaitinfo(&set, NULL) < 0)
		if (errno != EINTR)
			return 2;
	if (only_locked) {
		/* a pending SIGBUS ends the process here */
		sigprocmask(SIG_UNBLOCK, &bus, NULL);
		return 3;
	}

	printf("told ao=%d mlocked=%d other=%d\n",
	       __atomic_load_n(&told_ao, __ATOMIC_SEQ_CST),
	       __atomic_load_n(&told_mlocked, __ATOMIC_SEQ_CST),
	       __atomic_load_n(&told_other, __ATOMIC_SEQ_CST));
	read_mapped(anon, len, page, FILL_MLOCKED, -1, &a, &b, &c, &d);
	printf("mlocked pages=%zu intact=%zu sigbus_ar=%zu bad=%zu\n",
	       len / page, a, c, d);
	r = resident(clean, len, page);
	read_mapped(clean, len, page, FILL_CLEAN, -1, &a, &b, &c, &d);
	printf("clean pages=%zu resident=%zd intact=%zu sigbus_ar=%zu bad=%zu\n",
	       len / page, (ssize_t)r, a, c, d);
	check_dirty(fd_dirty, dirty, len, page);
	/* no later SIGBUS may jump to a stale jump buffer */
	signal(SIGBUS, SIG_DFL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	printf("done\n");
	fflush(stdout);
	return 0;
}
