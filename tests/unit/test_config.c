/*
 * test_config — the config model (vm_config): defaults and read-back,
 * strict merging, every error form (errno + message, config untouched),
 * the running rules, persistence round trip and the generated uuid.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/config.h"

#define KERNEL "/opt/sandboxfs/guest/vmlinuz"
#define INITRD "/opt/sandboxfs/guest/initramfs.cpio.gz"
#define QEMU "/usr/bin/qemu-system-x86_64"

static void set_defaults(const char *accel)
{
	struct vm_defaults d = { .guest_kernel = KERNEL, .guest_initrd = INITRD, .accel = accel };
	vm_config_set_defaults(&d);
}

/* The read-back as a canonical string (key order is the schema's). */
static char *cfg_str(const struct vm_config *cfg)
{
	cleanup_json struct json_object *o = vm_config_to_json(cfg);
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static bool uuid_v4_ok(const char *u)
{
	if (strlen(u) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i] != '-')
				return false;
		} else if (!((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'))) {
			return false;
		}
	}
	return u[14] == '4' && strchr("89ab", u[19]);
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static long long get_int(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return -999999;
	return json_object_get_int64(v);
}

static int get_bool(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v);
}

static void test_defaults(void)
{
	set_defaults(NULL);
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_validate(&cfg, &e), 0);
	CU_ASSERT_PTR_NULL(e);

	cleanup_json struct json_object *o = vm_config_to_json(&cfg);
	static const char *const keys[] = {
		"arch", "qemu", "machine", "accel", "cpu_model", "vcpus", "maxvcpus",
		"memory_mib", "kernel", "initrd", "kernel_params", "debug", "root_ports",
		"uuid", "remove_timeout_ms", "machine_options", "machine_accelerators", "name",
		"sockets", "cores", "threads", "memory_slots", "maxmem_mib", "rtc_base",
		"rtc_clock", "rtc_driftfix", "globals", "vga", "bios", "pflash", "no_user_config",
		"nodefaults", "nographic", "daemonize", "hugepages", "mem_prealloc", "mem_shared",
		"realtime", "mlock", "iothreads", "disable_modern", "pci_bridges",
		"pcie_pci_bridges", "bridge_shpc", "cpu_max", "memory_max_mib", "pids_max",
		"netns", "max_bandwidth_mib", "downtime_limit_ms", "auto_converge",
		"multifd_channels", "memory_file",
	};
	/* exactly these keys, in schema order */
	size_t i = 0;
	json_object_object_foreach(o, k, v) {
		(void)v;
		CU_ASSERT_FATAL(i < ARRAY_SIZE(keys));
		CU_ASSERT_STRING_EQUAL(k, keys[i]);
		i++;
	}
	CU_ASSERT_EQUAL(i, ARRAY_SIZE(keys));

	CU_ASSERT_STRING_EQUAL(get_str(o, "arch"), "x86_64");
	CU_ASSERT_STRING_EQUAL(get_str(o, "qemu"), QEMU); /* effective, not "" */
	CU_ASSERT_STRING_EQUAL(get_str(o, "machine"), "q35");
	CU_ASSERT_STRING_EQUAL(get_str(o, "accel"), "tcg,thread=multi");
	CU_ASSERT_STRING_EQUAL(get_str(o, "cpu_model"), "");
	CU_ASSERT_EQUAL(get_int(o, "vcpus"), 1);
	CU_ASSERT_EQUAL(get_int(o, "maxvcpus"), 4);
	CU_ASSERT_EQUAL(get_int(o, "memory_mib"), 256);
	CU_ASSERT_STRING_EQUAL(get_str(o, "kernel"), KERNEL);
	CU_ASSERT_STRING_EQUAL(get_str(o, "initrd"), INITRD);
	CU_ASSERT_STRING_EQUAL(get_str(o, "kernel_params"), "");
	CU_ASSERT_EQUAL(get_bool(o, "debug"), 0);
	CU_ASSERT_EQUAL(get_int(o, "root_ports"), 4);
	CU_ASSERT_STRING_EQUAL(get_str(o, "uuid"), cfg.uuid);
	CU_ASSERT_EQUAL(get_int(o, "remove_timeout_ms"), 5000);

	/* the struct itself */
	CU_ASSERT_STRING_EQUAL(cfg.arch, "x86_64");
	CU_ASSERT_STRING_EQUAL(vm_config_qemu_binary(&cfg), QEMU);
	CU_ASSERT_PTR_EQUAL(vm_config_arch(&cfg), &arch_x86_64);
	CU_ASSERT_EQUAL(cfg.vcpus, 1);
	CU_ASSERT_EQUAL(cfg.debug, false);
	vm_config_release(&cfg);

	/* the daemon's default accelerator is honoured */
	set_defaults("kvm");
	vm_config_init(&cfg);
	CU_ASSERT_STRING_EQUAL(cfg.accel, "kvm");
	vm_config_release(&cfg);
	set_defaults(NULL);
}

