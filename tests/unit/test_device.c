/*
 * test_device — device specs (vm_device): parsing with defaults, the
 * normalized spec, every invalid form, and the exact blockdev-add /
 * device_add objects plus their command-line rendering.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <json-c/json.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "qmp/qmp_keyval.h"

/* The block keys added with the full device model, at their defaults. */
#define BLOCK_TAIL "\"interface\":\"virtio-blk\",\"iothread\":\"\",\"scsi_id\":0,\"lun\":0"

static char *plain(struct json_object *o)
{
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void test_parse_defaults(void)
{
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	int r = vm_device_parse("{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/tmp/a,b.img\"}\n",
				&d, &e);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	CU_ASSERT_PTR_NULL(e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_STRING_EQUAL(d->type, "block");
	CU_ASSERT_STRING_EQUAL(d->id, "d1");
	CU_ASSERT_STRING_EQUAL(d->file, "/tmp/a,b.img");
	CU_ASSERT_STRING_EQUAL(d->format, "raw");
	CU_ASSERT_EQUAL(d->readonly, false);
	CU_ASSERT_EQUAL(d->bridge, -1);
	CU_ASSERT_EQUAL(d->slot, -1);
	CU_ASSERT_EQUAL(d->state, VM_DEV_CONFIGURED);

	cleanup_json struct json_object *spec = vm_device_spec(d);
	cleanup_free char *s = plain(spec);
	CU_ASSERT_STRING_EQUAL(s, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/tmp/a,b.img\","
				  "\"format\":\"raw\",\"readonly\":false," BLOCK_TAIL "}");

	/* the normalized spec parses back to the same device */
	struct vm_device *d2 = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_from_json(spec, &d2, &e), 0);
	cleanup_json struct json_object *spec2 = vm_device_spec(d2);
	cleanup_free char *s2 = plain(spec2);
	CU_ASSERT_STRING_EQUAL(s, s2);
	vm_device_free(d2);

	char buf[64];
	CU_ASSERT_STRING_EQUAL(vm_device_node_name(d, buf, sizeof(buf)), "drive-d1");
	vm_device_free(d);
	vm_device_free(NULL);
}

static void test_parse_full(void)
{
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	int r = vm_device_parse("{\"readonly\":true,\"format\":\"qcow2\",\"file\":\"/var/x.qcow2\","
				"\"id\":\"Data-disk.2_b\",\"type\":\"block\"}", &d, &e);
	CU_ASSERT_EQUAL_FATAL(r, 0);
	CU_ASSERT_STRING_EQUAL(d->format, "qcow2");
	CU_ASSERT_EQUAL(d->readonly, true);
	CU_ASSERT_STRING_EQUAL(d->id, "Data-disk.2_b");
	cleanup_json struct json_object *spec = vm_device_spec(d);
	cleanup_free char *s = plain(spec);
	CU_ASSERT_STRING_EQUAL(s, "{\"type\":\"block\",\"id\":\"Data-disk.2_b\",\"file\":\"/var/x.qcow2\","
				  "\"format\":\"qcow2\",\"readonly\":true," BLOCK_TAIL "}");
	vm_device_free(d);

	/* longest id: 25 characters */
	CU_ASSERT_EQUAL(vm_device_parse("{\"type\":\"block\",\"id\":\"abcdefghijklmnopqrstuvwxy\","
					"\"file\":\"/f\"}", &d, &e), 0);
	vm_device_free(d);
}

static void test_state_names(void)
{
	CU_ASSERT_STRING_EQUAL(vm_device_state_name(VM_DEV_CONFIGURED), "configured");
	CU_ASSERT_STRING_EQUAL(vm_device_state_name(VM_DEV_ATTACHED), "attached");
	CU_ASSERT_STRING_EQUAL(vm_device_state_name(VM_DEV_REMOVING), "removing");
	CU_ASSERT_STRING_EQUAL(vm_device_state_name(VM_DEV_ADDING), "adding");
	CU_ASSERT_STRING_EQUAL(vm_device_state_name(VM_DEV_LOST), "lost");
	for (int s = 0; s < VM_DEV_STATE_COUNT; s++) /* the names round-trip */
		CU_ASSERT_EQUAL(vm_device_state_parse(vm_device_state_name((enum vm_device_state)s)), s);
	CU_ASSERT_EQUAL(vm_device_state_parse("gone"), -1);
	CU_ASSERT_EQUAL(vm_device_state_parse(NULL), -1);
}

/* vhost-user backends map guest memory: refused without mem_shared (or
 * hugepages, which shares it), at add and at a config change. */
static void test_shared_memory(void)
{
	static const char *const specs[] = {
		"{\"type\":\"virtio-fs\",\"id\":\"f\",\"socket\":\"/run/f.sock\",\"tag\":\"t\"}",
		"{\"type\":\"vhost-user-blk\",\"id\":\"b\",\"socket\":\"/run/b.sock\"}",
		"{\"type\":\"vhost-user-net\",\"id\":\"n\",\"socket\":\"/run/n.sock\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++) {
		struct vm_device *d = NULL;
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_device_parse(specs[i], &d, &e), 0);
		struct vm_config cfg;
		vm_config_init(&cfg);
		CU_ASSERT_EQUAL(vm_device_check_config(d, &cfg, &e), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "\"mem_shared\": true"));
		err_free(&e);
		cfg.mem_shared = true;
		CU_ASSERT_EQUAL(vm_device_check_config(d, &cfg, &e), 0);
		cfg.mem_shared = false;
		cfg.hugepages = true;
		CU_ASSERT_EQUAL(vm_device_check_config(d, &cfg, &e), 0);
		vm_config_release(&cfg);
		vm_device_free(d);
	}
}

