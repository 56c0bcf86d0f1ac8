# report.awk — turns the records of one bench run (data.tsv) into the
# markdown of bench/results/results.md, or, with -v plotdata=1 (latency per
# op) or plotdata=2 (cost per op against the number of sandboxes), into the
# data files bench/plot.gp and bench/scaling.gp draw.  Records
# (tab-separated):
#   R section op variant n median_us p90_us
#   I key value
# Every target of issue 15 gets a row: measured, ratio, met or NOT met
# (with the measured reason); a target whose phase did not run says so.
BEGIN { FS = "\t" }
$1 == "R" { k = $2 SUBSEP $3 SUBSEP $4; N[k] = $5; MED[k] = $6; P90[k] = $7; next }
$1 == "I" { k = $2; if (k in I) I[k] = I[k] "; " $3; else I[k] = $3; next }

function first(k,   a) { split(I[k], a, "; "); return a[1] }
function has(s, o, v) { return ((s SUBSEP o SUBSEP v) in MED) }
function med(s, o, v) { return MED[s SUBSEP o SUBSEP v] + 0 }
function n(s, o, v) { return N[s SUBSEP o SUBSEP v] + 0 }
function ms(us) { return sprintf("%.3f", us / 1000) }
function usf(us) { return sprintf("%.1f", us) }
function cell(s, o, v,   k) {
	k = s SUBSEP o SUBSEP v
	if (!(k in MED)) return "—"
	return sprintf("%s / %s", ms(MED[k]), ms(P90[k]))
}
function ucell(s, o, v,   k) {
	k = s SUBSEP o SUBSEP v
	if (!(k in MED)) return "—"
	return sprintf("%.1f / %.1f", MED[k], P90[k])
}
function yn(ok) { return ok ? "**met**" : "**NOT met**" }
function target(num, name, measured, ratio, ok, why) {
	summary = summary sprintf("| %s | %s | %s | %s | %s | %s |\n", num, name, measured, ratio, yn(ok), ok ? "" : why)
	if (!ok) notmet++
}
function notrun(num, name, why) {
	summary = summary sprintf("| %s | %s | not measured | — | **NOT met** | %s |\n", num, name, why)
	notmet++
}
# The breakdown component c of op (median µs), 0 if none.
function bd(op, c) { return has("breakdown", op, c) ? med("breakdown", op, c) : 0 }
# The daemon's largest own cost (not a QMP round trip, not the guest) of op.
# The FUSE part of an op's time (client minus daemon) beside the write
# floor measured after the same idle gap, when both are there.
function fusepart(o) {
	if (!has("breakdown", o, "total") || !has("control", "write floor after idle", "floor")) return ""
	return sprintf("FUSE part %s µs (hello's open + write + close after the same idle: %s µs); ",
		usf(med("control", o, "sandboxfs") - med("breakdown", o, "total")), usf(med("control", "write floor after idle", "floor")))
}

function biggest(op,   k, a, best, bv) {
	bv = -1
	for (k in MED) {
		split(k, a, SUBSEP)
		if (a[1] != "breakdown" || a[2] != op || a[3] ~ /^(qmp:|wait:|total|persist:write|later:)/) continue
		if (MED[k] + 0 > bv) { bv = MED[k] + 0; best = a[3] }
	}
	return bv < 0 ? "" : sprintf("%s %s µs", best, usf(bv))
}

# Target 1's reason when not met: the same file's ratios with the threads placed.
function placed(o,   a, b) {
	a = o " (one CPU)"; b = o " (across CPUs)"
	if (!has("reads", a, "sandboxfs") || !has("reads", b, "sandboxfs")) return "see §1"
	return sprintf("unpinned, where the scheduler put the threads; placed alike: %.2f× on one CPU, %.2f× across CPUs (§1)",
		med("reads", a, "sandboxfs") / med("reads", a, "floor"), med("reads", b, "sandboxfs") / med("reads", b, "floor"))
}

