/*
 * test_version — what a QEMU binary is, asked of the binary (vm/qemu/
 * version, vm/qemu/probe), and what the daemon chooses by it
 * (vm/qemu/vcpu_rules):
 *
 *   parse        the recorded replies of QEMU 7.2.22 and 10.0.2
 *                (golden_qemu.h): version, package, target, each alias's
 *                versioned machine type; replies without a version refused
 *   check        a binary for another target, or without the machine type,
 *                is EINVAL naming binary, version and what it has
 *   vcpu_rules   per version and accelerator: 7.2 refuses vCPU unplug under
 *                TCG, 10.0 allows it but starts at most maxcpus vCPUs per
 *                process (ENOSPC past that), single-threaded TCG refuses
 *                unplug on both, KVM and an unknown QEMU get no rule
 *   probe_real   the QEMU under test (TEST_QEMU_DIR or /usr/bin) answers
 *                the same version its `--version` prints, for target
 *                x86_64, with q35 resolved to a pc-q35-<major.minor> type;
 *                also as nobody under -sandbox, as the daemon asks it
 *   probe_faults a binary that exits at once (EIO, its output quoted), one
 *                that never speaks QMP (ETIMEDOUT within the deadline, killed),
 *                one that speaks garbage (EIO), a missing one (ENOENT)
 *   cache        an unchanged binary is not asked again (its content can be
 *                swapped under the same identity and the answer stays); a
 *                changed one is asked again
 *
 * probe_real runs QEMU: needs qemu-system-x86_64 (skipped without it).
 * test-timeout: 120
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/golden_qemu.h"
#include "tests/unit/support_cunit.h"
#include "tests/unit/support_qemu.h"
#include "vm/qemu/probe.h"
#include "vm/qemu/vcpu_rules.h"
#include "vm/qemu/version.h"

#define X86 "/usr/bin/qemu-system-x86_64"

static char dir[] = "/tmp/sbfs-version-XXXXXX";

static void golden(struct vm_qemu_caps *q72, struct vm_qemu_caps *q10)
{
	CU_ASSERT_FATAL(sqemu_caps_from(X86, GOLDEN_QEMU72_VERSION, GOLDEN_QEMU_TARGET_X86,
					GOLDEN_QEMU72_MACHINES, q72));
	CU_ASSERT_FATAL(sqemu_caps_from("/q10/qemu-system-x86_64", GOLDEN_QEMU10_VERSION,
					GOLDEN_QEMU_TARGET_X86, GOLDEN_QEMU10_MACHINES, q10));
}

static void test_parse(void)
{
	struct vm_qemu_caps q72, q10;
	golden(&q72, &q10);
	char v[32];
	CU_ASSERT_STRING_EQUAL(vm_qemu_version_str(&q72, v, sizeof(v)), "7.2.22");
	CU_ASSERT_STRING_EQUAL(vm_qemu_version_str(&q10, v, sizeof(v)), "10.0.2");
	CU_ASSERT_STRING_EQUAL(q72.package, "Debian 1:7.2+dfsg-7+deb12u18+b3");
	CU_ASSERT_STRING_EQUAL(q10.binary, "/q10/qemu-system-x86_64");
	CU_ASSERT_STRING_EQUAL(q10.target, "x86_64");
	CU_ASSERT_EQUAL(q72.naliases, 2);
	CU_ASSERT(q72.machines_all && q10.machines_all);
	/* an alias resolves to the binary's own versioned type */
	CU_ASSERT_STRING_EQUAL(vm_qemu_machine_type(&q72, "q35"), "pc-q35-7.2");
	CU_ASSERT_STRING_EQUAL(vm_qemu_machine_type(&q10, "q35"), "pc-q35-10.0");
	CU_ASSERT_STRING_EQUAL(vm_qemu_machine_type(&q10, "pc"), "pc-i440fx-10.0");
	/* a type by its own name, whole words only */
	CU_ASSERT_STRING_EQUAL(vm_qemu_machine_type(&q72, "microvm"), "microvm");
	CU_ASSERT_STRING_EQUAL(vm_qemu_machine_type(&q72, "pc-q35-7.2"), "pc-q35-7.2");
	CU_ASSERT_PTR_NULL(vm_qemu_machine_type(&q72, "pc-q35-10.0"));
	CU_ASSERT_PTR_NULL(vm_qemu_machine_type(&q72, "micro"));
	CU_ASSERT_PTR_NULL(vm_qemu_machine_type(&q72, "virt"));
	CU_ASSERT_PTR_NULL(vm_qemu_machine_type(&q72, ""));
	CU_ASSERT(vm_qemu_at_least(&q10, 10, 0) && vm_qemu_at_least(&q10, 9, 1));
	CU_ASSERT(!vm_qemu_at_least(&q72, 8, 0) && vm_qemu_at_least(&q72, 7, 2));
	CU_ASSERT_STRING_EQUAL(vm_qemu_target_of("/usr/bin/qemu-system-ppc64"), "ppc64");
	CU_ASSERT_STRING_EQUAL(vm_qemu_target_of("qemu-system-s390x"), "s390x");
	CU_ASSERT_PTR_NULL(vm_qemu_target_of("/opt/bin/qemu-kvm"));
	CU_ASSERT_PTR_NULL(vm_qemu_target_of("/usr/bin/qemu-system-"));

	/* no version: refused; no target or machines: known unknowns */
	struct vm_qemu_caps q;
	cleanup_err struct err *e = NULL;
	cleanup_json struct json_object *bad = json_tokener_parse("{\"qemu\": {\"major\": 7}}");
	CU_ASSERT_EQUAL(vm_qemu_caps_parse(X86, bad, NULL, NULL, &q, &e), -EIO);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "query-version"));
	CU_ASSERT(sqemu_caps_from(X86, GOLDEN_QEMU72_VERSION, NULL, "{\"not\": \"a list\"}", &q));
	CU_ASSERT(!q.machines_all);
	CU_ASSERT_STRING_EQUAL(q.target, "");
	CU_ASSERT_EQUAL(vm_qemu_caps_check(&q, "aarch64", "virt", NULL), 0);
}

