/* support_cmdline — see support_cmdline.h. */
#include "tests/unit/support_cmdline.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/device.h"

const struct vm_cmdline_ctx scmd_golden_ctx = {
	.name = "web,1",
	.console_log = "/run/sandboxfs/web,1/console.log",
};

void scmd_defaults(void)
{
	struct vm_defaults d = { .guest_kernel = SCMD_KERNEL, .guest_initrd = SCMD_INITRD, .accel = NULL };
	vm_config_set_defaults(&d);
}

void scmd_init(struct scmd_sb *s, const char *extra_json)
{
	scmd_defaults();
	memset(s, 0, sizeof(*s));
	vm_config_init(&s->cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&s->cfg, "{\"uuid\":\"" SCMD_UUID "\"}", false, &e), 0);
	if (extra_json)
		CU_ASSERT_EQUAL_FATAL(vm_config_merge(&s->cfg, extra_json, false, &e), 0);
	vm_topology_init(&s->topo, vm_config_arch(&s->cfg), s->cfg.root_ports);
}

void scmd_init_config(struct scmd_sb *s, const char *extra_json)
{
	scmd_init(s, extra_json);
	vm_topology_release(&s->topo);
	vm_config_topology(&s->cfg, &s->topo);
}

int scmd_init_json(struct scmd_sb *s, const char *json, char *msg, size_t len)
{
	scmd_defaults();
	memset(s, 0, sizeof(*s));
	vm_config_init(&s->cfg);
	cleanup_err struct err *e = NULL;
	int r = vm_config_merge(&s->cfg, json, false, &e);
	if (r < 0 && msg)
		snprintf(msg, len, "%s", e->msg);
	vm_config_topology(&s->cfg, &s->topo);
	return r;
}

struct vm_device *scmd_add(struct scmd_sb *s, const char *spec)
{
	cleanup_err struct err *e = NULL;
	struct vm_device *d = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse(spec, &d, &e), 0);
	if (vm_device_is_pci(d))
		CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&s->topo, d->id, &d->bridge, &d->slot, &e), 0);
	s->devs[s->n++] = d;
	return d;
}

void scmd_release(struct scmd_sb *s)
{
	for (size_t i = 0; i < s->n; i++)
		vm_device_free(s->devs[i]);
	vm_topology_release(&s->topo);
	vm_config_release(&s->cfg);
}

int scmd_build_web(struct scmd_sb *s, struct strv *argv, char *msg, size_t len)
{
	struct vm_cmdline_ctx ctx = { .name = "web", .console_log = "/run/sandboxfs/web/console.log" };
	cleanup_err struct err *e = NULL;
	int r = vm_cmdline_build(&s->cfg, &s->topo, s->devs, s->n, &ctx, argv, &e);
	if (r < 0 && msg)
		snprintf(msg, len, "%s", e->msg);
	return r;
}

void scmd_assert_argv(const struct strv *got, const char *const *want, size_t n)
{
	unit_assert_strv(got, want, n);
	CU_ASSERT_PTR_NULL(got->v ? got->v[got->n] : NULL);
}

void scmd_dump_argv(const struct strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		fprintf(stderr, "\t\t\"%s\",\n", v->v[i]);
}

void scmd_make_nv_img(void)
{
	int fd = open(KNOBS_NV_IMG, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ftruncate(fd, 64 << 20), 0);
	close(fd);
}