/* vm_device_parse(json) fails with -EINVAL, no device and an error whose
 * message contains msg (and, if check_code, whose code is EINVAL). */
static void assert_parse_einval(const char *json, const char *msg, bool check_code)
{
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	int r = vm_device_parse(json, &d, &e);
	CU_ASSERT_EQUAL(r, -EINVAL);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	if (check_code)
		CU_ASSERT_EQUAL(e->code, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, msg));
	if (r != -EINVAL || !strstr(e->msg, msg))
		fprintf(stderr, "\n  input %s: got %d '%s', want '%s'\n", json, r, e->msg, msg);
	vm_device_free(d);
}

static void test_invalid(void)
{
	static const struct { const char *json, *msg; } cases[] = {
		{ "", "not a JSON object" },
		{ "[]", "not a JSON object" },
		{ "\"block\"", "not a JSON object" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\"} x", "not a JSON object" },
		{ "{}", "type: required" },
		{ "{\"id\":\"d1\",\"file\":\"/f\"}", "type: required" },
		{ "{\"type\":\"nosuch\",\"id\":\"d1\",\"file\":\"/f\"}", "type: unsupported device type nosuch" },
		{ "{\"type\":1,\"id\":\"d1\",\"file\":\"/f\"}", "type: expected string" },
		{ "{\"type\":\"block\",\"file\":\"/f\"}", "id: required" },
		{ "{\"type\":\"block\",\"id\":\"\",\"file\":\"/f\"}", "id: must not be empty" },
		{ "{\"type\":\"block\",\"id\":\"1d\",\"file\":\"/f\"}", "id: must start with a letter" },
		{ "{\"type\":\"block\",\"id\":\"d,1\",\"file\":\"/f\"}", "id: invalid character" },
		{ "{\"type\":\"block\",\"id\":\"d 1\",\"file\":\"/f\"}", "id: invalid character" },
		{ "{\"type\":\"block\",\"id\":\"abcdefghijklmnopqrstuvwxyz\",\"file\":\"/f\"}",
		  "id: too long" },
		{ "{\"type\":\"block\",\"id\":7,\"file\":\"/f\"}", "id: expected string" },
		{ "{\"type\":\"block\",\"id\":\"d1\"}", "file: required" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"rel.img\"}", "file: must be an absolute path" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"\"}", "file: must be an absolute path" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/a\\nb\"}", "file: must not contain newlines" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/a\\u0000b\"}", "file: must not contain newlines" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":[\"/f\"]}", "file: expected string" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"format\":\"vmdk\"}",
		  "format: unsupported value vmdk (raw | qcow2)" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"format\":null}", "format: expected string" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"readonly\":\"yes\"}",
		  "readonly: expected boolean" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"readonly\":1}", "readonly: expected boolean" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"cache\":\"none\"}", "unknown key: cache" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"Id\":\"x\"}", "unknown key: Id" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_parse_einval(cases[i].json, cases[i].msg, true);
	/* vm_device_from_json of a non-object */
	cleanup_json struct json_object *arr = json_object_new_array();
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_device_from_json(arr, &d, &e), -EINVAL);
	CU_ASSERT_PTR_NULL(d);
}

/* The blockdev part (main_fn false) or the main function of a device
 * placed on bus/addr, from its parts; NULL when it has none. */
static struct json_object *dev_part(const struct vm_device *d, const char *bus, int addr,
				    bool main_fn)
{
	struct vm_dev_env env = { .arch = &arch_x86_64, .bus = bus, .addr = addr };
	struct vm_dev_parts p = { .main = -1 };
	cleanup_err struct err *e = NULL;
	if (vm_device_parts(d, &env, &p, &e) < 0)
		return NULL;
	struct json_object *o = NULL;
	for (size_t i = 0; i < p.n && !o; i++)
		if (main_fn ? (int)i == p.main : p.v[i].kind == VM_PART_BLOCKDEV)
			o = json_object_get(p.v[i].args);
	vm_dev_parts_release(&p);
	return o;
}

static void test_backend_frontend(void)
{
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"d1\","
					      "\"file\":\"/tmp/a,b.img\"}", &d, &e), 0);

	cleanup_json struct json_object *back = dev_part(d, NULL, 0, false);
	cleanup_free char *bs = plain(back);
	CU_ASSERT_STRING_EQUAL(bs, "{\"driver\":\"raw\",\"node-name\":\"drive-d1\",\"read-only\":false,"
				   "\"file\":{\"driver\":\"file\",\"filename\":\"/tmp/a,b.img\","
				   "\"read-only\":false}}");
	cleanup_free char *bq = qmp_keyval_from_json(back, NULL);
	CU_ASSERT_STRING_EQUAL(bq, "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,"
				   "file.filename=/tmp/a,,b.img,file.read-only=off");

	cleanup_json struct json_object *front = dev_part(d, "rp1", 0, true);
	cleanup_free char *fs = plain(front);
	CU_ASSERT_STRING_EQUAL(fs, "{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\",\"drive\":\"drive-d1\","
				   "\"bus\":\"rp1\",\"addr\":\"0x0\"}");
	cleanup_free char *fq = qmp_keyval_from_json(front, "driver");
	CU_ASSERT_STRING_EQUAL(fq, "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp1,addr=0x0");

	cleanup_json struct json_object *front2 = dev_part(d, "pci.1", 26, true);
	cleanup_free char *fs2 = plain(front2);
	CU_ASSERT_STRING_EQUAL(fs2, "{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\",\"drive\":\"drive-d1\","
				    "\"bus\":\"pci.1\",\"addr\":\"0x1a\"}");

	/* unplaced: no bus, no addr */
	cleanup_json struct json_object *front3 = dev_part(d, NULL, 3, true);
	cleanup_free char *fs3 = plain(front3);
	CU_ASSERT_STRING_EQUAL(fs3, "{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\",\"drive\":\"drive-d1\"}");
	vm_device_free(d);

	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"ro\",\"file\":\"/x.qcow2\","
					      "\"format\":\"qcow2\",\"readonly\":true}", &d, &e), 0);
	cleanup_json struct json_object *back2 = dev_part(d, NULL, 0, false);
	cleanup_free char *bs2 = plain(back2);
	CU_ASSERT_STRING_EQUAL(bs2, "{\"driver\":\"qcow2\",\"node-name\":\"drive-ro\",\"read-only\":true,"
				    "\"file\":{\"driver\":\"file\",\"filename\":\"/x.qcow2\","
				    "\"read-only\":true}}");
	vm_device_free(d);
}

