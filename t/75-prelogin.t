#!/usr/bin/env python3
# The pre-login child (README, "Before login"): the process that reads the
# client's commands before login is neither root nor outside its chroot,
# has no groups, NoNewPrivs, a seccomp filter and tight limits, and what
# code injected into it would try fails; the monitor refuses whatever
# malformed a taken-over child sends it; log lines escape what clients
# type; a line and the whole AUTHORIZATION state have deadlines.
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (POP3D, TOP, Session, Tap, build, mbox,  # noqa: E402
                     need, need_root, proc_ids, proc_limits, proc_status,
                     tmpdir, write)

PRELOGIN_USER = "pop3d"
PRELOGIN_DIR = "/var/lib/pop3d/empty"
SERVER_ERROR = b"-ERR [SYS/TEMP] server error, closing"

tap = Tap()
need_root(tap)
need(tap, "setpriv")
build(tap, "pop3d", "pop3d-test")
TESTBIN = os.environ.get("POP3D_TEST", os.path.join(TOP, "pop3d-test"))
try:
    account = pwd.getpwnam(PRELOGIN_USER)
except KeyError:
    tap.bail("no account %s: .ci/run creates it" % PRELOGIN_USER)
nobody = pwd.getpwnam("nobody")

tmp = tmpdir("prelogin")
os.chmod(tmp, 0o755)
# Binaries an unprivileged user can run.
pop3d = os.path.join(tmp, "pop3d")
testbin = os.path.join(tmp, "pop3d-test")
shutil.copy(POP3D, pop3d)
shutil.copy(TESTBIN, testbin)
os.chmod(pop3d, 0o755)
os.chmod(testbin, 0o755)
box = os.path.join(tmp, "mbox")
write(box, mbox(3), 0o600)
os.chown(box, nobody.pw_uid, nobody.pw_gid)
passwd = os.path.join(tmp, "passwd")
write(passwd, "jack:{PLAIN}password\n", 0o600)
open_passwd = os.path.join(tmp, "passwd.nobody")
write(open_passwd, "jack:{PLAIN}password\n", 0o644)


def as_nobody():
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


# The same for a Session: a command in front of pop3d.
NOBODY = ("setpriv", "--reuid=%d" % nobody.pw_uid,
          "--regid=%d" % nobody.pw_gid, "--clear-groups")


def rchar(pid):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return None


