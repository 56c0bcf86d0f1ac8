/*
 * test_arch — the four architectures behind the arch ops table: a golden
 * argv per architecture for the same logical config (console, root image,
 * block, net, 9p, vsock, rng; the PCIe arches get 8 root ports so every
 * device has one, pseries its default 4 pci-bridges, s390x its CCW set),
 * the per-architecture rules that reject input (EINVAL naming the rule),
 * defaults that follow the arch / accel, the ops' decisions, the s390x CCW
 * topology (bridges/ccw, devno addresses) and the hot-add QMP parts.
 */
#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "tests/unit/support_cunit.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

#define KERNEL "/opt/sandboxfs/guest/vmlinuz"
#define INITRD "/opt/sandboxfs/guest/initramfs.cpio.gz"
/* another architecture's built-in guest sits beside the host's */
#define ARCH_KERNEL(a) "/opt/sandboxfs/guest-" a "/vmlinuz"
#define ARCH_INITRD(a) "/opt/sandboxfs/guest-" a "/initramfs.cpio.gz"
#define UUID "6f1d0c0e-3a5b-4c2d-8e9f-0123456789ab"

static const char *const golden_x86_64[] = {
	"/usr/bin/qemu-system-x86_64",
	"-name", "guest=web",
	"-uuid", UUID,
	"-machine", "q35",
	"-accel", "tcg,thread=multi",
	"-smp", "1,sockets=4,cores=1,threads=1,maxcpus=4",
	"-m", "256M",
	"-nodefaults",
	"-no-user-config",
	"-display", "none",
	"-vga", "none",
	"-rtc", "base=utc,clock=host,driftfix=slew",
	"-global", "kvm-pit.lost_tick_policy=discard",
	"-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
	"-mon", "chardev=qmp,mode=control",
	"-chardev", "file,id=console,path=/run/sandboxfs/web/console.log,append=on",
	"-serial", "chardev:console",
	"-kernel", KERNEL,
	"-initrd", INITRD,
	"-append", "console=ttyS0 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 panic=1 quiet systemd.show_status=false root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4",
	"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2",
	"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x3",
	"-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=3,addr=0x4",
	"-device", "pcie-root-port,id=rp3,bus=pcie.0,chassis=4,addr=0x5",
	"-device", "pcie-root-port,id=rp4,bus=pcie.0,chassis=5,addr=0x6",
	"-device", "pcie-root-port,id=rp5,bus=pcie.0,chassis=6,addr=0x7",
	"-device", "pcie-root-port,id=rp6,bus=pcie.0,chassis=7,addr=0x8",
	"-device", "pcie-root-port,id=rp7,bus=pcie.0,chassis=8,addr=0x9",
	"-chardev", "file,id=char-con,path=/run/sandboxfs/web/console.log,append=on",
	"-device", "virtio-serial-pci,id=vser-con,bus=rp0,addr=0x0",
	"-device", "virtconsole,id=con,bus=vser-con.0,chardev=char-con",
	"-blockdev", "driver=raw,node-name=drive-root,read-only=on,file.driver=file,file.filename=/img/root.img,file.read-only=on",
	"-device", "virtio-blk-pci,id=root,drive=drive-root,bus=rp1,addr=0x0",
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,file.filename=/img/d1.img,file.read-only=off",
	"-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp2,addr=0x0",
	"-netdev", "tap,id=net-n0,fd=4",
	"-device", "virtio-net-pci,id=n0,netdev=net-n0,mac=02:00:00:00:00:01,bus=rp3,addr=0x0",
	"-fsdev", "local,id=fs-p9,path=/srv/share,security_model=none,multidevs=remap",
	"-device", "virtio-9p-pci,id=p9,fsdev=fs-p9,mount_tag=p9,bus=rp4,addr=0x0",
	"-device", "vhost-vsock-pci,id=vs,guest-cid=3,vhostfd=5,bus=rp5,addr=0x0",
	"-object", "rng-random,id=rng-rng0,filename=/dev/urandom",
	"-device", "virtio-rng-pci,id=rng0,rng=rng-rng0,bus=rp6,addr=0x0",
};

