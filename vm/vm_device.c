/*
 * vm_device — device descriptions; see vm_device.h.
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
 *   vsock            cid 3..4294967294!, pass_fds (false: QEMU opens
 *                    /dev/vhost-vsock; true: the daemon does)  vhost-vsock
 *   net              backend tap|macvtap (tap), ifname IFNAME!, mac MAC (""),
 *                    queues 1..16 (1), vhost (false), pass_fds (tap: false,
 *                    macvtap: true — a macvtap can only be passed as fds)
 *                      -netdev tap net-ID + virtio-net[,mq=on,vectors=2N+2]
 *   vfio             host BDF | sysfsdev PATH (exactly one), vendor_id /
 *                    device_id HEX16 (""), bus ID ("" = the bridge slot)
 *                      -device vfio-pci
 *   rng              filename PATH (/dev/urandom), max_bytes (0 = QEMU's),
 *                    period_ms (0 = QEMU's)
 *                      -object rng-random rng-ID + virtio-rng
 *   iommu            intremap, device_iotlb, caching_mode (all true)
 *                      -device intel-iommu (q35 only; first on the line)
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
 * numbers ("fds=4:5", "vhostfds=6:7", "vhostfd=8").
 */
#include "vm/vm_device.h"

#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "vm/vm_config.h"
#include "vm/vm_qopts.h"

/* ---- the key tables ---- */

enum dk_type { DK_STR, DK_PATH, DK_ENUM, DK_INT, DK_BOOL, DK_ID, DK_MAC, DK_BDF, DK_HEX16,
	       DK_TAG, DK_IFNAME, DK_PORT };

struct dev_key {
	const char *key;
	enum dk_type t;
	bool required;
	const char *sdef;          /* string default; NULL: "" */
	long long idef, min, max;  /* DK_INT / DK_BOOL */
	const char *const *choices;
};

struct dev_kind;
typedef int (*dev_build_fn)(const struct vm_device *d, const struct vm_dev_env *env,
			    struct vm_dev_parts *p, struct err **e);

struct dev_kind {
	const char *type;
	enum vm_dev_kind kind;
	const struct dev_key *keys;
	size_t nkeys;
	/* Defaults that depend on other keys, cross-key rules. */
	int (*fixup)(struct json_object *spec, const char *id, struct err **e);
	dev_build_fn build;
	const char *file_key; /* copied to d->file (checked readable) */
	bool pci;
};

static const char *const fmt_choices[] = { "raw", "qcow2", NULL };
static const char *const blk_if_choices[] = { "virtio-blk", "scsi", NULL };
static const char *const image_as_choices[] = { "nvdimm", "virtio-blk", NULL };
static const char *const sec_choices[] = { "none", "passthrough", "mapped", "mapped-xattr",
					   "mapped-file", NULL };
static const char *const net_backend_choices[] = { "tap", "macvtap", NULL };

#define K_PATH(k, req) { k, DK_PATH, req }
#define K_BOOL(k, def) { k, DK_BOOL, false, NULL, def, 0, 1 }
#define K_INT(k, req, def, lo, hi) { k, DK_INT, req, NULL, def, lo, hi }
#define K_ENUM(k, def, c) { k, DK_ENUM, false, def, 0, 0, 0, c }