static void test_uuid(void)
{
	struct vm_config a, b;
	vm_config_init(&a);
	vm_config_init(&b);
	CU_ASSERT(uuid_v4_ok(a.uuid));
	CU_ASSERT(uuid_v4_ok(b.uuid));
	CU_ASSERT_STRING_NOT_EQUAL(a.uuid, b.uuid);

	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_merge(&a, "{\"uuid\":\"01234567-89ab-cdef-0123-456789abcdef\"}",
					false, &e), 0);
	CU_ASSERT_STRING_EQUAL(a.uuid, "01234567-89ab-cdef-0123-456789abcdef");
	vm_config_release(&a);
	vm_config_release(&b);
}

static void test_merge_valid(void)
{
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_err struct err *e = NULL;

	/* {} is a no-op */
	cleanup_free char *before = cfg_str(&cfg);
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{}", false, &e), 0);
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, " { } \n", false, &e), 0);
	cleanup_free char *after = cfg_str(&cfg);
	CU_ASSERT_STRING_EQUAL(before, after);

	int r = vm_config_merge(&cfg,
				"{\"vcpus\":2,\"maxvcpus\":8,\"memory_mib\":512,\"debug\":true,"
				"\"kernel_params\":\"foo=bar baz\",\"cpu_model\":\"max\","
				"\"initrd\":\"\",\"accel\":\"kvm\",\"remove_timeout_ms\":100,"
				"\"kernel\":\"/k/vmlinuz,1\",\"qemu\":\"/opt/qemu/bin/qemu\"}\n",
				false, &e);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_PTR_NULL(e);
	CU_ASSERT_EQUAL(cfg.vcpus, 2);
	CU_ASSERT_EQUAL(cfg.maxvcpus, 8);
	CU_ASSERT_EQUAL(cfg.memory_mib, 512);
	CU_ASSERT_EQUAL(cfg.debug, true);
	CU_ASSERT_STRING_EQUAL(cfg.kernel_params, "foo=bar baz");
	CU_ASSERT_STRING_EQUAL(cfg.cpu_model, "max");
	CU_ASSERT_STRING_EQUAL(cfg.initrd, "");
	CU_ASSERT_STRING_EQUAL(cfg.accel, "kvm");
	CU_ASSERT_EQUAL(cfg.remove_timeout_ms, 100);
	CU_ASSERT_STRING_EQUAL(cfg.kernel, "/k/vmlinuz,1");
	CU_ASSERT_STRING_EQUAL(vm_config_qemu_binary(&cfg), "/opt/qemu/bin/qemu");
	/* untouched keys keep their value */
	CU_ASSERT_STRING_EQUAL(cfg.machine, "q35");
	CU_ASSERT_EQUAL(cfg.root_ports, 4);

	/* cross-key: both ends of a range change in one write */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"vcpus\":16,\"maxvcpus\":16}", false, &e), 0);
	CU_ASSERT_EQUAL(cfg.vcpus, 16);
	/* machine pc needs root_ports 0 in the same write */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"machine\":\"pc\",\"root_ports\":0}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "pc");
	CU_ASSERT_EQUAL(cfg.root_ports, 0);
	/* limits are inclusive */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"machine\":\"q35\",\"root_ports\":29,"
					"\"accel\":\"tcg\",\"maxvcpus\":255,\"memory_mib\":64}",
					false, &e), 0);
	CU_ASSERT_EQUAL(cfg.maxvcpus, 255);
	CU_ASSERT_EQUAL(cfg.root_ports, 29);
	vm_config_release(&cfg);
}

