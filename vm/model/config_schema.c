/*
 * config_schema — the config keys: the table, defaults and rules; the
 * merge, validation and JSON are in config.c, the struct in config.h.
 *
 * Grammar of a config write (one JSON object, merged into the current
 * config; keys replace, absent keys keep their value):
 *
 *   config  := "{" [ member ("," member)* ] "}"     trailing whitespace only
 *   member  := KEY ":" value                        KEY from the table below
 *
 *   key                type    default                       limits / rule    live
 *   arch               string  host arch                     x86_64 | aarch64 |
 *                                                            ppc64le | s390x   no
 *   qemu               string  "" = arch binary for machine  "" or abs path    no
 *   machine            string  arch default machine          known to arch     no
 *   accel              string  defaults.accel|tcg,thread=multi  enum; kvm only
 *                                                   for the host's arch    no
 *   cpu_model          string  "" = arch default (per accel) [A-Za-z0-9._-]*   no
 *   vcpus              int     1                             1..maxvcpus       no
 *   maxvcpus           int     4                             1..arch max (the
 *                                        message names the arch's rule)   no
 *   memory_mib         int     256                           64..1048576       no
 *   kernel             string  the arch's built-in guest     abs path          no
 *   initrd             string  the arch's built-in guest     "" or abs path    no
 *                      (the host arch's: defaults.guest_kernel/initrd; another
 *                      arch's: the same file in DIR-ARCH beside it)
 *   kernel_params      string  ""                            -                 no
 *   debug              bool    false                         -                 no
 *   root_ports         int     arch: 4 (s390x: 0)            0..256 (+arch)    no
 *   uuid               string  random v4 at creation         canonical, lower  no
 *   remove_timeout_ms  int     arch: 5000 (aarch64: 15000,   100..600000       yes
 *                              ppc64le: 30000)
 *   -- machine (Kata qemuArchBase / govmm qemu.Config) --
 *   machine_options    string  arch default for machine+accel k=v(,k=v)*     no
 *   machine_accelerators string ""  appended to -machine after the options,
 *                                   Kata MachineAccelerators: "," added     no
 *   name               string  "" = the sandbox's name       -                 no
 *   sockets            int     0 = maxvcpus/(cores*threads)  0..4096           no
 *   cores              int     1                             1..256            no
 *   threads            int     1                             1..256            no
 *                      sockets*cores*threads must equal maxvcpus
 *   memory_slots       int     0 (no "slots=")               0..256            no
 *   maxmem_mib         int     0 (no "maxmem=")              0 or >= memory_mib;
 *                      slots > 0 needs maxmem_mib > memory_mib; an nvdimm
 *                      image needs memory_mib + its size <= maxmem_mib     no
 *   rtc_base           string  "utc"                 utc|localtime|YYYY-MM-DD[THH:MM:SS]
 *   rtc_clock          string  "host"                host | rt | vm        no
 *   rtc_driftfix       string  "slew" (arch: "none") slew | none           no
 *   globals            [string] arch default         "driver.prop=value"   no
 *   vga                string  "none"                none|std|virtio|cirrus no
 *   bios               string  ""                    "" or abs path        no
 *   pflash             [string] []                   abs paths, <= 2       no
 *   -- knobs --
 *   no_user_config     bool    true                                        no
 *   nodefaults         bool    true                                        no
 *   nographic          bool    false  (-nographic instead of -display none) no
 *   daemonize          bool    false  true is EINVAL: sandboxfs supervises
 *                                     QEMU (pid, QMP fd, exit monitor)     no
 *   hugepages          bool    false  memory-backend-file on /dev/hugepages
 *                                     + -numa node (memory_mib even)       no
 *   mem_prealloc       bool    false  prealloc=on on the memory backend    no
 *   mem_shared         bool    false  share=on (memfd) for vhost-user      no
 *   realtime           bool    false  with mlock: -overcommit mem-lock=    no
 *   mlock              bool    false                                       no
 *   iothreads          int     0      -object iothread,id=iothread<N>  0..64 no
 *   disable_modern     bool    false  Kata nestedRun: virtio devices
 *                                     disable-modern=on,disable-legacy=off no
 *   pci_bridges        int     0      pci-bridge after the root ports 0..30 no
 *   pcie_pci_bridges   int     0      pcie-pci-bridge after those     0..30 no
 *   bridge_shpc        bool    false  shpc= of the pci-bridges             no
 *   -- the sandbox's cgroup (applied while running too) --
 *   cpu_max            string  "max"  "max" | "QUOTA PERIOD" µs: QUOTA >= 1000,
 *                                     PERIOD 1000..1000000 (cgroup cpu.max) yes
 *   memory_max_mib     int     0      0 = no limit; QEMU's whole use   0..4194304 yes
 *   pids_max           int     0      0 = no limit                  0..4194304 yes
 *   netns              string  ""     "" or abs path of a network namespace
 *                                     (/run/netns/NAME, /proc/PID/ns/net): taps
 *                                     and macvtaps are opened in it         no
 *   -- live migration (see vm/sandbox/migrate.c) --
 *   max_bandwidth_mib  int     0      MiB/s, 0 = QEMU's     0..1048576      yes
 *   downtime_limit_ms  int     0      ms, 0 = QEMU's (300)  0..2000000      yes
 *   auto_converge      bool    false  capability auto-converge             yes
 *   multifd_channels   int     0      0 = one stream; else multifd  0..255 yes
 *   memory_file        bool    false  guest RAM a memory-backend-file (share=on)
 *                                     on a memfd the daemon makes: a template's
 *                                     (save DIR template); not with hugepages no
 *
 * A [string] key takes a JSON array of strings (at most 16).
 *
 * Dynamic defaults follow the keys they depend on (cfg_follow_defaults):
 * writing {"arch":"aarch64"} alone re-defaults machine, machine_options,
 * root_ports, rtc_driftfix and globals that still held the old defaults.
 * Per-architecture rules (arch/arch_<name>.c validate) run last.
 *
 * Every string rejects newlines and control characters.  Types are strict:
 * an int key takes a JSON integer only (not true, 2.5 or "2").  While the
 * sandbox runs, a non-live key may only be "changed" to its current
 * (effective) value, so a read-modify-write of the whole object works.
 * Read-back shows effective values: "qemu" is the resolved binary.
 */
