/* cred — requests' credentials and opening host paths as the caller; see cred.h. */
#include "lib/cred.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/util.h"

const struct cred cred_root = { .uid = 0, .gid = 0, .ngroups = 0 };

/* The daemon's own credentials, to return to. */
static struct {
	uid_t fsuid;
	gid_t fsgid;
	int ngroups;
	gid_t groups[CRED_GROUPS_MAX];
} self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_init(void)
{
	self.fsuid = geteuid();
	self.fsgid = getegid();
	int n = getgroups(CRED_GROUPS_MAX, self.groups);
	self.ngroups = n > 0 ? n : 0;
}

bool cred_is_root(const struct cred *c) { return c->uid == 0; }

const char *cred_describe(const struct cred *c, char *buf, size_t len)
{
	snprintf(buf, len, "uid %u (gid %u)", (unsigned)c->uid, (unsigned)c->gid);
	return buf;
}

/* This thread takes the caller's filesystem identity (a no-op for root). */
static int cred_enter(const struct cred *c, struct err **e)
{
	pthread_once(&self_once, self_init);
	if (cred_is_root(c) || (c->uid == self.fsuid && self.fsuid != 0))
		return 0;
	if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) < 0)
		return err_sys(e, errno, "cannot take the groups of uid %u", (unsigned)c->uid);
	syscall(SYS_setfsgid, c->gid);
	syscall(SYS_setfsuid, c->uid);
	/* setfsuid/setfsgid report no error: read back what holds now. */
	if ((uid_t)syscall(SYS_setfsuid, (uid_t)-1) != c->uid ||
	    (gid_t)syscall(SYS_setfsgid, (gid_t)-1) != c->gid) {
		syscall(SYS_setfsuid, self.fsuid);
		syscall(SYS_setfsgid, self.fsgid);
		syscall(SYS_setgroups, (size_t)self.ngroups, self.groups);
		return err_set(e, EPERM, "cannot take the identity of uid %u", (unsigned)c->uid);
	}
	return 0;
}

static void cred_leave(const struct cred *c)
{
	if (cred_is_root(c) || (c->uid == self.fsuid && self.fsuid != 0))
		return;
	syscall(SYS_setfsuid, self.fsuid);
	syscall(SYS_setfsgid, self.fsgid);
	syscall(SYS_setgroups, (size_t)self.ngroups, self.groups);
}

int cred_open(const struct cred *c, const char *path, int flags, struct err **e)
{
	int r = cred_enter(c, e);
	if (r < 0)
		return r;
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY, 0600);
	int err = errno;
	cred_leave(c);
	if (fd < 0) {
		char who[64];
		return err_sys(e, err, "open %s as %s", path, cred_describe(c, who, sizeof(who)));
	}
	return fd;
}

int cred_openat(const struct cred *c, int dirfd, const char *name, int flags, int mode,
		struct err **e)
{
	int r = cred_enter(c, e);
	if (r < 0)
		return r;
	int fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, mode);
	int err = errno;
	cred_leave(c);
	if (fd < 0) {
		char who[64];
		return err_sys(e, err, "open %s as %s", name, cred_describe(c, who, sizeof(who)));
	}
	return fd;
}

int cred_mkdir(const struct cred *c, const char *path, int mode, struct err **e)
{
	int r = cred_enter(c, e);
	if (r < 0)
		return r;
	r = mkdir(path, (mode_t)mode);
	int err = errno;
	cred_leave(c);
	if (r < 0) {
		char who[64];
		return err_sys(e, err, "mkdir %s as %s", path, cred_describe(c, who, sizeof(who)));
	}
	return 0;
}

int cred_connect(const struct cred *c, const char *path, struct err **e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return err_set(e, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, errno, "socket");
	int r = cred_enter(c, e);
	if (r < 0)
		return r;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	int err = errno;
	cred_leave(c);
	if (r < 0) {
		char who[64];
		return err_sys(e, err, "connect %s as %s", path, cred_describe(c, who, sizeof(who)));
	}
	return move_fd(fd);
}

int cred_listen(const struct cred *c, const char *path, struct err **e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path))
		return err_set(e, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(e, errno, "socket");
	int r = cred_enter(c, e);
	if (r < 0)
		return r;
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	int err = errno;
	cred_leave(c);
	char who[64];
	if (r < 0)
		return err_sys(e, err, "bind %s as %s", path, cred_describe(c, who, sizeof(who)));
	if (listen(fd, 4) < 0)
		return err_sys(e, errno, "listen %s", path);
	return move_fd(fd);
}

struct json_object *cred_to_json(const struct cred *c)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "uid", json_object_new_int64(c->uid));
	json_object_object_add(o, "gid", json_object_new_int64(c->gid));
	struct json_object *g = json_object_new_array();
	for (int i = 0; i < c->ngroups; i++)
		json_object_array_add(g, json_object_new_int64(c->groups[i]));
	json_object_object_add(o, "groups", g);
	return o;
}

int cred_from_json(struct json_object *o, struct cred *out, struct err **e)
{
	int64_t uid, gid;
	struct json_object *g;
	if (util_json_int(o, "uid", &uid) < 0 || util_json_int(o, "gid", &gid) < 0 ||
	    !json_object_object_get_ex(o, "groups", &g) || !json_object_is_type(g, json_type_array) ||
	    uid < 0 || gid < 0 || uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1)
		return err_set(e, EINVAL, "credentials: want {\"uid\",\"gid\",\"groups\"}");
	struct cred c = {.uid = (uid_t)uid, .gid = (gid_t)gid};
	size_t n = json_object_array_length(g);
	for (size_t i = 0; i < n && c.ngroups < CRED_GROUPS_MAX; i++) {
		struct json_object *v = json_object_array_get_idx(g, i);
		if (!json_object_is_type(v, json_type_int))
			return err_set(e, EINVAL, "credentials: groups must be numbers");
		c.groups[c.ngroups++] = (gid_t)json_object_get_int64(v);
	}
	*out = c;
	return 0;
}
