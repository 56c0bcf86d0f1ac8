/*
 * test_device — device specs (vm_device): parsing with defaults, the
 * normalized spec, every invalid form, and the exact blockdev-add /
 * device_add objects plus their command-line rendering.
 */
#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "vm/vm_device.h"
#include "vm/vm_qopts.h"

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
				  "\"format\":\"raw\",\"readonly\":false}");

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
				  "\"format\":\"qcow2\",\"readonly\":true}");
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
}

static void test_invalid(void)
{
	static const struct { const char *json, *msg; } cases[] = {
		{ "", "device: not a JSON object" },
		{ "[]", "device: not a JSON object" },
		{ "\"block\"", "device: not a JSON object" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\"} x", "device: not a JSON object" },
		{ "{}", "type: required" },
		{ "{\"id\":\"d1\",\"file\":\"/f\"}", "type: required" },
		{ "{\"type\":\"net\",\"id\":\"d1\",\"file\":\"/f\"}", "type: unsupported device type net" },
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
		  "format: unsupported format vmdk" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"format\":null}", "format: expected string" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"readonly\":\"yes\"}",
		  "readonly: expected boolean" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"readonly\":1}", "readonly: expected boolean" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"cache\":\"none\"}", "unknown key: cache" },
		{ "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/f\",\"Id\":\"x\"}", "unknown key: Id" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vm_device *d = NULL;
		cleanup_err struct err *e = NULL;
		int r = vm_device_parse(cases[i].json, &d, &e);
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_PTR_NULL(d);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_EQUAL(e->code, EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, cases[i].msg));
		if (r != -EINVAL || !strstr(e->msg, cases[i].msg))
			fprintf(stderr, "\n  input %s: got %d '%s', want '%s'\n", cases[i].json, r,
				e->msg, cases[i].msg);
		vm_device_free(d);
	}
	/* vm_device_from_json of a non-object */
	cleanup_json struct json_object *arr = json_object_new_array();
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_device_from_json(arr, &d, &e), -EINVAL);
	CU_ASSERT_PTR_NULL(d);
}

static void test_backend_frontend(void)
{
	struct vm_device *d = NULL;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"d1\","
					      "\"file\":\"/tmp/a,b.img\"}", &d, &e), 0);

	cleanup_json struct json_object *back = vm_device_backend(d);
	cleanup_free char *bs = plain(back);
	CU_ASSERT_STRING_EQUAL(bs, "{\"driver\":\"raw\",\"node-name\":\"drive-d1\",\"read-only\":false,"
				   "\"file\":{\"driver\":\"file\",\"filename\":\"/tmp/a,b.img\","
				   "\"read-only\":false}}");
	cleanup_free char *bq = vm_qopts_from_json(back, NULL);
	CU_ASSERT_STRING_EQUAL(bq, "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,"
				   "file.filename=/tmp/a,,b.img,file.read-only=off");

	cleanup_json struct json_object *front = vm_device_frontend(d, &arch_x86_64, "rp1", 0);
	cleanup_free char *fs = plain(front);
	CU_ASSERT_STRING_EQUAL(fs, "{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\",\"drive\":\"drive-d1\","
				   "\"bus\":\"rp1\",\"addr\":\"0x0\"}");
	cleanup_free char *fq = vm_qopts_from_json(front, "driver");
	CU_ASSERT_STRING_EQUAL(fq, "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp1,addr=0x0");

	cleanup_json struct json_object *front2 = vm_device_frontend(d, &arch_x86_64, "pci.1", 26);
	cleanup_free char *fs2 = plain(front2);
	CU_ASSERT_STRING_EQUAL(fs2, "{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\",\"drive\":\"drive-d1\","
				    "\"bus\":\"pci.1\",\"addr\":\"0x1a\"}");

	/* unplaced: no bus, no addr */
	cleanup_json struct json_object *front3 = vm_device_frontend(d, &arch_x86_64, NULL, 3);
	cleanup_free char *fs3 = plain(front3);
	CU_ASSERT_STRING_EQUAL(fs3, "{\"driver\":\"virtio-blk-pci\",\"id\":\"d1\",\"drive\":\"drive-d1\"}");
	vm_device_free(d);

	CU_ASSERT_EQUAL_FATAL(vm_device_parse("{\"type\":\"block\",\"id\":\"ro\",\"file\":\"/x.qcow2\","
					      "\"format\":\"qcow2\",\"readonly\":true}", &d, &e), 0);
	cleanup_json struct json_object *back2 = vm_device_backend(d);
	cleanup_free char *bs2 = plain(back2);
	CU_ASSERT_STRING_EQUAL(bs2, "{\"driver\":\"qcow2\",\"node-name\":\"drive-ro\",\"read-only\":true,"
				    "\"file\":{\"driver\":\"file\",\"filename\":\"/x.qcow2\","
				    "\"read-only\":true}}");
	vm_device_free(d);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("vm_device", NULL, NULL);
	CU_add_test(s, "parse_defaults", test_parse_defaults);
	CU_add_test(s, "parse_full", test_parse_full);
	CU_add_test(s, "state_names", test_state_names);
	CU_add_test(s, "invalid", test_invalid);
	CU_add_test(s, "backend_frontend", test_backend_frontend);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	return fails || run == 0 ? 1 : 0;
}