struct bad_case {
	const char *json;
	int code;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	/* not an object */
	{ "not json", EINVAL, "not a JSON object" },
	{ "", EINVAL, "not a JSON object" },
	{ "{", EINVAL, "not a JSON object" },
	{ "[1,2]", EINVAL, "not a JSON object" },
	{ "\"vcpus\"", EINVAL, "not a JSON object" },
	{ "42", EINVAL, "not a JSON object" },
	{ "null", EINVAL, "not a JSON object" },
	{ "{\"vcpus\":2} x", EINVAL, "not a JSON object" },
	{ "{\"vcpus\":2}{}", EINVAL, "not a JSON object" },
	/* unknown keys, also after a valid one (nothing is half-applied) */
	{ "{\"bogus\":1}", EINVAL, "unknown key: bogus" },
	{ "{\"vcpus\":2,\"VCPUS\":2}", EINVAL, "unknown key: VCPUS" },
	/* strict types */
	{ "{\"vcpus\":\"2\"}", EINVAL, "vcpus: expected integer" },
	{ "{\"vcpus\":2.5}", EINVAL, "vcpus: expected integer" },
	{ "{\"vcpus\":2.0}", EINVAL, "vcpus: expected integer" },
	{ "{\"vcpus\":true}", EINVAL, "vcpus: expected integer" },
	{ "{\"vcpus\":null}", EINVAL, "vcpus: expected integer" },
	{ "{\"vcpus\":[2]}", EINVAL, "vcpus: expected integer" },
	{ "{\"debug\":1}", EINVAL, "debug: expected boolean" },
	{ "{\"debug\":\"true\"}", EINVAL, "debug: expected boolean" },
	{ "{\"kernel\":5}", EINVAL, "kernel: expected string" },
	{ "{\"kernel_params\":{}}", EINVAL, "kernel_params: expected string" },
	/* ranges */
	{ "{\"vcpus\":0}", EINVAL, "vcpus: out of range (1.." },
	{ "{\"vcpus\":-1}", EINVAL, "vcpus: out of range (1.." },
	{ "{\"vcpus\":8}", EINVAL, "vcpus: 8 exceeds maxvcpus (4)" },
	{ "{\"vcpus\":5,\"maxvcpus\":4}", EINVAL, "vcpus: 5 exceeds maxvcpus (4)" },
	{ "{\"maxvcpus\":256,\"vcpus\":1}", EINVAL, "maxvcpus: out of range (1..255)" },
	{ "{\"accel\":\"kvm\",\"maxvcpus\":241}", EINVAL, "maxvcpus: out of range (1..240)" },
	{ "{\"maxvcpus\":0}", EINVAL, "maxvcpus: out of range (1.." },
	{ "{\"memory_mib\":63}", EINVAL, "memory_mib: out of range (64..1048576)" },
	{ "{\"memory_mib\":1048577}", EINVAL, "memory_mib: out of range (64..1048576)" },
	{ "{\"memory_mib\":99999999999999999999}", EINVAL, "memory_mib: out of range (64..1048576)" },
	{ "{\"memory_mib\":4294967552}", EINVAL, "memory_mib: out of range (64..1048576)" },
	{ "{\"root_ports\":257}", EINVAL, "root_ports: out of range (0..256)" },
	{ "{\"root_ports\":233}", EINVAL, "at most 232 root ports beside 0 bridges" },
	{ "{\"root_ports\":225,\"pci_bridges\":1}", EINVAL, "at most 224 root ports beside 1 bridges" },
	{ "{\"machine\":\"pc\"}", EINVAL, "root_ports: machine pc has no PCIe root ports" },
	{ "{\"remove_timeout_ms\":99}", EINVAL, "remove_timeout_ms: out of range (100..600000)" },
	{ "{\"remove_timeout_ms\":600001}", EINVAL, "remove_timeout_ms: out of range (100..600000)" },
	/* paths */
	{ "{\"kernel\":\"vmlinuz\"}", EINVAL, "kernel: must be an absolute path" },
	{ "{\"kernel\":\"\"}", EINVAL, "kernel: must be an absolute path" },
	{ "{\"vcpus\":2,\"kernel\":\"./k\"}", EINVAL, "kernel: must be an absolute path" },
	{ "{\"initrd\":\"initrd.img\"}", EINVAL, "initrd: must be an absolute path" },
	{ "{\"qemu\":\"qemu-system-x86_64\"}", EINVAL, "qemu: must be an absolute path" },
	/* control characters, in any string key */
	{ "{\"kernel_params\":\"a\\nb\"}", EINVAL, "kernel_params: must not contain newlines" },
	{ "{\"kernel_params\":\"a\\u0000b\"}", EINVAL, "kernel_params: must not contain newlines" },
	{ "{\"kernel\":\"/k\\r\"}", EINVAL, "kernel: must not contain newlines" },
	{ "{\"cpu_model\":\"max\\t\"}", EINVAL, "cpu_model: must not contain newlines" },
	/* enums and identifiers */
	{ "{\"accel\":\"xen\"}", EINVAL, "accel: unsupported accelerator: xen" },
	{ "{\"accel\":\"tcg,thread=multi,x=y\"}", EINVAL, "accel: unsupported accelerator" },
	{ "{\"accel\":\"KVM\"}", EINVAL, "accel: unsupported accelerator" },
	{ "{\"machine\":\"virt\"}", EINVAL, "unknown machine type: virt" },
	{ "{\"machine\":\"q35,accel=kvm\"}", EINVAL, "unknown machine type: q35,accel=kvm" },
	{ "{\"machine\":\"\"}", EINVAL, "unknown machine type: " },
	{ "{\"arch\":\"sparc64\"}", EINVAL, "arch: unknown architecture: sparc64" },
	{ "{\"cpu_model\":\"host,+vmx\"}", EINVAL, "cpu_model: invalid character" },
	{ "{\"cpu_model\":\"a b\"}", EINVAL, "cpu_model: invalid character" },
	{ "{\"uuid\":\"01234567-89AB-cdef-0123-456789abcdef\"}", EINVAL, "uuid: must be a lowercase UUID" },
	{ "{\"uuid\":\"0123456789abcdef0123456789abcdef\"}", EINVAL, "uuid: must be a lowercase UUID" },
	{ "{\"uuid\":\"01234567-89ab-cdef-0123-456789abcdefa\"}", EINVAL, "uuid: must be a lowercase UUID" },
	{ "{\"uuid\":\"\"}", EINVAL, "uuid: must be a lowercase UUID" },
};

