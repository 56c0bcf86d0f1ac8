/*
 * vm_blockctl — a disk's size and I/O limits while it lives; see
 * blockctl.h.
 *
 *   size      read: the image's size in bytes.  write: SIZE [" shrink"],
 *             SIZE := [0-9]+ [K|M|G|T] (powers of 1024), a multiple of
 *             512; larger than now → QMP block_resize of node drive-<id>;
 *             smaller only with "shrink" (data past the end is lost).
 *   throttle  read/write: vm/model/throttle.h's lines, a write merged
 *             into the current limits.  QEMU 7.2 finds
 *             the device of block_set_io_throttle by its QOM path: the
 *             virtio-blk device's backend child
 *             /machine/peripheral/<id>/virtio-backend (the bare id of the
 *             -pci proxy is refused: "Device does not have a block device
 *             backend"), a scsi-hd by its id.
 */
#include "vm/sandbox/blockctl.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "qmp/qmp_client.h"
#include "vm/model/throttle.h"
#include "vm/sandbox/devices.h"
#include "vm/sandbox/sandbox.h"

struct disk {
	char id[VM_DEVICE_ID_MAX + 1];
	char *file;
	bool qcow2, readonly, scsi;
};

/* Under sb->lock: what the disk `id` is; ENODEV gone, 1: no disk. */
static int disk_of(struct vm_sandbox *sb, const char *id, struct disk *out, struct err **e)
{
	struct vm_device *d = vm_devices_find(sb, id);
	if (!d)
		return err_set(e, ENODEV, "device %s is gone", id);
	if (!vm_device_is_block(d))
		return 1;
	snprintf(out->id, sizeof(out->id), "%s", d->id);
	out->file = xstrdup(d->file ? d->file : "");
	out->qcow2 = d->format && !strcmp(d->format, "qcow2");
	out->readonly = d->readonly;
	out->scsi = !strcmp(vm_device_str(d, "interface"), "scsi");
	return 0;
}

static void qom_path(const struct disk *k, char *buf, size_t len)
{
	if (k->scsi)
		snprintf(buf, len, "%s", k->id);
	else
		snprintf(buf, len, "/machine/peripheral/%s/virtio-backend", k->id);
}

/* The image's size: a qcow2 header's virtual size (big-endian at 24), a
 * raw file's or block device's length. */
static int image_size(const struct disk *k, int64_t *out, struct err **e)
{
	cleanup_close int fd = open(k->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_sys(e, errno, "%s: %s", k->id, k->file);
	if (k->qcow2) {
		unsigned char h[32];
		if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, "QFI\xfb", 4) != 0)
			return err_set(e, EIO, "%s: %s is not a qcow2 image", k->id, k->file);
		uint64_t v = 0;
		for (int i = 24; i < 32; i++)
			v = v << 8 | h[i];
		*out = (int64_t)v;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		*out = end < 0 ? 0 : (int64_t)end;
	} else {
		*out = (int64_t)st.st_size;
	}
	return 0;
}

int vm_blockctl_size_show(struct vm_sandbox *sb, const char *id, struct sbuf *out,
			  struct err **e)
{
	struct disk k = {0};
	pthread_mutex_lock(&sb->lock);
	int r = disk_of(sb, id, &k, e);
	pthread_mutex_unlock(&sb->lock);
	int64_t size = 0;
	if (r == 0 && image_size(&k, &size, e) == 0)
		sbuf_printf(out, "%lld\n", (long long)size);
	else if (r == 0)
		r = err_ret(e);
	free(k.file);
	return r < 0 ? r : 0;
}

/* SIZE [K|M|G|T] [" shrink"] */
static int parse_size(const char *v, int64_t *size, bool *shrink, struct err **e)
{
	cleanup_free char *num = xstrdup(v);
	char *sp = strchr(num, ' ');
	*shrink = false;
	if (sp) {
		if (strcmp(sp, " shrink") != 0)
			return err_set(e, EINVAL, "'%.40s': expected SIZE or SIZE shrink", v);
		*sp = '\0';
		*shrink = true;
	}
	size_t n = strlen(num);
	int shift = 0;
	const char *units = "KMGT", *u = n ? strchr(units, num[n - 1]) : NULL;
	if (u && *u) {
		shift = 10 * (int)(u - units + 1);
		num[--n] = '\0';
	}
	long long x;
	if (util_parse_int(num, 1, INT64_MAX >> shift, &x) < 0)
		return err_set(e, EINVAL, "not a size in bytes: '%.40s'", v);
	x <<= shift;
	if (x % 512)
		return err_set(e, EINVAL, "%lld is not a multiple of 512 bytes", x);
	*size = x;
	return 0;
}

