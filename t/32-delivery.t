#!/usr/bin/env python3
# Mail delivered by a real delivery agent while sessions delete.  procmail
# (dotlock MBOX.lock, then fcntl on the mailbox, as Debian's MDAs lock)
# delivers numbered messages one after another while POP3 sessions run
# back to back, each deleting the seed messages and every delivered
# message with an even number it sees.  Afterwards every delivered
# message must be in the mailbox exactly once, byte for byte, unless a
# session that got +OK to QUIT deleted it; and nothing else may be there.
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import Tap, need, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
need(tap, 'procmail')

DELIVERIES = 120
d, mbox, passwd, log = ms.workfiles('delivery')
rc = os.path.join(d, 'procmailrc')
with open(rc, 'w') as f:
    # procmail retries a busy dotlock after LOCKSLEEP seconds (default 8)
    f.write('LOCKSLEEP=1\n:0:\n$MBOX\n')
os.chmod(rc, 0o644)


def delivered_message(k):
    """Message k as given to procmail: no body line starts with From."""
    rng = random.Random(k)
    lines = ['From mda%d@example.org Tue Feb  6 10:%02d:%02d 2024\n'
             % (k, k // 60 % 60, k % 60),
             'Message-ID: <delivered.%d@test>\n' % k,
             'X-Seq: d-%d\n' % k, 'Subject: delivery %d\n' % k, '\n']
    for i in range(rng.randrange(3, 40 if k % 10 else 4000)):
        lines.append('d-%d line %d %s\n' % (k, i, 'x' * rng.randrange(80)))
    return ''.join(lines).encode()


def stored(k):
    # procmail ends each message with an empty line
    return delivered_message(k) + b'\n'


seeds = [ms.message(i, 3000 + 700 * i, tag='seed') for i in range(1, 7)]
ms.clean_mailbox(mbox, b''.join(seeds))

status = {}


def procmail_deliver(k):
    t = time.time()
    p = subprocess.run(['procmail', '-m', 'MBOX=' + mbox, rc],
                       input=delivered_message(k), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stderr[-300:], time.time() - t


def deliver_all():
    for k in range(1, DELIVERIES + 1):
        status[k] = procmail_deliver(k)


# An open session holds no lock a delivery agent waits for.
s = ms.session(mbox, passwd, log=log)
ok = s.login()
rc0, err0, took = procmail_deliver(DELIVERIES + 1)
# (procmail itself sleeps up to a second after a mailbox changed within
# the current second, so that mail readers see the new mtime)
tap.ok(ok is not None and ok.startswith(b'+OK') and rc0 == 0 and took < 5,
       'procmail delivers at once while a session is open (%.2f s)' % took,
       (ok, err0))
s.cmd('DELE 1')
q = s.cmd('QUIT')
s.finish()
tap.ok(q is not None and q.startswith(b'+OK') and
       ms.read_file(mbox) == b''.join(seeds[1:]) + stored(DELIVERIES + 1),
       '... and its message is kept by the session\'s update', q)
ms.clean_mailbox(mbox, b''.join(seeds))


SEQ = re.compile(rb'^X-Seq: (seed|d)-(\d+)\r?$', re.M)
deleted = set()
quits = {'+OK': 0, 'other': []}
sessions = {'ran': 0, 'in use': 0}


def one_session():
    s = ms.session(mbox, passwd, log=log)
    try:
        ok = s.login()
        if ok is None or not ok.startswith(b'+OK'):
            sessions['in use'] += 1
            return
        sessions['ran'] += 1
        count = int(ok.split()[1])
        marked = set()
        for n in range(1, count + 1):
            a = s.cmd('TOP %d 0' % n)
            if a is None or not a.startswith(b'+OK'):
                raise RuntimeError('TOP %d: %r' % (n, a))
            m = SEQ.search(b'\n'.join(s.multi()))
            if m is None:
                raise RuntimeError('message %d has no X-Seq' % n)
            who = (m.group(1).decode(), int(m.group(2)))
            if who[0] == 'seed' or who[1] % 2 == 0:
                if not s.cmd('DELE %d' % n).startswith(b'+OK'):
                    raise RuntimeError('DELE %d refused' % n)
                marked.add(who)
        q = s.cmd('QUIT')
        if q is not None and q.startswith(b'+OK'):
            quits['+OK'] += 1
            deleted.update(marked)
        else:
            quits['other'].append(q)
    finally:
        s.finish()


t0 = time.time()
agent = threading.Thread(target=deliver_all)
agent.start()
errors = []
while agent.is_alive():
    try:
        one_session()
    except (RuntimeError, TimeoutError) as e:
        errors.append(str(e))
    time.sleep(random.uniform(0, 0.03))
agent.join()
one_session()
elapsed = time.time() - t0

failed = {k: v for k, v in status.items() if v[0] != 0}
tap.ok(len(status) == DELIVERIES and not failed,
       'procmail delivered all %d messages (exit 0)' % DELIVERIES,
       list(failed.items())[:3])
slowest = max(v[2] for v in status.values())
# procmail retries a busy dotlock every LOCKSLEEP=1 s: a retry or two at
# most, never pop3d's 10 s lock timeout or a whole session
tap.ok(slowest < 6, 'no delivery waited long (slowest %.1f s)' % slowest)
tap.ok(not errors and sessions['ran'] > 5,
       '%d sessions ran during the deliveries, each read every message '
       'it was shown' % sessions['ran'], errors[:3])
tap.ok(not quits['other'],
       'every QUIT answered +OK (%d)' % quits['+OK'], quits['other'][:3])

data = ms.read_file(mbox)
starts = [m.start() for m in re.finditer(rb'(?:^|(?<=\n\n))From ', data)]
found = {}
pieces = []
for i, at in enumerate(starts):
    piece = data[at:starts[i + 1] if i + 1 < len(starts) else len(data)]
    m = SEQ.search(piece)
    who = (m.group(1).decode(), int(m.group(2))) if m else ('?', at)
    found.setdefault(who, []).append(piece)
    pieces.append(piece)
want = {('d', k) for k in range(1, DELIVERIES + 1)} - deleted
want |= {('seed', i) for i in range(1, 7)} - deleted
tap.ok(b''.join(pieces) == data and (not starts or starts[0] == 0),
       'the mailbox is a run of whole messages')
missing = sorted(want - set(found))
extra = sorted(set(found) - want)
twice = sorted(k for k, v in found.items() if len(v) > 1)
tap.ok(not missing and not extra and not twice,
       'every delivered message not deleted is there exactly once, and '
       'nothing else (%d kept, %d deleted by sessions)' % (
           len(want), len(deleted)),
       'missing %s\nnot expected %s\nmore than once %s' % (
           missing[:10], extra[:10], twice[:10]))
wrong = [who for who, v in found.items() if who in want and
         v[0] != (stored(who[1]) if who[0] == 'd' else seeds[who[1] - 1])]
tap.ok(not wrong, 'each is byte-identical to what was delivered',
       wrong[:10])
tap.ok(not os.path.exists(mbox + '.lock') and
       not os.path.exists(mbox + '.pop3d'), 'no lock file is left')
tap.diag('%d deliveries, %d sessions (%d refused in use), %.1f s'
         % (DELIVERIES, sessions['ran'], sessions['in use'], elapsed))
shutil.rmtree(d, ignore_errors=True)
tap.done()
