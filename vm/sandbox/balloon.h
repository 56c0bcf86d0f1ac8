/*
 * vm_balloon — `memory/balloon`: how much of its memory the guest keeps,
 * through a `balloon` device (virtio-balloon).  memory/target is what
 * QEMU gives the guest (boot memory and DIMMs); the balloon takes some of
 * it back from inside the guest, so balloon <= target, and a balloon
 * equal to the target is deflated.
 */
#ifndef SANDBOXFS_VM_BALLOON_H
#define SANDBOXFS_VM_BALLOON_H

#include "lib/err.h"
#include "lib/util.h"

struct cred;
struct vm_sandbox;

/* The actual size in MiB QEMU last reported (BALLOON_CHANGE or
 * query-balloon); empty when not running or without a balloon device. */
int vm_balloon_show(struct vm_sandbox *sb, struct sbuf *out, struct err **e);
/* MiB wanted: QMP `balloon`; the guest then inflates or deflates on its
 * own time.  EINVAL not a number; ENODEV no balloon device (or the
 * guest's driver is not up: DeviceNotActive); EBUSY not running; ERANGE
 * below 1 or above memory/target. */
int vm_balloon_store(struct vm_sandbox *sb, const char *value, const struct cred *who,
		     struct err **e);

#endif
