#!/usr/bin/env python3
"""A mailbox larger than 4 GiB on the 32-bit big-endian MIPS build under
qemu-mips (cross/build.sh): offsets and octet counts past 2^32 in a
32-bit process.  The mailbox is sparse (a few KB on disk): message 2's
body is a hole of NUL bytes, so message 3, with a dotted and a ">From "
line, starts past 4 GiB, and message 4 after it.  One session: STAT,
LIST, UIDL, RETR 3 byte for byte, DELE 4 and QUIT, which truncates; then
a second session finds messages 1 to 3 as they were."""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (PASSWD, PASSWORD, USER, Tap, cross_pop3d,  # noqa: E402
                     skip_or_fail, talk, tmpdir)

GIB4 = 1 << 32

tap = Tap()
binary, pop3d = cross_pop3d(tap, ["mips"])["mips"]

M1 = (b"From alice@example.org Mon Jan  6 09:00:00 2025\n"
      b"From: alice@example.org\nSubject: one\n\nthe first message\n")
M2_HEAD = (b"From bob@example.org Mon Jan  6 09:01:00 2025\n"
           b"From: bob@example.org\nSubject: a hole\n\n")
M3 = (b"From carol@example.org Mon Jan  6 09:02:00 2025\n"
      b"From: carol@example.org\nSubject: past 4 GiB\n\n"
      b".a line that starts with a dot\n"
      b">From a quoted line, sent as stored\n"
      b"the last line of message 3\n")
M4 = (b"From dave@example.org Mon Jan  6 09:03:00 2025\n"
      b"From: dave@example.org\nSubject: four\n\nbye\n")
# Message 2's body: NUL bytes up to here, then its newline.
HOLE_END = GIB4 + 1000

d = tmpdir("cross-4g")
mbox = os.path.join(d, "mbox")
with open(mbox, "wb") as f:
    f.write(M1 + b"\n" + M2_HEAD)
    f.seek(HOLE_END)
    f.write(b"\n\n")
    m3_at = f.tell()
    f.write(M3 + b"\n")
    m4_at = f.tell()
    f.write(M4)
st = os.stat(mbox)
if st.st_blocks * 512 > 1 << 20:
    skip_or_fail(tap, "the file system of %s keeps no holes" % d)
tap.ok(m3_at > GIB4 and st.st_size > GIB4,
       "a %d-byte mailbox, %d KB on disk; message 3 starts at %d" %
       (st.st_size, st.st_blocks // 2, m3_at))


def body(message):
    """A message as stored, without its From_ line."""
    return message[message.index(b"\n") + 1:]


def octets(stored, newlines):
    """What RETR sends for stored bytes holding that many lines, all
    LF-ended: each line with CR LF, stuffed dots not counted."""
    return stored + newlines


m2_body_len = len(body(M2_HEAD)) + HOLE_END - (len(M1) + 1 + len(M2_HEAD)) + 1
sizes = [octets(len(body(M1)), body(M1).count(b"\n")),
         octets(m2_body_len, body(M2_HEAD).count(b"\n") + 1),
         octets(len(body(M3)), body(M3).count(b"\n")),
         octets(len(body(M4)), body(M4).count(b"\n"))]
tap.ok(sizes[1] > GIB4, "message 2 is %d octets, more than 4 GiB" % sizes[1])


def wire(stored):
    """RETR's answer for a message stored as stored."""
    lines = stored.split(b"\n")[:-1]
    return (b"+OK %d octets\r\n" % octets(len(stored), len(lines)) +
            b"".join((b"." if l.startswith(b".") else b"") + l + b"\r\n"
                     for l in lines) + b".\r\n")


def session(commands):
    return talk(["-f", mbox, "-p", PASSWD],
                ["USER " + USER, "PASS " + PASSWORD] + commands,
                binary=pop3d, timeout=600)


def listing(answer):
    return [tuple(int(x) for x in l.split()) for l in answer.lines or []]


greeting, a, p = session(["STAT", "LIST", "LIST 3", "UIDL", "RETR 3",
                          "DELE 4", "QUIT"])
if not tap.ok(len(a) == 9 and a[1].ok, "qemu-mips: logged in, every "
              "command answered", p.stderr):
    tap.done()
tap.eq(a[2].status, b"+OK 4 %d" % sum(sizes), "STAT: 4 messages, %d octets"
       % sum(sizes))
tap.eq(listing(a[3]), [(i + 1, n) for i, n in enumerate(sizes)],
       "LIST: each message's octets, past 2^32 for message 2")
tap.eq(a[4].status, b"+OK 3 %d" % sizes[2], "LIST 3")
uids = [l.split()[1] for l in a[5].lines or []]
tap.ok(a[5].ok and len(set(uids)) == 4, "UIDL: four distinct UIDs", uids)
tap.ok(wire(body(M3)) in p.stdout,
       "RETR 3, past 4 GiB: byte for byte, dot-stuffed, >From as stored",
       a[6].status)
tap.eq(a[7].status, b"+OK message 4 deleted", "DELE 4")
tap.eq(a[8].status, b"+OK bye, 3 messages left", "QUIT")

st = os.stat(mbox)
tap.eq(st.st_size, m4_at, "QUIT truncated the mailbox where message 4 began")
with open(mbox, "rb") as f:
    f.seek(m3_at)
    tail = f.read()
tap.eq(tail, M3 + b"\n", "message 3 and its separator end the file")
tap.ok(sorted(os.listdir(d)) in (["mbox"], ["mbox", "mbox.pop3d-index"]),
       "no lock or journal file left (the index stays)",
       os.listdir(d))

greeting, a, p = session(["STAT", "LIST", "UIDL", "RETR 3", "QUIT"])
tap.eq(a[2].status if len(a) > 2 else None,
       b"+OK 3 %d" % sum(sizes[:3]), "again: STAT, 3 messages")
tap.eq(listing(a[3]) if len(a) > 3 else None,
       [(i + 1, n) for i, n in enumerate(sizes[:3])], "again: LIST")
tap.eq([l.split()[1] for l in a[4].lines or []] if len(a) > 4 else None,
       uids[:3], "again: the same UIDs")
tap.ok(wire(body(M3)) in p.stdout, "again: RETR 3 byte for byte")
tap.done()
