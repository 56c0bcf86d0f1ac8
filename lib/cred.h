/*
 * cred — who asked: the uid, gid and supplementary groups of the process
 * behind a request, and host paths opened with exactly those credentials.
 *
 * A path a caller names is opened on the calling thread with the caller's
 * fsuid, fsgid and groups (the raw setfsuid/setfsgid/setgroups system
 * calls change only the calling thread; glibc's setgroups() would change
 * every thread), so the kernel decides as it would for the caller: search
 * permission on every directory, the mode of the file, symlinks resolved
 * with the caller's rights.  The daemon's own credentials are back before
 * the function returns.  A caller with uid 0 opens with the daemon's full
 * rights.  The descriptor opened is what QEMU later gets, so there is no
 * time-of-check/time-of-use window.
 */
#ifndef SANDBOXFS_CRED_H
#define SANDBOXFS_CRED_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"

#define CRED_GROUPS_MAX 64

struct cred {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[CRED_GROUPS_MAX];
};

/* The daemon itself (root, no groups): what a request of root amounts to. */
extern const struct cred cred_root;

bool cred_is_root(const struct cred *c);
/* "uid 1000 (gid 1000)" into buf; returns buf. */
const char *cred_describe(const struct cred *c, char *buf, size_t len);

/* open(path, flags | O_CLOEXEC | O_NOCTTY, 0600) as `c`; the fd, or
 * -errno with "open PATH as uid U: REASON" in *e. */
int cred_open(const struct cred *c, const char *path, int flags, struct err **e);
/* openat(dirfd, name, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, mode) as
 * `c`: a file of a directory the caller opened, created as the caller. */
int cred_openat(const struct cred *c, int dirfd, const char *name, int flags, int mode,
		struct err **e);
/* mkdir(path, mode) as `c` (the directory is the caller's). */
int cred_mkdir(const struct cred *c, const char *path, int mode, struct err **e);
/* A unix stream socket connected to `path` as `c` (write permission on the
 * socket and search permission to it are the caller's). */
int cred_connect(const struct cred *c, const char *path, struct err **e);

/* A unix stream socket bound at `path` as `c` (the socket file is the
 * caller's; an old socket there is unlinked, as the caller), listening. */
int cred_listen(const struct cred *c, const char *path, struct err **e);

struct json_object;
/* {"uid":U,"gid":G,"groups":[...]} (new reference) and back; EINVAL when
 * the object is not of that shape. */
struct json_object *cred_to_json(const struct cred *c);
int cred_from_json(struct json_object *o, struct cred *out, struct err **e);

#endif
