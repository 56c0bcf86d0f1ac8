/*
 * support_accept — the start and the end every real-QEMU acceptance
 * program of the x86_64 config model (test_accept, test_accept_knobs,
 * test_accept_forms, test_accept_vhost) shares: root and
 * qemu-system-x86_64 or a SKIP-PROGRAM, a private network namespace with
 * the tap sbt0, optionally a hugetlbfs at /dev/hugepages, the temporary
 * directory; then the suite run, the directory removed and the huge pages
 * given back.
 */
#ifndef SANDBOXFS_SUPPORT_ACCEPT_H
#define SANDBOXFS_SUPPORT_ACCEPT_H

#include <stddef.h>

struct unit_test;

/* Before any thread exists: skip (SKIP-PROGRAM, 77) without root or
 * qemu-system-x86_64, enter a private network namespace with tap sbt0,
 * when huge_pages > 0 mount /dev/hugepages for that many surplus 2 MiB
 * pages (sqemu_hugepages_begin; what backs it, or NULL, into *huge_fs and
 * said on stdout), and mkdtemp `dir`.  Returns -1 to go on, else main's
 * exit status. */
int saccept_begin(char *dir, int huge_pages, const char **huge_fs);
/* unit_main(suite, tests, n), then `dir` removed (failing that fails the
 * program) and the huge pages given back: main's exit status. */
int saccept_run(const char *suite, const struct unit_test *tests, size_t n, const char *dir);

#endif