static const struct dev_key block_keys[] = {
	K_PATH("file", true), K_ENUM("format", "raw", fmt_choices), K_BOOL("readonly", 0),
	K_ENUM("interface", "virtio-blk", blk_if_choices), { "iothread", DK_ID },
	K_INT("scsi_id", false, 0, 0, 255), K_INT("lun", false, 0, 0, 16383),
};
static const struct dev_key image_keys[] = {
	K_PATH("file", true), K_ENUM("as", "nvdimm", image_as_choices), K_BOOL("dax", 0),
};
static const struct dev_key console_keys[] = { K_PATH("socket", false), K_PATH("file", false) };
static const struct dev_key serial_keys[] = {
	K_PATH("socket", false), K_PATH("file", false), { "name", DK_PORT },
};
static const struct dev_key p9_keys[] = {
	K_PATH("path", true), { "mount_tag", DK_TAG }, K_ENUM("security_model", "none", sec_choices),
	K_BOOL("readonly", 0),
};
static const struct dev_key vfs_keys[] = {
	K_PATH("socket", true), { "tag", DK_TAG }, K_INT("queue_size", false, 1024, 1, 1024),
	K_INT("cache_size_mib", false, 0, 0, 1048576),
};
static const struct dev_key vhu_net_keys[] = { K_PATH("socket", true), { "mac", DK_MAC } };
static const struct dev_key vhu_keys[] = { K_PATH("socket", true) };
static const struct dev_key vsock_keys[] = {
	K_INT("cid", true, 0, 3, 4294967294LL), K_BOOL("pass_fds", 0),
};
static const struct dev_key net_keys[] = {
	K_ENUM("backend", "tap", net_backend_choices), { "ifname", DK_IFNAME, true },
	{ "mac", DK_MAC }, K_INT("queues", false, 1, 1, 16), K_BOOL("vhost", 0),
	K_BOOL("pass_fds", 0),
};
static const struct dev_key vfio_keys[] = {
	{ "host", DK_BDF }, K_PATH("sysfsdev", false), { "vendor_id", DK_HEX16 },
	{ "device_id", DK_HEX16 }, { "bus", DK_ID },
};
static const struct dev_key rng_keys[] = {
	{ "filename", DK_PATH, false, "/dev/urandom" }, K_INT("max_bytes", false, 0, 0, INT_MAX),
	K_INT("period_ms", false, 0, 0, INT_MAX),
};
static const struct dev_key iommu_keys[] = {
	K_BOOL("intremap", 1), K_BOOL("device_iotlb", 1), K_BOOL("caching_mode", 1),
};

static int fix_block(struct json_object *s, const char *id, struct err **e);
static int fix_console(struct json_object *s, const char *id, struct err **e);
static int fix_serial(struct json_object *s, const char *id, struct err **e);
static int fix_tag(struct json_object *s, const char *id, struct err **e);
static int fix_net(struct json_object *s, const char *id, struct err **e);
static int fix_vfio(struct json_object *s, const char *id, struct err **e);
static int fix_image(struct json_object *s, const char *id, struct err **e);
static int build_block(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		       struct err **);
static int build_image(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		       struct err **);
static int build_serial(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
			struct err **);
static int build_9p(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		    struct err **);
static int build_vfs(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		     struct err **);
static int build_vhu(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		     struct err **);
static int build_vsock(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		       struct err **);
static int build_net(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		     struct err **);
static int build_vfio(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		      struct err **);
static int build_rng(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		     struct err **);
static int build_iommu(const struct vm_device *, const struct vm_dev_env *, struct vm_dev_parts *,
		       struct err **);

#define KEYS(k) k, ARRAY_SIZE(k)
static const struct dev_kind dev_kinds[] = {
	{ "block", VM_DEVK_BLOCK, KEYS(block_keys), fix_block, build_block, "file", true },
	{ "image", VM_DEVK_IMAGE, KEYS(image_keys), fix_image, build_image, "file", true },
	{ "console", VM_DEVK_CONSOLE, KEYS(console_keys), fix_console, build_serial, NULL, true },
	{ "serial", VM_DEVK_SERIAL, KEYS(serial_keys), fix_serial, build_serial, NULL, true },
	{ "9p", VM_DEVK_9P, KEYS(p9_keys), fix_tag, build_9p, "path", true },
	{ "virtio-fs", VM_DEVK_VIRTIOFS, KEYS(vfs_keys), fix_tag, build_vfs, NULL, true },
	{ "vhost-user-net", VM_DEVK_VHOST_USER_NET, KEYS(vhu_net_keys), NULL, build_vhu, NULL, true },
	{ "vhost-user-scsi", VM_DEVK_VHOST_USER_SCSI, KEYS(vhu_keys), NULL, build_vhu, NULL, true },
	{ "vhost-user-blk", VM_DEVK_VHOST_USER_BLK, KEYS(vhu_keys), NULL, build_vhu, NULL, true },
	{ "vsock", VM_DEVK_VSOCK, KEYS(vsock_keys), NULL, build_vsock, NULL, true },
	{ "net", VM_DEVK_NET, KEYS(net_keys), fix_net, build_net, NULL, true },
	{ "vfio", VM_DEVK_VFIO, KEYS(vfio_keys), fix_vfio, build_vfio, NULL, true },
	{ "rng", VM_DEVK_RNG, KEYS(rng_keys), NULL, build_rng, "filename", true },
	{ "iommu", VM_DEVK_IOMMU, KEYS(iommu_keys), NULL, build_iommu, NULL, false },
};

