/*
 * vm_config — the sandbox configuration model; see vm_config.h.
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
 *   kernel             string  defaults.guest_kernel         abs path          no
 *   initrd             string  defaults.guest_initrd         "" or abs path    no
 *   kernel_params      string  ""                            -                 no
 *   debug              bool    false                         -                 no
 *   root_ports         int     arch: 4 (s390x: 0)            0..256 (+arch)    no
 *   uuid               string  random v4 at creation         canonical, lower  no
 *   remove_timeout_ms  int     arch: 5000 (aarch64: 15000)   100..600000       yes
 *   -- machine (Kata qemuArchBase / govmm qemu.Config) --
 *   machine_options    string  arch default for machine+accel k[=v](,k[=v])* no
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
#include "vm/vm_config.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "arch/arch.h"
#include "lib/util.h"
#include "vm/vm_qopts.h"

/* Sanity bound on vCPU counts before the arch's own limit applies. */
#define CFG_VCPUS_LIMIT 4096

enum cfg_type { CFG_STRING, CFG_INT, CFG_BOOL, CFG_STRV };

#define CFG_STRV_MAX 16

struct cfg_key {
	const char *key;
	enum cfg_type type;
	size_t off;
	long long min, max;     /* CFG_INT static range */
	bool live;              /* may change while running */
	long long idef;         /* CFG_INT / CFG_BOOL default */
	const char *sdef;       /* CFG_STRING static default */
	/* CFG_STRING dynamic default (heap string); sees the keys above it. */
	char *(*sdef_fn)(const struct vm_config *cfg);
	/* CFG_STRV dynamic default (heap vector); NULL: empty. */
	char **(*vdef_fn)(const struct vm_config *cfg);
	/* CFG_INT dynamic default; sees the keys above it. */
	int (*idef_fn)(const struct vm_config *cfg);
	/* Extra rule on the complete config; sees every key. */
	int (*check)(const struct vm_config *cfg, const struct cfg_key *k, struct err **e);
	/* Effective value of a string key ("" resolved); NULL: stored value. */
	const char *(*effective)(const struct vm_config *cfg);
};

#define CFG_FIELD(cfg, k, T) (*(T *)((char *)(cfg) + (k)->off))
#define CFG_CFIELD(cfg, k, T) (*(const T *)((const char *)(cfg) + (k)->off))
#define CFG_CVFIELD(cfg, k) (*(char **const *)((const char *)(cfg) + (k)->off))

/* ---- string lists ---- */

