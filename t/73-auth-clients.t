#!/usr/bin/env python3
# Real clients against pop3d behind systemd-socket-activate on loopback:
# Python poplib (user/pass_, apop, SASL PLAIN and CRAM-MD5 by hand), curl
# (;AUTH=+APOP, ;AUTH=PLAIN, ;AUTH=CRAM-MD5, and its default choice),
# fetchmail (auth password, protocol APOP, auth cram-md5) and mpop (auth
# plain, cram-md5, user, apop).  Two servers: every user {PLAIN} (APOP and
# CRAM-MD5 offered), and one with a crypt(3) user (neither offered: a
# client that picks what is offered must still log in).
import base64
import os
import poplib
import pwd
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (FASTFAIL, Launcher, Tap, build,  # noqa: E402
                     cram_response, hash_password, mbox, need,
                     plain_response, tmpdir, write)

tap = Tap()
need(tap, "systemd-socket-activate", "curl", "fetchmail", "mpop")
build(tap)
tmp = tmpdir("auth-clients", 0o755)
env = dict(os.environ, HOME=tmp, LC_ALL="C")

# As root, sessions run as nobody (-u), the way a site would set it up.
drop = []
spool = os.path.join(tmp, "spool")
os.mkdir(spool)
if os.geteuid() == 0:
    nobody = pwd.getpwnam("nobody")
    os.chown(spool, nobody.pw_uid, nobody.pw_gid)
    drop = ["-u", "nobody"]
MAIL = mbox(2)


def mailbox(name):
    path = os.path.join(spool, name)
    write(path, MAIL, 0o600)
    if drop:
        os.chown(path, pwd.getpwnam("nobody").pw_uid,
                 pwd.getpwnam("nobody").pw_gid)
    return path


plain_pw = os.path.join(tmp, "plain.passwd")
write(plain_pw, "jack:{PLAIN}password\n", 0o600)
mixed_pw = os.path.join(tmp, "mixed.passwd")
write(mixed_pw, "jack:{PLAIN}password\njill:%s\n" %
      hash_password("jill's secret"), 0o600)

servers = {}
try:
    servers["plain"] = Launcher(["-f", mailbox("plain"), "-p", plain_pw] +
                                drop, binary=FASTFAIL, logdir=tmp)
    logdir2 = os.path.join(tmp, "mixedlog")
    os.mkdir(logdir2)
    servers["mixed"] = Launcher(["-f", mailbox("mixed"), "-p", mixed_pw] +
                                drop, binary=FASTFAIL, logdir=logdir2)
except RuntimeError as e:
    for srv in servers.values():
        srv.stop()
    tap.bail(str(e))
P = servers["plain"].port
M = servers["mixed"].port


def run(argv, timeout=60):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    return (r.returncode, r.stdout.decode(errors="replace"),
            r.stderr.decode(errors="replace"))


def messages_in(path):
    """Messages a client delivered: our test messages' Subject lines."""
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if line.startswith("Subject: message"))
    except FileNotFoundError:
        return 0


