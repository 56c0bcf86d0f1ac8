/*
 * vm_parts — what a device becomes in QEMU: "parts", each one JSON object
 * of the kind QMP object-add / chardev-add / netdev_add / blockdev-add /
 * device_add takes, rendered either as the boot command line's options or
 * as the QMP commands that add (and remove) the same objects while QEMU
 * runs.  Descriptors a part names by number are listed in a vm_fdplan
 * (what to open; vm/qemu/fds opens and hands them over).
 */
#ifndef SANDBOXFS_VM_PARTS_H
#define SANDBOXFS_VM_PARTS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/cred.h"
#include "lib/err.h"

struct json_object;
struct arch_ops;
struct strv;

/* ---- descriptors handed to QEMU ---- */

#define VM_FD_FIRST 4 /* after stdio and the QMP socket (VM_QMP_FD 3) */

/* What the daemon opens (vm/qemu/fds opens it). */
enum vm_fd_source {
	VM_FD_PATH,    /* open(name, O_RDWR) by the daemon: /dev/vhost-net, /dev/vhost-vsock */
	VM_FD_TUN,     /* /dev/net/tun + TUNSETIFF name (IFF_TAP|IFF_NO_PI[|IFF_MULTI_QUEUE]) */
	VM_FD_MACVTAP, /* /dev/tap<ifindex of name>, opened as `cred` */
	VM_FD_FILE,    /* the host file `name` opened as `cred` with `flags` */
	VM_FD_CONNECT, /* a unix socket connected to `name` as `cred` */
	VM_FD_LISTEN,  /* a unix socket bound at `name` as `cred`, listening */
	VM_FD_MEMFD,   /* a new memfd named `name` of `size` bytes (guest RAM in a file) */
};

/* How a part names the descriptor. */
enum vm_fd_ref {
	VM_FD_REF_NUM,   /* the descriptor itself: "N" at exec, a getfd name while running */
	VM_FD_REF_FDSET, /* a path /dev/fdset/S: -add-fd at exec, QMP add-fd while running */
	VM_FD_REF_PROC,  /* a path /proc/self/fd/N (exec only: -kernel, mem-path) */
};

struct vm_fd {
	int num;       /* the descriptor number QEMU inherits */
	int set;       /* VM_FD_REF_FDSET: the set number at exec */
	enum vm_fd_source src;
	enum vm_fd_ref ref;
	char *name;    /* path or interface name */
	bool multi_queue;
	int flags;     /* VM_FD_FILE: O_RDONLY, O_RDWR, O_WRONLY|O_APPEND|O_CREAT */
	struct cred cred; /* whose rights open it (FILE, CONNECT, LISTEN, MACVTAP) */
	long long size;   /* VM_FD_MEMFD: its size */
};

struct vm_fdplan {
	struct vm_fd *v;
	size_t n;
};
/* Add a descriptor to the plan and return what stands for it in a part's
 * string values (a heap string): for a VM_FD_REF_NUM its number ("4",
 * joined "4:5" for lists; while running, vm/qemu/fds renames the numbers
 * of the fd/fds/vhostfd/vhostfds keys to getfd names); for a path
 * reference the marker "\001K" of entry K, bound by vm_fdplan_bind.
 * Markers hold a control character, which no user-supplied string can, so
 * binding cannot mistake a user's value. */
char *vm_fdplan_add(struct vm_fdplan *p, enum vm_fd_source src, enum vm_fd_ref ref,
		    const char *name, const struct vm_fd *opts);
void vm_fdplan_release(struct vm_fdplan *p);
/* Replace every marker in the string values of `o` (recursively) by
 * bind(plan entry, opaque) (a heap string); markers of lists stay joined
 * with ':'.  Returns the number replaced. */
size_t vm_fdplan_bind(struct json_object *o, const struct vm_fdplan *plan,
		      char *(*bind)(const struct vm_fd *f, size_t k, void *opaque), void *opaque);
/* The exec-time reference of an entry: "N", "/dev/fdset/S", "/proc/self/fd/N". */
char *vm_fdplan_exec_ref(const struct vm_fd *f, size_t k, void *opaque);

/* ---- parts: one model, two outputs ---- */

enum vm_part_kind {
	VM_PART_OBJECT,   /* -object QOM,...   / object-add   (implied "qom-type") */
	VM_PART_CHARDEV,  /* -chardev BACKEND,...  / chardev-add (nested form) */
	VM_PART_NETDEV,   /* -netdev TYPE,...  / netdev_add   (implied "type") */
	VM_PART_FSDEV,    /* -fsdev DRIVER,... / (no QMP command) */
	VM_PART_BLOCKDEV, /* -blockdev ...     / blockdev-add */
	VM_PART_DEVICE,   /* -device DRIVER,...   / device_add (implied "driver") */
};

struct vm_dev_part {
	enum vm_part_kind kind;
	struct json_object *args;
};

struct vm_dev_parts {
	struct vm_dev_part *v;
	size_t n;
	int main; /* index of the device's main (placed) function */
};

struct vm_dev_env {
	const struct arch_ops *arch;
	const char *bus;         /* parent bus of the PCI function; NULL: none */
	int addr;                /* its PCI device number on bus */
	bool disable_modern;     /* Kata nestedRun */
	const char *console_log; /* default file of a console */
	struct vm_fdplan *fds;   /* descriptor numbers come from here */
	/* Hand QEMU descriptors for the host files and sockets a device names,
	 * opened with `owner`'s rights, instead of letting QEMU open paths. */
	bool pass_files;
	const struct cred *owner;
};

void vm_dev_parts_release(struct vm_dev_parts *p);
/* Append the command-line options ("-device", "virtio-...,...", ...). */
void vm_dev_parts_argv(const struct vm_dev_parts *p, struct strv *argv);
/* The QMP commands that add the same parts, in order: a JSON array of
 * {"execute":CMD, "arguments":ARGS}.  EOPNOTSUPP for a part QMP cannot add
 * (-fsdev). */
int vm_dev_parts_qmp(const struct vm_dev_parts *p, struct json_object **out, struct err **e);

/* The QMP command undoing one add command of vm_dev_parts_qmp (blockdev-del
 * of a node, device_del, netdev_del, object-del, chardev-remove), as
 * {"execute":..., "arguments":{...}}; NULL when there is none. */
struct json_object *vm_dev_parts_undo(const char *cmd, struct json_object *args);

#endif
