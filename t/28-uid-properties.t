#!/usr/bin/env python3
"""UIDs that leave-on-server clients can trust, on random mailboxes.

For every mailbox (a fixed list of seeds, so a failure reproduces: the
failing seed is printed) pop3d's UIDL must be

  - the rule of README "Mailbox rules", computed here on its own (uid()
    below): so LF-stored messages with a Message-ID keep the UIDs of
    earlier releases, which digested the same bytes;
  - unchanged when (a) any message is converted between CR LF and LF,
    (b) Status, X-Status, X-Keywords, X-UID, Content-Length or Lines are
    added or changed, (c) another message is deleted by a real session
    (DELE, QUIT), except that among copies of one message (the same
    header with the same Message-ID; the same bytes up to line ends and
    rewritten headers without one) the first copies keep their UIDs in
    order;
  - unique, and never the UID of another message anywhere in the run:
    two messages that differ (beyond line ends and rewritten headers, or
    in the header when both have a Message-ID) never share a UID.

The mailboxes mix LF and CR LF messages, folded and rewritten headers,
bodies with dots, empty lines and lone CRs, messages without a body or
a final newline, header twins with different bodies (with and without a
Message-ID; odd and folded Message-ID fields too), copies that differ in
line ends or rewritten headers only, and X-UIDL headers.
"""
import hashlib
import os
import random
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import PASSWD, Tap, need_pop3d, read, talk, tmpdir, write  # noqa

SEEDS = range(1, 401)

tap = Tap()
need_pop3d(tap)

# ------------------------------------------------------------ the rule

VOLATILE = [b"status:", b"x-status:", b"x-keywords:", b"x-uid:", b"x-imap:",
            b"x-imapbase:", b"content-length:", b"lines:", b"x-uidl:"]


def lf(data):
    """Line ends left out of the digest: each CR right before an LF."""
    return data.replace(b"\r\n", b"\n")


def lines_of(data):
    """Lines ended by LF alone (a lone CR is a byte like any)."""
    parts_ = data.split(b"\n")
    return [p + b"\n" for p in parts_[:-1]] + ([parts_[-1]] if parts_[-1]
                                               else [])


def split_mbox(data):
    """The messages as pop3d indexes them: From_ line and content, the
    separating empty line (LF or CR LF) and one final one left out."""
    starts, ends = [], []
    pos, prev_blank, blank_at = 0, False, 0
    for line in lines_of(data):
        is_from = (pos == 0 or prev_blank) and line.startswith(b"From ")
        if is_from:
            if starts:
                ends.append(blank_at if prev_blank else pos)
            starts.append(pos)
        blank = line == b"\n" or line.startswith(b"\r\n")
        prev_blank = not is_from and blank
        if blank:
            blank_at = pos
        pos += len(line)
    if starts:
        first_line = len(lines_of(data[starts[-1]:])[0])
        ends.append(blank_at if prev_blank and blank_at >= starts[-1] +
                    first_line else len(data))
    return [data[s:e] for s, e in zip(starts, ends)]


def xuidl_value(line):
    value = line[7:].rstrip(b"\n").lstrip(b" \t").rstrip(b"\r \t")
    if not 1 <= len(value) <= 70 or re.fullmatch(rb"[0-9a-f]{24}", value):
        return None
    if any(c < 0x21 or c > 0x7e for c in value):
        return None
    return value


def parts(msg):
    """(digested header bytes, the rest, has a Message-ID, X-UIDL)."""
    lines = lines_of(msg)
    kept = [lines[0]]
    skip, has_id, xuidl = False, False, None
    at = len(lines[0])
    for line in lines[1:]:
        if line == b"\n" or line.startswith(b"\r\n"):
            break
        if line[:1] not in (b" ", b"\t"):
            low = line.lower()
            skip = any(low.startswith(v) for v in VOLATILE)
            if low.startswith(b"x-uidl:") and xuidl is None:
                xuidl = xuidl_value(line)
            # a value on the field's first line, after at most one space
            value = line[11:]
            value = value[1:] if value[:1] == b" " else value
            if low.startswith(b"message-id:") and value[:1] > b" ":
                has_id = True
        if not skip:
            kept.append(line)
        at += len(line)
    return b"".join(kept), msg[at:], has_id, xuidl


