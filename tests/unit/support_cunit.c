/* support_cunit — see support_cunit.h. */
#include "tests/unit/support_cunit.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

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
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
			 CU_get_number_of_suites_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	return fails || run == 0 ? 1 : 0;
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
