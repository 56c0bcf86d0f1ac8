/*
 * options — the daemon's command line, driven by one table.
 *
 * Grammar (GNU style; the order of options does not matter, the last of
 * a repeated value option wins):
 *
 *   sandboxfs { OPTION } [SOURCE] MOUNTPOINT
 *   OPTION  := --NAME VALUE | --NAME=VALUE     an option that takes a value
 *            | --NAME                          a flag
 *            | -C [-C...] | -CD...             short flags, clusterable (-fs)
 *            | -o LIST | -oLIST                mount options
 *            | --                              the rest are arguments
 *   LIST    := ITEM { "," ITEM }               "\," is a comma inside an item
 *   ITEM    := ONAME=VALUE | ONAME             a daemon option by its -o name
 *            | anything else                   a FUSE mount option, passed on
 *
 * The -o names exist for mount(8) and fstab, which run
 * `sandboxfs SOURCE MOUNTPOINT -o LIST` (through mount.fuse3); SOURCE is
 * ignored.  A FUSE flag (-f, -d, -s) and the FUSE mount options are passed
 * to fuse_main unchanged, which rejects the ones it does not know.  An
 * unknown option of our own syntax (--x, -x) is an error naming it.
 */
#define FUSE_USE_VERSION 35
#include "fs/options.h"

#include <fuse_lowlevel.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifndef SANDBOXFS_GUEST_DIR /* the Makefile sets it from prefix / guestdir */
#define SANDBOXFS_GUEST_DIR "/usr/local/share/sandboxfs/guest"
#endif

enum opt_kind {
	OPT_VALUE, /* a string member */
	OPT_FLAG,  /* a bool member */
	OPT_FUSE,  /* passed to fuse_main as fuse_arg */
	OPT_MOUNT, /* -o LIST */
};

struct opt_def {
	const char *name;     /* --name; NULL: none */
	char short_name;      /* -c; 0: none */
	const char *o_name;   /* -o alias; NULL: none */
	const char *metavar;  /* NULL: takes no value */
	enum opt_kind kind;
	size_t off;           /* OPT_VALUE / OPT_FLAG: member of struct options */
	const char *fuse_arg; /* OPT_FUSE */
	const char *help;     /* lines split at \n */
};

#define VAL(n, o, m, member, h) {n, 0, o, m, OPT_VALUE, offsetof(struct options, member), NULL, h}
#define FLAG(n, s, o, member, h) {n, s, o, NULL, OPT_FLAG, offsetof(struct options, member), NULL, h}
#define FUSE(n, s, arg, h) {n, s, NULL, NULL, OPT_FUSE, 0, arg, h}

