/*
 * util — allocation that aborts on OOM, cleanup attributes, a growable
 * string buffer, string vectors and small parsing helpers shared by every
 * module.
 */
#ifndef SANDBOXFS_UTIL_H
#define SANDBOXFS_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

struct json_object;

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

static inline void util_freep(void *p) { free(*(void **)p); }
static inline void util_closep(int *fd) { if (*fd >= 0) close(*fd); }
void util_json_putp(struct json_object **o);
/* Members of a JSON object, typed: the string member `key` (NULL when
 * absent or not a string), the same as "" when absent, a boolean (false
 * when absent), an integer (-1 when absent or not an integer, else 0 and
 * *out set), the same as 0 when absent. */
const char *util_json_str(struct json_object *o, const char *key);
const char *util_json_str0(struct json_object *o, const char *key);
bool util_json_bool(struct json_object *o, const char *key);
int util_json_int(struct json_object *o, const char *key, int64_t *out);
int64_t util_json_int0(struct json_object *o, const char *key);

#define cleanup_free  __attribute__((cleanup(util_freep)))
#define cleanup_close __attribute__((cleanup(util_closep)))
#define cleanup_json  __attribute__((cleanup(util_json_putp)))

/* Hand ownership on: returns the pointer and clears the variable. */
#define move_ptr(p) ({ __typeof__(p) move_ptr_tmp_ = (p); (p) = NULL; move_ptr_tmp_; })
#define move_fd(fd) ({ int move_fd_tmp_ = (fd); (fd) = -1; move_fd_tmp_; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Growable, always NUL-terminated string buffer. */
struct sbuf {
	char *s;
	size_t len, cap;
};
void sbuf_add(struct sbuf *b, const char *s);
void sbuf_addn(struct sbuf *b, const char *s, size_t n);
void sbuf_addc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sbuf_steal(struct sbuf *b);    /* returns "" rather than NULL */
void sbuf_release(struct sbuf *b);
static inline void sbuf_releasep(struct sbuf *b) { sbuf_release(b); }
#define cleanup_sbuf __attribute__((cleanup(sbuf_releasep)))

/* NULL-terminated vector of heap strings (an argv). */
struct strv {
	char **v;
	size_t n, cap;
};
void strv_add(struct strv *sv, const char *s);
void strv_addf(struct strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_add_take(struct strv *sv, char *s);
void strv_release(struct strv *sv);
static inline void strv_releasep(struct strv *sv) { strv_release(sv); }
#define cleanup_strv __attribute__((cleanup(strv_releasep)))

/* Strict decimal parse of the whole string (no sign for unsigned). */
int util_parse_int(const char *s, long long min, long long max, long long *out);
/* Monotonic clock in milliseconds / microseconds. */
int64_t util_now_ms(void);
int64_t util_now_us(void);
/* Write a whole file atomically (temp + fsync + rename + fsync of the
 * directory; on tmpfs, where fsync does nothing, without them). */
int util_write_file_atomic(const char *path, const char *data, size_t len, int mode);
/* Read a whole (small) file; NULL with errno on failure. */
char *util_read_file(const char *path, size_t *len);
/* mkdir -p */
int util_mkdir_p(const char *path, int mode);

#endif
