/*
 * vm_cmdline — builds the exact QEMU argv for a sandbox; see cmdline.h.
 *
 * The argv, in order (brackets: only when set):
 *   QEMU                      effective binary (vm_config_qemu_binary)
 *   -name guest=NAME          keyval: NAME (config "name", else the
 *                             sandbox's) escaped; the explicit "guest="
 *                             keeps a name containing '=' from being read
 *                             as another -name option
 *   -uuid UUID
 *   -machine TYPE[,OPTIONS][,ACCELERATORS][,nvdimm=on]
 *                             machine_options, then machine_accelerators
 *                             (Kata: a ',' put in front if missing), then
 *                             the arch's NVDIMM option when an nvdimm image
 *                             is configured
 *   -accel ACCEL              enum value, its ',' are intended
 *   [-cpu MODEL]              cpu_model or the arch default
 *   -smp V,sockets=S,cores=C,threads=T,maxcpus=M
 *   -m MIBM[,slots=N][,maxmem=XM]
 *   [-object memory-backend-{file|memfd|ram},id=dimm1,size=MIBM
 *      [,mem-path=/dev/hugepages][,share=on][,prealloc=on]
 *    -numa node,memdev=dimm1]  hugepages / mem_shared / mem_prealloc
 *   [-object memory-backend-file,id=dimm1,size=MIBM,mem-path=/proc/self/fd/N,
 *      share=off,readonly=on,rom=off -numa node,memdev=dimm1]
 *                             a clone: its template's RAM file, private
 *   [-object memory-backend-file,id=dimm1,size=MIBM,mem-path=/proc/self/fd/N,
 *      share=on -numa node,memdev=dimm1]
 *                             memory_file: a memfd the daemon made
 *   [-overcommit mem-lock=on|off]   mlock, or realtime (-realtime is gone
 *                             from QEMU 7.x; -overcommit is its successor)
 *   [-nodefaults | -nic none] [-no-user-config]   (without -nodefaults
 *                             QEMU's default NIC would take 00:02.0)
 *   -display none | -nographic
 *   -vga VGA
 *   -rtc base=B,clock=C[,driftfix=slew]
 *   (-global G)*
 *   [-bios PATH] (-drive if=pflash,format=raw,unit=N,file=PATH)*
 *   -chardev socket,id=qmp,fd=3,server=on,wait=off -mon chardev=qmp,mode=control
 *   -chardev file,id=console,path=LOG,append=on -serial chardev:console
 *   -kernel PATH [-initrd PATH] -append PARAMS
 *                             plain argv values, not keyval: no escaping
 *   (-object iothread,id=iothreadN)*
 *   (vIOMMU parts)*           before any PCI device
 *   (-device BRIDGE)*         vm_topology_argv
 *   (device parts)*           vm_device_parts, in device order, each PCI
 *                             function on its bridge slot
 *   [-incoming defer]         a restore or a migration's destination
 *
 * Kernel command line: "console=" arch console, arch params, the arch
 * debug or nodebug params, with a root image the systemd debug|nodebug
 * list and the root params, then the user's kernel_params last so they win.
 *
 * What the binary is (ctx->qemu, vm/qemu/version) is checked before
 * anything is built: it emulates the config's target and has its machine
 * type.  No option differs between the QEMUs this tree is tested with:
 * 7.2 and 10.0 take every form above unchanged and warn about none (the
 * real-QEMU acceptance runs against both, docs/testing.md).  In
 * particular neither -runas (deprecated in 9.1) nor -run-with user=
 * (9.1 on) is ever emitted: the daemon drops QEMU to its own uid itself,
 * in the child between fork and exec (vm/qemu/process); nor -chroot /
 * -run-with chroot=: QEMU gets descriptors, not a root of its own.
 *
 * Cross-device rules checked here (EINVAL naming the device and field):
 * at most one root image, at most one balloon; an nvdimm image needs memory_slots >= 1 and
 * maxmem_mib >= memory_mib + its size; iothreads exist; the vIOMMU machine;
 * every QEMU id (qdev, chardev, netdev, object, node-name, fsdev) unique.
 */
#include "vm/qemu/cmdline.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "qmp/qmp_keyval.h"
#include "vm/model/topology.h"
#include "vm/qemu/version.h"

#define MIB (1024LL * 1024LL)

static void cmdline_add_list(struct sbuf *b, const char *const *list)
{
	for (; list && *list; list++) {
		if (b->len)
			sbuf_addc(b, ' ');
		sbuf_add(b, *list);
	}
}