static int resize(struct vm_sandbox *sb, const struct disk *k, int64_t size, bool shrink,
		  struct err **e)
{
	if (k->readonly)
		return err_set(e, EOPNOTSUPP, "%s is read-only: its size cannot change", k->id);
	int64_t now = 0;
	int r = image_size(k, &now, e);
	if (r < 0)
		return r;
	if (size < now && !shrink)
		return err_set(e, EINVAL, "%lld is below the disk's %lld bytes (write \"%lld shrink\" "
			       "to cut it, losing what lies past the end)", (long long)size,
			       (long long)now, (long long)size);
	if (size == now)
		return 0;
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
	if (!qmp)
		return err_set(e, EBUSY, "%s: its size changes while the sandbox runs (block_resize); "
			       "not running, resize the image itself", k->id);
	struct json_object *args = json_object_new_object();
	char node[VM_DEVICE_ID_MAX + 8];
	snprintf(node, sizeof(node), "drive-%s", k->id);
	json_object_object_add(args, "node-name", json_object_new_string(node));
	json_object_object_add(args, "size", json_object_new_int64(size));
	r = qmp_execute(qmp, "block_resize", args, vm_get_settings()->qmp_timeout_ms, NULL, e);
	if (r == 0)
		log_info("%s: %s resized from %lld to %lld bytes", sb->name, k->id, (long long)now,
			 (long long)size);
	return r < 0 ? err_wrap(e, "%s: block_resize", k->id) : 0;
}

int vm_blockctl_size_store(struct vm_sandbox *sb, const char *id, const char *value,
			   const struct cred *who, struct err **e)
{
	int64_t size = 0;
	bool shrink = false;
	struct disk k = {0};
	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	int r = disk_of(sb, id, &k, e);
	pthread_mutex_unlock(&sb->lock);
	if (r == 1)
		r = err_set(e, EOPNOTSUPP, "%s is not a disk: it has no size", id);
	if (r == 0)
		r = parse_size(value, &size, &shrink, e);
	if (r == 0)
		r = resize(sb, &k, size, shrink, e);
	pthread_mutex_unlock(&sb->op_lock);
	free(k.file);
	return r;
}

int vm_blockctl_throttle_show(struct vm_sandbox *sb, const char *id, struct sbuf *out,
			      struct err **e)
{
	pthread_mutex_lock(&sb->lock);
	struct vm_device *d = vm_devices_find(sb, id);
	if (d && vm_device_is_block(d))
		vm_throttle_render(d->throttle, out);
	pthread_mutex_unlock(&sb->lock);
	return d ? 0 : err_set(e, ENODEV, "device %s is gone", id);
}

/* block_set_io_throttle of `t` on the disk (a running QEMU). */
static int apply(struct vm_sandbox *sb, struct qmp_client *qmp, const struct disk *k,
		 const struct vm_throttle *t, struct err **e)
{
	char qom[VM_DEVICE_ID_MAX + 48];
	qom_path(k, qom, sizeof(qom));
	struct vm_throttle none = {0};
	int r = qmp_execute(qmp, "block_set_io_throttle", vm_throttle_qmp_args(t ? t : &none, qom),
			    vm_get_settings()->qmp_timeout_ms, NULL, e);
	return r < 0 ? err_wrap(e, "%s: block_set_io_throttle", k->id) : 0;
}

int vm_blockctl_throttle_store(struct vm_sandbox *sb, const char *id, const char *value,
			       const struct cred *who, struct err **e)
{
	struct vm_throttle t, base = {0};
	struct disk k = {0};
	pthread_mutex_lock(&sb->op_lock);
	pthread_mutex_lock(&sb->lock);
	int r = disk_of(sb, id, &k, e);
	struct vm_device *d = vm_devices_find(sb, id);
	if (r == 0 && d->throttle)
		base = *d->throttle;
	bool live = vm_state_is_live(sb->state);
	pthread_mutex_unlock(&sb->lock);
	if (r == 1)
		r = err_set(e, EOPNOTSUPP, "%s is not a disk: it has no I/O limits", id);
	if (r == 0) /* merged into what it has; nothing applied on failure */
		r = vm_throttle_parse(value, &base, &t, e);
	if (r == 0 && live) {
		cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, e);
		r = qmp ? apply(sb, qmp, &k, &t, e) : err_ret(e);
	}
	if (r == 0) {
		pthread_mutex_lock(&sb->lock);
		d = vm_devices_find(sb, id);
		if (d) {
			free(d->throttle);
			d->throttle = NULL;
			if (!vm_throttle_is_none(&t)) {
				d->throttle = xmalloc(sizeof(t));
				*d->throttle = t;
			}
		}
		pthread_mutex_unlock(&sb->lock);
		vm_sandbox_commit(sb);
	}
	pthread_mutex_unlock(&sb->op_lock);
	free(k.file);
	return r;
}

void vm_blockctl_apply_all(struct vm_sandbox *sb)
{
	cleanup_err struct err *e = NULL;
	cleanup_qmp struct qmp_client *qmp = vm_sandbox_qmp(sb, &e);
	if (!qmp)
		return;
	pthread_mutex_lock(&sb->lock);
	size_t n = 0;
	struct disk *k = xcalloc(sb->ndevs + 1, sizeof(*k));
	struct vm_throttle *t = xcalloc(sb->ndevs + 1, sizeof(*t));
	for (size_t i = 0; i < sb->ndevs; i++) {
		struct vm_device *d = sb->devs[i];
		if (d->throttle && disk_of(sb, d->id, &k[n], NULL) == 0)
			t[n++] = *d->throttle;
	}
	pthread_mutex_unlock(&sb->lock);
	for (size_t i = 0; i < n; i++) {
		cleanup_err struct err *ae = NULL;
		if (apply(sb, qmp, &k[i], &t[i], &ae) < 0)
			vm_sandbox_set_error(sb, "devices/%s/throttle: not applied at start: %s", k[i].id,
					     ae->msg);
		else
			log_info("%s: %s: I/O limits applied", sb->name, k[i].id);
		free(k[i].file);
	}
	free(k);
	free(t);
}
