/*
 * test_abidoc — docs/abi.md and the fs tables cannot drift apart.
 *
 * Walks the directory tables from `fs_root` (fs/fs.h) and builds the list of
 * every path in the tree, dynamic children under the placeholder names
 * `<name>` (a sandbox, at the root) and `<id>` (a device or a bridge).
 * Directories are written with a trailing '/': "<name>/cpus/".  Then:
 *
 *   - every path has exactly one "### `<path>`" heading in docs/abi.md;
 *   - every such heading names a path that exists in the tables;
 *   - the section under each heading states the node's mode as the table
 *     sets it, on its "- Mode: `0644`, regular file" line (or "directory").
 *
 * Runs from the repository root (as make does) and reads "docs/abi.md";
 * an explicit path may be given as argv[1].
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"

static const char *abi_path = "docs/abi.md";

/* ---- the tree, from the tables ---------------------------------------- */

struct tree_path {
	char *path;
	mode_t mode;
};

static struct tree_path *tree;
static size_t ntree;
static int tree_errors; /* malformed table entries, reported by tree_shape */

static void tree_add(const char *path, mode_t mode)
{
	tree = xrealloc(tree, (ntree + 1) * sizeof(*tree));
	tree[ntree].path = xstrdup(path);
	tree[ntree].mode = mode;
	ntree++;
}

static void walk(const struct fs_dir *d, const char *prefix, int depth);

static void visit(const struct fs_node *n, const char *prefix, const char *name, int depth)
{
	bool dir = S_ISDIR(n->mode);
	cleanup_free char *path = xasprintf("%s%s%s", prefix, name, dir ? "/" : "");
	tree_add(path, n->mode);
	if (dir && n->dir)
		walk(n->dir, path, depth + 1);
}

static void walk(const struct fs_dir *d, const char *prefix, int depth)
{
	if (depth >= 16) { /* a cycle in the tables */
		fprintf(stderr, "\n  the tables nest deeper than 16 levels at %s\n", prefix);
		tree_errors++;
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		const char *name = d->nodes[i].name;
		if (!name || !*name || strchr(name, '/')) {
			fprintf(stderr, "\n  bad node name under '%s'\n", prefix);
			tree_errors++;
			continue;
		}
		visit(&d->nodes[i], prefix, name, depth);
	}
	if (d->child)
		visit(d->child, prefix, depth == 0 ? "<name>" : "<id>", depth);
}

static const struct tree_path *tree_find(const char *path)
{
	for (size_t i = 0; i < ntree; i++)
		if (!strcmp(tree[i].path, path))
			return &tree[i];
	return NULL;
}

/* ---- the document ------------------------------------------------------ */

struct section {
	char *path;     /* from "### `path`"; NULL if the heading is malformed */
	char *heading;  /* the whole heading line */
	char *mode_line; /* first "- Mode:" line of the section, or NULL */
	int line;
};

static struct section *secs;
static size_t nsecs;
static bool doc_loaded;

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static int load_doc(void)
{
	FILE *f = fopen(abi_path, "r");
	if (!f) {
		fprintf(stderr, "\ntest_abidoc: cannot open %s (run from the repository root)\n",
			abi_path);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	bool in_fence = false;
	struct section *cur = NULL;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		chomp(line);
		if (!strncmp(line, "```", 3)) {
			in_fence = !in_fence;
			continue;
		}
		if (in_fence)
			continue;
		if (!strncmp(line, "#", 1)) {
			cur = NULL;
			if (strncmp(line, "### `", 5) != 0)
				continue;
			secs = xrealloc(secs, (nsecs + 1) * sizeof(*secs));
			cur = &secs[nsecs++];
			memset(cur, 0, sizeof(*cur));
			cur->heading = xstrdup(line);
			cur->line = lineno;
			const char *p = line + 5;
			const char *end = strchr(p, '`');
			/* Exactly "### `path`": nothing after the closing backtick. */
			if (end && end > p && end[1] == '\0')
				cur->path = xstrndup(p, (size_t)(end - p));
			continue;
		}
		if (cur && !cur->mode_line && !strncmp(line, "- Mode:", 7))
			cur->mode_line = xstrdup(line);
	}
	free(line);
	fclose(f);
	doc_loaded = true;
	return 0;
}

