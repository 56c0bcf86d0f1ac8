/*
 * config_qemu — which binary a config's empty `qemu` key means: its
 * architecture's system emulator (qemu-system-x86_64, ...) in the first of
 * the daemon's --qemu-dir directories that holds it as an executable, else
 * where the architecture table puts it (/usr/bin).  So `--qemu-dir=
 * /opt/qemu-10/bin:/usr/bin` makes QEMU 10 every sandbox's default, while
 * the `qemu` key still picks either.  A name resolved once stays (the
 * directories are set once, at daemon start).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"
#include "vm/model/config_schema.h"

#define QEMU_RESOLVED_MAX 16

static pthread_mutex_t qemu_lock = PTHREAD_MUTEX_INITIALIZER;
static char **qemu_dirs;
static struct {
	char *arch_bin, *bin;
} resolved[QEMU_RESOLVED_MAX];
static size_t nresolved;

void vm_config_qemu_dirs_set(const char *const *dirs)
{
	pthread_mutex_lock(&qemu_lock);
	for (size_t i = 0; qemu_dirs && qemu_dirs[i]; i++)
		free(qemu_dirs[i]);
	free(qemu_dirs);
	qemu_dirs = NULL;
	for (size_t i = 0; i < nresolved; i++) {
		free(resolved[i].arch_bin);
		free(resolved[i].bin);
	}
	nresolved = 0;
	size_t n = 0;
	while (dirs && dirs[n])
		n++;
	if (n) {
		qemu_dirs = xcalloc(n + 1, sizeof(*qemu_dirs));
		for (size_t i = 0; i < n; i++)
			qemu_dirs[i] = xstrdup(dirs[i]);
	}
	pthread_mutex_unlock(&qemu_lock);
}

/* dir/basename(arch_bin) in the first directory holding it; NULL: none. */
static char *qemu_find(const char *arch_bin)
{
	const char *base = strrchr(arch_bin, '/');
	base = base ? base + 1 : arch_bin;
	for (size_t i = 0; qemu_dirs && qemu_dirs[i]; i++) {
		size_t len = strlen(qemu_dirs[i]);
		char *cand = xasprintf("%s%s%s", qemu_dirs[i],
				       len && qemu_dirs[i][len - 1] == '/' ? "" : "/", base);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

const char *vm_config_qemu_default(const char *arch_bin)
{
	if (!arch_bin)
		return NULL;
	const char *out = arch_bin;
	pthread_mutex_lock(&qemu_lock);
	size_t i = 0;
	while (i < nresolved && strcmp(resolved[i].arch_bin, arch_bin))
		i++;
	if (i < nresolved) {
		out = resolved[i].bin;
	} else if (qemu_dirs && nresolved < QEMU_RESOLVED_MAX) {
		char *found = qemu_find(arch_bin);
		resolved[nresolved].arch_bin = xstrdup(arch_bin);
		resolved[nresolved].bin = found ? found : xstrdup(arch_bin);
		out = resolved[nresolved++].bin;
	}
	pthread_mutex_unlock(&qemu_lock);
	return out;
}