static const char *const golden_aarch64[] = {
	"/usr/bin/qemu-system-aarch64",
	"-name", "guest=web",
	"-uuid", UUID,
	"-machine", "virt,usb=off,gic-version=3",
	"-accel", "tcg,thread=multi",
	"-cpu", "max",
	"-smp", "1,sockets=4,cores=1,threads=1,maxcpus=4",
	"-m", "256M",
	"-nodefaults",
	"-no-user-config",
	"-display", "none",
	"-vga", "none",
	"-rtc", "base=utc,clock=host",
	"-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
	"-mon", "chardev=qmp,mode=control",
	"-chardev", "file,id=console,path=/run/sandboxfs/web/console.log,append=on",
	"-serial", "chardev:console",
	"-kernel", ARCH_KERNEL("aarch64"),
	"-initrd", ARCH_INITRD("aarch64"),
	"-append", "console=ttyAMA0 console=hvc0 console=hvc1 iommu.passthrough=0 quiet systemd.show_status=false root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4",
	"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2",
	"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=2,addr=0x3",
	"-device", "pcie-root-port,id=rp2,bus=pcie.0,chassis=3,addr=0x4",
	"-device", "pcie-root-port,id=rp3,bus=pcie.0,chassis=4,addr=0x5",
	"-device", "pcie-root-port,id=rp4,bus=pcie.0,chassis=5,addr=0x6",
	"-device", "pcie-root-port,id=rp5,bus=pcie.0,chassis=6,addr=0x7",
	"-device", "pcie-root-port,id=rp6,bus=pcie.0,chassis=7,addr=0x8",
	"-device", "pcie-root-port,id=rp7,bus=pcie.0,chassis=8,addr=0x9",
	"-chardev", "file,id=char-con,path=/run/sandboxfs/web/console.log,append=on",
	"-device", "virtio-serial-pci,id=vser-con,bus=rp0,addr=0x0",
	"-device", "virtconsole,id=con,bus=vser-con.0,chardev=char-con",
	"-blockdev", "driver=raw,node-name=drive-root,read-only=on,file.driver=file,file.filename=/img/root.img,file.read-only=on",
	"-device", "virtio-blk-pci,id=root,drive=drive-root,bus=rp1,addr=0x0",
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,file.filename=/img/d1.img,file.read-only=off",
	"-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp2,addr=0x0",
	"-netdev", "tap,id=net-n0,fd=4",
	"-device", "virtio-net-pci,id=n0,netdev=net-n0,mac=02:00:00:00:00:01,bus=rp3,addr=0x0",
	"-fsdev", "local,id=fs-p9,path=/srv/share,security_model=none",
	"-device", "virtio-9p-pci,id=p9,fsdev=fs-p9,mount_tag=p9,bus=rp4,addr=0x0",
	"-device", "vhost-vsock-pci,id=vs,guest-cid=3,vhostfd=5,bus=rp5,addr=0x0",
	"-object", "rng-random,id=rng-rng0,filename=/dev/urandom",
	"-device", "virtio-rng-pci,id=rng0,rng=rng-rng0,bus=rp6,addr=0x0",
};

static const char *const golden_ppc64le[] = {
	"/usr/bin/qemu-system-ppc64",
	"-name", "guest=web",
	"-uuid", UUID,
	"-machine", "pseries,usb=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off",
	"-accel", "tcg,thread=multi",
	"-smp", "1,sockets=4,cores=1,threads=1,maxcpus=4",
	"-m", "256M",
	"-nodefaults",
	"-no-user-config",
	"-display", "none",
	"-vga", "none",
	"-rtc", "base=utc,clock=host",
	"-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
	"-mon", "chardev=qmp,mode=control",
	"-chardev", "file,id=console,path=/run/sandboxfs/web/console.log,append=on",
	"-serial", "chardev:console",
	"-kernel", ARCH_KERNEL("ppc64le"),
	"-initrd", ARCH_INITRD("ppc64le"),
	"-append", "rcupdate.rcu_expedited=1 reboot=k console=hvc0 console=hvc1 cryptomgr.notests net.ifnames=0 quiet systemd.show_status=false root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4",
	"-device", "pci-bridge,id=pb0,bus=pci.0,chassis_nr=1,shpc=on,addr=0x2",
	"-device", "pci-bridge,id=pb1,bus=pci.0,chassis_nr=2,shpc=on,addr=0x3",
	"-device", "pci-bridge,id=pb2,bus=pci.0,chassis_nr=3,shpc=on,addr=0x4",
	"-device", "pci-bridge,id=pb3,bus=pci.0,chassis_nr=4,shpc=on,addr=0x5",
	"-chardev", "file,id=char-con,path=/run/sandboxfs/web/console.log,append=on",
	"-device", "virtio-serial-pci,id=vser-con,bus=pb0,addr=0x1",
	"-device", "virtconsole,id=con,bus=vser-con.0,chardev=char-con",
	"-blockdev", "driver=raw,node-name=drive-root,read-only=on,file.driver=file,file.filename=/img/root.img,file.read-only=on",
	"-device", "virtio-blk-pci,id=root,drive=drive-root,bus=pb0,addr=0x2",
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,file.filename=/img/d1.img,file.read-only=off",
	"-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=pb0,addr=0x3",
	"-netdev", "tap,id=net-n0,fd=4",
	"-device", "virtio-net-pci,id=n0,netdev=net-n0,mac=02:00:00:00:00:01,bus=pb0,addr=0x4",
	"-fsdev", "local,id=fs-p9,path=/srv/share,security_model=none,multidevs=remap",
	"-device", "virtio-9p-pci,id=p9,fsdev=fs-p9,mount_tag=p9,bus=pb0,addr=0x5",
	"-device", "vhost-vsock-pci,id=vs,guest-cid=3,vhostfd=5,bus=pb0,addr=0x6",
	"-object", "rng-random,id=rng-rng0,filename=/dev/urandom",
	"-device", "virtio-rng-pci,id=rng0,rng=rng-rng0,bus=pb0,addr=0x7",
};

