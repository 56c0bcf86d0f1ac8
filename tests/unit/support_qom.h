/*
 * support_qom — small readers of a real QEMU's answers for the acceptance
 * programs (test_accept*): a member of a JSON object, an entry of an
 * array by key, qom-get as a string / integer / boolean, the type of a
 * QOM child, a chardev's filename, and where QOM says a PCI device sits.
 * Every QMP command they send waits SQOM_TMO ms.  They only report: the
 * assertions stay in the tests.
 */
#ifndef SANDBOXFS_SUPPORT_QOM_H
#define SANDBOXFS_SUPPORT_QOM_H

#include <stdbool.h>

struct json_object;
struct qmp_client;

/* ms: the timeout of every QMP command these readers (and support_hot) send. */
#define SQOM_TMO 10000

/* Member k of o (borrowed), NULL when o or k is missing. */
struct json_object *sqom_get(struct json_object *o, const char *k);
/* The entry of array `l` whose `key` is `val` (borrowed), or NULL. */
struct json_object *sqom_find(struct json_object *l, const char *key, const char *val);

/* qom-get path.prop as a new string ("" when it failed). */
char *sqom_str(struct qmp_client *c, const char *path, const char *prop);
/* qom-get path.prop as an integer, -1 when it failed. */
long long sqom_int(struct qmp_client *c, const char *path, const char *prop);
/* 1 / 0 for a QOM boolean, -1 when it could not be read. */
int sqom_bool(struct qmp_client *c, const char *path, const char *prop);
/* The type of child `name` of `path` ("child<TYPE>", "link<...>"), new
 * string; "" when there is no such child. */
char *sqom_child(struct qmp_client *c, const char *path, const char *name);
/* query-chardev: the filename of chardev `label`, new string; NULL when
 * QEMU has no such chardev. */
char *sqom_chardev_filename(struct qmp_client *c, const char *label);
/* Where QOM says device `id` sits: parent bus (bridge `bridge`'s) and
 * devfn, as one check; says so when it is elsewhere. */
bool sqom_placed_at(struct qmp_client *c, const char *id, const char *bridge, int devfn);

#endif
