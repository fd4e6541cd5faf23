#!/usr/bin/env python3
# Virtual users (-p), scripted through stdin/stdout: USER/PASS, APOP,
# AUTH PLAIN and CRAM-MD5, what the greeting, CAPA and bare AUTH offer,
# every refusal, user-name checks, and the end after too many failures.
# Refusals run against pop3d-fastfail (a 50 ms failure delay); t/74 times
# the real one-second delay.
import base64
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (AUTH_FAIL, FASTFAIL, Session, Tap,  # noqa: E402
                     apop_digest, build, cram_response, hash_password, mbox,
                     plain_response, tmpdir, write)

tap = Tap()
build(tap)
tmp = tmpdir("auth-virtual")
box = os.path.join(tmp, "mbox")
write(box, mbox(2), 0o600)
jill_hash = hash_password("jill's secret")
if not jill_hash.startswith("$"):
    tap.bail("pop3d -P gave no hash: %r" % jill_hash)

# Every user {PLAIN}: APOP and CRAM-MD5 work for all of them.
plain = os.path.join(tmp, "plain.passwd")
write(plain, "# virtual users\n"
      "jack:{PLAIN}password\n"
      "\n"
      "spaced:{PLAIN}pass with spaces\n"
      "../../etc/passwd:{PLAIN}x\n"
      ".hidden:{PLAIN}x\n"
      "%s:{PLAIN}x\n" % ("l" * 65))
# One crypt(3) user among them: neither is offered any more.
mixed = os.path.join(tmp, "mixed.passwd")
write(mixed, "jack:{PLAIN}password\n"
      "jill:%s\n"
      "bob:!%s\n"
      "eve:\n" % (jill_hash, jill_hash))


def pop3d_with(passwd=plain):
    """A session on the test mailbox, refusals costing 50 ms."""
    return Session(["-f", box, "-p", passwd], binary=FASTFAIL)


# --- what is offered --------------------------------------------------------

s = pop3d_with(plain)
stamp = s.stamp()
tap.ok(stamp is not None and stamp.startswith(b"<") and b"@" in stamp,
       "all {PLAIN}: the greeting carries an APOP timestamp",
       s.greeting)
tap.ok(s.cmd("CAPA").startswith(b"+OK"), "CAPA answers")
capa = s.multi()
tap.ok(b"SASL PLAIN CRAM-MD5" in capa and b"USER" in capa,
       "all {PLAIN}: CAPA offers USER and SASL PLAIN CRAM-MD5", capa)
tap.ok(s.cmd("AUTH").startswith(b"+OK"), "bare AUTH answers +OK")
tap.eq(s.multi(), [b"PLAIN", b"CRAM-MD5"],
       "all {PLAIN}: bare AUTH lists PLAIN and CRAM-MD5")
s2 = pop3d_with(plain)
tap.ok(s2.stamp() != stamp, "each session gets its own timestamp")
s2.finish()
s.finish()

s = pop3d_with(mixed)
tap.ok(s.greeting.startswith(b"+OK") and b"<" not in s.greeting,
       "a crypt(3) user: no APOP timestamp in the greeting", s.greeting)
s.cmd("CAPA")
capa = s.multi()
tap.ok(b"SASL PLAIN" in capa and b"CRAM-MD5" not in b" ".join(capa),
       "a crypt(3) user: CAPA offers SASL PLAIN alone", capa)
capa_before = capa
s.cmd("AUTH")
tap.eq(s.multi(), [b"PLAIN"], "a crypt(3) user: bare AUTH lists PLAIN")
r = s.cmd("APOP jack " + "0" * 32)
tap.ok(r.startswith(b"-ERR") and b"[AUTH]" not in r,
       "APOP when none was offered: -ERR, not a login failure", r)
tap.ok(s.cmd("AUTH CRAM-MD5").startswith(b"-ERR"),
       "CRAM-MD5 when not offered: -ERR")
tap.ok(s.cmd("USER jill").startswith(b"+OK"), "USER jill")
r = s.cmd("PASS jill's secret")
tap.ok(r.startswith(b"+OK 2 messages"), "PASS with a crypt(3) hash from "
       "pop3d -P logs in", r)