static const char *const golden_s390x[] = {
	"/usr/bin/qemu-system-s390x",
	"-name", "guest=web",
	"-uuid", UUID,
	"-machine", "s390-ccw-virtio",
	"-accel", "tcg,thread=multi",
	"-smp", "1,sockets=4,cores=1,threads=1,maxcpus=4",
	"-m", "256M",
	"-nodefaults",
	"-no-user-config",
	"-display", "none",
	"-vga", "none",
	"-rtc", "base=utc,clock=host",
	"-chardev", "socket,id=qmp,fd=3,server=on,wait=off",
	"-mon", "chardev=qmp,mode=control",
	"-chardev", "file,id=console,path=/run/sandboxfs/web/console.log,append=on",
	"-serial", "chardev:console",
	"-kernel", ARCH_KERNEL("s390x"),
	"-initrd", ARCH_INITRD("s390x"),
	"-append", "console=ttysclp0 quiet systemd.show_status=false root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4",
	"-chardev", "file,id=char-con,path=/run/sandboxfs/web/console.log,append=on",
	"-device", "virtio-serial-ccw,id=vser-con,devno=fe.0.0000",
	"-device", "virtconsole,id=con,bus=vser-con.0,chardev=char-con",
	"-blockdev", "driver=raw,node-name=drive-root,read-only=on,file.driver=file,file.filename=/img/root.img,file.read-only=on",
	"-device", "virtio-blk-ccw,id=root,drive=drive-root,devno=fe.0.0001",
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,file.filename=/img/d1.img,file.read-only=off",
	"-device", "virtio-blk-ccw,id=d1,drive=drive-d1,devno=fe.0.0002",
	"-netdev", "tap,id=net-n0,fd=4",
	"-device", "virtio-net-ccw,id=n0,netdev=net-n0,mac=02:00:00:00:00:01,devno=fe.0.0003",
	"-fsdev", "local,id=fs-p9,path=/srv/share,security_model=none,multidevs=remap",
	"-device", "virtio-9p-ccw,id=p9,fsdev=fs-p9,mount_tag=p9,devno=fe.0.0004",
	"-device", "vhost-vsock-ccw,id=vs,guest-cid=3,vhostfd=5,devno=fe.0.0005",
	"-object", "rng-random,id=rng-rng0,filename=/dev/urandom",
	"-device", "virtio-rng-ccw,id=rng0,rng=rng-rng0,devno=fe.0.0006",
};

static const char *const logical_devices[] = {
	"{\"type\":\"console\",\"id\":\"con\"}",
	"{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/root.img\",\"as\":\"virtio-blk\"}",
	"{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/img/d1.img\"}",
	"{\"type\":\"net\",\"id\":\"n0\",\"ifname\":\"tap0\",\"mac\":\"02:00:00:00:00:01\"}",
	"{\"type\":\"9p\",\"id\":\"p9\",\"path\":\"/srv/share\"}",
	"{\"type\":\"vsock\",\"id\":\"vs\",\"cid\":3}",
	"{\"type\":\"rng\",\"id\":\"rng0\"}",
};

struct sandbox {
	struct vm_config cfg;
	struct vm_topology topo;
	struct vm_device *devs[16];
	size_t n;
};

static void set_defaults(void)
{
	struct vm_defaults d = { .guest_kernel = KERNEL, .guest_initrd = INITRD, .accel = NULL };
	vm_config_set_defaults(&d);
}

/* A config from `json` merged over the defaults; false (and *msg) on error. */
static int sb_init(struct sandbox *s, const char *json, char *msg, size_t len)
{
	set_defaults();
	memset(s, 0, sizeof(*s));
	vm_config_init(&s->cfg);
	cleanup_err struct err *e = NULL;
	int r = vm_config_merge(&s->cfg, json, false, &e);
	if (r < 0 && msg)
		snprintf(msg, len, "%s", e->msg);
	vm_config_topology(&s->cfg, &s->topo);
	return r;
}

static void sb_add(struct sandbox *s, const char *spec)
{
	cleanup_err struct err *e = NULL;
	struct vm_device *d = NULL;
	CU_ASSERT_EQUAL_FATAL(vm_device_parse(spec, &d, &e), 0);
	if (vm_device_is_pci(d))
		CU_ASSERT_EQUAL_FATAL(vm_topology_alloc(&s->topo, d->id, &d->bridge, &d->slot, &e), 0);
	s->devs[s->n++] = d;
}

static void sb_release(struct sandbox *s)
{
	for (size_t i = 0; i < s->n; i++)
		vm_device_free(s->devs[i]);
	vm_topology_release(&s->topo);
	vm_config_release(&s->cfg);
}

static int sb_build(struct sandbox *s, struct strv *argv, char *msg, size_t len)
{
	struct vm_cmdline_ctx ctx = { .name = "web", .console_log = "/run/sandboxfs/web/console.log" };
	cleanup_err struct err *e = NULL;
	int r = vm_cmdline_build(&s->cfg, &s->topo, s->devs, s->n, &ctx, argv, &e);
	if (r < 0 && msg)
		snprintf(msg, len, "%s", e->msg);
	return r;
}

