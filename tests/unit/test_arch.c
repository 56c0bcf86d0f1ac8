/*
 * test_arch — the four architectures behind the arch ops table: a golden
 * argv per architecture for the same logical config (console, root image,
 * block, net, 9p, vsock, rng; the PCIe arches get 8 root ports so every
 * device has one, pseries its default 4 pci-bridges, s390x its CCW set).
 * The per-architecture rules that reject input and the defaults that
 * follow the arch: test_arch_rules; the ops' decisions, the s390x CCW and
 * pseries topology, the hot-add QMP parts and aarch64's nvdimm root with
 * pflash: test_arch_ops.
 */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "tests/unit/support_cmdline.h"
#include "tests/unit/support_cunit.h"
#include "vm/model/config.h"

/* another architecture's built-in guest sits beside the host's */
#define ARCH_KERNEL(a) "/opt/sandboxfs/guest-" a "/vmlinuz"
#define ARCH_INITRD(a) "/opt/sandboxfs/guest-" a "/initramfs.cpio.gz"

static const char *const golden_x86_64[] = {
	"/usr/bin/qemu-system-x86_64",
	"-name", "guest=web",
	"-uuid", SCMD_UUID,
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
	"-kernel", SCMD_KERNEL,
	"-initrd", SCMD_INITRD,
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
	"-uuid", SCMD_UUID,
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
	"-uuid", SCMD_UUID,
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
	"-uuid", SCMD_UUID,
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

static void golden(const char *arch, const char *extra, const char *const *want, size_t n)
{
	struct scmd_sb s;
	char msg[512] = "";
	cleanup_free char *json = xasprintf("{\"uuid\":\"" SCMD_UUID "\",\"arch\":\"%s\"%s}", arch, extra);
	CU_ASSERT_EQUAL_FATAL(scmd_init_json(&s, json, msg, sizeof(msg)), 0);
	for (size_t i = 0; i < ARRAY_SIZE(logical_devices); i++)
		scmd_add(&s, logical_devices[i]);
	cleanup_strv struct strv argv = {0};
	int r = scmd_build_web(&s, &argv, msg, sizeof(msg));
	if (r < 0)
		fprintf(stderr, "\n  %s: %s\n", arch, msg);
	CU_ASSERT_EQUAL(r, 0);
	unit_assert_strv(&argv, want, n);
	scmd_release(&s);
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

int main(void)
{
	static const struct unit_test tests[] = {
		{ "golden_x86_64", test_golden_x86_64 },
		{ "golden_aarch64", test_golden_aarch64 },
		{ "golden_ppc64le", test_golden_ppc64le },
		{ "golden_s390x", test_golden_s390x },
	};
	int rc = unit_main("arch", tests, ARRAY_SIZE(tests));
	vm_config_set_defaults(NULL);
	return rc;
}
