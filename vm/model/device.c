/*
 * vm_device — device descriptions; see device.h.  The key types and
 * values are checked in device_spec.c, the parts built in device_build.c.
 *
 * Grammar of a device spec (one JSON object; trailing whitespace only):
 *
 *   spec   := "{" "type":TYPE, "id":ID (, KEY:VALUE)* "}"   any member order
 *   ID     := [A-Za-z][A-Za-z0-9._-]{0,24}
 *   Every TYPE accepts exactly the keys listed for it; an unknown key, a
 *   wrong JSON type, a missing required key or a bad value is EINVAL with a
 *   message naming the key — a device is never silently dropped or trimmed.
 *   Strings never hold control characters; ',' is fine (escaped as ',,').
 *   PATH is absolute.  Defaults are filled into the normalized spec that
 *   devices/<id>/spec shows.
 *
 *   type             keys (default)                                   QEMU parts
 *   block            file PATH!, format raw|qcow2 (raw), readonly (false),
 *                    interface virtio-blk|scsi (virtio-blk),
 *                    iothread ID (""), scsi_id 0..255 (0), lun 0..16383 (0)
 *                      virtio-blk: -blockdev drive-ID + -device virtio-blk
 *                      scsi: -device virtio-scsi scsi-ID[,iothread] +
 *                            -blockdev + -device scsi-hd,bus=scsi-ID.0
 *   image            file PATH!, as nvdimm|virtio-blk (nvdimm), dax (false)
 *                      nvdimm: -object memory-backend-file mem-ID (size =
 *                      the file's) + -device nvdimm; machine nvdimm=on;
 *                      virtio-blk: read-only -blockdev + virtio-blk.
 *                      Adds the root= kernel params; at most one image.
 *   console          socket PATH (""), file PATH ("" = the sandbox console
 *                    log) — not both.  -chardev char-ID + virtio-serial
 *                    vser-ID + virtconsole
 *   serial           socket PATH | file PATH (exactly one), name PORT ("")
 *                      -chardev + virtio-serial vser-ID + virtserialport
 *   9p               path PATH!, mount_tag TAG (ID), security_model
 *                    none|passthrough|mapped|mapped-xattr|mapped-file (none),
 *                    readonly (false).  -fsdev local fs-ID (cut to 31
 *                    chars) + virtio-9p
 *   virtio-fs        socket PATH!, tag TAG (ID), queue_size 1..1024 (1024),
 *                    cache_size_mib 0..1048576 (0 = no DAX window)
 *                      -chardev socket + vhost-user-fs-pci
 *   vhost-user-net   socket PATH!, mac MAC ("")  -chardev + -netdev
 *                      vhost-user net-ID + virtio-net
 *   vhost-user-scsi  socket PATH!                -chardev + vhost-user-scsi
 *   vhost-user-blk   socket PATH!                -chardev + vhost-user-blk
 *   vsock            cid 3..4294967294!, pass_fds (true: the daemon opens
 *                    /dev/vhost-vsock; false: QEMU does)  vhost-vsock
 *   net              backend tap|macvtap (tap), ifname IFNAME!, mac MAC (""),
 *                    queues 1..16 (1), vhost (false), pass_fds (true; false
 *                    lets QEMU open the tap itself — root only, and never a
 *                    macvtap, which can only be passed as fds)
 *                      -netdev tap net-ID + virtio-net[,mq=on,vectors=2N+2]
 *   vfio             host BDF | sysfsdev PATH (exactly one), vendor_id /
 *                    device_id HEX16 (""), bus ID ("" = the bridge slot)
 *                      -device vfio-pci
 *   rng              filename PATH (/dev/urandom), max_bytes (0 = QEMU's),
 *                    period_ms (0 = QEMU's)
 *                      -object rng-random rng-ID + virtio-rng
 *   iommu            intremap, device_iotlb, caching_mode (all true)
 *                      -device intel-iommu (q35 only; first on the line)
 *   balloon          deflate_on_oom (false), free_page_reporting (false)
 *                      -device virtio-balloon; at most one per sandbox
 *
 * Per architecture (arch_ops): "-pci" drivers placed with bus=<bridge>,
 * addr=<slot>; on s390x "-ccw" drivers placed with devno=fe.0.<slot> (no
 * disable-modern, no MSI-X vectors), no vfio, no vhost-user-blk/scsi; no
 * vIOMMU off x86_64; nvdimm images only where the machine takes NVDIMMs
 * (x86_64, aarch64); 9p -fsdev multidevs=remap except on aarch64 (Kata).
 *
 *   MAC    xx:xx:xx:xx:xx:xx, unicast     BDF  [dddd:]bb:dd.f (hex)
 *   HEX16  "0x" + 1..4 hex digits         TAG  1..31 chars, no controls
 *   IFNAME [A-Za-z0-9_.-]{1,15}           PORT [A-Za-z0-9_.-]{0,63}
 *
 * File descriptors (decision).  A user of a FUSE file cannot pass an fd
 * through `echo`, so a spec names what to open, never an fd number:
 * "pass_fds": true makes the daemon open the descriptors itself — per
 * queue a tap by "ifname" (/dev/net/tun + TUNSETIFF) or a macvtap's
 * /dev/tap<ifindex>, per queue /dev/vhost-net when "vhost", or
 * /dev/vhost-vsock — and hand them to QEMU by inheritance, numbered from
 * VM_FD_FIRST in device order (govmm's appendFDs); the argv references the
 * numbers ("fds=4:5", "vhostfds=6:7", "vhostfd=8").  Passing is the
 * default: an unprivileged QEMU cannot open a tap, /dev/vhost-net or
 * /dev/vhost-vsock itself.  Host files and sockets the spec names are
 * handed over the same way when QEMU runs confined (vm_dev_env.pass_files).
 */
