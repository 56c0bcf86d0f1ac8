/*
 * vm_cgroup — per-sandbox cgroups, the layout-independent part; see
 * cgroup.h.  cgroup_v2.c and cgroup_v1.c hold what differs.
 */
#include "vm/qemu/cgroup_impl.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct vm_cgroup_ops *cg_ops;

int vm_cgroup_detect(struct err **e)
{
	static const struct vm_cgroup_ops *const layouts[] = { &vm_cgroup_v2, &vm_cgroup_v1 };
	for (size_t i = 0; !cg_ops && i < ARRAY_SIZE(layouts); i++)
		if (layouts[i]->detect())
			cg_ops = layouts[i];
	if (!cg_ops)
		return err_set(e, EOPNOTSUPP, "no cgroup hierarchy with cpu, memory and pids "
			       "(neither cgroup v2 at /sys/fs/cgroup nor v1 hierarchies)");
	return 0;
}

const char *vm_cgroup_layout(void) { return cg_ops ? cg_ops->layout : NULL; }

int vm_cgroup_write(const char *dir, const char *file, const char *value, struct err **e)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(e, errno, "open %s", path);
	ssize_t n = write(fd, value, strlen(value));
	if (n < 0)
		return err_sys(e, errno, "%s refuses %s", path, value);
	return 0;
}

void vm_cgroup_read(const char *dir, const char *file, char *buf, size_t len)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_free char *text = util_read_file(path, NULL);
	snprintf(buf, len, "%s", text ? text : "");
	buf[strcspn(buf, "\n")] = '\0';
}

int64_t vm_cgroup_read_num(const char *dir, const char *file)
{
	char buf[64];
	vm_cgroup_read(dir, file, buf, sizeof(buf));
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	return !*buf || *end || errno ? -1 : v;
}

int64_t vm_cgroup_read_key(const char *dir, const char *file, const char *key)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_free char *text = util_read_file(path, NULL);
	size_t n = strlen(key);
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, n) && l[n] == ' ')
			return strtoll(l + n + 1, NULL, 10);
	return 0;
}

int vm_cgroup_mkdir(const char *dir, struct err **e)
{
	int r = util_mkdir_p(dir, 0755);
	return r < 0 ? err_sys(e, -r, "mkdir %s", dir) : 0;
}

int vm_cgroup_open(const char *parent, const char *name, const struct vm_cgroup_limits *lim,
		   struct vm_cgroup **out, struct err **e)
{
	if (!cg_ops && vm_cgroup_detect(e) < 0)
		return err_ret(e);
	struct vm_cgroup *cg = xcalloc(1, sizeof(*cg));
	cg->ops = cg_ops;
	cg->rel = xasprintf("%s/sb-%s", parent, name);
	int r = cg_ops->create(cg, e);
	if (r == 0 && lim)
		r = cg_ops->limit(cg, lim, e);
	if (r < 0) {
		vm_cgroup_free(cg);
		return r;
	}
	*out = cg;
	return 0;
}

const char *vm_cgroup_rel(const struct vm_cgroup *cg) { return cg->rel; }

#define CG_SETTLE_MS 3000 /* how long a killed QEMU may take to leave it */
#define CG_SETTLE_STEP_MS 10 /* between tries */

/* rmdir each directory, retried while EBUSY until wait_ms have passed (one
 * deadline for all): a QEMU killed a moment ago (SIGKILL) is still tearing
 * its memory down, in its cgroup, when the /proc checks already find it not
 * ours any more. */
static int cgroup_remove_settled(struct vm_cgroup *cg, int wait_ms, struct err **e)
{
	int r = 0;
	int64_t t0 = util_now_ms(), end = t0 + wait_ms;
	for (int i = 0; i < cg->ndirs; i++) {
		int rc;
		while ((rc = rmdir(cg->dirs[i])) < 0 && errno == EBUSY && util_now_ms() < end)
			usleep(CG_SETTLE_STEP_MS * 1000);
		if (rc < 0 && errno != ENOENT && r == 0)
			r = wait_ms ? err_sys(e, errno, "rmdir %s (after %lld ms)", cg->dirs[i],
					      (long long)(util_now_ms() - t0))
				    : err_sys(e, errno, "rmdir %s", cg->dirs[i]);
	}
	return r;
}

