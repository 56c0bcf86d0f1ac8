/*
 * vm_sandbox — one sandbox: the object (its config, topology, devices, QEMU
 * process, QMP connection, error, events), its locks and reference count,
 * the commit that tells observers (persistence, the fs) of every change.  What a sandbox does lives beside it:
 * lifecycle.c (start/stop/...), devices.c, cpus.c, memory.c, ctl.c (the
 * verbs); registry.c holds them all; persist.c keeps them on disk.
 *
 * Locking: `lock` is short-lived and guards the fields; it is never held
 * across QMP or process waits.  `op_lock` serialises control operations on
 * one sandbox (start, stop, hotplug, config writes), so a slow QEMU delays
 * only writers of that same sandbox; reads and other sandboxes go on.
 * Sandboxes are reference counted: lookups return a reference that the
 * caller drops with vm_sandbox_put().
 */
#ifndef SANDBOXFS_VM_SANDBOX_H
#define SANDBOXFS_VM_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/cred.h"
#include "lib/err.h"
#include "lib/util.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/topology.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/version.h"
#include "vm/sandbox/settings.h"
#include "vm/sandbox/telemetry.h"

struct qmp_client;
struct vm_cgroup;

enum vm_state {
	VM_CREATED,
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPED,
	VM_CRASHED,
	VM_BROKEN,  /* its state file could not be loaded: shown, reserved, never saved */
	VM_INCOMING, /* QEMU started with -incoming, receiving a migration or a save */
	VM_SAVED,    /* its state went to a save directory, QEMU quit */
	VM_MIGRATED, /* migrated to another QEMU, this one quit */
	VM_STATE_COUNT
};
#define VM_STATE_BIT(s) (1u << (s))

struct vm_dimm {
	char id[32];  /* pc-dimm id "dimmN"; its backend is "mem-dimmN" */
	int size_mib;
	bool removing; /* device_del sent, DEVICE_DELETED not yet seen */
};

struct vm_cpu {
	char id[32];
	int socket, core, thread;
	bool removing; /* device_del sent, DEVICE_DELETED not yet seen */
};

/* Save, restore and live migration (vm/sandbox/migrate.c, save.c): what
 * the `migration` file shows and the state file keeps.  Guarded by the
 * sandbox's lock. */
struct vm_mig {
	char status[16];       /* none setup active completed failed cancelled ... */
	char role[16];         /* "" (none yet), source, destination, save, restore */
	char *uri;             /* tcp:HOST:PORT, or the directory */
	long long total, transferred, remaining, dirty_rate, downtime_ms, total_ms;
	int percent;
	bool busy;             /* a migration owns QEMU: other QMP users get EBUSY */
	bool watching;         /* a watcher thread follows it */
	char *saved_dir;       /* state `saved`: the directory it went to */
	char *origin_uuid;     /* the uuid of the definition last written: incoming takes it */
	/* Hot-added vCPUs and DIMMs of the definition last written (its
	 * source's), re-created before an incoming migration. */
	struct vm_cpu *cpus;
	size_t ncpus;
	struct vm_dimm *dimms;
	size_t ndimms;
};

/* How the next start makes QEMU (set under op_lock by restore and
 * incoming, cleared when the start is over). */
struct vm_boot {
	bool incoming;         /* -incoming defer: state `incoming` once QMP is up */
	char *ram_template;    /* a clone: guest RAM mapped private from this file */
	struct cred ram_owner; /* whose rights open it */
};

#define VM_NAME_MAX 64
#define VM_OWNER_TREE ((uid_t)-1)
#define VM_EVENTS_MAX 256

struct vm_sandbox {
	char *name;
	char *rundir;       /* <state-dir>/<name> */
	char *console_log;  /* rundir/console.log */
	char *qemu_log;     /* rundir/qemu.log: QEMU's stdout+stderr */
	char *qmp_path;     /* rundir/qmp.sock, or a shortened path */