function reads(   f, v, o, r, ok, i, j, s) {
	s = "## 1. Reads at the floor\n\n"
	s = s "open + read to EOF + close from C, of a running sandbox's files, interleaved sample by sample with the same loop on\n"
	s = s "libfuse's own `hello` example built with `direct_io` in place of `kernel_cache` (bench/floorfs.c, mounted beside\n"
	s = s "sandboxfs) serving a file of exactly the same bytes.  µs, median / p90.\n\n"
	s = s "| file | bytes | n | sandboxfs | hello (direct_io) | ratio | target ≤ 1.5× |\n|---|---|---|---|---|---|---|\n"
	split("state|cpus/online|config", f, "|")
	for (i = 1; i <= 3; i++) {
		o = f[i]
		if (!has("reads", o, "sandboxfs")) continue
		r = med("reads", o, "sandboxfs") / med("reads", o, "floor")
		ok = r <= 1.5
		s = s sprintf("| `%s` | %s | %d | %s | %s | %.2f× | %s |\n", o, BYTES[o], n("reads", o, "sandboxfs"),
			ucell("reads", o, "sandboxfs"), ucell("reads", o, "floor"), r, yn(ok))
		target("1", "`cat " o "` ≤ 1.5× hello (direct_io)", usf(med("reads", o, "sandboxfs")) " vs " usf(med("reads", o, "floor")) " µs", sprintf("%.2f×", r), ok,
			placed(o))
	}
	split(" (one CPU)| (across CPUs)| (stopped sandbox)", v, "|")
	for (j = 1; j <= 3; j++)
		for (i = 1; i <= 3; i++) {
			o = f[i] v[j]
			if (!has("reads", o, "sandboxfs")) continue
			s = s sprintf("| `%s` | %s | %d | %s | %s | %.2f× | (context) |\n", o, BYTES[f[i]], n("reads", o, "sandboxfs"),
				ucell("reads", o, "sandboxfs"), ucell("reads", o, "floor"), med("reads", o, "sandboxfs") / med("reads", o, "floor"))
		}
	if (has("reads", f[1] " (one CPU)", "sandboxfs"))
		s = s "\n*(one CPU)*: the client and every thread of both filesystems pinned to CPU 0; *(across CPUs)*: the client on CPU 0, both\n" \
		      "filesystems on CPU 1 (the QEMU left where it is; bench/sb_place.c).  Unpinned, the scheduler decides per run whether each\n" \
		      "filesystem's thread shares the client's CPU, and a round trip between two CPUs wakes an idle one each way on this virtual\n" \
		      "machine: the unpinned ratio moves with that, the placed ones compare the two filesystems in the same place.\n"
	s = s sprintf("\nContext, same loop: hello as shipped (`kernel_cache`: page-cache hits) %s µs; a tmpfs file %s µs; a sysfs file %s µs.\n",
		ucell("reads", "hello as shipped (kernel_cache)", "context"), ucell("reads", "tmpfs file", "context"), ucell("reads", "sysfs file", "context"))
	s = s sprintf("The FUSE write floor, open + write + close on the same hello: %s µs.\n", ucell("reads", "write floor", "floor"))
	s = s "\nWhat a `cat` costs in FUSE requests: sandboxfs answers `state`, `config` and the other snapshot files with open, read, read\n"
	s = s "(the kernel asks again at EOF because direct_io), release — as hello does: names and attributes are cached by the kernel\n"
	s = s "(invalidated when they change, docs/abi.md \"Caching\"), read-only opens say noflush, and the FUSE loop is one thread.\n"
	return s
}

# The overhead: the median of the paired differences (sandboxfs_i - raw_i,
# the two samples of a pair taken back to back) where measured, else the
# difference of the medians; both are shown.
function ctlrow(o, floor,   d, dm, ok, s) {
	if (!has("control", o, "sandboxfs")) return ""
	dm = med("control", o, "sandboxfs") - med("control", o, "raw")
	d = has("control", o, "overhead (paired)") ? med("control", o, "overhead (paired)") : dm
	ok = d <= 150
	target("2", o " ≤ raw QMP + 0.15 ms", sprintf("%+.3f ms", d / 1000), "", ok,
		fusepart(o) "daemon's largest own part: " biggest(o == "state read" ? "" : o))
	return sprintf("| %s | %d | %s | %s | %+.3f ms | %+.3f ms | %s |\n", o, n("control", o, "sandboxfs"),
		cell("control", o, "sandboxfs"), cell("control", o, "raw"), dm / 1000, d / 1000, yn(ok))
}