int vm_cgroup_remove_rel(const char *rel, const char *name, struct err **e)
{
	cleanup_free char *leaf = xasprintf("/sb-%s", name);
	size_t n = rel ? strlen(rel) : 0, nleaf = strlen(leaf);
	if (n < nleaf || strcmp(rel + n - nleaf, leaf) || strstr(rel, ".."))
		return err_set(e, EINVAL, "'%.200s' is not a cgroup of sandbox %s", rel ? rel : "",
			       name);
	if (!cg_ops && vm_cgroup_detect(e) < 0)
		return err_ret(e);
	struct vm_cgroup cg = {.ops = cg_ops, .rel = (char *)rel};
	cg_ops->place(&cg); /* nothing made: gone already is fine */
	int r = cgroup_remove_settled(&cg, CG_SETTLE_MS, e);
	for (int i = 0; i < cg.ndirs; i++)
		free(cg.dirs[i]);
	return r;
}

void vm_cgroup_free(struct vm_cgroup *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < cg->ndirs; i++)
		free(cg->dirs[i]);
	free(cg->rel);
	free(cg);
}

int vm_cgroup_limit(struct vm_cgroup *cg, const struct vm_cgroup_limits *lim, struct err **e)
{
	return cg->ops->limit(cg, lim, e);
}

int vm_cgroup_procs_fds(struct vm_cgroup *cg, int *fds, int max, struct err **e)
{
	int n = 0;
	for (int i = 0; i < cg->ndirs && n < max; i++) {
		cleanup_free char *path = xasprintf("%s/cgroup.procs", cg->dirs[i]);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			while (n > 0)
				close(fds[--n]);
			return err_sys(e, err, "open %s", path);
		}
		/* above the numbers the child places its descriptors at */
		fds[n] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
		close(fd);
		if (fds[n] < 0) {
			while (n > 0)
				close(fds[--n]);
			return err_sys(e, errno, "fcntl F_DUPFD");
		}
		n++;
	}
	return n;
}

int vm_cgroup_remove(struct vm_cgroup *cg, struct err **e)
{
	return cgroup_remove_settled(cg, 0, e);
}

void vm_cgroup_show(const struct vm_cgroup *cg, struct sbuf *out)
{
	for (int i = 0; i < cg->ndirs; i++)
		sbuf_printf(out, "%s %s\n", cg->keys[i], cg->dirs[i]);
}

int64_t vm_cgroup_oom_kills(const struct vm_cgroup *cg) { return cg->ops->oom_kills(cg); }

void vm_cgroup_usage(const struct vm_cgroup *cg, struct vm_cgroup_usage *out)
{
	*out = (struct vm_cgroup_usage){-1, -1, -1, -1};
	cg->ops->usage(cg, out);
}

struct vm_cgroup *vm_cgroup_copy(const struct vm_cgroup *cg)
{
	struct vm_cgroup *c = xcalloc(1, sizeof(*c));
	c->ops = cg->ops;
	c->rel = xstrdup(cg->rel);
	for (int i = 0; i < cg->ndirs; i++) {
		c->keys[i] = cg->keys[i];
		c->dirs[i] = xstrdup(cg->dirs[i]);
	}
	c->ndirs = cg->ndirs;
	return c;
}

bool vm_cgroup_has(const struct vm_cgroup *cg, int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	cleanup_free char *text = util_read_file(path, NULL);
	cleanup_free char *want = xasprintf("%s:/%s\n", cg->ops->proc_key, cg->rel);
	return text && strstr(text, want);
}

char *vm_cgroup_parent_of(int pid, const char *name)
{
	if (!cg_ops && vm_cgroup_detect(NULL) < 0)
		return NULL;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	cleanup_free char *text = util_read_file(path, NULL);
	cleanup_free char *key = xasprintf("%s:/", cg_ops->proc_key);
	cleanup_free char *leaf = xasprintf("/sb-%s", name);
	size_t nkey = strlen(key), nleaf = strlen(leaf);
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t len = strcspn(l, "\n");
		/* v2 "0::/PATH"; v1 "N:memory:/PATH" (the key starts at the ':') */
		const char *p = *key == ':' ? memchr(l, ':', len) : l;
		if (!p || (size_t)(l + len - p) < nkey || strncmp(p, key, nkey))
			continue;
		const char *rel = p + nkey - 1; /* "/PARENT/sb-NAME" */
		size_t n = (size_t)(l + len - rel);
		if (n < nleaf || strncmp(rel + n - nleaf, leaf, nleaf))
			return NULL;
		return n == nleaf ? xstrdup("") : xstrndup(rel + 1, n - nleaf - 1);
	}
	return NULL;
}
