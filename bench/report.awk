# report.awk — turns the records of one bench run (data.tsv) into the
# markdown table of bench/results/results.md, or, with -v plotdata=1, into
# the data file bench/plot.gp draws.  Records (tab-separated):
#   R section op variant n median_us p90_us
#   I key value
BEGIN { FS = "\t" }
$1 == "R" { k = $2 SUBSEP $3 SUBSEP $4; N[k] = $5; MED[k] = $6; P90[k] = $7; next }
$1 == "I" { I[$2] = $3; next }

function has(s, o, v) { return ((s SUBSEP o SUBSEP v) in MED) }
function med(s, o, v) { return MED[s SUBSEP o SUBSEP v] }
function ms(us) { return sprintf("%.3f", us / 1000) }
function cell(s, o, v,   k) {
	k = s SUBSEP o SUBSEP v
	if (!(k in MED)) return "—"
	return sprintf("%s / %s", ms(MED[k]), ms(P90[k]))
}
function yn(ok) { return ok ? "**met**" : "**NOT met**" }
function target(name, measured, ok) {
	summary = summary sprintf("| %s | %s | %s |\n", name, measured, yn(ok))
}
function plotrow(label, s, o, v, ls, lo, lv) {
	printf "\"%s\" %s %s %s\n", label,
		has(s, o, v) ? ms(med(s, o, v)) : "-",
		has(s, o, "raw") ? ms(med(s, o, "raw")) : "-",
		(ls != "" && has(ls, lo, lv)) ? ms(med(ls, lo, lv)) : "-"
}

