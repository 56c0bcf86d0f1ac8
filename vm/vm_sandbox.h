/*
 * vm_sandbox — one sandbox: its config, topology, devices, QEMU process and
 * QMP connection, and the registry of all sandboxes.
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

#include "lib/err.h"
#include "lib/util.h"
#include "vm/vm_config.h"
#include "vm/vm_device.h"
#include "vm/vm_topology.h"

struct qmp_client;

enum vm_state {
	VM_CREATED,
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPED,
	VM_CRASHED,
};

struct vm_dimm {
	char id[32];  /* pc-dimm id "dimmN"; its backend is "mem-dimmN" */
	int size_mib;
	bool removing; /* device_del sent, DEVICE_DELETED not yet seen */
};

struct vm_cpu {
	char id[32];
	int socket, core, thread;
};

#define VM_NAME_MAX 64

struct vm_sandbox {
	char *name;
	char *rundir;       /* <state-dir>/<name> */
	char *console_log;  /* rundir/console.log */
	char *qemu_log;     /* rundir/qemu.log: QEMU's stdout+stderr */
	char *qmp_path;     /* rundir/qmp.sock, or a shortened path */

	pthread_mutex_t lock;    /* guards every field below */
	pthread_mutex_t op_lock; /* serialises control operations */
	pthread_cond_t cond;     /* signalled on every state change */
	pthread_mutex_t persist_lock; /* orders writes of the state file */
	char *persisted;         /* text last written (persist_lock): skip rewrites */
	int refs;
	bool removed;            /* rmdir'd: no new operations */

	struct vm_config cfg;
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
	struct qmp_client *qmp;

	struct vm_cpu *hot_cpus; /* hot-added vCPUs, in order */
	size_t nhot_cpus;
	struct vm_dimm *dimms;   /* hot-added memory, in order */
	size_t ndimms;

	char *error;             /* last failure message */

	/* events: QMP events and state changes as JSON lines, seq-numbered;
	 * line n is events[n % VM_EVENTS_MAX] while n + VM_EVENTS_MAX > next. */
	char *events[256];
	uint64_t events_next;
	enum vm_state last_state;  /* as of the last commit */
	uint64_t state_changes;    /* bumped when `state` changes: poll on it */
};

#define VM_EVENTS_MAX 256

/* Append one JSON line (taken) to the events ring; caller holds sb->lock. */
void vm_events_push_locked(struct vm_sandbox *sb, char *line);

/*
 * After any change a user could see: bump state_gen, wake waiters, tell
 * pollers (the change hook) and persist the sandbox.  Call without sb->lock.
 */
void vm_sandbox_commit(struct vm_sandbox *sb);
/* The same without persisting: for changes the state file does not hold
 * (a new line in events). */
void vm_sandbox_notify(struct vm_sandbox *sb);
/* Called (without locks) whenever a sandbox changed; set once by fs/. */
void vm_set_change_hook(void (*hook)(struct vm_sandbox *sb));

/* Persisted state (vm_persist.c): <rundir>/sandbox.json, written atomically
 * after every change and read back when the daemon starts. */
int vm_persist_save(struct vm_sandbox *sb, struct err **e);
/* Load every sandbox found in the state dir; re-adopt live QEMUs. */
void vm_persist_load_all(void);
/* Re-attach to a QEMU left running by an earlier daemon (vm_launch.c). */
int vm_adopt(struct vm_sandbox *sb, enum vm_state was, struct err **e);
/* /proc/<pid>/stat starttime, 0 if the process is gone. */
unsigned long long vm_proc_start_time(pid_t pid);
/* Register a sandbox object built outside vm_sandbox_create (loading). */
int vm_sandbox_register(struct vm_sandbox *sb, struct err **e);
struct vm_sandbox *vm_sandbox_alloc(const char *name);

/* Daemon-wide settings (set once by main before any sandbox exists). */
struct vm_settings {
	const char *state_dir;
	int qmp_timeout_ms;   /* ordinary QMP commands */
	int start_timeout_ms; /* QEMU exec → QMP negotiated */
	bool stop_on_exit;    /* stop QEMUs when the daemon exits (default: leave them) */
};
/* Record the settings (no threads started: safe before daemonizing; the
 * monitor thread, vm_monitor_start, comes after). */
