/*
 * fuzz_config — libFuzzer target over the config and device-spec parsers.
 *
 * The first input byte picks the parser (even: a config write merged into
 * a default config; odd: a device spec); the rest is the JSON text.  A
 * device that parses is also expanded to both outputs (argv and QMP
 * arguments) and put through vm_cmdline_build with a config the input may
 * have changed, so the whole path from user text to argv is exercised.
 * Both parsers must round-trip: a config read back (vm_config_to_json)
 * and parsed again renders the same object, and a device's normalized spec
 * parsed again gives the same spec; a difference aborts (a finding).
 * Built by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined); any
 * crash, sanitizer report or leak fails the run.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "vm/qemu/cmdline.h"
#include "vm/qemu/fds.h"
#include "vm/model/config.h"
#include "vm/model/device.h"
#include "vm/model/parts.h"
#include "vm/model/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with both sides printed when a round trip changed the object. */
static void fuzz_same(const char *what, struct json_object *a, struct json_object *b)
{
	if (a && b && json_object_equal(a, b))
		return;
	fprintf(stderr, "%s round trip differs:\n  %s\n  %s\n", what,
		a ? json_object_to_json_string(a) : "(none)", b ? json_object_to_json_string(b) : "(none)");
	abort();
}

/* spec -> device -> spec must be the identity on normalized specs. */
static void fuzz_device_round_trip(const struct vm_device *d)
{
	struct json_object *spec = vm_device_spec(d);
	struct vm_device *again = NULL;
	struct err *e = NULL;
	if (vm_device_from_json(spec, &again, &e) < 0) {
		fprintf(stderr, "device spec does not parse again: %s\n", e->msg);
		abort();
	}
	struct json_object *spec2 = vm_device_spec(again);
	fuzz_same("device", spec, spec2);
	json_object_put(spec2);
	json_object_put(spec);
	vm_device_free(again);
}

/* config -> JSON -> config -> JSON must give the same JSON. */
static void fuzz_config_round_trip(const struct vm_config *cfg)
{
	struct json_object *o = vm_config_to_json(cfg);
	struct vm_config back;
	vm_config_init(&back);
	struct err *e = NULL;
	if (vm_config_from_json(&back, o, &e) < 0) {
		fprintf(stderr, "config does not parse again: %s\n", e->msg);
		abort();
	}
	struct json_object *o2 = vm_config_to_json(&back);
	fuzz_same("config", o, o2);
	json_object_put(o2);
	json_object_put(o);
	vm_config_release(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	char *text = xstrndup((const char *)data + 1, size - 1);
	struct err *e = NULL;
	struct vm_config cfg;
	vm_config_init(&cfg);
	if (data[0] & 1) {
		struct vm_device *d = NULL;
		if (vm_device_parse(text, &d, &e) == 0) {
			struct vm_fdplan fds = {0};
			struct vm_dev_env env = { .arch = vm_config_arch(&cfg), .bus = "rp0",
						  .console_log = "/c.log", .fds = &fds };
			struct vm_dev_parts p;
			if (vm_device_parts(d, &env, &p, &e) == 0) {
				struct strv argv = {0};
				vm_dev_parts_argv(&p, &argv);
				strv_release(&argv);
				struct json_object *q = NULL;
				if (vm_dev_parts_qmp(&p, &q, &e) == 0)
					json_object_put(q);
				vm_dev_parts_release(&p);
			}
			err_free(&e);
			vm_fdplan_release(&fds);
			fuzz_device_round_trip(d);
			struct vm_topology t;
			vm_config_topology(&cfg, &t);
			if (vm_topology_alloc(&t, d->id, &d->bridge, &d->slot, &e) == 0) {
				struct vm_cmdline_ctx ctx = { .name = "f", .console_log = "/c.log" };
				struct strv argv = {0};
				vm_cmdline_build(&cfg, &t, &d, 1, &ctx, &argv, &e);
				strv_release(&argv);
			}
			vm_topology_release(&t);
			vm_device_free(d);
		}
	} else if (vm_config_merge(&cfg, text, false, &e) == 0) {
		fuzz_config_round_trip(&cfg);
		struct vm_topology t;
		vm_config_topology(&cfg, &t);
		struct vm_cmdline_ctx ctx = { .name = "f", .console_log = "/c.log" };
		struct strv argv = {0};
		vm_cmdline_build(&cfg, &t, NULL, 0, &ctx, &argv, &e);
		strv_release(&argv);
		vm_topology_release(&t);
	}
	err_free(&e);
	vm_config_release(&cfg);
	free(text);
	return 0;
}
