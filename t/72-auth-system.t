#!/usr/bin/env python3
# System accounts (no -p), with real accounts this test creates (useradd,
# chpasswd) and removes: login through getpwnam/getspnam and crypt(3), the
# switch to the user before the mailbox is opened, the spool directory's
# group kept so the dotlock and the session journal work in a
# /var/mail-like root:mail 2775 directory, and every refused account.
import grp
import os
import pwd
import subprocess
import sys
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (AUTH_FAIL, FASTFAIL, Accounts, Launcher,  # noqa: E402
                     Session, Tap, build, mail_spool, mbox, need,
                     need_root, plain_response, proc_ids, tmpdir,
                     user_mailbox, write)

tap = Tap()
need_root(tap)
need(tap, "useradd", "userdel", "chpasswd", "chage", "usermod", "passwd",
     "curl", "systemd-socket-activate")
build(tap)

accounts = Accounts(tap)
tag, sh, account = accounts.tag, accounts.sh, accounts.add

good_pw = "Sys tem pass"
user = account("u", good_pw)
locked = account("l", good_pw)
sh("usermod", "-L", locked)
empty = account("e", good_pw)
sh("passwd", "-d", empty)
expired = account("x", good_pw)
sh("chage", "-E", "1", expired)
root2 = account("r", good_pw, ("-o", "-u", "0"))
pw = pwd.getpwnam(user)
mail = grp.getgrnam("mail").gr_gid

tmp = tmpdir("auth-system", 0o755)
spool = mail_spool(tmp)			# Debian's /var/mail
template = os.path.join(spool, "%u")
box = os.path.join(spool, user)
user_mailbox(box, pw, mbox(3))


def become_user():
    os.setgroups(os.getgrouplist(user, pw.pw_gid))
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


# The setup means something: the user alone may not write the spool.
probe = subprocess.run(["touch", os.path.join(spool, "probe")],
                       preexec_fn=become_user, stderr=subprocess.DEVNULL)
tap.ok(probe.returncode != 0, "without group mail, %s cannot create files "
       "in the root:mail 2775 spool" % user)

# --- a login, the switch, the locks -----------------------------------------

s = Session(["-m", template], binary=FASTFAIL)
tap.ok(s.greeting.startswith(b"+OK") and b"<" not in s.greeting,
       "system accounts: a greeting without an APOP timestamp", s.greeting)
s.cmd("CAPA")
capa = s.multi()
tap.ok(b"SASL PLAIN" in capa and b"CRAM-MD5" not in b" ".join(capa),
       "system accounts: CAPA offers SASL PLAIN alone", capa)
uids, _, _ = proc_ids(s.p.pid)
tap.eq(uids, [0] * 4, "before login the session is root (it must become "
       "the user)")
s.cmd("USER " + user)
r = s.cmd("PASS " + good_pw)
tap.ok(r.startswith(b"+OK 3 messages"), "USER/PASS with the system "
       "password", r)
uids, gids, groups = proc_ids(s.p.pid)
want = sorted(set(os.getgrouplist(user, pw.pw_gid) + [mail]))
tap.eq((uids, gids), ([pw.pw_uid] * 4, [pw.pw_gid] * 4),
       "after login: real, effective, saved and fs uid and gid are the "
       "user's")
tap.eq(groups, want, "supplementary groups: the user's and the spool's "
       "group (mail)")
st = os.stat(box + ".pop3d")
tap.eq(st.st_uid, pw.pw_uid, "the session lock/journal file was created by "
       "the user, not root")
tap.ok(s.cmd("DELE 1").startswith(b"+OK"), "DELE 1")
r = s.cmd("QUIT")
tap.ok(r.startswith(b"+OK"), "QUIT: the update (dotlock, journal) "
       "succeeds as the user", r)
status, err = s.finish()
tap.ok("cannot create" not in err and "fcntl only" not in err,
       "no lock fell back to fcntl only", err)
with open(box, "rb") as f:
    data = f.read()
tap.ok(b"message 1" not in data and b"message 2" in data and
       b"message 3" in data, "message 1 deleted, 2 and 3 kept")
st = os.stat(box)
tap.eq((st.st_uid, st.st_gid, st.st_mode & 0o7777), (pw.pw_uid, mail, 0o660),
       "the mailbox keeps its owner, group and mode")
tap.eq(sorted(os.listdir(spool)), [user, user + '.pop3d-index'],
       "no lock or journal left behind; the user's index is there")
st = os.stat(box + ".pop3d-index")
tap.eq((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o600),
       "the index belongs to the user, mode 0600")

