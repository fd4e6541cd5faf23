#!/usr/bin/env python3
"""Memory: the index only.  RETR of an 8 MB message does not hold the
message (peak RSS stays far below its size), and 20,000 messages cost
tens of bytes each.  Peak RSS comes from wait4(2) of the server."""
import os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import Tap  # noqa: E402

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pop3d = os.environ.get('POP3D', os.path.join(top, 'pop3d'))
passwd = os.path.join(top, 't', 'sessions', 'passwd')
tap = Tap()
ok = tap.ok

def peak_kb(mbox, cmds):
    """Run one session; return (peak RSS in KB, bytes of output)."""
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as out:
        inp.write(('USER jack\r\nPASS password\r\n' + cmds + 'QUIT\r\n').encode())
        inp.seek(0)
        p = subprocess.run([maxrss, pop3d, '-f', mbox, '-p', passwd], stdin=inp,
                           stdout=out, stderr=subprocess.PIPE, timeout=120)
        out.seek(0, 2)
        return int(p.stderr.split()[-1]), out.tell()

sanitized = os.environ.get('POP3D_SANITIZED')
tmp = tempfile.mkdtemp()
try:
    # a small parent, so the figure is pop3d's own (see t/maxrss.c)
    maxrss = os.path.join(tmp, 'maxrss')
    subprocess.run([os.environ.get('CC', 'cc'), '-O2', '-o', maxrss,
                    os.path.join(top, 't', 'maxrss.c')], check=True)
    small = os.path.join(tmp, 'small')
    with open(small, 'wb') as f:
        f.write(b'From a@example.org Mon Nov 23 10:00:00 2026\nSubject: s\n\nx\n\n')
    base, _ = peak_kb(small, 'RETR 1\r\n')

    big = os.path.join(tmp, 'big')
    with open(big, 'wb') as f:
        f.write(b'From a@example.org Mon Nov 23 10:00:00 2026\nSubject: big\n\n')
        line = b'0123456789' * 7 + b'\n'
        f.write(line * (8 * 1024 * 1024 // len(line)))
        f.write(b'\n')
    rss, sent = peak_kb(big, 'RETR 1\r\nTOP 1 5\r\n')
    print(f'# RETR of an 8 MB message: peak RSS {rss} KB (one-line mailbox: {base} KB), {sent} bytes sent')
    ok(sent > 8 * 1024 * 1024, 'the whole message was sent')
    if sanitized:
        ok(True, 'RSS bound not checked under a sanitizer (shadow memory)')
    else:
        ok(rss - base < 1024, 'RETR of 8 MB grows RSS by less than 1 MB')

    many = os.path.join(tmp, 'many')
    count = 20000
    with open(many, 'wb') as f:
        for i in range(count):
            f.write(b'From a@example.org Mon Nov 23 10:00:00 2026\nSubject: %d\n\nbody\n\n' % i)
    rss, _ = peak_kb(many, 'STAT\r\nUIDL 20000\r\n')
    per = (rss - base) * 1024 / count
    print(f'# {count} messages: peak RSS {rss} KB, {per:.0f} bytes per message over the base')
    if sanitized:
        ok(True, 'per-message bound not checked under a sanitizer')
    else:
        ok(per < 100, 'the index costs under 100 bytes per message')
finally:
    shutil.rmtree(tmp)
tap.done()
