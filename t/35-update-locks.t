#!/usr/bin/env python3
# The update's checks and the locks, one case at a time: a boundary that is
# no longer one, a failed fsync, the journal emptied durably, a journal
# that no longer fits the mailbox, a delivery agent that takes its locks
# in the other order, busy, stale and abandoned dotlocks, and a journal
# file that belongs to someone else.
import fcntl
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import Tap, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
ms.need_strace(tap)
K = 1024

d, mbox, passwd, log = ms.workfiles('regress')


def fresh(data):
    ms.clean_mailbox(mbox, data)
    if os.path.exists(log):
        os.unlink(log)


def logged():
    return ms.tail_of(log, 20000)


def session_until_quit(deletes, before_quit=None, wrap=()):
    """Log in, DELE, run before_quit(), QUIT; returns the QUIT answer."""
    s = ms.session(mbox, passwd, log=log, wrap=wrap)
    try:
        ok = s.login()
        if ok is None or not ok.startswith(b'+OK'):
            return ok
        for n in deletes:
            s.cmd('DELE %d' % n)
        if before_quit:
            before_quit(s)
        return s.cmd('QUIT')
    finally:
        s.finish()


# 1. A boundary the scan saw, no longer one: CRLF message 2 joined to
#    message 1 during the session ("\r\n\r\n" before it became "xy\r\n").
#    "\r\nFrom " used to pass for a message start.
box = ms.Mailbox([ms.message(i, n, crlf=True) for i, n in
                  enumerate([3000, 4000, 5000], 1)])
fresh(box.data())
joined = bytearray(box.data())
at = len(box.msgs[0])
joined[at - 4:at] = b'xy\r\n'


def join_messages(s):
    ms.write_file(mbox, bytes(joined))


a = session_until_quit([2], join_messages)
tap.ok(a is not None and a.startswith(b'-ERR [SYS/TEMP]') and
       b'changed' in a, 'a message joined to the one before it during '
       'the session: QUIT answers -ERR [SYS/TEMP] with a reason', a)
tap.ok(ms.read_file(mbox) == bytes(joined),
       '... and the mailbox is left as the other program left it')

# 2. EIO from fsync of the mailbox.  A failed fsync is never simply
#    repeated (the kernel may have dropped the pages and report success
#    the second time): what it covered is written again, then synced
#    once more.  Twice failed: -ERR, and the next session finishes.
sc = ms.Scenario('fsync', [ms.message(i, n) for i, n in
                           enumerate([3 * K, 200 * K, 2 * K], 1)], {1})
fresh(sc.box.data())
trace = os.path.join(d, 'trace')
ms.run_update(sc, mbox, passwd, wrap=ms.strace_wrap(trace=trace))
with open(trace) as f:
    lines = f.read().splitlines()
box_fd = jr_fd = None
syncs = []
order = []
for line in lines:
    m = ms.CALL.match(line.strip())
    if not m:
        continue
    name, rest = m.group(1), m.group(2)
    if name == 'openat' and \
            '/mbox"' in rest and 'O_RDWR' in rest:
        box_fd = rest.rsplit('= ', 1)[1]
    if name == 'openat' and '/mbox.pop3d"' in rest:
        jr_fd = rest.rsplit('= ', 1)[1]
    if name == 'fdatasync':
        syncs.append(rest.split(')')[0])
    if name in ('fdatasync', 'ftruncate') or (
            name == 'write' and rest.startswith('1,') and '+OK bye' in rest):
        order.append((name, rest.split(')')[0].split(',')[0]))
# the mailbox's and the journal's calls, and the answer (the index is
# written in between, to a file of its own)
order = [c for c in order if c[1] in (box_fd, jr_fd, '1')]
tap.ok(box_fd is not None and jr_fd is not None and
       order[-5:] == [('ftruncate', box_fd), ('fdatasync', box_fd),
                      ('ftruncate', jr_fd), ('fdatasync', jr_fd),
                      ('write', '1')],
       'before +OK: the mailbox is cut and synced, then the journal is '
       'emptied and synced', 'fds %s %s, calls %s' % (box_fd, jr_fd,
                                                       order[-6:]))
nth = [i for i, fd in enumerate(syncs, 1) if fd == box_fd]
fresh(sc.box.data())
a = session_until_quit([1], wrap=ms.strace_wrap('fdatasync', nth[-1],
                                                'error=EIO'))
tap.ok(a is not None and a.startswith(b'+OK') and
       ms.read_file(mbox) == sc.expected() and
       'fsync: Input/output error; writing it again' in logged(),
       'EIO once from the last fsync of the mailbox: the cut is made '
       'again and synced again, then +OK', '%r\n%s' % (a, logged()))