static void test_check(void)
{
	struct vm_qemu_caps q72, q10, ppc;
	golden(&q72, &q10);
	CU_ASSERT_FATAL(sqemu_caps_from("/usr/bin/qemu-system-ppc64", GOLDEN_QEMU10_VERSION,
					GOLDEN_QEMU_TARGET_PPC, NULL, &ppc));
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_qemu_caps_check(&q72, "x86_64", "q35", &e), 0);
	CU_ASSERT_EQUAL(vm_qemu_caps_check(&q10, "x86_64", "pc", &e), 0);
	CU_ASSERT_EQUAL(vm_qemu_caps_check(&ppc, "x86_64", "q35", &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e ? e->msg : "",
			       "qemu: /usr/bin/qemu-system-ppc64 is QEMU 10.0.2 for ppc64 guests, not "
			       "x86_64 (the config's arch wants qemu-system-x86_64)");
	err_free(&e);
	CU_ASSERT_EQUAL(vm_qemu_caps_check(&q10, "x86_64", "virt", &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e ? e->msg : "", "machine: /q10/qemu-system-x86_64 (QEMU 10.0.2) has no "
						"machine type virt");
	err_free(&e);
	/* no target wanted (a binary not named qemu-system-*): not checked */
	CU_ASSERT_EQUAL(vm_qemu_caps_check(&ppc, NULL, "pseries", &e), 0);
}

struct vcase {
	int qemu; /* 72, 10 or 0: unknown */
	const char *accel;
	int current, want, started;
	int code;
	const char *says;
};

static void test_vcpu_rules(void)
{
	struct vm_qemu_caps q72, q10;
	golden(&q72, &q10);
	static const struct vcase cases[] = {
		/* 7.2 under TCG: plug yes, unplug never */
		{ 72, "tcg,thread=multi", 1, 3, 1, 0, NULL },
		{ 72, "tcg,thread=multi", 3, 1, 3, EOPNOTSUPP, "QEMU 7.2.22 under TCG corrupts its heap" },
		{ 72, "tcg", 2, 1, 2, EOPNOTSUPP, "run QEMU >= 10.0" },
		/* 10.0 under multi-threaded TCG: at most maxcpus (4) started */
		{ 10, "tcg,thread=multi", 3, 1, 3, 0, NULL },
		{ 10, "tcg,thread=multi", 1, 2, 3, 0, NULL },
		{ 10, "tcg,thread=multi", 1, 2, 4, ENOSPC, "has started 4: an unplugged vCPU's TCG context" },
		{ 10, "tcg,thread=multi", 1, 4, 2, ENOSPC, "2 more can be added now, all 4 after a stop" },
		{ 10, "tcg,thread=multi", 1, 3, 2, 0, NULL },
		/* single-threaded TCG aborts at an unplug on both */
		{ 10, "tcg,thread=single", 2, 1, 2, EOPNOTSUPP, "single-threaded TCG (tcg,thread=single)" },
		{ 72, "tcg,thread=single", 2, 1, 2, EOPNOTSUPP, "single-threaded" },
		{ 10, "tcg,thread=single", 1, 4, 1, 0, NULL },
		/* KVM, an unknown QEMU, no change: no rule */
		{ 72, "kvm", 3, 1, 3, 0, NULL },
		{ 10, "kvm", 1, 4, 8, 0, NULL },
		{ 0, "tcg,thread=multi", 3, 1, 3, 0, NULL },
		{ 72, "tcg,thread=multi", 2, 2, 9, 0, NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct vcase *c = &cases[i];
		const struct vm_qemu_caps *q = c->qemu == 72 ? &q72 : c->qemu == 10 ? &q10 : NULL;
		struct vm_vcpu_change ch = {.accel = c->accel, .maxcpus = 4, .current = c->current,
					    .want = c->want, .started = c->started};
		cleanup_err struct err *e = NULL;
		int r = vm_vcpu_rules_check(q, &ch, &e);
		if (r != -c->code || (c->says && (!e || !strstr(e->msg, c->says)))) {
			fprintf(stderr, "\n  case %zu (QEMU %d %s %d->%d, started %d): %d %s\n", i, c->qemu,
				c->accel, c->current, c->want, c->started, r, e ? e->msg : "");
			CU_FAIL("vCPU rule");
		}
	}
}

/* What `binary --version` prints: "X.Y.Z" of "QEMU emulator version X.Y.Z (...)". */
static char *version_text(const char *binary)
{
	cleanup_free char *cmd = xasprintf("'%s' --version 2>/dev/null", binary);
	FILE *p = popen(cmd, "r");
	char line[256] = "", v[64] = "";
	if (p && fgets(line, sizeof(line), p))
		sscanf(line, "QEMU emulator version %63[0-9.]", v);
	if (p)
		pclose(p);
	return xstrdup(v);
}

static void test_probe_real(void)
{
	cleanup_free char *bin = sqemu_binary("qemu-system-x86_64");
	if (access(bin, X_OK) != 0) {
		unit_skip("qemu-system-x86_64", "%s not found: the real probe not run", bin);
		return;
	}
	const struct vm_qemu_caps *q = sqemu_qemu(bin); /* as root, unconfined */
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	char v[32];
	cleanup_free char *text = version_text(bin);
	CU_ASSERT_STRING_EQUAL(vm_qemu_version_str(q, v, sizeof(v)), text);
	CU_ASSERT_STRING_EQUAL(q->target, "x86_64");
	CU_ASSERT_STRING_EQUAL(q->binary, bin);
	CU_ASSERT(q->machines_all);
	cleanup_free char *q35 = xasprintf("pc-q35-%d.%d", q->major, q->minor);
	const char *m = vm_qemu_machine_type(q, "q35");
	CU_ASSERT_STRING_EQUAL(m ? m : "(none)", q35);
	printf("  %s is QEMU %s (%s), q35 = %s\n", bin, v, q->package, m ? m : "?");

	/* as the daemon asks it: another uid, under -sandbox */
	if (geteuid() == 0) {
		struct vm_qemu_caps n;
		cleanup_err struct err *e = NULL;
		struct vm_qemu_probe how = {.uid = 65534, .gid = 65534, .confine = true, .timeout_ms = 10000};
		int r = vm_qemu_probe(bin, &how, &n, &e);
		if (r < 0)
			fprintf(stderr, "\n  as nobody: %s\n", e->msg);
		CU_ASSERT_EQUAL(r, 0);
		CU_ASSERT(r < 0 || (n.major == q->major && n.minor == q->minor && n.micro == q->micro));
	}
}

/* A script in dir that does `body`. */
static char *script(const char *name, const char *body)
{
	char *path = xasprintf("%s/%s", dir, name);
	cleanup_free char *text = xasprintf("#!/bin/sh\n%s\n", body);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, 0755);
	return path;
}

static void test_probe_faults(void)
{
	struct vm_qemu_caps q;
	struct vm_qemu_probe how = {.timeout_ms = 600};
	cleanup_free char *quits = script("quits", "echo 'qemu: I refuse' >&2; exit 1");
	cleanup_free char *silent = script("silent", "exec sleep 30");
	cleanup_free char *garbage = script("garbage", "echo 'not QMP at all' >&3; exec sleep 30");
	cleanup_err struct err *e = NULL;

	CU_ASSERT_EQUAL(vm_qemu_probe(quits, &how, &q, &e), -EIO);
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "did not answer query-version"));
	CU_ASSERT_PTR_NOT_NULL(e && strstr(e->msg, "qemu: I refuse"));
	err_free(&e);

	int64_t t0 = util_now_ms();
	CU_ASSERT_EQUAL(vm_qemu_probe(silent, &how, &q, &e), -ETIMEDOUT);
	int64_t took = util_now_ms() - t0;
	CU_ASSERT(took >= 500 && took < 3000);
	printf("  a QEMU that never answers: %s after %lld ms\n", e ? e->msg : "?", (long long)took);
	err_free(&e);
	/* it was killed and reaped: no child of ours is left */
	CU_ASSERT_EQUAL(waitpid(-1, NULL, WNOHANG), -1);

	CU_ASSERT_EQUAL(vm_qemu_probe(garbage, &how, &q, &e), -EIO);
	CU_ASSERT(util_now_ms() - t0 - took < 3000);
	err_free(&e);

	cleanup_free char *missing = xasprintf("%s/nonexistent", dir);
	CU_ASSERT_EQUAL(vm_qemu_caps_get(missing, &how, &q, &e), -ENOENT);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_qemu_caps_get("", &how, &q, &e), -ENOENT);
}