static const struct vm_device *cmdline_image(struct vm_device *const *devs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (devs[i]->kind == VM_DEVK_IMAGE)
			return devs[i];
	return NULL;
}

char *vm_cmdline_kernel_params(const struct vm_config *cfg, struct vm_device *const *devs,
			       size_t ndevs)
{
	struct sbuf b = {0};
	const struct arch_ops *a = vm_config_arch(cfg);
	const struct vm_device *img = cmdline_image(devs, ndevs);
	if (a) {
		if (a->console_device)
			sbuf_printf(&b, "console=%s", a->console_device);
		cmdline_add_list(&b, a->kernel_params);
		cmdline_add_list(&b, cfg->debug ? a->kernel_params_debug
						: a->kernel_params_nodebug);
		if (img) {
			cmdline_add_list(&b, cfg->debug ? a->kernel_params_systemd_debug
							: a->kernel_params_systemd_nodebug);
			bool nv = !strcmp(vm_device_str(img, "as"), "nvdimm");
			sbuf_printf(&b, "%sroot=%s rootflags=%sdata=ordered,errors=remount-ro ro "
					"rootfstype=ext4", b.len ? " " : "",
				    nv ? a->root_dev_nvdimm : a->root_dev_blk,
				    nv && vm_device_bool(img, "dax") ? "dax," : "");
		}
	}
	/* The built-in guest mounts these virtio-fs tags at /mnt/TAG
	 * (scripts/guest-init); a tag the command line cannot carry is left out. */
	size_t nfs = 0;
	for (size_t i = 0; i < ndevs; i++) {
		const char *tag = devs[i]->kind == VM_DEVK_VIRTIOFS ? vm_device_str(devs[i], "tag") : "";
		if (!*tag || tag[strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					  "0123456789_.-")])
			continue;
		sbuf_printf(&b, "%s%s", nfs++ ? "," : b.len ? " sbfs.virtiofs=" : "sbfs.virtiofs=", tag);
	}
	if (cfg->kernel_params && *cfg->kernel_params) {
		if (b.len)
			sbuf_addc(&b, ' ');
		sbuf_add(&b, cfg->kernel_params);
	}
	return sbuf_steal(&b);
}

/* ---- unique ids ---- */

struct idset {
	struct strv v;
};

static int idset_add(struct idset *s, const char *ns, const char *id, const char *owner,
		     struct err **e)
{
	cleanup_free char *key = xasprintf("%s:%s", ns, id);
	for (size_t i = 0; i < s->v.n; i++)
		if (!strcmp(s->v.v[i], key))
			return err_set(e, EINVAL, "device %s: id: the %s id '%s' is already in use",
				       owner, ns, id);
	strv_add(&s->v, key);
	return 0;
}

