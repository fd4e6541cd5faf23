#!/usr/bin/env python3
"""Memory: the index only.  RETR of an 8 MB message does not hold the
message (peak RSS stays far below its size), and 20,000 messages cost
tens of bytes each.  Peak RSS comes from wait4(2) of the server.

An AddressSanitizer build (make check-asan leaves this test out, but
POP3D may name one) is held to bounds of its own: its shadow memory
(an eighth of what the program touches), redzones and the quarantine of
freed blocks make the index cost about 2.5 times as much (measured: 180
bytes a message against 70), while RETR must still not grow RSS by the
message, whose shadow alone would be 1 MB."""
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (PASSWD, POP3D, TOP, Tap, need_pop3d, read,  # noqa
                     talk, tmpdir)

tap = Tap()
need_pop3d(tap)
ok = tap.ok

asan = b'__asan_init' in read(POP3D)
PER_MESSAGE = 300 if asan else 100    # bytes of RSS a message may cost


def peak_kb(mbox, cmds):
    """Run one session; return (peak RSS in KB, bytes of output, the
    answer to the first of cmds)."""
    _, answers, p = talk(['-f', mbox, '-p', PASSWD],
                         ['USER jack', 'PASS password'] + cmds + ['QUIT'],
                         pre=[maxrss], timeout=120)
    first = answers[2].status if len(answers) > 2 else None
    return int(p.stderr.split()[-1]), len(p.stdout), first


tmp = tmpdir('memory')
# a small parent, so the figure is pop3d's own (see t/maxrss.c)
maxrss = os.path.join(tmp, 'maxrss')
cc = subprocess.run([os.environ.get('CC', 'cc'), '-O2', '-o', maxrss,
                     os.path.join(TOP, 't', 'maxrss.c')],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
if cc.returncode != 0:
    tap.bail('cannot build t/maxrss.c: ' + cc.stdout.decode(errors='replace'))
if asan:
    tap.diag('%s is an AddressSanitizer build: its own bounds' % POP3D)

small = os.path.join(tmp, 'small')
with open(small, 'wb') as f:
    f.write(b'From a@example.org Mon Nov 23 10:00:00 2026\nSubject: s\n\nx\n\n')
base, _, retr = peak_kb(small, ['RETR 1'])

big = os.path.join(tmp, 'big')
with open(big, 'wb') as f:
    f.write(b'From a@example.org Mon Nov 23 10:00:00 2026\nSubject: big\n\n')
    line = b'0123456789' * 7 + b'\n'
    f.write(line * (8 * 1024 * 1024 // len(line)))
    f.write(b'\n')
rss, sent, _ = peak_kb(big, ['RETR 1', 'TOP 1 5'])
tap.diag(f'RETR of an 8 MB message: peak RSS {rss} KB (one-line mailbox: '
         f'{base} KB), {sent} bytes sent')
ok(sent > 8 * 1024 * 1024, 'the whole message was sent')
ok(retr == b'+OK 17 octets' and rss - base < 1024,
   'RETR of 8 MB grows RSS by less than 1 MB',
   'RETR of the one-line message answered %r' % retr)

many = os.path.join(tmp, 'many')
count = 20000
with open(many, 'wb') as f:
    for i in range(count):
        f.write(b'From a@example.org Mon Nov 23 10:00:00 2026\n'
                b'Subject: %d\n\nbody\n\n' % i)
rss, _, stat = peak_kb(many, ['STAT', 'UIDL 20000'])
per = (rss - base) * 1024 / count
tap.diag(f'{count} messages: peak RSS {rss} KB, {per:.0f} bytes per message '
         f'over the base')
ok(stat is not None and stat.startswith(b'+OK %d ' % count) and
   per < PER_MESSAGE,
   f'the index costs under {PER_MESSAGE} bytes per message',
   'STAT answered %r' % stat)
tap.done()