#include "vm/model/device.h"

#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "vm/model/device_kind.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "qmp/qmp_keyval.h"
#include "vm/model/config.h"

/* ---- the key tables ---- */

static const char *const fmt_choices[] = { "raw", "qcow2", NULL };
static const char *const blk_if_choices[] = { "virtio-blk", "scsi", NULL };
static const char *const image_as_choices[] = { "nvdimm", "virtio-blk", NULL };
static const char *const sec_choices[] = { "none", "passthrough", "mapped", "mapped-xattr",
					   "mapped-file", NULL };
static const char *const net_backend_choices[] = { "tap", "macvtap", NULL };


static const struct vm_device_key block_keys[] = {
	K_PATH("file", true), K_ENUM("format", "raw", fmt_choices), K_BOOL("readonly", 0),
	K_ENUM("interface", "virtio-blk", blk_if_choices), { "iothread", DK_ID },
	K_INT("scsi_id", false, 0, 0, 255), K_INT("lun", false, 0, 0, 16383),
};
static const struct vm_device_key image_keys[] = {
	K_PATH("file", true), K_ENUM("as", "nvdimm", image_as_choices), K_BOOL("dax", 0),
};
static const struct vm_device_key console_keys[] = { K_PATH("socket", false), K_PATH("file", false) };
static const struct vm_device_key serial_keys[] = {
	K_PATH("socket", false), K_PATH("file", false), { "name", DK_PORT },
};
static const struct vm_device_key p9_keys[] = {
	K_PATH("path", true), { "mount_tag", DK_TAG }, K_ENUM("security_model", "none", sec_choices),
	K_BOOL("readonly", 0),
};
static const struct vm_device_key vfs_keys[] = {
	K_PATH("socket", true), { "tag", DK_TAG }, K_INT("queue_size", false, 1024, 1, 1024),
	K_INT("cache_size_mib", false, 0, 0, 1048576),
};
static const struct vm_device_key vhu_net_keys[] = { K_PATH("socket", true), { "mac", DK_MAC } };
static const struct vm_device_key vhu_keys[] = { K_PATH("socket", true) };
static const struct vm_device_key vsock_keys[] = {
	K_INT("cid", true, 0, 3, 4294967294LL), K_BOOL("pass_fds", 1),
};
static const struct vm_device_key net_keys[] = {
	K_ENUM("backend", "tap", net_backend_choices), { "ifname", DK_IFNAME, true },
	{ "mac", DK_MAC }, K_INT("queues", false, 1, 1, 16), K_BOOL("vhost", 0),
	K_BOOL("pass_fds", 1),
};
static const struct vm_device_key vfio_keys[] = {
	{ "host", DK_BDF }, K_PATH("sysfsdev", false), { "vendor_id", DK_HEX16 },
	{ "device_id", DK_HEX16 }, { "bus", DK_ID },
};
static const struct vm_device_key rng_keys[] = {
	{ "filename", DK_PATH, false, "/dev/urandom" }, K_INT("max_bytes", false, 0, 0, INT_MAX),
	K_INT("period_ms", false, 0, 0, INT_MAX),
};
static const struct vm_device_key iommu_keys[] = {
	K_BOOL("intremap", 1), K_BOOL("device_iotlb", 1), K_BOOL("caching_mode", 1),
};
static const struct vm_device_key balloon_keys[] = {
	K_BOOL("deflate_on_oom", 0), K_BOOL("free_page_reporting", 0),
};


