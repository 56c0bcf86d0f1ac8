/*
 * testfault — the tests' fault hooks, read once from the daemon's
 * environment: SANDBOXFS_TEST_FAULTS names one hook (docs/testing.md).
 * The one table of hooks is in testfault.c; a value it does not name
 * turns nothing on and is logged.
 */
#ifndef SANDBOXFS_LIB_TESTFAULT_H
#define SANDBOXFS_LIB_TESTFAULT_H

#include <stdbool.h>

enum testfault {
	TESTFAULT_QMP_CUT,    /* "1": SIGUSR2 cuts every QMP connection */
	TESTFAULT_EXIT_LATER, /* "exit-later": exit before a write's later work */
};

/* Whether SANDBOXFS_TEST_FAULTS turns hook `f` on. */
bool testfault_on(enum testfault f);

#endif