static const struct dev_kind *dev_kind_of(const struct vm_device *d)
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

static const char *spec_str(struct json_object *s, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(s, key, &v) ? json_object_get_string(v) : "";
}

static bool spec_bool(struct json_object *s, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(s, key, &v) && json_object_get_boolean(v);
}

/* ---- value checks ---- */

static bool is_hex(char c) { return isxdigit((unsigned char)c) != 0; }

static bool check_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !is_hex(s[i]))
			return false;
	unsigned first = (unsigned)strtoul(s, NULL, 16);
	return (first & 1) == 0; /* unicast */
}

static bool check_bdf(const char *s)
{
	/* [dddd:]bb:dd.f */
	size_t n = strlen(s);
	const char *p = s;
	if (n == 12) {
		for (int i = 0; i < 4; i++)
			if (!is_hex(p[i]))
				return false;
		if (p[4] != ':')
			return false;
		p += 5;
	} else if (n != 7) {
		return false;
	}
	return is_hex(p[0]) && is_hex(p[1]) && p[2] == ':' && is_hex(p[3]) && is_hex(p[4]) &&
	       p[5] == '.' && p[6] >= '0' && p[6] <= '7';
}

static bool check_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

static int dev_check_value(const struct dev_key *k, const char *s, struct err **e)
{
	if (!*s && !k->required && k->t != DK_ENUM)
		return 0; /* "" = unset */
	switch (k->t) {
	case DK_STR:
		return 0;
	case DK_PATH:
		if (s[0] != '/')
			return err_set(e, EINVAL, "%s: must be an absolute path", k->key);
		if (strlen(s) >= PATH_MAX)
			return err_set(e, EINVAL, "%s: path too long", k->key);
		return 0;
	case DK_ENUM:
		for (const char *const *c = k->choices; *c; c++)
			if (!strcmp(s, *c))
				return 0;
		{
			struct sbuf b = {0};
			for (const char *const *c = k->choices; *c; c++)
				sbuf_printf(&b, "%s%s", c == k->choices ? "" : " | ", *c);
			int r = err_set(e, EINVAL, "%s: unsupported value %s (%s)", k->key, s, b.s);
			sbuf_release(&b);
			return r;
		}
	case DK_ID:
		return vm_qopts_check_id(k->key, s, 31, e);
	case DK_MAC:
		if (!check_mac(s))
			return err_set(e, EINVAL, "%s: must be a unicast MAC xx:xx:xx:xx:xx:xx", k->key);
		return 0;
	case DK_BDF:
		if (!check_bdf(s))
			return err_set(e, EINVAL, "%s: must be a PCI address [dddd:]bb:dd.f", k->key);
		return 0;
	case DK_HEX16: {
		size_t n = strlen(s);
		bool ok = n >= 3 && n <= 6 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
		for (size_t i = 2; ok && i < n; i++)
			ok = is_hex(s[i]);
		if (!ok)
			return err_set(e, EINVAL, "%s: must be a 16-bit hex id such as 0x10de", k->key);
		return 0;
	}
	case DK_TAG:
		if (strlen(s) > 31)
			return err_set(e, EINVAL, "%s: at most 31 characters", k->key);
		return 0;
	case DK_IFNAME:
		if (!check_chars(s, 1, 15))
			return err_set(e, EINVAL,
				       "%s: must be an interface name of 1..15 letters, digits, '_', '.', '-'",
				       k->key);
		return 0;
	case DK_PORT:
		if (!check_chars(s, 0, 63))
			return err_set(e, EINVAL,
				       "%s: at most 63 letters, digits, '_', '.', '-'", k->key);
		return 0;
	case DK_INT:
	case DK_BOOL:
		break;
	}
	return 0;
}

/* ---- fixups: dependent defaults, cross-key rules ---- */

static bool spec_has(struct json_object *in, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(in, key, &v);
}