	pthread_mutex_t lock;    /* guards every field below */
	pthread_mutex_t op_lock; /* serialises control operations (vm/sandbox/op) */
	char op_what[96];        /* the operation holding op_lock ("" when none) */
	int64_t op_since_ms;     /* ... since (util_now_ms) */
	/* An outcome QEMU may still change (a QMP timeout, a lost connection):
	 * the next operation reconciles with QEMU first (vm/sandbox/reconcile). */
	bool settling;
	pthread_cond_t cond;     /* signalled on every state change */
	pthread_mutex_t persist_lock; /* orders writes of the state file */
	char *persisted;         /* text last written (persist_lock): skip rewrites */
	int refs;
	bool removed;            /* rmdir'd: no new operations */

	struct vm_config cfg;
	/* cfg rendered as the `config` file shows it, NULL until read; every
	 * change of cfg drops it (vm_sandbox_config_changed_locked). */
	char *cfg_text;
	/* cfg as the state file holds it, while QEMU runs (persist.c); dropped
	 * with cfg_text, and when QEMU is gone. */
	struct json_object *cfg_json;
	/* Whose rights the config's host paths (kernel, initrd, bios, pflash)
	 * are opened with: the last writer who changed one of them. */
	struct cred cfg_owner;
	/* Who drives the sandbox (its files take this owner; chown moves it);
	 * VM_OWNER_TREE: the tree's owner (--owner), as for every sandbox root
	 * made and nobody chowned. */
	uid_t owner_uid;
	gid_t owner_gid;
	/* Who its QEMU runs as (from the daemon's --qemu-uids range, or the
	 * --qemu-user, or root); kept across restarts. */
	uid_t qemu_uid;
	gid_t qemu_gid;
	struct vm_topology topo;
	struct vm_device **devs;
	size_t ndevs;

	enum vm_state state;
	uint64_t state_gen;      /* bumped on every state change */
	pid_t pid;
	unsigned long long start_time; /* /proc/<pid>/stat starttime: proves identity */
	int pidfd;
	bool child;              /* our child: reap with waitpid */
	bool expect_exit;        /* stop/kill in progress: exit is not a crash */
	bool guest_shutdown;     /* SHUTDOWN event from the guest seen */
	/* The state an exit asked for leaves (saved, migrated); 0 (VM_CREATED,
	 * which no exit leads to): stopped. */
	enum vm_state exit_as;
	struct vm_boot boot;
	struct vm_mig mig;
	struct qmp_client *qmp;
	struct vm_cgroup *cgroup; /* its QEMU's own cgroup, while it has one */

	struct vm_cpu *hot_cpus; /* hot-added vCPUs, in order */
	size_t nhot_cpus;
	/* query-hotpluggable-cpus of the QEMU of pid/start_time (cpus.c): its
	 * slots do not change while it runs, so a hot-add asks once; dropped
	 * after a failed add, or the unplug of a vCPU it listed as plugged. */
	struct json_object *cpu_slots;
	pid_t cpu_slots_pid;
	unsigned long long cpu_slots_start;
	/* The running QEMU (vm/sandbox/sandbox_qemu): what its binary said at start
	 * (at adoption: the version of its QMP greeting), and how many vCPUs
	 * it has started, boot and every hot-add. */
	struct vm_qemu_caps *qemu_caps; /* heap (its machine list is kilobytes); NULL: unknown */
	int cpus_started;
	struct vm_dimm *dimms;   /* hot-added memory, in order */
	size_t ndimms;

	char *error;             /* last failure message */

	/* events: QMP events and state changes as JSON lines, seq-numbered;
	 * line n is events[n % VM_EVENTS_MAX] while n + VM_EVENTS_MAX > next. */
	char *events[VM_EVENTS_MAX];
	uint64_t events_next;      /* lines so far; line n has "seq": n + 1 */
	int events_fd;             /* rundir/events.jsonl, appended to (-1: none) */
	uint64_t events_on_disk;   /* lines in that file */
	enum vm_state last_state;  /* as of the last commit */
	uint64_t state_changes;    /* bumped when `state` changes: poll on it */