function control(   ops, i, s, floor) {
	s = "## 2. Control writes against raw QMP\n\n"
	s = s "The same guest argv (sandboxfs's `cmdline`, its descriptors placed as the daemon places them, QMP on fd 3), TCG, both guests\n"
	s = s "booted; the raw client sends what the daemon sends (a disk's file opened and passed with `add-fd`, a tap with `getfd`:\n"
	s = s "QEMU runs as its own uid and never opens a writer's path itself).  Samples interleaved, the side going first alternating.\n"
	s = s "ms, median / p90.  The state directory is on " I["state_dir_fs"] ", as `/run` is on a deployed host.\n\n"
	s = s "The overhead judged is the median of the paired differences (each sandboxfs sample minus the raw one taken right beside\n"
	s = s "it, so that the machine's drift, which both share, cancels); the difference of the two medians is shown too.\n\n"
	s = s "| op | n | sandboxfs (open+write+close) | raw QMP | medians' difference | overhead (paired median) | target ≤ raw + 0.15 ms |\n|---|---|---|---|---|---|---|\n"
	n_ops = split("pause|resume|vCPU hot-add|vCPU hot-remove|disk hot-add|disk hot-remove|memory hot-add|NIC hot-add|NIC hot-remove", ops, "|")
	for (i = 1; i <= n_ops; i++) {
		if (ops[i] ~ /^vCPU/ && !has("control", ops[i], "sandboxfs")) {
			notrun("2", ops[i] " ≤ raw QMP + 0.15 ms", I["vcpu_error"])
			continue
		}
		s = s ctlrow(ops[i])
	}
	if (has("control", "state read", "sandboxfs"))
		s = s sprintf("| state read (cat `state` vs `query-status`) | %d | %s | %s | %+.3f ms | %+.3f ms | (context) |\n", n("control", "state read", "sandboxfs"),
			cell("control", "state read", "sandboxfs"), cell("control", "state read", "raw"),
			(med("control", "state read", "sandboxfs") - med("control", "state read", "raw")) / 1000,
			med("control", "state read", "overhead (paired)") / 1000)
	s = s sprintf("\nThe FUSE floor of a write (open + write + close on hello, §1): %s µs back to back", usf(med("reads", "write floor", "floor")))
	if (has("control", "write floor after idle", "floor"))
		s = s sprintf("; %s µs in the pauses' own pattern, after the same 10 ms idle (measured in that loop: on this virtual machine a CPU woken from idle is part of every round trip, and a write through FUSE is two, open and write, where the raw client writes on a connection it holds)", ucell("control", "write floor after idle", "floor"))
	s = s ".  vCPUs on QEMU 10 (7.2 under TCG crashes on a\n"
	s = s "hot-add after an unplug; 10 also runs out of TCG contexts after maxcpus hot-adds, so the guest has 48).  The raw vCPU\n"
	s = s sprintf("hot-add is `device_add` of the free slot the client found once; asking `query-hotpluggable-cpus` first as well: %s ms.\n", cell("control", "vCPU hot-add", "raw query-hotpluggable-cpus + device_add"))
	return s
}

function breakdown(   ops, i, o, s, k, a, comp, seen, list, j) {
	s = "### Where each write's time goes\n\n"
	s = s "From the daemon's own probes (SANDBOXFS_PROBE=1, lib/probe.h), per op, median µs over the same samples as above.\n"
	s = s "*FUSE* = the client's median minus the daemon's (the request's way in and the reply's way out); *queue* = the FUSE\n"
	s = s "loop handing the write to its sandbox's worker; *QMP* = each command's round trip as the daemon sees it (QEMU's work\n"
	s = s "plus the client's reader thread); *guest* = waiting for the guest (DEVICE_DELETED); *persist* = the state file (JSON\n"
	s = s "built and compared; *write*: rewritten atomically, when it changed; before the reply, as docs/abi.md \"Durable before it\n"
	s = s "succeeds\" requires: a change, or a hot add's or removal's intent); *other* = the rest of the daemon's work; *after the reply*:\n"
	s = s "a hot add's or removal's outcome saved once the caller has its answer (not in the daemon's time; QEMU tells it again\n"
	s = s "to a daemon killed before it).\n\n"
	s = s "| op | client | daemon | FUSE | queue | QMP round trips | guest | persist (write) | other | after the reply: persist |\n|---|---|---|---|---|---|---|---|---|---|\n"
	n_ops = split("pause|resume|vCPU hot-add|vCPU hot-remove|disk hot-add|disk hot-remove|memory hot-add|NIC hot-add|NIC hot-remove|start|stop", ops, "|")
	for (i = 1; i <= n_ops; i++) {
		o = ops[i]
		if (!has("breakdown", o, "total")) continue
		list = ""; guest = ""
		for (k in MED) {
			split(k, a, SUBSEP)
			if (a[1] != "breakdown" || a[2] != o) continue
			if (a[3] ~ /^qmp:/) list = list sprintf("%s`%s` %s", list == "" ? "" : ", ", substr(a[3], 5), usf(MED[k]))
			if (a[3] ~ /^wait:/) guest = guest sprintf("%s%s %s", guest == "" ? "" : ", ", substr(a[3], 6), usf(MED[k]))
			if (a[3] ~ /^start:/) list = list sprintf("%s%s %s", list == "" ? "" : ", ", a[3], usf(MED[k]))
		}
		sec = (o == "start" || o == "stop") ? "start" : "control"
		client = med(sec, o, "sandboxfs")
		s = s sprintf("| %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s |\n", o, usf(client), usf(bd(o, "total")),
			usf(client - bd(o, "total")), usf(bd(o, "queue")), list == "" ? "—" : list, guest == "" ? "—" : guest,
			usf(bd(o, "persist")), usf(bd(o, "persist:write")), usf(bd(o, "other")),
			has("breakdown", o, "later:persist") ? usf(bd(o, "later:persist")) : "—")
	}
	if (has("persist", "atomic save", "state dir"))
		s = s sprintf("\nThe state file's atomic save (temp file, fsync, rename, fsync of the directory; about the size of sandbox.json), measured\napart: on the state directory's " I["state_dir_fs"] " %s µs, on a disk-backed directory (%s) %s µs — what a disk-backed\nstate directory adds to every write that changes the state.\n",
			ucell("persist", "atomic save", "state dir"), I["disk_fs"], ucell("persist", "atomic save", "disk"))
	return s
}

