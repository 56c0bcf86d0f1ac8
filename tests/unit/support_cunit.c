/* support_cunit — see support_cunit.h. */
#include "tests/unit/support_cunit.h"

#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

static unsigned skips;         /* unit_skip() calls */
static unsigned skipped_tests; /* distinct tests (inside unit_run) that skipped */
static CU_pTest last_skipped;

/* One "SKIP-<kind> capability: reason" line.  CUnit's verbose runner has
 * printed "Test: name ..." without a newline when a case runs, so start a
 * line of our own; the capability is one word (spaces become '-'). */
static void skip_line(const char *kind, const char *capability, const char *fmt, va_list ap)
{
	fflush(stdout);
	printf("%sSKIP-%s ", CU_get_current_test() ? "\n" : "", kind);
	const char *c = capability && *capability ? capability : "unnamed";
	for (; *c; c++)
		putchar(*c == ' ' || *c == '\t' || *c == ':' ? '-' : *c);
	fputs(": ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

void unit_skip(const char *capability, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	skip_line("CASE", capability, fmt, ap);
	va_end(ap);
	skips++;
	CU_pTest t = CU_get_current_test();
	if (t && t != last_skipped) {
		skipped_tests++;
		last_skipped = t;
	}
}

int unit_skip_program(const char *capability, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	skip_line("PROGRAM", capability, fmt, ap);
	va_end(ap);
	return 77;
}

unsigned unit_skipped(void) { return skips; }

int unit_run(const char *suite, CU_InitializeFunc init, CU_CleanupFunc clean,
	     const struct unit_test *tests, size_t n)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite(suite, init, clean);
	if (!s) {
		CU_cleanup_registry();
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn)) {
			CU_cleanup_registry();
			return 2;
		}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	skipped_tests = 0;
	last_skipped = NULL;
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
			 CU_get_number_of_suites_failed();
	unsigned run = CU_get_number_of_tests_run();
	unsigned asserts = CU_get_number_of_asserts();
	CU_cleanup_registry();
	if (fails || run == 0)
		return 1;
	if (skipped_tests == run && asserts == 0) {
		printf("\n%s: every case was skipped (%u)\n", suite, run);
		return 77;
	}
	if (skips)
		printf("\n%s: %u skipped (SKIP-CASE lines above)\n", suite, skips);
	return 0;
}

int unit_main(const char *suite, const struct unit_test *tests, size_t n)
{
	return unit_run(suite, NULL, NULL, tests, n);
}

void unit_assert_strv(const struct strv *got, const char *const *want, size_t n)
{
	CU_ASSERT_EQUAL(got->n, n);
	for (size_t i = 0; i < n && i < got->n; i++) {
		CU_ASSERT_STRING_EQUAL(got->v[i], want[i]);
		if (strcmp(got->v[i], want[i]) != 0)
			fprintf(stderr, "\n  argv[%zu]: got '%s' want '%s'\n", i, got->v[i], want[i]);
	}
	if (got->n != n)
		for (size_t i = 0; i < got->n; i++)
			fprintf(stderr, "\n  argv[%zu] = '%s'", i, got->v[i]);
}

int unit_rm_rf(const char *dir)
{
	cleanup_free char *rm = xasprintf("rm -rf '%s'", dir);
	return system(rm) == 0 ? 0 : -1;
}
