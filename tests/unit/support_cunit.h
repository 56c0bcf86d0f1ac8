/*
 * support_cunit — what every CUnit test program shares: the main() (one
 * suite, its tests from a table, the basic runner in verbose mode, and an
 * exit status from the failures), the golden-argv assertion and removing
 * a temporary tree, and the skip lines the runner counts.  Per-program
 * setup (temporary directories, namespaces, defaults) stays in the program
 * around unit_main().
 *
 * Skips (docs/testing.md): a program that cannot run at all because the
 * machine lacks a capability returns unit_skip_program(...) (exit 77); a
 * case, or part of one, that cannot run calls unit_skip(...) and returns.
 * Both print one line tests/run-units.sh parses and counts:
 *
 *     SKIP-PROGRAM <capability>: <reason>
 *     SKIP-CASE <capability>: <reason>
 *
 * <capability> is one word naming what the machine lacks ("/dev/vhost-vsock",
 * "root", "qemu-system-x86_64", "netns"); under CI=true a skip is a failure
 * unless its capability is listed in tests/skip-allowed.
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
 * 77 when every test that ran called unit_skip() and nothing was asserted
 * (the whole program was skipped, case by case), else 0 — the program's
 * exit status. */
int unit_run(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
	     const struct unit_test *tests, size_t n);
/* unit_run without suite init/cleanup. */
int unit_main(const char *suite, const struct unit_test *tests, size_t n);

/* The running case (or, outside unit_run, the program) leaves out work
 * because the machine lacks `capability`: prints "SKIP-CASE capability:
 * reason" on a line of its own and counts it (unit_skipped()).  The caller
 * returns from the case; what it did assert still counts. */
void unit_skip(const char *capability, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The whole program cannot run: prints "SKIP-PROGRAM capability: reason"
 * and returns 77 for main() to return. */
int unit_skip_program(const char *capability, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* How many unit_skip() calls so far. */
unsigned unit_skipped(void);

/* got is exactly want[0..n): one assertion on the length, one per
 * element present in both; differences and a wrong-length argv are
 * printed. */
void unit_assert_strv(const struct strv *got, const char *const *want, size_t n);

/* rm -rf a test's temporary tree; 0, or -1 when that failed. */
int unit_rm_rf(const char *dir);

#endif