#include "vm/model/config_schema.h"

#include <fcntl.h>
#include <stdlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "arch/arch.h"
#include "lib/util.h"

/* Sanity bound on vCPU counts before the arch's own limit applies. */
#define CFG_VCPUS_LIMIT 4096

/* ---- daemon-wide defaults ---- */

static struct {
	char *guest_kernel, *guest_initrd, *accel;
} cfg_defaults;

void vm_config_set_defaults(const struct vm_defaults *d)
{
	free(cfg_defaults.guest_kernel);
	free(cfg_defaults.guest_initrd);
	free(cfg_defaults.accel);
	cfg_defaults.guest_kernel = d && d->guest_kernel ? xstrdup(d->guest_kernel) : NULL;
	cfg_defaults.guest_initrd = d && d->guest_initrd ? xstrdup(d->guest_initrd) : NULL;
	cfg_defaults.accel = d && d->accel ? xstrdup(d->accel) : NULL;
	vm_config_qemu_dirs_set(d ? d->qemu_dirs : NULL);
}

/* ---- dynamic defaults ---- */

static void cfg_random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;
	cleanup_close int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	while (got < n) { /* /dev/urandom unavailable (chroot): the syscall */
		ssize_t r = getrandom(buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			abort(); /* no randomness at all: like OOM, not recoverable */
		got += (size_t)r;
	}
}

