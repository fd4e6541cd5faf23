#!/usr/bin/env python3
# UPDATE survives kill -9 at every instant.  For each scenario (journaled
# and plain moves, CRLF, mail delivered during the session and after the
# crash, deleting everything) a clean run is traced; then pop3d is killed
# by strace at each writing syscall it makes after QUIT, one run per
# syscall, mail is delivered, and a fresh session opens the mailbox.  The
# file must then be byte-identical to the original or to the planned
# result (plus whatever was delivered): nothing lost, nothing partial or
# merged.  Then the same for a crash during that recovery.
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import Tap, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
ms.need_strace(tap)

total = 0
lost = 0
for sc in ms.crash_scenarios():
    points, answer, clean = ms.crash_points(sc)
    tap.ok(answer is not None and answer.startswith(b'+OK') and clean,
           '%s: without a crash, +OK and the planned result' % sc.name,
           'QUIT answered %r' % answer)
    results = ms.run_points(sc, points, 'signal=KILL')
    bad = [r for r in results if r[2]]
    seen = {}
    for r in results:
        seen[r[3]] = seen.get(r[3], 0) + 1
    total += len(results)
    lost += len(bad)
    tap.diag('%s\ncrash points: %d (%s)' % (
        sc.name, len(results), ', '.join('%s %d' % (k, v) for k, v in
                                         sorted(seen.items(), key=str))))
    diag = '\n'.join('killed at %s #%d:\n%s' % (n, w, '\n'.join(p))
                     for n, w, p, _ in bad[:3])
    tap.ok(len(points) > 5 and not bad,
           '%s: killed at each of %d writing syscalls, the next session '
           'finds the original or the planned result' % (sc.name,
                                                          len(points)), diag)

# Killed in the middle of a write: the first half (or the first byte) of
# a block, a journal record or the end marker reaches the file.
tmp = ms.workdir('torn')
torn_total = 0
if ms.build_torn_lib(tap, tmp):
    for sc in ms.crash_scenarios():
        points, _, _ = ms.crash_points(sc)
        n = sum(1 for p in points if p[0] in ('pwrite64', 'pwritev'))
        if n == 0:
            continue    # a single truncate: nothing to tear
        pts = [('pwrite', k) for k in range(1, n + 1)]
        bad = []
        for keep in ('-1', '1'):
            results = ms.run_points(sc, pts, 'torn=' + keep)
            bad += [(keep,) + r for r in results if r[2]]
            torn_total += len(results)
        lost += len(bad)
        tap.ok(not bad,
               '%s: killed halfway through each of %d writes, and after '
               'their first byte' % (sc.name, n),
               '\n'.join('torn at write #%d keeping %s:\n%s' % (
                   w, k, '\n'.join(p)) for k, _, w, p, _ in bad[:3]))
shutil.rmtree(tmp, ignore_errors=True)
total += torn_total
tap.diag('torn writes: crash points: %d' % torn_total)

# A crash during the recovery itself: the next session redoes it.
sc = [c for c in ms.crash_scenarios() if 'after the crash (journaled' in
      c.name][0]
d, mbox, passwd, log = ms.workfiles('crash2')
firsts = []
second_total = 0
second_bad = []
try:
    points, _, _ = ms.crash_points(sc, d)
    # first crashes spread over the update: in the moves, at the end
    # marker, at the truncate
    firsts = [p for p in points if p[0] in ('pwrite64', 'pwritev',
                                            'ftruncate')]
    firsts = firsts[1::max(1, len(firsts) // 6)][:6]
    for name, when in firsts:
        ms.clean_mailbox(mbox, sc.box.data())
        ms.run_update(sc, mbox, passwd,
                      wrap=ms.strace_wrap(name, when, 'signal=KILL'))
        ms.deliver(mbox, sc.after)
        saved = {x: ms.read_file(mbox + x) for x in ('', '.pop3d', '.lock')
                 if os.path.exists(mbox + x)}

        def restore():
            for x in ('', '.pop3d', '.lock'):
                if x in saved:
                    ms.write_file(mbox + x, saved[x])
                elif os.path.exists(mbox + x):
                    os.unlink(mbox + x)

        trace = os.path.join(d, 'trace')
        s = ms.session(mbox, passwd, wrap=ms.strace_wrap(trace=trace))
        s.login()
        s.cmd('QUIT')
        s.finish()
        restore()
        for rname, rwhen in ms.update_points(trace, 'PASS'):
            restore()
            s = ms.session(mbox, passwd, wrap=ms.strace_wrap(
                rname, rwhen, 'signal=KILL'))
            s.login()
            s.cmd('QUIT')
            s.finish()
            _, problems = ms.check_recovered(sc, mbox, passwd, log)
            second_total += 1
            if problems:
                second_bad.append('first crash %s #%d, second %s #%d: %s'
                                  % (name, when, rname, rwhen,
                                     '\n'.join(problems)))
finally:
    shutil.rmtree(d, ignore_errors=True)
total += second_total
lost += len(second_bad)
tap.diag('crash during recovery: %d first crashes, crash points: %d'
         % (len(firsts), second_total))
tap.ok(second_total > 20 and not second_bad,
       'killed again at each writing syscall of the recovery (%d runs): '
       'the next session finds the planned result' % second_total,
       '\n'.join(second_bad[:3]))
tap.diag('crash points: %d in all; runs that lost or damaged mail: %d'
         % (total, lost))
tap.done()
