#!/usr/bin/env python3
"""Octet counts equal exactly what RETR sends, and RETR sends each message
as stored, by an independent model of the mbox rules in README: random
mailboxes (LF and CR LF, dots, quoted and unquoted From, 8-bit bytes,
lines longer than pop3d's buffers, a last line without newline)."""
import os
import random
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (PASSWD, Tap, need_pop3d, read, talk,  # noqa: E402
                     tmpdir, write)

tap = Tap()
need_pop3d(tap)
ok = tap.ok

def random_line(r):
    kind = r.random()
    if kind < 0.1:
        return b''
    if kind < 0.2:
        return b'.' * r.randint(1, 3) + b'dotted'
    if kind < 0.25:
        return b'From unquoted in the middle of a paragraph'
    if kind < 0.3:
        return bytes(r.randint(128, 255) for _ in range(r.randint(1, 40)))
    if kind < 0.32:
        return b'x' * r.randint(100000, 300000)      # longer than the buffers
    if kind < 0.34:
        return b'bare\rcarriage return'
    return bytes(r.choice(b'abcdefghij klmnopqrstuvwxyz0123456789') for _ in range(r.randint(1, 90)))

def random_message(r, i):
    lines = [b'From: sender%d@example.org' % i, b'Subject: message %d' % i,
             b'Message-ID: <%d.%d@example.org>' % (i, r.randint(0, 1 << 30))]
    lines.append(b'')
    for _ in range(r.randint(0, 40)):
        lines.append(random_line(r))
    # a From_ line after an empty line must be quoted, as an MDA does
    for j in range(1, len(lines)):
        if lines[j].startswith(b'From ') and lines[j - 1] == b'':
            lines[j] = b'>' + lines[j]
    return lines

def build(r, crlf):
    eol = b'\r\n' if crlf else b'\n'
    msgs = [random_message(r, i) for i in range(r.randint(1, 12))]
    noeol = r.random() < 0.4
    data = b''
    for k, lines in enumerate(msgs):
        data += b'From sender%d@example.org Mon Nov 23 10:00:00 2026' % k + eol
        body = eol.join(lines) + eol
        last = k == len(msgs) - 1
        if last and noeol:
            body = body[:-len(eol)]
            if body.endswith(eol) or body == b'':
                body += b'tail'
        data += body
        if not (last and noeol):
            data += eol            # the separator
    expect = []
    for k, lines in enumerate(msgs):
        wire = b''.join(l + b'\r\n' for l in lines)
        if k == len(msgs) - 1 and noeol:
            body = b'\r\n'.join(lines)
            if body.endswith(b'\r\n') or body == b'':
                body += b'tail'
            wire = body + b'\r\n'
        expect.append(wire)
    return data, expect

def retr_all(mbox, count):
    """LIST and RETR of every message: the sizes and what each RETR
    sends, lines unstuffed and CR LF ended."""
    answers = talk(['-f', mbox, '-p', PASSWD],
                   ['USER jack', 'PASS password', 'LIST'] +
                   ['RETR %d' % (i + 1) for i in range(count)] + ['QUIT'])[1]
    listing = answers[2]
    assert listing.ok, listing.status
    sizes = [int(line.split()[1]) for line in listing.lines]
    bodies = []
    for a in answers[3:3 + count]:
        assert a.ok, a.status
        bodies.append(b''.join(line + b'\r\n' for line in a.lines))
    assert len(bodies) == count, len(bodies)
    return sizes, bodies


tmp = tmpdir('octets')
mbox = os.path.join(tmp, 'mbox')
r = random.Random(1939)
for round_ in range(40):
    crlf = round_ % 2 == 1
    data, expect = build(r, crlf)
    write(mbox, data)
    sizes, bodies = retr_all(mbox, len(expect))
    what = f'mailbox {round_} ({"CR LF" if crlf else "LF"}, ' \
        f'{len(expect)} messages, {len(data)} bytes)'
    ok(len(sizes) == len(expect), f'{what}: message count')
    ok(sizes == [len(b) for b in bodies],
       f'{what}: LIST octets equal RETR octets')
    ok(bodies == expect, f'{what}: RETR sends each message as stored')
    ok(read(mbox) == data, f'{what}: mailbox untouched')
tap.done()
