/*
 * pollwait FILE TIMEOUT_MS — read FILE, then poll() it for POLLPRI (a
 * change, sysfs-style); on wake, read it again from offset 0 and print the
 * new content.  Exit 0 on a change, 1 on timeout, 2 on error.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int dump(int fd, int out)
{
	char buf[4096];
	ssize_t n;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (out && write(1, buf, (size_t)n) < 0)
			return -1;
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pollwait FILE TIMEOUT_MS\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || dump(fd, 0) < 0) {
		perror(argv[1]);
		return 2;
	}
	struct pollfd p = {.fd = fd, .events = POLLPRI | POLLIN};
	for (;;) {
		int r = poll(&p, 1, atoi(argv[2]));
		if (r < 0) {
			perror("poll");
			return 2;
		}
		if (r == 0)
			return 1;
		if (p.revents & (POLLERR | POLLNVAL))
			return 2;
		if (p.revents & POLLPRI)
			break;
		/* POLLIN alone: readable, no change yet; wait again without it. */
		p.events = POLLPRI;
	}
	return dump(fd, 1) < 0 ? 2 : 0;
}
