/*
 * testfault — SANDBOXFS_TEST_FAULTS parsed once against the table of
 * hooks; see testfault.h.
 */
#include "lib/testfault.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static const char *const testfault_names[] = {
	[TESTFAULT_QMP_CUT] = "1",
	[TESTFAULT_EXIT_LATER] = "exit-later",
};

static int testfault_set = -1; /* the hook named, or -1 */
static pthread_once_t testfault_once = PTHREAD_ONCE_INIT;

static void testfault_read(void)
{
	const char *v = getenv("SANDBOXFS_TEST_FAULTS");
	if (!v || !*v)
		return;
	for (size_t i = 0; i < sizeof(testfault_names) / sizeof(testfault_names[0]); i++)
		if (!strcmp(v, testfault_names[i]))
			testfault_set = (int)i;
	if (testfault_set < 0)
		log_warn("SANDBOXFS_TEST_FAULTS=%s names no test fault: none is on", v);
}

bool testfault_on(enum testfault f)
{
	pthread_once(&testfault_once, testfault_read);
	return testfault_set == (int)f;
}
