/*
 * arch — the table of supported architectures and the host's name.
 *
 * Adding an architecture is one arch_<name>.c exporting its ops and one row
 * in `arch_table` below.  The host architecture is decided at compile time
 * (the daemon runs QEMU for guests of its own architecture by default); on
 * a compiler/target we do not know, uname(2) names it.
 */
#include "arch/arch.h"

#include <pthread.h>
#include <string.h>
#include <sys/utsname.h>

static const struct arch_ops *const arch_table[] = {
	&arch_x86_64,
	&arch_aarch64,
	&arch_ppc64le,
	&arch_s390x,
};

const char *const arch_kparams_debug[] = { "debug", "ignore_loglevel", NULL };
const char *const arch_kparams_nodebug[] = { "quiet", NULL };
const char *const arch_kparams_systemd_debug[] = { "systemd.show_status=true",
						   "systemd.log_level=debug", NULL };
const char *const arch_kparams_systemd_nodebug[] = { "systemd.show_status=false", NULL };

bool arch_accel_is_tcg(const char *accel)
{
	return accel && strncmp(accel, "tcg", 3) == 0 && (accel[3] == '\0' || accel[3] == ',');
}

const struct arch_ops *arch_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(arch_table) / sizeof(arch_table[0]); i++)
		if (strcmp(arch_table[i]->name, name) == 0)
			return arch_table[i];
	return NULL;
}

#if defined(__x86_64__)
#define ARCH_HOST_NAME "x86_64"
#elif defined(__aarch64__)
#define ARCH_HOST_NAME "aarch64"
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#define ARCH_HOST_NAME "ppc64le"
#elif defined(__s390x__)
#define ARCH_HOST_NAME "s390x"
#endif

#ifndef ARCH_HOST_NAME
static char arch_uname_buf[sizeof(((struct utsname *)0)->machine)];
static pthread_once_t arch_uname_once = PTHREAD_ONCE_INIT;

static void arch_uname_init(void)
{
	struct utsname u;
	if (uname(&u) == 0) {
		strncpy(arch_uname_buf, u.machine, sizeof(arch_uname_buf) - 1);
		arch_uname_buf[sizeof(arch_uname_buf) - 1] = '\0';
	} else {
		strcpy(arch_uname_buf, "unknown");
	}
}
#endif

const char *arch_host(void)
{
#ifdef ARCH_HOST_NAME
	return ARCH_HOST_NAME;
#else
	pthread_once(&arch_uname_once, arch_uname_init);
	return arch_uname_buf;
#endif
}

bool arch_iommu_supported(const struct arch_ops *a, const char *machine)
{
	return a->iommu_driver && a->iommu_supported && a->iommu_supported(machine);
}

/* The family of a versioned type, or NULL. */
static const char *arch_version_family(const struct arch_ops *a, const char *machine)
{
	for (size_t i = 0; machine && a && a->machine_versions && a->machine_versions[i]; i += 2) {
		size_t n = strlen(a->machine_versions[i]);
		if (strncmp(machine, a->machine_versions[i], n) != 0)
			continue;
		const char *v = machine + n;
		size_t major = strspn(v, "0123456789");
		if (major == 0 || v[major] != '.')
			continue;
		size_t minor = strspn(v + major + 1, "0123456789");
		if (minor > 0 && v[major + 1 + minor] == '\0')
			return a->machine_versions[i + 1];
	}
	return NULL;
}

const char *arch_machine_family(const struct arch_ops *a, const char *machine)
{
	const char *f = arch_version_family(a, machine);
	return f ? f : machine;
}

bool arch_machine_versioned(const struct arch_ops *a, const char *machine)
{
	return arch_version_family(a, machine) != NULL;
}

const char *arch_machine_options(const struct arch_ops *a, const char *machine,
				 const char *accel)
{
	const char *o = a->machine_options ? a->machine_options(machine, accel) : NULL;
	return o ? o : "";
}
