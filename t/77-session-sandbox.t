#!/usr/bin/env python3
# The session's sandbox after login (README "System accounts and
# privileges"): a system account's session in a spool like Debian's
# /var/mail (root:mail 2775, mailboxes user:mail 0660), which keeps the
# group mail and so could open another user's mailbox as far as file
# permissions go.  After login: NoNewPrivs, a seccomp filter, no new
# descriptor or process; a full session with an update still works (the
# dotlock, the journal, the index renamed over the old one); what code
# injected into the session would try (another user's mailbox,
# /etc/shadow, a file in /tmp, exec, socket, ptrace, setuid, fork) fails,
# and the log says so; Landlock alone denies the files; and the systemd
# unit's SystemCallFilter allows every call the session makes.
import grp
import os
import pwd
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (TOP, Accounts, Session, Tap, build,  # noqa: E402
                     mail_spool, mbox, need, need_root, proc_ids,
                     proc_limits, proc_status, read, tmpdir, user_mailbox)

SERVER_ERROR = b"-ERR [SYS/TEMP] server error, closing"

tap = Tap()
need_root(tap)
need(tap, "useradd", "userdel", "chpasswd", "systemd-analyze")
build(tap, "pop3d", "pop3d-test")
# The shipped build (a sanitizer's POP3D runs its session unconfined) and
# the test build with the hidden XEXPLOIT command.
PLAIN = os.path.join(TOP, "pop3d")
TESTBIN = os.environ.get("POP3D_TEST", os.path.join(TOP, "pop3d-test"))

accounts = Accounts(tap)
password = "Sand box pass"
user = accounts.add("s", password)
other = accounts.add("o", password)
pw, opw = pwd.getpwnam(user), pwd.getpwnam(other)
mail = grp.getgrnam("mail").gr_gid

tmp = tmpdir("session-sandbox", 0o755)
spool = mail_spool(tmp)			# Debian's /var/mail
template = os.path.join(spool, "%u")
box, other_box = os.path.join(spool, user), os.path.join(spool, other)
OTHER_MAIL = mbox(2)


def fresh():
    """The user's mailbox of 4 messages, the other's of 2, nothing else."""
    for name in os.listdir(spool):
        os.unlink(os.path.join(spool, name))
    user_mailbox(box, pw, mbox(4))
    user_mailbox(other_box, opw, OTHER_MAIL)


def as_session():
    """The session's credentials: the user, with the spool's group."""
    os.setgroups(sorted(set(os.getgrouplist(user, pw.pw_gid) + [mail])))
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


