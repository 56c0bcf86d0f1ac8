/*
 * test_utf8 — strict UTF-8 (RFC 3629) and JSON surrogate escapes: what
 * json-c's own validation lets through (overlongs, surrogates, code points
 * above U+10FFFF, a lone \ud800) is refused here.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"

static bool valid(const char *s) { return utf8_valid(s, strlen(s), NULL); }

static void test_valid(void)
{
	static const char *const ok[] = {
		"", "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf" /* U+10FFFF */, "\xed\x9f\xbf" /* U+D7FF */,
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		CU_ASSERT_TRUE(valid(ok[i]));
	static const struct {
		const char *s;
		size_t at;
	} bad[] = {
		{ "\xc3\x28", 0 },                 /* a lead without its continuation */
		{ "ab\xff", 2 },                   /* never a UTF-8 byte */
		{ "\xc0\xaf", 0 },                 /* overlong '/' */
		{ "\xe0\x80\xaf", 0 },             /* overlong, three bytes */
		{ "\xed\xa0\x80", 0 },             /* U+D800, a surrogate */
		{ "\xf4\x90\x80\x80", 0 },         /* U+110000 */
		{ "x\xe2\x82", 1 },                /* cut short */
		{ "\x80", 0 },                     /* a lone continuation */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t at = 99;
		CU_ASSERT_FALSE(utf8_valid(bad[i].s, strlen(bad[i].s), &at));
		CU_ASSERT_EQUAL(at, bad[i].at);
	}
}

static void test_surrogates(void)
{
	size_t at = 0;
	CU_ASSERT_FALSE(utf8_json_lone_surrogate("{\"a\":\"\\ud83d\\ude00\"}", 19, &at));
	CU_ASSERT_FALSE(utf8_json_lone_surrogate("{\"a\":\"\\u00e9 \\\\ud800\"}", 22, &at)); /* escaped backslash */
	CU_ASSERT_TRUE(utf8_json_lone_surrogate("{\"a\":\"\\ud800\"}", 14, &at));
	CU_ASSERT_EQUAL(at, 6);
	CU_ASSERT_TRUE(utf8_json_lone_surrogate("{\"a\":\"\\udc00x\"}", 15, &at));
	CU_ASSERT_TRUE(utf8_json_lone_surrogate("{\"a\":\"\\ud83dx\"}", 15, &at));
	CU_ASSERT_TRUE(utf8_json_lone_surrogate("{\"a\":\"\\ud83d\\ud83d\"}", 20, &at));
	/* outside strings a backslash means nothing (and is invalid JSON anyway) */
	CU_ASSERT_FALSE(utf8_json_lone_surrogate("{\"a\":1}", 7, &at));
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "valid: RFC 3629 only", test_valid },
		{ "surrogates: a lone \\uD800..\\uDFFF escape is found", test_surrogates },
	};
	return unit_main("utf8", tests, ARRAY_SIZE(tests));
}
