/* support_knobs — see support_knobs.h. */
#include "tests/unit/support_knobs.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "tests/unit/golden_knobs.h"
#include "tests/unit/support_qemu.h"

static const char *const golden[] = {
	"/fw/bios,1.bin", KNOBS_NV_IMG, "/d1.img", KNOBS_CONSOLE_LOG, "/fw/code,1.fd", "/fw/vars.fd",
};
static const char *const base[] = { "bios,1.bin", "nv.img", "d1.img", "c.log", "code,1.fd", "vars.fd" };
static char *real[sizeof(golden) / sizeof(golden[0])];

static char *escaped(const char *s)
{
	struct sbuf b = {0};
	for (; *s; s++)
		sbuf_add(&b, *s == ',' ? ",," : (char[]){ *s, 0 });
	return sbuf_steal(&b);
}

static bool copy_file(const char *from, const char *to)
{
	size_t len = 0;
	cleanup_free char *data = util_read_file(from, &len);
	FILE *f = data ? fopen(to, "w") : NULL;
	bool ok = f && fwrite(data, 1, len, f) == len;
	if (f && fclose(f) != 0)
		ok = false;
	return ok;
}

bool knobs_files(const char *dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(golden); i++) {
		free(real[i]);
		real[i] = xasprintf("%s/%s", dir, base[i]);
	}
	static const char *const bios[] = { "/usr/share/qemu/bios-256k.bin",
					    "/usr/share/seabios/bios-256k.bin" };
	bool have_bios = false;
	for (size_t i = 0; i < ARRAY_SIZE(bios) && !have_bios; i++)
		have_bios = access(bios[i], R_OK) == 0 && copy_file(bios[i], real[0]);
	if (!have_bios) {
		printf("knobs: no SeaBIOS image (bios-256k.bin) to copy\n");
		return false;
	}
	if (sqemu_make_file(real[1], 64 << 20) < 0 || sqemu_make_file(real[2], 16 << 20) < 0 ||
	    sqemu_make_file(real[4], 1 << 20) < 0 || sqemu_make_file(real[5], 128 << 10) < 0) {
		printf("knobs: cannot create the image files under %s\n", dir);
		return false;
	}
	return true;
}

char *knobs_subst(const char *s)
{
	size_t n = ARRAY_SIZE(golden);
	char *from[2 * ARRAY_SIZE(golden)], *to[2 * ARRAY_SIZE(golden)];
	for (size_t i = 0; i < n; i++) {
		from[2 * i] = escaped(golden[i]); /* the longer spelling first */
		to[2 * i] = escaped(real[i] ? real[i] : golden[i]);
		from[2 * i + 1] = xstrdup(golden[i]);
		to[2 * i + 1] = xstrdup(real[i] ? real[i] : golden[i]);
	}
	struct sbuf b = {0};
	while (*s) {
		size_t k = 0;
		while (k < 2 * n && strncmp(s, from[k], strlen(from[k])) != 0)
			k++;
		if (k < 2 * n) {
			sbuf_add(&b, to[k]);
			s += strlen(from[k]);
		} else {
			sbuf_addc(&b, *s++);
		}
	}
	for (size_t k = 0; k < 2 * n; k++) {
		free(from[k]);
		free(to[k]);
	}
	return sbuf_steal(&b);
}
