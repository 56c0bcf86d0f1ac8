/*
 * golden_knobs — the "knobs" sandbox, defined once: test_cmdline_knobs
 * checks its golden argv (test_cmdline again, as built for QEMU 7.2 and
 * 10.0), test_accept_knobs starts the same config with the real QEMU
 * (file paths pointed at real files) and proves every row is accepted.
 *
 * KNOBS_CONFIG is merged after {"uuid": KNOBS_UUID}; the devices are added
 * in order, each PCI one placed in the first free slot of the topology the
 * whole config builds (vm_config_topology), as the daemon places them.
 * The context is name KNOBS_NAME, console log KNOBS_CONSOLE_LOG, with a
 * descriptor plan.  Paths that must exist for QEMU: KNOBS_NV_IMG (64 MiB),
 * "/d1.img", "/fw/bios,1.bin", "/c.log" (created by QEMU).
 *
 * KNOB_VARIANTS: one key (or a few) at a time over the default config,
 * with one block device d1 "/d1.img": the option and value that must be
 * in the argv.
 */
#ifndef SANDBOXFS_GOLDEN_KNOBS_H
#define SANDBOXFS_GOLDEN_KNOBS_H

#define KNOBS_UUID "6f1d0c0e-3a5b-4c2d-8e9f-0123456789ab"
#define KNOBS_NV_IMG "/tmp/sbfs-cmdline-nv.img"
#define KNOBS_NAME "vm"
#define KNOBS_CONSOLE_LOG "/c.log"

#define KNOBS_CONFIG                                                                         \
	"{\"machine_options\":\"smm=off\",\"machine_accelerators\":\"smbus=off\","             \
	"\"name\":\"n,1\",\"vcpus\":2,\"maxvcpus\":8,\"sockets\":2,\"cores\":2,"             \
	"\"threads\":2,\"memory_mib\":512,\"memory_slots\":2,\"maxmem_mib\":1024,"           \
	"\"hugepages\":true,\"mem_prealloc\":true,\"mlock\":true,"                          \
	"\"nodefaults\":false,\"no_user_config\":false,\"nographic\":true,"                  \
	"\"vga\":\"std\",\"rtc_base\":\"localtime\",\"rtc_clock\":\"vm\","                   \
	"\"rtc_driftfix\":\"none\",\"globals\":[\"a.b=c,d\",\"e.f=g\"],"                      \
	"\"bios\":\"/fw/bios,1.bin\",\"iothreads\":2,\"root_ports\":1,"                        \
	"\"pci_bridges\":1,\"pcie_pci_bridges\":1,\"bridge_shpc\":true,"                      \
	"\"kernel_params\":\"quiet=0\"}"

#define KNOBS_DEVICES                                                                       \
	"{\"type\":\"image\",\"id\":\"root\",\"file\":\"" KNOBS_NV_IMG "\",\"dax\":true}",    \
	"{\"type\":\"block\",\"id\":\"d1\",\"file\":\"/d1.img\",\"iothread\":\"iothread1\"}", \
	"{\"type\":\"rng\",\"id\":\"rng0\"}",                                                 \
	"{\"type\":\"iommu\",\"id\":\"viommu\"}"

