/*
 * qmp_keyval — QEMU option strings (keyval syntax), built safely.  QEMU
 * syntax, not VM logic: it lives beside the QMP client.
 *
 * QEMU's `key=value,...` syntax: values escape ',' as ',,'; keys cannot be
 * escaped, so ids and node names are validated instead (QEMU's
 * id_wellformed: a letter, then letters, digits, '-', '.', '_').  One JSON
 * object (the same one sent to QMP blockdev-add / device_add) renders to the
 * command-line form, nested objects flattening to dotted keys
 * ("file.filename=...").  No value may contain a newline or NUL.
 */
#ifndef SANDBOXFS_QMP_KEYVAL_H
#define SANDBOXFS_QMP_KEYVAL_H

#include <stdbool.h>

#include "lib/err.h"
#include "lib/util.h"

struct json_object;

/* Append `s` to b with ',' doubled. */
void qmp_keyval_escape(struct sbuf *b, const char *s);
/* Append ",key=value" (or "key=value" when b is empty), value escaped. */
void qmp_keyval_add(struct sbuf *b, const char *key, const char *value);
void qmp_keyval_addf(struct sbuf *b, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* EINVAL unless `id` is a well-formed QEMU id of at most `max` chars;
 * `what` names the field in the message. */
int qmp_keyval_check_id(const char *what, const char *id, size_t max, struct err **e);
/* EINVAL if the value contains a newline/control char; `what` names the field. */
int qmp_keyval_check_value(const char *what, const char *value, struct err **e);

/*
 * Render a JSON object to QEMU keyval form.  If `implied` is non-NULL, that
 * member's value is emitted first without "key=" (e.g. "driver" for
 * -device: "virtio-blk-pci,id=d1,...").  Booleans render as on/off, numbers
 * in decimal, nested objects as dotted keys.  Returns a heap string.
 */
char *qmp_keyval_from_json(struct json_object *o, const char *implied);

#endif
