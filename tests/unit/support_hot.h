/*
 * support_hot — the daemon's hot-add forms sent to a real QEMU, and undone,
 * for the acceptance programs (test_accept_forms, test_accept_vhost): the
 * QMP commands vm/sandbox/devices.c's hot_add builds for a device spec
 * (placed on a free slot of the sandbox's topology, descriptors passed with
 * getfd), sent one by one, then undone newest first with
 * vm_dev_parts_undo's forms.  Each step says why it failed and returns
 * false; the assertions stay in the tests.
 */
#ifndef SANDBOXFS_SUPPORT_HOT_H
#define SANDBOXFS_SUPPORT_HOT_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct sqemu_sb;
struct vm_device;

struct shot {
	struct vm_device *d;
	struct json_object *cmds; /* {"execute","arguments"} as sent */
	size_t sent;              /* how many of them went out */
};

/* The QMP commands the daemon's hot-add sends for `spec` into *h; false
 * after saying why. */
bool shot_parts(struct sqemu_sb *s, const char *spec, const char *console, struct shot *h);
/* Send the first `n` commands (all: SIZE_MAX); false at the first QEMU
 * refused (printed by sqemu_qmp). */
bool shot_send(struct sqemu_sb *s, struct shot *h, size_t n);
/* Undo what was sent, newest first, with vm_dev_parts_undo's forms; after
 * each device_del, system_reset (the guest's acknowledgement: QEMU then
 * completes a pending PCI unplug) and DEVICE_DELETED.  False at the first
 * failure. */
bool shot_undo(struct sqemu_sb *s, struct shot *h);
void shot_release(struct shot *h);

#endif
