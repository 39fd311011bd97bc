// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs_write - write a string to a file with one write(2) and say what
 * the kernel answered: "sysfs_write FILE DATA" prints "OK" when the whole
 * of DATA was written, the errno name (EINVAL, EBUSY, ...) when the open
 * or the write failed, or "SHORT:<n>" when only n bytes were taken.
 * DATA is written exactly as given: no newline is added (put one in DATA
 * when wanted) and an empty DATA is a zero-length write.
 * Exit 0 for OK, 1 for a failed or short write, 2 for a usage or open
 * error.
 *
 * "sysfs_write -f FILE DATA" marks the task for fault injection
 * (/proc/self/make-it-fail, Documentation/fault-injection) for the write
 * alone: after the open, before the write, and unmarked right after it,
 * so that a task-filtered failslab or fail_page_alloc counts only the
 * allocations the kernel makes on behalf of that write.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct errno_name {
	int nr;
	const char *name;
};

static const struct errno_name names[] = {
	{ EPERM, "EPERM" },		{ ENOENT, "ENOENT" },
	{ EINTR, "EINTR" },		{ EIO, "EIO" },
	{ ENXIO, "ENXIO" },		{ E2BIG, "E2BIG" },
	{ EAGAIN, "EAGAIN" },		{ ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },		{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },		{ EEXIST, "EEXIST" },
	{ ENODEV, "ENODEV" },		{ EINVAL, "EINVAL" },
	{ ENOSPC, "ENOSPC" },		{ ERANGE, "ERANGE" },
	{ EDEADLK, "EDEADLK" },		{ EOPNOTSUPP, "EOPNOTSUPP" },
	{ ETIMEDOUT, "ETIMEDOUT" },	{ EALREADY, "EALREADY" },
	{ EINPROGRESS, "EINPROGRESS" },	{ ECANCELED, "ECANCELED" },
	{ EOVERFLOW, "EOVERFLOW" },	{ 512, "ERESTARTSYS" },
	{ 524, "ENOTSUPP" },		{ 0, NULL }
};

static void print_errno(int err)
{
	size_t i;

	for (i = 0; names[i].name; i++) {
		if (names[i].nr == err) {
			printf("%s\n", names[i].name);
			return;
		}
	}
	printf("E%d\n", err);
}

/* make_it_fail - mark (1) or unmark (0) this task for fault injection */
static int make_it_fail(int fd, const char *on)
{
	return pwrite(fd, on, 1, 0) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int fd, fail_fd = -1, err;
	const char *file, *data;
	size_t len;
	ssize_t n;

	if (argc == 4 && !strcmp(argv[1], "-f")) {
		fail_fd = open("/proc/self/make-it-fail", O_WRONLY);
		if (fail_fd < 0) {
			fprintf(stderr, "/proc/self/make-it-fail: %s\n", strerror(errno));
			return 2;
		}
		argv++;
		argc--;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s [-f] FILE DATA\n", argv[0]);
		return 2;
	}
	file = argv[1];
	data = argv[2];
	fd = open(file, O_WRONLY);
	if (fd < 0) {
		print_errno(errno);
		return 2;
	}
	len = strlen(data);
	if (fail_fd >= 0 && make_it_fail(fail_fd, "1")) {
		fprintf(stderr, "/proc/self/make-it-fail: %s\n", strerror(errno));
		return 2;
	}
	n = write(fd, data, len);
	err = errno;
	if (fail_fd >= 0 && make_it_fail(fail_fd, "0")) {
		fprintf(stderr, "/proc/self/make-it-fail: %s\n", strerror(errno));
		return 2;
	}
	if (n < 0) {
		print_errno(err);
		close(fd);
		return 1;
	}
	close(fd);
	if ((size_t)n != len) {
		printf("SHORT:%zd\n", n);
		return 1;
	}
	printf("OK\n");
	return 0;
}