def digest(data):
    return hashlib.md5(data).digest()[:12]


def raw_uid(msg):
    """(digest before copies are told apart, X-UIDL text or None, what
    the message is for the rule)."""
    head, rest, has_id, xuidl = parts(msg)
    if xuidl is not None:
        return digest(b"X-UIDL" + xuidl), xuidl, (b"X-UIDL", xuidl)
    if has_id:
        return digest(lf(head)), None, (b"header", lf(head))
    return digest(lf(head + rest)), None, (b"message", lf(head + rest))


def uids(msgs):
    """What UIDL must list: copies of one digest numbered in file order."""
    raws = [raw_uid(m) for m in msgs]
    out, seen = [], {}
    for d, xuidl, what in raws:
        k = seen.get(d, 0)
        seen[d] = k + 1
        if k == 0:
            out.append((xuidl.decode() if xuidl else d.hex(), (what, 0)))
        else:
            out.append((digest(d + k.to_bytes(4, "little")).hex(),
                        (what, k)))
    return out, [r[0] for r in raws]

# ------------------------------------------------------- random mail


def random_message(rng, n, earlier, xuidls):
    """Message n: its lines (LF), sometimes a twin of an earlier one."""
    if earlier and rng.random() < 0.3:
        twin = rng.choice(earlier)
        kind = rng.choice(["body", "copy", "volatile"])
        head, rest, _, _ = parts(b"".join(twin))
        head_lines = lines_of(head)
        if kind == "copy":
            return list(twin)
        if kind == "volatile":
            return add_volatile(rng, list(twin))
        return head_lines + random_body(rng, n)
    sender = rng.choice([b"cron@example.org", b"alice@example.org"])
    date = rng.choice([b"Mon Nov 23 04:02:01 2026", b"Tue Nov 24 10:00:00 2026"])
    lines = [b"From " + sender + b" " + date + b"\n"]
    fields = [b"From: " + sender + b"\n",
              b"To: jack@example.org\n",
              b"Subject: " + rng.choice([b"Cron <root@host> backup",
                                         b"lunch", b"=?UTF-8?Q?caf=C3=A9?="])
              + b"\n",
              b"Date: " + date + b"\n"]
    if rng.random() < 0.5:
        fields.append(rng.choice([b"Message-ID: ", b"Message-Id:",
                                  b"MESSAGE-ID:  ", b"Message-ID:\t"]) +
                      b"<%d@example.org>\n" % rng.randrange(3))
    elif rng.random() < 0.1:
        fields.append(b"Message-ID:\n <folded@example.org>\n")
    if rng.random() < 0.3:
        fields.append(b"Received: from host by example.org;\n"
                      b"\tMon, 23 Nov 2026 04:02:01 +0000\n")
    if rng.random() < 0.2:
        fields.append(b"X-Mailer: a\rb\n")	# a lone CR is a byte like any
    if rng.random() < 0.1:
        xuidls[0] += 1
        fields.append(b"X-UIDL: legacy-%d\n" % rng.choice(
            [xuidls[0], 1]))		# sometimes repeated
    rng.shuffle(fields)
    lines += fields
    lines = add_volatile(rng, lines) if rng.random() < 0.4 else lines
    return lines + random_body(rng, n)


def random_body(rng, n):
    r = rng.random()
    if r < 0.1:
        return []			# no empty line, no body
    body = [b"\n"]
    pool = [b"backup of /home done\n", b"\n", b".\n", b"..two dots\n",
            b">From the quoted line\n", b"x" * 300 + b"\n", b"tab\there\n",
            b"a lone\rCR\n", b"message %d\n" % n]
    for _ in range(rng.randrange(0 if r < 0.2 else 1, 6)):
        body.append(rng.choice(pool))
    return body


