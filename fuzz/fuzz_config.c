/*
 * fuzz_config — libFuzzer target over the config and device-spec parsers.
 *
 * The first input byte picks the parser (even: a config write merged into
 * a default config; odd: a device spec); the rest is the JSON text.  A
 * device that parses is also expanded to both outputs (argv and QMP
 * arguments) and put through vm_cmdline_build with a config the input may
 * have changed, so the whole path from user text to argv is exercised.
 * Built by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined); any
 * crash, sanitizer report or leak fails the run.
 */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/arch.h"
#include "lib/err.h"
#include "lib/util.h"
#include "vm/vm_cmdline.h"
#include "vm/vm_config.h"
#include "vm/vm_device.h"
#include "vm/vm_topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
			json_object_put(vm_device_frontend(d, env.arch, "rp0", 0));
			json_object_put(vm_device_backend(d));
			struct vm_topology t;
			vm_topology_init_config(&t, &cfg);
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
		struct json_object *o = vm_config_to_json(&cfg);
		struct vm_config back;
		vm_config_init(&back);
		vm_config_from_json(&back, o, &e);
		vm_config_release(&back);
		json_object_put(o);
		struct vm_topology t;
		vm_topology_init_config(&t, &cfg);
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