static void golden(const char *arch, const char *extra, const char *const *want, size_t n)
{
	struct sandbox s;
	char msg[512] = "";
	cleanup_free char *json = xasprintf("{\"uuid\":\"" UUID "\",\"arch\":\"%s\"%s}", arch, extra);
	CU_ASSERT_EQUAL_FATAL(sb_init(&s, json, msg, sizeof(msg)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(logical_devices); i++)
		sb_add(&s, logical_devices[i]);
	cleanup_strv struct strv argv = {0};
	int r = sb_build(&s, &argv, msg, sizeof(msg));
	if (r < 0)
		fprintf(stderr, "\n  %s: %s\n", arch, msg);
	CU_ASSERT_EQUAL(r, 0);
	unit_assert_strv(&argv, want, n);
	sb_release(&s);
}

static void test_golden_x86_64(void)
{
	golden("x86_64", ",\"root_ports\":8", golden_x86_64, ARRAY_SIZE(golden_x86_64));
}
static void test_golden_aarch64(void)
{
	golden("aarch64", ",\"root_ports\":8", golden_aarch64, ARRAY_SIZE(golden_aarch64));
}
static void test_golden_ppc64le(void)
{
	golden("ppc64le", "", golden_ppc64le, ARRAY_SIZE(golden_ppc64le));
}
static void test_golden_s390x(void)
{
	golden("s390x", "", golden_s390x, ARRAY_SIZE(golden_s390x));
}

/* Config rules: the write fails with EINVAL and this message. */
static void test_config_rules(void)
{
	static const struct {
		const char *json, *msg;
	} c[] = {
		{ "{\"arch\":\"aarch64\",\"machine\":\"q35\"}", "unknown machine type: q35" },
		{ "{\"arch\":\"ppc64le\",\"machine\":\"virt\"}", "unknown machine type: virt" },
		{ "{\"arch\":\"s390x\",\"machine\":\"pseries\"}", "unknown machine type: pseries" },
		{ "{\"machine\":\"virt\"}", "unknown machine type: virt" },
		{ "{\"arch\":\"sparc64\"}", "arch: unknown architecture: sparc64" },
		{ "{\"arch\":\"aarch64\",\"machine_options\":\"usb=off,gic-version=2\",\"maxvcpus\":9}",
		  "maxvcpus: out of range (1..8): GICv2 supports at most 8 vCPUs" },
		{ "{\"arch\":\"aarch64\",\"maxvcpus\":124}",
		  "maxvcpus: out of range (1..123): GICv3/v4 supports at most 123 vCPUs" },
		{ "{\"arch\":\"aarch64\",\"pflash\":[\"/fw/code.fd\"]}",
		  "pflash: two pflash images needed for aarch64 (code and vars), got one" },
		{ "{\"arch\":\"aarch64\",\"pflash\":[\"/a\",\"/b\",\"/c\"]}", "pflash: at most 2 flash images" },
		{ "{\"arch\":\"aarch64\",\"accel\":\"kvm\"}",
		  "accel: kvm runs guests of the host's architecture" },
		{ "{\"arch\":\"s390x\",\"accel\":\"kvm\"}", "an s390x guest needs tcg" },
		{ "{\"arch\":\"aarch64\",\"root_ports\":241}", "root_ports: machine virt has 30 PCI device numbers" },
		{ "{\"arch\":\"ppc64le\",\"memory_mib\":300}",
		  "memory_mib: pseries memory must be a multiple of 256 MiB (is 300)" },
		{ "{\"arch\":\"ppc64le\",\"memory_slots\":1,\"maxmem_mib\":700}",
		  "maxmem_mib: pseries memory must be a multiple of 256 MiB (is 700)" },
		{ "{\"arch\":\"ppc64le\",\"maxvcpus\":2,\"threads\":2}",
		  "threads: TCG cannot run more than 1 thread per core on pseries" },
		{ "{\"arch\":\"ppc64le\",\"pcie_pci_bridges\":1}", "pcie_pci_bridges: machine pseries has no PCIe bus" },
		{ "{\"arch\":\"ppc64le\",\"pflash\":[\"/a\",\"/b\"]}", "pflash: pseries has no pflash" },
		{ "{\"arch\":\"ppc64le\",\"maxvcpus\":4097}", "maxvcpus: out of range (1..4096)" },
		{ "{\"arch\":\"s390x\",\"root_ports\":1}", "root_ports: s390x has no PCI bridges" },
		{ "{\"arch\":\"s390x\",\"pci_bridges\":1}", "root_ports: s390x has no PCI bridges" },
		{ "{\"arch\":\"s390x\",\"memory_slots\":1,\"maxmem_mib\":512}",
		  "memory_slots: s390x has no memory hotplug" },
		{ "{\"arch\":\"s390x\",\"maxvcpus\":249}",
		  "maxvcpus: out of range (1..248): s390-ccw-virtio takes at most 248 vCPUs" },
		{ "{\"arch\":\"aarch64\",\"rtc_driftfix\":\"slew\"}", "rtc_driftfix: slew is not available on aarch64" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct sandbox s;
		char msg[512] = "";
		int r = sb_init(&s, c[i].json, msg, sizeof(msg));
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, c[i].msg));
		if (r != -EINVAL || !strstr(msg, c[i].msg))
			fprintf(stderr, "\n  %s: got %d '%s', want '%s'\n", c[i].json, r, msg, c[i].msg);
		sb_release(&s);
	}
	/* the accepted side of the same rules */
	static const char *const ok[] = {
		"{\"arch\":\"aarch64\",\"machine_options\":\"usb=off,gic-version=2\",\"maxvcpus\":8}",
		"{\"arch\":\"aarch64\",\"maxvcpus\":123,\"vcpus\":2}",
		"{\"arch\":\"aarch64\",\"pflash\":[\"/fw/code.fd\",\"/fw/vars.fd\"]}",
		"{\"arch\":\"ppc64le\",\"memory_mib\":512,\"memory_slots\":1,\"maxmem_mib\":1024}",
		"{\"arch\":\"ppc64le\",\"maxvcpus\":4096}",
		"{\"arch\":\"s390x\",\"maxvcpus\":248}",
		"{\"arch\":\"x86_64\",\"pflash\":[\"/fw/code.fd\"]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct sandbox s;
		char msg[512] = "";
		int r = sb_init(&s, ok[i], msg, sizeof(msg));
		CU_ASSERT_EQUAL(r, 0);
		if (r)
			fprintf(stderr, "\n  %s: %s\n", ok[i], msg);
		sb_release(&s);
	}
}

