# sandboxfs — plain Makefile.  Sources are picked up by wildcard so that a
# new module needs no edit here: lib/ fs/ vm/*/ arch/ qmp/ form the daemon,
# tests/unit/test_*.c are CUnit programs (one per module), each linked
# against everything but fs/main.c.

CC       ?= cc
PKGS      = fuse3 json-c
CFLAGS   ?= -O2 -g
WARN      = -std=c17 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter \
            -Wno-missing-field-initializers
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lpthread
SAN       = -fsanitize=address,undefined -fno-omit-frame-pointer

B        := build
CORE_SRC := $(wildcard lib/*.c qmp/*.c arch/*.c vm/*/*.c) $(filter-out fs/main.c,$(wildcard fs/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_SUPPORT := $(wildcard tests/unit/support_*.c)
UNITS    := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRC))
UNITS_SAN:= $(patsubst tests/unit/%.c,$(B)/unit-san/%,$(UNIT_SRC))
HELPERS  := $(patsubst tests/%.c,$(B)/%,$(wildcard tests/helpers/*.c))

prefix   ?= /usr/local
GUEST    := $(B)/guest

.SECONDARY:
.PHONY: all check unit unit-san e2e guest clean install fuzz fuzz-run bench
all: $(B)/sandboxfs $(HELPERS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<
$(B)/obj-san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(SAN) -MMD -MP -c -o $@ $<

CORE_OBJ     := $(patsubst %.c,$(B)/obj/%.o,$(CORE_SRC))
CORE_OBJ_SAN := $(patsubst %.c,$(B)/obj-san/%.o,$(CORE_SRC))

$(B)/sandboxfs: $(CORE_OBJ) $(B)/obj/fs/main.o
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/unit/%: $(B)/obj/tests/unit/%.o $(CORE_OBJ) $(patsubst %.c,$(B)/obj/%.o,$(UNIT_SUPPORT))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcunit
$(B)/unit-san/%: $(B)/obj-san/tests/unit/%.o $(CORE_OBJ_SAN) $(patsubst %.c,$(B)/obj-san/%.o,$(UNIT_SUPPORT))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS) -lcunit
$(B)/helpers/%: $(B)/obj/tests/helpers/%.o $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The built-in default guest: Debian cloud kernel + busybox initramfs.
guest: $(GUEST)/initramfs.cpio.gz
$(GUEST)/initramfs.cpio.gz: scripts/build-guest.sh scripts/guest-init
	scripts/build-guest.sh $(GUEST)

# The same guest for aarch64 (arm64 kernel and busybox, downloaded and
# unpacked, never installed); for sandboxes whose config says "arch":"aarch64".
.PHONY: guest-aarch64
guest-aarch64: $(B)/guest-aarch64/initramfs.cpio.gz
$(B)/guest-aarch64/initramfs.cpio.gz: scripts/build-guest.sh scripts/guest-init
	scripts/build-guest.sh $(B)/guest-aarch64 aarch64

# And for ppc64le (pseries: Debian ppc64el's powerpc64le kernel, an ELF
# vmlinux) and s390x (s390-ccw-virtio: Debian's s390x kernel); Debian has no
# cloud flavour there.  Same downloading, same unpacking, nothing installed.
.PHONY: guest-ppc64le guest-s390x
guest-ppc64le: $(B)/guest-ppc64le/initramfs.cpio.gz
$(B)/guest-ppc64le/initramfs.cpio.gz: scripts/build-guest.sh scripts/guest-init
	scripts/build-guest.sh $(B)/guest-ppc64le ppc64le
guest-s390x: $(B)/guest-s390x/initramfs.cpio.gz
$(B)/guest-s390x/initramfs.cpio.gz: scripts/build-guest.sh scripts/guest-init
	scripts/build-guest.sh $(B)/guest-s390x s390x

# A second QEMU, 10.0 from bookworm-backports, unpacked into build/qemu-10
# beside the system's 7.2 (never installed); checked by booting the
# built-in guest.  Run it as build/qemu-10/bin/qemu-system-x86_64 (a wrapper
# that passes -L and QEMU_MODULE_DIR; scripts/fetch-qemu.sh says why).
.PHONY: qemu-10
qemu-10: guest
	scripts/fetch-qemu.sh $(B)/qemu-10 $(GUEST)

unit: $(UNITS)
	@tests/run-units.sh $(UNITS)
unit-san: $(UNITS_SAN)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  tests/run-units.sh $(UNITS_SAN)
e2e: all guest
	@tests/run-e2e.sh
# check runs the real-QEMU acceptance against the system's QEMU and against
# QEMU 10 (build/qemu-10, fetched here when root can: scripts/fetch-qemu.sh
# adds an apt source; without it the second pass is a skip, and under
# CI=true a failure): docs/testing.md.
CHECK_QEMU10 := $(if $(filter 0,$(shell id -u)),qemu-10)
check: all guest $(UNITS) $(UNITS_SAN) fuzz-run $(CHECK_QEMU10)
	@tests/run-all.sh

# libFuzzer over the config / device-spec JSON parsers (clang).  `make fuzz`
# builds it; `make fuzz-run` (part of check) runs it FUZZ_SECONDS seconds
# from the seed corpus in fuzz/corpus; a crash, sanitizer report or leak fails.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRC     := $(wildcard lib/*.c arch/*.c vm/model/*.c) qmp/qmp_keyval.c vm/qemu/cmdline.c vm/qemu/version.c
fuzz: $(B)/fuzz/fuzz_config
$(B)/fuzz/fuzz_config: fuzz/fuzz_config.c $(FUZZ_SRC) $(wildcard lib/*.h arch/*.h vm/*/*.h qmp/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -g -O1 $(WARN) -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -o $@ fuzz/fuzz_config.c $(FUZZ_SRC) \
	  $(shell pkg-config --libs json-c) -lpthread
fuzz-run: $(B)/fuzz/fuzz_config
	@mkdir -p $(B)/fuzz/corpus
	@echo "fuzz: $(FUZZ_SECONDS) s of libFuzzer over the config/device parsers"
	@ASAN_OPTIONS=detect_leaks=1 $< -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -print_final_stats=1 $(B)/fuzz/corpus fuzz/corpus > $(B)/fuzz/run.log 2>&1 || \
	  { tail -n 60 $(B)/fuzz/run.log; echo "fuzz: FAILED (log: $(B)/fuzz/run.log)"; exit 1; }
	@grep -E '^Done [0-9]+ runs' $(B)/fuzz/run.log | sed 's/^/fuzz: /'

# The benchmark: bench/run measures sandboxfs against raw QMP side by side
# and writes bench/results/.  `make bench LIBVIRT=1` adds libvirt.
# bench/floorfs.c is libfuse's own hello example (#included from
# libfuse3-dev's examples) with direct_io, mounted beside sandboxfs as the
# floor of every read and write; floorfs-cached is the example as shipped.
FLOOR_EX  ?= /usr/share/doc/libfuse3-dev/examples
FLOOR_FLAGS = -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare -I$(FLOOR_EX)
$(B)/bench/sbbench: $(wildcard bench/sb*.c) bench/sb.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $(filter %.c,$^) $(LDLIBS)
$(B)/bench/floorfs: bench/floorfs.c $(FLOOR_EX)/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(FLOOR_FLAGS) -DFLOORFS_DIRECT_IO -DFLOORFS_WRITE -o $@ $< $(shell pkg-config --cflags --libs fuse3)
$(B)/bench/floorfs-cached: bench/floorfs.c $(FLOOR_EX)/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(FLOOR_FLAGS) -o $@ $< $(shell pkg-config --cflags --libs fuse3)
$(B)/bench/obsbench: bench/obsbench.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $<
bench: all guest $(B)/bench/sbbench $(B)/bench/obsbench $(B)/bench/floorfs $(B)/bench/floorfs-cached
	bench/run $(if $(LIBVIRT),--libvirt)

# make install / make uninstall [prefix=/usr/local] [DESTDIR=...]: what a
# node needs, and exactly what the Debian package ships (debian/rules runs
# this with prefix=/usr).  guestdir is compiled into the daemon as its
# built-in guest directory (when no guest/ sits beside the binary); the
# guest is built there, never shipped: $(pkglibdir)/build-guest.sh $(guestdir)
# (docs/deploy.md).
bindir     ?= $(prefix)/bin
mandir     ?= $(prefix)/share/man
pkglibdir  ?= $(prefix)/lib/sandboxfs
guestdir   ?= $(prefix)/share/sandboxfs/guest
sysconfdir ?= $(if $(filter /usr,$(prefix)),/etc,$(prefix)/etc)
unitdir    ?= $(prefix)/lib/systemd/system
.PHONY: uninstall FORCE
# Rebuild options.o when guestdir changes (the file changes only then).
$(B)/guestdir: FORCE
	@mkdir -p $(B); echo '$(guestdir)' | cmp -s - $@ || echo '$(guestdir)' > $@
$(B)/obj/fs/options.o $(B)/obj-san/fs/options.o: $(B)/guestdir
$(B)/obj/fs/options.o $(B)/obj-san/fs/options.o: CPPFLAGS += -DSANDBOXFS_GUEST_DIR='"$(guestdir)"'
INSTALL_SUBST = sed -e 's|@bindir@|$(bindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
                    -e 's|@pkglibdir@|$(pkglibdir)|g' -e 's|@guestdir@|$(guestdir)|g'
install: $(B)/sandboxfs
	install -D -m 0755 $(B)/sandboxfs $(DESTDIR)$(bindir)/sandboxfs
	install -D -m 0644 docs/sandboxfs.1 $(DESTDIR)$(mandir)/man1/sandboxfs.1
	install -D -m 0755 scripts/build-guest.sh $(DESTDIR)$(pkglibdir)/build-guest.sh
	install -D -m 0755 scripts/guest-init $(DESTDIR)$(pkglibdir)/guest-init
	install -d $(DESTDIR)$(unitdir) $(DESTDIR)$(sysconfdir)/default
	$(INSTALL_SUBST) deploy/systemd/sandboxfs.service.in > $(DESTDIR)$(unitdir)/sandboxfs.service
	chmod 0644 $(DESTDIR)$(unitdir)/sandboxfs.service
	$(INSTALL_SUBST) deploy/systemd/sandboxfs.default > $(DESTDIR)$(sysconfdir)/default/sandboxfs
	chmod 0644 $(DESTDIR)$(sysconfdir)/default/sandboxfs
uninstall:
	rm -f $(DESTDIR)$(bindir)/sandboxfs $(DESTDIR)$(mandir)/man1/sandboxfs.1 \
	      $(DESTDIR)$(pkglibdir)/build-guest.sh $(DESTDIR)$(pkglibdir)/guest-init \
	      $(DESTDIR)$(unitdir)/sandboxfs.service $(DESTDIR)$(sysconfdir)/default/sandboxfs
	-rmdir $(DESTDIR)$(pkglibdir) 2>/dev/null

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
