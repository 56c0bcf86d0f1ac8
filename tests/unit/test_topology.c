/*
 * test_topology — hotplug bridges and slot accounting (vm_topology):
 * layout, first-fit allocation to exhaustion, ENOSPC, free + reuse,
 * reserve, the bridges/<id> rendering, guest addresses and argv.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/config.h"
#include "vm/model/topology.h"

static void test_layout(void)
{
	struct vm_topology t;
	vm_topology_init(&t, &arch_x86_64, 4);
	CU_ASSERT_EQUAL_FATAL(t.n, 4);
	for (int i = 0; i < 4; i++) {
		char id[16];
		snprintf(id, sizeof(id), "rp%d", i);
		CU_ASSERT_STRING_EQUAL(t.bridges[i].id, id);
		CU_ASSERT_STRING_EQUAL(t.bridges[i].driver, "pcie-root-port");
		CU_ASSERT_STRING_EQUAL(t.bridges[i].bus, "pcie.0");
		CU_ASSERT_EQUAL(t.bridges[i].chassis, i + 1);
		CU_ASSERT_EQUAL(t.bridges[i].addr, 2 + i);
		CU_ASSERT_EQUAL(t.bridges[i].nslots, 1);
		CU_ASSERT_EQUAL(vm_topology_find(&t, id), i);
	}
	CU_ASSERT_EQUAL(vm_topology_find(&t, "rp4"), -1);
	CU_ASSERT_EQUAL(vm_topology_find(&t, "rp"), -1);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&t), 4);
	vm_topology_release(&t);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_PTR_NULL(t.bridges);

	/* zero bridges: nothing to allocate, nothing on the command line */
	vm_topology_init(&t, &arch_x86_64, 0);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&t), 0);
	int b = 7, s = 7;
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "d1", &b, &s, &e), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "no free hotplug slot (0 bridges"));
	cleanup_strv struct strv argv = {0};
	vm_topology_argv(&t, &argv);
	CU_ASSERT_EQUAL(argv.n, 0);
	vm_topology_release(&t);
}

static void test_alloc_free(void)
{
	struct vm_topology t;
	vm_topology_init(&t, &arch_x86_64, 3);
	cleanup_err struct err *e = NULL;
	const char *ids[] = { "d0", "d1", "d2" };
	for (int i = 0; i < 3; i++) {
		int b = -1, s = -1;
		CU_ASSERT_EQUAL(vm_topology_alloc(&t, ids[i], &b, &s, &e), 0);
		CU_ASSERT_EQUAL(b, i); /* first fit, in bridge order */
		CU_ASSERT_EQUAL(s, 0);
		CU_ASSERT_STRING_EQUAL(t.bridges[i].slots[0], ids[i]);
	}
	CU_ASSERT_EQUAL(vm_topology_free_slots(&t), 0);

	int b = 9, s = 9;
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "d3", &b, &s, &e), -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->code, ENOSPC);
	CU_ASSERT_STRING_EQUAL(e->msg, "no free hotplug slot (3 bridges, all in use)");
	CU_ASSERT_EQUAL(b, 9); /* outputs untouched on failure */
	CU_ASSERT_EQUAL(s, 9);

	/* free the middle one: it is the one reused */
	vm_topology_free(&t, 1, 0);
	CU_ASSERT_PTR_NULL(t.bridges[1].slots[0]);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&t), 1);
	err_free(&e);
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "d4", &b, &s, &e), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(s, 0);
	CU_ASSERT_STRING_EQUAL(t.bridges[1].slots[0], "d4");
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "d5", &b, &s, &e), -ENOSPC);

	/* out-of-range frees are ignored */
	vm_topology_free(&t, -1, 0);
	vm_topology_free(&t, 3, 0);
	vm_topology_free(&t, 0, 1);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&t), 0);

	/* freeing twice is harmless */
	vm_topology_free(&t, 0, 0);
	vm_topology_free(&t, 0, 0);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&t), 1);
	vm_topology_release(&t); /* releases the still-held ids too */
}

static void test_reserve(void)
{
	struct vm_topology t;
	vm_topology_init(&t, &arch_x86_64, 3);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_EQUAL(vm_topology_reserve(&t, 2, 0, "late", &e), 0);
	CU_ASSERT_STRING_EQUAL(t.bridges[2].slots[0], "late");
	CU_ASSERT_EQUAL(vm_topology_reserve(&t, 2, 0, "again", &e), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->code, EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, "late"));
	CU_ASSERT_STRING_EQUAL(t.bridges[2].slots[0], "late");

	const int bad[][2] = { { 3, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 } };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err_free(&e);
		CU_ASSERT_EQUAL(vm_topology_reserve(&t, bad[i][0], bad[i][1], "x", &e), -ERANGE);
		CU_ASSERT_PTR_NOT_NULL_FATAL(e);
		CU_ASSERT_EQUAL(e->code, ERANGE);
	}
	/* allocation skips the reserved slot */
	int b, s;
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "a", &b, &s, &e), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "b", &b, &s, &e), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "c", &b, &s, &e), -ENOSPC);
	vm_topology_release(&t);
}

