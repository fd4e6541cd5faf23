#!/usr/bin/env python3
"""Routers' CPUs: pop3d cross-built statically for 32-bit big-endian MIPS,
ARMv7 (armhf) and AArch64 with Debian's cross compilers (cross/build.sh),
run under qemu-user through the scripted sessions (t/20), the UID test
(t/21) and the octet model (t/22), each with POP3D naming the emulated
build; and pop3d -P makes a yescrypt hash there (libxcrypt is built in).
The nine runs go four at a time."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import CROSS, TOP, Tap, cross_pop3d, need  # noqa: E402

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


def run_test(arch, name):
    """t/NAME with POP3D running the ARCH build under qemu: (exit status,
    TAP output)."""
    env = dict(os.environ, POP3D=built[arch][1])
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

tap.done()