/* Device rules decided by the arch: the argv build fails naming them. */
static void test_device_rules(void)
{
	static const struct {
		const char *cfg, *spec, *msg;
	} c[] = {
		{ "{\"arch\":\"aarch64\"}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "device viommu: type: aarch64 does not support a vIOMMU" },
		{ "{\"arch\":\"ppc64le\"}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "device viommu: type: ppc64le does not support a vIOMMU" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "device viommu: type: s390x does not support a vIOMMU" },
		{ "{\"machine\":\"pc\",\"root_ports\":0}", "{\"type\":\"iommu\",\"id\":\"viommu\"}",
		  "a vIOMMU needs machine q35 (machine is pc)" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/r.img\"}",
		  "device root: as: no NVDIMM image on s390x" },
		{ "{\"arch\":\"ppc64le\"}", "{\"type\":\"image\",\"id\":\"root\",\"file\":\"/img/r.img\"}",
		  "device root: as: no NVDIMM image on ppc64le" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"vfio\",\"id\":\"gpu\",\"host\":\"01:00.0\"}",
		  "device gpu: type: vfio-pci needs a PCI bus; s390x has CCW devices only" },
		{ "{\"arch\":\"s390x\"}", "{\"type\":\"vhost-user-blk\",\"id\":\"vb\",\"socket\":\"/run/vb.sock\"}",
		  "device vb: type: s390x has no vhost-user-blk-ccw" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct sandbox s;
		CU_ASSERT_EQUAL_FATAL(sb_init(&s, c[i].cfg, NULL, 0), 0);
		sb_add(&s, c[i].spec);
		cleanup_strv struct strv argv = {0};
		char msg[512] = "";
		int r = sb_build(&s, &argv, msg, sizeof(msg));
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, c[i].msg));
		if (r != -EINVAL || !strstr(msg, c[i].msg))
			fprintf(stderr, "\n  %s %s: got %d '%s', want '%s'\n", c[i].cfg, c[i].spec, r, msg,
				c[i].msg);
		CU_ASSERT_EQUAL(argv.n, 0);
		sb_release(&s);
	}
}

static const char *cfg_str(const struct vm_config *cfg, const char *key)
{
	static char buf[256];
	struct json_object *o = vm_config_to_json(cfg), *v;
	snprintf(buf, sizeof(buf), "%s",
		 json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "?");
	json_object_put(o);
	return buf;
}

/* A default follows the keys it depends on; a value the user set stays. */
static void test_defaults_follow(void)
{
	set_defaults();
	struct vm_config cfg;
	vm_config_init(&cfg);
	cleanup_err struct err *e = NULL;
	CU_ASSERT_STRING_EQUAL(cfg.arch, "x86_64");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"aarch64\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "virt");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "usb=off,gic-version=3");
	CU_ASSERT_STRING_EQUAL(cfg.rtc_driftfix, "none");
	CU_ASSERT_EQUAL(vm_config_strv_len(cfg.globals), 0);
	CU_ASSERT_EQUAL(cfg.root_ports, 4);
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "qemu"), "/usr/bin/qemu-system-aarch64");
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "cpu_model"), "max");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"s390x\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "s390-ccw-virtio");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "");
	CU_ASSERT_EQUAL(cfg.root_ports, 0);
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "qemu"), "/usr/bin/qemu-system-s390x");
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "cpu_model"), "");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"ppc64le\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "pseries");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options,
			       "usb=off,cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off");
	CU_ASSERT_EQUAL(cfg.root_ports, 4);
	CU_ASSERT_STRING_EQUAL(cfg_str(&cfg, "qemu"), "/usr/bin/qemu-system-ppc64");
	/* back home: every arch default returns */
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"x86_64\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "q35");
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "");
	CU_ASSERT_STRING_EQUAL(cfg.rtc_driftfix, "slew");
	CU_ASSERT_EQUAL_FATAL(vm_config_strv_len(cfg.globals), 1);
	CU_ASSERT_STRING_EQUAL(cfg.globals[0], "kvm-pit.lost_tick_policy=discard");
	/* values the user chose stay; the ones named in the write win */
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"root_ports\":2,\"machine_options\":\"usb=off\"}",
					      false, &e), 0);
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"aarch64\"}", false, &e), 0);
	CU_ASSERT_EQUAL(cfg.root_ports, 2);
	CU_ASSERT_STRING_EQUAL(cfg.machine_options, "usb=off");
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"x86_64\",\"machine\":\"pc\",\"root_ports\":0}",
					      false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.machine, "pc");
	/* the uuid is never re-drawn */
	cleanup_free char *uuid = xstrdup(cfg.uuid);
	CU_ASSERT_EQUAL_FATAL(vm_config_merge(&cfg, "{\"arch\":\"aarch64\",\"machine\":\"virt\"}", false, &e), 0);
	CU_ASSERT_STRING_EQUAL(cfg.uuid, uuid);
	/* persisted state without the arch-dependent keys gets the arch's */
	struct json_object *o = json_tokener_parse("{\"arch\":\"s390x\"}");
	struct vm_config back;
	vm_config_init(&back);
	CU_ASSERT_EQUAL(vm_config_from_json(&back, o, &e), 0);
	CU_ASSERT_STRING_EQUAL(back.machine, "s390-ccw-virtio");
	CU_ASSERT_EQUAL(back.root_ports, 0);
	json_object_put(o);
	vm_config_release(&back);
	vm_config_release(&cfg);
}

