#!/usr/bin/env python3
# Privilege and the things around it: -u drops to an unprivileged account
# after the password file is read and before a byte from the client;
# startup errors (no root for system accounts, -u misuse); pop3d -P; and
# the real one-second failure delay, the same for every kind of failure.
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (AUTH_FAIL, POP3D, Session, Tap, apop_digest,  # noqa
                     build, cram_response, hash_password, mbox, need_root,
                     proc_ids, tmpdir, write)

tap = Tap()
need_root(tap)
build(tap)
nobody = pwd.getpwnam("nobody")
tmp = tmpdir("auth-privilege", 0o755)

# Binaries where an unprivileged user can run them.
pop3d = os.path.join(tmp, "pop3d")
shutil.copy(POP3D, pop3d)
os.chmod(pop3d, 0o755)


def as_nobody():
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


def run(args, preexec=None, stdin=b""):
    r = subprocess.run([pop3d] + args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, preexec_fn=preexec,
                       timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


# --- -u: an unprivileged session --------------------------------------------

vdir = os.path.join(tmp, "virtual")
os.mkdir(vdir)
os.chown(vdir, nobody.pw_uid, nobody.pw_gid)
box = os.path.join(vdir, "mbox")
write(box, mbox(3), 0o600)
os.chown(box, nobody.pw_uid, nobody.pw_gid)
passwd = os.path.join(tmp, "passwd")
write(passwd, "jack:{PLAIN}password\n", 0o600)	# root's alone

s = Session(["-f", box, "-p", passwd, "-u", "nobody"], binary=pop3d)
want_groups = sorted(set(os.getgrouplist("nobody", nobody.pw_gid)))
uids, gids, groups = proc_ids(s.p.pid)
tap.ok(s.greeting.startswith(b"+OK"), "-u nobody: greeting", s.greeting)
tap.eq((uids, gids, groups), ([nobody.pw_uid] * 4, [nobody.pw_gid] * 4,
                              want_groups),
       "-u nobody: before the first command, every uid and gid is nobody's")
r = s.cmd("USER jack") and s.cmd("PASS password")
tap.ok(r.startswith(b"+OK 3 messages"), "-u nobody: the root-only password "
       "file was read before the drop; login works", r)
st = os.stat(box + ".pop3d")
tap.eq((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid),
       "-u nobody: the session lock is created by nobody")
tap.ok(s.cmd("DELE 2").startswith(b"+OK"), "DELE 2")
tap.ok(s.cmd("QUIT").startswith(b"+OK"), "QUIT: the update succeeds")
status, err = s.finish()
with open(box, "rb") as f:
    data = f.read()
tap.ok(b"message 2" not in data and b"message 3" in data,
       "message 2 is gone, 3 kept")
tap.ok("sessions run as root" not in err, "-u: no warning about root", err)

s = Session(["-f", box, "-p", passwd], binary=pop3d)
s.cmd("QUIT")
status, err = s.finish()
tap.ok("sessions run as root: give -u USER" in err,
       "root with -p and no -u: a warning in the log", err)

open_passwd = os.path.join(tmp, "passwd.nobody")
write(open_passwd, "jack:{PLAIN}password\n", 0o644)
rc, out, err = run(["-e", "-f", box, "-p", open_passwd, "-u", "nobody"],
                   preexec=as_nobody, stdin=b"QUIT\r\n")
tap.ok(rc == 0 and out.startswith("+OK"), "-u naming the user we already "
       "are: runs", (rc, out, err))

# --- startup errors ---------------------------------------------------------

rc, out, err = run(["-e", "-f", box])
tap.ok(rc == 0 and out.startswith("+OK"),
       "root without -p: system accounts, a greeting", (rc, out, err))
rc, out, err = run(["-e", "-f", box], preexec=as_nobody)
tap.ok(rc == 1 and out == "" and "system accounts (no -p) need root" in err,
       "not root without -p: exit 1 with a clear error", (rc, out, err))
rc, out, err = run(["-f", box], preexec=as_nobody)
tap.ok(rc == 1 and "pop3d: system accounts (no -p) need root" in err,
       "... on stderr also without -e", (rc, out, err))
rc, out, err = run(["-e", "-f", box, "-u", "nobody"])
tap.ok(rc == 64 and "-u is for -p" in err, "-u without -p: usage, exit 64",
       (rc, err))
rc, out, err = run(["-e", "-f", box, "-p", passwd, "-u", "root"])
tap.ok(rc == 1 and "not uid 0" in err and out == "",
       "-u root: refused, exit 1", (rc, out, err))
rc, out, err = run(["-e", "-f", box, "-p", passwd, "-u", "nosuchuser9z"])
tap.ok(rc == 1 and "no such user" in err and out == "",
       "-u with an unknown account: exit 1", (rc, out, err))
rc, out, err = run(["-e", "-f", box, "-p", open_passwd, "-u", "daemon"],
                   preexec=as_nobody)
tap.ok(rc == 1 and "only root can switch users" in err and out == "",
       "-u another account without root: exit 1", (rc, out, err))
rc, out, err = run(["-e", "-f", box, "-p", os.path.join(tmp, "missing")])
tap.ok(rc == 1 and "missing: No such file or directory" in err and
       out == "", "a missing password file: exit 1 before the greeting",
       (rc, out, err))
rc, out, err = run(["-h"])
tap.ok(rc == 0 and "-u USER" in out and "-P " in out and
       "[-p PASSWDFILE [-u USER]]" in out, "-h documents -p, -u and -P", out)

# --- pop3d -P ---------------------------------------------------------------

h1 = hash_password("correct horse")
h2 = hash_password("correct horse")
tap.ok(h1.startswith("$y$") or h1.startswith("$6$") or h1.startswith("$2"),
       "-P: a modern crypt(3) hash (%s)" % h1[:4], h1)
tap.ok(h1 != h2, "-P: a fresh salt every time")
rc, out, err = run(["-P"], stdin=b"correct horse")
tap.ok(rc == 0 and out.count("\n") == 1 and out.startswith("$"),
       "-P: a password without a final newline", (rc, out, err))
rc, out2, err = run(["-P"], stdin=b"correct horse\r\n")
hashes = os.path.join(tmp, "hashes")
write(hashes, "crlf:%sone:%s\ntwo:%s\n" % (out2, h1, h2), 0o600)
for user in ("one", "two", "crlf"):
    s = Session(["-f", box, "-p", hashes], binary=pop3d)
    s.cmd("USER " + user)
    r = s.cmd("PASS correct horse")
    tap.ok(r.startswith(b"+OK"), "-P hash for %s logs in" % user, r)
    s.finish()
rc, out, err = run(["-P"], stdin=b"\n")
tap.ok(rc == 1 and out == "" and "empty password" in err,
       "-P: an empty password is refused", (rc, out, err))
rc, out, err = run(["-P"], stdin=b"")
tap.ok(rc == 1 and out == "", "-P: no input, exit 1", (rc, out, err))
rc, out, err = run(["-P"], stdin=b"x" * 600 + b"\n")
tap.ok(rc == 1 and out == "" and "longer than" in err,
       "-P: a password past crypt(3)'s limit is refused", (rc, out, err))

# --- the real failure delay -------------------------------------------------

mixed = os.path.join(tmp, "mixed")
write(mixed, "jack:{PLAIN}password\njill:%s\nbob:!%s\n" % (h1, h1), 0o600)


def timed(s, line):
    t0 = time.monotonic()
    r = s.cmd(line)
    return r, time.monotonic() - t0


s = Session(["-f", box, "-p", mixed], binary=pop3d)
results = []
for user, password in (("nosuchuser", "correct horse"),
                       ("jill", "wrong horse"),
                       ("bob", "correct horse")):
    s.cmd("USER " + user)
    results.append(timed(s, "PASS " + password))
answers = [r[0].split(b";")[0] for r in results]
times = [r[1] for r in results]
tap.ok(answers == [AUTH_FAIL] * 3, "unknown, wrong, locked: one answer",
       answers)
tap.ok(all(0.95 <= t <= 2.5 for t in times),
       "each failure is answered after about one second: %s" %
       ", ".join("%.3f" % t for t in times))
tap.ok(max(times) - min(times) < 0.5,
       "the three delays are the same (spread %.3f s)" %
       (max(times) - min(times)))
tap.ok(s.closed(), "and after the third the session ends")
s.finish()

plainfile = os.path.join(tmp, "plain")
write(plainfile, "jack:{PLAIN}password\n", 0o600)
s = Session(["-f", box, "-p", plainfile], binary=pop3d)
r1 = timed(s, "APOP jack " + apop_digest(s.stamp(), "wrong"))
chal = s.cmd("AUTH CRAM-MD5")[2:]
r2 = timed(s, cram_response("jack", "wrong", chal))
tap.ok(r1[0] == AUTH_FAIL and r2[0] == AUTH_FAIL and
       all(0.95 <= t <= 2.5 for t in (r1[1], r2[1])),
       "APOP and CRAM-MD5 failures: the same answer and delay "
       "(%.3f, %.3f)" % (r1[1], r2[1]))
s.cmd("USER jack")
r3 = timed(s, "PASS password")
tap.ok(r3[0].startswith(b"+OK") and r3[1] < 0.9,
       "a good password is not delayed (%.3f)" % r3[1])
s.finish()

tap.done()