static const struct opt_def opt_table[] = {
	VAL("state-dir", "state_dir", "DIR", state_dir,
	    "sandbox state, QMP sockets, logs\n(default /run/sandboxfs)"),
	VAL("guest-dir", "guest_dir", "DIR", guest_dir,
	    "built-in guest: vmlinuz, initramfs.cpio.gz\n"
	    "(default: guest beside the binary, else\n" SANDBOXFS_GUEST_DIR ")"),
	VAL("accel", "accel", "ACCEL", accel, "default accelerator (default tcg,thread=multi)"),
	VAL("log", "log", "FILE", log, "append the daemon log to FILE"),
	VAL("owner", "owner", "UID:GID", owner,
	    "owner of the tree, and of the sandboxes root\nmakes until they are chowned"),
	VAL("qemu-uids", "qemu_uids", "FIRST:COUNT", qemu_uids,
	    "each sandbox's QEMU its own uid and gid\nfrom this range (default 1879048192:65536)"),
	VAL("qemu-user", "qemu_user", "USER", qemu_user,
	    "every QEMU as the account USER instead;\nroot: as the daemon, unconfined"),
	VAL("qemu-dir", "qemu_dir", "DIR[:DIR...]", qemu_dir,
	    "where a non-root writer's qemu may point\n(default /usr/bin and qemu-10/usr/bin beside\nthe binary)"),
	VAL("cgroup-parent", "cgroup_parent", "NAME", cgroup_parent,
	    "each QEMU in the cgroup NAME/sb-SANDBOX\n(default sandboxfs; empty: none)"),
	VAL("qmp-access", "qmp_access", "WHO", qmp_access,
	    "who may open a sandbox's raw qmp file: root\n(default) or owner (its owner too; raw QMP\ncan read guest memory)"),
	FLAG("user-sandboxes", 0, "user_sandboxes", user_sandboxes,
	     "any user may mkdir a sandbox (then theirs)"),
	FLAG("private", 0, "private", private_mode, "nothing world-readable"),
	FLAG("stop-on-exit", 0, "stop_on_exit", stop_on_exit,
	     "stop running sandboxes when the daemon exits\n"
	     "(default: leave them running; the next daemon\nre-adopts them)"),
	FLAG("debug", 0, NULL, debug, "verbose log"),
	FUSE("foreground", 'f', "-f", "stay in the foreground"),
	FUSE(NULL, 'd', "-d", "FUSE debug output (implies -f)"),
	FUSE(NULL, 's', "-s", "accepted; one thread at a time reads the FUSE\ndevice (what may wait runs on workers)"),
	{NULL, 'o', NULL, "OPT[,OPT...]", OPT_MOUNT, 0, NULL,
	 "mount options: FUSE's (below) and the options above as"},
	FLAG("help", 'h', NULL, help, "print this and exit"),
	FLAG("version", 'V', NULL, version, "print the sandboxfs, libfuse and QEMU versions"),
};

static const struct opt_def *opt_by_long(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].name && strlen(opt_table[i].name) == n &&
		    strncmp(opt_table[i].name, name, n) == 0)
			return &opt_table[i];
	return NULL;
}

static const struct opt_def *opt_by_short(char c)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].short_name == c)
			return &opt_table[i];
	return NULL;
}

static const struct opt_def *opt_by_o_name(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].o_name && strlen(opt_table[i].o_name) == n &&
		    strncmp(opt_table[i].o_name, name, n) == 0)
			return &opt_table[i];
	return NULL;
}

static int opt_mount_list(struct options *o, const char *list, struct sbuf *fuse_opts,
			  struct err **e);

/* `spelled` is how the user wrote the option, for messages. */
static int opt_apply(struct options *o, const struct opt_def *d, const char *val,
		     const char *spelled, struct sbuf *fuse_opts, struct err **e)
{
	switch (d->kind) {
	case OPT_VALUE: {
		if (!*val)
			return err_set(e, EINVAL, "option '%s' needs a value (%s)", spelled, d->metavar);
		char **member = (char **)((char *)o + d->off);
		free(*member);
		*member = xstrdup(val);
		return 0;
	}
	case OPT_FLAG:
		*(bool *)((char *)o + d->off) = true;
		return 0;
	case OPT_FUSE:
		strv_add(&o->fuse_argv, d->fuse_arg);
		return 0;
	case OPT_MOUNT:
		return opt_mount_list(o, val, fuse_opts, e);
	}
	return 0;
}

/* One -o item: `item` unescaped, `raw` as written (what FUSE gets). */
static int opt_mount_one(struct options *o, const char *item, const char *raw,
			 struct sbuf *fuse_opts, struct err **e)
{
	const char *eq = strchr(item, '=');
	size_t n = eq ? (size_t)(eq - item) : strlen(item);
	const struct opt_def *d = opt_by_o_name(item, n);
	if (!d) {
		if (fuse_opts->len)
			sbuf_addc(fuse_opts, ',');
		sbuf_add(fuse_opts, raw);
		return 0;
	}
	cleanup_free char *spelled = xasprintf("-o %s", d->o_name);
	if (d->metavar && !eq)
		return err_set(e, EINVAL, "option '%s' needs a value (%s=%s)", spelled, d->o_name,
			       d->metavar);
	if (!d->metavar && eq)
		return err_set(e, EINVAL, "option '%s' takes no value", spelled);
	return opt_apply(o, d, eq ? eq + 1 : NULL, spelled, fuse_opts, e);
}