/* What each ops table decides. */
static void test_ops(void)
{
	static const struct {
		const char *arch, *machine, *qemu, *bad_machine;
	} m[] = {
		{ "x86_64", "q35", "/usr/bin/qemu-system-x86_64", "virt" },
		{ "aarch64", "virt", "/usr/bin/qemu-system-aarch64", "q35" },
		{ "ppc64le", "pseries", "/usr/bin/qemu-system-ppc64", "powernv" },
		{ "s390x", "s390-ccw-virtio", "/usr/bin/qemu-system-s390x", "virt" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
		const struct arch_ops *a = arch_lookup(m[i].arch);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_STRING_EQUAL(a->name, m[i].arch);
		CU_ASSERT_STRING_EQUAL(a->default_machine, m[i].machine);
		CU_ASSERT_STRING_EQUAL(a->qemu_binary(m[i].machine), m[i].qemu);
		CU_ASSERT_PTR_NULL(a->qemu_binary(m[i].bad_machine));
		CU_ASSERT_PTR_NULL(a->qemu_binary(NULL));
		unsigned all = ARCH_CAP_MULTIQUEUE | ARCH_CAP_FS_SHARING;
		CU_ASSERT_EQUAL(a->caps & all, all);
	}
	CU_ASSERT_PTR_NULL(arch_lookup("ppc64"));
	CU_ASSERT_STRING_EQUAL(arch_host(), "x86_64");
	const struct arch_ops *arm = &arch_aarch64, *ppc = &arch_ppc64le, *s390 = &arch_s390x;
	/* x-ignore-shared: not on aarch64; 9p multidevs: not on aarch64 */
	CU_ASSERT_FALSE(arm->ignore_shared);
	CU_ASSERT_TRUE(arch_x86_64.ignore_shared && ppc->ignore_shared && s390->ignore_shared);
	CU_ASSERT_FALSE(arm->p9_multidevs);
	CU_ASSERT_TRUE(arch_x86_64.p9_multidevs);
	/* vIOMMU only on x86_64 q35; NVDIMM on x86_64 and aarch64 */
	CU_ASSERT_PTR_NULL(arm->iommu_driver);
	CU_ASSERT_PTR_NULL(ppc->iommu_driver);
	CU_ASSERT_PTR_NULL(s390->iommu_driver);
	CU_ASSERT_STRING_EQUAL(arm->nvdimm_option, "nvdimm=on");
	CU_ASSERT_PTR_NULL(ppc->nvdimm_option);
	CU_ASSERT_PTR_NULL(s390->nvdimm_option);
	/* bridges: type, bus, first address */
	CU_ASSERT_STRING_EQUAL(arm->bridge_driver, "pcie-root-port");
	CU_ASSERT_STRING_EQUAL(arm->bridge_bus, "pcie.0");
	CU_ASSERT_STRING_EQUAL(ppc->bridge_driver, "pci-bridge");
	CU_ASSERT_STRING_EQUAL(ppc->bridge_bus, "pci.0");
	CU_ASSERT_EQUAL(arm->bridge_first_addr, 2);
	CU_ASSERT_EQUAL(ppc->bridge_first_addr, 2);
	CU_ASSERT_TRUE(s390->ccw);
	CU_ASSERT_STRING_EQUAL(s390->virtio_suffix, "-ccw");
	CU_ASSERT_STRING_EQUAL(s390->blk_driver, "virtio-blk-ccw");
	/* memory */
	CU_ASSERT_EQUAL(ppc->memory_align_mib, 256);
	CU_ASSERT_FALSE(s390->memory_hotplug);
	CU_ASSERT_TRUE(arm->memory_hotplug);
	/* machine options and CPU per accelerator */
	CU_ASSERT_STRING_EQUAL(arm->machine_options("virt", "kvm"), "usb=off,gic-version=host");
	CU_ASSERT_STRING_EQUAL(arm->machine_options("virt", "tcg,thread=multi"), "usb=off,gic-version=3");
	CU_ASSERT_STRING_EQUAL(ppc->machine_options("pseries", "kvm"), "usb=off");
	struct arch_vm cfg = { .accel = "kvm", .machine_options = "usb=off,gic-version=host" };
	CU_ASSERT_STRING_EQUAL(arm->cpu_model(&cfg), "host");
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 123);
	CU_ASSERT_EQUAL(ppc->max_vcpus(&cfg), 128);
	CU_ASSERT_STRING_EQUAL(ppc->cpu_model(&cfg), "host");
	CU_ASSERT_STRING_EQUAL(s390->cpu_model(&cfg), "host");
	cfg.machine_options = "gic-version=4,usb=off";
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 123);
	cfg.machine_options = "usb=off,gic-version=2";
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 8);
	cfg.machine_options = "usb=off,xgic-version=2";
	CU_ASSERT_EQUAL(arm->max_vcpus(&cfg), 123);
	cfg.accel = "tcg";
	CU_ASSERT_STRING_EQUAL(arm->cpu_model(&cfg), "max");
	CU_ASSERT_PTR_NULL(ppc->cpu_model(&cfg));
	CU_ASSERT_EQUAL(ppc->max_vcpus(&cfg), 4096);
	CU_ASSERT_EQUAL(s390->max_vcpus(&cfg), 248);
	CU_ASSERT_TRUE(arch_accel_is_tcg("tcg,thread=single"));
	CU_ASSERT_FALSE(arch_accel_is_tcg("tcgx"));
	CU_ASSERT_FALSE(arch_accel_is_tcg("kvm"));
}