static int fix_block(struct json_object *s, const char *id, struct err **e)
{
	bool scsi = !strcmp(spec_str(s, "interface"), "scsi");
	struct json_object *v;
	if (!scsi && json_object_object_get_ex(s, "scsi_id", &v) && json_object_get_int(v))
		return err_set(e, EINVAL, "scsi_id: only for interface scsi");
	if (!scsi && json_object_object_get_ex(s, "lun", &v) && json_object_get_int(v))
		return err_set(e, EINVAL, "lun: only for interface scsi");
	return 0;
}

static int fix_image(struct json_object *s, const char *id, struct err **e)
{
	if (spec_bool(s, "dax") && strcmp(spec_str(s, "as"), "nvdimm") != 0)
		return err_set(e, EINVAL, "dax: only for an image used as nvdimm");
	return 0;
}

static int fix_console(struct json_object *s, const char *id, struct err **e)
{
	if (*spec_str(s, "socket") && *spec_str(s, "file"))
		return err_set(e, EINVAL, "socket: a console goes to a socket or a file, not both");
	return 0;
}

static int fix_serial(struct json_object *s, const char *id, struct err **e)
{
	bool sock = *spec_str(s, "socket"), file = *spec_str(s, "file");
	if (sock == file)
		return err_set(e, EINVAL, "socket: a serial port needs exactly one of socket, file");
	return 0;
}

static int fix_tag(struct json_object *s, const char *id, struct err **e)
{
	const char *key = spec_has(s, "mount_tag") ? "mount_tag" : "tag";
	if (!*spec_str(s, key))
		json_object_object_add(s, key, json_object_new_string(id));
	return 0;
}

static int fix_net(struct json_object *s, const char *id, struct err **e)
{
	return 0; /* pass_fds default is decided in dev_normalize (needs "was it given") */
}

static int fix_vfio(struct json_object *s, const char *id, struct err **e)
{
	bool host = *spec_str(s, "host"), sys = *spec_str(s, "sysfsdev");
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
	free(d);
}

/* The string member `key` of o, or NULL when absent; EINVAL if present
 * but not a string, or if it holds an embedded NUL or a control char. */
static int dev_get_string(struct json_object *o, const char *key, const char **out,
			  struct err **e)
{
	struct json_object *v;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return err_set(e, EINVAL, "%s: expected string", key);
	const char *s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return err_set(e, EINVAL, "%s: must not contain newlines or control characters", key);
	int r = vm_qopts_check_value(key, s, e);
	if (r < 0)
		return r;
	*out = s;
	return 0;
}

static int dev_normalize(const struct dev_kind *k, struct json_object *o, const char *id,
			 struct json_object *spec, struct err **e)
{
	int r;
	for (size_t i = 0; i < k->nkeys; i++) {
		const struct dev_key *dk = &k->keys[i];
		struct json_object *v = NULL;
		bool given = json_object_object_get_ex(o, dk->key, &v);
		if (!given && dk->required)
			return err_set(e, EINVAL, "%s: required", dk->key);
		switch (dk->t) {
		case DK_BOOL: {
			if (given && !json_object_is_type(v, json_type_boolean))
				return err_set(e, EINVAL, "%s: expected boolean", dk->key);
			bool b = given ? json_object_get_boolean(v) : dk->idef != 0;
			json_object_object_add(spec, dk->key, json_object_new_boolean(b));
			break;
		}
		case DK_INT: {
			if (given && !json_object_is_type(v, json_type_int))
				return err_set(e, EINVAL, "%s: expected integer", dk->key);
			int64_t n = given ? json_object_get_int64(v) : dk->idef;
			if (n < dk->min || n > dk->max)
				return err_set(e, EINVAL, "%s: out of range (%lld..%lld)", dk->key,
					       dk->min, dk->max);
			json_object_object_add(spec, dk->key, json_object_new_int64(n));
			break;
		}
		default: {
			const char *s;
			if ((r = dev_get_string(o, dk->key, &s, e)) < 0)
				return r;
			if (!s)
				s = dk->sdef ? dk->sdef : "";
			if (dk->required && !*s && dk->t != DK_PATH)
				return err_set(e, EINVAL, "%s: must not be empty", dk->key);
			if ((r = dev_check_value(dk, s, e)) < 0)
				return r;
			json_object_object_add(spec, dk->key, json_object_new_string(s));
			break;
		}
		}
	}
	if (k->kind == VM_DEVK_NET) {
		bool macvtap = !strcmp(spec_str(spec, "backend"), "macvtap");
		struct json_object *pf;
		bool given = json_object_object_get_ex(o, "pass_fds", &pf);
		if (macvtap && !given)
			json_object_object_add(spec, "pass_fds", json_object_new_boolean(true));
		else if (macvtap && !json_object_get_boolean(pf))
			return err_set(e, EINVAL,
				       "pass_fds: a macvtap can only be handed to QEMU as file descriptors");
	}
	return k->fixup ? k->fixup(spec, id, e) : 0;
}

