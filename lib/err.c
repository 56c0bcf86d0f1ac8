/* err — error objects carrying errno + message; see err.h. */
#include "lib/err.h"
#include "lib/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int err_vset(struct err **e, int code, const char *suffix,
		    const char *fmt, va_list ap)
{
	if (code <= 0)
		code = EIO;
	char *msg = xvasprintf(fmt, ap);
	if (suffix) {
		char *full = xasprintf("%s: %s", msg, suffix);
		free(msg);
		msg = full;
	}
	if (!e) {
		free(msg);
		return -code;
	}
	err_free(e);
	*e = xmalloc(sizeof(**e));
	(*e)->code = code;
	(*e)->msg = msg;
	return -(*e)->code;
}

int err_set(struct err **e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(e, code, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int err_sys(struct err **e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = err_vset(e, code, strerror(code), fmt, ap);
	va_end(ap);
	return r;
}

int err_wrap(struct err **e, const char *fmt, ...)
{
	if (!e || !*e)
		return -EIO;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = xvasprintf(fmt, ap);
	va_end(ap);
	char *full = xasprintf("%s: %s", ctx, (*e)->msg);
	free(ctx);
	free((*e)->msg);
	(*e)->msg = full;
	return -(*e)->code;
}

void err_free(struct err **e)
{
	if (!e || !*e)
		return;
	free((*e)->msg);
	free(*e);
	*e = NULL;
}