static int fix_block(struct json_object *s, const char *id, struct err **e);
static int fix_console(struct json_object *s, const char *id, struct err **e);
static int fix_serial(struct json_object *s, const char *id, struct err **e);
static int fix_tag(struct json_object *s, const char *id, struct err **e);
static int fix_net(struct json_object *s, const char *id, struct err **e);
static int fix_vfio(struct json_object *s, const char *id, struct err **e);
static int fix_image(struct json_object *s, const char *id, struct err **e);

#define KEYS(k) k, ARRAY_SIZE(k)
static const struct vm_device_kind dev_kinds[] = {
	{ "block", VM_DEVK_BLOCK, KEYS(block_keys), fix_block, vm_device_build_block, "file", true },
	{ "image", VM_DEVK_IMAGE, KEYS(image_keys), fix_image, vm_device_build_image, "file", true },
	{ "console", VM_DEVK_CONSOLE, KEYS(console_keys), fix_console, vm_device_build_serial, NULL, true },
	{ "serial", VM_DEVK_SERIAL, KEYS(serial_keys), fix_serial, vm_device_build_serial, NULL, true },
	{ "9p", VM_DEVK_9P, KEYS(p9_keys), fix_tag, vm_device_build_9p, "path", true },
	{ "virtio-fs", VM_DEVK_VIRTIOFS, KEYS(vfs_keys), fix_tag, vm_device_build_vfs, NULL, true },
	{ "vhost-user-net", VM_DEVK_VHOST_USER_NET, KEYS(vhu_net_keys), NULL, vm_device_build_vhu, NULL, true },
	{ "vhost-user-scsi", VM_DEVK_VHOST_USER_SCSI, KEYS(vhu_keys), NULL, vm_device_build_vhu, NULL, true },
	{ "vhost-user-blk", VM_DEVK_VHOST_USER_BLK, KEYS(vhu_keys), NULL, vm_device_build_vhu, NULL, true },
	{ "vsock", VM_DEVK_VSOCK, KEYS(vsock_keys), NULL, vm_device_build_vsock, NULL, true },
	{ "net", VM_DEVK_NET, KEYS(net_keys), fix_net, vm_device_build_net, NULL, true },
	{ "vfio", VM_DEVK_VFIO, KEYS(vfio_keys), fix_vfio, vm_device_build_vfio, NULL, true },
	{ "rng", VM_DEVK_RNG, KEYS(rng_keys), NULL, vm_device_build_rng, "filename", true },
	{ "iommu", VM_DEVK_IOMMU, KEYS(iommu_keys), NULL, vm_device_build_iommu, NULL, false },
	{ "balloon", VM_DEVK_BALLOON, KEYS(balloon_keys), NULL, vm_device_build_balloon, NULL, true },
};

static const struct vm_device_kind *dev_kind_of(const struct vm_device *d)
{
	for (size_t i = 0; i < ARRAY_SIZE(dev_kinds); i++)
		if (dev_kinds[i].kind == d->kind)
			return &dev_kinds[i];
	return NULL;
}

/* ---- spec accessors ---- */