function start(   s, r, r2, ok, ok2) {
	s = "## 3. Start and stop\n\n"
	s = s "`echo start > ctl` returning (argv built, files checked as their writers, the QEMU's own cgroup made, spawned as its own\n"
	s = s "uid, QMP negotiated, watched, saved) against raw: a cgroup of its own beside the daemon's QEMUs', bind a socket, exec the\n"
	s = s "same argv with it as fd 3, greeting + `qmp_capabilities`.  Stop: `echo stop > ctl` (`quit`, the exit seen, the cgroup\n"
	s = s "removed, saved) against raw `quit` + `waitpid` + the cgroup removed.  Interleaved; ms, median / p90.\n\n"
	s = s "| op | n | sandboxfs | raw | ratio (median) | target ≤ 1.05× |\n|---|---|---|---|---|---|\n"
	if (!has("start", "start", "sandboxfs")) { notrun("3", "start/stop ≤ 1.05× raw", "the start phase did not run"); return s }
	r = med("start", "start", "sandboxfs") / med("start", "start", "raw")
	r2 = med("start", "stop", "sandboxfs") / med("start", "stop", "raw")
	ok = r <= 1.05; ok2 = r2 <= 1.05
	s = s sprintf("| start | %d | %s | %s | %.2f× | %s |\n", n("start", "start", "sandboxfs"), cell("start", "start", "sandboxfs"), cell("start", "start", "raw"), r, yn(ok))
	s = s sprintf("| stop | %d | %s | %s | %.2f× | %s |\n", n("start", "stop", "sandboxfs"), cell("start", "stop", "sandboxfs"), cell("start", "stop", "raw"), r2, yn(ok2))
	target("3", "start ≤ 1.05× raw exec → QMP negotiated", ms(med("start", "start", "sandboxfs")) " vs " ms(med("start", "start", "raw")) " ms", sprintf("%.2f×", r), ok,
		sprintf("QEMU's own start-up until QMP answers is %s ms of the daemon's %s ms (start:qmp-connect); the daemon's part: %s", ms(bd("start", "start:qmp-connect")), ms(bd("start", "total")), biggest("start")))
	target("3", "stop ≤ 1.05× raw quit + waitpid", ms(med("start", "stop", "sandboxfs")) " vs " ms(med("start", "stop", "raw")) " ms", sprintf("%.2f×", r2), ok2,
		sprintf("waiting for the exit %s ms (the monitor sees it, removes the cgroup, saves); `quit` %s ms; raw: `quit` %s ms, waitpid + the cgroup removed %s ms", ms(bd("stop", "wait:exit")), ms(bd("stop", "qmp:quit")), ms(med("start", "stop: quit", "raw")), ms(med("start", "stop: exit", "raw"))))
	return s
}

function conc(   s, c0, c1, c2, o, r, ok, ops, i, idle) {
	s = "## 4. Concurrency: one stuck sandbox\n\n"
	s = s "17 sandboxes run paused (64 MiB); 16 have a writer each (a vCPU hot-add every 100 ms), one is probed (5 × `cat state`,\n"
	s = s "`ls` of the root, a vCPU hot-add, every 50 ms); an 18th has its QEMU SIGSTOPped, 16 readers (8 following its `events`,\n"
	s = s "each read waiting for a line; 8 reading its `cpus/online` and `state`) and 4 writers of its `ctl` (the first waits for its\n"
	s = s "QMP timeout, 5 s).  µs, median / p90.  Reads are judged against idle (the probe\n"
	s = s "alone); writes against the same 16 writers without the stuck sandbox (16 writers on 2 CPUs are a load of their own).\n\n"
	c0 = "idle"; c1 = "16 writers"; c2 = "16 writers + 16 stuck readers"
	if (!has("conc", "cat state (another sandbox)", c2)) { notrun("6", "others within 2× idle with a stuck sandbox", "the concurrency phase did not run"); return s }
	s = s "| op | idle | 16 writers | 16 writers + 16 stuck readers | ratio | target ≤ 2× |\n|---|---|---|---|---|---|\n"
	split("cat state (another sandbox)|ls of the root|vCPU hot-add (another sandbox)|vCPU hot-add (the 16 writers)", ops, "|")
	for (i = 1; i <= 4; i++) {
		o = ops[i]
		idle = (i <= 2) ? c0 : c1
		r = med("conc", o, c2) / med("conc", o, idle)
		ok = r <= 2
		s = s sprintf("| %s | %s | %s | %s | %.2f× (vs %s) | %s |\n", o, ucell("conc", o, c0), ucell("conc", o, c1), ucell("conc", o, c2), r, idle, yn(ok))
		target("6", o " with a stuck sandbox ≤ 2× " idle, usf(med("conc", o, c2)) " vs " usf(med("conc", o, idle)) " µs", sprintf("%.2f×", r), ok, "CPU contention on 2 cores (see §4)")
	}
	s = s sprintf("\nThe stuck sandbox's callers: %s.\n", I["conc_readers"])
	return s
}

