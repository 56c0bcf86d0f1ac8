/*
 * utf8 — strict UTF-8 and JSON surrogate escapes; see utf8.h.
 */
#include "lib/utf8.h"

#include <stdint.h>

/* Length of the sequence starting with lead byte c (0: not a lead). */
static size_t seq_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
	       : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
}

bool utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t len = seq_len(p[i]);
		if (!len || i + len > n)
			goto fail;
		uint32_t cp = len == 1 ? p[i] : p[i] & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto fail;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* shortest form only, no surrogates, at most U+10FFFF */
		static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			goto fail;
		i += len;
		continue;
fail:
		if (bad)
			*bad = i;
		return false;
	}
	return true;
}

/* The 4 hex digits at s (n bytes left) as a number, or -1. */
static long hex4(const char *s, size_t n)
{
	if (n < 4)
		return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

bool utf8_json_lone_surrogate(const char *s, size_t n, size_t *bad)
{
	bool in_string = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			in_string = !in_string;
			continue;
		}
		if (!in_string || s[i] != '\\' || i + 1 >= n)
			continue;
		if (s[i + 1] != 'u') {
			i++; /* \" \\ \n ...: skip the escaped byte */
			continue;
		}
		long u = hex4(s + i + 2, n - i - 2);
		bool high = u >= 0xd800 && u <= 0xdbff, low = u >= 0xdc00 && u <= 0xdfff;
		long next = i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8, n - i - 8) : -1;
		if (low || (high && !(next >= 0xdc00 && next <= 0xdfff))) {
			if (bad)
				*bad = i;
			return true;
		}
		i += high ? 11 : 5;
	}
	return false;
}
