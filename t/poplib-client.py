#!/usr/bin/env python3
"""Python's poplib against pop3d on 127.0.0.1:PORT, every command it has.

usage: poplib-client.py PORT EXPECTEDDIR

EXPECTEDDIR holds the messages as a client must save them (t/mail-files.py
expected).  Prints one TAP line per check, unnumbered ("ok - ..."); the
caller (t/43-poplib.t) numbers them.  The mailbox must hold the fixture,
user alice, password wonderland.  poplib gives each line without its CRLF
and with the dot-stuffing undone, so LF-joined lines are the stored bytes.
"""
import os
import poplib
import sys

# poplib refuses lines over 2048 octets; the fixture's long line has 4960
# (over RFC 5322's 998, as real mail sometimes is), and pop3d must pass it.
poplib._MAXLINE = 65536

port = int(sys.argv[1])
expected_dir = sys.argv[2]
expected = {}
for name in os.listdir(expected_dir):
    expected[int(name)] = open(os.path.join(expected_dir, name), "rb").read()
count = len(expected)


def wire_size(text):
    """Octets RETR sends for a stored message: every LF becomes CRLF."""
    return len(text) + text.count(b"\n")


def check(condition, name, detail=None):
    print(("ok - " if condition else "not ok - ") + name)
    if not condition and detail is not None:
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)
    sys.stdout.flush()


def saved(lines):
    return b"".join(line + b"\n" for line in lines)


def connect():
    return poplib.POP3("127.0.0.1", port, timeout=10)


def login(pop):
    pop.user("alice")
    return pop.pass_("wonderland")


def fails(call, *args):
    """The -ERR text of call(*args), or None when it answered +OK."""
    try:
        call(*args)
    except poplib.error_proto as e:
        return e.args[0]
    return None


pop = connect()
check(pop.getwelcome().startswith(b"+OK"), "greeting is +OK", pop.getwelcome())
capa = pop.capa()
for capability in ("TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES"):
    check(capability in capa, "CAPA lists " + capability, capa)
check(pop.user("alice").startswith(b"+OK"), "USER alice")
check(pop.pass_("wonderland").startswith(b"+OK"), "PASS")
capa = pop.capa()
check("TOP" in capa and "UIDL" in capa, "CAPA after login", capa)
# RFC 2449 section 5: what AUTHORIZATION offers is announced in both states.
check("USER" in capa and "SASL" in capa, "CAPA after login lists USER and SASL",
      capa)

total = sum(wire_size(text) for text in expected.values())
check(pop.stat() == (count, total), "STAT: %d messages, %d octets" % (count, total),
      pop.stat())
response, listing, _ = pop.list()
sizes = {int(n): int(s) for n, s in (line.split() for line in listing)}
check(response.startswith(b"+OK")
      and sizes == {n: wire_size(t) for n, t in expected.items()},
      "LIST: every size is what RETR sends", listing)
check(pop.list(3) == b"+OK 3 %d" % wire_size(expected[3]), "LIST 3",
      pop.list(3))
response, uids, _ = pop.uidl()
uid = dict(line.split() for line in uids)
check(len(uid) == count and len(set(uid.values())) == count
      and all(1 <= len(u) <= 70 and all(33 <= c <= 126 for c in u)
              for u in uid.values()),
      "UIDL: unique printable ids of 1-70 characters", uids)
check(pop.uidl(2) == b"+OK 2 " + uid[b"2"], "UIDL 2 agrees with UIDL",
      pop.uidl(2))

for n in sorted(expected):
    response, lines, _ = pop.retr(n)
    check(response.startswith(b"+OK") and saved(lines) == expected[n],
          "RETR %d: the message as stored" % n, saved(lines)[:300])
header = expected[1].split(b"\n\n", 1)[0] + b"\n\n"
response, lines, _ = pop.top(1, 0)
check(saved(lines) == header, "TOP 1 0: the header and the empty line",
      saved(lines))
response, lines, _ = pop.top(1, 3)
check(saved(lines) == b"\n".join(expected[1].split(b"\n")[:header.count(b"\n") + 3]) + b"\n",
      "TOP 1 3: three body lines, dot-stuffing undone", saved(lines))
response, lines, _ = pop.top(4, 10)
check(saved(lines) == expected[4], "TOP 4 10 of an empty body: the header",
      saved(lines))
check(pop.noop().startswith(b"+OK"), "NOOP")

check(pop.dele(1).startswith(b"+OK"), "DELE 1")
check(pop.stat()[0] == count - 1, "STAT after DELE 1", pop.stat())
check(fails(pop.retr, 1) is not None, "RETR 1 after DELE 1 is -ERR")
check(fails(pop.list, 1) is not None, "LIST 1 after DELE 1 is -ERR")
check(fails(pop.dele, 1) is not None, "DELE 1 twice is -ERR")
check(fails(pop.retr, count + 1) is not None, "RETR past the end is -ERR")
check(fails(pop.top, 2, "x") is not None, "TOP with a bad line count is -ERR")
check(pop.rset().startswith(b"+OK"), "RSET")
check(pop.stat() == (count, total), "STAT after RSET: all back", pop.stat())
check(pop.dele(2).startswith(b"+OK"), "DELE 2")

# A second session while this one holds the mailbox.
other = connect()
other.user("alice")
refused = fails(other.pass_, "wonderland")
check(refused is not None and b"[IN-USE]" in refused,
      "a second session gets -ERR [IN-USE]", refused)
try:
    other.quit()
except (poplib.error_proto, OSError):
    pass

check(pop.quit().startswith(b"+OK"), "QUIT")

pop = connect()
login(pop)
response, uids, _ = pop.uidl()
after = dict(line.split() for line in uids)
check(sorted(after.values()) == sorted(v for k, v in uid.items() if k != b"2"),
      "UIDL after QUIT: the deleted id is gone, the others unchanged", uids)
response, lines, _ = pop.retr(2)
check(saved(lines) == expected[3], "message 3 is now message 2", saved(lines)[:300])
pop.quit()

pop = connect()
pop.user("alice")
refused = fails(pop.pass_, "wrong")
check(refused is not None and b"[AUTH]" in refused,
      "a wrong password is -ERR [AUTH]", refused)
try:
    pop.quit()
except (poplib.error_proto, OSError):
    pass

pop = connect()
check(b"<" in pop.getwelcome(), "the greeting offers APOP", pop.getwelcome())
try:
    response = pop.apop("alice", "wonderland")
except poplib.error_proto as e:
    response = e.args[0]	# a str when poplib found no timestamp
check(response == b"+OK" or isinstance(response, bytes) and
      response.startswith(b"+OK"), "APOP", response)
try:
    pop.quit()
except (poplib.error_proto, OSError):
    pass