function scale(   s, v, f, r, ok, pts, i, p, lo, hi, x, cs, ha) {
	s = "## 5. Scale: " I["sandboxes"] " sandboxes on one mount, " I["running_paused"] " of them running (paused)\n\n"
	s = s "The running ones use `{\"memory_mib\": 64, \"maxvcpus\": 32}`, paused right after `ctl start` (sandboxfs does not expose QEMU's `-S`).\n"
	s = s "ms, median / p90.\n\n"
	if (!has("scale", "mkdir", "sandboxfs")) { notrun("5", "scale", "the scale phase did not run"); return s }
	s = s "| measure | n | measured | target |\n|---|---|---|---|\n"
	s = s sprintf("| mkdir (one sandbox) | %d | %s | — |\n", n("scale", "mkdir", "sandboxfs"), cell("scale", "mkdir", "sandboxfs"))
	v = med("scale", "ls root (readdir)", "sandboxfs")
	s = s sprintf("| `ls` of the root: opendir + readdir + closedir | %d | %s | ≤ 2 ms: %s |\n", n("scale", "ls root (readdir)", "sandboxfs"), cell("scale", "ls root (readdir)", "sandboxfs"), yn(v <= 2000))
	target("5", "`ls` of a " I["sandboxes"] "-sandbox root ≤ 2 ms", ms(v) " ms", "", v <= 2000, "")
	f = "cat */state (created)"
	r = med("scale", f, "sandboxfs") / med("scale", f, "floor")
	s = s sprintf("| `cat NAME/state` of all %d, all created | %d | %s | ≤ 1.5× the same number of reads on hello (%s): %.2f× %s |\n", I["sandboxes"], n("scale", f, "sandboxfs"), cell("scale", f, "sandboxfs"), cell("scale", f, "floor"), r, yn(r <= 1.5))
	target("5", "`cat */state` over " I["sandboxes"] " ≤ 1.5× as many reads on hello", ms(med("scale", f, "sandboxfs")) " vs " ms(med("scale", f, "floor")) " ms", sprintf("%.2f×", r), r <= 1.5, "")
	f = "cat */state (running+created)"
	s = s sprintf("| the same, %d running | %d | %s | (hello: %s, %.2f×) |\n", I["running_paused"], n("scale", f, "sandboxfs"), cell("scale", f, "sandboxfs"), cell("scale", f, "floor"), med("scale", f, "sandboxfs") / med("scale", f, "floor"))
	v = I["rss_per_idle_kib"] + 0
	s = s sprintf("| daemon RSS per idle sandbox (VmRSS %d → %d KiB, every one read once; %d of them running) | 1 | %.2f KiB | ≤ 8 KiB: %s |\n", I["rss_before_kib"], I["rss_created_kib"], I["rss_running_at_created"], v, yn(v <= 8))
	target("5", "daemon RSS ≤ 8 KiB per idle sandbox", sprintf("%.2f KiB", v), "", v <= 8, "")
	s = s sprintf("| daemon RSS per running sandbox (VmRSS → %d KiB) | 1 | %.1f KiB | — |\n", I["rss_running_kib"], I["rss_per_running_kib"])
	s = s sprintf("| `ctl start` while the others run | %d | %s | — |\n", n("scale", "start (while others run)", "sandboxfs"), cell("scale", "start (while others run)", "sandboxfs"))
	single = med("scale", "vCPU hot-add, one at a time", "sandboxfs")
	s = s sprintf("| vCPU hot-add, one at a time (each paused sandbox) | %d | %s | — |\n", n("scale", "vCPU hot-add, one at a time", "sandboxfs"), cell("scale", "vCPU hot-add, one at a time", "sandboxfs"))
	tot = med("scale", "parallel vCPU hot-adds (total)", "sandboxfs"); budget = I["parallel_budget_us"] + 0
	s = s sprintf("| %d vCPU hot-adds at once, one per sandbox: total | %d | %s | ≤ 1.2 × single × ⌈%d/%d⌉ = %s ms: %s |\n", I["running_paused"],
		n("scale", "parallel vCPU hot-adds (total)", "sandboxfs"), cell("scale", "parallel vCPU hot-adds (total)", "sandboxfs"), I["running_paused"], first("nproc"), ms(budget), yn(tot <= budget))
	s = s sprintf("| the same: slowest single write of a round | %d | %s | (all one after another: %s ms) |\n", n("scale", "parallel vCPU hot-adds (slowest one)", "sandboxfs"),
		cell("scale", "parallel vCPU hot-adds (slowest one)", "sandboxfs"), ms(I["parallel_serial_us"]))
	why = "QEMU's own work for 128 device_adds on 2 cores"
	if ("parallel_cpu_qemus_ms" in I) {
		cpu = I["parallel_cpu_qemus_ms"] + I["parallel_cpu_daemon_ms"] + I["parallel_cpu_bench_ms"]
		why = sprintf("the CPU a round takes: the QEMUs %.1f ms, the daemon %.1f ms, the %d writers %.1f ms (/proc); %.1f ms of CPU on %d CPUs is at least %.1f ms a round",
			I["parallel_cpu_qemus_ms"], I["parallel_cpu_daemon_ms"], I["running_paused"], I["parallel_cpu_bench_ms"], cpu, first("nproc"), cpu / first("nproc"))
		s = s sprintf("| the same: CPU time of a round (QEMUs + daemon + writers, from /proc) | %d | %.1f + %.1f + %.1f ms | (≥ %.1f ms on %d CPUs) |\n", n("scale", "parallel vCPU hot-adds (total)", "sandboxfs"),
			I["parallel_cpu_qemus_ms"], I["parallel_cpu_daemon_ms"], I["parallel_cpu_bench_ms"], cpu / first("nproc"), first("nproc"))
	}
	target("5", I["running_paused"] " parallel hot-adds ≤ 1.2 × single × ⌈" I["running_paused"] "/cores⌉", ms(tot) " vs " ms(budget) " ms", sprintf("%.2f×", budget ? tot / budget * 1.2 : 0), tot <= budget, why)
	# the flat table
	s = s "\n### The cost of one op as sandboxes are added\n\n"
	s = s "Measured when the mount holds that many sandboxes: `cat state` of the first one (beside hello's), `ls` of the root, and\n"
	s = s "8 vCPU hot-adds on a sandbox started at that point (so every point adds to the same vCPU counts), interleaved with the\n"
	s = s "same `device_add` on a raw QEMU of its argv, started and paused the same way just before.  µs, median / p90.  Each op is\n"
	s = s "judged by its ratio to what was measured beside it (hello, raw QMP), which the machine's drift between the points cancels.\n\n"
	s = s "| sandboxes | cat state | cat on hello | ls of the root | vCPU hot-add | the same, raw QMP | hot-add ÷ raw |\n|---|---|---|---|---|---|---|\n"
	np = 0
	for (k in MED) { split(k, x, SUBSEP); if (x[1] == "flat" && x[3] == "cat state") pts[++np] = x[2] + 0 }
	for (i = 1; i <= np; i++) for (j = i + 1; j <= np; j++) if (pts[j] < pts[i]) { t = pts[i]; pts[i] = pts[j]; pts[j] = t }
	lo = 1e18; hi = 0; hlo = 1e18; hhi = 0; rlo = 1e18; rhi = 0; hasraw = 1
	for (i = 1; i <= np; i++) {
		p = pts[i]
		cs = med("flat", p, "cat state") / med("flat", p, "cat state (floor)")
		ha = med("flat", p, "vCPU hot-add")
		if (!has("flat", p, "vCPU hot-add (raw)")) hasraw = 0
		hr = hasraw ? ha / med("flat", p, "vCPU hot-add (raw)") : 0
		if (cs < lo) lo = cs; if (cs > hi) hi = cs
		if (ha < hlo) hlo = ha; if (ha > hhi) hhi = ha
		if (hr < rlo) rlo = hr; if (hr > rhi) rhi = hr
		s = s sprintf("| %d | %s | %s | %s | %s | %s | %s |\n", p, ucell("flat", p, "cat state"), ucell("flat", p, "cat state (floor)"), ucell("flat", p, "ls root"), ucell("flat", p, "vCPU hot-add"),
			hasraw ? ucell("flat", p, "vCPU hot-add (raw)") : "—", hasraw ? sprintf("%.2f×", hr) : "—")
	}
	if (np) {
		# Older data without the raw side: the absolute hot-add is judged.
		if (!hasraw) { rlo = hlo; rhi = hhi }
		okf = hi / lo <= 1.5 && rhi / rlo <= 1.5
		hdesc = hasraw ? sprintf("hot-add ÷ raw %.2f–%.2f×", rlo, rhi) : sprintf("hot-add %s–%s ms", ms(hlo), ms(hhi))
		s = s sprintf("\nFlat: `cat state` ÷ hello ranges %.2f–%.2f×, %s across the points (judged flat when both stay within 1.5×; the hot-add itself took %s–%s ms).  `ls` grows with the listing itself.\n", lo, hi, hdesc, ms(hlo), ms(hhi))
		fwhy = (hi / lo > 1.5 ? sprintf("cat ÷ hello moves %.2f× between points", hi / lo) : "") (hi / lo > 1.5 && rhi / rlo > 1.5 ? "; " : "") (rhi / rlo > 1.5 ? sprintf("the hot-add%s moves %.2f× between points", hasraw ? " ÷ raw" : "", rhi / rlo) : "")
		target("5", "per-op cost flat at " np " counts up to " pts[np], sprintf("cat ÷ hello %.2f–%.2f×, %s", lo, hi, hdesc), sprintf("%.2f×, %.2f×", hi / lo, rhi / rlo), okf, fwhy " (see the p90s)")
	}
	return s
}