static void check_bad(struct vm_config *cfg, const struct bad_case *c, bool running)
{
	cleanup_free char *before = cfg_str(cfg);
	cleanup_err struct err *e = NULL;
	int r = vm_config_merge(cfg, c->json, running, &e);
	CU_ASSERT_EQUAL(r, -c->code);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->code, c->code);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, c->msg));
	if (r != -c->code || !strstr(e->msg, c->msg))
		fprintf(stderr, "\n  input %s: got %d '%s', want %d '%s'\n", c->json, r, e->msg,
			-c->code, c->msg);
	cleanup_free char *after = cfg_str(cfg);
	CU_ASSERT_STRING_EQUAL(before, after);
}

static void test_merge_errors(void)
{
	struct vm_config cfg;
	vm_config_init(&cfg);
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		check_bad(&cfg, &bad_cases[i], false);
	/* the config is still the default one */
	CU_ASSERT_EQUAL(cfg.vcpus, 1);
	CU_ASSERT_STRING_EQUAL(cfg.kernel, KERNEL);

	/* NULL error pointer is allowed */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "[]", false, NULL), -EINVAL);
	vm_config_release(&cfg);
}

static void test_running(void)
{
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_err struct err *e = NULL;

	static const struct bad_case busy[] = {
		{ "{\"vcpus\":2}", EBUSY, "vcpus: cannot change while running" },
		{ "{\"debug\":true}", EBUSY, "debug: cannot change while running" },
		{ "{\"kernel\":\"/other\"}", EBUSY, "kernel: cannot change while running" },
		{ "{\"remove_timeout_ms\":500,\"memory_mib\":512}", EBUSY,
		  "memory_mib: cannot change while running" },
		{ "{\"qemu\":\"/usr/local/bin/qemu\"}", EBUSY, "qemu: cannot change while running" },
		/* a live key still gets its range checked */
		{ "{\"remove_timeout_ms\":50}", EINVAL, "remove_timeout_ms: out of range" },
		{ "{\"bogus\":1}", EINVAL, "unknown key: bogus" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(busy); i++)
		check_bad(&cfg, &busy[i], true);

	/* the live key changes */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"remove_timeout_ms\":2500}", true, &e), 0);
	CU_ASSERT_EQUAL(cfg.remove_timeout_ms, 2500);
	/* same-value rewrites of non-live keys are fine */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"vcpus\":1,\"machine\":\"q35\"}", true, &e), 0);
	/* "qemu" compares by effective value: stored "" == resolved path */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"qemu\":\"" QEMU "\"}", true, &e), 0);
	CU_ASSERT_PTR_NULL(e);
	/* read-modify-write of the whole read-back while running */
	cleanup_json struct json_object *o = vm_config_to_json(&cfg);
	json_object_object_add(o, "remove_timeout_ms", json_object_new_int(700));
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, json_object_to_json_string(o), true, &e), 0);
	CU_ASSERT_PTR_NULL(e);
	CU_ASSERT_EQUAL(cfg.remove_timeout_ms, 700);
	/* when stopped, the same change is accepted */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"vcpus\":2}", false, &e), 0);
	CU_ASSERT_EQUAL(cfg.vcpus, 2);
	vm_config_release(&cfg);
}

