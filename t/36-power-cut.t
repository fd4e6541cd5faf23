#!/usr/bin/env python3
# UPDATE survives a power cut at any instant.  The persistence model is the
# crash-consistency literature's (ALICE, OSDI 2014; CrashMonkey, OSDI
# 2018): after a power cut a file holds what was written before its last
# fsync/fdatasync plus ANY SUBSET of the 4 KB pages written since, a truncate
# not yet synced may or may not have happened, and a new, renamed or
# removed name may be lost unless its directory was synced.  For each
# scenario of t/30 the update is recorded with strace (every write, with
# its data); t/crashstate.py replays the recording and builds the crash
# states at every sync epoch (every subset of a few pending pages, else 200
# random ones and the empty and the full set; kill -9 after each call);
# each state is written out, mail is delivered, and the next session's
# recovery must leave the original or the planned result: 0 messages lost,
# 0 corrupted, 0 duplicated.  The model itself is proven first: on
# synthetic traces whose crash states and files are known, the judge on
# mailboxes whose damage is known, and on every real trace by replaying it
# to the files the run left.  CRASH_SAMPLES and CRASH_JOBS tune the run.
import multiprocessing
import os
import random
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashstate as cs  # noqa: E402
import mboxsafe as ms  # noqa: E402
import pop3lib  # noqa: E402
from pop3lib import Tap, build, need_pop3d  # noqa: E402

tap = Tap()


def h(b):
    """A string as strace -xx prints it."""
    return ''.join('\\x%02x' % c for c in b)


# ---------------------------------------------------------------- the model
# /X/f holds "old" when QUIT comes.  5000 bytes are written over it (two
# pages), then synced; it is cut to 10 bytes (not synced); g is created,
# written (a call interrupted by another process's), and renamed to h;
# the directory is synced; then a write across a page boundary.
X = '/X-crashstate-selftest'
lines = [
    '7 openat(AT_FDCWD<%s>, "%s", O_RDWR|O_CREAT, 0600) = 3<%s>'
    % (h(X.encode()), h(b'f'), h(X.encode() + b'/f')),
    '7 read(0<%s>, "%s", 4096) = 6' % (h(b'pipe:[1]'), h(b'QUIT\r\n')),
    '7 pwrite64(3<%s>, "%s", 5000, 0) = 5000'
    % (h(X.encode() + b'/f'), h(b'A' * 5000)),
    '7 fdatasync(3<%s>) = 0' % h(X.encode() + b'/f'),
    '7 ftruncate(3<%s>, 10) = 0' % h(X.encode() + b'/f'),
    '7 openat(AT_FDCWD<%s>, "%s", O_WRONLY|O_CREAT|O_EXCL, 0600) = 4<%s>'
    % (h(X.encode()), h(b'g'), h(X.encode() + b'/g')),
    '7 write(4<%s>, "%s", 2 <unfinished ...>'
    % (h(X.encode() + b'/g'), h(b'xy')),
    '8 close(9) = 0',
    '7 <... write resumed>) = 2',
    '7 rename("%s", "%s") = 0' % (h(X.encode() + b'/g'),
                                  h(X.encode() + b'/h')),
    '7 writev(1<%s>, [{iov_base="%s", iov_len=3}], 1) = 3'
    % (h(b'pipe:[2]'), h(b'+OK')),
    '7 openat(AT_FDCWD<%s>, "%s", O_RDONLY|O_DIRECTORY) = 5<%s>'
    % (h(X.encode()), h(X.encode()), h(X.encode())),
    '7 fsync(5<%s>) = 0' % h(X.encode()),
    '7 pwrite64(3<%s>, "%s", 10, 4090) = 10'
    % (h(X.encode() + b'/f'), h(b'B' * 10)),
    '7 +++ exited with 0 +++',
]
F, G, HH = (X + '/f').encode(), (X + '/g').encode(), (X + '/h').encode()
tf = tempfile.NamedTemporaryFile('w', suffix='.trace', delete=False)
tf.write('\n'.join(lines) + '\n')
tf.close()
calls = cs.read_trace(tf.name)
os.unlink(tf.name)
tap.ok([c.name for c in calls] == [
    'openat', 'read', 'pwrite64', 'fdatasync', 'ftruncate', 'openat',
    'close', 'write', 'rename', 'writev', 'openat', 'fsync', 'pwrite64'],
    'model: the trace reader joins an interrupted call to its end',
    [c.name for c in calls])
