#!/usr/bin/env python3
"""A full disk.  The mailbox lives on a tmpfs of fixed size, filled up so
that exactly so much is free.  With 64 KB free, deleting any message or
messages works (the journal's epochs shrink to what fits), and stays
crash-safe: pop3d is killed at each writing syscall of such an update and
the next session, on the same full disk, finds the original or the
result.  With nothing free, deletions that only truncate work and the
others answer -ERR [SYS/TEMP] saying the disk is full, in words, with the
mailbox untouched.

Runs in a mount namespace of its own (unshare -m), so the file systems
it mounts go with it however it ends."""
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
import pop3lib  # noqa: E402

tap = pop3lib.Tap()
pop3lib.need_root(tap)
pop3lib.need(tap, 'unshare', 'mount', 'umount')
if os.environ.get('POP3D_FULL_DISK_NS') != '1':
    env = dict(os.environ, POP3D_FULL_DISK_NS='1')
    r = subprocess.run(['unshare', '--mount', '--propagation', 'private',
                        sys.executable] + sys.argv, env=env)
    sys.exit(r.returncode)
pop3lib.need_pop3d(tap)
ms.STRACE = ms.need_strace(tap)

K = 1024
PAGE = 4096
d = pop3lib.tmpdir('full-disk')
disk = os.path.join(d, 'disk')
os.mkdir(disk)
mbox = os.path.join(disk, 'mbox')
passwd = os.path.join(d, 'passwd')
log = os.path.join(d, 'log')
pop3lib.write(passwd, '%s:{PLAIN}%s\n' % (pop3lib.USER, pop3lib.PASSWORD))

# fourteen messages of 3 to 16 KB, as in the report that found this
MSGS = [ms.message(i, n * K) for i, n in
        enumerate([9, 3, 12, 7, 16, 4, 10, 5, 14, 6, 11, 8, 13, 15], 1)]
BOX = ms.Mailbox(MSGS)


def free_bytes():
    v = os.statvfs(disk)
    return v.f_bavail * v.f_frsize


def fresh_disk(free):
    """A new tmpfs with the mailbox on it and exactly `free` bytes free."""
    subprocess.run(['umount', disk], stderr=subprocess.DEVNULL)
    size = len(BOX.data()) + free + 64 * PAGE
    subprocess.run(['mount', '-t', 'tmpfs', '-o',
                    'size=%d,mode=0755' % size, 'tmpfs', disk], check=True)
    ms.write_file(mbox, BOX.data())
    left = free_bytes() - free
    if left > 0:
        with open(os.path.join(disk, 'filler'), 'wb') as f:
            f.write(b'\0' * left)
    return free_bytes()


def update(delete, wrap=()):
    sc = ms.Scenario('full', MSGS, delete)
    return sc, ms.run_update(sc, mbox, passwd, wrap=wrap, log=log)


def leftovers():
    return [x for x in ('.pop3d', '.lock') if os.path.exists(mbox + x)]


def logged():
    return ms.tail_of(log, 20000)


if os.path.exists(log):
    os.unlink(log)

# 1. 64 KB free: any deletion works.
cases = [{1}, {7}, {2, 5}, {1, 3, 5, 7, 9, 11, 13}, set(range(1, 14)),
         {14}, set(range(1, 15)), {13, 14}]
for delete in cases:
    got_free = fresh_disk(64 * K)
    sc, a = update(delete)
    tap.ok(got_free == 64 * K and a is not None and a.startswith(b'+OK')
           and ms.read_file(mbox) == sc.expected() and not leftovers(),
           '64 KB free: DELE %s and QUIT: +OK and exactly the kept '
           'messages' % ','.join(str(n) for n in sorted(delete)),
           '%d free; %r; left %s\n%s' % (got_free, a, leftovers(),
                                         logged()))

# 2. 160 KB free: more than the mailbox itself.
fresh_disk(160 * K)
sc, a = update({1})
tap.ok(a is not None and a.startswith(b'+OK') and
       ms.read_file(mbox) == sc.expected(),
       '160 KB free: DELE 1 and QUIT: +OK', a)

# 3. Killed at each writing syscall of an update with 64 KB free; the
#    next session runs on the same full disk.
for delete in ({1}, {2, 5}):
    fresh_disk(64 * K)
    trace = os.path.join(d, 'trace')
    sc, a = update(delete, wrap=ms.strace_wrap(trace=trace))
    points = ms.update_points(trace)
    bad = []
    outcomes = {}
    for name, when in points:
        fresh_disk(64 * K)
        try:
            ms.run_update(sc, mbox, passwd, log=log,
                          wrap=ms.strace_wrap(name, when, 'signal=KILL'))
        except (RuntimeError, TimeoutError) as e:
            bad.append('%s #%d: %s' % (name, when, e))
            continue
        which, problems = ms.check_recovered(sc, mbox, passwd, log)
        outcomes[which] = outcomes.get(which, 0) + 1
        if problems:
            bad.append('%s #%d: %s' % (name, when, '\n'.join(problems)))
    tap.diag('64 KB free, DELE %s: %d crash points (%s)' % (
        ','.join(map(str, sorted(delete))), len(points),
        ', '.join('%s %d' % kv for kv in sorted(outcomes.items(), key=str))))
    tap.ok(len(points) > 10 and not bad,
           '64 KB free, DELE %s: killed at each of %d writing syscalls, '
           'the next session finds the original or the result' % (
               ','.join(map(str, sorted(delete))), len(points)),
           '\n'.join(bad[:3]))

# 4. Nothing free.
fresh_disk(0)
sc, a = update({13, 14})
tap.ok(free_bytes() == 0 or (a is not None and a.startswith(b'+OK') and
                             ms.read_file(mbox) == sc.expected()),
       'nothing free: deleting the last messages (a truncate) works', a)
for delete in ({1}, {7, 14}):
    fresh_disk(0)
    if os.path.exists(log):
        os.unlink(log)
    sc, a = update(delete)
    tap.ok(a is not None and a.startswith(b'-ERR [SYS/TEMP]') and
           b'disk is full' in a and ms.read_file(mbox) == sc.original()
           and not leftovers(),
           'nothing free: DELE %s answers -ERR [SYS/TEMP] saying the disk '
           'is full, and nothing is deleted' % ','.join(
               str(n) for n in sorted(delete)), '%r\n%s' % (a, logged()))
    ok, st, q = ms.stat_of(mbox, passwd, log=log)
    tap.ok(st is not None and st.startswith(b'+OK 14 '),
           '... and the next session serves all 14 messages', st)

subprocess.run(['umount', disk], stderr=subprocess.DEVNULL)
tap.done()
