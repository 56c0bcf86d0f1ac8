/*
 * vm_ctl — the ctl verb table and its dispatcher; see ctl.h.
 *
 * Grammar of a ctl write (one write, one command; a trailing newline is
 * dropped by the fs):
 *
 *   command := VERB [ " " ARG ]
 *   VERB    := a name of the table below
 *   ARG     := what the verb's grammar takes:
 *              save      DIR [" template"]   DIR absolute, no blanks
 *              restore   DIR
 *              incoming  tcp:ADDR:PORT       (vm/qemu/migration.h)
 *              migrate   tcp:HOST:PORT
 *              the others none
 *
 * The dispatcher takes op_lock (vm_op_begin: bounded, room on disk,
 * reconciled first), checks the verb's states under the sandbox's lock,
 * then runs the verb with op_lock still held, so no other
 * operation can change the state in between (the QEMU exit monitor can: a
 * verb copes with QEMU having gone meanwhile).
 */
#include "vm/sandbox/ctl.h"

#include <string.h>

#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/migrate.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/save.h"

enum ctl_arg {
	CTL_ARG_NONE, /* the verb alone */
	CTL_ARG_ONE,  /* the verb and one argument, its grammar the verb's */
};

struct ctl_verb {
	const char *name;
	enum ctl_arg arg;
	unsigned states; /* VM_STATE_BIT of each state the verb applies in */
	unsigned op;     /* vm_op_flags: stop and kill work on a full disk */
	/* Runs under op_lock, the state checked; `arg` is NULL for CTL_ARG_NONE;
	 * `who` wrote the command (a path it names is opened as them). */
	int (*fn)(struct vm_sandbox *sb, const char *arg, const struct cred *who, struct err **e);
};

#define CTL_LIFECYCLE(verb)                                                                \
	static int ctl_##verb(struct vm_sandbox *sb, const char *arg, const struct cred *who, \
			      struct err **e)                                              \
	{                                                                                  \
		return vm_lifecycle_##verb##_locked(sb, e);                                \
	}
CTL_LIFECYCLE(start)
CTL_LIFECYCLE(stop)
CTL_LIFECYCLE(kill)
CTL_LIFECYCLE(pause)
CTL_LIFECYCLE(resume)

static int ctl_save(struct vm_sandbox *sb, const char *arg, const struct cred *who, struct err **e)
{
	return vm_save_locked(sb, arg, who, e);
}

static int ctl_restore(struct vm_sandbox *sb, const char *arg, const struct cred *who,
		       struct err **e)
{
	return vm_restore_locked(sb, arg, who, e);
}

static int ctl_incoming(struct vm_sandbox *sb, const char *arg, const struct cred *who,
			struct err **e)
{
	return vm_migrate_incoming_locked(sb, arg, who, e);
}

static int ctl_migrate(struct vm_sandbox *sb, const char *arg, const struct cred *who,
		       struct err **e)
{
	return vm_migrate_start_locked(sb, arg, who, e);
}

static int ctl_cancel(struct vm_sandbox *sb, const char *arg, const struct cred *who,
		      struct err **e)
{
	return vm_migrate_cancel_locked(sb, e);
}

#define BIT(s) VM_STATE_BIT(s)
#define LIVE (BIT(VM_RUNNING) | BIT(VM_PAUSED))
#define DOWN (BIT(VM_CREATED) | BIT(VM_STOPPED) | BIT(VM_CRASHED) | BIT(VM_SAVED) | BIT(VM_MIGRATED))

static const struct ctl_verb ctl_verbs[] = {
	{ "start", CTL_ARG_NONE, DOWN, VM_OP_CHANGES, ctl_start },
	{ "stop", CTL_ARG_NONE, LIVE | BIT(VM_INCOMING), VM_OP_QUIET, ctl_stop },
	{ "kill", CTL_ARG_NONE, LIVE | BIT(VM_INCOMING) | BIT(VM_BROKEN), VM_OP_QUIET, ctl_kill },
	{ "pause", CTL_ARG_NONE, BIT(VM_RUNNING), 0, ctl_pause }, /* not in the state file */
	{ "resume", CTL_ARG_NONE, BIT(VM_PAUSED), 0, ctl_resume },
	{ "save", CTL_ARG_ONE, LIVE, VM_OP_CHANGES, ctl_save },
	{ "restore", CTL_ARG_ONE, DOWN, VM_OP_CHANGES, ctl_restore },
	{ "incoming", CTL_ARG_ONE, DOWN, VM_OP_CHANGES, ctl_incoming },
	{ "migrate", CTL_ARG_ONE, LIVE, VM_OP_CHANGES, ctl_migrate },
	{ "cancel", CTL_ARG_NONE, LIVE, VM_OP_QUIET, ctl_cancel },
};

