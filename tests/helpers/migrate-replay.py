#!/usr/bin/env python3
"""migrate-replay — test_migrate.sh's sequence of live migrations replayed
with raw QMP and no daemon, to tell QEMU's faults from the daemon's: boot
the built-in guest, hot-add a vCPU and a disk, then (STEPS) a cancelled
migration, one whose destination is killed, a whole one, a vCPU hot-add on
the destination, and two more hops (the QMP connection cut and made again
mid-way with RECONNECT=1).  Ends with "RESULT ok" or "RESULT FAIL why".

  tests/helpers/migrate-replay.py WORKDIR        (QEMU=, ACCEL=, SECCOMP=1,
                                                  RECONNECT=1, PORT=, HOLD=s)

docs/deploy.md ("Draining a node") has what it showed on QEMU 7.2 and 10.0.
"""
import json, os, socket, subprocess, sys, time, re, signal

QEMU = os.environ.get("QEMU", "/usr/bin/qemu-system-x86_64")
if len(sys.argv) != 2:
    sys.exit("usage: migrate-replay.py WORKDIR")
W = os.path.abspath(sys.argv[1])
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = os.environ.get("STEPS", "cancel,fail,full,hot,back,drain")
ACCEL = os.environ.get("ACCEL", "tcg,thread=multi")
os.makedirs(W, exist_ok=True)
K = ROOT + "/build/guest/vmlinuz"; I = ROOT + "/build/guest/initramfs.cpio.gz"
APPEND = ("console=ttyS0 tsc=reliable no_timer_check rcupdate.rcu_expedited=1 i8042.direct=1 "
          "i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k cryptomgr.notests "
          "net.ifnames=0 panic=1 quiet")
UUID = "18ee48d9-d170-420a-8db1-7134bda28317"
DISK = W + "/d1.img"
subprocess.run(["truncate", "-s", "32M", DISK], check=True)

class Q:
    def __init__(self, name, incoming):
        self.name = name
        self.sock = f"{W}/{name}.qmp"; self.con = f"{W}/{name}.console"
        for p in (self.sock, self.con):
            if os.path.exists(p): os.unlink(p)
        argv = [QEMU, "-name", f"guest={name}", "-uuid", UUID, "-machine", "pc-q35-7.2",
                "-accel", ACCEL, "-smp", "1,sockets=4,cores=1,threads=1,maxcpus=4",
                "-m", "256M"] + (["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"] if os.environ.get("SECCOMP") else []) + [ "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
                "-rtc", "base=utc,clock=host,driftfix=slew",
                "-chardev", f"socket,id=qmp,path={self.sock},server=on,wait=off",
                "-mon", "chardev=qmp,mode=control",
                "-chardev", f"file,id=console,path={self.con},append=on", "-serial", "chardev:console",
                "-kernel", K, "-initrd", I, "-append", APPEND]
        for i in range(4):
            argv += ["-device", f"pcie-root-port,id=rp{i},bus=pcie.0,chassis={i+1},addr=0x{i+2:x}"]
        if incoming:
            argv += ["-blockdev", f"driver=raw,node-name=drive-d1,file.driver=file,file.filename={DISK}",
                     "-device", "virtio-blk-pci,id=d1,drive=drive-d1,bus=rp0,addr=0x0",
                     "-incoming", "defer"]
        self.p = subprocess.Popen(argv)
        for _ in range(100):
            if os.path.exists(self.sock): break
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX); self.s.connect(self.sock)
        self.f = self.s.makefile("rw"); self.f.readline()
        self.cmd("qmp_capabilities")
        self.events = []

    def cmd(self, c, **a):
        self.f.write(json.dumps({"execute": c, "arguments": a}) + "\n"); self.f.flush()
        while True:
            o = json.loads(self.f.readline())
            if "event" in o:
                self.events.append(o); continue
            if "error" in o: raise RuntimeError(f"{self.name} {c}: {o['error']}")
            return o["return"]

    def guest(self):
        try: t = open(self.con, errors="replace").read()
        except FileNotFoundError: return None, ""
        g = [l for l in t.replace("\r", "").split("\n") if l.startswith("GUEST cpus=")]
        return (g[-1] if g else None), t

    def wait_guest(self, pat, t=90):
        d = time.time() + t
        while time.time() < d:
            l, _ = self.guest()
            if l and re.search(pat, l): return l
            time.sleep(0.3)
        l, txt = self.guest()
        raise RuntimeError(f"{self.name}: guest never said {pat!r}; last {l!r}; oops={'general protection' in txt or 'Oops' in txt}")

    def kill(self):
        self.p.kill(); self.p.wait()

    def mig_status(self):
        return self.cmd("query-migrate").get("status", "none")