model = cs.replay(calls, X, X, lambda: {F: (('real', 1), b'old')})
states = cs.crash_states(model, 'selftest')
got = set()
for pi, keep in states:
    files = cs.materialize(model.points[pi], keep)
    got.add(frozenset((p, data) for p, (_, data) in files.items()))
A5, A10 = b'A' * 5000, b'A' * 10
want = {frozenset({(F, b'old')}), frozenset({(F, b'A' * 4096)}),
        frozenset({(F, b'old' + bytes(4093) + b'A' * 904)})}
for f in (A5, A10):
    want.add(frozenset({(F, f)}))
    for name in (G, HH):
        for data in (b'', b'xy'):
            want.add(frozenset({(F, f), (name, data)}))
# after the directory sync: h is there for good; f may get the last write
# (two pages: 6 bytes ending one, 4 starting the next) in any subset
for f in (A5, A10):
    for first in (False, True):
        for second in (False, True):
            b = bytearray(f)
            if first:
                b.extend(bytes(max(0, 4090 - len(b))))
                b[4090:4096] = b'B' * 6
            if second:
                b.extend(bytes(max(0, 4096 - len(b))))
                b[4096:4100] = b'B' * 4
            for data in (b'', b'xy'):
                want.add(frozenset({(F, bytes(b)), (HH, data)}))
tap.ok(got == want, 'model: the crash states of a known trace, every one '
       'and no other (%d)' % len(want),
       'missing %d, not expected %d: %s' % (
           len(want - got), len(got - want),
           [sorted((p, d[:12], len(d)) for p, d in s)
            for s in list(got ^ want)[:4]]))
last = model.points.index([p for p in model.points
                           if p.label.startswith('just after sync 2')][0])
tap.ok(all(HH in cs.materialize(model.points[pi], keep) and
           G not in cs.materialize(model.points[pi], keep)
           for pi, keep in states if pi >= last),
       'model: once the directory is synced, the rename is never lost')
tap.eq(model.volatile_files(),
       {F: b'A' * 10 + bytes(4080) + b'B' * 10, HH: b'xy'},
       'model: every call applied gives the files the calls made')

# Descriptors and offsets: O_APPEND, dup, pwritev, lseek then write, names
# relative to a directory descriptor; a call the model does not know on
# one of the files is reported, a string strace cut short refused.
def fd(n, name):
    return '%d<%s>' % (n, h((X + '/' + name).encode()))


def at(name):
    return 'AT_FDCWD<%s>, "%s"' % (h(X.encode()), h(name.encode()))