/* The golden argv (its first element is the QEMU binary). */
#define KNOBS_WANT \
	"/usr/bin/qemu-system-x86_64", \
	"-name", "guest=n,,1", \
	"-uuid", KNOBS_UUID, \
	"-machine", "q35,smm=off,smbus=off,nvdimm=on", \
	"-accel", "tcg,thread=multi", \
	"-smp", "2,sockets=2,cores=2,threads=2,maxcpus=8", \
	"-m", "512M,slots=2,maxmem=1024M", \
	"-object", "memory-backend-file,id=dimm1,size=512M,mem-path=/dev/hugepages,share=on,prealloc=on", \
	"-numa", "node,memdev=dimm1", \
	"-overcommit", "mem-lock=on", \
	"-nic", "none", \
	"-nographic", \
	"-vga", "std", \
	"-rtc", "base=localtime,clock=vm", \
	"-global", "a.b=c,d", \
	"-global", "e.f=g", \
	"-bios", "/fw/bios,1.bin", \
	"-chardev", "socket,id=qmp,fd=3,server=on,wait=off", \
	"-mon", "chardev=qmp,mode=control", \
	"-chardev", "file,id=console,path=/c.log,append=on", \
	"-serial", "chardev:console", \
	"-kernel", "/opt/sandboxfs/guest/vmlinuz", \
	"-initrd", "/opt/sandboxfs/guest/initramfs.cpio.gz", \
	"-append", "console=ttyS0 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests net.ifnames=0 panic=1 quiet systemd.show_status=false root=/dev/pmem0p1 rootflags=dax,data=ordered,errors=remount-ro ro rootfstype=ext4 quiet=0", \
	"-object", "iothread,id=iothread0", \
	"-object", "iothread,id=iothread1", \
	"-device", "intel-iommu,id=viommu,intremap=on,device-iotlb=on,caching-mode=on", \
	"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x2", \
	"-device", "pci-bridge,id=pb0,bus=pcie.0,chassis_nr=2,shpc=on,addr=0x3", \
	"-device", "pcie-pci-bridge,id=ppb0,bus=pcie.0,addr=0x4", \
	"-object", "memory-backend-file,id=mem-root,mem-path=" KNOBS_NV_IMG ",size=67108864,readonly=on", \
	"-device", "nvdimm,id=root,memdev=mem-root,unarmed=on", \
	"-blockdev", "driver=raw,node-name=drive-d1,read-only=off,file.driver=file,file.filename=/d1.img,file.read-only=off", \
	"-device", "virtio-blk-pci,id=d1,drive=drive-d1,iothread=iothread1,bus=rp0,addr=0x0", \
	"-object", "rng-random,id=rng-rng0,filename=/dev/urandom", \
	"-device", "virtio-rng-pci,id=rng0,rng=rng-rng0,bus=pb0,addr=0x1"

struct knob_variant {
	const char *cfg, *opt, *val;
};

#define KNOB_VARIANTS                                                                        \
	{ "{\"mem_shared\":true}", "-object", "memory-backend-memfd,id=dimm1,size=256M,share=on" }, \
	{ "{\"mem_prealloc\":true}", "-object", "memory-backend-ram,id=dimm1,size=256M,prealloc=on" }, \
	{ "{\"hugepages\":true}", "-object",                                                   \
	  "memory-backend-file,id=dimm1,size=256M,mem-path=/dev/hugepages,share=on" },       \
	{ "{\"mem_prealloc\":true}", "-numa", "node,memdev=dimm1" },                            \
	{ "{\"realtime\":true}", "-overcommit", "mem-lock=off" },                               \
	{ "{\"mlock\":true}", "-overcommit", "mem-lock=on" },                                   \
	{ "{\"pflash\":[\"/fw/code,1.fd\",\"/fw/vars.fd\"]}", "-drive",                         \
	  "if=pflash,format=raw,unit=1,file=/fw/vars.fd" },                                   \
	{ "{\"pflash\":[\"/fw/code,1.fd\"]}", "-drive",                                         \
	  "if=pflash,format=raw,unit=0,file=/fw/code,,1.fd" },                                \
	{ "{\"machine_accelerators\":\",smm=off\"}", "-machine", "q35,smm=off" },                  \
	{ "{\"machine\":\"pc\",\"root_ports\":0,\"pci_bridges\":1}", "-device",                 \
	  "pci-bridge,id=pb0,bus=pci.0,chassis_nr=1,shpc=off,addr=0x2" },                     \
	{ "{\"disable_modern\":true}", "-device",                                               \
	  "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp0,addr=0x0,disable-modern=on,disable-legacy=off" }

#endif
