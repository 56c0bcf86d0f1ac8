/*
 * config_rules — the rules of the config keys (config_schema.c's table
 * names them): paths, enumerations, option lists, SMP, memory, the
 * architecture's limits.  Each sees the whole config and fails with EINVAL
 * naming its key.
 */
#include "vm/model/config_schema.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/util.h"

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

int vm_config_check_abs_path(const struct vm_config *cfg, const struct vm_config_key *k,
			      struct err **e)
{
	return cfg_check_path(k->key, CFG_CFIELD(cfg, k, char *), false, e);
}

int vm_config_check_opt_path(const struct vm_config *cfg, const struct vm_config_key *k,
			      struct err **e)
{
	return cfg_check_path(k->key, CFG_CFIELD(cfg, k, char *), true, e);
}

int vm_config_check_arch(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
{
	if (!arch_lookup(cfg->arch))
		return err_set(e, EINVAL, "arch: unknown architecture: %s", cfg->arch);
	return 0;
}

int vm_config_check_machine(const struct vm_config *cfg, const struct vm_config_key *k,
			     struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	if (!a || !a->qemu_binary(vm_config_machine_family(cfg)))
		return err_set(e, EINVAL, "unknown machine type: %s", cfg->machine);
	return 0;
}

static const char *const cfg_accels[] = { "tcg,thread=multi", "tcg,thread=single", "tcg", "kvm" };

int vm_config_check_accel(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
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

int vm_config_check_cpu_model(const struct vm_config *cfg, const struct vm_config_key *k,
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

int vm_config_check_vcpus(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
{
	if (cfg->vcpus > cfg->maxvcpus)
		return err_set(e, EINVAL, "vcpus: %d exceeds maxvcpus (%d)", cfg->vcpus,
			       cfg->maxvcpus);
	return 0;
}

int vm_config_check_maxvcpus(const struct vm_config *cfg, const struct vm_config_key *k,
			      struct err **e)
{
	const struct arch_ops *a = vm_config_arch(cfg);
	struct arch_vm v = vm_config_arch_vm(cfg);
	int max = a ? a->max_vcpus(&v) : 1;
	const char *why = a && a->max_vcpus_rule ? a->max_vcpus_rule(&v) : NULL;
	if (cfg->maxvcpus > max)
		return err_set(e, EINVAL, "maxvcpus: out of range (%lld..%d)%s%s", k->min, max,
			       why ? ": " : "", why ? why : "");
	return 0;
}

int vm_config_check_uuid(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
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
				       "(expected key=value items separated by ',')",
				       key, (size_t)(k - v));
		if (*p != '=') /* QEMU 7.2 reads -machine as key=value only */
			return err_set(e, EINVAL, "%s: option '%.*s' needs a value: QEMU reads -machine "
				       "as key=value items (a bare 'noX' is 'X=off')", key, (int)(p - k), k);
		p++;
		while (cfg_is_keych(*p) || *p == ':' || *p == '/' || *p == '+')
			p++;
		if (!*p)
			return 0;
		if (*p != ',')
			return err_set(e, EINVAL, "%s: invalid character '%c' at offset %zu", key, *p,
				       (size_t)(p - v));
		p++;
	}
}

int vm_config_check_machine_options(const struct vm_config *cfg, const struct vm_config_key *k,
				     struct err **e)
{
	return cfg_check_optlist(k->key, cfg->machine_options, false, e);
}

int vm_config_check_accelerators(const struct vm_config *cfg, const struct vm_config_key *k,
				  struct err **e)
{
	return cfg_check_optlist(k->key, cfg->machine_accelerators, true, e);
}

int vm_config_check_smp(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
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

int vm_config_check_maxmem(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
{
	if (cfg->maxmem_mib && cfg->maxmem_mib < cfg->memory_mib)
		return err_set(e, EINVAL, "maxmem_mib: %d is below memory_mib (%d)", cfg->maxmem_mib,
			       cfg->memory_mib);
	if (cfg->memory_slots > 0 && cfg->maxmem_mib <= cfg->memory_mib)
		return err_set(e, EINVAL,
			       "maxmem_mib: memory_slots needs maxmem_mib above memory_mib (%d)",
			       cfg->memory_mib);
	if (cfg->hugepages && cfg->memory_file)
		return err_set(e, EINVAL, "memory_file: guest RAM is either hugepages or a file");
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

int vm_config_check_rtc_base(const struct vm_config *cfg, const struct vm_config_key *k,
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

int vm_config_check_rtc_clock(const struct vm_config *cfg, const struct vm_config_key *k,
			       struct err **e)
{
	static const char *const c[] = { "host", "rt", "vm", NULL };
	return cfg_check_enum(k->key, cfg->rtc_clock, c, e);
}

int vm_config_check_driftfix(const struct vm_config *cfg, const struct vm_config_key *k,
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

int vm_config_check_globals(const struct vm_config *cfg, const struct vm_config_key *k,
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

int vm_config_check_vga(const struct vm_config *cfg, const struct vm_config_key *k, struct err **e)
{
	static const char *const c[] = { "none", "std", "virtio", "cirrus", NULL };
	int r = cfg_check_enum(k->key, cfg->vga, c, e);
	/* on pc the VGA takes 00:02.0, the first bridge's device number */
	if (r == 0 && strcmp(cfg->vga, "none") && !strcmp(vm_config_machine_family(cfg), "pc") &&
	    cfg->pci_bridges > 0)
		r = err_set(e, EINVAL, "vga: on machine pc a VGA takes PCI device 00:02.0, where "
			    "the first pci-bridge goes: vga none, or no pci_bridges");
	return r;
}

int vm_config_check_pflash(const struct vm_config *cfg, const struct vm_config_key *k,
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

int vm_config_check_daemonize(const struct vm_config *cfg, const struct vm_config_key *k,
			       struct err **e)
{
	if (cfg->daemonize)
		return err_set(e, EINVAL,
			       "daemonize: must be false: sandboxfs supervises QEMU itself (it keeps "
			       "its pid, hands it the QMP socket and notices it exit); a daemonized "
			       "QEMU would escape that");
	return 0;
}


int vm_config_check_cpu_max(const struct vm_config *cfg, const struct vm_config_key *k,
			    struct err **e)
{
	if (!strcmp(cfg->cpu_max, "max"))
		return 0;
	long long quota, period;
	char extra;
	if (sscanf(cfg->cpu_max, "%lld %lld%c", &quota, &period, &extra) != 2)
		return err_set(e, EINVAL, "cpu_max: \"max\" or \"QUOTA PERIOD\" in microseconds, "
			       "not '%s'", cfg->cpu_max);
	if (quota < 1000 || period < 1000 || period > 1000000)
		return err_set(e, EINVAL, "cpu_max: QUOTA at least 1000 and PERIOD 1000..1000000 "
			       "microseconds (the kernel's bounds), not '%s'", cfg->cpu_max);
	return 0;
}
