#!/usr/bin/env python3
"""The code runs one way down (README, Files).  Each source file belongs to
a layer; no file includes a header of a layer above its own, no object
calls a function of a layer above, and no two files call each other,
directly or round a longer circle.  Calls are read from the objects
themselves (nm), so a call hidden behind a macro counts too."""
import glob
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pop3lib  # noqa: E402

# Top to bottom; a file may use its own layer and those below it.  The
# codecs and params/log serve every layer.
LAYERS = [
    ('main', ['pop3d', 'check', 'hashpw']),
    ('session', ['monitor', 'session', 'login', 'trans', 'retr', 'reply']),
    ('io and auth', ['io', 'auth', 'priv', 'sandbox', 'handover']),
    ('mailbox', ['mbox', 'mbox_scan', 'mbox_uid', 'mbox_update',
                 'mbox_index']),
    ('update', ['update', 'journal']),
    ('spool', ['spool', 'boundary']),
    ('file I/O', ['fileio', 'fault']),
    ('everywhere', ['wire', 'hash', 'base64', 'md5', 'proxy', 'log',
                    'params']),
]
RANK = {f: i for i, (_, files) in enumerate(LAYERS) for f in files}

tap = pop3lib.Tap()
os.chdir(pop3lib.TOP)
pop3lib.build(tap, 'pop3d')     # the objects this test reads

sources = sorted(os.path.splitext(f)[0] for f in glob.glob('*.[ch]'))
unplaced = sorted(set(sources) - set(RANK))
tap.ok(not unplaced, 'every source file has a layer', unplaced)

bad = []
for f in sorted(glob.glob('*.[ch]')):
    me = os.path.splitext(f)[0]
    with open(f) as fh:
        for h in re.findall(r'^#include "([^"]+)\.h"', fh.read(), re.M):
            if h in RANK and me in RANK and RANK[h] < RANK[me]:
                bad.append('%s includes %s.h (%s above %s)' % (
                    f, h, LAYERS[RANK[h]][0], LAYERS[RANK[me]][0]))
tap.ok(not bad, 'no file includes a header of a layer above it',
       '\n'.join(bad))

defined, wanted = {}, {}
for obj in glob.glob('*.o'):
    me = obj[:-2]
    if me not in RANK:
        continue
    out = subprocess.run(['nm', obj], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDRB':
            defined[parts[2]] = me
        elif len(parts) == 2 and parts[0] == 'U':
            wanted.setdefault(me, set()).add(parts[1])
calls = {f: sorted({defined[s] for s in syms if s in defined} - {f})
         for f, syms in wanted.items()}
tap.ok(len(calls) > 20, 'the objects name their calls (%d files)'
       % len(calls))

up = ['%s calls %s (%s above %s)' % (f, g, LAYERS[RANK[g]][0],
                                     LAYERS[RANK[f]][0])
      for f in sorted(calls) for g in calls[f] if RANK[g] < RANK[f]]
tap.ok(not up, 'no file calls a layer above its own', '\n'.join(up))

circles = []
state = {}


def walk(f, path):
    state[f] = 'open'
    for g in calls.get(f, []):
        if state.get(g) == 'open':
            circles.append(' -> '.join(path[path.index(g):] + [g]))
        elif g not in state:
            walk(g, path + [g])
    state[f] = 'done'


for f in sorted(calls):
    if f not in state:
        walk(f, [f])
tap.ok(not circles, 'no two files call each other, nor round a circle',
       '\n'.join(circles))
tap.done()
