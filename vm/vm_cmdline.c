/*
 * vm_cmdline — builds the exact QEMU argv for a sandbox; see vm_cmdline.h.
 *
 * The argv, in order (brackets: only when set):
 *   QEMU                      effective binary (vm_config_qemu_binary)
 *   -name guest=NAME          keyval: NAME escaped; the explicit "guest="
 *                             keeps a name containing '=' from being read
 *                             as another -name option
 *   -uuid UUID
 *   -machine MACHINE
 *   -accel ACCEL              enum value, its ',' are intended
 *   [-cpu MODEL]              cpu_model or the arch default
 *   -smp V,sockets=M,cores=1,threads=1,maxcpus=M
 *   -m MIBM
 *   -nodefaults -no-user-config -display none
 *   -chardev socket,id=qmp,fd=3,server=on,wait=off -mon chardev=qmp,mode=control
 *   -chardev file,id=console,path=LOG,append=on -serial chardev:console
 *   -kernel PATH [-initrd PATH] -append PARAMS
 *                             plain argv values, not keyval: no escaping
 *   (-device BRIDGE)*         vm_topology_argv
 *   (-blockdev BACKEND -device FRONTEND)*   cold-plugged devices, on their
 *                             bridge at slot N as addr=0xN
 *
 * Kernel command line: "console=" arch console, arch params, the arch
 * debug or nodebug params, then the user's kernel_params last so they win.
 */
#include "vm/vm_cmdline.h"

#include <json-c/json.h>
#include <string.h>

#include "arch/arch.h"
#include "vm/vm_config.h"
#include "vm/vm_device.h"
#include "vm/vm_qopts.h"
#include "vm/vm_topology.h"

static void cmdline_add_list(struct sbuf *b, const char *const *list)
{
	for (; list && *list; list++) {
		if (b->len)
			sbuf_addc(b, ' ');
		sbuf_add(b, *list);
	}
}

char *vm_cmdline_kernel_params(const struct vm_config *cfg)
{
	struct sbuf b = {0};
	const struct arch_ops *a = vm_config_arch(cfg);
	if (a) {
		if (a->console_device)
			sbuf_printf(&b, "console=%s", a->console_device);
		cmdline_add_list(&b, a->kernel_params);
		cmdline_add_list(&b, cfg->debug ? a->kernel_params_debug
						: a->kernel_params_nodebug);
	}
	if (cfg->kernel_params && *cfg->kernel_params) {
		if (b.len)
			sbuf_addc(&b, ' ');
		sbuf_add(&b, cfg->kernel_params);
	}
	return sbuf_steal(&b);
}

/* "-device"/"-blockdev" argument pair for one cold-plugged device. */
static int cmdline_add_device(const struct vm_topology *t, const struct arch_ops *a,
			      const struct vm_device *d, struct strv *argv, struct err **e)
{
	if (d->bridge < 0 || d->bridge >= t->n || d->slot < 0 ||
	    d->slot >= t->bridges[d->bridge].nslots)
		return err_set(e, EINVAL, "device %s: not placed on a hotplug bridge slot", d->id);
	cleanup_json struct json_object *back = vm_device_backend(d);
	if (back) {
		strv_add(argv, "-blockdev");
		strv_add_take(argv, vm_qopts_from_json(back, NULL));
	}
	cleanup_json struct json_object *front =
		vm_device_frontend(d, a, t->bridges[d->bridge].id, d->slot);
	strv_add(argv, "-device");
	strv_add_take(argv, vm_qopts_from_json(front, "driver"));
	return 0;
}

int vm_cmdline_build(const struct vm_config *cfg, const struct vm_topology *t,
		     struct vm_device *const *devs, size_t ndevs,
		     const struct vm_cmdline_ctx *ctx, struct strv *argv, struct err **e)
{
	int r = vm_config_validate(cfg, e);
	if (r < 0)
		return err_wrap(e, "config");
	if (!ctx || !ctx->name || !ctx->console_log)
		return err_set(e, EINVAL, "cmdline: name and console log are required");
	if ((r = vm_qopts_check_value("name", ctx->name, e)) < 0 ||
	    (r = vm_qopts_check_value("console log", ctx->console_log, e)) < 0)
		return r;
	const struct arch_ops *a = vm_config_arch(cfg);

	cleanup_strv struct strv v = {0};
	struct sbuf o = {0};

	strv_add(&v, vm_config_qemu_binary(cfg));
	strv_add(&v, "-name");
	vm_qopts_add(&o, "guest", ctx->name);
	strv_add_take(&v, sbuf_steal(&o));
	strv_add(&v, "-uuid");
	strv_add(&v, cfg->uuid);
	strv_add(&v, "-machine");
	vm_qopts_escape(&o, cfg->machine);
	strv_add_take(&v, sbuf_steal(&o));
	strv_add(&v, "-accel");
	strv_add(&v, cfg->accel);
	const char *cpu = vm_config_cpu_model(cfg);
	if (*cpu) {
		strv_add(&v, "-cpu");
		strv_add(&v, cpu);
	}
	strv_add(&v, "-smp");
	strv_addf(&v, "%d,sockets=%d,cores=1,threads=1,maxcpus=%d", cfg->vcpus, cfg->maxvcpus,
		  cfg->maxvcpus);
	strv_add(&v, "-m");
	strv_addf(&v, "%dM", cfg->memory_mib);
	strv_add(&v, "-nodefaults");
	strv_add(&v, "-no-user-config");
	strv_add(&v, "-display");
	strv_add(&v, "none");

	strv_add(&v, "-chardev");
	strv_addf(&v, "socket,id=qmp,fd=%d,server=on,wait=off", VM_QMP_FD);
	strv_add(&v, "-mon");
	strv_add(&v, "chardev=qmp,mode=control");
	strv_add(&v, "-chardev");
	sbuf_add(&o, "file,id=console");
	vm_qopts_add(&o, "path", ctx->console_log);
	vm_qopts_add(&o, "append", "on");
	strv_add_take(&v, sbuf_steal(&o));
	strv_add(&v, "-serial");
	strv_add(&v, "chardev:console");

	strv_add(&v, "-kernel");
	strv_add(&v, cfg->kernel);
	if (*cfg->initrd) {
		strv_add(&v, "-initrd");
		strv_add(&v, cfg->initrd);
	}
	strv_add(&v, "-append");
	strv_add_take(&v, vm_cmdline_kernel_params(cfg));

	vm_topology_argv(t, &v);
	for (size_t i = 0; i < ndevs; i++)
		if ((r = cmdline_add_device(t, a, devs[i], &v, e)) < 0)
			return r;

	/* Only a complete argv reaches the caller's vector (appended). */
	for (size_t i = 0; i < v.n; i++)
		strv_add_take(argv, move_ptr(v.v[i]));
	v.n = 0;
	return 0;
}