size_t vm_config_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static char **cfg_strv_dup(char *const *v)
{
	size_t n = vm_config_strv_len(v);
	char **out = xcalloc(n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void cfg_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static bool cfg_strv_eq(char *const *a, char *const *b)
{
	size_t n = vm_config_strv_len(a);
	if (n != vm_config_strv_len(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

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
}

/* ---- effective values ---- */

const struct arch_ops *vm_config_arch(const struct vm_config *cfg)
{
	return arch_lookup(cfg->arch);
}

const char *vm_config_qemu_binary(const struct vm_config *cfg)
{
	if (cfg->qemu && *cfg->qemu)
		return cfg->qemu;
	const struct arch_ops *a = vm_config_arch(cfg);
	const char *bin = a ? a->qemu_binary(cfg->machine) : NULL;
	return bin ? bin : "";
}

const char *vm_config_cpu_model(const struct vm_config *cfg)
{
	if (cfg->cpu_model && *cfg->cpu_model)
		return cfg->cpu_model;
	const struct arch_ops *a = vm_config_arch(cfg);
	const char *m = !a ? NULL : a->cpu_model ? a->cpu_model(cfg) : a->default_cpu;
	return m ? m : "";
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

static char *cfg_def_kernel(const struct vm_config *cfg)
{
	return xstrdup(cfg_defaults.guest_kernel ? cfg_defaults.guest_kernel : "");
}

static char *cfg_def_initrd(const struct vm_config *cfg)
{
	return xstrdup(cfg_defaults.guest_initrd ? cfg_defaults.guest_initrd : "");
}

/* ---- rules ---- */

static int cfg_check_path(const char *key, const char *v, bool may_be_empty, struct err **e)
{
	if (!*v && may_be_empty)
		return 0;
	if (v[0] != '/')
		return err_set(e, EINVAL, "%s: must be an absolute path", key);
	if (strlen(v) >= PATH_MAX)
		return err_set(e, EINVAL, "%s: path too long", key);
	return 0;
}

static int cfg_check_abs_path(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	return cfg_check_path(k->key, CFG_CFIELD(cfg, k, char *), false, e);
}

static int cfg_check_opt_path(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	return cfg_check_path(k->key, CFG_CFIELD(cfg, k, char *), true, e);
}

static int cfg_check_arch(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	if (!arch_lookup(cfg->arch))
		return err_set(e, EINVAL, "arch: unknown architecture: %s", cfg->arch);
	return 0;
}

static int cfg_check_machine(const struct vm_config *cfg, const struct cfg_key *k,
			     struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	if (!a || !a->qemu_binary(cfg->machine))
		return err_set(e, EINVAL, "unknown machine type: %s", cfg->machine);
	return 0;
}

static const char *const cfg_accels[] = { "tcg,thread=multi", "tcg,thread=single", "tcg", "kvm" };

static int cfg_check_accel(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_accels); i++) {
		if (strcmp(cfg->accel, cfg_accels[i]) != 0)
			continue;
		if (!strcmp(cfg->accel, "kvm") && strcmp(cfg->arch, arch_host()) != 0)
			return err_set(e, EINVAL,
				       "accel: kvm runs guests of the host's architecture (%s) only; "
				       "an %s guest needs tcg", arch_host(), cfg->arch);
		return 0;
	}
	return err_set(e, EINVAL,
		       "accel: unsupported accelerator: %s (one of: tcg,thread=multi | "
		       "tcg,thread=single | tcg | kvm)", cfg->accel);
}

static int cfg_check_cpu_model(const struct vm_config *cfg, const struct cfg_key *k,
			       struct err **e)
{
	for (const char *p = cfg->cpu_model; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return err_set(e, EINVAL,
				       "cpu_model: invalid character (allowed: letters, digits, '.', '_', '-')");
	}
	return 0;
}

static int cfg_check_vcpus(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	if (cfg->vcpus > cfg->maxvcpus)
		return err_set(e, EINVAL, "vcpus: %d exceeds maxvcpus (%d)", cfg->vcpus,
			       cfg->maxvcpus);
	return 0;
}

static int cfg_check_maxvcpus(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	int max = a ? a->max_vcpus(cfg) : 1;
	const char *why = a && a->max_vcpus_rule ? a->max_vcpus_rule(cfg) : NULL;
	if (cfg->maxvcpus > max)
		return err_set(e, EINVAL, "maxvcpus: out of range (%lld..%d)%s%s", k->min, max,
			       why ? ": " : "", why ? why : "");
	return 0;
}

static int cfg_check_uuid(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	const char *u = cfg->uuid;
	bool ok = strlen(u) == 36;
	for (size_t i = 0; ok && i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ok = u[i] == '-';
		else
			ok = (u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f');
	}
	if (!ok)
		return err_set(e, EINVAL,
			       "uuid: must be a lowercase UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	return 0;
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
	const char *o = a && a->machine_options ? a->machine_options(cfg->machine, cfg->accel) : "";
	return xstrdup(o ? o : "");
}

static int cfg_def_root_ports(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return a ? a->default_bridges : 0;
}

static int cfg_def_remove_timeout(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return a && a->remove_timeout_ms ? a->remove_timeout_ms : 5000;
}

static char *cfg_def_driftfix(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return xstrdup(a && a->rtc_driftfix ? "slew" : "none");
}

static char **cfg_def_globals(const struct vm_config *cfg)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	return cfg_strv_dup(a ? (char *const *)a->default_globals : NULL);
}

static bool cfg_is_keych(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* "k[=v](,k[=v])*": keys [A-Za-z0-9_.-]+, values [A-Za-z0-9_.:/+-]*; with
 * `lead_comma` one leading ',' is allowed (Kata accelerators). */
static int cfg_check_optlist(const char *key, const char *v, bool lead_comma, struct err **e)
{
	const char *p = v;
	if (!*p)
		return 0;
	if (lead_comma && *p == ',')
		p++;
	for (;;) {
		const char *k = p;
		while (cfg_is_keych(*p))
			p++;
		if (p == k)
			return err_set(e, EINVAL, "%s: empty or malformed option at offset %zu "
				       "(expected key[=value] items separated by ',')",
				       key, (size_t)(k - v));
		if (*p == '=') {
			p++;
			while (cfg_is_keych(*p) || *p == ':' || *p == '/' || *p == '+')
				p++;
		}
		if (!*p)
			return 0;
		if (*p != ',')
			return err_set(e, EINVAL, "%s: invalid character '%c' at offset %zu", key, *p,
				       (size_t)(p - v));
		p++;
	}
}

static int cfg_check_machine_options(const struct vm_config *cfg, const struct cfg_key *k,
				     struct err **e)
{
	return cfg_check_optlist(k->key, cfg->machine_options, false, e);
}

static int cfg_check_accelerators(const struct vm_config *cfg, const struct cfg_key *k,
				  struct err **e)
{
	return cfg_check_optlist(k->key, cfg->machine_accelerators, true, e);
}

static int cfg_check_smp(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	int per = cfg->cores * cfg->threads;
	if (cfg->sockets > 0 && cfg->sockets * per != cfg->maxvcpus)
		return err_set(e, EINVAL,
			       "sockets: sockets * cores * threads (%d * %d * %d) must equal maxvcpus (%d)",
			       cfg->sockets, cfg->cores, cfg->threads, cfg->maxvcpus);
	if (cfg->sockets == 0 && cfg->maxvcpus % per != 0)
		return err_set(e, EINVAL,
			       "cores: maxvcpus (%d) is not a multiple of cores * threads (%d)",
			       cfg->maxvcpus, per);
	return 0;
}

static int cfg_check_maxmem(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	if (cfg->maxmem_mib && cfg->maxmem_mib < cfg->memory_mib)
		return err_set(e, EINVAL, "maxmem_mib: %d is below memory_mib (%d)", cfg->maxmem_mib,
			       cfg->memory_mib);
	if (cfg->memory_slots > 0 && cfg->maxmem_mib <= cfg->memory_mib)
		return err_set(e, EINVAL,
			       "maxmem_mib: memory_slots needs maxmem_mib above memory_mib (%d)",
			       cfg->memory_mib);
	if (cfg->hugepages && cfg->memory_mib % 2)
		return err_set(e, EINVAL, "hugepages: memory_mib must be a multiple of 2 (2 MiB pages)");
	return 0;
}

static int cfg_check_enum(const char *key, const char *v, const char *const *choices,
			  struct err **e)
{
	struct sbuf b = {0};
	for (const char *const *c = choices; *c; c++) {
		if (strcmp(v, *c) == 0) {
			sbuf_release(&b);
			return 0;
		}
		sbuf_printf(&b, "%s%s", b.len ? " | " : "", *c);
	}
	int r = err_set(e, EINVAL, "%s: unsupported value %s (one of: %s)", key, v, b.s);
	sbuf_release(&b);
	return r;
}

static bool cfg_digits(const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static int cfg_check_rtc_base(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	const char *v = cfg->rtc_base;
	if (!strcmp(v, "utc") || !strcmp(v, "localtime"))
		return 0;
	size_t n = strlen(v);
	bool ok = (n == 10 || n == 19) && cfg_digits(v, 4) && v[4] == '-' &&
		  cfg_digits(v + 5, 2) && v[7] == '-' && cfg_digits(v + 8, 2);
	if (ok && n == 19)
		ok = v[10] == 'T' && cfg_digits(v + 11, 2) && v[13] == ':' &&
		     cfg_digits(v + 14, 2) && v[16] == ':' && cfg_digits(v + 17, 2);
	if (!ok)
		return err_set(e, EINVAL,
			       "rtc_base: must be utc, localtime or a date YYYY-MM-DD[THH:MM:SS]");
	return 0;
}

static int cfg_check_rtc_clock(const struct vm_config *cfg, const struct cfg_key *k,
			       struct err **e)
{
	static const char *const c[] = { "host", "rt", "vm", NULL };
	return cfg_check_enum(k->key, cfg->rtc_clock, c, e);
}

static int cfg_check_driftfix(const struct vm_config *cfg, const struct cfg_key *k,
			      struct err **e)
{
	static const char *const c[] = { "slew", "none", NULL };
	int r = cfg_check_enum(k->key, cfg->rtc_driftfix, c, e);
	if (r < 0)
		return r;
	const struct arch_ops *a = vm_config_arch(cfg);
	if (!strcmp(cfg->rtc_driftfix, "slew") && a && !a->rtc_driftfix)
		return err_set(e, EINVAL, "rtc_driftfix: slew is not available on %s", a->name);
	return 0;
}

static int cfg_check_globals(const struct vm_config *cfg, const struct cfg_key *k,
			     struct err **e)
{
	for (size_t i = 0; cfg->globals[i]; i++) {
		const char *g = cfg->globals[i], *p = g;
		while (cfg_is_keych(*p) && *p != '.')
			p++;
		bool ok = p > g && *p == '.';
		const char *q = ok ? ++p : p;
		while (ok && cfg_is_keych(*p))
			p++;
		ok = ok && p > q && *p == '=' && p[1];
		if (!ok)
			return err_set(e, EINVAL, "globals[%zu]: must be driver.property=value", i);
	}
	return 0;
}

static int cfg_check_vga(const struct vm_config *cfg, const struct cfg_key *k, struct err **e)
{
	static const char *const c[] = { "none", "std", "virtio", "cirrus", NULL };
	return cfg_check_enum(k->key, cfg->vga, c, e);
}

static int cfg_check_pflash(const struct vm_config *cfg, const struct cfg_key *k,
			    struct err **e)
{
	if (vm_config_strv_len(cfg->pflash) > 2)
		return err_set(e, EINVAL, "pflash: at most 2 flash images (code, vars)");
	for (size_t i = 0; cfg->pflash[i]; i++) {
		char what[32];
		snprintf(what, sizeof(what), "pflash[%zu]", i);
		int r = cfg_check_path(what, cfg->pflash[i], false, e);
		if (r < 0)
			return r;
	}
	if (*cfg->bios && cfg->pflash[0])
		return err_set(e, EINVAL, "pflash: bios and pflash exclude each other");
	return 0;
}

static int cfg_check_daemonize(const struct vm_config *cfg, const struct cfg_key *k,
			       struct err **e)
{
	if (cfg->daemonize)
		return err_set(e, EINVAL,
			       "daemonize: must be false: sandboxfs supervises QEMU itself (it keeps "
			       "its pid, hands it the QMP socket and notices it exit); a daemonized "
			       "QEMU would escape that");
	return 0;
}

/* ---- the schema ---- */

#define S(name) CFG_STRING, offsetof(struct vm_config, name), 0, 0
#define I(name, lo, hi) CFG_INT, offsetof(struct vm_config, name), (lo), (hi)
#define B(name) CFG_BOOL, offsetof(struct vm_config, name), 0, 1
#define V(name) CFG_STRV, offsetof(struct vm_config, name), 0, 0

static const struct cfg_key cfg_schema[] = {
	{ "arch", S(arch), .sdef_fn = cfg_def_arch, .check = cfg_check_arch },
	{ "qemu", S(qemu), .sdef = "", .check = cfg_check_opt_path,
	  .effective = vm_config_qemu_binary },
	{ "machine", S(machine), .sdef_fn = cfg_def_machine, .check = cfg_check_machine },
	{ "accel", S(accel), .sdef_fn = cfg_def_accel, .check = cfg_check_accel },
	{ "cpu_model", S(cpu_model), .sdef = "", .check = cfg_check_cpu_model,
	  .effective = vm_config_cpu_model },
	{ "vcpus", I(vcpus, 1, CFG_VCPUS_LIMIT), .idef = 1, .check = cfg_check_vcpus },
	{ "maxvcpus", I(maxvcpus, 1, CFG_VCPUS_LIMIT), .idef = 4, .check = cfg_check_maxvcpus },
	{ "memory_mib", I(memory_mib, 64, 1048576), .idef = 256 },
	{ "kernel", S(kernel), .sdef_fn = cfg_def_kernel, .check = cfg_check_abs_path },
	{ "initrd", S(initrd), .sdef_fn = cfg_def_initrd, .check = cfg_check_opt_path },
	{ "kernel_params", S(kernel_params), .sdef = "" },
	{ "debug", B(debug), .idef = 0 },
	{ "root_ports", I(root_ports, 0, 256), .idef_fn = cfg_def_root_ports },
	{ "uuid", S(uuid), .sdef_fn = cfg_def_uuid, .check = cfg_check_uuid },
	{ "remove_timeout_ms", I(remove_timeout_ms, 100, 600000), .live = true,
	  .idef_fn = cfg_def_remove_timeout },
	{ "machine_options", S(machine_options), .sdef_fn = cfg_def_machine_options,
	  .check = cfg_check_machine_options },
	{ "machine_accelerators", S(machine_accelerators), .sdef = "",
	  .check = cfg_check_accelerators },
	{ "name", S(name), .sdef = "" },
	{ "sockets", I(sockets, 0, CFG_VCPUS_LIMIT), .idef = 0 },
	{ "cores", I(cores, 1, 256), .idef = 1 },
	{ "threads", I(threads, 1, 256), .idef = 1, .check = cfg_check_smp },
	{ "memory_slots", I(memory_slots, 0, 256), .idef = 0 },
	{ "maxmem_mib", I(maxmem_mib, 0, 4194304), .idef = 0 },
	{ "rtc_base", S(rtc_base), .sdef = "utc", .check = cfg_check_rtc_base },
	{ "rtc_clock", S(rtc_clock), .sdef = "host", .check = cfg_check_rtc_clock },
	{ "rtc_driftfix", S(rtc_driftfix), .sdef_fn = cfg_def_driftfix, .check = cfg_check_driftfix },
	{ "globals", V(globals), .vdef_fn = cfg_def_globals, .check = cfg_check_globals },
	{ "vga", S(vga), .sdef = "none", .check = cfg_check_vga },
	{ "bios", S(bios), .sdef = "", .check = cfg_check_opt_path },
	{ "pflash", V(pflash), .check = cfg_check_pflash },
	{ "no_user_config", B(no_user_config), .idef = 1 },
	{ "nodefaults", B(nodefaults), .idef = 1 },
	{ "nographic", B(nographic), .idef = 0 },
	{ "daemonize", B(daemonize), .idef = 0, .check = cfg_check_daemonize },
	{ "hugepages", B(hugepages), .idef = 0 },
	{ "mem_prealloc", B(mem_prealloc), .idef = 0 },
	{ "mem_shared", B(mem_shared), .idef = 0, .check = cfg_check_maxmem },
	{ "realtime", B(realtime), .idef = 0 },
	{ "mlock", B(mlock), .idef = 0 },
	{ "iothreads", I(iothreads, 0, 64), .idef = 0 },
	{ "disable_modern", B(disable_modern), .idef = 0 },
	{ "pci_bridges", I(pci_bridges, 0, 30), .idef = 0 },
	{ "pcie_pci_bridges", I(pcie_pci_bridges, 0, 30), .idef = 0 },
	{ "bridge_shpc", B(bridge_shpc), .idef = 0 },
};

#undef S
#undef I
#undef B
#undef V

static const struct cfg_key *cfg_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++)
		if (strcmp(cfg_schema[i].key, key) == 0)
			return &cfg_schema[i];
	return NULL;
}

static const char *cfg_effective(const struct vm_config *cfg, const struct cfg_key *k)
{
	if (k->effective)
		return k->effective(cfg);
	const char *v = CFG_CFIELD(cfg, k, char *);
	return v ? v : "";
}

/* ---- lifecycle ---- */

void vm_config_init(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		switch (k->type) {
		case CFG_STRING:
			CFG_FIELD(cfg, k, char *) = k->sdef_fn ? k->sdef_fn(cfg) : xstrdup(k->sdef);
			break;
		case CFG_INT:
			CFG_FIELD(cfg, k, int) = k->idef_fn ? k->idef_fn(cfg) : (int)k->idef;
			break;
		case CFG_BOOL:
			CFG_FIELD(cfg, k, bool) = k->idef != 0;
			break;
		case CFG_STRV:
			CFG_FIELD(cfg, k, char **) = k->vdef_fn ? k->vdef_fn(cfg) : xcalloc(1, sizeof(char *));
			break;
		}
	}
}

/*
 * Defaults follow what they depend on: a key with a dynamic default that
 * the write did not name, and whose value in `old` was old's default, takes
 * new's default — so {"arch":"aarch64"} alone brings machine "virt", its
 * machine options, no -global, no driftfix; {"accel":"kvm"} brings
 * aarch64's gic-version=host.  Schema order: a key's default sees the keys
 * above it already followed.  The uuid is never re-drawn.
 */
static void cfg_follow_defaults(const struct vm_config *old, struct vm_config *cfg,
				struct json_object *given)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		struct json_object *v;
		if (json_object_object_get_ex(given, k->key, &v) || k->sdef_fn == cfg_def_uuid)
			continue;
		if (k->type == CFG_STRING && k->sdef_fn) {
			cleanup_free char *was = k->sdef_fn(old);
			if (strcmp(was, CFG_CFIELD(cfg, k, char *)) != 0)
				continue;
			free(CFG_FIELD(cfg, k, char *));
			CFG_FIELD(cfg, k, char *) = k->sdef_fn(cfg);
		} else if (k->type == CFG_INT && k->idef_fn) {
			if (CFG_CFIELD(cfg, k, int) == k->idef_fn(old))
				CFG_FIELD(cfg, k, int) = k->idef_fn(cfg);
		} else if (k->type == CFG_STRV && k->vdef_fn) {
			char **was = k->vdef_fn(old);
			bool same = cfg_strv_eq(was, CFG_CVFIELD(cfg, k));
			cfg_strv_free(was);
			if (!same)
				continue;
			cfg_strv_free(CFG_FIELD(cfg, k, char **));
			CFG_FIELD(cfg, k, char **) = k->vdef_fn(cfg);
		}
	}
}

void vm_config_release(struct vm_config *cfg)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		if (cfg_schema[i].type == CFG_STRING)
			free(CFG_FIELD(cfg, &cfg_schema[i], char *));
		else if (cfg_schema[i].type == CFG_STRV)
			cfg_strv_free(CFG_FIELD(cfg, &cfg_schema[i], char **));
	}
	memset(cfg, 0, sizeof(*cfg));
}

