/*
 * probe — where the time of one request goes: the breakdown `make bench`
 * reports (bench/run starts the daemon with SANDBOXFS_PROBE=1; without it
 * every probe is one untaken branch).
 *
 * A trace belongs to the thread serving a request: fs/ begins it when the
 * request's job starts and ends it after the reply; meanwhile qmp/ adds each
 * command's round trip and each wait for an event, vm/ each save of the
 * state file.  probe_end logs the trace as one line:
 *
 *   probe<TAB>OP<TAB>total=US queue=US qmp:CMD=US ... wait:EVENT=US persist=US
 *                   later:persist=US
 *
 * (total: the request's reception to its reply; queue: reception to the
 * job's start; later: after the reply, in the same job).  Spans of the
 * same kind and name add up.
 */
#ifndef SANDBOXFS_PROBE_H
#define SANDBOXFS_PROBE_H

#include <stdbool.h>
#include <stdint.h>

bool probe_enabled(void);
/* Now in µs when probing, else 0 (what probe_add takes as its start). */
int64_t probe_now(void);
/* Add now - t0 to the current thread's trace as KIND:WHAT (no trace, or
 * t0 == 0: nothing). */
void probe_add(const char *kind, const char *what, int64_t t0);
void probe_begin(void);
/* The request's reply is sent: `total` ends here, and what is added after
 * is work done after the reply, logged as later:KIND. */
void probe_reply(void);
/* Log the trace of OP (received at t_recv, started at t_start) and end it. */
void probe_end(const char *op, int64_t t_recv, int64_t t_start);

#endif
