#!/usr/bin/env python3
"""UIDL: the same in every session, unchanged when other messages are
deleted, unique, 1-70 printable characters, and the mailbox is not written
to keep them."""
import os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import Tap  # noqa: E402

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pop3d = os.environ.get('POP3D', os.path.join(top, 'pop3d'))
passwd = os.path.join(top, 't', 'sessions', 'passwd')
tap = Tap()
ok = tap.ok

def session(mbox, cmds):
    data = ('USER jack\r\nPASS password\r\n' + ''.join(c + '\r\n' for c in cmds)).encode()
    return subprocess.run([pop3d, '-f', mbox, '-p', passwd], input=data,
                          capture_output=True, timeout=30).stdout.decode('latin-1')

def uidl(mbox):
    out = session(mbox, ['UIDL', 'QUIT'])
    lines = out.split('\r\n')
    i = lines.index('+OK unique-id listing follows')
    uids = {}
    for l in lines[i + 1:]:
        if l == '.':
            break
        num, uid = l.split(' ', 1)
        uids[int(num)] = uid
    return uids

tmp = tempfile.mkdtemp()
try:
    for fixture in ('default', 'crlf', 'uidl', 'edges', 'noeol'):
        mbox = os.path.join(tmp, 'mbox')
        shutil.copy(os.path.join(top, 't', 'sessions', 'mbox', fixture), mbox)
        before = open(mbox, 'rb').read()
        a = uidl(mbox)
        b = uidl(mbox)
        ok(a == b and len(a) > 0, f'{fixture}: same UIDs in two sessions')
        ok(len(set(a.values())) == len(a), f'{fixture}: UIDs unique')
        ok(all(1 <= len(u) <= 70 and all(0x21 <= ord(c) <= 0x7e for c in u)
               for u in a.values()), f'{fixture}: 1-70 printable characters')
        ok(open(mbox, 'rb').read() == before, f'{fixture}: mailbox untouched by UIDL')
        # delete the second message: every other message keeps its UID
        session(mbox, ['DELE 2', 'QUIT'])
        c = uidl(mbox)
        expect = [a[k] for k in sorted(a) if k != 2]
        ok([c[k] for k in sorted(c)] == expect, f'{fixture}: UIDs kept after DELE 2')
    # A mailbox reader rewriting Status: does not change the UID.
    mbox = os.path.join(tmp, 'mbox')
    shutil.copy(os.path.join(top, 't', 'sessions', 'mbox', 'default'), mbox)
    a = uidl(mbox)
    data = open(mbox, 'rb').read().replace(b'Status: RO\n', b'Status: O\nX-Status: A\n')
    open(mbox, 'wb').write(data)
    ok(uidl(mbox) == a, 'Status/X-Status rewritten: UIDs unchanged')
    # X-UIDL honoured when valid
    shutil.copy(os.path.join(top, 't', 'sessions', 'mbox', 'uidl'), mbox)
    u = uidl(mbox)
    ok(u[1] == 'legacy-uid-0001', 'X-UIDL honoured')
    ok(u[2] != u[1], 'a repeated X-UIDL gets a UID of its own')
    ok(u[3] != 'x' * 71 and len(u[3]) == 24, 'an X-UIDL of 71 characters is ignored')
    ok(len({u[4], u[5], u[6]}) == 3, 'identical messages get distinct UIDs')
    # An X-UIDL that spells another message's computed UID (found by
    # fuzz/scan) must not give two messages one UID.
    one = (b'From a@example.org Mon Nov 23 10:00:00 2026\n'
           b'Subject: first\n\nbody\n')
    open(mbox, 'wb').write(one)
    digest = uidl(mbox)[1]
    open(mbox, 'wb').write(one + b'\nFrom b@example.org Mon Nov 23 10:01:00 '
                           b'2026\nX-UIDL: ' + digest.encode() +
                           b'\n\nbody\n')
    u = uidl(mbox)
    ok(u[1] == digest and u[2] != u[1],
       'an X-UIDL that spells another UID gets a UID of its own')
    u = uidl(mbox)
    ok(u[2] != u[1] and uidl(mbox) == u, '... the same in the next session')
finally:
    shutil.rmtree(tmp)
tap.done()
