/*
 * fsfuzz DIR N SEED — N hostile writes to the writable files of the
 * sandbox directory DIR: random bytes, oversized writes, truncated JSON,
 * wrong types, out-of-range numbers, injection attempts.  Every payload is
 * invalid by construction, so every write() must fail with an errno.
 * Prints a histogram of errnos; exit 1 if any write succeeded or a write
 * returned something other than -1/EINVAL-family errors it cannot explain.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const files[] = {
	"config", "ctl", "cpus/target", "devices/add", "devices/remove",
};

static const char *const bad_json[] = {
	"{\"vcpus\":\"2\"}", "{\"vcpus\":2.5}", "{\"vcpus\":true}", "{\"vcpus\":-1}",
	"{\"memory_mib\":99999999999}", "{\"kernel\":\"relative/path\"}",
	"{\"kernel_params\":\"a\\nb\"}", "{\"machine\":\"nosuch\"}", "{\"accel\":\"xen\"}",
	"[1,2,3]", "\"string\"", "null", "{\"uuid\":\"not-a-uuid\"}", "{\"vcpus\":1}{}",
	"{\"type\":\"block\",\"id\":5}", "{\"type\":\"block\",\"id\":\"a,b\",\"file\":\"/tmp/x\"}",
	"{\"type\":\"block\",\"id\":\"a=b\",\"file\":\"/tmp/x\"}",
	"{\"type\":\"block\",\"id\":\"a\\nb\",\"file\":\"/tmp/x\"}",
	"{\"type\":\"block\",\"id\":\"ok\",\"file\":\"/nonexistent/x.img\"}",
	"{\"type\":\"nosuch\",\"id\":\"x\"}", "{\"type\":\"block\"}",
	"{\"root_ports\":-3}", "{\"bogus\":{}}", "{\"maxvcpus\":0}",
};

static const char *const bad_words[] = {
	"start now", "STOP", "kill -9", "-1", "0", "99999999999999999999", "1e3", "0x10",
	" 3", "3 ", "2\n3", "\n", "nosuch-device", "../../etc/passwd", "rp0",
};

static unsigned long long rng_state;
static unsigned rnd(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng_state >> 33);
}

static size_t payload(char *buf, size_t cap)
{
	size_t n;
	switch (rnd() % 5) {
	case 0: /* random bytes, at least one control byte so it is never a word */
		n = 1 + rnd() % 300;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(rnd() & 0xff);
		buf[rnd() % n] = (char)(1 + rnd() % 8);
		return n;
	case 1: /* huge */
		n = cap;
		memset(buf, '{', n);
		return n;
	case 2: { /* a valid object cut short: never complete */
		static const char j[] = "{\"vcpus\": 2, \"memory_mib\": 512, \"debug\": true}";
		n = 1 + rnd() % (sizeof(j) - 2);
		memcpy(buf, j, n);
		return n;
	}
	case 3: { /* whole but invalid JSON */
		const char *j = bad_json[rnd() % (sizeof(bad_json) / sizeof(*bad_json))];
		n = strlen(j);
		memcpy(buf, j, n);
		return n;
	}
	default: { /* bad words */
		const char *w = bad_words[rnd() % (sizeof(bad_words) / sizeof(*bad_words))];
		n = strlen(w);
		memcpy(buf, w, n);
		return n;
	}
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: fsfuzz DIR N SEED\n");
		return 2;
	}
	long n = atol(argv[2]);
	rng_state = strtoull(argv[3], NULL, 10);
	size_t cap = 200 * 1024;
	char *buf = malloc(cap);
	int hist[256] = {0};
	long ok = 0;
	for (long i = 0; i < n; i++) {
		const char *f = files[rnd() % (sizeof(files) / sizeof(*files))];
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", argv[1], f);
		size_t len = payload(buf, cap);
		int fd = open(path, O_WRONLY | O_TRUNC);
		if (fd < 0) {
			fprintf(stderr, "open %s: %s\n", path, strerror(errno));
			return 1;
		}
		ssize_t r = write(fd, buf, len);
		if (r >= 0) {
			ok++;
			fprintf(stderr, "write #%ld to %s succeeded: '%.*s'\n", i, f, (int)(len > 80 ? 80 : len), buf);
		} else {
			hist[errno & 0xff]++;
		}
		close(fd);
	}
	for (int e = 0; e < 256; e++)
		if (hist[e])
			printf("  %-28s %d\n", strerror(e), hist[e]);
	printf("fsfuzz: %ld writes, %ld succeeded\n", n, ok);
	free(buf);
	return ok ? 1 : 0;
}