s = Session(["-m", template], binary=FASTFAIL)
r = s.cmd(b"AUTH PLAIN " + plain_response("", user, good_pw))
tap.ok(r.startswith(b"+OK 2 messages"), "AUTH PLAIN with a system "
       "account", r)
uids, _, _ = proc_ids(s.p.pid)
tap.eq(uids, [pw.pw_uid] * 4, "AUTH PLAIN: the session runs as the user")
s.cmd("QUIT")
s.finish()

# --- refusals: one answer for all -------------------------------------------

s = Session(["-m", template], binary=FASTFAIL)
answers = []
for name, password in ((locked, good_pw), (empty, "x"), (root2, good_pw)):
    s.cmd("USER " + name)
    answers.append(s.cmd("PASS " + password).split(b";")[0])
tap.eq(answers, [AUTH_FAIL] * 3, "locked, empty-password and uid-0 "
       "accounts with their passwords: [AUTH]")
tap.ok(s.closed(), "three failures end the session")
status, err = s.finish()
tap.ok("refused: password locked or empty" in err and
       "refused: uid 0" in err, "the log says why each was refused", err)

s = Session(["-m", template], binary=FASTFAIL)
answers = []
for name, password in ((expired, good_pw), (tag + "none", good_pw),
                       (user, "wrong")):
    s.cmd("USER " + name)
    answers.append(s.cmd("PASS " + password).split(b";")[0])
tap.eq(answers, [AUTH_FAIL] * 3, "an expired account, an unknown user, a "
       "wrong password: the same [AUTH]")
status, err = s.finish()
tap.ok("refused: account expired" in err, "the log names the expiry", err)

s = Session(["-m", template], binary=FASTFAIL)
s.cmd("USER ../../etc/passwd")
r1 = s.cmd("PASS x")
r2 = s.cmd(b"AUTH PLAIN " + plain_response("", "root", "x"))
tap.ok(r1 == AUTH_FAIL and r2 == AUTH_FAIL, "a path as a user name and "
       "root itself: [AUTH]", (r1, r2))
s.finish()

# --- a mailbox only root could open -----------------------------------------

spool3 = mail_spool(tmp, "spool3")
write(os.path.join(spool3, user), mbox(1), 0o600)	# root's, not the user's
s = Session(["-m", os.path.join(spool3, "%u")], binary=FASTFAIL)
s.cmd("USER " + user)
r = s.cmd("PASS " + good_pw)
tap.ok(r.startswith(b"-ERR [SYS/PERM] cannot open the mailbox"),
       "a root-owned 0600 mailbox cannot be opened: the open runs as the "
       "user", r)
tap.ok(s.closed(), "after the switch the session ends: root is gone, "
       "no other user could log in")
status, err = s.finish()
tap.ok("Permission denied" in err, "the log says why", err)

# --- a spool directory that is not group-writable ---------------------------

spool2 = mail_spool(tmp, "spool2", 0o755)
box2 = os.path.join(spool2, user)
user_mailbox(box2, pw, mbox(1))
s = Session(["-m", os.path.join(spool2, "%u")], binary=FASTFAIL)
s.cmd("USER " + user)
r = s.cmd("PASS " + good_pw)
uids, gids, groups = proc_ids(s.p.pid)
tap.ok(r.startswith(b"+OK 1 messages") and
       groups == sorted(set(os.getgrouplist(user, pw.pw_gid))),
       "a 0755 spool: login works, its group is not kept", (r, groups))
s.cmd("QUIT")
status, err = s.finish()
tap.ok("cannot create" in err, "... and the log says the locks there "
       "cannot be created", err)

# --- a real client through a launcher, as root ------------------------------

user_mailbox(box, pw, mbox(2))
launcher = Launcher(["-m", template], binary=FASTFAIL, logdir=tmp)
try:
    url = "pop3://127.0.0.1:%d/" % launcher.port
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "%s:%s" % (user, good_pw), url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    listing = [line.split()[0] for line in r.stdout.decode().splitlines()]
    tap.ok(r.returncode == 0 and listing == ["1", "2"],
           "curl lists a system account's mailbox",
           (r.returncode, r.stdout, r.stderr))
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "%s:%s" % (user, good_pw), url + "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    tap.ok(r.returncode == 0 and b"Subject: message 2" in r.stdout,
           "curl retrieves message 2", (r.returncode, r.stderr))
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "%s:%s" % (urllib.parse.quote(locked), good_pw),
                        url], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    tap.ok(r.returncode == 67, "curl with a locked account: login denied "
           "(exit 67)", (r.returncode, r.stderr))
finally:
    launcher.stop()
log = launcher.logtext()
tap.ok("login user=%s" % user in log, "the launcher's log shows the login",
       log)

tap.done()