static void cfg_releasep(struct vm_config *cfg) { vm_config_release(cfg); }
#define cleanup_cfg __attribute__((cleanup(cfg_releasep)))

void vm_config_copy(struct vm_config *dst, const struct vm_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		if (k->type == CFG_STRING)
			CFG_FIELD(dst, k, char *) = xstrdup(CFG_CFIELD(src, k, char *));
		else if (k->type == CFG_STRV)
			CFG_FIELD(dst, k, char **) = cfg_strv_dup(CFG_CVFIELD(src, k));
	}
}

/* ---- validation ---- */

int vm_config_validate(const struct vm_config *cfg, struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		int r;
		switch (k->type) {
		case CFG_STRING: {
			const char *v = CFG_CFIELD(cfg, k, char *);
			if (!v)
				return err_set(e, EINVAL, "%s: missing", k->key);
			if ((r = vm_qopts_check_value(k->key, v, e)) < 0)
				return r;
			break;
		}
		case CFG_INT: {
			int v = CFG_CFIELD(cfg, k, int);
			if (v < k->min || v > k->max)
				return err_set(e, EINVAL, "%s: out of range (%lld..%lld)", k->key,
					       k->min, k->max);
			break;
		}
		case CFG_BOOL:
			break;
		case CFG_STRV: {
			char *const *v = CFG_CVFIELD(cfg, k);
			if (!v)
				return err_set(e, EINVAL, "%s: missing", k->key);
			if (vm_config_strv_len(v) > CFG_STRV_MAX)
				return err_set(e, EINVAL, "%s: at most %d entries", k->key, CFG_STRV_MAX);
			for (size_t j = 0; v[j]; j++)
				if ((r = vm_qopts_check_value(k->key, v[j], e)) < 0)
					return r;
			break;
		}
		}
		if (k->check && (r = k->check(cfg, k, e)) < 0)
			return r;
	}
	const struct arch_ops *a = vm_config_arch(cfg);
	return a->validate ? a->validate(cfg, e) : 0;
}