static void test_cache(void)
{
	if (access(X86, X_OK) != 0) {
		unit_skip("qemu-system-x86_64", "%s not found: the cache check not run", X86);
		return;
	}
	vm_qemu_caps_forget();
	cleanup_free char *w = script("wrapper", "exec " X86 " \"$@\"");
	struct vm_qemu_caps q, again;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_qemu_caps_get(w, NULL, &q, &e), 0);
	CU_ASSERT(q.major >= 2);

	/* The same inode, size and mtime with other content: still cached. */
	struct stat st;
	CU_ASSERT_EQUAL_FATAL(stat(w, &st), 0);
	cleanup_free char *broken = xasprintf("#!/bin/sh\nexit 1 %*s\n",
					      (int)st.st_size - (int)strlen("#!/bin/sh\nexit 1 \n"), "");
	int fd = open(w, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, broken, strlen(broken), 0), (ssize_t)st.st_size);
	close(fd);
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	CU_ASSERT_EQUAL(utimensat(AT_FDCWD, w, times, 0), 0);
	CU_ASSERT_EQUAL(vm_qemu_caps_get(w, NULL, &again, &e), 0);
	CU_ASSERT_EQUAL(again.major, q.major);

	/* A changed file (its mtime moved): asked again, and now it fails. */
	times[1].tv_sec += 10;
	CU_ASSERT_EQUAL(utimensat(AT_FDCWD, w, times, 0), 0);
	CU_ASSERT_EQUAL(vm_qemu_caps_get(w, NULL, &again, &e), -EIO);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	static const struct unit_test tests[] = {
		{ "parse: the recorded replies of QEMU 7.2 and 10.0", test_parse },
		{ "check: another target, a machine type the binary lacks", test_check },
		{ "vcpu_rules: what 7.2 and 10.0 survive under TCG", test_vcpu_rules },
		{ "probe_real: the QEMU under test, as root and as nobody under -sandbox", test_probe_real },
		{ "probe_faults: exits, never answers, garbage, missing", test_probe_faults },
		{ "cache: kept while the file is unchanged, asked again when it changes", test_cache },
	};
	int rc = unit_main("version", tests, ARRAY_SIZE(tests));
	if (unit_rm_rf(dir) < 0 && rc == 0)
		rc = 1;
	return rc;
}
