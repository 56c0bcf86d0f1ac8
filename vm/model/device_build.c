/*
 * device_build — one builder per device type: a device becomes its parts
 * (-object/-chardev/-netdev/-fsdev/-blockdev/-device, the same JSON as
 * the QMP add commands), placed on its bridge slot by the arch's rules.
 * The table of types and what each builds is at the top of device.c.
 */
#include "vm/model/device_kind.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "lib/util.h"

static struct json_object *part_new(struct vm_dev_parts *p, enum vm_part_kind kind)
{
	struct json_object *o = json_object_new_object();
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n++] = (struct vm_dev_part){ .kind = kind, .args = o };
	return o;
}

static void js(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}
static void jsf(struct json_object *o, const char *k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void jsf(struct json_object *o, const char *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *v = xvasprintf(fmt, ap);
	va_end(ap);
	js(o, k, v);
}
static void ji(struct json_object *o, const char *k, long long v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}
static void jb(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

/* A -device part for the arch's virtio transport of `base`. */
static struct json_object *virtio_dev(struct vm_dev_parts *p, const struct vm_dev_env *env,
				      const char *base, const char *id)
{
	struct json_object *o = part_new(p, VM_PART_DEVICE);
	jsf(o, "driver", "%s%s", base, env->arch->virtio_suffix);
	js(o, "id", id);
	return o;
}

/* Put the main function on its bridge slot; disable-modern for nested runs
 * (legacy must then be on: QEMU refuses a virtio device with neither). */
static void place(struct vm_dev_parts *p, struct json_object *o, const struct vm_dev_env *env,
		  bool virtio)
{
	if (env->bus && env->arch->ccw) {
		/* the CCW set: the slot is a device number; virtio-ccw has no
		 * disable-modern (govmm sets it for virtio-pci only) */
		jsf(o, "devno", "fe.0.%04x", (unsigned)env->addr);
		p->main = (int)p->n - 1;
		return;
	}
	if (env->bus) {
		js(o, "bus", env->bus);
		jsf(o, "addr", "0x%x", (unsigned)env->addr);
	}
	if (virtio && env->disable_modern && !env->arch->ccw) {
		jb(o, "disable-modern", true);
		jb(o, "disable-legacy", false);
	}
	p->main = (int)p->n - 1;
}

/* What a part names a host path by: the path itself, or — when the
 * daemon hands QEMU the files (env->pass_files) — the marker of a
 * descriptor opened with the owner's rights (a heap string). */
static char *host_ref(const struct vm_dev_env *env, const char *path, enum vm_fd_source src,
		      enum vm_fd_ref ref, int flags)
{
	if (!env->pass_files)
		return xstrdup(path);
	struct vm_fd opts = {.flags = flags, .cred = env->owner ? *env->owner : cred_root};
	return vm_fdplan_add(env->fds, src, ref, path, &opts);
}

static struct json_object *blockdev(struct vm_dev_parts *p, const struct vm_device *d,
				    const struct vm_dev_env *env, const char *format, bool ro)
{
	char node[VM_DEVICE_ID_MAX + 8];
	struct json_object *file = json_object_new_object();
	js(file, "driver", "file");
	cleanup_free char *ref = host_ref(env, d->file, VM_FD_FILE, VM_FD_REF_FDSET,
					   ro ? O_RDONLY : O_RDWR);
	js(file, "filename", ref);
	jb(file, "read-only", ro);
	struct json_object *o = part_new(p, VM_PART_BLOCKDEV);
	js(o, "driver", format);
	js(o, "node-name", vm_device_node_name(d, node, sizeof(node)));
	jb(o, "read-only", ro);
	json_object_object_add(o, "file", file);
	return o;
}

int vm_device_build_block(const struct vm_device *d, const struct vm_dev_env *env,
		       struct vm_dev_parts *p, struct err **e)
{
	char node[VM_DEVICE_ID_MAX + 8];
	vm_device_node_name(d, node, sizeof(node));
	const char *io = vm_device_str(d, "iothread");
	if (!strcmp(vm_device_str(d, "interface"), "scsi")) {
		char ctl[VM_DEVICE_ID_MAX + 8];
		snprintf(ctl, sizeof(ctl), "scsi-%s", d->id);
		struct json_object *c = virtio_dev(p, env, "virtio-scsi", ctl);
		if (*io)
			js(c, "iothread", io);
		place(p, c, env, true);
		int main = p->main;
		blockdev(p, d, env, d->format, d->readonly);
		struct json_object *hd = part_new(p, VM_PART_DEVICE);
		js(hd, "driver", "scsi-hd");
		js(hd, "id", d->id);
		jsf(hd, "bus", "%s.0", ctl);
		ji(hd, "scsi-id", vm_device_int(d, "scsi_id"));
		ji(hd, "lun", vm_device_int(d, "lun"));
		js(hd, "drive", node);
		p->main = main;
		return 0;
	}
	blockdev(p, d, env, d->format, d->readonly);
	struct json_object *o = part_new(p, VM_PART_DEVICE);
	js(o, "driver", env->arch->blk_driver);
	js(o, "id", d->id);
	js(o, "drive", node);
	if (*io)
		js(o, "iothread", io);
	place(p, o, env, true);
	return 0;
}

int vm_device_build_image(const struct vm_device *d, const struct vm_dev_env *env,
		       struct vm_dev_parts *p, struct err **e)
{
	if (!strcmp(vm_device_str(d, "as"), "virtio-blk")) {
		char node[VM_DEVICE_ID_MAX + 8];
		blockdev(p, d, env, "raw", true);
		struct json_object *o = part_new(p, VM_PART_DEVICE);
		js(o, "driver", env->arch->blk_driver);
		js(o, "id", d->id);
		js(o, "drive", vm_device_node_name(d, node, sizeof(node)));
		place(p, o, env, true);
		return 0;
	}
	struct stat st;
	if (stat(d->file, &st) < 0)
		return err_sys(e, errno, "device %s: file %s", d->id, d->file);
	if (st.st_size <= 0)
		return err_set(e, EINVAL, "device %s: file: the nvdimm image %s is empty", d->id,
			       d->file);
	struct json_object *m = part_new(p, VM_PART_OBJECT);
	js(m, "qom-type", "memory-backend-file");
	jsf(m, "id", "mem-%s", d->id);
	cleanup_free char *mem = host_ref(env, d->file, VM_FD_FILE, VM_FD_REF_PROC, O_RDONLY);
	js(m, "mem-path", mem);
	ji(m, "size", (long long)st.st_size);
	jb(m, "readonly", true);
	struct json_object *o = part_new(p, VM_PART_DEVICE);
	js(o, "driver", "nvdimm");
	js(o, "id", d->id);
	jsf(o, "memdev", "mem-%s", d->id);
	jb(o, "unarmed", true);
	p->main = (int)p->n - 1;
	return 0;
}

/* A unix socket chardev: QEMU listens (server) or connects at `path`;
 * with pass_files the daemon binds or connects it with the owner's rights
 * and QEMU gets the descriptor (fd=). */
static void chardev_socket(struct vm_dev_parts *p, const struct vm_device *d,
			   const struct vm_dev_env *env, const char *path, bool server)
{
	struct json_object *c = part_new(p, VM_PART_CHARDEV);
	js(c, "backend", "socket");
	jsf(c, "id", "char-%s", d->id);
	if (env->pass_files) {
		cleanup_free char *ref = host_ref(env, path, server ? VM_FD_LISTEN : VM_FD_CONNECT,
						   VM_FD_REF_NUM, 0);
		js(c, "fd", ref);
	} else {
		js(c, "path", path);
	}
	if (server) {
		jb(c, "server", true);
		jb(c, "wait", false);
	}
}

int vm_device_build_serial(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e)
{
	const char *sock = vm_device_str(d, "socket"), *file = vm_device_str(d, "file");
	if (!*sock && !*file)
		file = env->console_log;
	if (*sock) {
		chardev_socket(p, d, env, sock, true);
	} else {
		if (!file || !*file)
			return err_set(e, EINVAL, "device %s: file: no console log to write to", d->id);
		struct json_object *c = part_new(p, VM_PART_CHARDEV);
		js(c, "backend", "file");
		jsf(c, "id", "char-%s", d->id);
		/* The sandbox's own console log is the daemon's to open. */
		struct vm_dev_env own = *env;
		if (file == env->console_log)
			own.owner = &cred_root;
		cleanup_free char *ref = host_ref(&own, file, VM_FD_FILE, VM_FD_REF_FDSET,
						   O_WRONLY | O_APPEND | O_CREAT);
		js(c, "path", ref);
		jb(c, "append", true);
	}
	char vser[VM_DEVICE_ID_MAX + 8];
	snprintf(vser, sizeof(vser), "vser-%s", d->id);
	struct json_object *bus = virtio_dev(p, env, "virtio-serial", vser);
	place(p, bus, env, true);
	int main = p->main;
	struct json_object *port = part_new(p, VM_PART_DEVICE);
	js(port, "driver", d->kind == VM_DEVK_CONSOLE ? "virtconsole" : "virtserialport");
	js(port, "id", d->id);
	jsf(port, "bus", "%s.0", vser);
	jsf(port, "chardev", "char-%s", d->id);
	if (d->kind == VM_DEVK_SERIAL && *vm_device_str(d, "name"))
		js(port, "name", vm_device_str(d, "name"));
	p->main = main;
	return 0;
}

int vm_device_build_9p(const struct vm_device *d, const struct vm_dev_env *env,
		    struct vm_dev_parts *p, struct err **e)
{
	/* Kata/govmm: a 9p fsdev id may not exceed 31 characters. */
	char fsid[32];
	snprintf(fsid, sizeof(fsid), "fs-%s", d->id);
	struct json_object *f = part_new(p, VM_PART_FSDEV);
	js(f, "fsdriver", "local");
	js(f, "id", fsid);
	js(f, "path", vm_device_str(d, "path"));
	js(f, "security_model", vm_device_str(d, "security_model"));
	if (vm_device_bool(d, "readonly"))
		jb(f, "readonly", true);
	if (env->arch->p9_multidevs) /* Kata: not on arm64 */
		js(f, "multidevs", "remap");
	struct json_object *o = virtio_dev(p, env, "virtio-9p", d->id);
	js(o, "fsdev", fsid);
	js(o, "mount_tag", vm_device_str(d, "mount_tag"));
	place(p, o, env, true);
	return 0;
}

int vm_device_build_vfs(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	chardev_socket(p, d, env, vm_device_str(d, "socket"), false);
	struct json_object *o = virtio_dev(p, env, "vhost-user-fs", d->id);
	jsf(o, "chardev", "char-%s", d->id);
	js(o, "tag", vm_device_str(d, "tag"));
	ji(o, "queue-size", vm_device_int(d, "queue_size"));
	if (vm_device_int(d, "cache_size_mib"))
		jsf(o, "cache-size", "%lldM", vm_device_int(d, "cache_size_mib"));
	place(p, o, env, false);
	return 0;
}

int vm_device_build_vhu(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	chardev_socket(p, d, env, vm_device_str(d, "socket"), false);
	struct json_object *o;
	if (d->kind == VM_DEVK_VHOST_USER_NET) {
		struct json_object *n = part_new(p, VM_PART_NETDEV);
		js(n, "type", "vhost-user");
		jsf(n, "id", "net-%s", d->id);
		jsf(n, "chardev", "char-%s", d->id);
		jb(n, "vhostforce", true);
		o = virtio_dev(p, env, "virtio-net", d->id);
		jsf(o, "netdev", "net-%s", d->id);
		if (*vm_device_str(d, "mac"))
			js(o, "mac", vm_device_str(d, "mac"));
	} else {
		o = virtio_dev(p, env, d->kind == VM_DEVK_VHOST_USER_SCSI ? "vhost-user-scsi"
									  : "vhost-user-blk", d->id);
		jsf(o, "chardev", "char-%s", d->id);
	}
	place(p, o, env, false);
	return 0;
}

int vm_device_build_vsock(const struct vm_device *d, const struct vm_dev_env *env,
		       struct vm_dev_parts *p, struct err **e)
{
	struct json_object *o = virtio_dev(p, env, "vhost-vsock", d->id);
	ji(o, "guest-cid", vm_device_int(d, "cid"));
	if (vm_device_bool(d, "pass_fds"))
	{
		cleanup_free char *ref = vm_fdplan_add(env->fds, VM_FD_PATH, VM_FD_REF_NUM,
						       "/dev/vhost-vsock", NULL);
		js(o, "vhostfd", ref);
	}
	place(p, o, env, true);
	return 0;
}

/* "4:5:6" of n fresh descriptors from `src` `name`. */
static char *fd_list(const struct vm_dev_env *env, int n, enum vm_fd_source src, const char *name,
		     bool mq)
{
	struct sbuf b = {0};
	struct vm_fd opts = {.multi_queue = mq, .cred = env->owner ? *env->owner : cred_root};
	for (int i = 0; i < n; i++) {
		cleanup_free char *ref = vm_fdplan_add(env->fds, src, VM_FD_REF_NUM, name, &opts);
		sbuf_printf(&b, "%s%s", i ? ":" : "", ref);
	}
	return sbuf_steal(&b);
}

int vm_device_build_net(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	int q = (int)vm_device_int(d, "queues");
	bool vhost = vm_device_bool(d, "vhost");
	const char *ifname = vm_device_str(d, "ifname");
	struct json_object *n = part_new(p, VM_PART_NETDEV);
	js(n, "type", "tap");
	jsf(n, "id", "net-%s", d->id);
	if (vm_device_bool(d, "pass_fds")) {
		bool macvtap = !strcmp(vm_device_str(d, "backend"), "macvtap");
		cleanup_free char *fl = fd_list(env, q, macvtap ? VM_FD_MACVTAP : VM_FD_TUN,
						 ifname, q > 1);
		js(n, q > 1 ? "fds" : "fd", fl);
		if (vhost) {
			jb(n, "vhost", true);
			cleanup_free char *vl = fd_list(env, q, VM_FD_PATH, "/dev/vhost-net", false);
			js(n, q > 1 ? "vhostfds" : "vhostfd", vl);
		}
	} else {
		js(n, "ifname", ifname);
		js(n, "script", "no");
		js(n, "downscript", "no");
		if (q > 1)
			ji(n, "queues", q);
		if (vhost)
			jb(n, "vhost", true);
	}
	struct json_object *o = virtio_dev(p, env, "virtio-net", d->id);
	jsf(o, "netdev", "net-%s", d->id);
	if (*vm_device_str(d, "mac"))
		js(o, "mac", vm_device_str(d, "mac"));
	if (q > 1) {
		jb(o, "mq", true);
		if (!env->arch->ccw) /* MSI-X vectors: a virtio-pci property */
			ji(o, "vectors", 2 * q + 2);
	}
	place(p, o, env, true);
	return 0;
}

int vm_device_build_vfio(const struct vm_device *d, const struct vm_dev_env *env,
		      struct vm_dev_parts *p, struct err **e)
{
	struct json_object *o = part_new(p, VM_PART_DEVICE);
	js(o, "driver", "vfio-pci");
	js(o, "id", d->id);
	if (*vm_device_str(d, "host"))
		js(o, "host", vm_device_str(d, "host"));
	else
		js(o, "sysfsdev", vm_device_str(d, "sysfsdev"));
	if (*vm_device_str(d, "vendor_id"))
		ji(o, "x-pci-vendor-id", strtol(vm_device_str(d, "vendor_id"), NULL, 16));
	if (*vm_device_str(d, "device_id"))
		ji(o, "x-pci-device-id", strtol(vm_device_str(d, "device_id"), NULL, 16));
	if (*vm_device_str(d, "bus")) {
		js(o, "bus", vm_device_str(d, "bus"));
		p->main = (int)p->n - 1;
	} else {
		place(p, o, env, false);
	}
	return 0;
}

int vm_device_build_rng(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	struct json_object *b = part_new(p, VM_PART_OBJECT);
	js(b, "qom-type", "rng-random");
	jsf(b, "id", "rng-%s", d->id);
	cleanup_free char *rng = host_ref(env, vm_device_str(d, "filename"), VM_FD_FILE,
					   VM_FD_REF_FDSET, O_RDONLY);
	js(b, "filename", rng);
	struct json_object *o = virtio_dev(p, env, "virtio-rng", d->id);
	jsf(o, "rng", "rng-%s", d->id);
	if (vm_device_int(d, "max_bytes"))
		ji(o, "max-bytes", vm_device_int(d, "max_bytes"));
	if (vm_device_int(d, "period_ms"))
		ji(o, "period", vm_device_int(d, "period_ms"));
	place(p, o, env, true);
	return 0;
}

int vm_device_build_iommu(const struct vm_device *d, const struct vm_dev_env *env,
		       struct vm_dev_parts *p, struct err **e)
{
	if (!env->arch->iommu_driver)
		return err_set(e, EINVAL, "device %s: type: no vIOMMU on %s", d->id, env->arch->name);
	struct json_object *o = part_new(p, VM_PART_DEVICE);
	js(o, "driver", env->arch->iommu_driver);
	js(o, "id", d->id);
	/* intremap is OnOffAuto: a string in QMP. */
	js(o, "intremap", vm_device_bool(d, "intremap") ? "on" : "off");
	jb(o, "device-iotlb", vm_device_bool(d, "device_iotlb"));
	jb(o, "caching-mode", vm_device_bool(d, "caching_mode"));
	p->main = (int)p->n - 1;
	return 0;
}

int vm_device_build_balloon(const struct vm_device *d, const struct vm_dev_env *env,
			 struct vm_dev_parts *p, struct err **e)
{
	struct json_object *o = virtio_dev(p, env, "virtio-balloon", d->id);
	if (vm_device_bool(d, "deflate_on_oom"))
		jb(o, "deflate-on-oom", true);
	if (vm_device_bool(d, "free_page_reporting"))
		jb(o, "free-page-reporting", true);
	place(p, o, env, true);
	return 0;
}
