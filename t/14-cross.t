#!/usr/bin/env python3
"""Routers' CPUs: pop3d cross-built statically for 32-bit big-endian MIPS,
ARMv7 (armhf) and AArch64 with Debian's cross compilers (cross/build.sh),
run under qemu-user through the scripted sessions (t/20), the UID test
(t/21) and the octet model (t/22), each with POP3D naming the emulated
build; pop3d -P makes a yescrypt hash there (libxcrypt is built in); and
where qemu-user offers no seccomp, pop3d says so once and runs without,
or with -S does not start, while qemu -strace shows that the session
makes no system call its filter would forbid on that CPU.
The nine runs go four at a time."""
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (CROSS, PASSWD, TOP, Tap, cross_pop3d,  # noqa: E402
                     need, tmpdir, write)

ARCHS = ["mips", "armhf", "arm64"]
TESTS = ["20-sessions.t", "21-uidl.t", "22-octets.t"]
# What readelf -h says of each build: class, byte order, machine.
ELF = {
    "mips": ("ELF32", "big endian", "MIPS R3000"),
    "armhf": ("ELF32", "little endian", "ARM"),
    "arm64": ("ELF64", "little endian", "AArch64"),
}

tap = Tap()
need(tap, "readelf")
built = cross_pop3d(tap, ARCHS)


def readelf(binary, option):
    return subprocess.run(["readelf", option, binary], stdout=subprocess.PIPE,
                          universal_newlines=True, timeout=60).stdout


def header(text, key):
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == key:
            return v.strip()
    return None


# t/20's sessions run under qemu -strace, whose record of each process's
# system calls shows what the session makes on that CPU (qemu-user cannot
# apply the seccomp filter itself).
traces = tmpdir("cross-strace")
traced = {}
for arch in ARCHS:
    traced[arch] = os.path.join(traces, "pop3d-" + arch)
    write(traced[arch], '#!/bin/sh\nexec %s -strace -D %s/%s.$$ %s "$@"\n' %
          (CROSS[arch][1], traces, arch, built[arch][0]), 0o755)