fresh(sc.box.data())
a = session_until_quit([1], wrap=ms.strace_wrap('fdatasync',
                                                '%d+' % nth[-1],
                                                'error=EIO'))
tap.ok(a is not None and a.startswith(b'-ERR [SYS/TEMP]') and b'fsync' in a,
       'EIO from every fsync of the mailbox from the last on: -ERR '
       '[SYS/TEMP], never +OK', a)
tap.ok('fsync: Input/output error' in logged(), '... and the log says why',
       logged())
_, st, _ = ms.stat_of(mbox, passwd, log=log)
tap.ok(ms.read_file(mbox) == sc.expected() and
       not os.path.exists(mbox + '.pop3d'),
       '... the next session finds the result and ends the journal', st)

# 3. A journal that no longer fits the mailbox: killed once the plan is
#    written, before any block moved; then another program rewrites the
#    mailbox.  The journal is dropped with a log line, the mailbox left.
points, _, _ = ms.crash_points(sc, d)
# the first write after the plan is synced: the first block's record
synced = [i for i, p in enumerate(points) if p[0] == 'fdatasync'][0]
first_block = [p for p in points[synced:] if p[0].startswith('pwrite')][0]
for what, other in [
        ('shorter', ms.Mailbox([ms.message(9, 50 * K)]).data()),
        ('as long, other messages',
         ms.Mailbox([ms.message(7, 100 * K), ms.message(8, len(
             sc.box.data()) - 100 * K)]).data())]:
    fresh(sc.box.data())
    ms.run_update(sc, mbox, passwd, wrap=ms.strace_wrap(
        first_block[0], first_block[1], 'signal=KILL'))
    planned = os.path.getsize(mbox + '.pop3d') > 0
    ms.write_file(mbox, other)
    ok, st, _ = ms.stat_of(mbox, passwd, log=log)
    tap.ok(planned and ok is not None and ok.startswith(b'+OK') and
           ms.read_file(mbox) == other and 'abandoned' in logged(),
           'journal from before a crash, mailbox rewritten since (%s): '
           'the journal is dropped, the mailbox left, the log says so'
           % what, '%r %r\n%s' % (planned, ok, logged()))

# 4. A delivery agent that takes the dotlock and then waits for fcntl
#    (procmail's order).  pop3d must not hold fcntl while it waits for
#    the dotlock, or both wait until pop3d gives up.
fresh(sc.box.data())
new = ms.message(1, 3000, tag='new')
timing = {}


def agent_locks(s):
    fd = os.open(mbox + '.lock', os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b'99999\n')
    os.close(fd)
    s.send('QUIT')
    time.sleep(0.5)           # pop3d now polls for the dotlock
    t0 = time.time()
    with open(mbox, 'ab') as f:
        fcntl.lockf(f, fcntl.LOCK_EX)    # F_SETLKW, as procmail
        timing['waited'] = time.time() - t0
        f.write(new)
        f.flush()
        fcntl.lockf(f, fcntl.LOCK_UN)
    os.unlink(mbox + '.lock')
    timing['quit'] = s.line()


t0 = time.time()
session_until_quit([1], agent_locks)
elapsed = time.time() - t0
tap.ok(timing.get('waited', 99) < 2 and timing.get('quit', b'').startswith(
    b'+OK') and elapsed < 6,
    'an agent holding the dotlock gets the fcntl lock at once; then QUIT '
    'finishes: +OK', '%r, %.1f s' % (timing, elapsed))
tap.ok(ms.read_file(mbox) == sc.box.without({1}) + new,
       '... with the mail it delivered meanwhile kept')

# 5. A busy dotlock of someone else's (here a pop3d on another host,
#    whose process cannot be looked at): bounded wait, then
#    -ERR [SYS/TEMP], nothing changed.
fresh(sc.box.data())
FOREIGN = b'12345 pop3d another-host.example\n'


def foreign_lock(s):
    ms.write_file(mbox + '.lock', FOREIGN)


t0 = time.time()
a = session_until_quit([1], foreign_lock)
elapsed = time.time() - t0
tap.ok(a is not None and a.startswith(b'-ERR [SYS/TEMP]') and
       b'locked' in a and 8 < elapsed < 20,
       'a delivery agent\'s dotlock held throughout: QUIT waits about '
       '10 s, then -ERR [SYS/TEMP]', '%r after %.1f s' % (a, elapsed))
tap.ok(ms.read_file(mbox) == sc.box.data() and
       ms.read_file(mbox + '.lock') == FOREIGN,
       '... the mailbox and the other\'s lock untouched')

# 6. The same lock, older than 5 minutes: stale, removed, logged.
fresh(sc.box.data())


def stale_lock(s):
    ms.write_file(mbox + '.lock', b'12345\n')
    old = time.time() - 400
    os.utime(mbox + '.lock', (old, old))