/* ---- every device kind: golden argv + QMP arguments (one model, two outputs) ---- */

#define ROOT_IMG "/tmp/sbfs-test-root.img" /* 100 MiB, sparse, made here */

struct kind_case {
	const char *in, *spec, *argv, *qmp, *fds;
};

static const struct kind_case kind_cases[] = {
	{ "{\"type\":\"block\",\"id\":\"s1\",\"file\":\"/d/s,1.img\",\"interface\":\"scsi\",\"iothread\":\"iothread0\",\"scsi_id\":2,\"lun\":3}",
	  "{\"type\":\"block\",\"id\":\"s1\",\"file\":\"/d/s,1.img\",\"format\":\"raw\",\"readonly\":false,\"interface\":\"scsi\",\"iothread\":\"iothread0\",\"scsi_id\":2,\"lun\":3}",
	  "-device\nvirtio-scsi-pci,id=scsi-s1,iothread=iothread0,bus=rp0,addr=0x0\n-blockdev\ndriver=raw,node-name=drive-s1,read-only=off,file.driver=file,file.filename=/d/s,,1.img,file.read-only=off\n-device\nscsi-hd,id=s1,bus=scsi-s1.0,scsi-id=2,lun=3,drive=drive-s1",
	  "[{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-scsi-pci\",\"id\":\"scsi-s1\",\"iothread\":\"iothread0\",\"bus\":\"rp0\",\"addr\":\"0x0\"}},{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"drive-s1\",\"read-only\":false,\"file\":{\"driver\":\"file\",\"filename\":\"/d/s,1.img\",\"read-only\":false}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"scsi-hd\",\"id\":\"s1\",\"bus\":\"scsi-s1.0\",\"scsi-id\":2,\"lun\":3,\"drive\":\"drive-s1\"}}]",
	  "" },
	{ "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/tmp/sbfs-test-root.img\"}",
	  "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/tmp/sbfs-test-root.img\",\"as\":\"nvdimm\",\"dax\":false}",
	  "-object\nmemory-backend-file,id=mem-root,mem-path=/tmp/sbfs-test-root.img,size=104857600,readonly=on\n-device\nnvdimm,id=root,memdev=mem-root,unarmed=on",
	  "[{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"memory-backend-file\",\"id\":\"mem-root\",\"mem-path\":\"/tmp/sbfs-test-root.img\",\"size\":104857600,\"readonly\":true}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"nvdimm\",\"id\":\"root\",\"memdev\":\"mem-root\",\"unarmed\":true}}]",
	  "" },
	{ "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/r.img\",\"as\":\"virtio-blk\"}",
	  "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/r.img\",\"as\":\"virtio-blk\",\"dax\":false}",
	  "-blockdev\ndriver=raw,node-name=drive-root,read-only=on,file.driver=file,file.filename=/img/r.img,file.read-only=on\n-device\nvirtio-blk-pci,id=root,drive=drive-root,bus=rp0,addr=0x0",
	  "[{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"drive-root\",\"read-only\":true,\"file\":{\"driver\":\"file\",\"filename\":\"/img/r.img\",\"read-only\":true}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\",\"id\":\"root\",\"drive\":\"drive-root\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"console\",\"id\":\"con\"}",
	  "{\"type\":\"console\",\"id\":\"con\",\"socket\":\"\",\"file\":\"\"}",
	  "-chardev\nfile,id=char-con,path=/run/c.log,append=on\n-device\nvirtio-serial-pci,id=vser-con,bus=rp0,addr=0x0\n-device\nvirtconsole,id=con,bus=vser-con.0,chardev=char-con",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-con\",\"backend\":{\"type\":\"file\",\"data\":{\"out\":\"/run/c.log\",\"append\":true}}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-serial-pci\",\"id\":\"vser-con\",\"bus\":\"rp0\",\"addr\":\"0x0\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtconsole\",\"id\":\"con\",\"bus\":\"vser-con.0\",\"chardev\":\"char-con\"}}]",
	  "" },
	{ "{\"type\":\"console\",\"id\":\"con\",\"socket\":\"/run/con.sock\"}",
	  "{\"type\":\"console\",\"id\":\"con\",\"socket\":\"/run/con.sock\",\"file\":\"\"}",
	  "-chardev\nsocket,id=char-con,path=/run/con.sock,server=on,wait=off\n-device\nvirtio-serial-pci,id=vser-con,bus=rp0,addr=0x0\n-device\nvirtconsole,id=con,bus=vser-con.0,chardev=char-con",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-con\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/con.sock\"}},\"server\":true,\"wait\":false}}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-serial-pci\",\"id\":\"vser-con\",\"bus\":\"rp0\",\"addr\":\"0x0\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtconsole\",\"id\":\"con\",\"bus\":\"vser-con.0\",\"chardev\":\"char-con\"}}]",
	  "" },
	{ "{\"type\":\"serial\",\"id\":\"ch\",\"socket\":\"/run/agent.sock\",\"name\":\"agent.channel.0\"}",
	  "{\"type\":\"serial\",\"id\":\"ch\",\"socket\":\"/run/agent.sock\",\"file\":\"\",\"name\":\"agent.channel.0\"}",
	  "-chardev\nsocket,id=char-ch,path=/run/agent.sock,server=on,wait=off\n-device\nvirtio-serial-pci,id=vser-ch,bus=rp0,addr=0x0\n-device\nvirtserialport,id=ch,bus=vser-ch.0,chardev=char-ch,name=agent.channel.0",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-ch\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/agent.sock\"}},\"server\":true,\"wait\":false}}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-serial-pci\",\"id\":\"vser-ch\",\"bus\":\"rp0\",\"addr\":\"0x0\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtserialport\",\"id\":\"ch\",\"bus\":\"vser-ch.0\",\"chardev\":\"char-ch\",\"name\":\"agent.channel.0\"}}]",
	  "" },
	{ "{\"type\":\"9p\",\"id\":\"shared\",\"path\":\"/srv/share\",\"security_model\":\"mapped-xattr\",\"readonly\":true}",
	  "{\"type\":\"9p\",\"id\":\"shared\",\"path\":\"/srv/share\",\"mount_tag\":\"shared\",\"security_model\":\"mapped-xattr\",\"readonly\":true}",
	  "-fsdev\nlocal,id=fs-shared,path=/srv/share,security_model=mapped-xattr,readonly=on,multidevs=remap\n-device\nvirtio-9p-pci,id=shared,fsdev=fs-shared,mount_tag=shared,bus=rp0,addr=0x0",
	  "ERR:fs-shared: a 9p filesystem (-fsdev) cannot be added through QMP",
	  "" },
	{ "{\"type\":\"virtio-fs\",\"id\":\"vfs\",\"socket\":\"/run/vfs.sock\",\"cache_size_mib\":1024}",
	  "{\"type\":\"virtio-fs\",\"id\":\"vfs\",\"socket\":\"/run/vfs.sock\",\"tag\":\"vfs\",\"queue_size\":1024,\"cache_size_mib\":1024}",
	  "-chardev\nsocket,id=char-vfs,path=/run/vfs.sock\n-device\nvhost-user-fs-pci,id=vfs,chardev=char-vfs,tag=vfs,queue-size=1024,cache-size=1024M,bus=rp0,addr=0x0",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-vfs\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/vfs.sock\"}},\"server\":false}}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-user-fs-pci\",\"id\":\"vfs\",\"chardev\":\"char-vfs\",\"tag\":\"vfs\",\"queue-size\":1024,\"cache-size\":\"1024M\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"vhost-user-net\",\"id\":\"vun\",\"socket\":\"/run/vun.sock\",\"mac\":\"52:54:00:12:34:56\"}",
	  "{\"type\":\"vhost-user-net\",\"id\":\"vun\",\"socket\":\"/run/vun.sock\",\"mac\":\"52:54:00:12:34:56\"}",
	  "-chardev\nsocket,id=char-vun,path=/run/vun.sock\n-netdev\nvhost-user,id=net-vun,chardev=char-vun,vhostforce=on\n-device\nvirtio-net-pci,id=vun,netdev=net-vun,mac=52:54:00:12:34:56,bus=rp0,addr=0x0",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-vun\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/vun.sock\"}},\"server\":false}}}},{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"vhost-user\",\"id\":\"net-vun\",\"chardev\":\"char-vun\",\"vhostforce\":true}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\",\"id\":\"vun\",\"netdev\":\"net-vun\",\"mac\":\"52:54:00:12:34:56\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"vhost-user-scsi\",\"id\":\"vus\",\"socket\":\"/run/vus.sock\"}",
	  "{\"type\":\"vhost-user-scsi\",\"id\":\"vus\",\"socket\":\"/run/vus.sock\"}",
	  "-chardev\nsocket,id=char-vus,path=/run/vus.sock\n-device\nvhost-user-scsi-pci,id=vus,chardev=char-vus,bus=rp0,addr=0x0",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-vus\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/vus.sock\"}},\"server\":false}}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-user-scsi-pci\",\"id\":\"vus\",\"chardev\":\"char-vus\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"vhost-user-blk\",\"id\":\"vub\",\"socket\":\"/run/vub.sock\"}",
	  "{\"type\":\"vhost-user-blk\",\"id\":\"vub\",\"socket\":\"/run/vub.sock\"}",
	  "-chardev\nsocket,id=char-vub,path=/run/vub.sock\n-device\nvhost-user-blk-pci,id=vub,chardev=char-vub,bus=rp0,addr=0x0",
	  "[{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"char-vub\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"/run/vub.sock\"}},\"server\":false}}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-user-blk-pci\",\"id\":\"vub\",\"chardev\":\"char-vub\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":3,\"pass_fds\":false}",
	  "{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":3,\"pass_fds\":false}",
	  "-device\nvhost-vsock-pci,id=vs,guest-cid=3,bus=rp0,addr=0x0",
	  "[{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-vsock-pci\",\"id\":\"vs\",\"guest-cid\":3,\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":42}",
	  "{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":42,\"pass_fds\":true}",
	  "-device\nvhost-vsock-pci,id=vs,guest-cid=42,vhostfd=4,bus=rp0,addr=0x0",
	  "[{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vhost-vsock-pci\",\"id\":\"vs\",\"guest-cid\":42,\"vhostfd\":\"4\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "4 0 /dev/vhost-vsock 0" },
	{ "{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"tap0\",\"mac\":\"02:00:00:00:00:01\",\"pass_fds\":false}",
	  "{\"type\":\"net\",\"id\":\"n0\",\"backend\":\"tap\",\"ifname\":\"tap0\",\"mac\":\"02:00:00:00:00:01\",\"queues\":1,\"vhost\":false,\"pass_fds\":false}",
	  "-netdev\ntap,id=net-n0,ifname=tap0,script=no,downscript=no\n-device\nvirtio-net-pci,id=n0,netdev=net-n0,mac=02:00:00:00:00:01,bus=rp0,addr=0x0",
	  "[{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"net-n0\",\"ifname\":\"tap0\",\"script\":\"no\",\"downscript\":\"no\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\",\"id\":\"n0\",\"netdev\":\"net-n0\",\"mac\":\"02:00:00:00:00:01\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	/* passing is the default: the daemon opens the tap, QEMU gets its fd */
	{ "{\"type\":\"net\",\"id\":\"n3\",\"ifname\":\"tap3\"}",
	  "{\"type\":\"net\",\"id\":\"n3\",\"backend\":\"tap\",\"ifname\":\"tap3\",\"mac\":\"\",\"queues\":1,\"vhost\":false,\"pass_fds\":true}",
	  "-netdev\ntap,id=net-n3,fd=4\n-device\nvirtio-net-pci,id=n3,netdev=net-n3,bus=rp0,addr=0x0",
	  "[{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"net-n3\",\"fd\":\"4\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\",\"id\":\"n3\",\"netdev\":\"net-n3\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "4 1 tap3 0" },
	{ "{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"tap1\",\"queues\":4,\"vhost\":true,\"pass_fds\":true}",
	  "{\"type\":\"net\",\"id\":\"n1\",\"backend\":\"tap\",\"ifname\":\"tap1\",\"mac\":\"\",\"queues\":4,\"vhost\":true,\"pass_fds\":true}",
	  "-netdev\ntap,id=net-n1,fds=4:5:6:7,vhost=on,vhostfds=8:9:10:11\n-device\nvirtio-net-pci,id=n1,netdev=net-n1,mq=on,vectors=10,bus=rp0,addr=0x0",
	  "[{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"net-n1\",\"fds\":\"4:5:6:7\",\"vhost\":true,\"vhostfds\":\"8:9:10:11\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\",\"id\":\"n1\",\"netdev\":\"net-n1\",\"mq\":true,\"vectors\":10,\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "4 1 tap1 1;5 1 tap1 1;6 1 tap1 1;7 1 tap1 1;8 0 /dev/vhost-net 0;9 0 /dev/vhost-net 0;10 0 /dev/vhost-net 0;11 0 /dev/vhost-net 0" },
	{ "{\"type\":\"net\",\"id\":\"n2\",\"backend\":\"macvtap\",\"ifname\":\"mvt0\",\"vhost\":true}",
	  "{\"type\":\"net\",\"id\":\"n2\",\"backend\":\"macvtap\",\"ifname\":\"mvt0\",\"mac\":\"\",\"queues\":1,\"vhost\":true,\"pass_fds\":true}",
	  "-netdev\ntap,id=net-n2,fd=4,vhost=on,vhostfd=5\n-device\nvirtio-net-pci,id=n2,netdev=net-n2,bus=rp0,addr=0x0",
	  "[{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"net-n2\",\"fd\":\"4\",\"vhost\":true,\"vhostfd\":\"5\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-net-pci\",\"id\":\"n2\",\"netdev\":\"net-n2\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "4 2 mvt0 0;5 0 /dev/vhost-net 0" },
	{ "{\"type\":\"vfio\",\"id\":\"gpu\",\"host\":\"0000:01:00.0\",\"vendor_id\":\"0x10de\",\"device_id\":\"0x1db6\"}",
	  "{\"type\":\"vfio\",\"id\":\"gpu\",\"host\":\"0000:01:00.0\",\"sysfsdev\":\"\",\"vendor_id\":\"0x10de\",\"device_id\":\"0x1db6\",\"bus\":\"\"}",
	  "-device\nvfio-pci,id=gpu,host=0000:01:00.0,x-pci-vendor-id=4318,x-pci-device-id=7606,bus=rp0,addr=0x0",
	  "[{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vfio-pci\",\"id\":\"gpu\",\"host\":\"0000:01:00.0\",\"x-pci-vendor-id\":4318,\"x-pci-device-id\":7606,\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"vfio\",\"id\":\"nic\",\"sysfsdev\":\"/sys/bus/mdev/devices/uuid\",\"bus\":\"pb0\"}",
	  "{\"type\":\"vfio\",\"id\":\"nic\",\"host\":\"\",\"sysfsdev\":\"/sys/bus/mdev/devices/uuid\",\"vendor_id\":\"\",\"device_id\":\"\",\"bus\":\"pb0\"}",
	  "-device\nvfio-pci,id=nic,sysfsdev=/sys/bus/mdev/devices/uuid,bus=pb0",
	  "[{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"vfio-pci\",\"id\":\"nic\",\"sysfsdev\":\"/sys/bus/mdev/devices/uuid\",\"bus\":\"pb0\"}}]",
	  "" },
	{ "{\"type\":\"rng\",\"id\":\"rng0\",\"max_bytes\":1024,\"period_ms\":1000}",
	  "{\"type\":\"rng\",\"id\":\"rng0\",\"filename\":\"/dev/urandom\",\"max_bytes\":1024,\"period_ms\":1000}",
	  "-object\nrng-random,id=rng-rng0,filename=/dev/urandom\n-device\nvirtio-rng-pci,id=rng0,rng=rng-rng0,max-bytes=1024,period=1000,bus=rp0,addr=0x0",
	  "[{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"rng-random\",\"id\":\"rng-rng0\",\"filename\":\"/dev/urandom\"}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-rng-pci\",\"id\":\"rng0\",\"rng\":\"rng-rng0\",\"max-bytes\":1024,\"period\":1000,\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
	{ "{\"type\":\"iommu\",\"id\":\"viommu\"}",
	  "{\"type\":\"iommu\",\"id\":\"viommu\",\"intremap\":true,\"device_iotlb\":true,\"caching_mode\":true}",
	  "-device\nintel-iommu,id=viommu,intremap=on,device-iotlb=on,caching-mode=on",
	  "[{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"intel-iommu\",\"id\":\"viommu\",\"intremap\":\"on\",\"device-iotlb\":true,\"caching-mode\":true}}]",
	  "" },
	{ "{\"type\":\"block\",\"id\":\"b1\",\"file\":\"/d/b1.img\",\"iothread\":\"iothread1\"}",
	  "{\"type\":\"block\",\"id\":\"b1\",\"file\":\"/d/b1.img\",\"format\":\"raw\",\"readonly\":false,\"interface\":\"virtio-blk\",\"iothread\":\"iothread1\",\"scsi_id\":0,\"lun\":0}",
	  "-blockdev\ndriver=raw,node-name=drive-b1,read-only=off,file.driver=file,file.filename=/d/b1.img,file.read-only=off\n-device\nvirtio-blk-pci,id=b1,drive=drive-b1,iothread=iothread1,bus=rp0,addr=0x0",
	  "[{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\",\"node-name\":\"drive-b1\",\"read-only\":false,\"file\":{\"driver\":\"file\",\"filename\":\"/d/b1.img\",\"read-only\":false}}},{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\",\"id\":\"b1\",\"drive\":\"drive-b1\",\"iothread\":\"iothread1\",\"bus\":\"rp0\",\"addr\":\"0x0\"}}]",
	  "" },
};

static char *join_argv(const struct strv *v)
{
	struct sbuf b = {0};
	for (size_t i = 0; i < v->n; i++)
		sbuf_printf(&b, "%s%s", i ? "\n" : "", v->v[i]);
	return sbuf_steal(&b);
}

static void test_kinds_golden(void)
{
	int fd = open(ROOT_IMG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ftruncate(fd, 100 << 20), 0);
	close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(kind_cases); i++) {
		const struct kind_case *c = &kind_cases[i];
		struct vm_device *d = NULL;
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_device_parse(c->in, &d, &e), 0);
		cleanup_json struct json_object *spec = vm_device_spec(d);
		cleanup_free char *ss = plain(spec);
		CU_ASSERT_STRING_EQUAL(ss, c->spec);

		/* the normalized spec parses back to the same spec */
		struct vm_device *d2 = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_device_from_json(spec, &d2, &e), 0);
		cleanup_json struct json_object *spec2 = vm_device_spec(d2);
		cleanup_free char *ss2 = plain(spec2);
		CU_ASSERT_STRING_EQUAL(ss, ss2);
		vm_device_free(d2);

		struct vm_fdplan fds = {0};
		struct vm_dev_env env = { .arch = &arch_x86_64, .bus = "rp0", .addr = 0,
					  .console_log = "/run/c.log", .fds = &fds };
		struct vm_dev_parts p;
		CU_ASSERT_EQUAL_FATAL(vm_device_parts(d, &env, &p, &e), 0);
		cleanup_strv struct strv argv = {0};
		vm_dev_parts_argv(&p, &argv);
		cleanup_free char *got = join_argv(&argv);
		CU_ASSERT_STRING_EQUAL(got, c->argv);
		if (strcmp(got, c->argv))
			fprintf(stderr, "\n  %s:\n  got  %s\n  want %s\n", c->in, got, c->argv);

		struct json_object *q = NULL;
		cleanup_err struct err *qe = NULL;
		if (!strncmp(c->qmp, "ERR:", 4)) {
			CU_ASSERT_EQUAL(vm_dev_parts_qmp(&p, &q, &qe), -EOPNOTSUPP);
			CU_ASSERT_STRING_EQUAL(qe ? qe->msg : "", c->qmp + 4);
		} else {
			CU_ASSERT_EQUAL_FATAL(vm_dev_parts_qmp(&p, &q, &qe), 0);
			cleanup_free char *qs = plain(q);
			CU_ASSERT_STRING_EQUAL(qs, c->qmp);
			json_object_put(q);
		}
		struct sbuf fb = {0};
		for (size_t j = 0; j < fds.n; j++)
			sbuf_printf(&fb, "%s%d %d %s %d", j ? ";" : "", fds.v[j].num, (int)fds.v[j].src,
				    fds.v[j].name, fds.v[j].multi_queue);
		cleanup_free char *fs = sbuf_steal(&fb);
		CU_ASSERT_STRING_EQUAL(fs, c->fds);
		vm_fdplan_release(&fds);
		vm_dev_parts_release(&p);
		vm_device_free(d);
	}
	unlink(ROOT_IMG);
}

/* Invalid forms of every kind: EINVAL naming the field. */
static void test_kinds_invalid(void)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"interface\":\"ide\"}",
		  "interface: unsupported value ide (virtio-blk | scsi)" },
		{ "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"scsi_id\":1}", "scsi_id: only for interface scsi" },
		{ "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"lun\":2}", "lun: only for interface scsi" },
		{ "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"interface\":\"scsi\",\"scsi_id\":256}",
		  "scsi_id: out of range (0..255)" },
		{ "{\"type\":\"block\",\"id\":\"b\",\"file\":\"/f\",\"iothread\":\"io,0\"}", "iothread: invalid character" },
		{ "{\"type\":\"image\",\"id\":\"r\"}", "file: required" },
		{ "{\"type\":\"image\",\"id\":\"r\",\"file\":\"/r\",\"as\":\"ide\"}", "as: unsupported value ide" },
		{ "{\"type\":\"image\",\"id\":\"r\",\"file\":\"/r\",\"as\":\"virtio-blk\",\"dax\":true}",
		  "dax: only for an image used as nvdimm" },
		{ "{\"type\":\"console\",\"id\":\"c\",\"socket\":\"/s\",\"file\":\"/f\"}", "socket: a console goes to a socket or a file" },
		{ "{\"type\":\"console\",\"id\":\"c\",\"socket\":\"rel.sock\"}", "socket: must be an absolute path" },
		{ "{\"type\":\"serial\",\"id\":\"c\"}", "socket: a serial port needs exactly one of socket, file" },
		{ "{\"type\":\"serial\",\"id\":\"c\",\"file\":\"/f\",\"name\":\"a b\"}", "name: at most 63 letters" },
		{ "{\"type\":\"9p\",\"id\":\"p\"}", "path: required" },
		{ "{\"type\":\"9p\",\"id\":\"p\",\"path\":\"/s\",\"security_model\":\"x\"}", "security_model: unsupported value x" },
		{ "{\"type\":\"9p\",\"id\":\"p\",\"path\":\"/s\",\"mount_tag\":\"abcdefghijklmnopqrstuvwxyz0123456\"}",
		  "mount_tag: at most 31 characters" },
		{ "{\"type\":\"virtio-fs\",\"id\":\"v\"}", "socket: required" },
		{ "{\"type\":\"virtio-fs\",\"id\":\"v\",\"socket\":\"/s\",\"queue_size\":0}", "queue_size: out of range (1..1024)" },
		{ "{\"type\":\"vhost-user-net\",\"id\":\"v\",\"socket\":\"/s\",\"mac\":\"01:00:00:00:00:01\"}",
		  "mac: must be a unicast MAC" },
		{ "{\"type\":\"vhost-user-scsi\",\"id\":\"v\",\"socket\":7}", "socket: expected string" },
		{ "{\"type\":\"vhost-user-blk\",\"id\":\"v\",\"socket\":\"/s\",\"mac\":\"02:00:00:00:00:01\"}",
		  "unknown key: mac (not a key of type vhost-user-blk)" },
		{ "{\"type\":\"vsock\",\"id\":\"v\"}", "cid: required" },
		{ "{\"type\":\"vsock\",\"id\":\"v\",\"cid\":2}", "cid: out of range (3..4294967294)" },
		{ "{\"type\":\"vsock\",\"id\":\"v\",\"cid\":\"3\"}", "cid: expected integer" },
		{ "{\"type\":\"net\",\"id\":\"n\"}", "ifname: required" },
		{ "{\"type\":\"net\",\"id\":\"n\",\"ifname\":\"a-very-long-ifname\"}", "ifname: must be an interface name" },
		{ "{\"type\":\"net\",\"id\":\"n\",\"ifname\":\"t\",\"queues\":17}", "queues: out of range (1..16)" },
		{ "{\"type\":\"net\",\"id\":\"n\",\"ifname\":\"t\",\"mac\":\"52:54:00:12:34\"}", "mac: must be a unicast MAC" },
		{ "{\"type\":\"net\",\"id\":\"n\",\"ifname\":\"t\",\"backend\":\"macvtap\",\"pass_fds\":false}",
		  "pass_fds: a macvtap can only be handed to QEMU as file descriptors" },
		{ "{\"type\":\"net\",\"id\":\"n\",\"ifname\":\"t\",\"fds\":[4,5]}", "unknown key: fds" },
		{ "{\"type\":\"vfio\",\"id\":\"v\"}", "host: a vfio device needs exactly one of host, sysfsdev" },
		{ "{\"type\":\"vfio\",\"id\":\"v\",\"host\":\"01:00.0\",\"sysfsdev\":\"/sys/x\"}", "host: a vfio device needs exactly one" },
		{ "{\"type\":\"vfio\",\"id\":\"v\",\"host\":\"1:0.0\"}", "host: must be a PCI address" },
		{ "{\"type\":\"vfio\",\"id\":\"v\",\"host\":\"01:00.0\",\"vendor_id\":\"10de\"}", "vendor_id: must be a 16-bit hex id" },
		{ "{\"type\":\"vfio\",\"id\":\"v\",\"host\":\"01:00.0\",\"bus\":\"1bus\"}", "bus: must start with a letter" },
		{ "{\"type\":\"rng\",\"id\":\"r\",\"filename\":\"dev/random\"}", "filename: must be an absolute path" },
		{ "{\"type\":\"rng\",\"id\":\"r\",\"max_bytes\":-1}", "max_bytes: out of range" },
		{ "{\"type\":\"iommu\",\"id\":\"i\",\"intremap\":\"on\"}", "intremap: expected boolean" },
		{ "{\"type\":\"iommu\",\"id\":\"i\",\"bus\":\"x\"}", "unknown key: bus" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_parse_einval(cases[i].json, cases[i].msg, false);
}

/* Kata's nestedRun: virtio functions go legacy-only; others are untouched. */
static void test_disable_modern(void)
{
	static const struct {
		const char *in, *last;
	} cases[] = {
		{ "{\"type\":\"rng\",\"id\":\"r\"}",
		  "virtio-rng-pci,id=r,rng=rng-r,bus=rp1,addr=0x0,disable-modern=on,disable-legacy=off" },
		{ "{\"type\":\"net\",\"id\":\"n\",\"ifname\":\"tap0\"}",
		  "virtio-net-pci,id=n,netdev=net-n,bus=rp1,addr=0x0,disable-modern=on,disable-legacy=off" },
		{ "{\"type\":\"vfio\",\"id\":\"v\",\"host\":\"01:00.0\"}", "vfio-pci,id=v,host=01:00.0,bus=rp1,addr=0x0" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vm_device *d = NULL;
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_device_parse(cases[i].in, &d, &e), 0);
		struct vm_dev_env env = { .arch = &arch_x86_64, .bus = "rp1", .disable_modern = true };
		struct vm_dev_parts p;
		CU_ASSERT_EQUAL_FATAL(vm_device_parts(d, &env, &p, &e), 0);
		cleanup_strv struct strv argv = {0};
		vm_dev_parts_argv(&p, &argv);
		CU_ASSERT_STRING_EQUAL(argv.v[argv.n - 1], cases[i].last);
		vm_dev_parts_release(&p);
		vm_device_free(d);
	}
}

/* What the hot-add path sees for kinds other than a virtio-blk disk. */
static void test_hotplug_view(void)
{
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"rng\",\"id\":\"r\"}", &d, &e), 0);
	CU_ASSERT_TRUE(vm_device_hotpluggable(d));
	CU_ASSERT_PTR_NULL(dev_part(d, NULL, 0, false));
	CU_ASSERT_PTR_NULL(d->format);
	CU_ASSERT_STRING_EQUAL(d->file, "/dev/urandom");
	cleanup_json struct json_object *f = dev_part(d, "rp0", 0, true);
	cleanup_free char *fs = plain(f);
	CU_ASSERT_STRING_EQUAL(fs, "{\"driver\":\"virtio-rng-pci\",\"id\":\"r\",\"rng\":\"rng-r\","
				   "\"bus\":\"rp0\",\"addr\":\"0x0\"}");
	vm_device_free(d);
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"s\",\"file\":\"/f\","
					      "\"interface\":\"scsi\"}", &d, &e), 0);
	CU_ASSERT_TRUE(vm_device_hotpluggable(d));
	cleanup_json struct json_object *sb = dev_part(d, NULL, 0, false);
	CU_ASSERT_PTR_NOT_NULL(sb && strstr(json_object_to_json_string(sb), "drive-s"));
	vm_device_free(d);
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"iommu\",\"id\":\"i\"}", &d, &e), 0);
	CU_ASSERT_FALSE(vm_device_is_pci(d));
	CU_ASSERT_FALSE(vm_device_hotpluggable(d));
	vm_device_free(d);
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"image\",\"id\":\"i\",\"file\":\"/i\"}", &d, &e), 0);
	CU_ASSERT_FALSE(vm_device_is_pci(d));
	CU_ASSERT_TRUE(d->readonly);
	vm_device_free(d);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "parse_defaults", test_parse_defaults },
		{ "parse_full", test_parse_full },
		{ "state_names", test_state_names },
		{ "invalid", test_invalid },
		{ "backend_frontend", test_backend_frontend },
		{ "kinds_golden", test_kinds_golden },
		{ "kinds_invalid", test_kinds_invalid },
		{ "disable_modern", test_disable_modern },
		{ "hotplug_view", test_hotplug_view },
		{ "shared_memory", test_shared_memory },
	};
	return unit_main("vm_device", tests, ARRAY_SIZE(tests));
}