fresh()
# The setup means something: with the session's credentials, another
# user's mailbox, a file in /tmp and /bin/sh are all within reach.
probe = "/tmp/pop3d-sandbox-probe.%d" % os.getpid()
r = subprocess.run(["sh", "-c", 'cat "$1" && : > "$2" && rm "$2"', "sh",
                    other_box, probe], preexec_fn=as_session,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
tap.ok(r.returncode == 0 and r.stdout == OTHER_MAIL,
       "without a sandbox, the user with group mail reads %s's 0660 "
       "mailbox, writes in /tmp and runs /bin/sh" % other, r.stderr)

# --- after login ---------------------------------------------------------------

s = Session(["-m", template], binary=PLAIN)
s.cmd("USER " + user)
r = s.cmd("PASS " + password)
tap.ok(r.startswith(b"+OK 4 messages"), "login", r)
st, lim = proc_status(s.p.pid), proc_limits(s.p.pid)
tap.eq((st.get("NoNewPrivs"), st.get("Seccomp"), st.get("Seccomp_filters")),
       ("1", "2", "1"), "after login: NoNewPrivs 1, Seccomp 2 (a filter)")
tap.eq((lim.get("Max open files"), lim.get("Max processes")),
       (["1", "1"], ["0", "0"]), "after login: RLIMIT_NOFILE 1, "
       "RLIMIT_NPROC 0")
tap.ok(mail in proc_ids(s.p.pid)[2], "the session keeps the group mail")
s.cmd("UIDL")
uidl = s.multi()
s.cmd("RETR 2")
retr = s.multi()
tap.ok(len(uidl) == 4 and b"Subject: message 2" in retr, "UIDL, RETR",
       (uidl, retr))
tap.ok(s.cmd("DELE 1").startswith(b"+OK"), "DELE 1")
r = s.cmd("QUIT")
_, err = s.finish()
tap.ok(r is not None and r.startswith(b"+OK") and "forbidden" not in err,
       "QUIT's update under the sandbox: +OK", (r, err))
tap.ok("cannot create" not in err and "fcntl only" not in err and
       "index not written" not in err and "cannot remove" not in err,
       "the dotlock, the journal and the index worked", err)
data = read(box)
tap.ok(b"message 1\n" not in data and data.count(b"\nFrom ") == 2,
       "message 1 is gone, three are left")
tap.eq(sorted(os.listdir(spool)), sorted([user, other,
                                          user + ".pop3d-index"]),
       "nothing left behind but the index, renamed over the old one")

# --- what injected code would try --------------------------------------------

EXPLOITS = (other_box, "shadow", "tmp", "exec", "socket", "ptrace",
            "setuid", "fork")
# A 32-bit call on x86-64 (int 0x80): its getpid is the 64-bit writev,
# which the session may make; the filter checks the architecture first.
if os.uname().machine == "x86_64":
    EXPLOITS += ("i386",)


def exploit(what, env=None):
    """Log in, XEXPLOIT what, then STAT and QUIT: (answers, log)."""
    fresh()
    s = Session(["-m", template], binary=TESTBIN,
                env=dict(os.environ, **(env or {})))
    s.cmd("USER " + user)
    answers = [s.cmd("PASS " + password), s.cmd("XEXPLOIT " + what),
               s.cmd("STAT"), s.cmd("QUIT")]
    _, err = s.finish()
    return answers, err


FORBIDDEN = re.compile(r"session: system call \d+ (of arch 0x40000003 )?is "
                       r"forbidden by its sandbox \(seccomp\); session ended")
for w in EXPLOITS:
    answers, err = exploit(w)
    name = "another user's mailbox" if w == other_box else w
    found = FORBIDDEN.search(err)
    tap.ok(answers[0].startswith(b"+OK") and answers[1] == SERVER_ERROR and
           answers[2:] == [None, None] and found and
           (w == "i386") == (found.group(1) is not None),
           "seccomp: XEXPLOIT %s ends the session, one -ERR, logged" % name,
           (answers, err))
    tap.ok(read(other_box) == OTHER_MAIL and
           not os.path.exists("/tmp/pop3d-exploit"),
           "... %s's mailbox untouched, nothing created" % other)

# Landlock alone (a test build leaves out seccomp and the limits): the
# files are denied, though the user and group mail could open them, and
# the session goes on: its update and index still work.
for w, want in ((other_box, b"Permission denied"),
                ("shadow", b"Permission denied"),
                ("tmp", b"Permission denied"),
                ("exec", b"Permission denied")):
    answers, err = exploit(w, {"POP3D_TEST_SANDBOX": "landlock"})
    name = "another user's mailbox" if w == other_box else w
    tap.ok(answers[1] == b"-ERR %s: %s" % (w.encode(), want) and
           answers[2].startswith(b"+OK 4 ") and
           answers[3].startswith(b"+OK"),
           "Landlock: XEXPLOIT %s: %s; the session goes on" %
           (name, want.decode()), (answers, err))
tap.ok(read(other_box) == OTHER_MAIL and
       not os.path.exists("/tmp/pop3d-exploit"),
       "Landlock: %s's mailbox untouched, nothing created" % other)

fresh()
s = Session(["-m", template], binary=TESTBIN,
            env=dict(os.environ, POP3D_TEST_SANDBOX="landlock"))
s.cmd("USER " + user)
s.cmd("PASS " + password)
tap.eq(proc_status(s.p.pid).get("Seccomp"), "0",
       "Landlock alone: no seccomp filter, as the test build was asked")
denied = s.cmd("XEXPLOIT " + other_box)
s.cmd("DELE 2")
r = s.cmd("QUIT")
_, err = s.finish()
tap.ok(denied.endswith(b"Permission denied") and r.startswith(b"+OK") and
       "index not written" not in err and "fcntl only" not in err and
       sorted(os.listdir(spool)) == sorted([user, other,
                                            user + ".pop3d-index"]),
       "Landlock alone: an update (dotlock, journal, index) works with "
       "names made and removed, no file opened", (denied, r, err))

# --- systemd: the unit allows every call the session makes --------------------


def unit_filter():
    """The names pop3d@.service's SystemCallFilter allows, groups
    expanded by systemd-analyze."""
    text = read(os.path.join(TOP, "systemd", "pop3d@.service")).decode()
    words = " ".join(m for m in re.findall(
        r"^SystemCallFilter=(.*)$", text, re.M)).split()
    names, seen = set(), set()
    while words:
        w = words.pop()
        if w in seen:
            continue
        seen.add(w)
        if not w.startswith("@"):
            names.add(w)
            continue
        out = subprocess.run(["systemd-analyze", "syscall-filter", w],
                             stdout=subprocess.PIPE,
                             universal_newlines=True).stdout
        words += [line.strip() for line in out.splitlines()
                  if re.match(r"^\s+@?[a-z0-9_-]+$", line)]
    return names


def session_calls():
    """The session's lists in sandbox.c (the child's, and more), as this
    CPU's names."""
    src = read(os.path.join(TOP, "sandbox.c")).decode()
    body = ""
    for name in ("prelogin_calls[] = {", "session_calls[] = {"):
        part = src[src.index(name):]
        body += part[:part.index("};")]
    here = set()
    for hdr in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                "/usr/include/asm/unistd_64.h"):
        if os.path.exists(hdr):
            here = set(re.findall(r"#define __NR_(\w+)", read(hdr).decode()))
            break
    return {n for n in re.findall(r"SYS_(\w+)", body) if n in here}


allowed, calls = unit_filter(), session_calls()
tap.ok(len(calls) > 30 and not calls - allowed,
       "pop3d@.service: SystemCallFilter allows the session's %d calls"
       % len(calls), sorted(calls - allowed))

tap.done()