def child_of(pid):
    """The one child of pid: the pre-login process."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
        if kids:
            return kids[0]
        time.sleep(0.01)
    return None


def check_child(name, s, uid, gid, root):
    kid = child_of(s.p.pid)
    if not tap.ok(kid is not None, "%s: the session has a pre-login child"
                  % name):
        return None
    st = proc_status(kid)
    uids, gids, groups = proc_ids(kid)
    tap.eq((uids, gids, groups), ([uid] * 4, [gid] * 4, []),
           "%s: the child is uid %d gid %d, no groups" % (name, uid, gid))
    tap.eq(os.readlink("/proc/%d/root" % kid), root,
           "%s: the child's root directory is %s" % (name, root))
    tap.eq((st.get("NoNewPrivs"), st.get("Seccomp")), ("1", "2"),
           "%s: NoNewPrivs 1, Seccomp 2 (filter)" % name)
    lim = proc_limits(kid)
    tap.eq((lim.get("Max open files"), lim.get("Max processes"),
            lim.get("Max core file size")),
           (["1", "1"], ["0", "0"], ["0", "0"]),
           "%s: RLIMIT_NOFILE 1, RLIMIT_NPROC 0, RLIMIT_CORE 0" % name)
    # The child reads the client: a command's bytes show in its rchar,
    # not in the monitor's.
    before = (rchar(kid), rchar(s.p.pid))
    r = s.cmd("USER jack")
    after = (rchar(kid), rchar(s.p.pid))
    tap.ok(r == b"+OK send PASS" and after[0] - before[0] == 11 and
           after[1] == before[1],
           "%s: USER's 11 bytes are read by the child, none by the monitor"
           % name, (r, before, after))
    return kid


# --- who reads the client before login --------------------------------------

s = Session(["-f", box], binary=pop3d)
check_child("system accounts", s, account.pw_uid, account.pw_gid,
            PRELOGIN_DIR)
tap.eq(proc_ids(s.p.pid)[0], [0] * 4,
       "system accounts: the monitor stays root (shadow, the switch)")
s.cmd("QUIT")
s.finish()

s = Session(["-f", box, "-p", passwd, "-u", "nobody"], binary=pop3d)
check_child("-p -u nobody", s, account.pw_uid, account.pw_gid, PRELOGIN_DIR)
tap.eq(proc_ids(s.p.pid)[0], [nobody.pw_uid] * 4,
       "-p -u nobody: the monitor is nobody")
r = s.cmd("PASS password")
tap.ok(r.startswith(b"+OK 3 messages"), "-p -u nobody: login works", r)
tap.ok(child_of(s.p.pid) is None or not os.path.exists(
    "/proc/%d" % child_of(s.p.pid)), "after login the child is gone")
tap.ok(s.cmd("STAT").startswith(b"+OK 3 "), "TRANSACTION in the monitor")
s.cmd("QUIT")
s.finish()

s = Session(["-f", box, "-p", open_passwd], binary=pop3d, pre=NOBODY)
check_child("not root", s, nobody.pw_uid, nobody.pw_gid, "/")
s.cmd("QUIT")
_, err = s.finish()
tap.eq(err.count("the pre-login process runs as uid %d, without chroot"
                 % nobody.pw_uid), 1,
       "not root: logged once that the child is not switched")


def start(args, preexec=None):
    r = subprocess.run([pop3d, "-e"] + args, input=b"QUIT\r\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=preexec, timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


rc, out, err = start(["-f", box, "-U", "nosuchuser9z"])
tap.ok(rc == 1 and out == "" and "pre-login account nosuchuser9z: no such"
       in err, "root, no such -U account: exit 1, no greeting", (rc, err))
rc, out, err = start(["-f", box, "-U", "root"])
tap.ok(rc == 1 and out == "" and "uid 0" in err, "-U root: refused",
       (rc, err))
rc, out, err = start(["-f", box, "-R", os.path.join(tmp, "none")])
tap.ok(rc == 1 and out == "" and "pre-login directory" in err and
       "No such file" in err, "root, no -R directory: exit 1", (rc, err))
os.chmod(tmp, 0o777)
rc, out, err = start(["-f", box, "-R", tmp])
os.chmod(tmp, 0o755)
tap.ok(rc == 1 and out == "" and "only root can write" in err,
       "a -R directory others can write: refused", (rc, err))
empty = os.path.join(tmp, "empty")
os.mkdir(empty, 0o755)
rc, out, err = start(["-f", box, "-p", passwd, "-U", "nobody", "-R", empty])
tap.ok(rc == 0 and out.startswith("+OK POP3 server ready"),
       "-U and -R name another account and directory", (rc, out, err))

# --- what injected code would try ---------------------------------------------

EXPLOITS = ("shadow", "passwd", "tmp", "exec", "socket", "ptrace", "setuid",
            "fork")


def hook(lines, args, preexec=None, env=None):
    r = subprocess.run([testbin, "-e"] + args,
                       input=b"".join(l + b"\r\n" for l in lines),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       preexec_fn=preexec, timeout=60,
                       env=dict(os.environ, **(env or {})))
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


for w in EXPLOITS:
    rc, out, err = hook([b"XEXPLOIT " + w.encode()],
                        ["-f", box, "-p", passwd])
    tap.ok(rc == 0 and out.endswith(SERVER_ERROR + b"\r\n") and
           b"worked" not in out and
           "killed by signal 31 (a system call its sandbox forbids)" in err,
           "seccomp: XEXPLOIT %s kills the child, logged, one -ERR" % w,
           (rc, out, err))
tap.ok(not os.path.exists("/tmp/pop3d-exploit"), "no file was created")

# Landlock alone (a test build leaves out seccomp and the descriptor limit):
# no chroot as nobody, so only Landlock stands between the child and files.
for w, want in (("shadow", b"Permission denied"),
                ("passwd", b"Permission denied"),
                ("tmp", b"Permission denied"),
                ("exec", b"Permission denied"),
                ("setuid", b"Operation not permitted"),
                ("fork", b"Resource temporarily unavailable")):
    rc, out, err = hook([b"XEXPLOIT " + w.encode(), b"QUIT"],
                        ["-f", box, "-p", open_passwd], preexec=as_nobody,
                        env={"POP3D_TEST_SANDBOX": "landlock"})
    tap.ok(b"-ERR %s: %s" % (w.encode(), want) in out,
           "Landlock and limits: XEXPLOIT %s: %s" % (w, want.decode()),
           (out, err))

# --- a taken-over child sends the monitor garbage ------------------------------


def record(kind, *fields, count=None, length=None):
    body = bytes([ord(kind), len(fields) if count is None else count])
    for f in fields:
        body += len(f).to_bytes(2, "big") + f
    n = len(body) if length is None else length
    return n.to_bytes(2, "big") + body


HOSTILE = [
    ("an oversize length", b"\xff\xff" + b"P" * 40,
     "record size out of bounds"),
    ("a length past the end", record("P", b"jack", b"pw", b"", b"",
                                     length=300), "no record in time"),
    ("missing fields", record("P", b"jack", b"pw"),
     "wrong number of fields"),
    ("a field longer than the record", b"\x00\x08P\x04\x00\xffjack",
     "field longer than the record"),
    ("an unknown type", record("Z"), "unknown record type"),
    ("a NUL in the user name", record("P", b"ja\0ck", b"pw", b"", b""),
     "field holds a byte it may not"),
    ("a user name of 70 bytes", record("P", b"j" * 70, b"pw", b"", b""),
     "field too long"),
    ("bytes after the last field", record("K") + b"",
     None),
    ("a record only the monitor sends", record("X"),
     "a record only the monitor sends"),
    ("APOP with its own timestamp", record("A", b"jack", b"0" * 32,
                                           b"<1.2@evil>", b"", b""),
     "APOP with a timestamp not ours"),
    ("CRAM-MD5 never issued", record("C", b"jack", b"0" * 32,
                                     b"<1.2@evil>", b"", b""),
     "CRAM-MD5 with a challenge not ours"),
    ("an end it cannot have", record("E", b"weird", b""),
     "an end it cannot have"),
]
# trailing bytes: a K record whose length counts one byte more
HOSTILE[7] = ("bytes after the last field", b"\x00\x03K\x00!",
              "bytes left after the last field")
plain = os.path.join(tmp, "passwd.plain")
write(plain, "jack:{PLAIN}password\n", 0o600)
for name, raw, why in HOSTILE:
    t0 = time.monotonic()
    rc, out, err = hook([b"XHANDOVER " + raw.hex().encode(), b"STAT"],
                        ["-f", box, "-p", plain, "-L", "1"])
    lines = out.split(b"\r\n")
    tap.ok(rc == 0 and lines[0].startswith(b"+OK POP3 server ready") and
           lines[1:] == [SERVER_ERROR, b""] and
           "pre-login process: %s; session ended" % why in err,
           "hostile child, %s: one -ERR, logged (%s)" % (name, why),
           (rc, out, err))
with open(box, "rb") as f:
    tap.ok(f.read() == mbox(3), "the mailbox is untouched")

# --- log lines escape what clients type -------------------------------------

s = Session(["-t", "1", "-f", box, "-p", passwd], binary=pop3d)
s.send(b"USER ev\x1b[31mil\rX")
tap.eq(s.line(), b"+OK send PASS", "a USER name with ESC and CR")
tap.eq(s.line(), b"-ERR idle for too long, closing", "then the idle timeout")
_, err = s.finish()
line = [l for l in err.splitlines() if "timeout user=" in l]
tap.ok(len(line) == 1 and line[0].endswith(
    "timeout user=ev\\x1b[31mil\\x0dX from=-") and "\x1b" not in err and
    "\r" not in err, "the log line has \\x1b and \\x0d, no ESC or CR", err)

s = Session(["-f", box, "-p", passwd], binary=pop3d,
            env=dict(os.environ, REMOTE_ADDR="1.2.3.4\n<0>evil"))
s.cmd("USER nosuch\x7f\x80")
s.cmd("PASS x")
s.cmd("QUIT")
_, err = s.finish()
tap.ok("auth failed user=? from=1.2.3.4\\x0a<0>evil method=pass" in err and
       "\x7f" not in err, "a launcher's address with a newline is escaped",
       err)

# --- deadlines ----------------------------------------------------------------


def trickle(s, data, pause):
    """One byte at a time; the answer line, or None when pop3d closed."""
    for b in data:
        try:
            s.p.stdin.write(bytes([b]))
            s.p.stdin.flush()
        except BrokenPipeError:
            break
        time.sleep(pause)
    return s.line()


s = Session(["-t", "1", "-f", box, "-p", passwd], binary=pop3d)
r = trickle(s, b"CAPA\r\n", 0.4)
tap.eq(r, b"-ERR idle for too long, closing",
       "-t 1, CAPA trickled a byte each 0.4 s: the line's deadline")
tap.ok(s.closed(), "and the session ends")
_, err = s.finish()
tap.ok("timeout user=- from=-" in err, "logged as a timeout", err)

s = Session(["-t", "1", "-f", box, "-p", passwd], binary=pop3d)
s.cmd("USER jack")
s.cmd("PASS password")
r = trickle(s, b"NOOP\r\n", 0.4)
tap.eq(r, b"-ERR idle for too long, closing",
       "TRANSACTION: NOOP trickled: the line's deadline too")
tap.ok(s.closed(), "and the session ends, nothing deleted")
s.finish()

s = Session(["-t", "1", "-L", "2", "-f", box, "-p", passwd], binary=pop3d)
answers = []
for _ in range(40):
    s.send("CAPA")	# may find the session closed: then read what is left
    r = s.line()
    if r is None or r.startswith(b"-ERR"):
        answers.append(r)
        break
    s.multi()
    time.sleep(0.2)
tap.eq(answers, [b"-ERR no login in time, closing"],
       "-L 2: a busy client that never logs in is closed")
tap.ok(s.closed(), "and the session ends")
_, err = s.finish()
tap.ok("timeout user=- from=-: no login in time" in err, "logged", err)

tap.done()
