/* tests/lib/fds.c - see fds.h. */
#include "fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

int fds_open_count(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		/* tests/lib is linked into the fuzz drivers too: no cmocka here. */
		perror("fds_open_count: /proc/self/fd");
		abort();
	}
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

bool fds_is_open(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}