lines = [
    '9 openat(%s, O_RDWR|O_CREAT|O_APPEND, 0600) = %s' % (at('k'),
                                                          fd(3, 'k')),
    '9 read(0<%s>, "%s", 4096) = 6' % (h(b'pipe:[1]'), h(b'QUIT\r\n')),
    '9 write(%s, "%s", 2) = 2' % (fd(3, 'k'), h(b'ab')),
    '9 dup(%s) = %s' % (fd(3, 'k'), fd(4, 'k')),
    '9 pwritev(%s, [{iov_base="%s", iov_len=1}, {iov_base="%s", '
    'iov_len=2}], 2, 1) = 3' % (fd(4, 'k'), h(b'Z'), h(b'YY')),
    '9 openat(%s, O_WRONLY|O_CREAT|O_TRUNC, 0600) = %s' % (at('m'),
                                                           fd(5, 'm')),
    '9 lseek(%s, 4, SEEK_SET) = 4' % fd(5, 'm'),
    '9 write(%s, "%s", 1) = 1' % (fd(5, 'm'), h(b'q')),
    '9 write(%s, "%s", 1) = 1' % (fd(5, 'm'), h(b'r')),
    '9 pwrite64(%s, "%s", 2, 0) = 2' % (fd(5, 'm'), h(b'ss')),
    '9 write(%s, "%s", 1) = 1' % (fd(5, 'm'), h(b't')),
    '9 linkat(%s, %s, 0) = 0' % (at('m'), at('n')),
    '9 unlinkat(%s, 0) = 0' % at('m'),
    '9 fallocate(%s, 0, 0, 8192) = 0' % fd(3, 'k'),
    '9 fallocate(%s, 3, 0, 8192) = 0' % fd(3, 'k'),
]
tf = tempfile.NamedTemporaryFile('w', suffix='.trace', delete=False)
tf.write('\n'.join(lines) + '\n')
tf.close()
model = cs.replay(cs.read_trace(tf.name), X, X,
                  lambda: {(X + '/k').encode(): (('real', 1), b'12')})
tap.eq((model.volatile_files(), model.unmodelled),
       ({(X + '/k').encode(): b'1ZYY' + bytes(8188),
         (X + '/n').encode(): b'ss\0\0qrt'}, ['fallocate#15']),
       'model: O_APPEND, dup, pwritev, lseek, write at the offset, names '
       'relative to a directory, fallocate growing a file; a call it '
       'cannot replay (a hole punched) is reported')
with open(tf.name, 'w') as f:
    f.write('\n'.join(lines[:2]) + '\n9 pwrite64(%s, "%s"..., 9, 0) = 9\n'
            % (fd(3, 'k'), h(b'abc')))
try:
    cs.replay(cs.read_trace(tf.name), X, X,
              lambda: {(X + '/k').encode(): (('real', 1), b'12')})
    refused = None
except cs.ModelError as e:
    refused = str(e)
os.unlink(tf.name)
tap.ok(refused is not None and 'cut short' in refused,
       'model: a write whose data strace cut short is refused', refused)

# The judge: which messages a mailbox lost, corrupted, holds twice.
m1, m2, m3 = (ms.message(i, 2000) for i in (1, 2, 3))
sc = ms.Scenario('judge', [m1, m2, m3], {2})
cases = [(m1 + m3, ([], [], [])), (m1 + m2 + m3, ([], [], [])),
         (m3, (['m-1'], [], [])), (m1 + m3[:1000], ([], ['m-3'], [])),
         (m1[:-1] + m3, ([], ['m-1', 'm-3'], [])),
         (m1 + m3 + m3, ([], [], ['m-3'])),
         (m1 + m2[:500] + m3, ([], ['m-2', 'm-3'], []))]
got = [tuple(cs.judge(sc, data)[k] for k in ('lost', 'corrupted',
                                              'duplicated'))
       for data, _ in cases]
tap.eq(got, [w for _, w in cases], 'model: the judge tells lost, corrupted '
       '(partial, glued) and duplicated messages')

r = random.Random(1)
small = [tuple(s) for s in cs.subsets(4, r)]
big = [tuple(s) for s in cs.subsets(40, r)]
tap.ok(len(set(small)) == 16 and len(big) == cs.SAMPLES + 2 and
       () in big and tuple(range(40)) in big,
       'model: every subset of 4 pending items; %d random ones and the '
       'empty and the full set of 40' % cs.SAMPLES)