s.cmd("CAPA")
capa = s.multi()
tap.ok(b"USER" in capa and b"SASL PLAIN" in capa,
       "CAPA after login still lists USER and SASL PLAIN (RFC 2449 5)", capa)
tap.eq(capa, capa_before, "CAPA after login is the list before it")
s.cmd("QUIT")
s.finish()

# --- USER and PASS ----------------------------------------------------------

s = pop3d_with(plain)
answers = [s.cmd("USER " + u) for u in
           ("jack", "nosuchuser", "../../etc/passwd", "x" * 200)]
tap.ok(len(set(answers)) == 1 and answers[0].startswith(b"+OK"),
       "USER answers the same for a user, a stranger, a path and a long "
       "name", answers)
s.cmd("USER spaced")
r = s.cmd("PASS pass with spaces")
tap.ok(r.startswith(b"+OK"), "PASS keeps spaces inside the password", r)
s.cmd("QUIT")
s.finish()

s = pop3d_with(mixed)
fails = []
s.cmd("USER nosuchuser")
fails.append(s.cmd("PASS password"))
s.cmd("USER jack")
fails.append(s.cmd("PASS wrong"))
s.cmd("USER bob")
fails.append(s.cmd("PASS jill's secret"))
tap.ok(fails[:2] == [AUTH_FAIL, AUTH_FAIL],
       "unknown user and wrong password get one answer", fails)
tap.ok(fails[2].startswith(AUTH_FAIL) and b"too many" in fails[2],
       "a locked account gets the same answer; the third failure says "
       "the session ends", fails[2])
tap.ok(s.closed(), "the session ends after three failed logins")
status, err = s.finish()
tap.ok(err.count("auth failed") == 3, "each failure is logged", err)

s = pop3d_with(mixed)
s.cmd("USER eve")
tap.eq(s.cmd("PASS "), b"-ERR PASS: wrong arguments",
       "an empty PASS is not a password")
tap.eq(s.cmd("PASS x"), AUTH_FAIL, "an empty secret opens nothing")
s.cmd("USER jack")
tap.ok(s.cmd("PASS password").startswith(b"+OK"),
       "a failure, then the right password: in")
s.cmd("QUIT")
s.finish()

# --- user names that must never reach the file system -----------------------

spool = os.path.join(tmp, "spool")
os.makedirs(spool)
for name, what in (("../../etc/passwd", "a path"),
                   (".hidden", "a leading dot"),
                   ("l" * 65, "65 characters")):
    s = Session(["-m", os.path.join(spool, "%u"), "-p", plain],
                binary=FASTFAIL)
    s.cmd("USER " + name)
    r = s.cmd("PASS x")
    tap.eq(r, AUTH_FAIL, "%s is refused even with its password-file "
           "password" % what)
    s.finish()
s = Session(["-m", os.path.join(spool, "%u"), "-p", plain], binary=FASTFAIL)
s.send(b"USER ja\x01ck")
s.line()
tap.eq(s.cmd("PASS password"), AUTH_FAIL, "a control character in the "
       "name is refused")
s.finish()

# --- APOP -------------------------------------------------------------------

s = pop3d_with(plain)
r = s.cmd("APOP jack " + apop_digest(s.stamp(), "password"))
tap.ok(r.startswith(b"+OK 2 messages"), "APOP with the right digest", r)
s.cmd("QUIT")
s.finish()

s = pop3d_with(plain)
r = s.cmd("APOP jack " + apop_digest(s.stamp(), "password").upper())
tap.ok(r.startswith(b"+OK"), "APOP digest in upper-case hex", r)
s.finish()

s = pop3d_with(plain)
tap.eq(s.cmd("APOP jack " + apop_digest(s.stamp(), "wrong")), AUTH_FAIL,
       "APOP with a wrong digest: [AUTH]")
tap.eq(s.cmd("APOP nosuchuser " + apop_digest(s.stamp(), "password")),
       AUTH_FAIL, "APOP for an unknown user: the same answer")