def run_test(arch, name):
    """t/NAME with POP3D running the ARCH build under qemu: (exit status,
    TAP output)."""
    env = dict(os.environ, POP3D=traced[arch] if name == "20-sessions.t"
               else built[arch][1])
    env.pop("POP3D_FASTFAIL", None)
    r = subprocess.run([os.path.join(TOP, "t", name)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=900)
    return r.returncode, r.stdout.decode(errors="replace")


def tap_result(status, out):
    """(passed, count): every planned check ran and passed, none skipped."""
    lines = out.splitlines()
    plans = [l for l in lines if l.startswith("1..")]
    oks = [l for l in lines if l.startswith("ok ")]
    bad = [l for l in lines if l.startswith("not ok") or "# SKIP" in l
           or l.startswith("Bail out!")]
    try:
        planned = int(plans[-1][3:].split()[0])
    except (IndexError, ValueError):
        planned = 0
    return (status == 0 and planned > 0 and len(oks) == planned and
            not bad), planned


for arch in ARCHS:
    binary = built[arch][0]
    h = readelf(binary, "-h")
    want = ELF[arch]
    tap.ok(header(h, "Class") == want[0] and
           want[1] in (header(h, "Data") or "") and
           header(h, "Machine") == want[2],
           "%s: pop3d-%s is %s, %s, %s" % (arch, arch, *want), h)
    tap.ok((header(h, "Type") or "").startswith("EXEC") and
           "INTERP" not in readelf(binary, "-l") and
           "NEEDED" not in readelf(binary, "-d"),
           "%s: statically linked (no interpreter, no shared library)"
           % arch)
    size = os.path.getsize(binary)
    tap.diag("%s: pop3d-%s is %d bytes" % (arch, arch, size))
    r = subprocess.run([built[arch][1], "-P"], input=b"router\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    tap.ok(r.returncode == 0 and r.stdout.startswith(b"$y$"),
           "%s: pop3d -P under %s prints a yescrypt hash" %
           (arch, CROSS[arch][1]), r.stdout + r.stderr)
    # qemu-user refuses seccomp filters (they would bind qemu itself):
    # pop3d says so once and runs without, or with -S does not start.
    box = os.path.join(TOP, "t", "sessions", "mbox", "default")
    r = subprocess.run([built[arch][1], "-e", "-f", box, "-p", PASSWD],
                       input=b"QUIT\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    tap.ok(r.returncode == 0 and r.stdout.startswith(b"+OK") and
           err.count("the kernel offers no ") == 1 and
           "seccomp: the pre-login process and the session run without"
           in err, "%s: under %s, no seccomp: logged once, the session "
           "runs" % (arch, CROSS[arch][1]), (r.stdout, err))
    r = subprocess.run([built[arch][1], "-e", "-S", "-f", box, "-p",
                        PASSWD], input=b"QUIT\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    err = r.stderr.decode(errors="replace")
    tap.ok(r.returncode == 1 and r.stdout == b"" and
           "and -S says not to run without" in err,
           "%s: ... and with -S pop3d does not start" % arch, (r.stdout, err))

# t/20 mostly waits out the one-second delays of refused logins: the
# three of them start first, side by side, the rest fill in.
jobs = [(arch, name) for name in TESTS for arch in ARCHS]
with ThreadPoolExecutor(max_workers=4) as pool:
    results = dict(zip(jobs, pool.map(lambda job: run_test(*job), jobs)))
for arch, name in sorted(jobs, key=lambda j: (ARCHS.index(j[0]), j[1])):
    status, out = results[(arch, name)]
    passed, planned = tap_result(status, out)
    failures = "\n".join(l for l in out.splitlines()
                         if not l.startswith("ok "))
    tap.ok(passed, "%s: t/%s under %s, %d checks" %
           (arch, name, CROSS[arch][1], planned), failures[-3000:])


def allowed_calls():
    """Every name on sandbox.c's lists (the pre-login child's and the
    session's: the session may make both)."""
    with open(os.path.join(TOP, "sandbox.c")) as f:
        src = f.read()
    names = set()
    for name in ("prelogin_calls[] = {", "session_calls[] = {"):
        part = src[src.index(name):]
        names |= set(re.findall(r"SYS_(\w+)", part[:part.index("};")]))
    return names


def confined_calls(arch):
    """The calls each session made once confined in t/20 (after its last
    setrlimit, sandbox.c's RLIMIT_NOFILE, the step before the seccomp
    filter): {name: count}, and how many sessions.  A session is the
    process that read the mailbox (pread64), which no pre-login child
    does; by then it is alone, so its lines are not mixed with a child's
    in qemu's log."""
    calls, confined = {}, 0
    call = re.compile(r"^(\d+) (?:Unknown syscall (\d+)|([a-z_0-9]+)\()")
    for f in os.listdir(traces):
        if not f.startswith(arch + "."):
            continue
        after, readers = {}, set()
        with open(os.path.join(traces, f), errors="replace") as t:
            for line in t:
                m = call.match(line)
                if not m:
                    continue
                pid, name = m.group(1), m.group(3) or "#" + m.group(2)
                if name == "pread64":
                    readers.add(pid)
                if name == "prlimit64" and not re.match(
                        r"\d+ prlimit64\(\d+,\d+,0,", line):
                    after[pid] = []	# a limit set, not one read
                elif pid in after:
                    after[pid].append(name)
        for pid in readers & set(after):
            confined += 1
            for name in after[pid]:
                calls[name] = calls.get(name, 0) + 1
    return calls, confined


allowed = allowed_calls()
for arch in ARCHS:
    calls, confined = confined_calls(arch)
    tap.ok(confined > 50 and set(calls) <= allowed and
           {"pread64", "fdatasync", "unlink", "unlinkat"} & set(calls),
           "%s: the %d confined sessions of t/20 under qemu -strace make "
           "only calls on sandbox.c's lists (%d kinds, updates among them)"
           % (arch, confined, len(calls)),
           "not on the lists: %s\nall: %s" % (sorted(set(calls) - allowed),
                                               sorted(calls)))

tap.done()
