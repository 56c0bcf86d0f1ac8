/*
 * support_cunit — what every CUnit test program shares: the main() (one
 * suite, its tests from a table, the basic runner in verbose mode, and an
 * exit status from the failures), the golden-argv assertion and removing
 * a temporary tree.  Per-program setup (temporary directories, namespaces,
 * defaults, exit 77 skips) stays in the program around unit_main().
 */
#ifndef SANDBOXFS_SUPPORT_CUNIT_H
#define SANDBOXFS_SUPPORT_CUNIT_H

#include <CUnit/CUnit.h>
#include <stddef.h>

struct strv;

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};

/* Register suite `suite` (with optional init/cleanup) holding tests[0..n),
 * run it verbosely and clean the registry up.  Returns 2 when CUnit could
 * not be set up, 1 when a suite, test or assertion failed or no test ran,
 * else 0 — the program's exit status. */
int unit_run(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
	     const struct unit_test *tests, size_t n);
/* unit_run without suite init/cleanup. */
int unit_main(const char *suite, const struct unit_test *tests, size_t n);

/* got is exactly want[0..n): one assertion on the length, one per
 * element present in both; differences and a wrong-length argv are
 * printed. */
void unit_assert_strv(const struct strv *got, const char *const *want, size_t n);

/* rm -rf a test's temporary tree; 0, or -1 when that failed. */
int unit_rm_rf(const char *dir);

#endif