/* s390x: the CCW subchannel set is the only "bridge"; slots are devnos. */
static void test_ccw_topology(void)
{
	struct sandbox s;
	CU_ASSERT_EQUAL_FATAL(sb_init(&s, "{\"arch\":\"s390x\"}", NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(s.topo.n, 1);
	CU_ASSERT_STRING_EQUAL(s.topo.bridges[0].id, "ccw");
	CU_ASSERT_EQUAL(vm_topology_find(&s.topo, "ccw"), 0);
	CU_ASSERT_EQUAL(vm_topology_free_slots(&s.topo), 256);
	sb_add(&s, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/img/d1.img\"}");
	sb_add(&s, "{\"type\":\"rng\",\"id\":\"rng0\"}");
	CU_ASSERT_EQUAL(s.devs[1]->slot, 1);
	struct sbuf out = {0};
	vm_topology_show(&s.topo.bridges[0], &out);
	CU_ASSERT_STRING_EQUAL(out.s, "type ccw\nbus virtual-css\ndevnos fe.0.0000-fe.0.00ff\nfree 254\n"
				      "devno fe.0.0000 d1\ndevno fe.0.0001 rng0\n");
	sbuf_release(&out);
	vm_topology_guest_addr(&s.topo, s.devs[1]->bridge, s.devs[1]->slot, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "fe.0.0001");
	sbuf_release(&out);
	CU_ASSERT_EQUAL(vm_topology_slot_addr(&s.topo, 0, 255), 255);
	CU_ASSERT_EQUAL(vm_topology_slot_addr(&s.topo, 0, 256), -1);
	/* no -device for the set itself */
	cleanup_strv struct strv argv = {0};
	vm_topology_argv(&s.topo, &argv);
	CU_ASSERT_EQUAL(argv.n, 0);
	/* freeing a devno makes it the next one handed out */
	vm_topology_free(&s.topo, 0, 0);
	int b, sl;
	CU_ASSERT_EQUAL(vm_topology_alloc(&s.topo, "x", &b, &sl, NULL), 0);
	CU_ASSERT_EQUAL(sl, 0);
	sb_release(&s);

	/* pseries: the hotplug bridges are pci-bridges pb<i>; extra
	 * pci_bridges continue the numbering */
	CU_ASSERT_EQUAL_FATAL(sb_init(&s, "{\"arch\":\"ppc64le\",\"root_ports\":2,\"pci_bridges\":1}",
				      NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(s.topo.n, 3);
	CU_ASSERT_STRING_EQUAL(s.topo.bridges[0].id, "pb0");
	CU_ASSERT_STRING_EQUAL(s.topo.bridges[2].id, "pb2");
	CU_ASSERT_EQUAL(s.topo.bridges[2].addr, 4);
	sb_add(&s, "{\"type\":\"rng\",\"id\":\"rng0\"}");
	vm_topology_guest_addr(&s.topo, s.devs[0]->bridge, s.devs[0]->slot, &out);
	CU_ASSERT_STRING_EQUAL(out.s, "02/01");
	sbuf_release(&out);
	sb_release(&s);
}

/* The hot-add QMP parts are placed the arch's way; with disable_modern
 * (Kata nestedRun) the PCI arches go legacy-only and CCW, which has no
 * such property, is left alone.  The env is the one the daemon's hot-add
 * path builds (vm/sandbox/devices.c device_parts: disable_modern from
 * the config). */
static void test_hotplug_parts(void)
{
	static const struct {
		const char *arch, *want;
	} c[] = {
		{ "s390x", "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-ccw\","
			   "\"id\":\"d1\",\"drive\":\"drive-d1\",\"devno\":\"fe.0.0000\"}}" },
		{ "aarch64", "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
			     "\"id\":\"d1\",\"drive\":\"drive-d1\",\"bus\":\"rp0\",\"addr\":\"0x0\","
			     "\"disable-modern\":true,\"disable-legacy\":false}}" },
		{ "ppc64le", "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"virtio-blk-pci\","
			     "\"id\":\"d1\",\"drive\":\"drive-d1\",\"bus\":\"pb0\",\"addr\":\"0x1\","
			     "\"disable-modern\":true,\"disable-legacy\":false}}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		struct sandbox s;
		cleanup_free char *json = xasprintf("{\"arch\":\"%s\",\"disable_modern\":true}", c[i].arch);
		CU_ASSERT_EQUAL_FATAL(sb_init(&s, json, NULL, 0), 0);
		sb_add(&s, "{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/img/d1.img\"}");
		const struct vm_device *d = s.devs[0];
		CU_ASSERT_TRUE(s.cfg.disable_modern);
		struct vm_dev_env env = { .arch = vm_config_arch(&s.cfg),
					  .bus = s.topo.bridges[d->bridge].id,
					  .addr = vm_topology_slot_addr(&s.topo, d->bridge, d->slot),
					  .disable_modern = s.cfg.disable_modern };
		struct vm_dev_parts p = {0};
		cleanup_err struct err *e = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_device_parts(d, &env, &p, &e), 0);
		struct json_object *cmds = NULL;
		CU_ASSERT_EQUAL_FATAL(vm_dev_parts_qmp(&p, &cmds, &e), 0);
		CU_ASSERT_EQUAL(json_object_array_length(cmds), 2);
		const char *got = json_object_to_json_string_ext(json_object_array_get_idx(cmds, 1),
								 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		CU_ASSERT_STRING_EQUAL(got, c[i].want);
		if (strcmp(got, c[i].want))
			fprintf(stderr, "\n  %s: %s\n", c[i].arch, got);
		json_object_put(cmds);
		vm_dev_parts_release(&p);
		sb_release(&s);
	}
	/* multiqueue net on CCW: no MSI-X vectors */
	struct sandbox s;
	CU_ASSERT_EQUAL_FATAL(sb_init(&s, "{\"arch\":\"s390x\"}", NULL, 0), 0);
	sb_add(&s, "{\"type\":\"net\",\"id\":\"n1\",\"ifname\":\"tap1\",\"queues\":2}");
	cleanup_strv struct strv argv = {0};
	CU_ASSERT_EQUAL(sb_build(&s, &argv, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(argv.v[argv.n - 1], "virtio-net-ccw,id=n1,netdev=net-n1,mq=on,devno=fe.0.0000");
	sb_release(&s);
}

/* aarch64 takes an nvdimm root image with DAX (Kata's arm64 default). */
static void test_aarch64_nvdimm_pflash(void)
{
	cleanup_free char *img = xstrdup("/tmp/sbfs-test-arch-XXXXXX");
	int fd = mkstemp(img);
	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	struct sandbox s;
	CU_ASSERT_EQUAL_FATAL(sb_init(&s, "{\"arch\":\"aarch64\",\"memory_slots\":1,\"maxmem_mib\":512,"
					  "\"pflash\":[\"/fw/code.fd\",\"/fw/vars,1.fd\"]}", NULL, 0), 0);
	cleanup_free char *spec = xasprintf("{\"type\":\"image\",\"id\":\"root\",\"file\":\"%s\",\"dax\":true}", img);
	sb_add(&s, spec);
	cleanup_strv struct strv argv = {0};
	char msg[256] = "";
	CU_ASSERT_EQUAL(sb_build(&s, &argv, msg, sizeof(msg)), 0);
	bool machine = false, append = false, pf0 = false, pf1 = false;
	for (size_t i = 0; i + 1 < argv.n; i++) {
		machine |= !strcmp(argv.v[i + 1], "virt,usb=off,gic-version=3,nvdimm=on");
		append |= strstr(argv.v[i + 1], "root=/dev/pmem0p1 rootflags=dax,data=ordered") != NULL;
		pf0 |= !strcmp(argv.v[i + 1], "if=pflash,format=raw,unit=0,file=/fw/code.fd");
		pf1 |= !strcmp(argv.v[i + 1], "if=pflash,format=raw,unit=1,file=/fw/vars,,1.fd");
	}
	CU_ASSERT(machine && append && pf0 && pf1);
	sb_release(&s);
	unlink(img);
}

int main(void)
{
	static const struct unit_test tests[] = {
		{ "golden_x86_64", test_golden_x86_64 },
		{ "golden_aarch64", test_golden_aarch64 },
		{ "golden_ppc64le", test_golden_ppc64le },
		{ "golden_s390x", test_golden_s390x },
		{ "config_rules", test_config_rules },
		{ "device_rules", test_device_rules },
		{ "defaults_follow", test_defaults_follow },
		{ "ops", test_ops },
		{ "ccw_and_pseries_topology", test_ccw_topology },
		{ "hotplug_parts", test_hotplug_parts },
		{ "aarch64_nvdimm_pflash", test_aarch64_nvdimm_pflash },
	};
	int rc = unit_main("arch", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
