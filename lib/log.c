/* log — see log.h.  One line per message, written with a single write(). */
#include "lib/log.h"
#include "lib/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level log_level = LOG_INFO;
static int log_fd = 2;

void log_set_level(enum log_level l) { log_level = l; }
void log_set_fd(int fd) { log_fd = fd; }

void log_msg(enum log_level l, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	if (l > log_level)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	cleanup_free char *line = xasprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ sandboxfs %s: %s\n",
					    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
					    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[l], msg);
	if (write(log_fd, line, strlen(line)) < 0) {
	}
}