static void test_from_json(void)
{
	struct vm_config a, b;
	vm_config_init(&a);
	vm_config_init(&b);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_config_merge(&a, "{\"vcpus\":3,\"debug\":true,\"kernel_params\":\"x=1\","
					"\"accel\":\"tcg\",\"initrd\":\"\"}", false, &e), 0);

	cleanup_json struct json_object *saved = vm_config_to_json(&a);
	CU_ASSERT_EQUAL(vm_config_from_json(&b, saved, &e), 0);
	CU_ASSERT_PTR_NULL(e);
	cleanup_free char *sa = cfg_str(&a);
	cleanup_free char *sb = cfg_str(&b);
	CU_ASSERT_STRING_EQUAL(sa, sb);
	CU_ASSERT_STRING_EQUAL(a.uuid, b.uuid);

	/* a zero-filled struct is a valid target too */
	struct vm_config z = {0};
	CU_ASSERT_EQUAL(vm_config_from_json(&z, saved, &e), 0);
	CU_ASSERT_EQUAL(z.vcpus, 3);
	vm_config_release(&z);

	/* missing keys take defaults */
	cleanup_json struct json_object *partial = json_tokener_parse("{\"vcpus\":2}");
	CU_ASSERT_EQUAL(vm_config_from_json(&b, partial, &e), 0);
	CU_ASSERT_EQUAL(b.vcpus, 2);
	CU_ASSERT_EQUAL(b.debug, false);
	CU_ASSERT_STRING_EQUAL(b.kernel, KERNEL);
	CU_ASSERT(uuid_v4_ok(b.uuid));

	/* failures leave the target untouched */
	cleanup_free char *before = cfg_str(&b);
	static const struct { const char *json, *msg; } bad[] = {
		{ "{\"extra\":1}", "unknown key: extra" },
		{ "{\"vcpus\":\"1\"}", "vcpus: expected integer" },
		{ "{\"kernel\":\"rel\"}", "kernel: must be an absolute path" },
		{ "[]", "not a JSON object" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_json struct json_object *o = json_tokener_parse(bad[i].json);
		err_free(&e);
		CU_ASSERT_EQUAL(vm_config_from_json(&b, o, &e), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, bad[i].msg));
		cleanup_free char *after = cfg_str(&b);
		CU_ASSERT_STRING_EQUAL(before, after);
	}
	vm_config_release(&a);
	vm_config_release(&b);
}

