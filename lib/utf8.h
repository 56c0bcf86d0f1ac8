/*
 * utf8 — strict UTF-8 for what writers send: RFC 3629 only (no overlong
 * forms, no UTF-16 surrogates U+D800..U+DFFF, nothing above U+10FFFF), and,
 * in JSON text, no \u escape of a surrogate that is not one half of a
 * proper pair (json-c would silently turn a lone one into U+FFFD).
 */
#ifndef SANDBOXFS_UTF8_H
#define SANDBOXFS_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Is s[0..n) UTF-8?  *bad receives the offset of the first bad byte. */
bool utf8_valid(const char *s, size_t n, size_t *bad);
/* Does JSON text s[0..n) escape a surrogate that is not a proper pair
 * (\uD800-\uDBFF followed by \uDC00-\uDFFF)?  *bad: offset of the escape. */
bool utf8_json_lone_surrogate(const char *s, size_t n, size_t *bad);

#endif