	/* What its QEMU last reported (stats, metrics, balloon): its own lock. */
	struct vm_telemetry tel;
};

/* Append one JSON object line (taken) to the events ring, numbered
 * {"seq":N,...}, and to its copy on disk; caller holds sb->lock. */
void vm_sandbox_events_push_locked(struct vm_sandbox *sb, char *line);
/* A restarted daemon's sandbox takes its ring back from disk (before it
 * is registered). */
void vm_sandbox_events_load(struct vm_sandbox *sb);
/* {"event":NAME,"data":DATA,"timestamp":{...}} as one line (a heap string;
 * data is borrowed). */
struct json_object;
char *vm_sandbox_event_line(const char *name, struct json_object *data);

/* Background work that follows QEMU (vm/sandbox/settle). */
enum vm_settle_job {
	VM_SETTLE_RECONCILE, /* ask QEMU and follow it */
	VM_SETTLE_RECONNECT, /* QMP again, then reconcile */
};

/* What a commit tells its observers. */
enum vm_change {
	VM_CHANGE_SAVE,   /* must be durable before the caller goes on: a failure is its verdict */
	VM_CHANGE_STATE,  /* something the state file holds changed: persist it (best effort) */
	VM_CHANGE_OUTCOME, /* the same, for a hot add's or removal's outcome (see below) */
	VM_CHANGE_NOTIFY, /* only what pollers see (a new line in events) */
};
/* Observers of every sandbox's changes, called without locks in the order
 * they registered (persistence first, then the fs's poll wake-ups).  At
 * most VM_OBSERVERS_MAX; register before any sandbox exists.  An observer
 * fails (<0) only for VM_CHANGE_SAVE. */
#define VM_OBSERVERS_MAX 4
typedef int (*vm_observer_fn)(struct vm_sandbox *sb, enum vm_change what, struct err **e);
void vm_sandbox_observe(vm_observer_fn fn);
/*
 * After any change a user could see: bump state_gen, wake waiters, and
 * tell the observers (which persist the sandbox, wake pollers).  Call
 * without sb->lock.  A failed save is logged; the state file keeps a
 * reserve for these (a full disk does not stop `stop` or a crash being
 * recorded).
 */
void vm_sandbox_commit(struct vm_sandbox *sb);
/*
 * The same, for the outcome of a hot add or removal, whose intent went to
 * disk before QEMU heard of it (or that QEMU's own lists rebuild, as for
 * vCPUs and DIMMs): what the write's caller sees (the tree, pollers) is
 * told at once, and on a thread inside vm_sandbox_later_begin/run (a
 * FUSE write) the state file is saved after the reply — a daemon killed
 * in between rebuilds the outcome from QEMU (reconcile.c).  Elsewhere it
 * is vm_sandbox_commit.
 */
void vm_sandbox_commit_outcome(struct vm_sandbox *sb);
/* The calling thread's work for after its reply: begin before the
 * request's job, run after its reply (still in the job's lane, so that the
 * sandbox's next write comes after it).  At most VM_LATER_MAX
 * entries; beyond, vm_sandbox_later says false and the work is done now. */
#define VM_LATER_MAX 4
void vm_sandbox_later_begin(void);
bool vm_sandbox_later(struct vm_sandbox *sb, void (*fn)(struct vm_sandbox *sb));
void vm_sandbox_later_run(void);
/* The same, for a change that must be on disk before it is reported done
 * (a write's verdict): the save's error (ENOSPC, EIO...) when it is not;
 * the caller then undoes the change. */