a = session_until_quit([1], stale_lock)
tap.ok(a is not None and a.startswith(b'+OK') and
       ms.read_file(mbox) == sc.expected() and
       'removed stale lock, 4' in logged() and
       not os.path.exists(mbox + '.lock'),
       'a dotlock 400 s old is stale: removed (logged), update done',
       '%r\n%s' % (a, logged()))

# 7. A young dotlock left by a pop3d on this host that was killed ("PID
#    pop3d HOST", PID gone) before this session began: no live session
#    can hold it while we hold the session lock: removed at login (no
#    pop3d can leave one later, while the session holds the mailbox).
fresh(sc.box.data())
gone = subprocess.Popen(['true'])
gone.wait()
ms.write_file(mbox + '.lock', b'%d pop3d %s\n' % (
    gone.pid, os.uname().nodename.encode()))
t0 = time.time()
a = session_until_quit([1])
tap.ok(a is not None and a.startswith(b'+OK') and time.time() - t0 < 3 and
       'was killed' in logged() and ms.read_file(mbox) == sc.expected(),
       'a dotlock left by a killed pop3d session is removed at once',
       '%r\n%s' % (a, logged()))

# 8. The dotlock is made NFS-safely: a unique file linked to MBOX.lock.
fresh(sc.box.data())
ms.run_update(sc, mbox, passwd, wrap=ms.strace_wrap(trace=trace))
with open(trace) as f:
    t = f.read()
made = [ln for ln in t.splitlines() if ' link(' in ln and 'mbox.lock"' in ln]
tap.ok(len(made) == 2 and all('mbox.lock.' in ln for ln in made),
       'the dotlock is taken by link(2) from a unique name, for the scan '
       'and for the update only', '\n'.join(made))
# That file is created once, with the session lock, before anything is
# read from the client after login: a confined session creates no file.
tmp_name = 'mbox.lock.%s.pop3d' % os.uname().nodename
created = [ln for ln in t.splitlines() if 'open' in ln and 'O_CREAT' in ln
           and 'mbox.lock.' in ln]
tap.ok(len(created) == 1 and tmp_name in created[0],
       'the file linked to mbox.lock is created once a session (%s)'
       % tmp_name, '\n'.join(created))
tap.ok(sorted(n for n in os.listdir(d) if n.startswith('mbox.lock')) == [],
       '... and removed when the session ends')

# 8b. One that a killed session left (it says "PID pop3d HOST") is
#     replaced; a file of that name that is not one (a user named so, and
#     this his mailbox) is left alone, and the mailbox is locked with fcntl
#     alone.
fresh(sc.box.data())
ms.write_file(os.path.join(d, tmp_name), b'%d pop3d %s\n' % (
    gone.pid, os.uname().nodename.encode()))
a = session_until_quit([1])
tap.ok(a is not None and a.startswith(b'+OK') and
       ms.read_file(mbox) == sc.expected() and
       not os.path.exists(os.path.join(d, tmp_name)) and
       'fcntl only' not in logged(),
       'a %s a killed session left: replaced, the dotlock taken, gone at '
       'the end' % tmp_name, '%r\n%s' % (a, logged()))
fresh(sc.box.data())
ms.write_file(os.path.join(d, tmp_name), b'From x\n\nsomeone else\n')
a = session_until_quit([1])
tap.ok(a is not None and a.startswith(b'+OK') and
       ms.read_file(mbox) == sc.expected() and
       ms.read_file(os.path.join(d, tmp_name)) ==
       b'From x\n\nsomeone else\n' and
       'cannot create the dotlock (File exists); locking the mailbox with '
       'fcntl only' in logged(),
       'a %s that is not a pop3d lock file: untouched, fcntl only, logged'
       % tmp_name, '%r\n%s' % (a, logged()))
os.unlink(os.path.join(d, tmp_name))

# 9. A journal file that belongs to another user is not used.
name = 'a journal file owned by another user: -ERR [SYS/TEMP], mailbox ' \
    'untouched'
if os.geteuid() == 0:
    import pwd
    nobody = pwd.getpwnam('nobody')
    fresh(sc.box.data())
    ms.write_file(mbox + '.pop3d', b'')
    os.chown(mbox + '.pop3d', nobody.pw_uid, nobody.pw_gid)
    ok, _, _ = ms.stat_of(mbox, passwd, log=log)
    tap.ok(ok is not None and ok.startswith(b'-ERR [SYS/TEMP]') and
           'neither us nor the mailbox owner' in logged() and
           ms.read_file(mbox) == sc.box.data(), name,
           '%r\n%s' % (ok, logged()))
    os.unlink(mbox + '.pop3d')
else:
    tap.skip(name, 'not root: cannot make a file of another user')

shutil.rmtree(d, ignore_errors=True)
tap.done()