def add_volatile(rng, lines):
    """Add or change a header mail readers rewrite, at a field boundary."""
    lines = list(lines)
    end = 1
    while end < len(lines) and lines[end] not in (b"\n", b"\r\n"):
        end += 1
    eol = b"\r\n" if lines[0].endswith(b"\r\n") else b"\n"
    new = rng.choice([b"Status: O", b"Status: RO", b"X-Status: A",
                      b"X-Keywords: $label1", b"X-UID: %d" % rng.randrange(99),
                      b"Content-Length: %d" % rng.randrange(999),
                      b"Lines: 3"])
    name = new.split(b":")[0].lower() + b":"
    for i in range(1, end):
        if lines[i].lower().startswith(name) and lines[i].endswith(b"\n"):
            lines[i] = new + (b"\r\n" if lines[i].endswith(b"\r\n")
                              else b"\n")		# change it
            return lines
    # before a field, or after the last one when that ends in a newline
    at = rng.choice([i for i in range(1, end + 1)
                     if (i < end and lines[i][:1] not in (b" ", b"\t")) or
                     (i == end and lines[i - 1].endswith(b"\n"))])
    lines.insert(at, new + eol)
    return lines


def to_crlf(msg):
    return lf(msg).replace(b"\n", b"\r\n")


def convert(msg):
    """CR LF to LF, or LF to CR LF."""
    return lf(msg) if b"\r\n" in msg else to_crlf(msg)


def join(msgs, final_blank):
    out = b""
    for i, m in enumerate(msgs):
        out += m
        if i + 1 < len(msgs):
            out += b"\r\n" if m.endswith(b"\r\n") else b"\n"
    # one empty line at the end of the file is no message's: a message
    # that ends in one needs another after it to keep it
    last = lines_of(msgs[-1])
    if out.endswith(b"\n") and (final_blank or (
            len(last) > 1 and last[-1] in (b"\n", b"\r\n"))):
        out += b"\n"
    return out


def random_mailbox(rng):
    msgs, xuidls = [], [100]
    for n in range(1, rng.randrange(1, 13) + 1):
        msgs.append(random_message(rng, n, msgs, xuidls))
    out = []
    for lines in msgs:
        m = b"".join(lines)
        if rng.random() < 0.3:
            m = to_crlf(m)
        out.append(m)
    if rng.random() < 0.2 and out[-1].endswith(b"\n"):
        out[-1] = out[-1][:-1]		# the file ends inside a line
        if out[-1].endswith(b"\r"):
            out[-1] = out[-1][:-1]
    return out, rng.random() < 0.3

# ------------------------------------------------------------- pop3d


def session(mbox, cmds):
    return talk(["-f", mbox, "-p", PASSWD],
                ["USER jack", "PASS password"] + cmds + ["QUIT"])[1]


def uidl(mbox):
    a = session(mbox, ["UIDL"])
    if len(a) < 3 or a[2].status != b"+OK unique-id listing follows":
        raise RuntimeError("UIDL answered %r" % (a[2:3],))
    return [line.decode("latin-1").split(" ", 1)[1] for line in a[2].lines]


failures = []
counts = dict(mailboxes=0, messages=0, header_twins=0, copies=0, crlf=0,
              no_id=0, conversions=0, rewrites=0, deletions=0, listings=0)
owner = {}		# UID -> what it named, over the whole run


def check(seed, what, got, msgs):
    """got must be the rule's UIDs for msgs; returns them."""
    want, _ = uids(msgs)
    counts["listings"] += 1
    if got != [u for u, _ in want]:
        failures.append("seed %d, %s: UIDL %r, the rule %r" %
                        (seed, what, got, [u for u, _ in want]))
    if len(set(got)) != len(got):
        failures.append("seed %d, %s: UIDs not unique: %r" % (seed, what,
                                                              got))
    for u, name in want:
        if owner.setdefault(u, name) != name:
            failures.append("seed %d, %s: UID %s names two messages" %
                            (seed, what, u))
    return got


