#!/usr/bin/env python3
"""A client that is gone deletes nothing: when the answers cannot be
written (EPIPE), pipelined DELE and QUIT must not update the mailbox, and
pop3d ends cleanly (SIGPIPE is ignored, not fatal)."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (PASSWD, POP3D, Tap, need_pop3d, read,  # noqa: E402
                     session_mbox, tmpdir)

tap = Tap()
need_pop3d(tap)
ok = tap.ok
fixture = session_mbox('default')

tmp = tmpdir('client-gone')
mbox = os.path.join(tmp, 'mbox')
for name, cmds in (('pipelined RETR, DELE, QUIT',
                    'RETR 1\r\nDELE 1\r\nQUIT\r\n'),
                   ('DELE all, QUIT',
                    'DELE 1\r\nDELE 2\r\nDELE 3\r\nDELE 4\r\nQUIT\r\n')):
    shutil.copy(fixture, mbox)
    # all commands are there before pop3d reads: one batch, as a
    # pipelining client that then vanished would leave them
    inp = os.path.join(tmp, 'in')
    with open(inp, 'wb') as f:
        f.write(('USER jack\r\nPASS password\r\n' + cmds).encode())
    r, w = os.pipe()
    os.close(r)                       # the client stopped reading
    with open(inp, 'rb') as f:
        p = subprocess.run([POP3D, '-e', '-f', mbox, '-p', PASSWD],
                           stdin=f, stdout=w, stderr=subprocess.PIPE,
                           timeout=30)
    os.close(w)
    ok(p.returncode == 0,
       f'{name}: pop3d ends cleanly (status {p.returncode})')
    ok(read(mbox) == read(fixture), f'{name}: nothing deleted')
    ok(b'dele=0' in p.stderr or b'nothing deleted' in p.stderr,
       f'{name}: the log says nothing was deleted')
tap.done()
