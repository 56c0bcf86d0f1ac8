/*
 * fsfuzz DIR N SEED — N hostile writes to the writable files of the
 * sandbox directory DIR: random bytes, oversized writes, truncated JSON,
 * wrong types, out-of-range numbers, injection attempts.  Every payload is
 * invalid by construction, so every write() must fail — or, for a truncated
 * JSON object on the files taking JSON, the close() after it — and with an
 * errno of the family docs/abi.md promises for refusing a bad value to
 * that file:
 *
 *   config          EINVAL (parse, type, range, rule), EBUSY (a boot key
 *                   while running)
 *   definition      EINVAL (not a definition), EBUSY (written while running)
 *   ctl             EINVAL (not a verb)
 *   cpus/target     EINVAL (not a number), ERANGE (out of range)
 *   devices/add     EINVAL (bad spec), ENOENT (its file does not exist)
 *   devices/remove  ENODEV (no such device), EINVAL (not an id)
 *
 * Anything else (EIO, ETIMEDOUT, ECONNRESET, ENOTCONN, EACCES, ...) means
 * the payload reached further than validation, or the daemon is unwell.
 * Prints a histogram of errnos per file; exit 1 if any write succeeded or
 * failed with an errno outside its file's family (each such write is
 * printed), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FAMILY 3
static const struct target {
	const char *file;
	int family[MAX_FAMILY]; /* 0-terminated */
	int json;               /* takes one JSON object, possibly over writes */
} files[] = {
	{ "config", { EINVAL, EBUSY }, 1 },
	{ "definition", { EINVAL, EBUSY }, 1 },
	{ "ctl", { EINVAL }, 0 },
	{ "cpus/target", { EINVAL, ERANGE }, 0 },
	{ "devices/add", { EINVAL, ENOENT }, 1 },
	{ "devices/remove", { ENODEV, EINVAL }, 0 },
};
#define NFILES (sizeof(files) / sizeof(*files))

static int in_family(const struct target *t, int e)
{
	for (int i = 0; i < MAX_FAMILY && t->family[i]; i++)
		if (t->family[i] == e)
			return 1;
	return 0;
}

/* The payload, shown safely (control bytes as \xNN), at most 80 bytes. */
static void show(const char *buf, size_t len)
{
	for (size_t i = 0; i < len && i < 80; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x20 || c >= 0x7f || c == '\\')
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	if (len > 80)
		fprintf(stderr, "... (%zu bytes)", len);
}

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
	if (n <= 0) {
		fprintf(stderr, "fsfuzz: N must be a positive number\n");
		return 2;
	}
	rng_state = strtoull(argv[3], NULL, 10);
	size_t cap = 200 * 1024;
	char *buf = malloc(cap);
	if (!buf)
		return 2;
	static long hist[NFILES][256];
	long ok = 0, foreign = 0, closed = 0;
	for (long i = 0; i < n; i++) {
		size_t which = rnd() % NFILES;
		const struct target *t = &files[which];
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", argv[1], t->file);
		size_t len = payload(buf, cap);
		int fd = open(path, O_WRONLY | O_TRUNC);
		if (fd < 0) {
			fprintf(stderr, "open %s: %s\n", path, strerror(errno));
			free(buf);
			return 1;
		}
		ssize_t r = write(fd, buf, len);
		int err = errno;
		/* A JSON object may span writes: one left incomplete is accepted
		 * by write() and refused by close() (docs/abi.md, Writes). */
		if (close(fd) < 0 && r >= 0 && t->json) {
			r = -1;
			err = errno;
			closed++;
		}
		if (r >= 0) {
			ok++;
			fprintf(stderr, "write #%ld to %s succeeded: '", i, t->file);
			show(buf, len);
			fprintf(stderr, "'\n");
			continue;
		}
		hist[which][err & 0xff]++;
		if (!in_family(t, err)) {
			if (foreign++ < 20) {
				fprintf(stderr, "write #%ld to %s failed with %s, not in its family: '", i,
					t->file, strerror(err));
				show(buf, len);
				fprintf(stderr, "'\n");
			}
		}
	}
	for (size_t f = 0; f < NFILES; f++)
		for (int e = 0; e < 256; e++)
			if (hist[f][e])
				printf("  %-15s %-30s %ld%s\n", files[f].file, strerror(e), hist[f][e],
				       in_family(&files[f], e) ? "" : "  <- not in the family");
	printf("fsfuzz: %ld writes, %ld succeeded, %ld failed outside their errno family "
	       "(%ld incomplete objects refused at close)\n", n, ok, foreign, closed);
	free(buf);
	return ok || foreign ? 1 : 0;
}