static void test_copy_validate(void)
{
	struct vm_config a, b;
	vm_config_init(&a);
	vm_config_copy(&b, &a);
	CU_ASSERT_PTR_NOT_EQUAL(a.uuid, b.uuid);
	CU_ASSERT_PTR_NOT_EQUAL(a.kernel, b.kernel);
	cleanup_free char *sa = cfg_str(&a);
	cleanup_free char *sb = cfg_str(&b);
	CU_ASSERT_STRING_EQUAL(sa, sb);

	cleanup_err struct err *e = NULL;
	b.vcpus = 5;
	CU_ASSERT_EQUAL(vm_config_validate(&b, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "vcpus: 5 exceeds maxvcpus (4)"));
	b.vcpus = 1;
	CU_ASSERT_EQUAL(vm_config_validate(&b, &e), 0);
	vm_config_release(&a);
	vm_config_release(&b);
}

static void test_arch(void)
{
	CU_ASSERT_PTR_EQUAL(arch_lookup("x86_64"), &arch_x86_64);
	CU_ASSERT_PTR_NULL(arch_lookup("sparc"));
	CU_ASSERT_PTR_NULL(arch_lookup(NULL));
#ifdef __x86_64__
	CU_ASSERT_STRING_EQUAL(arch_host(), "x86_64");
#endif
	const struct arch_ops *a = &arch_x86_64;
	CU_ASSERT_STRING_EQUAL(a->qemu_binary("q35"), QEMU);
	CU_ASSERT_STRING_EQUAL(a->qemu_binary("pc"), QEMU);
	CU_ASSERT_PTR_NULL(a->qemu_binary("virt"));
	CU_ASSERT_PTR_NULL(a->qemu_binary("q35 "));
	struct vm_config cfg;
	vm_config_init(&cfg);
	struct arch_vm v = vm_config_arch_vm(&cfg);
	CU_ASSERT_EQUAL(a->max_vcpus(&v), 255);
	v.accel = "kvm";
	CU_ASSERT_EQUAL(a->max_vcpus(&v), 240);
	vm_config_release(&cfg);
}

/* test_full_model: forms the merge accepts, and each invalid form with
 * the message naming its key. */
static const char *const full_model_ok[] = {
	"{\"machine_options\":\"kernel_irqchip=split,smm=off\"}",
	"{\"machine_accelerators\":\",smm=off,smbus=off\"}",
	"{\"machine_accelerators\":\"smm=off\"}",
	"{\"name\":\"web, 1\"}",
	"{\"maxvcpus\":8,\"sockets\":2,\"cores\":2,\"threads\":2}",
	"{\"maxvcpus\":8,\"cores\":4}",
	"{\"memory_slots\":4,\"maxmem_mib\":4096}",
	"{\"maxmem_mib\":256}",
	"{\"rtc_base\":\"localtime\",\"rtc_clock\":\"vm\",\"rtc_driftfix\":\"none\"}",
	"{\"rtc_base\":\"2006-06-17T16:01:21\"}",
	"{\"rtc_base\":\"2006-06-17\"}",
	"{\"globals\":[\"virtio-blk-pci.num-queues=2\",\"ICH9-LPC.disable_s3=1\"]}",
	"{\"globals\":[]}",
	"{\"vga\":\"std\"}",
	"{\"bios\":\"/usr/share/seabios/bios.bin\"}",
	"{\"pflash\":[\"/ovmf/code.fd\",\"/ovmf/vars.fd\"]}",
	"{\"no_user_config\":false,\"nodefaults\":false,\"nographic\":true,\"daemonize\":false}",
	"{\"hugepages\":true,\"mem_prealloc\":true,\"mem_shared\":true,\"realtime\":true,\"mlock\":true}",
	"{\"iothreads\":64,\"disable_modern\":true}",
	"{\"root_ports\":2,\"pci_bridges\":2,\"pcie_pci_bridges\":1,\"bridge_shpc\":true}",
};