void vm_settings_apply(const struct vm_settings *s);
const struct vm_settings *vm_get_settings(void);
/* True once vm_shutdown began. */
bool vm_exiting(void);
/* Persist every sandbox, stop the monitor; stop QEMUs if stop_on_exit. */
void vm_shutdown(void);

const char *vm_state_name(enum vm_state s);
bool vm_state_is_live(enum vm_state s); /* running or paused */

/* Registry. */
int vm_sandbox_create(const char *name, struct err **e);
int vm_sandbox_destroy(const char *name, struct err **e);
struct vm_sandbox *vm_sandbox_get(const char *name); /* NULL: ENOENT */
struct vm_sandbox *vm_sandbox_ref(struct vm_sandbox *sb);
void vm_sandbox_put(struct vm_sandbox *sb);
static inline void vm_sandbox_putp(struct vm_sandbox **sb) { if (*sb) vm_sandbox_put(*sb); }
#define cleanup_sandbox __attribute__((cleanup(vm_sandbox_putp)))
/* Names of all sandboxes, sorted (strv owned by caller). */
void vm_sandbox_names(struct strv *out);
int vm_sandbox_check_name(const char *name, struct err **e);

/* Record `msg` as the sandbox's last error (and log it). */
void vm_sandbox_set_error(struct vm_sandbox *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A new reference to the QMP client, or NULL + ENOTCONN/EBUSY error. */
struct qmp_client *vm_sandbox_qmp(struct vm_sandbox *sb, struct err **e);

/* The QMP callbacks a sandbox's connection uses (state, events, faults). */
struct qmp_callbacks;
void vm_qmp_callbacks(struct vm_sandbox *sb, struct qmp_callbacks *cb);

/* Control verbs (vm_launch.c). */
int vm_start(struct vm_sandbox *sb, struct err **e);
int vm_stop(struct vm_sandbox *sb, struct err **e);
int vm_kill(struct vm_sandbox *sb, struct err **e);
int vm_pause(struct vm_sandbox *sb, struct err **e);
int vm_resume(struct vm_sandbox *sb, struct err **e);
/* "start | stop | ..." parsed strictly and dispatched. */
int vm_ctl(struct vm_sandbox *sb, const char *verb, struct err **e);
/* The verbs valid in the current state, space separated. */
void vm_ctl_verbs(struct vm_sandbox *sb, struct sbuf *out);

/* Config (vm_sandbox.c). */
int vm_sandbox_config_write(struct vm_sandbox *sb, const char *json, struct err **e);
void vm_sandbox_config_show(struct vm_sandbox *sb, struct sbuf *out);
int vm_sandbox_cmdline_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);

/* vCPUs (vm_cpus.c). */
int vm_cpus_set_target(struct vm_sandbox *sb, const char *value, struct err **e);
void vm_cpus_show_target(struct vm_sandbox *sb, struct sbuf *out);
int vm_cpus_show_online(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
void vm_cpus_show_hotplugged(struct vm_sandbox *sb, struct sbuf *out);

/* Memory (vm_memory.c). */
int vm_memory_set_target(struct vm_sandbox *sb, const char *value, struct err **e);
void vm_memory_show_target(struct vm_sandbox *sb, struct sbuf *out);
void vm_memory_show_hotplugged(struct vm_sandbox *sb, struct sbuf *out);
void vm_memory_show_slots(struct vm_sandbox *sb, struct sbuf *out);

/* Devices (vm_hotplug.c). */
int vm_sandbox_device_add(struct vm_sandbox *sb, const char *json, struct err **e);
int vm_sandbox_device_remove(struct vm_sandbox *sb, const char *id, struct err **e);
/* Find a device by id; caller holds sb->lock. */
struct vm_device *vm_sandbox_find_device(struct vm_sandbox *sb, const char *id);
void vm_sandbox_device_ids(struct vm_sandbox *sb, struct strv *out);

/* Process monitor (vm_monitor.c): notices QEMU exiting within a second. */
int vm_monitor_start(struct err **e);
void vm_monitor_stop(void);
int vm_monitor_watch(struct vm_sandbox *sb, struct err **e);
/* The QEMU process is gone: record how, release QMP, wake waiters.
 * Takes sb->lock itself. */
void vm_sandbox_exited(struct vm_sandbox *sb, int wstatus, bool have_status);

#endif