static int opt_mount_list(struct options *o, const char *list, struct sbuf *fuse_opts,
			  struct err **e)
{
	const char *p = list;
	while (*p) {
		cleanup_sbuf struct sbuf raw = {0};
		cleanup_sbuf struct sbuf item = {0};
		for (; *p && *p != ','; p++) {
			if (*p == '\\' && p[1]) {
				sbuf_addn(&raw, p, 2);
				p++;
			} else {
				sbuf_addc(&raw, *p);
			}
			sbuf_addc(&item, *p);
		}
		if (*p == ',')
			p++;
		if (item.len) {
			int r = opt_mount_one(o, item.s, raw.s, fuse_opts, e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int opt_long(struct options *o, int argc, char **argv, int *i, struct sbuf *fuse_opts,
		    struct err **e)
{
	const char *a = argv[*i] + 2;
	const char *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	const struct opt_def *d = opt_by_long(a, n);
	if (!d)
		return err_set(e, EINVAL, "unknown option '--%.*s'", (int)n, a);
	cleanup_free char *spelled = xasprintf("--%s", d->name);
	const char *val = NULL;
	if (d->metavar) {
		if (eq)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else
			return err_set(e, EINVAL, "option '%s' needs a value (%s)", spelled, d->metavar);
	} else if (eq) {
		return err_set(e, EINVAL, "option '%s' takes no value", spelled);
	}
	return opt_apply(o, d, val, spelled, fuse_opts, e);
}

/* -f, -fs, -o LIST, -oLIST, -fo LIST. */
static int opt_short(struct options *o, int argc, char **argv, int *i, struct sbuf *fuse_opts,
		     struct err **e)
{
	for (const char *c = argv[*i] + 1; *c; c++) {
		const struct opt_def *d = opt_by_short(*c);
		if (!d)
			return err_set(e, EINVAL, "unknown option '-%c'", *c);
		char spelled[3] = {'-', *c, '\0'};
		if (!d->metavar) {
			int r = opt_apply(o, d, NULL, spelled, fuse_opts, e);
			if (r < 0)
				return r;
			continue;
		}
		const char *val = c[1] ? c + 1 : NULL;
		if (!val && *i + 1 < argc)
			val = argv[++*i];
		if (!val)
			return err_set(e, EINVAL, "option '%s' needs a value (%s)", spelled, d->metavar);
		return opt_apply(o, d, val, spelled, fuse_opts, e);
	}
	return 0;
}

/* The daemon chdirs to / when it goes to the background. */
static void opt_absolute(char **path)
{
	char cwd[PATH_MAX];
	if (!*path || (*path)[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return;
	char *abs = xasprintf("%s/%s", cwd, *path);
	free(*path);
	*path = abs;
}

static int opt_finish(struct options *o, struct strv *args, struct sbuf *fuse_opts, struct err **e)
{
	if (args->n > 2)
		return err_set(e, EINVAL, "too many arguments ('%s')", args->v[2]);
	if (args->n == 2)
		o->source = xstrdup(args->v[0]);
	if (args->n)
		o->mountpoint = xstrdup(args->v[args->n - 1]);
	if (o->owner) {
		unsigned long u, g;
		char extra;
		if (sscanf(o->owner, "%lu:%lu%c", &u, &g, &extra) != 2)
			return err_set(e, EINVAL, "--owner wants UID:GID (numbers), not '%s'", o->owner);
		o->has_owner = true;
		o->owner_uid = (uid_t)u;
		o->owner_gid = (gid_t)g;
	}
	if (o->qmp_access && strcmp(o->qmp_access, "root") && strcmp(o->qmp_access, "owner"))
		return err_set(e, EINVAL, "--qmp-access wants root or owner, not '%s'", o->qmp_access);
	opt_absolute(&o->state_dir);
	opt_absolute(&o->guest_dir);
	opt_absolute(&o->log);
	if (fuse_opts->len) {
		strv_add(&o->fuse_argv, "-o");
		strv_add(&o->fuse_argv, fuse_opts->s);
	}
	/* fuse_main would read a mount point starting with '-' as an option. */
	if (o->mountpoint)
		strv_add_take(&o->fuse_argv, o->mountpoint[0] == '-' ? xasprintf("./%s", o->mountpoint)
								     : xstrdup(o->mountpoint));
	return 0;
}

int options_parse(int argc, char **argv, struct options *o, struct err **e)
{
	cleanup_sbuf struct sbuf fuse_opts = {0};
	cleanup_strv struct strv args = {0};
	bool only_args = false;
	strv_add(&o->fuse_argv, argc > 0 ? argv[0] : "sandboxfs");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = 0;
		if (only_args || a[0] != '-' || a[1] == '\0')
			strv_add(&args, a);
		else if (strcmp(a, "--") == 0)
			only_args = true;
		else if (a[1] == '-')
			r = opt_long(o, argc, argv, &i, &fuse_opts, e);
		else
			r = opt_short(o, argc, argv, &i, &fuse_opts, e);
		if (r < 0)
			return r;
	}
	return opt_finish(o, &args, &fuse_opts, e);
}

/* "  -f, --foreground", "  --state-dir DIR", "  -o OPT[,OPT...]". */
static void opt_usage_left(const struct opt_def *d, struct sbuf *b)
{
	sbuf_add(b, "  ");
	if (d->short_name)
		sbuf_printf(b, "-%c%s", d->short_name, d->name ? ", " : "");
	if (d->name)
		sbuf_printf(b, "--%s", d->name);
	if (d->metavar)
		sbuf_printf(b, " %s", d->metavar);
}

static void opt_usage_aliases(void)
{
	const char *indent = "                        ";
	size_t col = 0;
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *d = &opt_table[i];
		if (!d->o_name)
			continue;
		cleanup_free char *alias = d->metavar ? xasprintf("%s=%s", d->o_name, d->metavar)
						      : xstrdup(d->o_name);
		if (col == 0 || col + strlen(alias) + 2 > 54) {
			printf("%s%s", col ? ",\n" : "", indent);
			col = 0;
		} else {
			printf(", ");
		}
		printf("%s", alias);
		col += strlen(alias) + 2;
	}
	printf("\n%s(for mount -t fuse.sandboxfs and fstab)\n", indent);
}

void options_usage(const char *prog)
{
	printf("usage: %s [OPTION...] [SOURCE] MOUNTPOINT\n\n"
	       "Mounts the sandboxfs tree on MOUNTPOINT (SOURCE, which mount(8) passes, is\n"
	       "ignored).  A long option's value is given as --opt VALUE or --opt=VALUE.\n\n",
	       prog);
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *d = &opt_table[i];
		cleanup_sbuf struct sbuf left = {0};
		opt_usage_left(d, &left);
		const char *h = d->help;
		size_t n = strcspn(h, "\n");
		printf("%-24s%.*s\n", left.s, (int)n, h);
		while (h[n] == '\n') {
			h += n + 1;
			n = strcspn(h, "\n");
			printf("%-24s%.*s\n", "", (int)n, h);
		}
		if (d->kind == OPT_MOUNT)
			opt_usage_aliases();
	}
	printf("\nFUSE mount options (-o):\n");
	fflush(stdout);
	fuse_lowlevel_help();
}

char *options_default_guest_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *g = xasprintf("%s/guest", dirname(exe));
		if (access(g, R_OK) == 0)
			return g;
		free(g);
	}
	return xstrdup(SANDBOXFS_GUEST_DIR);
}

void options_release(struct options *o)
{
	free(o->state_dir);
	free(o->guest_dir);
	free(o->accel);
	free(o->log);
	free(o->owner);
	free(o->qemu_user);
	free(o->qemu_uids);
	free(o->qemu_dir);
	free(o->cgroup_parent);
	free(o->qmp_access);
	free(o->source);
	free(o->mountpoint);
	strv_release(&o->fuse_argv);
	*o = (struct options){0};
}
