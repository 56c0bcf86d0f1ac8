/*
 * vm_daemon — start and shutdown of the vm layer; see daemon.h.
 */
#include "vm/sandbox/daemon.h"

#include "lib/log.h"
#include "vm/sandbox/lifecycle.h"
#include "vm/sandbox/monitor.h"
#include "vm/sandbox/op.h"
#include "vm/sandbox/persist.h"
#include "vm/sandbox/reconcile.h"
#include "vm/sandbox/registry.h"
#include "vm/sandbox/sandbox.h"
#include "vm/sandbox/settle.h"

int vm_daemon_start(struct err **e)
{
	vm_op_settle_hook(vm_reconcile, vm_settle_kick);
	vm_lifecycle_settle_hook(vm_settle_soon);
	int r = vm_settle_start(e);
	if (r == 0)
		r = vm_monitor_start(vm_lifecycle_exited, e);
	if (r < 0)
		return r;
	vm_persist_start();
	return 0;
}

void vm_daemon_shutdown(void)
{
	vm_set_exiting();
	struct strv names = {0};
	vm_registry_names(&names);
	for (size_t i = 0; vm_get_settings()->stop_on_exit && i < names.n; i++) {
		cleanup_sandbox struct vm_sandbox *sb = vm_registry_get(names.v[i]);
		cleanup_err struct err *e = NULL;
		if (sb && vm_state_is_live(sb->state) && vm_lifecycle_stop(sb, &e) < 0)
			log_err("%s: stop at exit: %s", sb->name, e->msg);
	}
	strv_release(&names);
	/* Otherwise QEMUs keep running; their state files let the next daemon
	 * re-adopt them.  Stop watching first so closing QMP is not a crash. */
	vm_monitor_stop();
	vm_settle_stop();
	vm_registry_clear();
}