int vm_sandbox_save(struct vm_sandbox *sb, struct err **e);
/* The same without saving: a new events line, or a change the state file
 * does not hold — running and paused, whether a pause/resume did it or
 * QEMU reported it by itself (STOP, RESUME, from the QMP reader, which
 * does no file I/O so that no command's reply waits behind it); a
 * restarted daemon asks QEMU which (adopt.c). */
void vm_sandbox_notify(struct vm_sandbox *sb);
/* After changing sb->cfg, with sb->lock held: drop the rendered `config`
 * (cfg_text) and the state file's copy (cfg_json), so that the next read
 * and the next save render the new one. */
void vm_sandbox_config_changed_locked(struct vm_sandbox *sb);

const char *vm_state_name(enum vm_state s);
/* The state named `name`; -1 when there is none. */
int vm_state_parse(const char *name);
/* A QEMU runs that the config is fixed for: running, paused, incoming. */
bool vm_state_is_live(enum vm_state s);

/* A fresh sandbox object (not registered) and its reference count. */
struct vm_sandbox *vm_sandbox_alloc(const char *name);
struct vm_sandbox *vm_sandbox_ref(struct vm_sandbox *sb);
void vm_sandbox_put(struct vm_sandbox *sb);
static inline void vm_sandbox_putp(struct vm_sandbox **sb) { if (*sb) vm_sandbox_put(*sb); }
#define cleanup_sandbox __attribute__((cleanup(vm_sandbox_putp)))

/* Its QEMU is gone (exited, or lost while no daemon ran); caller holds
 * sb->lock: the devices wait to be cold-plugged at the next start (an add
 * or a removal in flight is finished there: dropped, or gone); hot-added
 * vCPUs and DIMMs are gone with QEMU. */
void vm_sandbox_qemu_gone_locked(struct vm_sandbox *sb);

/* Record `msg` as the sandbox's last error (and log it), then commit. */
void vm_sandbox_set_error(struct vm_sandbox *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A write failed with `code` and `msg`: recorded as the error, unless it
 * only says the connection to a QEMU that has gone since was lost (then the
 * reason QEMU went stays), or the sandbox is broken (its reason stays);
 * the write's message is logged then. */
void vm_sandbox_write_failed(struct vm_sandbox *sb, int code, const char *msg);
/* A new reference to the QMP client, or NULL + EBUSY (not running, or a
 * migration or an incoming state owns QEMU) / ENOTCONN (no connection). */
struct qmp_client *vm_sandbox_qmp(struct vm_sandbox *sb, struct err **e);
/* The same for a save, restore or migration, which own QEMU meanwhile:
 * only EBUSY when no QEMU runs, ENOTCONN. */
struct qmp_client *vm_sandbox_qmp_owner(struct vm_sandbox *sb, struct err **e);

/* How the sandbox's argv is built (start and `cmdline` alike): descriptors
 * in `plan` (may be NULL), files passed and QEMU confined as the daemon is
 * set up; caller holds sb->lock. */
struct vm_fdplan;
struct vm_cmdline_ctx vm_sandbox_cmdline_ctx(struct vm_sandbox *sb, struct vm_fdplan *plan);

/* Where its descriptors go (vm/qemu/fds): its QEMU's identity, its
 * network namespace opened as the config's writer (ctx->netns_fd -1 when
 * none; the caller closes it).  Caller holds op_lock (the config holds
 * still) and NOT sb->lock: the namespace is a path the writer named. */
struct vm_fds_ctx;
int vm_sandbox_fds_ctx(struct vm_sandbox *sb, struct vm_fds_ctx *ctx, struct err **e);

/* The sandbox's own files: cmdline, state, pid, error (config:
 * configure.h). */
int vm_sandbox_cmdline_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_sandbox_state_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_sandbox_pid_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
int vm_sandbox_error_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
/* The QEMU's cgroup path(s), "key path" lines; empty while none. */
int vm_sandbox_cgroup_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
/* The cgroup limits a config asks for. */
struct vm_cgroup_limits vm_sandbox_cgroup_limits(const struct vm_config *cfg);

#endif
