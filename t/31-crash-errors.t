#!/usr/bin/env python3
# UPDATE when a write fails: ENOSPC, EIO and EDQUOT injected by strace into
# each writing syscall the update makes, once (a passing fault) and from
# there on (a full or failing disk).  QUIT must answer +OK only with every
# deletion made, or -ERR [SYS/TEMP] with the reason in the log; a single
# failure must leave the original or the planned result at once; and the
# next session must find one of those two, byte for byte.
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import Tap, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
ms.need_strace(tap)

total = 0
failed = 0
answers = {'+OK': 0, '-ERR': 0, 'none': 0}
for sc in ms.crash_scenarios():
    points, _, _ = ms.crash_points(sc)
    modes = [('ENOSPC', ''), ('ENOSPC', '+'), ('EIO', ''), ('EIO', '+'),
             ('EDQUOT', '')]
    for errname, persist in modes:
        pts = [(n, '%d%s' % (w, persist)) for n, w in points]
        results = ms.run_points(sc, pts, 'error=' + errname)
        bad = [r for r in results if r[2]]
        total += len(results)
        failed += len(bad)
        diag = '\n'.join('%s at %s #%s:\n%s' % (errname, n, w, '\n'.join(p))
                         for n, w, p, _ in bad[:3])
        tap.ok(len(pts) > 5 and not bad,
               '%s: %s %s at each of %d writing syscalls' % (
                   sc.name, errname,
                   'from there on' if persist else 'once', len(pts)), diag)
tap.diag('failure points: %d in all; runs that lost or damaged mail: %d'
         % (total, failed))
tap.done()
