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

#include "lib/err.h"

struct json_object;
struct arch_ops;
struct strv;

/* ---- file descriptors passed by inheritance ---- */

#define VM_FD_FIRST 4 /* after stdio and the QMP socket (VM_QMP_FD 3) */

enum vm_fd_source {
	VM_FD_PATH,    /* open(name, O_RDWR) */
	VM_FD_TUN,     /* /dev/net/tun + TUNSETIFF name (IFF_TAP|IFF_NO_PI[|IFF_MULTI_QUEUE]) */
	VM_FD_MACVTAP, /* /dev/tap<ifindex of name> */
};

struct vm_fd {
	int num;       /* the descriptor number QEMU sees */
	enum vm_fd_source src;
	char *name;    /* path or interface name */
	bool multi_queue;
};

struct vm_fdplan {
	struct vm_fd *v;
	size_t n;
};
/* Take the next descriptor number; returns it. */
int vm_fdplan_add(struct vm_fdplan *p, enum vm_fd_source src, const char *name, bool mq);
void vm_fdplan_release(struct vm_fdplan *p);

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