function libvirt(   s, rs, ro, lo, ll, i, r, ceil, ofc, ok) {
	s = "## 6. libvirt\n\n"
	if ("libvirt_error" in I) { notrun("4", "≥ 0.9 of the ceiling against libvirt", I["libvirt_error"]); return s "Not measured: " I["libvirt_error"] "\n" }
	if (!has("libvirt", "state read", "virsh")) {
		summary = summary "| 4 | ≥ 0.9 of the ceiling against libvirt | not run (`LIBVIRT=1 make bench`) | — | — | |\n"
		return s "Not run (it installs libvirt: `LIBVIRT=1 make bench` or `bench/run --libvirt`).\n"
	}
	s = s "The same guest as a libvirt domain under a private libvirtd " I["libvirt_version"] " (QEMU as root, no cgroups, no security driver),\n"
	s = s "both sides as a shell user types them (virsh is a program; `cat` a program, the writes bash's builtin `echo`).  The ceiling is\n"
	s = s "virsh ÷ raw QMP (§2, §3): what a perfect QMP client could show.  Of the ceiling = (virsh ÷ sandboxfs) ÷ (virsh ÷ raw) = raw ÷\n"
	s = s "sandboxfs, taken from §2/§3 where both sides are measured the same way (from C).  Interleaved, ms, median / p90.\n\n"
	s = s "| op | n | virsh | sandboxfs (shell) | virsh ÷ sandboxfs | ceiling virsh ÷ raw | of the ceiling (raw ÷ sandboxfs, from C) | target ≥ 0.9 |\n|---|---|---|---|---|---|---|---|\n"
	split("control|control|control|control|start|start", rs, "|")
	split("state read|vCPU hot-add|disk hot-add|disk hot-remove|start|stop", ro, "|")
	split("`virsh domstate` vs `cat state`|`virsh setvcpus --live` vs `echo N > cpus/target`|`virsh attach-disk` vs `echo {…} > devices/add`|`virsh detach-disk` vs `echo d1 > devices/remove`|`virsh start` vs `echo start > ctl`|`virsh destroy` vs `echo stop > ctl`", ll, "|")
	for (i = 1; i <= 6; i++) {
		if (!has("libvirt", ro[i], "virsh") || !has(rs[i], ro[i], "raw")) continue
		r = med("libvirt", ro[i], "virsh") / med("libvirt", ro[i], "sandboxfs")
		ceil = med("libvirt", ro[i], "virsh") / med(rs[i], ro[i], "raw")
		ofc = med(rs[i], ro[i], "raw") / med(rs[i], ro[i], "sandboxfs")
		ok = ofc >= 0.9
		s = s sprintf("| %s | %d | %s | %s | %.1f× | %.1f× | %.2f | %s |\n", ll[i], n("libvirt", ro[i], "virsh"), cell("libvirt", ro[i], "virsh"),
			cell("libvirt", ro[i], "sandboxfs"), r, ceil, ofc, yn(ok))
		target("4", ro[i] ": ≥ 0.9 of the libvirt ceiling", sprintf("%.1f× of a %.1f× ceiling", r, ceil), sprintf("%.2f", ofc), ok, "see §2/§3 for this op's overhead")
	}
	if ("libvirt_note" in I) s = s "\n" I["libvirt_note"] "\n"
	return s
}