const char *vm_device_str(const struct vm_device *d, const char *key)
{
	struct json_object *v;
	if (d->spec && json_object_object_get_ex(d->spec, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

long long vm_device_int(const struct vm_device *d, const char *key)
{
	struct json_object *v;
	if (d->spec && json_object_object_get_ex(d->spec, key, &v))
		return json_object_get_int64(v);
	return 0;
}

bool vm_device_bool(const struct vm_device *d, const char *key)
{
	struct json_object *v;
	return d->spec && json_object_object_get_ex(d->spec, key, &v) &&
	       json_object_get_boolean(v);
}

/* ---- fixups: dependent defaults, cross-key rules ---- */

static bool spec_has(struct json_object *in, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(in, key, &v);
}

static int fix_block(struct json_object *s, const char *id, struct err **e)
{
	bool scsi = !strcmp(util_json_str0(s, "interface"), "scsi");
	struct json_object *v;
	if (!scsi && json_object_object_get_ex(s, "scsi_id", &v) && json_object_get_int(v))
		return err_set(e, EINVAL, "scsi_id: only for interface scsi");
	if (!scsi && json_object_object_get_ex(s, "lun", &v) && json_object_get_int(v))
		return err_set(e, EINVAL, "lun: only for interface scsi");
	return 0;
}

static int fix_image(struct json_object *s, const char *id, struct err **e)
{
	if (util_json_bool(s, "dax") && strcmp(util_json_str0(s, "as"), "nvdimm") != 0)
		return err_set(e, EINVAL, "dax: only for an image used as nvdimm");
	return 0;
}

static int fix_console(struct json_object *s, const char *id, struct err **e)
{
	if (*util_json_str0(s, "socket") && *util_json_str0(s, "file"))
		return err_set(e, EINVAL, "socket: a console goes to a socket or a file, not both");
	return 0;
}

static int fix_serial(struct json_object *s, const char *id, struct err **e)
{
	bool sock = *util_json_str0(s, "socket"), file = *util_json_str0(s, "file");
	if (sock == file)
		return err_set(e, EINVAL, "socket: a serial port needs exactly one of socket, file");
	return 0;
}

static int fix_tag(struct json_object *s, const char *id, struct err **e)
{
	const char *key = spec_has(s, "mount_tag") ? "mount_tag" : "tag";
	if (!*util_json_str0(s, key))
		json_object_object_add(s, key, json_object_new_string(id));
	return 0;
}

static int fix_net(struct json_object *s, const char *id, struct err **e)
{
	return 0; /* pass_fds default is decided in dev_normalize (needs "was it given") */
}

static int fix_vfio(struct json_object *s, const char *id, struct err **e)
{
	bool host = *util_json_str0(s, "host"), sys = *util_json_str0(s, "sysfsdev");
	if (host == sys)
		return err_set(e, EINVAL, "host: a vfio device needs exactly one of host, sysfsdev");
	return 0;
}

/* ---- parsing ---- */

void vm_device_free(struct vm_device *d)
{
	if (!d)
		return;
	free(d->id);
	free(d->type);
	free(d->file);
	free(d->format);
	json_object_put(d->spec);
	free(d->throttle);
	free(d);
}

int vm_device_from_json(struct json_object *o, struct vm_device **out, struct err **e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "device: not a JSON object");
	const char *type, *id;
	int r;
	if ((r = vm_device_spec_string(o, "type", &type, e)) < 0)
		return r;
	if (!type)
		return err_set(e, EINVAL, "type: required");
	const struct vm_device_kind *k = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(dev_kinds); i++)
		if (!strcmp(dev_kinds[i].type, type))
			k = &dev_kinds[i];
	if (!k) {
		struct sbuf b = {0};
		for (size_t i = 0; i < ARRAY_SIZE(dev_kinds); i++)
			sbuf_printf(&b, "%s%s", i ? " " : "", dev_kinds[i].type);
		r = err_set(e, EINVAL, "type: unsupported device type %s (one of: %s)", type, b.s);
		sbuf_release(&b);
		return r;
	}
	json_object_object_foreach(o, key, val) {
		(void)val;
		bool known = !strcmp(key, "type") || !strcmp(key, "id");
		for (size_t i = 0; !known && i < k->nkeys; i++)
			known = !strcmp(key, k->keys[i].key);
		if (!known)
			return err_set(e, EINVAL, "unknown key: %s (not a key of type %s)", key, type);
	}
	if ((r = vm_device_spec_string(o, "id", &id, e)) < 0)
		return r;
	if (!id)
		return err_set(e, EINVAL, "id: required");
	if ((r = qmp_keyval_check_id("id", id, VM_DEVICE_ID_MAX, e)) < 0)
		return r;

	cleanup_json struct json_object *spec = json_object_new_object();
	json_object_object_add(spec, "type", json_object_new_string(type));
	json_object_object_add(spec, "id", json_object_new_string(id));
	if ((r = vm_device_spec_normalize(k, o, id, spec, e)) < 0)
		return r;

	struct vm_device *d = xcalloc(1, sizeof(*d));
	d->type = xstrdup(type);
	d->id = xstrdup(id);
	d->kind = k->kind;
	d->spec = move_ptr(spec);
	if (k->file_key)
		d->file = xstrdup(vm_device_str(d, k->file_key));
	if (k->kind == VM_DEVK_BLOCK)
		d->format = xstrdup(vm_device_str(d, "format"));
	d->readonly = vm_device_bool(d, "readonly") ||
		      (k->kind == VM_DEVK_IMAGE);
	d->bridge = d->slot = -1;
	d->state = VM_DEV_CONFIGURED;
	*out = d;
	return 0;
}

int vm_device_parse(const char *json, struct vm_device **out, struct err **e)
{
	cleanup_json struct json_object *o = NULL;
	int r = vm_config_parse_object(json, &o, e);
	if (r < 0)
		return r;
	return vm_device_from_json(o, out, e);
}

struct json_object *vm_device_spec(const struct vm_device *d)
{
	struct json_object *copy = NULL;
	if (json_object_deep_copy(d->spec, &copy, NULL) < 0)
		abort();
	return copy;
}

static const char *const device_state_names[VM_DEV_STATE_COUNT] = {
	[VM_DEV_CONFIGURED] = "configured", [VM_DEV_ATTACHED] = "attached",
	[VM_DEV_REMOVING] = "removing",     [VM_DEV_ADDING] = "adding",
	[VM_DEV_LOST] = "lost",
};

const char *vm_device_state_name(enum vm_device_state s)
{
	return (unsigned)s < VM_DEV_STATE_COUNT ? device_state_names[s] : "unknown";
}

int vm_device_state_parse(const char *name)
{
	for (int i = 0; name && i < VM_DEV_STATE_COUNT; i++)
		if (!strcmp(name, device_state_names[i]))
			return i;
	return -1;
}

const char *vm_device_node_name(const struct vm_device *d, char *buf, size_t len)
{
	snprintf(buf, len, "drive-%s", d->id);
	return buf;
}

bool vm_device_hotpluggable(const struct vm_device *d)
{
	switch (d->kind) {
	case VM_DEVK_IMAGE: /* the root: boot time only */
	case VM_DEVK_IOMMU: /* must come before every device */
	case VM_DEVK_9P:    /* -fsdev has no QMP command */
		return false;
	default:
		/* pass_fds descriptors go over QMP (getfd) while running. */
		return true;
	}
}

bool vm_device_is_pci(const struct vm_device *d)
{
	const struct vm_device_kind *k = dev_kind_of(d);
	if (d->kind == VM_DEVK_IMAGE)
		return strcmp(vm_device_str(d, "as"), "nvdimm") != 0;
	return k && k->pci;
}

bool vm_device_is_block(const struct vm_device *d)
{
	return d->kind == VM_DEVK_BLOCK ||
	       (d->kind == VM_DEVK_IMAGE && !strcmp(vm_device_str(d, "as"), "virtio-blk"));
}

int vm_device_check_single(const struct vm_device *d, struct vm_device *const *devs, size_t n,
			   struct err **e)
{
	if (d->kind != VM_DEVK_BALLOON)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (devs[i] != d && devs[i]->kind == d->kind)
			return err_set(e, EINVAL, "type: a sandbox has at most one balloon (%s is one)",
				       devs[i]->id);
	return 0;
}

int vm_device_check_config(const struct vm_device *d, const struct vm_config *cfg,
			   struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	const char *io = vm_device_str(d, "iothread");
	if (*io) {
		int n = -1, used = 0;
		if (sscanf(io, "iothread%d%n", &n, &used) != 1 || io[used] || n < 0 ||
		    n >= cfg->iothreads)
			return err_set(e, EINVAL,
				       "device %s: iothread: no such iothread %s (the config has %d: "
				       "iothread0..iothread%d)", d->id, io, cfg->iothreads,
				       cfg->iothreads - 1);
	}
	if (!a)
		return err_set(e, EINVAL, "device %s: unknown architecture %s", d->id, cfg->arch);
	if (d->kind == VM_DEVK_IOMMU && !a->iommu_driver)
		return err_set(e, EINVAL,
			       "device %s: type: %s does not support a vIOMMU", d->id, a->name);
	if (d->kind == VM_DEVK_IOMMU && !a->iommu_supported(vm_config_machine_family(cfg)))
		return err_set(e, EINVAL,
			       "device %s: type: a vIOMMU needs machine q35 (machine is %s)", d->id,
			       cfg->machine);
	if (d->kind == VM_DEVK_IMAGE && !strcmp(vm_device_str(d, "as"), "nvdimm") &&
	    !a->nvdimm_option)
		return err_set(e, EINVAL,
			       "device %s: as: no NVDIMM image on %s (use \"as\":\"virtio-blk\")",
			       d->id, a->name);
	if (d->kind == VM_DEVK_NET && vm_device_int(d, "queues") > 1 &&
	    !(a->caps & ARCH_CAP_MULTIQUEUE))
		return err_set(e, EINVAL, "device %s: queues: no multiqueue on %s", d->id, a->name);
	if ((d->kind == VM_DEVK_9P || d->kind == VM_DEVK_VIRTIOFS) &&
	    !(a->caps & ARCH_CAP_FS_SHARING))
		return err_set(e, EINVAL, "device %s: type: no filesystem sharing on %s", d->id,
			       a->name);
	if (a->ccw && d->kind == VM_DEVK_VFIO)
		return err_set(e, EINVAL,
			       "device %s: type: vfio-pci needs a PCI bus; %s has CCW devices only",
			       d->id, a->name);
	if (a->ccw && (d->kind == VM_DEVK_VHOST_USER_BLK || d->kind == VM_DEVK_VHOST_USER_SCSI))
		return err_set(e, EINVAL,
			       "device %s: type: %s has no %s-ccw (of vhost-user only fs and net)",
			       d->id, a->name, d->type);
	/* A vhost-user backend maps guest memory: QEMU must share it. */
	bool vhost_user = d->kind == VM_DEVK_VIRTIOFS || d->kind == VM_DEVK_VHOST_USER_NET ||
			  d->kind == VM_DEVK_VHOST_USER_SCSI || d->kind == VM_DEVK_VHOST_USER_BLK;
	if (vhost_user && !cfg->mem_shared && !cfg->hugepages)
		return err_set(e, EINVAL, "device %s: type: %s needs the guest's memory shared with "
			       "its backend: set \"mem_shared\": true (or hugepages) in config",
			       d->id, d->type);
	return 0;
}

int vm_device_parts(const struct vm_device *d, const struct vm_dev_env *env,
		    struct vm_dev_parts *out, struct err **e)
{
	const struct vm_device_kind *k = dev_kind_of(d);
	if (!k || !env || !env->arch)
		return err_set(e, EINVAL, "device %s: no device model", d->id);
	struct vm_fdplan scratch = {0};
	struct vm_dev_env env2 = *env;
	if (!env2.fds)
		env2.fds = &scratch;
	struct vm_dev_parts p = { .main = -1 };
	int r = k->build(d, &env2, &p, e);
	vm_fdplan_release(&scratch);
	if (r < 0) {
		vm_dev_parts_release(&p);
		return r;
	}
	*out = p;
	return 0;
}
