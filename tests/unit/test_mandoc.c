/*
 * test_mandoc — docs/sandboxfs.1 and the mount's README say the same.
 *
 * The README is generated from the fs tables (fs_readme); the man page's
 * FILES list (the .EX block after ".SH FILES") must list exactly the same
 * paths, in the same order, each with the same one-line help.  On a
 * difference the expected block is written to build/man-files.txt, ready
 * to paste.  Also: the README names every path of the tables and every
 * ctl verb and state.
 *
 * Runs from the repository root (as make does); argv[1] may name the page.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "fs/fs.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"

static const char *man_path = "docs/sandboxfs.1";

/* "PATH  help" lines as the tables give them. */
static void want_line(const char *path, const struct fs_node *n, void *opaque)
{
	struct strv *out = opaque;
	strv_addf(out, "%s %s", path, n->help ? n->help : "");
}

/* troff to text for the few escapes an .EX block here uses. */
static char *man_unescape(const char *s)
{
	struct sbuf b = {0};
	for (const char *p = s; *p; p++) {
		if (!strncmp(p, "\\-", 2))
			sbuf_addc(&b, '-'), p++;
		else if (!strncmp(p, "\\(aq", 4))
			sbuf_addc(&b, '\''), p += 3;
		else if (!strncmp(p, "\\e", 2))
			sbuf_addc(&b, '\\'), p++;
		else if (!strncmp(p, "\\&", 2))
			p++;
		else
			sbuf_addc(&b, *p);
	}
	return sbuf_steal(&b);
}

/* "PATH<spaces>help" -> "PATH help". */
static char *squeeze(const char *line)
{
	size_t n = strcspn(line, " ");
	const char *rest = line + n;
	while (*rest == ' ')
		rest++;
	return xasprintf("%.*s %s", (int)n, line, rest);
}

static int man_files(struct strv *out)
{
	FILE *f = fopen(man_path, "r");
	if (!f) {
		fprintf(stderr, "\n  cannot open %s (run from the repository root)\n", man_path);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int stage = 0; /* 0: before FILES, 1: in FILES before .EX, 2: in the block */
	while (stage < 3 && getline(&line, &cap, f) >= 0) {
		line[strcspn(line, "\n")] = '\0';
		if (stage == 0 && !strcmp(line, ".SH FILES"))
			stage = 1;
		else if (stage == 1 && !strcmp(line, ".EX"))
			stage = 2;
		else if (stage == 2 && !strcmp(line, ".EE"))
			stage = 3;
		else if (stage == 2) {
			cleanup_free char *text = man_unescape(line);
			strv_add_take(out, squeeze(text));
		}
	}
	free(line);
	fclose(f);
	return stage == 3 ? 0 : -1;
}

static void write_expected(const struct strv *want)
{
	FILE *f = fopen("build/man-files.txt", "w");
	if (!f)
		return;
	for (size_t i = 0; i < want->n; i++) {
		size_t n = strcspn(want->v[i], " ");
		cleanup_sbuf struct sbuf b = {0};
		sbuf_printf(&b, "%-28.*s%s", (int)n, want->v[i], want->v[i] + n + 1);
		for (const char *p = b.s; *p; p++)
			fputs(*p == '-' ? "\\-" : *p == '\'' ? "\\(aq" : *p == '\\' ? "\\e" : (char[]){*p, 0}, f);
		fputc('\n', f);
	}
	fclose(f);
	fprintf(stderr, "\n  the expected FILES block is in build/man-files.txt\n");
}

static void test_man_files_match(void)
{
	cleanup_strv struct strv want = {0}, got = {0};
	fs_tree_walk(want_line, &want);
	CU_ASSERT_FATAL(want.n > 20);
	CU_ASSERT_EQUAL_FATAL(man_files(&got), 0);
	int bad = want.n != got.n;
	for (size_t i = 0; i < want.n || i < got.n; i++) {
		const char *w = i < want.n ? want.v[i] : "(nothing)", *g = i < got.n ? got.v[i] : "(nothing)";
		if (strcmp(w, g) != 0) {
			fprintf(stderr, "\n  %s FILES line %zu: have \"%s\", want \"%s\"", man_path, i + 1, g, w);
			bad++;
		}
	}
	if (bad)
		write_expected(&want);
	CU_ASSERT_EQUAL(bad, 0);
}

static void readme_has(const char *path, const struct fs_node *n, void *opaque)
{
	const char *readme = opaque;
	cleanup_free char *needle = xasprintf("  %s ", path);
	if (!strstr(readme, needle)) {
		fprintf(stderr, "\n  the README lacks %s", path);
		CU_FAIL("README lacks a path");
	}
}

static void test_readme_complete(void)
{
	cleanup_sbuf struct sbuf r = {0};
	fs_readme(&r);
	fs_tree_walk(readme_has, r.s);
	static const char *const words[] = { "start: ", "stop: ", "kill: ", "pause: ", "resume: ",
					     " created", " running", " paused", " stopped", " crashed" };
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		CU_ASSERT_PTR_NOT_NULL(strstr(r.s, words[i]));
}

int main(int argc, char **argv)
{
	if (argc > 1)
		man_path = argv[1];
	static const struct unit_test tests[] = {
		{ "man page FILES = the tables' paths and help", test_man_files_match },
		{ "README names every path, verb and state", test_readme_complete },
	};
	return unit_main("mandoc", tests, ARRAY_SIZE(tests));
}