try:
    # --- Python poplib ------------------------------------------------------
    p = poplib.POP3("127.0.0.1", P, timeout=20)
    p.user("jack")
    p.pass_("password")
    n, size = p.stat()
    lines = p.retr(2)[1]
    p.quit()
    tap.ok(n == 2 and b"Subject: message 2" in lines,
           "poplib user/pass_: STAT and RETR", (n, lines))

    p = poplib.POP3("127.0.0.1", P, timeout=20)
    tap.ok(b"<" in p.getwelcome(), "poplib: the greeting offers APOP")
    p.apop("jack", "password")
    tap.eq(p.stat()[0], 2, "poplib apop")
    p.quit()

    p = poplib.POP3("127.0.0.1", P, timeout=20)
    capa = p.capa()
    tap.eq(capa.get("SASL"), ["PLAIN", "CRAM-MD5"],
           "poplib capa: SASL PLAIN CRAM-MD5")
    r = p._shortcmd("AUTH PLAIN " +
                    plain_response("", "jack", "password").decode())
    tap.ok(r.startswith(b"+OK"), "poplib: AUTH PLAIN with an initial "
           "response", r)
    p.quit()

    p = poplib.POP3("127.0.0.1", P, timeout=20)
    chal = p._shortcmd("AUTH PLAIN")
    r = p._shortcmd(plain_response("", "jack", "password").decode())
    tap.ok(chal.startswith(b"+") and r.startswith(b"+OK"),
           "poplib: AUTH PLAIN, the response after an empty challenge",
           (chal, r))
    p.quit()

    p = poplib.POP3("127.0.0.1", P, timeout=20)
    chal = p._shortcmd("AUTH CRAM-MD5")
    r = p._shortcmd(cram_response("jack", "password", chal[2:]).decode())
    tap.ok(r.startswith(b"+OK") and p.stat()[0] == 2,
           "poplib: AUTH CRAM-MD5 exchange", (chal, r))
    p.quit()

    p = poplib.POP3("127.0.0.1", P, timeout=20)
    p.user("jack")
    try:
        p.pass_("wrong")
        tap.ok(False, "poplib: a wrong password is refused")
    except poplib.error_proto as e:
        tap.ok(str(e).startswith("b'-ERR [AUTH]"),
               "poplib: a wrong password is refused with [AUTH]", e)
    p.close()

    p = poplib.POP3("127.0.0.1", M, timeout=20)
    tap.ok(b"<" not in p.getwelcome() and
           p.capa().get("SASL") == ["PLAIN"],
           "poplib, crypt(3) user present: no APOP, SASL PLAIN alone")
    try:
        p.apop("jack", "password")
        tap.ok(False, "poplib apop refuses without a timestamp")
    except poplib.error_proto as e:
        tap.ok("not supported" in str(e), "poplib apop refuses: the "
               "greeting has no timestamp", e)
    p.user("jill")
    p.pass_("jill's secret")
    tap.eq(p.stat()[0], 2, "poplib user/pass_ with a crypt(3) user")
    p.quit()

    p = poplib.POP3("127.0.0.1", M, timeout=20)
    r = p._shortcmd("AUTH PLAIN " + base64.b64encode(
        b"jill\0jill\0jill's secret").decode())
    tap.ok(r.startswith(b"+OK"), "poplib: AUTH PLAIN with a crypt(3) user "
           "and authzid = user", r)
    p.quit()

    # --- curl ---------------------------------------------------------------
    for mech, sent in (("+APOP", "> APOP jack "),
                       ("PLAIN", "> AUTH PLAIN"),
                       ("CRAM-MD5", "> AUTH CRAM-MD5")):
        rc, out, err = run(["curl", "-v", "-sS", "--max-time", "20",
                            "pop3://jack;AUTH=%s:password@127.0.0.1:%d/1" %
                            (mech, P)])
        tap.ok(rc == 0 and "Subject: message 1" in out and sent in err,
               "curl pop3://jack;AUTH=%s:password@.../1" % mech,
               (rc, out, err))
    rc, out, err = run(["curl", "-v", "-sS", "--max-time", "20", "-u",
                        "jill:jill's secret", "pop3://127.0.0.1:%d/2" % M])
    tap.ok(rc == 0 and "Subject: message 2" in out and
           "> APOP" not in err and "> AUTH PLAIN" in err,
           "curl's own choice with a crypt(3) user: AUTH PLAIN, not APOP",
           (rc, err))
    rc, out, err = run(["curl", "-sS", "--max-time", "20", "-u",
                        "jack:password", "pop3://127.0.0.1:%d/" % P])
    tap.eq(rc, 0, "curl's own choice on the {PLAIN} server")
    rc, out, err = run(["curl", "-sS", "--max-time", "20",
                        "pop3://jack;AUTH=+APOP:wrong@127.0.0.1:%d/" % P])
    tap.eq(rc, 67, "curl APOP with a wrong password: login denied (67)")
    rc, out, err = run(["curl", "-sS", "--max-time", "20",
                        "pop3://jill;AUTH=CRAM-MD5:x@127.0.0.1:%d/" % M])
    tap.ok(rc != 0, "curl CRAM-MD5 where it is not offered: fails", rc)

    # --- fetchmail ----------------------------------------------------------
    def fetchmail(name, port, how, user="jack", password="password"):
        out = os.path.join(tmp, "fetchmail-%s.mbox" % name)
        rc_file = os.path.join(tmp, "fetchmailrc-" + name)
        write(rc_file,
              "poll 127.0.0.1 service %d %s timeout 20\n"
              "  user \"%s\" there with password \"%s\" is \"root\" here\n"
              "  options keep fetchall sslproto ''\n"
              "  mda \"/bin/sh -c 'cat >> %s'\"\n"
              % (port, how, user, password, out), 0o600)
        rc, o, e = run(["fetchmail", "--nodetach", "-v", "-f", rc_file,
                        "-i", os.path.join(tmp, "fetchids-" + name),
                        "--pidfile", os.path.join(tmp, "fetchmail.pid")])
        return rc, o + e, messages_in(out)

    for name, how, sent in (
            ("password", "protocol pop3 auth password", "POP3> PASS"),
            ("apop", "protocol apop", "POP3> APOP jack"),
            ("cram", "protocol pop3 auth cram-md5", "POP3> AUTH CRAM-MD5")):
        rc, log, got = fetchmail(name, P, how)
        tap.ok(rc == 0 and got == 2 and sent in log,
               "fetchmail %s: both messages" % how, (rc, got, log))
    rc, log, got = fetchmail("jill", M, "protocol pop3 auth password",
                             "jill", "jill's secret")
    tap.ok(rc == 0 and got == 2, "fetchmail auth password, crypt(3) user",
           (rc, log))
    rc, log, got = fetchmail("wrong", P, "protocol pop3 auth password",
                             "jack", "wrong")
    tap.ok(rc == 3 and got == 0, "fetchmail with a wrong password: "
           "authentication error (3)", (rc, log))

    # --- mpop ---------------------------------------------------------------
    def mpop(name, port, auth, user="jack", password="password"):
        out = os.path.join(tmp, "mpop-%s.mbox" % name)
        conf = os.path.join(tmp, "mpoprc-" + name)
        write(conf,
              "account default\nhost 127.0.0.1\nport %d\ntls off\n"
              "auth %s\nuser %s\npassword %s\ndelivery mbox %s\nkeep on\n"
              "uidls_file %s\ntimeout 20\n"
              % (port, auth, user, password, out,
                 os.path.join(tmp, "uidls-" + name)), 0o600)
        rc, o, e = run(["mpop", "-C", conf, "-d"])
        return rc, o + e, messages_in(out)

    for auth, sent in (("plain", "--> AUTH PLAIN"),
                       ("cram-md5", "--> AUTH CRAM-MD5"),
                       ("user", "--> PASS"),
                       ("apop", "--> APOP jack")):
        rc, log, got = mpop(auth, P, auth)
        tap.ok(rc == 0 and got == 2 and sent in log,
               "mpop auth %s: both messages" % auth, (rc, got, log[-2000:]))
    rc, log, got = mpop("jill", M, "plain", "jill", "jill's secret")
    tap.ok(rc == 0 and got == 2, "mpop auth plain, crypt(3) user",
           (rc, log[-2000:]))
    rc, log, got = mpop("wrong", P, "cram-md5", "jack", "wrong")
    tap.ok(rc != 0 and got == 0 and "[AUTH]" in log,
           "mpop with a wrong secret: refused", (rc, log[-2000:]))
finally:
    for srv in servers.values():
        srv.stop()

log = servers["plain"].logtext() + servers["mixed"].logtext()
tap.ok(log.count("login user=jack") == 16 and
       log.count("login user=jill") == 5 and
       (not drop or "sessions run as root" not in log),
       "the logs show every login%s" % (", sessions as nobody (-u)"
                                        if drop else ""))
tap.done()