/* ---- JSON ---- */

int vm_config_parse_object(const char *what, const char *text, struct json_object **out,
			   struct err **e)
{
	size_t len = text ? strlen(text) : 0;
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		abort();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	cleanup_json struct json_object *o = json_tokener_parse_ex(tok, text ? text : "", (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue)
		return err_set(e, EINVAL, "%s: not a JSON object (incomplete input)", what);
	if (jerr != json_tokener_success || !o)
		return err_set(e, EINVAL, "%s: not a JSON object (%s at offset %zu)", what,
			       json_tokener_error_desc(jerr), end);
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", text[i]))
			return err_set(e, EINVAL, "%s: not a JSON object (trailing garbage at offset %zu)",
				       what, i);
	if (!json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "%s: not a JSON object", what);
	*out = move_ptr(o);
	return 0;
}

/* Apply every member of `o` to cfg: key known, type exact, ints in their
 * static range, strings free of control characters.  Cross-key rules are
 * left to vm_config_validate. */
static int cfg_apply(struct vm_config *cfg, struct json_object *o, struct err **e)
{
	json_object_object_foreach(o, key, v) {
		const struct cfg_key *k = cfg_find(key);
		if (!k)
			return err_set(e, EINVAL, "unknown key: %s", key);
		switch (k->type) {
		case CFG_STRING: {
			if (!json_object_is_type(v, json_type_string))
				return err_set(e, EINVAL, "%s: expected string", k->key);
			const char *s = json_object_get_string(v);
			if ((size_t)json_object_get_string_len(v) != strlen(s))
				return err_set(e, EINVAL,
					       "%s: must not contain newlines or control characters",
					       k->key);
			int r = vm_qopts_check_value(k->key, s, e);
			if (r < 0)
				return r;
			free(CFG_FIELD(cfg, k, char *));
			CFG_FIELD(cfg, k, char *) = xstrdup(s);
			break;
		}
		case CFG_INT: {
			if (!json_object_is_type(v, json_type_int))
				return err_set(e, EINVAL, "%s: expected integer", k->key);
			int64_t n = json_object_get_int64(v);
			if (n < k->min || n > k->max)
				return err_set(e, EINVAL, "%s: out of range (%lld..%lld)", k->key,
					       k->min, k->max);
			CFG_FIELD(cfg, k, int) = (int)n;
			break;
		}
		case CFG_BOOL:
			if (!json_object_is_type(v, json_type_boolean))
				return err_set(e, EINVAL, "%s: expected boolean", k->key);
			CFG_FIELD(cfg, k, bool) = json_object_get_boolean(v);
			break;
		case CFG_STRV: {
			if (!json_object_is_type(v, json_type_array))
				return err_set(e, EINVAL, "%s: expected an array of strings", k->key);
			size_t n = json_object_array_length(v);
			if (n > CFG_STRV_MAX)
				return err_set(e, EINVAL, "%s: at most %d entries", k->key, CFG_STRV_MAX);
			for (size_t j = 0; j < n; j++) {
				struct json_object *it = json_object_array_get_idx(v, j);
				if (!json_object_is_type(it, json_type_string))
					return err_set(e, EINVAL, "%s[%zu]: expected string", k->key, j);
				const char *s = json_object_get_string(it);
				if ((size_t)json_object_get_string_len(it) != strlen(s))
					return err_set(e, EINVAL,
						       "%s[%zu]: must not contain newlines or control characters",
						       k->key, j);
				char what[64];
				snprintf(what, sizeof(what), "%s[%zu]", k->key, j);
				int r = vm_qopts_check_value(what, s, e);
				if (r < 0)
					return r;
			}
			char **nv = xcalloc(n + 1, sizeof(*nv));
			for (size_t j = 0; j < n; j++)
				nv[j] = xstrdup(json_object_get_string(json_object_array_get_idx(v, j)));
			cfg_strv_free(CFG_FIELD(cfg, k, char **));
			CFG_FIELD(cfg, k, char **) = nv;
			break;
		}
		}
	}
	return 0;
}

/* EBUSY for the first non-live key whose effective value differs. */
static int cfg_check_running(const struct vm_config *old, const struct vm_config *new,
			     struct err **e)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		if (k->live)
			continue;
		bool same = true;
		switch (k->type) {
		case CFG_STRING:
			same = strcmp(cfg_effective(old, k), cfg_effective(new, k)) == 0;
			break;
		case CFG_INT:
			same = CFG_CFIELD(old, k, int) == CFG_CFIELD(new, k, int);
			break;
		case CFG_BOOL:
			same = CFG_CFIELD(old, k, bool) == CFG_CFIELD(new, k, bool);
			break;
		case CFG_STRV:
			same = cfg_strv_eq(CFG_CVFIELD(old, k), CFG_CVFIELD(new, k));
			break;
		}
		if (!same)
			return err_set(e, EBUSY, "%s: cannot change while running", k->key);
	}
	return 0;
}