tap.eq(s.cmd("APOP jack " + apop_digest(s.stamp(), "password")[:31]),
       AUTH_FAIL + b"; too many failures", "a short digest fails too")
s.finish()

# --- AUTH PLAIN -------------------------------------------------------------

s = pop3d_with(mixed)
r = s.cmd(b"AUTH PLAIN " + plain_response("", "jill", "jill's secret"))
tap.ok(r.startswith(b"+OK 2 messages"), "AUTH PLAIN with an initial "
       "response (crypt(3) user)", r)
s.cmd("QUIT")
s.finish()

s = pop3d_with(plain)
tap.eq(s.cmd("AUTH PLAIN"), b"+ ", "AUTH PLAIN without a response: "
       "an empty challenge")
r = s.cmd(plain_response("jack", "jack", "password"))
tap.ok(r.startswith(b"+OK"), "the response on its own line, authzid = "
       "the user", r)
s.cmd("QUIT")
s.finish()

s = pop3d_with(plain)
r = s.cmd("auth plain " + plain_response("", "spaced", "pass with spaces")
          .decode())
tap.ok(r.startswith(b"+OK"), "auth plain in lower case", r)
s.finish()

s = pop3d_with(plain)
s.cmd("AUTH PLAIN")
tap.eq(s.cmd("*"), b"-ERR authentication cancelled", "* cancels")
tap.eq(s.cmd("AUTH PLAIN Zm9v!!=="),
       b"-ERR invalid base64 in the SASL response", "bad base64: -ERR")
s.cmd("AUTH PLAIN")
tap.eq(s.cmd("AGphY2sAcGFzc3dvcmQ"),
       b"-ERR invalid base64 in the SASL response",
       "unpadded base64 in a continuation: -ERR")
tap.eq(s.cmd("AUTH PLAIN ="), b"-ERR malformed PLAIN response",
       "an empty initial response (=) is malformed PLAIN")
tap.eq(s.cmd(b"AUTH PLAIN " + base64.b64encode(b"jack\0password")),
       b"-ERR malformed PLAIN response", "one NUL: malformed")
tap.eq(s.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0jack\0pass\0word")),
       b"-ERR malformed PLAIN response", "three NULs: malformed")
s.cmd("AUTH PLAIN")
long_resp = plain_response("", "jack", "p" * 2900)
tap.eq(s.cmd(long_resp), AUTH_FAIL, "a %d-octet response line is read "
       "whole (SASL lines exceed 255)" % len(long_resp))
s.cmd("AUTH PLAIN")
tap.ok(s.cmd("A" * 5000).startswith(b"-ERR SASL response too long"),
       "a response line past SASL_LINE_MAX: -ERR")
tap.eq(s.cmd(b"AUTH PLAIN " + plain_response("jill", "jack", "password")),
       b"-ERR [AUTH] the authorization identity must be empty or the "
       b"user name", "an authorization identity of someone else: refused")
r = s.cmd(b"AUTH PLAIN " + plain_response("", "nosuchuser", "password"))
tap.eq(r, AUTH_FAIL + b"; too many failures",
       "AUTH PLAIN for an unknown user: [AUTH], and the third failure")
tap.ok(s.closed(), "the session ends")
s.finish()

s = pop3d_with(plain)
tap.eq(s.cmd("AUTH KERBEROS_V4"),
       b"-ERR unsupported mechanism; AUTH lists them",
       "an unknown mechanism: -ERR")
s.send("AUTH PLAIN")
s.p.stdin.close()
tap.ok(s.line() == b"+ " and s.closed(),
       "input ending inside an exchange ends the session")
s.finish()

s = pop3d_with(plain)
s.send(b"AUTH PLAIN\r\n" + plain_response("", "jack", "password") +
       b"\r\nSTAT")
got = [s.line(), s.line(), s.line()]
tap.ok(got[0] == b"+ " and got[1].startswith(b"+OK 2 messages") and
       got[2].startswith(b"+OK 2 "), "a pipelined exchange: challenge, "
       "login and STAT in order", got)
