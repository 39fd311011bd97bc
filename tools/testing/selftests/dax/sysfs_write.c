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

int main(int argc, char **argv)
{
	size_t len;
	ssize_t n;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s FILE DATA\n", argv[0]);
		return 2;
	}
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		print_errno(errno);
		return 2;
	}
	len = strlen(argv[2]);
	n = write(fd, argv[2], len);
	if (n < 0) {
		print_errno(errno);
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