int vm_device_from_json(struct json_object *o, struct vm_device **out, struct err **e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "device: not a JSON object");
	const char *type, *id;
	int r;
	if ((r = dev_get_string(o, "type", &type, e)) < 0)
		return r;
	if (!type)
		return err_set(e, EINVAL, "type: required");
	const struct dev_kind *k = NULL;
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
	if ((r = dev_get_string(o, "id", &id, e)) < 0)
		return r;
	if (!id)
		return err_set(e, EINVAL, "id: required");
	if ((r = vm_qopts_check_id("id", id, VM_DEVICE_ID_MAX, e)) < 0)
		return r;

	cleanup_json struct json_object *spec = json_object_new_object();
	json_object_object_add(spec, "type", json_object_new_string(type));
	json_object_object_add(spec, "id", json_object_new_string(id));
	if ((r = dev_normalize(k, o, id, spec, e)) < 0)
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
	int r = vm_config_parse_object("device", json, &o, e);
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

const char *vm_device_state_name(enum vm_device_state s)
{
	switch (s) {
	case VM_DEV_CONFIGURED:
		return "configured";
	case VM_DEV_ATTACHED:
		return "attached";
	case VM_DEV_REMOVING:
		return "removing";
	}
	return "unknown";
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
	const struct dev_kind *k = dev_kind_of(d);
	if (d->kind == VM_DEVK_IMAGE)
		return strcmp(vm_device_str(d, "as"), "nvdimm") != 0;
	return k && k->pci;
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
	if (d->kind == VM_DEVK_IOMMU && !a->iommu_supported(cfg->machine))
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
	return 0;
}

/* ---- descriptors ---- */

int vm_fdplan_add(struct vm_fdplan *p, enum vm_fd_source src, const char *name, bool mq)
{
	int num = VM_FD_FIRST + (int)p->n;
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n++] = (struct vm_fd){ .num = num, .src = src, .name = xstrdup(name),
				       .multi_queue = mq };
	return num;
}

