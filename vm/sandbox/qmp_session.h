/*
 * vm_qmp_session — raw QMP for power users (libvirt's
 * qemu-monitor-command): one command a user wrote to <name>/qmp, sent
 * over the sandbox's one QMP connection with an id of the daemon's, and
 * QEMU's reply handed back with the user's own id.  Commands that would
 * silently break the daemon's model of the sandbox are refused, naming
 * the file that does the job; events never appear (they are in `events`).
 */
#ifndef SANDBOXFS_VM_QMP_SESSION_H
#define SANDBOXFS_VM_QMP_SESSION_H

#include "lib/err.h"
#include "lib/util.h"

struct vm_sandbox;

/* `text`: one JSON object {"execute": NAME[, "arguments": {...}][, "id":
 * ANY]} and only whitespace after it.  On success *reply is QEMU's reply
 * as one line ({"return": ...} or {"error": ...}, with the id given),
 * newline-terminated (heap).  EINVAL not one such object; EPERM a refused
 * command (the message names what to use instead); EBUSY/ENOTCONN not
 * running or no QMP connection; ETIMEDOUT no reply within the QMP
 * timeout (the late reply is dropped); ECONNRESET the connection broke. */
int vm_qmp_session_execute(struct vm_sandbox *sb, const char *text, char **reply,
			   struct err **e);
/* The refused commands and what to use instead, one "NAME: USE" per line
 * (for the README and the docs). */
void vm_qmp_session_describe(struct sbuf *out);

#endif