static const struct {
	const char *json, *msg;
} full_model_bad[] = {
	{ "{\"machine_options\":\"a=b,,c\"}", "machine_options: empty or malformed option" },
	{ "{\"machine_options\":\"a=b c\"}", "machine_options: invalid character ' '" },
	{ "{\"machine_accelerators\":\"nosmm\"}", "option 'nosmm' needs a value" },
	{ "{\"machine_accelerators\":\",,x\"}", "machine_accelerators: empty or malformed" },
	{ "{\"maxvcpus\":8,\"sockets\":3}", "sockets: sockets * cores * threads (3 * 1 * 1) must equal maxvcpus (8)" },
	{ "{\"maxvcpus\":6,\"cores\":4}", "cores: maxvcpus (6) is not a multiple of cores * threads (4)" },
	{ "{\"cores\":0}", "cores: out of range (1..256)" },
	{ "{\"vcpus\":5}", "vcpus: 5 exceeds maxvcpus (4)" }, /* maxcpus < cpus */
	{ "{\"maxmem_mib\":128}", "maxmem_mib: 128 is below memory_mib (256)" },
	{ "{\"memory_slots\":2}", "maxmem_mib: memory_slots needs maxmem_mib above memory_mib" },
	{ "{\"memory_slots\":2,\"maxmem_mib\":256}", "maxmem_mib: memory_slots needs" },
	{ "{\"memory_slots\":257}", "memory_slots: out of range (0..256)" },
	{ "{\"hugepages\":true,\"memory_mib\":255}", "hugepages: memory_mib must be a multiple of 2" },
	{ "{\"rtc_base\":\"yesterday\"}", "rtc_base: must be utc, localtime or a date" },
	{ "{\"rtc_base\":\"2006-06-17T16:01\"}", "rtc_base: must be utc" },
	{ "{\"rtc_clock\":\"wall\"}", "rtc_clock: unsupported value wall (one of: host | rt | vm)" },
	{ "{\"rtc_driftfix\":\"fast\"}", "rtc_driftfix: unsupported value fast" },
	{ "{\"globals\":\"a.b=c\"}", "globals: expected an array of strings" },
	{ "{\"globals\":[\"nodot=1\"]}", "globals[0]: must be driver.property=value" },
	{ "{\"globals\":[\"a.b=c\",\"a.b\"]}", "globals[1]: must be driver.property=value" },
	{ "{\"globals\":[\"a.b=\"]}", "globals[0]: must be driver.property=value" },
	{ "{\"globals\":[1]}", "globals[0]: expected string" },
	{ "{\"globals\":[\"a.b=c\\nd\"]}", "globals[0]: must not contain newlines" },
	{ "{\"vga\":\"qxl\"}", "vga: unsupported value qxl" },
	{ "{\"bios\":\"bios.bin\"}", "bios: must be an absolute path" },
	{ "{\"pflash\":[\"a\"]}", "pflash[0]: must be an absolute path" },
	{ "{\"pflash\":[\"/a\",\"/b\",\"/c\"]}", "pflash: at most 2 flash images" },
	{ "{\"pflash\":[\"/a\"],\"bios\":\"/b\"}", "pflash: bios and pflash exclude each other" },
	{ "{\"daemonize\":true}", "daemonize: must be false: sandboxfs supervises QEMU" },
	{ "{\"nodefaults\":1}", "nodefaults: expected boolean" },
	{ "{\"iothreads\":65}", "iothreads: out of range (0..64)" },
	{ "{\"machine\":\"pc\",\"root_ports\":0,\"pcie_pci_bridges\":1}",
	  "pcie_pci_bridges: machine pc has no PCIe bus" },
	{ "{\"root_ports\":200,\"pci_bridges\":10}", "at most 152 root ports beside 10 bridges" },
	{ "{\"pci_bridges\":31}", "pci_bridges: out of range (0..30)" },
};

/* The machine / SMP / memory / RTC / knob keys: defaults, valid forms, and
 * each invalid form → EINVAL naming the key. */