static int suite_init(void)
{
	walk(fs_root.dir, "", 0);
	return load_doc() < 0 ? -1 : 0;
}

static int suite_clean(void)
{
	for (size_t i = 0; i < ntree; i++)
		free(tree[i].path);
	free(tree);
	for (size_t i = 0; i < nsecs; i++) {
		free(secs[i].path);
		free(secs[i].heading);
		free(secs[i].mode_line);
	}
	free(secs);
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

/* The walk itself found the tree the ABI promises (a sanity floor). */
static void test_tree_shape(void)
{
	static const char *const must[] = {
		"README", "version", "<name>/", "<name>/ctl", "<name>/cpus/target",
		"<name>/devices/add", "<name>/devices/<id>/spec", "<name>/bridges/<id>",
	};
	CU_ASSERT_EQUAL(tree_errors, 0);
	for (size_t i = 0; i < ARRAY_SIZE(must); i++) {
		CU_ASSERT_PTR_NOT_NULL(tree_find(must[i]));
		if (!tree_find(must[i]))
			fprintf(stderr, "\n  the tables have no %s\n", must[i]);
	}
}

static void test_every_path_documented(void)
{
	CU_ASSERT_FATAL(doc_loaded);
	int missing = 0;
	for (size_t i = 0; i < ntree; i++) {
		int found = 0;
		for (size_t j = 0; j < nsecs; j++)
			found += secs[j].path && !strcmp(secs[j].path, tree[i].path);
		if (found != 1) {
			fprintf(stderr, "\n  %s: %s has %d \"### `%s`\" headings (want 1)", abi_path,
				tree[i].path, found, tree[i].path);
			missing++;
		}
	}
	if (missing)
		fprintf(stderr, "\n");
	CU_ASSERT_EQUAL(missing, 0);
}

static void test_every_heading_exists(void)
{
	CU_ASSERT_FATAL(doc_loaded);
	int bad = 0;
	for (size_t j = 0; j < nsecs; j++) {
		if (!secs[j].path) {
			fprintf(stderr, "\n  %s:%d: malformed path heading: %s", abi_path, secs[j].line,
				secs[j].heading);
			bad++;
		} else if (!tree_find(secs[j].path)) {
			fprintf(stderr, "\n  %s:%d: %s is not in the fs tables", abi_path, secs[j].line,
				secs[j].path);
			bad++;
		}
	}
	if (bad)
		fprintf(stderr, "\n");
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_modes_match(void)
{
	CU_ASSERT_FATAL(doc_loaded);
	int bad = 0;
	for (size_t j = 0; j < nsecs; j++) {
		const struct tree_path *t = secs[j].path ? tree_find(secs[j].path) : NULL;
		if (!t)
			continue; /* reported above */
		char want[64];
		snprintf(want, sizeof(want), "- Mode: `%04o`, %s", (unsigned)(t->mode & 07777),
			 S_ISDIR(t->mode) ? "directory" : "regular file");
		const char *got = secs[j].mode_line;
		if (!got || strncmp(got, want, strlen(want)) != 0) {
			fprintf(stderr, "\n  %s:%d: %s: want a line starting \"%s\", have \"%s\"",
				abi_path, secs[j].line, t->path, want, got ? got : "(none)");
			bad++;
		}
	}
	if (bad)
		fprintf(stderr, "\n");
	CU_ASSERT_EQUAL(bad, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		abi_path = argv[1];
	static const struct unit_test tests[] = {
		{ "tree_shape", test_tree_shape },
		{ "every_path_documented", test_every_path_documented },
		{ "every_heading_exists", test_every_heading_exists },
		{ "modes_match", test_modes_match },
	};
	return unit_run("abidoc", suite_init, suite_clean, tests, ARRAY_SIZE(tests));
}
