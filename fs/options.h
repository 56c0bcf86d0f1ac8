/*
 * options — the daemon's command line.
 *
 * One table (options.c) is the only list of options: it drives parsing
 * (--opt VALUE, --opt=VALUE, the -o aliases mount(8) and fstab use, the
 * FUSE flags passed through), the usage text and the -o alias list in it.
 */
#ifndef SANDBOXFS_OPTIONS_H
#define SANDBOXFS_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/err.h"
#include "lib/util.h"

struct options {
	/* Daemon options (paths made absolute: the daemon chdirs to /). */
	char *state_dir;
	char *guest_dir;
	char *accel;
	char *log;
	char *owner;           /* as given; parsed into uid/gid */
	bool has_owner;
	uid_t owner_uid;
	gid_t owner_gid;
	char *qemu_user;
	char *qemu_uids;
	char *qemu_dir;
	char *cgroup_parent;
	char *qmp_access;      /* "root" (default) or "owner" */
	bool user_sandboxes;
	bool stop_on_exit;
	bool private_mode;
	bool debug;
	bool help;
	bool version;
	char *source;          /* mount(8) passes one; ignored */
	char *mountpoint;
	/* argv for fuse_main: program name, the FUSE flags and -o mount
	 * options that are not the daemon's, then the mount point. */
	struct strv fuse_argv;
};

/*
 * Parse argv.  EINVAL with a one-line message naming the argument on any
 * unknown option, missing or unexpected value, bad --owner, or too many
 * arguments.  A missing mount point is not an error here (--help and
 * --version need none): check o->mountpoint.
 */
int options_parse(int argc, char **argv, struct options *o, struct err **e);
/* The usage text, from the table, on stdout. */
void options_usage(const char *prog);
/* Built-in guest directory when --guest-dir is not given: `guest` beside
 * the binary (the build tree), else the compiled-in SANDBOXFS_GUEST_DIR. */
char *options_default_guest_dir(void);
void options_release(struct options *o);
static inline void options_releasep(struct options *o) { options_release(o); }
#define cleanup_options __attribute__((cleanup(options_releasep)))

#endif