static void test_full_model(void)
{
	set_defaults(NULL);
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_json struct json_object *o = vm_config_to_json(&cfg);
	cleanup_free char *all = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	/* every default is shown */
	CU_ASSERT_PTR_NOT_NULL(strstr(all, "\"machine_options\":\"\",\"machine_accelerators\":\"\","
					   "\"name\":\"\",\"sockets\":0,\"cores\":1,\"threads\":1,"
					   "\"memory_slots\":0,\"maxmem_mib\":0,\"rtc_base\":\"utc\","
					   "\"rtc_clock\":\"host\",\"rtc_driftfix\":\"slew\","
					   "\"globals\":[\"kvm-pit.lost_tick_policy=discard\"],"
					   "\"vga\":\"none\",\"bios\":\"\",\"pflash\":[],"
					   "\"no_user_config\":true,\"nodefaults\":true,\"nographic\":false,"
					   "\"daemonize\":false,\"hugepages\":false,\"mem_prealloc\":false,"
					   "\"mem_shared\":false,\"realtime\":false,\"mlock\":false,"
					   "\"iothreads\":0,\"disable_modern\":false,\"pci_bridges\":0,"
					   "\"pcie_pci_bridges\":0,\"bridge_shpc\":false"));
	CU_ASSERT_EQUAL(vm_config_sockets(&cfg), 4);

	cleanup_err struct err *e = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(full_model_ok); i++) {
		struct vm_config c;
		vm_config_copy(&c, &cfg);
		int r = vm_config_merge(&c, full_model_ok[i], false, &e);
		CU_ASSERT_EQUAL(r, 0);
		if (r)
			fprintf(stderr, "\n  %s: %s\n", full_model_ok[i], e->msg);
		err_free(&e);
		vm_config_release(&c);
	}
	for (size_t i = 0; i < ARRAY_SIZE(full_model_bad); i++) {
		cleanup_json struct json_object *before = vm_config_to_json(&cfg);
		int r = vm_config_merge(&cfg, full_model_bad[i].json, false, &e);
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, full_model_bad[i].msg));
		if (r != -EINVAL || !strstr(e->msg, full_model_bad[i].msg))
			fprintf(stderr, "\n  %s: got %d '%s', want '%s'\n", full_model_bad[i].json, r,
				e->msg, full_model_bad[i].msg);
		err_free(&e);
		cleanup_json struct json_object *after = vm_config_to_json(&cfg);
		CU_ASSERT(json_object_equal(before, after)); /* untouched */
	}

	/* string lists: copy, running rules, persistence round trip */
	CU_ASSERT_EQUAL(vm_config_merge(&cfg, "{\"globals\":[\"a.b=c\"],\"pflash\":[\"/x\"]}", false, &e), 0);
	struct vm_config c2;
	vm_config_copy(&c2, &cfg);
	CU_ASSERT_STRING_EQUAL(c2.globals[0], "a.b=c");
	CU_ASSERT_PTR_NULL(c2.globals[1]);
	CU_ASSERT_PTR_NOT_EQUAL(c2.globals[0], cfg.globals[0]);
	CU_ASSERT_EQUAL(vm_config_merge(&c2, "{\"globals\":[\"a.b=c\"]}", true, &e), 0);
	CU_ASSERT_EQUAL(vm_config_merge(&c2, "{\"globals\":[\"a.b=d\"]}", true, &e), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "globals: cannot change while running"));
	err_free(&e);
	cleanup_json struct json_object *saved = vm_config_to_json(&cfg);
	CU_ASSERT_EQUAL(vm_config_from_json(&c2, saved, &e), 0);
	cleanup_json struct json_object *again = vm_config_to_json(&c2);
	CU_ASSERT(json_object_equal(saved, again));
	vm_config_release(&c2);
	vm_config_release(&cfg);
}

int main(void)
{
	set_defaults(NULL);
	static const struct unit_test tests[] = {
		{ "defaults", test_defaults },
		{ "uuid", test_uuid },
		{ "merge_valid", test_merge_valid },
		{ "merge_errors", test_merge_errors },
		{ "running", test_running },
		{ "from_json", test_from_json },
		{ "copy_validate", test_copy_validate },
		{ "arch", test_arch },
		{ "full_model", test_full_model },
	};
	int rc = unit_main("vm_config", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