static void ctl_list_verbs(struct sbuf *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_verbs); i++)
		sbuf_printf(b, "%s%s", i == 0 ? "" : i + 1 == ARRAY_SIZE(ctl_verbs) ? " or " : ", ",
			    ctl_verbs[i].name);
}

static void ctl_list_states(struct sbuf *b, unsigned states)
{
	const char *sep = "";
	for (int s = 0; s < VM_STATE_COUNT; s++)
		if (states & VM_STATE_BIT(s)) {
			sbuf_printf(b, "%s%s", sep, vm_state_name((enum vm_state)s));
			sep = " ";
		}
}

static const struct ctl_verb *ctl_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_verbs); i++)
		if (strlen(ctl_verbs[i].name) == len && !strncmp(ctl_verbs[i].name, name, len))
			return &ctl_verbs[i];
	return NULL;
}

/* The verb and its argument, checked against the verb's grammar. */
static int ctl_parse(const char *cmd, const struct ctl_verb **vp, const char **argp, struct err **e)
{
	size_t len = strcspn(cmd, " ");
	const struct ctl_verb *v = ctl_find(cmd, len);
	if (!v) {
		cleanup_sbuf struct sbuf b = {0};
		ctl_list_verbs(&b);
		return err_set(e, EINVAL, "unknown verb '%.32s' (expected %s)", cmd, b.s);
	}
	const char *arg = cmd[len] ? cmd + len + 1 : NULL;
	if (v->arg == CTL_ARG_NONE && arg)
		return err_set(e, EINVAL, "%s takes no argument (got '%.64s')", v->name, arg);
	if (v->arg == CTL_ARG_ONE && (!arg || !*arg))
		return err_set(e, EINVAL, "%s needs an argument (%s)", v->name,
			       !strcmp(v->name, "save") ? "save DIR [template]"
			       : !strcmp(v->name, "restore") ? "restore DIR" : "tcp:HOST:PORT");
	*vp = v;
	*argp = arg;
	return 0;
}

int vm_ctl_store(struct vm_sandbox *sb, const char *cmd, const struct cred *who,
			struct err **e)
{
	const struct ctl_verb *v = NULL;
	const char *arg = NULL;
	int r = ctl_parse(cmd, &v, &arg, e);
	if (r < 0)
		return r;
	cleanup_free char *what = xasprintf("ctl %s", v->name);
	if ((r = vm_op_begin(sb, what, v->op, e)) < 0)
		return r;
	pthread_mutex_lock(&sb->lock);
	enum vm_state st = sb->state;
	pthread_mutex_unlock(&sb->lock);
	if (!(v->states & VM_STATE_BIT(st))) {
		cleanup_sbuf struct sbuf b = {0};
		ctl_list_states(&b, v->states);
		r = err_set(e, EBUSY, "%s: sandbox %s is %s (%s applies when: %s)", v->name, sb->name,
			    vm_state_name(st), v->name, b.s);
	} else {
		r = v->fn(sb, arg, who, e);
		if (r < 0)
			err_wrap(e, "%s", v->name);
	}
	vm_op_end(sb);
	return r;
}

int vm_ctl_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	enum vm_state st = sb->state;
	pthread_mutex_unlock(&sb->lock);
	const char *sep = "";
	for (size_t i = 0; i < ARRAY_SIZE(ctl_verbs); i++) {
		if (!(ctl_verbs[i].states & VM_STATE_BIT(st)))
			continue;
		sbuf_printf(out, "%s%s", sep, ctl_verbs[i].name);
		sep = " ";
	}
	sbuf_addc(out, '\n');
	return 0;
}

void vm_ctl_describe(struct sbuf *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_verbs); i++) {
		sbuf_printf(out, "%s: ", ctl_verbs[i].name);
		ctl_list_states(out, ctl_verbs[i].states);
		sbuf_addc(out, '\n');
	}
}