int vm_config_merge(struct vm_config *cfg, const char *json, bool running, struct err **e)
{
	cleanup_json struct json_object *o = NULL;
	int r = vm_config_parse_object("config", json, &o, e);
	if (r < 0)
		return r;
	cleanup_cfg struct vm_config tmp;
	vm_config_copy(&tmp, cfg);
	if ((r = cfg_apply(&tmp, o, e)) < 0)
		return r;
	cfg_follow_defaults(cfg, &tmp, o);
	if (running && (r = cfg_check_running(cfg, &tmp, e)) < 0)
		return r;
	if ((r = vm_config_validate(&tmp, e)) < 0)
		return r;
	struct vm_config old = *cfg;
	*cfg = tmp;
	tmp = old; /* released by the cleanup */
	return 0;
}

struct json_object *vm_config_to_json(const struct vm_config *cfg)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < ARRAY_SIZE(cfg_schema); i++) {
		const struct cfg_key *k = &cfg_schema[i];
		struct json_object *v = NULL;
		switch (k->type) {
		case CFG_STRING:
			v = json_object_new_string(cfg_effective(cfg, k));
			break;
		case CFG_INT:
			v = json_object_new_int(CFG_CFIELD(cfg, k, int));
			break;
		case CFG_BOOL:
			v = json_object_new_boolean(CFG_CFIELD(cfg, k, bool));
			break;
		case CFG_STRV: {
			v = json_object_new_array();
			char *const *sv = CFG_CVFIELD(cfg, k);
			for (size_t j = 0; sv && sv[j]; j++)
				json_object_array_add(v, json_object_new_string(sv[j]));
			break;
		}
		}
		json_object_object_add(o, k->key, v);
	}
	return o;
}

int vm_config_from_json(struct vm_config *cfg, struct json_object *o, struct err **e)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return err_set(e, EINVAL, "config: not a JSON object");
	cleanup_cfg struct vm_config tmp, init;
	vm_config_init(&tmp);
	vm_config_copy(&init, &tmp);
	int r = cfg_apply(&tmp, o, e);
	if (r < 0)
		return r;
	cfg_follow_defaults(&init, &tmp, o);
	if ((r = vm_config_validate(&tmp, e)) < 0)
		return r;
	struct vm_config old = *cfg;
	*cfg = tmp;
	tmp = old;
	return 0;
}
