/*
 * test_keyval — QEMU keyval building: comma escaping, id validation, value
 * validation and JSON flattening (qmp_keyval).
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <string.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "qmp/qmp_keyval.h"

static char *esc(const char *s)
{
	struct sbuf b = {0};
	qmp_keyval_escape(&b, s);
	return sbuf_steal(&b);
}

static void test_escape(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "a,b", "a,,b" },
		{ ",", ",," },
		{ ",,,", ",,,,,," },
		{ ",a,", ",,a,," },
		{ "/tmp/a,b.img", "/tmp/a,,b.img" },
		{ "x=y,driver=evil", "x=y,,driver=evil" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *r = esc(cases[i].in);
		CU_ASSERT_STRING_EQUAL(r, cases[i].out);
	}
}

static void test_add(void)
{
	cleanup_sbuf struct sbuf b = {0};
	qmp_keyval_add(&b, "file", "/a,b");
	CU_ASSERT_STRING_EQUAL(b.s, "file=/a,,b");
	qmp_keyval_add(&b, "id", "d1");
	CU_ASSERT_STRING_EQUAL(b.s, "file=/a,,b,id=d1");
	qmp_keyval_addf(&b, "addr", "0x%x", 26);
	CU_ASSERT_STRING_EQUAL(b.s, "file=/a,,b,id=d1,addr=0x1a");
	qmp_keyval_addf(&b, "x", "%s", ",");
	CU_ASSERT_STRING_EQUAL(b.s, "file=/a,,b,id=d1,addr=0x1a,x=,,");
}

static void test_check_id(void)
{
	static const struct { const char *id; bool ok; } cases[] = {
		{ "d1", true },
		{ "a", true },
		{ "Disk-1.2_x", true },
		{ "z9", true },
		{ "", false },
		{ "1d", false },
		{ "-d", false },
		{ "_d", false },
		{ ".d", false },
		{ "d,1", false },
		{ "d=1", false },
		{ "d 1", false },
		{ "d/1", false },
		{ "d\n", false },
		{ "d\xc3\xa9", false },
		{ "abcdefghijklmnopqrstuvwxy", true },   /* 25 */
		{ "abcdefghijklmnopqrstuvwxyz", false }, /* 26 */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_err struct err *e = NULL;
		int r = qmp_keyval_check_id("id", cases[i].id, 25, &e);
		if (cases[i].ok) {
			CU_ASSERT_EQUAL(r, 0);
			CU_ASSERT_PTR_NULL(e);
		} else {
			CU_ASSERT_EQUAL(r, -EINVAL);
			CU_ASSERT_PTR_NOT_NULL_FATAL(e);
			CU_ASSERT_EQUAL(e->code, EINVAL);
			CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "id: "));
		}
	}
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(qmp_keyval_check_id("node", "abc", 2, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "node: too long"));
}

static void test_check_value(void)
{
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(qmp_keyval_check_value("file", "/a,b c=d", &e), 0);
	CU_ASSERT_EQUAL(qmp_keyval_check_value("file", "", &e), 0);
	CU_ASSERT_PTR_NULL(e);
	const char *bad[] = { "a\nb", "a\rb", "\t", "x\x1b[0m", "del\x7f" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err_free(&e);
		CU_ASSERT_EQUAL(qmp_keyval_check_value("file", bad[i], &e), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "file: "));
	}
}

static char *render(const char *json, const char *implied)
{
	cleanup_json struct json_object *o = json_tokener_parse(json);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	return qmp_keyval_from_json(o, implied);
}

static void test_from_json(void)
{
	static const struct { const char *json, *implied, *out; } cases[] = {
		{ "{}", NULL, "" },
		{ "{\"a\":\"x\"}", NULL, "a=x" },
		{ "{\"a\":\"x,y\",\"b\":1}", NULL, "a=x,,y,b=1" },
		{ "{\"ro\":true,\"rw\":false}", NULL, "ro=on,rw=off" },
		{ "{\"n\":-42,\"big\":1099511627776}", NULL, "n=-42,big=1099511627776" },
		/* insertion order is kept */
		{ "{\"z\":1,\"a\":2,\"m\":3}", NULL, "z=1,a=2,m=3" },
		/* nested objects flatten to dotted keys, recursively */
		{ "{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"/a,b\"}}", NULL,
		  "driver=raw,file.driver=file,file.filename=/a,,b" },
		{ "{\"a\":{\"b\":{\"c\":\"d\"}},\"e\":\"f\"}", NULL, "a.b.c=d,e=f" },
		/* the implied key comes first without "key=" wherever it is */
		{ "{\"id\":\"d1\",\"driver\":\"virtio-blk-pci\",\"bus\":\"rp0\"}", "driver",
		  "virtio-blk-pci,id=d1,bus=rp0" },
		{ "{\"driver\":\"a,b\",\"id\":\"x\"}", "driver", "a,,b,id=x" },
		/* implied key absent: plain rendering */
		{ "{\"id\":\"x\"}", "driver", "id=x" },
		/* arrays → key.N, null left out */
		{ "{\"l\":[\"a\",2],\"n\":null}", NULL, "l.0=a,l.1=2" },
		/* an injection attempt stays inside the value */
		{ "{\"filename\":\"/x,driver=evil,\"}", NULL, "filename=/x,,driver=evil,," },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *r = render(cases[i].json, cases[i].implied);
		CU_ASSERT_STRING_EQUAL(r, cases[i].out);
		if (strcmp(r, cases[i].out) != 0)
			fprintf(stderr, "\ncase %zu: got '%s' want '%s'\n", i, r, cases[i].out);
	}
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "escape", test_escape },
		{ "add", test_add },
		{ "check_id", test_check_id },
		{ "check_value", test_check_value },
		{ "from_json", test_from_json },
	};
	return unit_main("qmp_keyval", tests, ARRAY_SIZE(tests));
}