static int idset_parts(struct idset *s, const struct vm_dev_parts *p, const char *owner,
		       struct err **e)
{
	static const char *const ns[] = {
		[VM_PART_OBJECT] = "object", [VM_PART_CHARDEV] = "chardev",
		[VM_PART_NETDEV] = "netdev", [VM_PART_FSDEV] = "fsdev",
		[VM_PART_BLOCKDEV] = "node", [VM_PART_DEVICE] = "device",
	};
	for (size_t i = 0; i < p->n; i++) {
		struct json_object *v;
		const char *key = p->v[i].kind == VM_PART_BLOCKDEV ? "node-name" : "id";
		if (!json_object_object_get_ex(p->v[i].args, key, &v))
			continue;
		int r = idset_add(s, ns[p->v[i].kind], json_object_get_string(v), owner, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- devices ---- */

static int cmdline_device_parts(const struct vm_config *cfg, const struct vm_topology *t,
				const struct vm_device *d, const struct vm_cmdline_ctx *ctx,
				struct vm_fdplan *fds, struct vm_dev_parts *p, struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	struct vm_dev_env env = { .arch = a, .disable_modern = cfg->disable_modern,
				  .console_log = ctx->console_log, .fds = fds,
				  .pass_files = ctx->pass_files, .owner = &d->owner };
	bool placed = d->bridge >= 0 && d->bridge < t->n && d->slot >= 0 &&
		      d->slot < t->bridges[d->bridge].nslots;
	bool own_bus = d->kind == VM_DEVK_VFIO && *vm_device_str(d, "bus");
	if (vm_device_is_pci(d) && !own_bus) {
		if (!placed)
			return err_set(e, EINVAL, "device %s: not placed on a hotplug bridge slot",
				       d->id);
		env.bus = t->bridges[d->bridge].id;
		env.addr = vm_topology_slot_addr(t, d->bridge, d->slot);
	}
	int r = vm_device_check_config(d, cfg, e);
	if (r < 0)
		return r;
	return vm_device_parts(d, &env, p, e);
}

/* The nvdimm image's size from its memory backend part (0: none). */
static long long cmdline_nvdimm_size(const struct vm_dev_parts *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct json_object *q, *sz;
		if (p->v[i].kind == VM_PART_OBJECT &&
		    json_object_object_get_ex(p->v[i].args, "qom-type", &q) &&
		    !strcmp(json_object_get_string(q), "memory-backend-file") &&
		    json_object_object_get_ex(p->v[i].args, "size", &sz))
			return json_object_get_int64(sz);
	}
	return 0;
}

/* What the argv names a config path by: the path, or with pass_files a
 * descriptor opened with `who`'s rights (a heap string). */
static char *cmdline_ref(const struct vm_cmdline_ctx *ctx, struct vm_fdplan *plan,
			 const char *path, int flags, enum vm_fd_ref ref, const struct cred *who)
{
	if (!ctx->pass_files)
		return xstrdup(path);
	struct vm_fd opts = {.flags = flags, .cred = who ? *who : cred_root};
	free(vm_fdplan_add(plan, VM_FD_FILE, ref, path, &opts));
	return vm_fdplan_exec_ref(&plan->v[plan->n - 1], plan->n - 1, NULL);
}

static void add_machine(struct strv *v, const struct vm_config *cfg, const struct arch_ops *a,
			bool nvdimm)
{
	struct sbuf o = {0};
	qmp_keyval_escape(&o, cfg->machine);
	if (*cfg->machine_options)
		sbuf_printf(&o, ",%s", cfg->machine_options);
	if (*cfg->machine_accelerators)
		sbuf_printf(&o, "%s%s", cfg->machine_accelerators[0] == ',' ? "" : ",",
			    cfg->machine_accelerators);
	if (nvdimm && a->nvdimm_option)
		sbuf_printf(&o, ",%s", a->nvdimm_option);
	strv_add(v, "-machine");
	strv_add_take(v, sbuf_steal(&o));
}

/* The boot memory's backend: hugepages, a shared memfd, preallocated
 * RAM — or a clone's template file, mapped private (prealloc would copy
 * every page, so a clone takes none). */
static void add_memory_backend(struct strv *v, const struct vm_config *cfg,
			       const struct vm_cmdline_ctx *ctx, struct vm_fdplan *plan)
{
	struct sbuf o = {0};
	if (ctx->ram_template) {
		sbuf_printf(&o, "memory-backend-file,id=dimm1,size=%dM", cfg->memory_mib);
		cleanup_free char *ref = cmdline_ref(ctx, plan, ctx->ram_template, O_RDONLY,
						     VM_FD_REF_PROC, ctx->ram_owner);
		qmp_keyval_add(&o, "mem-path", ref);
		sbuf_add(&o, ",share=off,readonly=on,rom=off");
	} else if (cfg->memory_file) {
		sbuf_printf(&o, "memory-backend-file,id=dimm1,size=%dM", cfg->memory_mib);
		struct vm_fd ram = {.size = (long long)cfg->memory_mib << 20, .cred = cred_root};
		free(vm_fdplan_add(plan, VM_FD_MEMFD, VM_FD_REF_PROC, "sandboxfs-ram", &ram));
		cleanup_free char *ref = vm_fdplan_exec_ref(&plan->v[plan->n - 1], plan->n - 1, NULL);
		qmp_keyval_add(&o, "mem-path", ref);
		sbuf_add(&o, ",share=on");
		if (cfg->mem_prealloc)
			sbuf_add(&o, ",prealloc=on");
	} else {
		const char *backend = cfg->hugepages   ? "memory-backend-file"
				      : cfg->mem_shared ? "memory-backend-memfd"
							: "memory-backend-ram";
		sbuf_printf(&o, "%s,id=dimm1,size=%dM", backend, cfg->memory_mib);
		if (cfg->hugepages)
			sbuf_add(&o, ",mem-path=/dev/hugepages");
		if (cfg->hugepages || cfg->mem_shared)
			sbuf_add(&o, ",share=on");
		if (cfg->mem_prealloc)
			sbuf_add(&o, ",prealloc=on");
	}
	strv_add(v, "-object");
	strv_add_take(v, sbuf_steal(&o));
	strv_add(v, "-numa");
	strv_add(v, "node,memdev=dimm1");
}

static void add_memory(struct strv *v, const struct vm_config *cfg, const struct vm_cmdline_ctx *ctx,
		       struct vm_fdplan *plan)
{
	struct sbuf o = {0};
	sbuf_printf(&o, "%dM", cfg->memory_mib);
	if (cfg->memory_slots)
		sbuf_printf(&o, ",slots=%d", cfg->memory_slots);
	if (cfg->maxmem_mib)
		sbuf_printf(&o, ",maxmem=%dM", cfg->maxmem_mib);
	strv_add(v, "-m");
	strv_add_take(v, sbuf_steal(&o));
	if (cfg->hugepages || cfg->mem_shared || cfg->mem_prealloc || cfg->memory_file ||
	    ctx->ram_template)
		add_memory_backend(v, cfg, ctx, plan);
	if (cfg->mlock || cfg->realtime) {
		strv_add(v, "-overcommit");
		strv_addf(v, "mem-lock=%s", cfg->mlock ? "on" : "off");
	}
}

static void add_knobs(struct strv *v, const struct vm_config *cfg, const struct vm_cmdline_ctx *ctx,
		      struct vm_fdplan *plan)
{
	struct sbuf o = {0};
	if (cfg->nodefaults)
		strv_add(v, "-nodefaults");
	else { /* QEMU's default NIC would take the first bridge's device number */
		strv_add(v, "-nic");
		strv_add(v, "none");
	}
	if (cfg->no_user_config)
		strv_add(v, "-no-user-config");
	if (cfg->nographic) {
		strv_add(v, "-nographic");
	} else {
		strv_add(v, "-display");
		strv_add(v, "none");
	}
	strv_add(v, "-vga");
	strv_add(v, cfg->vga);
	sbuf_printf(&o, "base=%s,clock=%s", cfg->rtc_base, cfg->rtc_clock);
	if (!strcmp(cfg->rtc_driftfix, "slew"))
		sbuf_add(&o, ",driftfix=slew");
	strv_add(v, "-rtc");
	strv_add_take(v, sbuf_steal(&o));
	for (size_t i = 0; cfg->globals[i]; i++) {
		strv_add(v, "-global");
		strv_add(v, cfg->globals[i]);
	}
	if (*cfg->bios) {
		strv_add(v, "-bios");
		strv_add_take(v, cmdline_ref(ctx, plan, cfg->bios, O_RDONLY, VM_FD_REF_PROC,
					     ctx->cfg_owner));
	}
	for (size_t i = 0; cfg->pflash[i]; i++) {
		/* unit 0 is the code (read-only when passed), unit 1 the vars */
		sbuf_printf(&o, "if=pflash,format=raw,unit=%zu", i);
		cleanup_free char *f = cmdline_ref(ctx, plan, cfg->pflash[i], i ? O_RDWR : O_RDONLY,
						   VM_FD_REF_FDSET, ctx->cfg_owner);
		qmp_keyval_add(&o, "file", f);
		if (ctx->pass_files && i == 0)
			qmp_keyval_add(&o, "readonly", "on");
		strv_add(v, "-drive");
		strv_add_take(v, sbuf_steal(&o));
	}
}

/* Every device's parts, checked together: one root image, unique QEMU ids
 * (beside the daemon's own and the bridges), the nvdimm image's memory. */
struct cmdline_devs {
	struct vm_dev_parts *parts; /* one per device */
	size_t n;
	struct vm_fdplan fds;
	long long nvdimm_size;
};

static void cmdline_devs_release(struct cmdline_devs *d)
{
	for (size_t i = 0; i < d->n; i++)
		vm_dev_parts_release(&d->parts[i]);
	free(d->parts);
	vm_fdplan_release(&d->fds);
}

static void cmdline_own_ids(struct idset *ids, const struct vm_config *cfg,
			    const struct vm_topology *t)
{
	static const char *const own_ids[][2] = {
		{ "chardev", "qmp" }, { "chardev", "console" }, { "object", "dimm1" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(own_ids); i++)
		idset_add(ids, own_ids[i][0], own_ids[i][1], "-", NULL);
	for (int i = 0; i < cfg->iothreads; i++) {
		cleanup_free char *io = xasprintf("iothread%d", i);
		idset_add(ids, "object", io, "-", NULL);
	}
	for (int i = 0; i < t->n; i++)
		idset_add(ids, "device", t->bridges[i].id, "-", NULL);
}

static int cmdline_expand(const struct vm_config *cfg, const struct vm_topology *t,
			  struct vm_device *const *devs, size_t ndevs,
			  const struct vm_cmdline_ctx *ctx, struct cmdline_devs *out, struct err **e)
{
	struct idset ids = {0};
	const struct vm_device *image = NULL;
	int r = 0;
	out->parts = xcalloc(ndevs + 1, sizeof(*out->parts));
	out->n = ndevs;
	cmdline_own_ids(&ids, cfg, t);
	for (size_t i = 0; i < ndevs && r == 0; i++) {
		const struct vm_device *d = devs[i];
		if (d->kind == VM_DEVK_IMAGE && image) {
			r = err_set(e, EINVAL, "device %s: type: only one root image (%s is one already)",
				    d->id, image->id);
			break;
		}
		if (d->kind == VM_DEVK_IMAGE)
			image = d;
		r = vm_device_check_single(d, devs, i, e);
		if (r < 0)
			break;
		r = cmdline_device_parts(cfg, t, d, ctx, &out->fds, &out->parts[i], e);
		if (r == 0)
			r = idset_parts(&ids, &out->parts[i], d->id, e);
		if (r == 0 && d->kind == VM_DEVK_IMAGE)
			out->nvdimm_size = cmdline_nvdimm_size(&out->parts[i]);
	}
	strv_release(&ids.v);
	if (r == 0 && out->nvdimm_size) {
		long long need = (long long)cfg->memory_mib * MIB + out->nvdimm_size;
		if (cfg->memory_slots < 1 || (long long)cfg->maxmem_mib * MIB < need)
			r = err_set(e, EINVAL,
				    "maxmem_mib: the nvdimm image %s (%lld bytes) needs memory_slots >= 1 "
				    "and maxmem_mib >= %lld (memory_mib + the image, rounded up)",
				    image->id, out->nvdimm_size, (need + MIB - 1) / MIB);
	}
	return r;
}

/* QEMU, -name, -uuid, -machine, -accel, -cpu, -smp. */
static void add_head(struct strv *v, const struct vm_config *cfg, const struct vm_cmdline_ctx *ctx,
		     bool nvdimm)
{
	struct sbuf o = {0};
	strv_add(v, vm_config_qemu_binary(cfg));
	strv_add(v, "-name");
	qmp_keyval_add(&o, "guest", *cfg->name ? cfg->name : ctx->name);
	strv_add_take(v, sbuf_steal(&o));
	strv_add(v, "-uuid");
	strv_add(v, cfg->uuid);
	add_machine(v, cfg, vm_config_arch(cfg), nvdimm);
	strv_add(v, "-accel");
	strv_add(v, cfg->accel);
	const char *cpu = vm_config_cpu_model(cfg);
	if (*cpu) {
		strv_add(v, "-cpu");
		strv_add(v, cpu);
	}
	strv_add(v, "-smp");
	strv_addf(v, "%d,sockets=%d,cores=%d,threads=%d,maxcpus=%d", cfg->vcpus,
		  vm_config_sockets(cfg), cfg->cores, cfg->threads, cfg->maxvcpus);
}

/* The QMP monitor on the inherited socket, the serial console's log, and
 * the guest kernel. */
static void add_monitor_boot(struct strv *v, const struct vm_config *cfg,
			     const struct vm_cmdline_ctx *ctx, struct vm_device *const *devs,
			     size_t ndevs, struct vm_fdplan *plan)
{
	struct sbuf o = {0};
	strv_add(v, "-chardev");
	strv_addf(v, "socket,id=qmp,fd=%d,server=on,wait=off", VM_QMP_FD);
	strv_add(v, "-mon");
	strv_add(v, "chardev=qmp,mode=control");
	strv_add(v, "-chardev");
	sbuf_add(&o, "file,id=console");
	cleanup_free char *con = cmdline_ref(ctx, plan, ctx->console_log, O_WRONLY | O_APPEND | O_CREAT,
					     VM_FD_REF_FDSET, &cred_root);
	qmp_keyval_add(&o, "path", con);
	qmp_keyval_add(&o, "append", "on");
	strv_add_take(v, sbuf_steal(&o));
	strv_add(v, "-serial");
	strv_add(v, "chardev:console");
	strv_add(v, "-kernel");
	strv_add_take(v, cmdline_ref(ctx, plan, cfg->kernel, O_RDONLY, VM_FD_REF_PROC, ctx->cfg_owner));
	if (*cfg->initrd) {
		strv_add(v, "-initrd");
		strv_add_take(v, cmdline_ref(ctx, plan, cfg->initrd, O_RDONLY, VM_FD_REF_PROC,
					     ctx->cfg_owner));
	}
	strv_add(v, "-append");
	strv_add_take(v, vm_cmdline_kernel_params(cfg, devs, ndevs));
}

/* -add-fd for every fdset of the plan, and the parts' markers bound to
 * what QEMU inherits. */
static void add_fds(struct strv *v, struct cmdline_devs *dp)
{
	for (size_t i = 0; i < dp->fds.n; i++)
		if (dp->fds.v[i].ref == VM_FD_REF_FDSET) {
			strv_add(v, "-add-fd");
			strv_addf(v, "fd=%d,set=%d", dp->fds.v[i].num, dp->fds.v[i].set);
		}
	for (size_t i = 0; i < dp->n; i++)
		for (size_t j = 0; j < dp->parts[i].n; j++)
			vm_fdplan_bind(dp->parts[i].v[j].args, &dp->fds, vm_fdplan_exec_ref, NULL);
}

/* iothreads, the vIOMMU (before every PCI device), bridges, devices. */
static void add_devices(struct strv *v, const struct vm_config *cfg, const struct vm_topology *t,
			struct vm_device *const *devs, const struct cmdline_devs *dp)
{
	for (int i = 0; i < cfg->iothreads; i++) {
		strv_add(v, "-object");
		strv_addf(v, "iothread,id=iothread%d", i);
	}
	for (size_t i = 0; i < dp->n; i++)
		if (devs[i]->kind == VM_DEVK_IOMMU)
			vm_dev_parts_argv(&dp->parts[i], v);
	vm_topology_argv(t, v);
	for (size_t i = 0; i < dp->n; i++)
		if (devs[i]->kind != VM_DEVK_IOMMU)
			vm_dev_parts_argv(&dp->parts[i], v);
}

/* What the binary is, against the config: the target the config's arch
 * names its binary for, the machine type. */
static int cmdline_check_qemu(const struct vm_config *cfg, const struct vm_qemu_caps *q,
			      struct err **e)
{
	if (!q || strcmp(q->binary, vm_config_qemu_binary(cfg)))
		return 0;
	const struct arch_ops *a = vm_config_arch(cfg);
	const char *arch_bin = a ? a->qemu_binary(cfg->machine) : NULL;
	return vm_qemu_caps_check(q, vm_qemu_target_of(arch_bin), cfg->machine, e);
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
	if ((r = qmp_keyval_check_value("name", ctx->name, e)) < 0 ||
	    (r = qmp_keyval_check_value("console log", ctx->console_log, e)) < 0)
		return r;
	if ((r = cmdline_check_qemu(cfg, ctx->qemu, e)) < 0)
		return r;
	/* Every device's parts first: they decide machine options and memory. */
	struct cmdline_devs dp = {0};
	r = cmdline_expand(cfg, t, devs, ndevs, ctx, &dp, e);
	if (r == 0) {
		cleanup_strv struct strv v = {0};
		add_head(&v, cfg, ctx, dp.nvdimm_size > 0);
		if (ctx->confine) {
			strv_add(&v, "-sandbox");
			strv_add(&v, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
		}
		add_memory(&v, cfg, ctx, &dp.fds);
		add_knobs(&v, cfg, ctx, &dp.fds);
		add_monitor_boot(&v, cfg, ctx, devs, ndevs, &dp.fds);
		add_fds(&v, &dp);
		add_devices(&v, cfg, t, devs, &dp);
		if (ctx->incoming) {
			strv_add(&v, "-incoming");
			strv_add(&v, "defer");
		}
		/* Only a complete argv reaches the caller's vector (appended). */
		for (size_t i = 0; i < v.n; i++)
			strv_add_take(argv, move_ptr(v.v[i]));
		v.n = 0;
		if (ctx->fds) {
			vm_fdplan_release(ctx->fds);
			*ctx->fds = dp.fds;
			dp.fds = (struct vm_fdplan){0};
		}
	}
	cmdline_devs_release(&dp);
	return r;
}