# ------------------------------------------------------------ pop3d
need_pop3d(tap)
ms.need_strace(tap)
# The disk is what the model stands for: in a tmpfs the recovery sessions'
# syncs cost nothing, and the run takes half the time.
def room(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


if 'TMPDIR' not in os.environ and os.access('/dev/shm', os.W_OK) and \
        room('/dev/shm') > 256 << 20:
    os.environ['TMPDIR'] = '/dev/shm'

jobs = int(os.environ.get('CRASH_JOBS', '0')) or min(4, os.cpu_count() or 1)
scenarios = ms.crash_scenarios()
# Updates of many epochs: the same mailboxes through pop3d-epochs, whose
# epochs are 256 KB, so records alternate, carry data or not, and a
# crash lands between two epochs.
build(tap, 'pop3d-epochs')
for sc in [c for c in ms.crash_scenarios() if c.name in (
        'journaled blocks: delete first, middle, last',
        'plain blocks: delete first, middle, last',
        'mail delivered after the crash (journaled blocks)')]:
    sc.name += ', 256 KB epochs'
    sc.binary = pop3lib.EPOCHS
    scenarios.append(sc)
t0 = time.time()
totals = {'states': 0, 'failed': 0, 'lost': 0, 'corrupted': 0,
          'duplicated': 0, 'not_ok': 0, 'lost_states': 0,
          'corrupted_states': 0, 'duplicated_states': 0}
with multiprocessing.Pool(jobs) as pool:
    tasks = [(sc, k, jobs) for sc in scenarios for k in range(jobs)]
    results = pool.imap(cs.run_task, tasks)
    for sc in scenarios:
        parts = [next(results) for _ in range(jobs)]
        errors = [p['error'] for p in parts if p['error']]
        first = parts[0]
        tap.ok(not errors and all(
            p['answer'] is not None and p['answer'].startswith(b'+OK') and
            p['clean'] and p['replayed'] and not p['unmodelled']
            for p in parts),
            '%s: recorded, the update answers +OK with the planned result, '
            'and the model replays the recording to the files it left '
            '(%s calls, %s syncs)' % (sc.name, first.get('calls'),
                                      first.get('syncs')),
            '\n'.join(errors[:1]) or [
                (p.get('answer'), p.get('clean'), p.get('replayed'),
                 p.get('unmodelled')) for p in parts])
        n = sum(p['states'] for p in parts)
        failed = [f for p in parts for f in p['failed']]
        outcomes = {}
        for p in parts:
            for k, v in p['outcomes'].items():
                outcomes[k] = outcomes.get(k, 0) + v
        counts = {w: sum(p[w] for p in parts)
                  for w in ('lost', 'corrupted', 'duplicated')}
        not_ok = sum(p['not_ok_answer'] for p in parts)
        totals['states'] += n
        totals['failed'] += len(failed)
        totals['not_ok'] += not_ok
        for w in counts:
            totals[w] += counts[w]
            totals[w + '_states'] += sum(1 for f in failed if f[3][w])
        tap.diag('%s: %d crash states (%s); %d failed: messages lost %d, '
                 'corrupted %d, duplicated %d; recovery not +OK %d'
                 % (sc.name, n, ', '.join(
                     '%s %d' % (k or 'neither', v) for k, v in
                     sorted(outcomes.items(), key=str)),
                    len(failed), counts['lost'], counts['corrupted'],
                    counts['duplicated'], not_ok))
        if failed:
            where = {}
            for label, _, _, _ in failed:
                label = 'kill -9' if label.startswith('kill') else label
                where[label] = where.get(label, 0) + 1
            tap.diag('  failed states by crash point: ' + '; '.join(
                '%s: %d' % kv for kv in where.items()))
        tap.ok(n > 0 and not failed and not errors,
               '%s: power cut at each of %d crash states: the next session '
               'answers +OK and finds the original or the planned result '
               '(0 lost, 0 corrupted, 0 duplicated)' % (sc.name, n),
               '\n'.join(e for p in parts for e in p['examples'][:2]))
tap.diag('power cuts: %d crash states in %.0f s on %d jobs; %d failed: '
         '%d with messages lost (%d messages), %d corrupted (%d), %d '
         'duplicated (%d); recovery session not +OK in %d'
         % (totals['states'], time.time() - t0, jobs, totals['failed'],
            totals['lost_states'], totals['lost'],
            totals['corrupted_states'], totals['corrupted'],
            totals['duplicated_states'], totals['duplicated'],
            totals['not_ok']))
tap.done()
