/* support_accept — see support_accept.h. */
#include "tests/unit/support_accept.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"

int saccept_begin(char *dir, int huge_pages, const char **huge_fs)
{
	cleanup_free char *qemu = sqemu_binary("qemu-system-x86_64");
	if (geteuid() != 0 || access(qemu, X_OK) != 0)
		return unit_skip_program(geteuid() ? "root" : "qemu-system-x86_64",
					 "the real-QEMU acceptance needs root and %s", qemu);
	if (!sqemu_netns_with_tap("sbt0"))
		return 77;
	if (huge_pages > 0) {
		/* Before any thread exists: the private mount namespace for hugetlbfs. */
		*huge_fs = sqemu_hugepages_begin(huge_pages);
		printf("acceptance: /dev/hugepages is %s\n", *huge_fs ? *huge_fs : "unavailable");
	}
	if (!mkdtemp(dir)) {
		sqemu_hugepages_end();
		return 2;
	}
	return -1;
}

int saccept_run(const char *suite, const struct unit_test *tests, size_t n, const char *dir)
{
	int rc = unit_main(suite, tests, n);
	if (unit_rm_rf(dir) < 0 && rc == 0)
		rc = 1;
	sqemu_hugepages_end();
	return rc;
}
