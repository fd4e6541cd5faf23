#!/usr/bin/env python3
"""UIDL: the same in every session, unchanged when other messages are
deleted, unique, 1-70 printable characters, and the mailbox is not written
to keep them."""
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (PASSWD, Tap, need_pop3d, read, session_mbox,  # noqa
                     talk, tmpdir, write)

tap = Tap()
need_pop3d(tap)
ok = tap.ok


def answers_to(mbox, cmds):
    """jack logs in and sends cmds: pop3d's answers."""
    return talk(['-f', mbox, '-p', PASSWD],
                ['USER jack', 'PASS password'] + cmds)[1]


def uidl(mbox):
    a = answers_to(mbox, ['UIDL', 'QUIT'])[2]
    if a.status != b'+OK unique-id listing follows':
        raise RuntimeError('UIDL answered %r' % a.status)
    uids = {}
    for line in a.lines:
        num, uid = line.decode('latin-1').split(' ', 1)
        uids[int(num)] = uid
    return uids


tmp = tmpdir('uidl')
mbox = os.path.join(tmp, 'mbox')
for fixture in ('default', 'crlf', 'uidl', 'edges', 'noeol'):
    shutil.copy(session_mbox(fixture), mbox)
    before = read(mbox)
    a = uidl(mbox)
    b = uidl(mbox)
    ok(a == b and len(a) > 0, f'{fixture}: same UIDs in two sessions')
    ok(len(set(a.values())) == len(a), f'{fixture}: UIDs unique')
    ok(all(1 <= len(u) <= 70 and all(0x21 <= ord(c) <= 0x7e for c in u)
           for u in a.values()), f'{fixture}: 1-70 printable characters')
    ok(read(mbox) == before, f'{fixture}: mailbox untouched by UIDL')
    # delete the second message: every other message keeps its UID
    answers_to(mbox, ['DELE 2', 'QUIT'])
    c = uidl(mbox)
    expect = [a[k] for k in sorted(a) if k != 2]
    ok([c[k] for k in sorted(c)] == expect,
       f'{fixture}: UIDs kept after DELE 2')
# A mailbox reader rewriting Status: does not change the UID.
shutil.copy(session_mbox('default'), mbox)
a = uidl(mbox)
data = read(mbox).replace(b'Status: RO\n', b'Status: O\nX-Status: A\n')
write(mbox, data)
ok(uidl(mbox) == a, 'Status/X-Status rewritten: UIDs unchanged')
# X-UIDL honoured when valid
shutil.copy(session_mbox('uidl'), mbox)
u = uidl(mbox)
ok(u[1] == 'legacy-uid-0001', 'X-UIDL honoured')
ok(u[2] != u[1], 'a repeated X-UIDL gets a UID of its own')
ok(u[3] != 'x' * 71 and len(u[3]) == 24,
   'an X-UIDL of 71 characters is ignored')
ok(len({u[4], u[5], u[6]}) == 3, 'identical messages get distinct UIDs')
# An X-UIDL that spells another message's computed UID (found by
# fuzz/scan) must not give two messages one UID.
one = (b'From a@example.org Mon Nov 23 10:00:00 2026\n'
       b'Subject: first\n\nbody\n')
write(mbox, one)
digest = uidl(mbox)[1]
write(mbox, one + b'\nFrom b@example.org Mon Nov 23 10:01:00 2026\n'
      b'X-UIDL: ' + digest.encode() + b'\n\nbody\n')
u = uidl(mbox)
ok(u[1] == digest and u[2] != u[1],
   'an X-UIDL that spells another UID gets a UID of its own')
u = uidl(mbox)
ok(u[2] != u[1] and uidl(mbox) == u, '... the same in the next session')
tap.done()