function plotrow(label, s, o, ls, lo) {
	printf "\"%s\" %s %s %s\n", label,
		has(s, o, "sandboxfs") ? ms(med(s, o, "sandboxfs")) : "-",
		has(s, o, "raw") ? ms(med(s, o, "raw")) : "-",
		(ls != "" && has(ls, lo, "virsh")) ? ms(med(ls, lo, "virsh")) : "-"
}

END {
	split("state|cpus/online|config", bf, "|")
	for (k in I) if (k == "read_bytes") {
		m = split(I[k], parts, "; ")
		for (i = 1; i <= m; i++) { split(parts[i], kv, " "); BYTES[kv[1]] = kv[2] }
	}
	if (plotdata == 1) {
		print "# op sandboxfs raw libvirt (median ms)"
		plotrow("state read", "control", "state read", "libvirt", "state read")
		plotrow("pause", "control", "pause", "", "")
		plotrow("resume", "control", "resume", "", "")
		plotrow("vCPU add", "control", "vCPU hot-add", "libvirt", "vCPU hot-add")
		plotrow("vCPU remove", "control", "vCPU hot-remove", "", "")
		plotrow("disk add", "control", "disk hot-add", "libvirt", "disk hot-add")
		plotrow("disk remove", "control", "disk hot-remove", "libvirt", "disk hot-remove")
		plotrow("memory add", "control", "memory hot-add", "", "")
		plotrow("NIC add", "control", "NIC hot-add", "", "")
		plotrow("start", "start", "start", "libvirt", "start")
		plotrow("stop", "start", "stop", "libvirt", "stop")
		exit
	}
	if (plotdata == 2) {
		print "# sandboxes cat_state_us cat_hello_us hotadd_ms ls_us"
		np = 0
		for (k in MED) { split(k, x, SUBSEP); if (x[1] == "flat" && x[3] == "cat state") pts[++np] = x[2] + 0 }
		for (i = 1; i <= np; i++) for (j = i + 1; j <= np; j++) if (pts[j] < pts[i]) { t = pts[i]; pts[i] = pts[j]; pts[j] = t }
		for (i = 1; i <= np; i++)
			printf "%d %s %s %s %s\n", pts[i], usf(med("flat", pts[i], "cat state")), usf(med("flat", pts[i], "cat state (floor)")),
				ms(med("flat", pts[i], "vCPU hot-add")), usf(med("flat", pts[i], "ls root"))
		exit
	}
	r1 = reads(); r2 = control(); r2b = breakdown(); r3 = start(); r4 = conc(); r5 = scale(); r6 = libvirt()

	# ---- observability
	ob = "## 7. Observability: `stats` and `metrics`\n\n"
	ob = ob "open + read to EOF + close, from C (bench/obsbench.c).  A running sandbox's `stats` reads its cgroup and /proc at open; "
	ob = ob "its QMP figures come from a record refreshed in the background: *fresh* = younger than 1 s (no QMP round trip), "
	ob = ob "*stale* = older, so the read starts the refresh (`query-cpus-fast`, `query-blockstats`) and waits for it.  ms, median / p90.\n\n"
	ob = ob "| read | n | sandboxfs | target |\n|---|---|---|---|\n"
	mop = "cat metrics (" I["obs_metrics_sandboxes"] " sandboxes, " I["obs_metrics_running"] " running)"
	if (has("obs", mop, "sandboxfs")) {
		split("cat stats (running, fresh)|cat stats (running, stale: waits for the refresh)|cat stats (created)", so, "|")
		for (i = 1; i <= 3; i++)
			if (has("obs", so[i], "sandboxfs"))
				ob = ob sprintf("| `%s` | %d | %s | — |\n", so[i], N["obs" SUBSEP so[i] SUBSEP "sandboxfs"], cell("obs", so[i], "sandboxfs"))
		v = med("obs", mop, "sandboxfs")
		ob = ob sprintf("| `%s`, %d bytes | %d | %s | ≤ 10 ms: %s |\n", mop, I["obs_metrics_bytes"], N["obs" SUBSEP mop SUBSEP "sandboxfs"], cell("obs", mop, "sandboxfs"), yn(v <= 10000))
		target("obs", "`cat metrics` of " I["obs_metrics_sandboxes"] " sandboxes ≤ 10 ms (issue 14)", ms(v) " ms", "", v <= 10000, "")
	} else
		ob = ob "| (not measured) | | | |\n"
	if (has("libvirt", "stats read", "virsh"))
		ob = ob sprintf("\nSide by side with libvirt (§5's guests, both run as programs, interleaved): `virsh domstats` %s ms, `cat stats` %s ms (%.1f×).\n",
			cell("libvirt", "stats read", "virsh"), cell("libvirt", "stats read", "sandboxfs"),
			med("libvirt", "stats read", "virsh") / med("libvirt", "stats read", "sandboxfs"))
	else
		ob = ob "\n`virsh domstats` beside `cat stats`: with libvirt (`make bench LIBVIRT=1`) only.\n"

	print "# sandboxfs benchmark results"
	print ""
	print "Produced by `make bench` (bench/run) in one run of " I["bench_seconds"] " s on " I["date"] "; every ratio below is measured side by side in that run,"
	print "the two sides interleaved sample by sample.  Medians and p90s of n samples; every figure is in `data.tsv`, the plots are"
	print "`latency.png` and `scaling.png`."
	print ""
	print "**Machine:** " first("nproc") " CPUs (" I["cpu"] "), " I["memory"] " RAM, " I["kernel"] ", " I["os"] ", " I["qemu"] ", libfuse " I["libfuse"] ", sandboxfs " I["sandboxfs"] "."
	print "**Load:** load average " I["loadavg_at_start"] " at the start, " I["loadavg_at_end"] " at the end; " I["other_qemus_at_start"] " QEMUs of other jobs were running when it began; the hypervisor took " I["steal_pct"] "% of the CPU time for other guests (steal) (this machine is shared: absolute times move with it, the ratios are what is judged)."
	print ""
	print "## Targets (issue 15)"
	print ""
	print "| # | target | measured | ratio | | reason, when not met |"
	print "|---|---|---|---|---|---|"
	printf "%s", summary
	print ""
	printf "%d target(s) not met.\n\n", notmet
	print r1; print r2; print r2b; print r3; print r4; print r5; print r6; print ob
}