void vm_fdplan_release(struct vm_fdplan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* ---- parts ---- */

void vm_dev_parts_release(struct vm_dev_parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		json_object_put(p->v[i].args);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

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

static struct json_object *blockdev(struct vm_dev_parts *p, const struct vm_device *d,
				    const char *format, bool ro)
{
	char node[VM_DEVICE_ID_MAX + 8];
	struct json_object *file = json_object_new_object();
	js(file, "driver", "file");
	js(file, "filename", d->file);
	jb(file, "read-only", ro);
	struct json_object *o = part_new(p, VM_PART_BLOCKDEV);
	js(o, "driver", format);
	js(o, "node-name", vm_device_node_name(d, node, sizeof(node)));
	jb(o, "read-only", ro);
	json_object_object_add(o, "file", file);
	return o;
}

static int build_block(const struct vm_device *d, const struct vm_dev_env *env,
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
		blockdev(p, d, d->format, d->readonly);
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
	blockdev(p, d, d->format, d->readonly);
	struct json_object *o = part_new(p, VM_PART_DEVICE);
	js(o, "driver", env->arch->blk_driver);
	js(o, "id", d->id);
	js(o, "drive", node);
	if (*io)
		js(o, "iothread", io);
	place(p, o, env, true);
	return 0;
}

static int build_image(const struct vm_device *d, const struct vm_dev_env *env,
		       struct vm_dev_parts *p, struct err **e)
{
	if (!strcmp(vm_device_str(d, "as"), "virtio-blk")) {
		char node[VM_DEVICE_ID_MAX + 8];
		blockdev(p, d, "raw", true);
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
	js(m, "mem-path", d->file);
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

static void chardev_socket(struct vm_dev_parts *p, const struct vm_device *d, const char *path,
			   bool server)
{
	struct json_object *c = part_new(p, VM_PART_CHARDEV);
	js(c, "backend", "socket");
	jsf(c, "id", "char-%s", d->id);
	js(c, "path", path);
	if (server) {
		jb(c, "server", true);
		jb(c, "wait", false);
	}
}

static int build_serial(const struct vm_device *d, const struct vm_dev_env *env,
			struct vm_dev_parts *p, struct err **e)
{
	const char *sock = vm_device_str(d, "socket"), *file = vm_device_str(d, "file");
	if (!*sock && !*file)
		file = env->console_log;
	if (*sock) {
		chardev_socket(p, d, sock, true);
	} else {
		if (!file || !*file)
			return err_set(e, EINVAL, "device %s: file: no console log to write to", d->id);
		struct json_object *c = part_new(p, VM_PART_CHARDEV);
		js(c, "backend", "file");
		jsf(c, "id", "char-%s", d->id);
		js(c, "path", file);
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

static int build_9p(const struct vm_device *d, const struct vm_dev_env *env,
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

static int build_vfs(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	chardev_socket(p, d, vm_device_str(d, "socket"), false);
	struct json_object *o = virtio_dev(p, env, "vhost-user-fs", d->id);
	jsf(o, "chardev", "char-%s", d->id);
	js(o, "tag", vm_device_str(d, "tag"));
	ji(o, "queue-size", vm_device_int(d, "queue_size"));
	if (vm_device_int(d, "cache_size_mib"))
		jsf(o, "cache-size", "%lldM", vm_device_int(d, "cache_size_mib"));
	place(p, o, env, false);
	return 0;
}

static int build_vhu(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	chardev_socket(p, d, vm_device_str(d, "socket"), false);
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

static int build_vsock(const struct vm_device *d, const struct vm_dev_env *env,
		       struct vm_dev_parts *p, struct err **e)
{
	struct json_object *o = virtio_dev(p, env, "vhost-vsock", d->id);
	ji(o, "guest-cid", vm_device_int(d, "cid"));
	if (vm_device_bool(d, "pass_fds"))
		jsf(o, "vhostfd", "%d", vm_fdplan_add(env->fds, VM_FD_PATH, "/dev/vhost-vsock", false));
	place(p, o, env, true);
	return 0;
}

/* "4:5:6" of n fresh descriptors from `src` `name`. */
static char *fd_list(struct vm_fdplan *fds, int n, enum vm_fd_source src, const char *name,
		     bool mq)
{
	struct sbuf b = {0};
	for (int i = 0; i < n; i++)
		sbuf_printf(&b, "%s%d", i ? ":" : "", vm_fdplan_add(fds, src, name, mq));
	return sbuf_steal(&b);
}

static int build_net(const struct vm_device *d, const struct vm_dev_env *env,
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
		cleanup_free char *fl = fd_list(env->fds, q, macvtap ? VM_FD_MACVTAP : VM_FD_TUN,
						 ifname, q > 1);
		js(n, q > 1 ? "fds" : "fd", fl);
		if (vhost) {
			jb(n, "vhost", true);
			cleanup_free char *vl = fd_list(env->fds, q, VM_FD_PATH, "/dev/vhost-net", false);
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

static int build_vfio(const struct vm_device *d, const struct vm_dev_env *env,
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

static int build_rng(const struct vm_device *d, const struct vm_dev_env *env,
		     struct vm_dev_parts *p, struct err **e)
{
	struct json_object *b = part_new(p, VM_PART_OBJECT);
	js(b, "qom-type", "rng-random");
	jsf(b, "id", "rng-%s", d->id);
	js(b, "filename", vm_device_str(d, "filename"));
	struct json_object *o = virtio_dev(p, env, "virtio-rng", d->id);
	jsf(o, "rng", "rng-%s", d->id);
	if (vm_device_int(d, "max_bytes"))
		ji(o, "max-bytes", vm_device_int(d, "max_bytes"));
	if (vm_device_int(d, "period_ms"))
		ji(o, "period", vm_device_int(d, "period_ms"));
	place(p, o, env, true);
	return 0;
}

static int build_iommu(const struct vm_device *d, const struct vm_dev_env *env,
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

int vm_device_parts(const struct vm_device *d, const struct vm_dev_env *env,
		    struct vm_dev_parts *out, struct err **e)
{
	const struct dev_kind *k = dev_kind_of(d);
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

/* ---- the two outputs ---- */

void vm_dev_parts_argv(const struct vm_dev_parts *p, struct strv *argv)
{
	static const struct {
		const char *opt, *implied;
	} r[] = {
		[VM_PART_OBJECT] = { "-object", "qom-type" },
		[VM_PART_CHARDEV] = { "-chardev", "backend" },
		[VM_PART_NETDEV] = { "-netdev", "type" },
		[VM_PART_FSDEV] = { "-fsdev", "fsdriver" },
		[VM_PART_BLOCKDEV] = { "-blockdev", NULL },
		[VM_PART_DEVICE] = { "-device", "driver" },
	};
	for (size_t i = 0; i < p->n; i++) {
		strv_add(argv, r[p->v[i].kind].opt);
		strv_add_take(argv, vm_qopts_from_json(p->v[i].args, r[p->v[i].kind].implied));
	}
}

/* chardev-add takes a nested ChardevBackend, not the flat -chardev form. */
static struct json_object *chardev_qmp(struct json_object *flat)
{
	const char *backend = spec_str(flat, "backend");
	struct json_object *data = json_object_new_object();
	if (!strcmp(backend, "socket")) {
		struct json_object *ud = json_object_new_object();
		js(ud, "path", spec_str(flat, "path"));
		struct json_object *addr = json_object_new_object();
		js(addr, "type", "unix");
		json_object_object_add(addr, "data", ud);
		json_object_object_add(data, "addr", addr);
		jb(data, "server", spec_bool(flat, "server"));
		if (spec_bool(flat, "server"))
			jb(data, "wait", false);
	} else {
		js(data, "out", spec_str(flat, "path"));
		jb(data, "append", spec_bool(flat, "append"));
	}
	struct json_object *be = json_object_new_object();
	js(be, "type", backend);
	json_object_object_add(be, "data", data);
	struct json_object *o = json_object_new_object();
	js(o, "id", spec_str(flat, "id"));
	json_object_object_add(o, "backend", be);
	return o;
}

int vm_dev_parts_qmp(const struct vm_dev_parts *p, struct json_object **out, struct err **e)
{
	static const char *const cmd[] = {
		[VM_PART_OBJECT] = "object-add", [VM_PART_CHARDEV] = "chardev-add",
		[VM_PART_NETDEV] = "netdev_add", [VM_PART_FSDEV] = NULL,
		[VM_PART_BLOCKDEV] = "blockdev-add", [VM_PART_DEVICE] = "device_add",
	};
	cleanup_json struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < p->n; i++) {
		const struct vm_dev_part *pt = &p->v[i];
		if (!cmd[pt->kind])
			return err_set(e, EOPNOTSUPP,
				       "%s: a 9p filesystem (-fsdev) cannot be added through QMP",
				       spec_str(pt->args, "id"));
		struct json_object *args = NULL;
		if (pt->kind == VM_PART_CHARDEV)
			args = chardev_qmp(pt->args);
		else if (json_object_deep_copy(pt->args, &args, NULL) < 0)
			abort();
		struct json_object *c = json_object_new_object();
		js(c, "execute", cmd[pt->kind]);
		json_object_object_add(c, "arguments", args);
		json_object_array_add(a, c);
	}
	*out = move_ptr(a);
	return 0;
}

/* ---- the hot-add path's view (vm_hotplug.c) ---- */

struct json_object *vm_device_backend(const struct vm_device *d)
{
	if (d->kind != VM_DEVK_BLOCK)
		return NULL;
	struct vm_dev_parts p = { .main = -1 };
	blockdev(&p, d, d->format, d->readonly);
	struct json_object *o = json_object_get(p.v[0].args);
	vm_dev_parts_release(&p);
	return o;
}

struct json_object *vm_device_frontend(const struct vm_device *d, const struct arch_ops *a,
				       const char *bus, int addr)
{
	struct vm_dev_env env = { .arch = a, .bus = bus, .addr = addr };
	struct vm_dev_parts p = { .main = -1 };
	cleanup_err struct err *e = NULL;
	if (vm_device_parts(d, &env, &p, &e) < 0 || p.main < 0) {
		vm_dev_parts_release(&p);
		return NULL;
	}
	struct json_object *o = json_object_get(p.v[p.main].args);
	vm_dev_parts_release(&p);
	return o;
}