s.finish()

s = Session(["-t", "1", "-f", box, "-p", plain], binary=FASTFAIL)
tap.eq(s.cmd("AUTH PLAIN"), b"+ ", "AUTH PLAIN, then silence")
tap.ok(s.line(timeout=10) == b"-ERR idle for too long, closing" and
       s.closed(), "the idle limit holds inside an exchange too")
s.finish()

# --- AUTH CRAM-MD5 ----------------------------------------------------------

s = pop3d_with(plain)
chal = s.cmd("AUTH CRAM-MD5")
ok = chal.startswith(b"+ ")
decoded = base64.b64decode(chal[2:]) if ok else b""
tap.ok(ok and decoded.startswith(b"<") and decoded.endswith(b">"),
       "CRAM-MD5 challenge: a base64 <...@host> stamp", chal)
r = s.cmd(cram_response("jack", "password", chal[2:]))
tap.ok(r.startswith(b"+OK 2 messages"), "CRAM-MD5 with the right digest",
       r)
s.cmd("QUIT")
s.finish()

s = pop3d_with(plain)
c1 = s.cmd("AUTH CRAM-MD5")[2:]
tap.eq(s.cmd(cram_response("jack", "wrong", c1)), AUTH_FAIL,
       "CRAM-MD5 with a wrong secret: [AUTH]")
c2 = s.cmd("AUTH CRAM-MD5")[2:]
tap.ok(c1 != c2, "every CRAM-MD5 challenge is fresh")
tap.eq(s.cmd(base64.b64encode(b"jack-no-digest")),
       b"-ERR malformed CRAM-MD5 response", "a response without a digest")
s.cmd("AUTH CRAM-MD5")
tap.eq(s.cmd("*"), b"-ERR authentication cancelled", "* cancels CRAM-MD5")
tap.eq(s.cmd("AUTH CRAM-MD5 " + base64.b64encode(b"jack x").decode()),
       b"-ERR CRAM-MD5 takes no initial response",
       "CRAM-MD5 refuses an initial response")
c3 = s.cmd("AUTH CRAM-MD5")[2:]
tap.eq(s.cmd(cram_response("nosuchuser", "password", c3)), AUTH_FAIL,
       "CRAM-MD5 for an unknown user: the same answer")
s.finish()

# --- the mailbox field of the password file --------------------------------

own = os.path.join(tmp, "own.mbox")
write(own, mbox(5), 0o600)
fielded = os.path.join(tmp, "fielded.passwd")
write(fielded, "jack:{PLAIN}password:%s\n" % own)


def own_mailbox(login):
    s = Session(["-f", box, "-p", fielded], binary=FASTFAIL)
    r = login(s)
    s.finish()
    return r.startswith(b"+OK 5 messages")


tap.ok(own_mailbox(lambda s: s.cmd("USER jack") and s.cmd("PASS password")),
       "PASS: the third field names the mailbox")
tap.ok(own_mailbox(lambda s: s.cmd("APOP jack " +
                                   apop_digest(s.stamp(), "password"))),
       "APOP: the third field names the mailbox")
tap.ok(own_mailbox(lambda s: s.cmd(b"AUTH PLAIN " +
                                   plain_response("", "jack", "password"))),
       "AUTH PLAIN: the third field names the mailbox")
tap.ok(own_mailbox(lambda s: s.cmd(cram_response(
    "jack", "password", s.cmd("AUTH CRAM-MD5")[2:]))),
       "AUTH CRAM-MD5: the third field names the mailbox")

# --- the password file's permissions ----------------------------------------

s = pop3d_with(plain)
s.cmd("QUIT")
status, err = s.finish()
tap.ok("readable by others" not in err, "a 0600 password file: no warning",
       err)
os.chmod(plain, 0o644)
s = pop3d_with(plain)
s.cmd("QUIT")
status, err = s.finish()
tap.ok("readable by others (mode 0644)" in err,
       "a 0644 password file: a warning in the log", err)

tap.done()