# QUIT's fsyncs on a disk would make 400 deletions slow; whether they
# last is t/3x's business, this test looks at UIDs only
if "TMPDIR" not in os.environ and os.access("/dev/shm", os.W_OK):
    os.environ["TMPDIR"] = "/dev/shm"
tmp = tmpdir("uid-properties")
mbox = os.path.join(tmp, "mbox")
for seed in SEEDS:
    rng = random.Random(seed)
    msgs, final_blank = random_mailbox(rng)
    data = join(msgs, final_blank)
    write(mbox, data)
    msgs = split_mbox(data)
    counts["mailboxes"] += 1
    counts["messages"] += len(msgs)
    counts["crlf"] += sum(b"\r\n" in m for m in msgs)
    counts["no_id"] += sum(not parts(m)[2] for m in msgs)
    _, raws = uids(msgs)
    counts["copies"] += len(raws) - len(set(raws))
    heads = [lf(parts(m)[0]) for m in msgs]
    counts["header_twins"] += len(heads) - len(set(heads))
    before = check(seed, "as generated", uidl(mbox), msgs)

    # (a) one message, then every message, between CR LF and LF
    i = rng.randrange(len(msgs))
    for what, new in (("message %d converted" % (i + 1),
                       msgs[:i] + [convert(msgs[i])] + msgs[i + 1:]),
                      ("all converted", [convert(m) for m in msgs])):
        write(mbox, join(new, final_blank))
        counts["conversions"] += 1
        after = check(seed, what, uidl(mbox), split_mbox(read(mbox)))
        if after != before:
            failures.append("seed %d, %s: UIDs changed" % (seed, what))

    # (b) headers mail readers rewrite, added or changed
    new = []
    for m in msgs:
        if rng.random() < 0.5:
            m = b"".join(add_volatile(rng, lines_of(m)))
        new.append(m)
    write(mbox, join(new, final_blank))
    counts["rewrites"] += 1
    after = check(seed, "headers rewritten", uidl(mbox),
                  split_mbox(read(mbox)))
    if after != before:
        failures.append("seed %d, headers rewritten: UIDs changed" % seed)

    # (c) a real session deletes message j
    write(mbox, data)
    j = rng.randrange(len(msgs))
    a = session(mbox, ["DELE %d" % (j + 1)])
    if len(a) < 4 or not a[2].ok or not a[3].ok:
        failures.append("seed %d: DELE %d, QUIT: %r" %
                        (seed, j + 1, [x.status for x in a]))
        continue
    counts["deletions"] += 1
    after = check(seed, "message %d deleted" % (j + 1), uidl(mbox),
                  split_mbox(read(mbox)))
    # copies of the deleted one: the first ones keep their UIDs, in order
    want = []
    for i, u in enumerate(before):
        if i == j:
            continue
        if raws[i] == raws[j]:
            group = [k for k in range(len(msgs)) if raws[k] == raws[j]]
            u = before[group[[k for k in group if k != j].index(i)]]
        want.append(u)
    if after != want:
        failures.append("seed %d, message %d deleted: UIDs %r, kept "
                        "should be %r" % (seed, j + 1, after, want))

tap.diag("%(mailboxes)d mailboxes, %(messages)d messages (%(crlf)d CR LF, "
         "%(no_id)d without a Message-ID, %(header_twins)d header twins, "
         "%(copies)d copies); %(conversions)d conversions, %(rewrites)d "
         "header rewrites, %(deletions)d deletions; %(listings)d UIDL "
         "listings checked" % counts)
for f in failures[:20]:
    tap.diag(f)
tap.ok(not failures, "UIDL follows the rule, stays put through line-end "
       "conversions, header rewrites and deletions, and never names two "
       "messages (%d failures)" % len(failures))
tap.ok(counts["copies"] > 50 and counts["header_twins"] > 100 and
       counts["crlf"] > 300 and counts["no_id"] > 500,
       "the mailboxes hold enough twins, copies, CR LF messages and "
       "messages without a Message-ID to mean something")
tap.done()