def caps(q):
    q.cmd("migrate-set-capabilities", capabilities=[
        {"capability": "events", "state": True}, {"capability": "return-path", "state": os.environ.get("RP","1")=="1"},
        {"capability": "auto-converge", "state": False}, {"capability": "x-ignore-shared", "state": False},
        {"capability": "multifd", "state": False}])

def hot_cpu(q, sock):
    q.cmd("device_add", driver="qemu64-x86_64-cpu", id=f"cpu-{sock}-0-0", **{"socket-id": sock, "core-id": 0, "thread-id": 0})

def dest(name, cpus, port):
    d = Q(name, True)
    for s in cpus: hot_cpu(d, s)
    caps(d)
    d.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    return d

def wait_status(q, want, t=120):
    dl = time.time() + t
    while time.time() < dl:
        s = q.mig_status()
        if s in want: return s
        time.sleep(0.2)
    raise RuntimeError(f"{q.name}: migration never {want}, is {q.mig_status()}")

def migrate(src, name, cpus, port, bw, mode):
    d = dest(name, cpus, port)
    caps(src)
    if bw: src.cmd("migrate-set-parameters", **{"max-bandwidth": bw * 1048576})
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    wait_status(src, ("active", "completed"))
    if mode == "cancel":
        src.cmd("migrate_cancel"); print(" cancel:", wait_status(src, ("cancelled", "failed"))); d.kill(); return None
    if mode == "fail":
        d.kill(); print(" fail:", wait_status(src, ("failed", "cancelled"))); return None
    if os.environ.get("RECONNECT") and name == RECON_NAME[0]:
        time.sleep(1); src.s.close(); time.sleep(1)
        src.s = socket.socket(socket.AF_UNIX); src.s.connect(src.sock)
        src.f = src.s.makefile("rw"); src.f.readline(); src.cmd("qmp_capabilities"); src.cmd("query-status")
        print(" reconnected")
    print(" full:", wait_status(src, ("completed", "failed")))
    src.cmd("quit"); src.p.wait()
    return d

port = int(os.environ.get("PORT", "47000"))
RECON_NAME = ["d5"]
a = Q("a", False)
a.wait_guest("ncpus=1 ")
hot_cpu(a, 1)
a.cmd("blockdev-add", **{"driver": "raw", "node-name": "drive-d1", "file": {"driver": "file", "filename": DISK}})
a.cmd("device_add", driver="virtio-blk-pci", id="d1", drive="drive-d1", bus="rp0", addr="0x0")
print("a:", a.wait_guest("ncpus=2 blk=vda "))
cur, cpus, n = a, [1], 0
try:
    for step in STEPS.split(","):
        port += 1; n += 1
        if step in ("cancel", "fail"):
            migrate(cur, f"d{n}", cpus, port, 4, step)
            print(step, "src:", cur.wait_guest("ncpus=", 10))
        elif step == "hot":
            hot_cpu(cur, len(cpus) + 1); cpus.append(len(cpus) + 1)
            print("hot:", cur.wait_guest(f"ncpus={len(cpus)+1} ", 30))
        else:
            bw = {"full": 12, "back": 8, "drain": 0}.get(step, 0)
            cur = migrate(cur, f"d{n}", cpus, port, bw, "full")
            time.sleep(4)
            print(step, cur.name, ":", cur.wait_guest(f"ncpus={len(cpus)+1} .*", 30))
    print("RESULT ok")
except Exception as ex:
    print("RESULT FAIL", ex)
    if os.environ.get("HOLD"): time.sleep(int(os.environ["HOLD"]))
finally:
    for q in (a, cur):
        try: q.kill()
        except Exception: pass
    subprocess.run(["pkill", "-f", "guest=d[0-9]"])