static char *cfg_def_uuid(const struct vm_config *cfg)
{
	unsigned char b[16];
	cfg_random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
			 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static char *cfg_def_arch(const struct vm_config *cfg) { return xstrdup(arch_host()); }

static char *cfg_def_machine(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return xstrdup(a ? a->default_machine : "");
}

static char *cfg_def_accel(const struct vm_config *cfg)
{
	return xstrdup(cfg_defaults.accel ? cfg_defaults.accel : "tcg,thread=multi");
}

/* The built-in guest of the config's architecture: the host's is the one
 * the daemon was given; another arch's sits in DIR-ARCH beside it (make
 * guest-ARCH builds build/guest-ARCH beside build/guest). */
static char *cfg_builtin(const struct vm_config *cfg, const char *host_path)
{
	if (!host_path)
		return xstrdup("");
	if (!cfg->arch || !strcmp(cfg->arch, arch_host()))
		return xstrdup(host_path);
	cleanup_free char *dir = xstrdup(host_path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return xstrdup(host_path);
	*slash = '\0';
	return xasprintf("%s-%s/%s", dir, cfg->arch, slash + 1);
}

static char *cfg_def_kernel(const struct vm_config *cfg)
{
	return cfg_builtin(cfg, cfg_defaults.guest_kernel);
}

static char *cfg_def_initrd(const struct vm_config *cfg)
{
	return cfg_builtin(cfg, cfg_defaults.guest_initrd);
}

const char *vm_config_builtin_missing(const struct vm_config *cfg)
{
	cleanup_free char *k = cfg_def_kernel(cfg);
	if (!*k || strcmp(k, cfg->kernel) != 0 || access(k, F_OK) == 0)
		return NULL;
	return cfg->arch;
}

bool vm_config_is_builtin(const struct vm_config *cfg, const char *path, bool initrd)
{
	cleanup_free char *b = initrd ? cfg_def_initrd(cfg) : cfg_def_kernel(cfg);
	return path && *b && !strcmp(b, path);
}

int vm_config_sockets(const struct vm_config *cfg)
{
	if (cfg->sockets > 0)
		return cfg->sockets;
	int per = cfg->cores * cfg->threads;
	return per > 0 ? cfg->maxvcpus / per : cfg->maxvcpus;
}

static char *cfg_def_machine_options(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return xstrdup(a ? arch_machine_options(a, vm_config_machine_family(cfg), cfg->accel) : "");
}

static int cfg_def_root_ports(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return a ? a->default_bridges : 0;
}

static int cfg_def_remove_timeout(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return a && a->remove_timeout_ms ? a->remove_timeout_ms : ARCH_REMOVE_TIMEOUT_MS;
}

static char *cfg_def_driftfix(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return xstrdup(a && a->rtc_driftfix ? "slew" : "none");
}

static char **cfg_def_globals(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return vm_config_strv_dup(a ? (char *const *)a->default_globals : NULL);
}

/* ---- the schema ---- */

#define S(name) CFG_STRING, offsetof(struct vm_config, name), 0, 0
#define I(name, lo, hi) CFG_INT, offsetof(struct vm_config, name), (lo), (hi)
#define B(name) CFG_BOOL, offsetof(struct vm_config, name), 0, 1
#define V(name) CFG_STRV, offsetof(struct vm_config, name), 0, 0

const struct vm_config_key vm_config_schema[] = {
	{ "arch", S(arch), .sdef_fn = cfg_def_arch, .check = vm_config_check_arch },
	{ "qemu", S(qemu), .sdef = "", .check = vm_config_check_opt_path,
	  .effective = vm_config_qemu_binary },
	{ "machine", S(machine), .sdef_fn = cfg_def_machine, .check = vm_config_check_machine },
	{ "accel", S(accel), .sdef_fn = cfg_def_accel, .check = vm_config_check_accel },
	{ "cpu_model", S(cpu_model), .sdef = "", .check = vm_config_check_cpu_model,
	  .effective = vm_config_cpu_model },
	{ "vcpus", I(vcpus, 1, CFG_VCPUS_LIMIT), .idef = 1, .check = vm_config_check_vcpus },
	{ "maxvcpus", I(maxvcpus, 1, CFG_VCPUS_LIMIT), .idef = 4, .check = vm_config_check_maxvcpus },
	{ "memory_mib", I(memory_mib, 64, 1048576), .idef = 256 },
	{ "kernel", S(kernel), .sdef_fn = cfg_def_kernel, .check = vm_config_check_abs_path },
	{ "initrd", S(initrd), .sdef_fn = cfg_def_initrd, .check = vm_config_check_opt_path },
	{ "kernel_params", S(kernel_params), .sdef = "" },
	{ "debug", B(debug), .idef = 0 },
	{ "root_ports", I(root_ports, 0, 256), .idef_fn = cfg_def_root_ports },
	{ "uuid", S(uuid), .sdef_fn = cfg_def_uuid, .check = vm_config_check_uuid, .keep = true },
	{ "remove_timeout_ms", I(remove_timeout_ms, 100, 600000), .live = true,
	  .idef_fn = cfg_def_remove_timeout },
	{ "machine_options", S(machine_options), .sdef_fn = cfg_def_machine_options,
	  .check = vm_config_check_machine_options },
	{ "machine_accelerators", S(machine_accelerators), .sdef = "",
	  .check = vm_config_check_accelerators },
	{ "name", S(name), .sdef = "" },
	{ "sockets", I(sockets, 0, CFG_VCPUS_LIMIT), .idef = 0 },
	{ "cores", I(cores, 1, 256), .idef = 1 },
	{ "threads", I(threads, 1, 256), .idef = 1, .check = vm_config_check_smp },
	{ "memory_slots", I(memory_slots, 0, 256), .idef = 0 },
	{ "maxmem_mib", I(maxmem_mib, 0, 4194304), .idef = 0 },
	{ "rtc_base", S(rtc_base), .sdef = "utc", .check = vm_config_check_rtc_base },
	{ "rtc_clock", S(rtc_clock), .sdef = "host", .check = vm_config_check_rtc_clock },
	{ "rtc_driftfix", S(rtc_driftfix), .sdef_fn = cfg_def_driftfix, .check = vm_config_check_driftfix },
	{ "globals", V(globals), .vdef_fn = cfg_def_globals, .check = vm_config_check_globals },
	{ "vga", S(vga), .sdef = "none", .check = vm_config_check_vga },
	{ "bios", S(bios), .sdef = "", .check = vm_config_check_opt_path },
	{ "pflash", V(pflash), .check = vm_config_check_pflash },
	{ "no_user_config", B(no_user_config), .idef = 1 },
	{ "nodefaults", B(nodefaults), .idef = 1 },
	{ "nographic", B(nographic), .idef = 0 },
	{ "daemonize", B(daemonize), .idef = 0, .check = vm_config_check_daemonize },
	{ "hugepages", B(hugepages), .idef = 0 },
	{ "mem_prealloc", B(mem_prealloc), .idef = 0 },
	{ "mem_shared", B(mem_shared), .idef = 0, .check = vm_config_check_maxmem },
	{ "realtime", B(realtime), .idef = 0 },
	{ "mlock", B(mlock), .idef = 0 },
	{ "iothreads", I(iothreads, 0, 64), .idef = 0 },
	{ "disable_modern", B(disable_modern), .idef = 0 },
	{ "pci_bridges", I(pci_bridges, 0, 30), .idef = 0 },
	{ "pcie_pci_bridges", I(pcie_pci_bridges, 0, 30), .idef = 0 },
	{ "bridge_shpc", B(bridge_shpc), .idef = 0 },
	{ "cpu_max", S(cpu_max), .sdef = "max", .live = true, .check = vm_config_check_cpu_max },
	{ "memory_max_mib", I(memory_max_mib, 0, 4194304), .idef = 0, .live = true },
	{ "pids_max", I(pids_max, 0, 4194304), .idef = 0, .live = true },
	{ "netns", S(netns), .sdef = "", .check = vm_config_check_opt_path },
	{ "max_bandwidth_mib", I(max_bandwidth_mib, 0, 1048576), .idef = 0, .live = true },
	{ "downtime_limit_ms", I(downtime_limit_ms, 0, 2000000), .idef = 0, .live = true },
	{ "auto_converge", B(auto_converge), .idef = 0, .live = true },
	{ "multifd_channels", I(multifd_channels, 0, 255), .idef = 0, .live = true },
	{ "memory_file", B(memory_file), .idef = 0, .check = vm_config_check_maxmem },
};

const size_t vm_config_schema_len = ARRAY_SIZE(vm_config_schema);

#undef S
#undef I
#undef B
#undef V

const struct vm_config_key *vm_config_schema_find(const char *key)
{
	for (size_t i = 0; i < vm_config_schema_len; i++)
		if (strcmp(vm_config_schema[i].key, key) == 0)
			return &vm_config_schema[i];
	return NULL;
}

const char *vm_config_schema_effective(const struct vm_config *cfg, const struct vm_config_key *k)
{
	if (k->effective)
		return k->effective(cfg);
	const char *v = CFG_CFIELD(cfg, k, char *);
	return v ? v : "";
}