static void test_show(void)
{
	struct vm_topology t;
	vm_topology_init(&t, &arch_x86_64, 16);
	cleanup_err struct err *e = NULL;
	int b, s;
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "d1", &b, &s, &e), 0);

	cleanup_sbuf struct sbuf out = {0};
	vm_topology_show(&t.bridges[0], &out);
	CU_ASSERT_STRING_EQUAL(out.s, "type pcie-root-port\n"
				      "bus pcie.0\n"
				      "chassis 1\n"
				      "addr 02\n"
				      "slot 0 d1\n");
	sbuf_release(&out);
	vm_topology_show(&t.bridges[15], &out);
	CU_ASSERT_STRING_EQUAL(out.s, "type pcie-root-port\n"
				      "bus pcie.0\n"
				      "chassis 16\n"
				      "addr 11\n"
				      "slot 0 -\n");
	sbuf_release(&out);

	vm_topology_guest_addr(&t, 0, 0, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "02/00");
	sbuf_release(&out);
	vm_topology_guest_addr(&t, 9, 0, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "0b/00");
	sbuf_release(&out);
	vm_topology_guest_addr(&t, 16, 0, &out); /* absent: nothing */
	CU_ASSERT_EQUAL(out.len, 0);
	vm_topology_release(&t);
}

static void test_argv(void)
{
	struct vm_topology t;
	vm_topology_init(&t, &arch_x86_64, 12);
	cleanup_strv struct strv argv = {0};
	strv_add(&argv, "qemu"); /* appends, never replaces */
	vm_topology_argv(&t, &argv);
	CU_ASSERT_EQUAL_FATAL(argv.n, 1 + 2 * 12);
	CU_ASSERT_STRING_EQUAL(argv.v[0], "qemu");
	CU_ASSERT_STRING_EQUAL(argv.v[1], "-device");
	CU_ASSERT_STRING_EQUAL(argv.v[2], "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2");
	CU_ASSERT_STRING_EQUAL(argv.v[3], "-device");
	CU_ASSERT_STRING_EQUAL(argv.v[4], "pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x3");
	CU_ASSERT_STRING_EQUAL(argv.v[23], "-device");
	CU_ASSERT_STRING_EQUAL(argv.v[24], "pcie-root-port,id=rp11,bus=pcie.0,chassis=12,addr=0xd");
	CU_ASSERT_PTR_NULL(argv.v[25]);
	vm_topology_release(&t);
}

/* 40 root ports do not fit one per device number on q35: eight functions
 * per device, multifunction=on on function 0; bridges follow them. */
static void test_multifunction(void)
{
	vm_config_set_defaults(&(struct vm_defaults){.guest_kernel = "/k", .guest_initrd = ""});
	struct vm_config cfg;
	vm_config_init(&cfg);
	struct err *e = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"root_ports\":40,\"pci_bridges\":1}", false, &e), 0);
	struct vm_topology t;
	vm_config_topology(&cfg, &t);
	CU_ASSERT_EQUAL_FATAL(t.n, 41);
	CU_ASSERT_EQUAL(t.bridges[0].addr, 2);
	CU_ASSERT_EQUAL(t.bridges[0].func, 0);
	CU_ASSERT_TRUE(t.bridges[0].multifunction);
	CU_ASSERT_EQUAL(t.bridges[9].addr, 3);
	CU_ASSERT_EQUAL(t.bridges[9].func, 1);
	CU_ASSERT_FALSE(t.bridges[9].multifunction);
	CU_ASSERT_EQUAL(t.bridges[39].addr, 6);
	CU_ASSERT_EQUAL(t.bridges[39].func, 7);
	CU_ASSERT_EQUAL(t.bridges[40].addr, 7); /* the pci-bridge after them */
	cleanup_strv struct strv argv = {0};
	vm_topology_argv(&t, &argv);
	CU_ASSERT_STRING_EQUAL(argv.v[1], "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2.0,multifunction=on");
	CU_ASSERT_STRING_EQUAL(argv.v[19], "pcie-root-port,id=rp9,bus=pcie.0,chassis=10,addr=0x3.1");
	/* Fill all 40 + 31 slots, then ENOSPC; the guest path names the function. */
	char id[16];
	int b, sl, n = 0;
	for (;; n++) {
		snprintf(id, sizeof(id), "d%d", n);
		if (vm_topology_alloc(&t, id, &b, &sl, &e) < 0)
			break;
	}
	CU_ASSERT_EQUAL(n, 40 + 31);
	CU_ASSERT_EQUAL(e ? e->code : 0, ENOSPC);
	err_free(&e);
	cleanup_sbuf struct sbuf path = {0};
	vm_topology_guest_addr(&t, 9, 0, &path);
	CU_ASSERT_STRING_EQUAL(path.s, "03.1/00");
	cleanup_sbuf struct sbuf show = {0};
	vm_topology_show(&t.bridges[9], &show);
	CU_ASSERT_PTR_NOT_NULL(strstr(show.s, "addr 03.1\n"));
	vm_topology_free(&t, 9, 0);
	CU_ASSERT_EQUAL(vm_topology_alloc(&t, "again", &b, &sl, &e), 0);
	CU_ASSERT_EQUAL(b, 9);
	vm_topology_release(&t);
	vm_config_release(&cfg);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "layout", test_layout },
		{ "alloc_free", test_alloc_free },
		{ "reserve", test_reserve },
		{ "show", test_show },
		{ "argv", test_argv },
		{ "multifunction root ports", test_multifunction },
	};
	return unit_main("vm_topology", tests, ARRAY_SIZE(tests));
}
