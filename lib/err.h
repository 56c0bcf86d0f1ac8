/*
 * err — the one error convention of sandboxfs.
 *
 * A fallible function returns int (< 0 on failure) and takes `struct err **`
 * last.  On failure it fills the error object with an errno value and a
 * human-readable message; callers may wrap it with context
 * ("start: qemu exited: ...").  Only fs/ turns an error into a -errno reply;
 * the message goes to the sandbox's `error` file and to the log.
 */
#ifndef SANDBOXFS_ERR_H
#define SANDBOXFS_ERR_H

#include <errno.h>

struct err {
	int code;  /* errno value, > 0 */
	char *msg; /* heap-owned, never NULL once set */
};

/* Set *e (which must be NULL or is replaced) and return -code. */
int err_set(struct err **e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like err_set, appending ": strerror(code)". */
int err_sys(struct err **e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix the message of an existing error with context; returns -code. */
int err_wrap(struct err **e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void err_free(struct err **e);
static inline int err_code(const struct err *e) { return e ? e->code : 0; }
/* -code of the error a callee stored through `e` (-EIO when it stored
 * none, or when `e` itself is NULL): `return err_ret(e);` after a failure. */
static inline int err_ret(struct err **e) { return e && *e ? -(*e)->code : -EIO; }

#define cleanup_err __attribute__((cleanup(err_free)))

#endif