END {
	if (plotdata) {
		print "# op sandboxfs raw libvirt (median ms)"
		plotrow("state read", "control", "state read", "sandboxfs", "libvirt", "state read", "virsh")
		plotrow("pause", "control", "pause", "sandboxfs", "libvirt", "pause", "virsh")
		plotrow("resume", "control", "resume", "sandboxfs", "libvirt", "resume", "virsh")
		plotrow("disk add", "control", "disk hot-add", "sandboxfs", "libvirt", "disk hot-add", "virsh")
		plotrow("disk remove", "control", "disk hot-remove", "sandboxfs", "libvirt", "disk hot-remove", "virsh")
		plotrow("vCPU add", "control", "vCPU hot-add", "sandboxfs", "libvirt", "vCPU hot-add", "virsh")
		plotrow("start", "start", "start", "sandboxfs", "libvirt", "start", "virsh")
		plotrow("stop", "start", "stop", "sandboxfs", "libvirt", "stop", "virsh")
		exit
	}

	# ---- control path
	ctl = "## 1. Control path: sandboxfs vs raw QMP\n\n"
	ctl = ctl "Same guest argv (sandboxfs's `cmdline`, QMP on fd 3), TCG, both guests booted and running;\n"
	ctl = ctl "samples interleaved sandboxfs/raw.  Milliseconds, median / p90.\n"
	ctl = ctl "*syscalls* = open+write+close (or open+read-to-EOF+close) from C; *bash echo* = the builtin `echo`/`read` in a bash loop, timed with `$EPOCHREALTIME`;\n"
	ctl = ctl "*raw QMP* = the same QMP commands the daemon sends, over an already-open socket, from C.\n\n"
	ctl = ctl "| op | n | sandboxfs (syscalls) | sandboxfs (bash echo) | raw QMP | overhead (median) | target ≤ raw + 0.3 ms |\n"
	ctl = ctl "|---|---|---|---|---|---|---|\n"
	split("state read|pause|resume|disk hot-add|disk hot-remove|vCPU hot-add", ops, "|")
	allok = 1; worst = -1e9; worstop = ""
	for (i = 1; i <= 6; i++) {
		o = ops[i]
		if (!has("control", o, "sandboxfs")) continue
		d = med("control", o, "sandboxfs") - med("control", o, "raw")
		ok = d <= 300
		allok = allok && ok
		if (d > worst) { worst = d; worstop = o }
		ctl = ctl sprintf("| %s | %d | %s | %s | %s | %+.3f ms | %s |\n", o, N["control" SUBSEP o SUBSEP "sandboxfs"],
			cell("control", o, "sandboxfs"), cell("control", o, "sandboxfs shell"),
			cell("control", o, "raw"), d / 1000, yn(ok))
	}
	if (has("control", "vCPU hot-add", "raw device_add only"))
		ctl = ctl sprintf("\nraw vCPU hot-add = `query-hotpluggable-cpus` + `device_add` (what the daemon sends, it finds the free slot); `device_add` alone: %s ms.\n",
			cell("control", "vCPU hot-add", "raw device_add only"))
	ctl = ctl "disk hot-add = `blockdev-add` + `device_add`; disk hot-remove = `device_del` + wait for `DEVICE_DELETED` + `blockdev-del`;\n"
	ctl = ctl "state read: sandboxfs serves its cached state, raw sends `query-status`.  pause/resume = `stop`/`cont`.\n"
	ctl = ctl "vCPU hot-add only (no removal): on QEMU 7.2 TCG a hot-add after a vCPU hot-unplug can crash QEMU.\n"
	if (has("control", "state read", "sandboxfs"))
		target("control path ≤ raw QMP + 0.3 ms per op (median)",
			sprintf("worst: %s %+.3f ms", worstop, worst / 1000), allok)

	# ---- start
	st = "## 2. Start latency\n\n"
	st = st "`echo start > ctl` returning (QEMU spawned, QMP negotiated, watched) vs raw: bind a socket, exec the same argv with it as fd 3, greeting + `qmp_capabilities`.\n"
	st = st "Stop: `echo stop > ctl` (`quit`, wait for exit) vs raw `quit` + `waitpid`.  Interleaved.\n\n"
	st = st "| op | n | sandboxfs | raw | ratio (median) | target |\n|---|---|---|---|---|---|\n"
	if (has("start", "start", "sandboxfs")) {
		r = med("start", "start", "sandboxfs") / med("start", "start", "raw")
		st = st sprintf("| start | %d | %s | %s | %.2f× | ≤ 1.2×: %s |\n", N["start" SUBSEP "start" SUBSEP "sandboxfs"],
			cell("start", "start", "sandboxfs"), cell("start", "start", "raw"), r, yn(r <= 1.2))
		target("start ≤ 1.2× raw exec → QMP negotiated", sprintf("%.2f×", r), r <= 1.2)
		r2 = med("start", "stop", "sandboxfs") / med("start", "stop", "raw")
		st = st sprintf("| stop | %d | %s | %s | %.2f× | — |\n", N["start" SUBSEP "stop" SUBSEP "sandboxfs"],
			cell("start", "stop", "sandboxfs"), cell("start", "stop", "raw"), r2)
	}

	# ---- scale
	sc = "## 3. Scale: " I["sandboxes"] " sandboxes on one mount, " I["running_paused"] " of them running (paused)\n\n"
	sc = sc "The running ones use `{\"memory_mib\": 64, \"maxvcpus\": 24}`, started with `ctl start` then `ctl pause` at once "
	sc = sc "(sandboxfs does not expose QEMU's -S, so they are paused right after start).  ms, median / p90.\n\n"
	sc = sc "| measure | n | measured | target |\n|---|---|---|---|\n"
	if (has("scale", "mkdir", "sandboxfs")) {
		sc = sc sprintf("| mkdir (one sandbox) | %d | %s | — |\n", N["scale" SUBSEP "mkdir" SUBSEP "sandboxfs"], cell("scale", "mkdir", "sandboxfs"))
		v = med("scale", "ls root (readdir)", "sandboxfs")
		sc = sc sprintf("| `ls` of the root: opendir+readdir+closedir | %d | %s | ≤ 5 ms: %s |\n", N["scale" SUBSEP "ls root (readdir)" SUBSEP "sandboxfs"], cell("scale", "ls root (readdir)", "sandboxfs"), yn(v <= 5000))
		target("`ls` of a " I["sandboxes"] "-sandbox root ≤ 5 ms", ms(v) " ms (readdir)", v <= 5000)
		sc = sc sprintf("| `ls` of the root: the ls program (fork+exec) | %d | %s | (fork+exec of `true`: %s) |\n", N["scale" SUBSEP "ls root (the ls program)" SUBSEP "sandboxfs"],
			cell("scale", "ls root (the ls program)", "sandboxfs"), cell("scale", "ls root (the ls program)", "fork+exec of true"))
		sc = sc sprintf("| `cat */state`, all created (%d files) | %d | %s | — |\n", I["sandboxes"], N["scale" SUBSEP "cat */state (all created)" SUBSEP "sandboxfs"], cell("scale", "cat */state (all created)", "sandboxfs"))
		sc = sc sprintf("| `cat */state`, %d running + the rest created | %d | %s | — |\n", I["running_paused"], N["scale" SUBSEP "cat */state (running+created)" SUBSEP "sandboxfs"], cell("scale", "cat */state (running+created)", "sandboxfs"))
		v = I["rss_per_idle_kib"]
		sc = sc sprintf("| daemon RSS per idle sandbox (VmRSS %d → %d KiB) | 1 | %.1f KiB | ≤ 256 KiB: %s |\n", I["rss_before_kib"], I["rss_created_kib"], v, yn(v <= 256))
		target("daemon RSS ≤ 256 KiB per idle sandbox", sprintf("%.1f KiB", v), v <= 256)
		sc = sc sprintf("| daemon RSS per running sandbox (VmRSS → %d KiB) | 1 | %.1f KiB | — |\n", I["rss_running_kib"], I["rss_per_running_kib"])
		sc = sc sprintf("| `ctl start` while the others run | %d | %s | — |\n", N["scale" SUBSEP "start (while others run)" SUBSEP "sandboxfs"], cell("scale", "start (while others run)", "sandboxfs"))
		single = med("scale", "vCPU hot-add, one at a time", "sandboxfs")
		sc = sc sprintf("| vCPU hot-add, one at a time (each paused sandbox) | %d | %s | — |\n", N["scale" SUBSEP "vCPU hot-add, one at a time" SUBSEP "sandboxfs"], cell("scale", "vCPU hot-add, one at a time", "sandboxfs"))
		tot = med("scale", "parallel vCPU hot-adds (total)", "sandboxfs")
		budget = I["parallel_budget_us"]
		sc = sc sprintf("| %d vCPU hot-adds at once, one per sandbox: total | %d | %s | ≤ 2 × single × ⌈%d/%d⌉ = %s ms: %s |\n",
			I["running_paused"], N["scale" SUBSEP "parallel vCPU hot-adds (total)" SUBSEP "sandboxfs"], cell("scale", "parallel vCPU hot-adds (total)", "sandboxfs"),
			I["running_paused"], I["nproc"], ms(budget), yn(tot <= budget))
		sc = sc sprintf("| the same: slowest single write of a round | %d | %s | (all %d one after another: %s ms) |\n", N["scale" SUBSEP "parallel vCPU hot-adds (slowest one)" SUBSEP "sandboxfs"],
			cell("scale", "parallel vCPU hot-adds (slowest one)", "sandboxfs"), I["running_paused"], ms(I["parallel_serial_us"]))
		target(I["running_paused"] " parallel hot-adds ≤ 2 × single × ⌈" I["running_paused"] "/cores⌉", sprintf("%s ms vs %s ms", ms(tot), ms(budget)), tot <= budget)
	}

	# ---- FUSE path
	fp = "## 4. FUSE path cost: `cat state` vs the physical floor\n\n"
	fp = fp "open + read to EOF + close, from C, the three interleaved in one loop.  µs, median / p90.\n\n"
	fp = fp "| file | n | median µs | p90 µs | × tmpfs | × sysfs |\n|---|---|---|---|---|---|\n"
	o = "cat (open+read+close)"
	if (has("fusepath", o, "tmpfs file")) {
		t = med("fusepath", o, "tmpfs file"); y = med("fusepath", o, "sysfs file")
		split("sandboxfs state|tmpfs file|sysfs file", fv, "|")
		split("sandboxfs `state`|tmpfs file (/dev/shm)|sysfs file (/sys/devices/system/cpu/online)", fl, "|")
		for (i = 1; i <= 3; i++) {
			k = "fusepath" SUBSEP o SUBSEP fv[i]
			fp = fp sprintf("| %s | %d | %.1f | %.1f | %.1f× | %.1f× |\n", fl[i], N[k], MED[k], P90[k], MED[k] / t, MED[k] / y)
		}
	}

	# ---- libvirt
	lv = "## 5. libvirt\n\n"
	if ("libvirt_error" in I)
		lv = lv "Not measured: " I["libvirt_error"] "\n"
	else if (!has("libvirt", "state read", "virsh"))
		lv = lv "Not run (it installs libvirt: `make bench LIBVIRT=1` or `bench/run --libvirt`).\n"
	else {
		lv = lv "The same guest (kernel, initrd, command line, TCG, q35, 4 root ports) as a libvirt domain under a private libvirtd " I["libvirt_version"] "\n"
		lv = lv "(QEMU as root, no cgroups, no security driver).  Both sides as a shell user types them: `virsh …` is a program;\n"
		lv = lv "on the sandboxfs side `cat state` is a program too, the writes are bash's builtin `echo`.  Interleaved, ms, median / p90.\n\n"
		lv = lv "The last column is the ceiling: virsh ÷ raw QMP (§1, §2), what even a perfect QMP client could show; where it is under 10×, QEMU's own time for the op rules out the target.\n\n"
		lv = lv "| op | n | virsh | sandboxfs | virsh ÷ sandboxfs | target ≥ 10× on reads and hotplug | virsh ÷ raw QMP |\n|---|---|---|---|---|---|---|\n"
		split("control|control|control|control|start|start", rs, "|")
		split("state read|vCPU hot-add|disk hot-add|disk hot-remove|start|stop", ro, "|")
		split("state read|vCPU hot-add|disk hot-add|disk hot-remove|start|stop", lo, "|")
		split("`virsh domstate` vs `cat state`|`virsh setvcpus --live` vs `echo N > cpus/target`|`virsh attach-disk` vs `echo {…} > devices/add`|`virsh detach-disk` vs `echo d1 > devices/remove`|`virsh start` vs `echo start > ctl`|`virsh destroy` vs `echo stop > ctl`", ll, "|")
		lok = 1
		for (i = 1; i <= 6; i++) {
			if (!has("libvirt", lo[i], "virsh")) continue
			r = med("libvirt", lo[i], "virsh") / med("libvirt", lo[i], "sandboxfs")
			gate = i <= 4
			if (gate) lok = lok && r >= 10
			ceil = has(rs[i], ro[i], "raw") ? sprintf("%.1f×", med("libvirt", lo[i], "virsh") / med(rs[i], ro[i], "raw")) : "—"
			lv = lv sprintf("| %s | %d | %s | %s | %.1f× | %s | %s |\n", ll[i], N["libvirt" SUBSEP lo[i] SUBSEP "virsh"],
				cell("libvirt", lo[i], "virsh"), cell("libvirt", lo[i], "sandboxfs"), r, gate ? yn(r >= 10) : "—", ceil)
		}
		target("≥ 10× faster than libvirt on every read and hotplug op", "see §5", lok)
		if (has("control", "state read", "sandboxfs shell"))
			lv = lv sprintf("\n`cat` is fork+exec of a program; the state read itself, from bash's builtin `read`, is %s ms (§1): %.0f× faster than `virsh domstate`.\n",
				ms(med("control", "state read", "sandboxfs shell")), med("libvirt", "state read", "virsh") / med("control", "state read", "sandboxfs shell"))
		if ("libvirt_note" in I) lv = lv "\n" I["libvirt_note"] "\n"
	}

	# ---- observability
	ob = "## 6. Observability: `stats` and `metrics`\n\n"
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
		target("`cat metrics` of " I["obs_metrics_sandboxes"] " sandboxes ≤ 10 ms", ms(v) " ms", v <= 10000)
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
	print "Produced by `make bench` (bench/run) in one run of " I["bench_seconds"] " s on " I["date"] "; every ratio below is measured side by side in that run."
	print "Medians and p90 of n samples (n ≥ 20).  The plot is `latency.png`; every figure is in `data.tsv`.  Under TCG the guest's own work (a disk probe, an ACPI eject) is most of every hotplug figure and varies from run to run; the overheads that are tenths of a millisecond are best read together with the p90s."
	print ""
	print "**Setup:** the daemon runs as in a deployment (`sandboxfs -f --stop-on-exit --qemu-user=root`: the raw side execs the same `cmdline`, which under the default confinement names descriptors only the daemon's child holds), its state directory on " I["state_dir_fs"] " (as `/run/sandboxfs` is on a systemd host; the daemon fsyncs its per-sandbox state file on every change, so a disk-backed state directory adds the disk's fsync latency to every state-changing op)."
	print ""
	print "**Machine:** " I["nproc"] " CPUs (" I["cpu"] "), " I["memory"] " RAM, " I["kernel"] ", " I["os"] ", " I["qemu"] ", libfuse " I["libfuse"] ", sandboxfs " I["sandboxfs"] ".  Load average at the end: " I["loadavg_at_end"] " (other jobs may share this machine; interleaving the two sides of each comparison keeps the ratios fair)."
	print ""
	print "## Targets"
	print ""
	print "| target | measured | |"
	print "|---|---|---|"
	printf "%s", summary
	print ""
	print ctl
	print st
	print sc
	print fp
	print lv
	print ob
}
