#!/usr/bin/env python3
# A mailbox changed behind the session, model-based.  Each seed makes a
# random mailbox of a few messages (some of equal length, some with an
# X-UIDL header) and a random script: a session's commands (STAT, LIST,
# UIDL, RETR, TOP, DELE, RSET, NOOP, QUIT) interleaved with a mutator
# acting on the same file between two commands: a delivery agent appending
# (fcntl lock and dotlock), an MUA expunging a message by rewriting the
# same inode in place, a same-size rewrite of a header, a replacement by
# rename, a truncation.  The test keeps a model of the file (and of the
# inode the session has open, once the file was replaced) and checks:
#  (a) a message the session did not delete is still in the mailbox
#      afterwards, byte for byte as the mutator last left it, exactly once,
#      and nothing else is there (a message the mutator removed is gone);
#  (b) RETR n and TOP n k serve exactly (TOP: the prefix by TOP's rules)
#      message n as the session listed it, as it is in the mailbox (or in
#      the file the session has open) when it is sent; a message that is
#      no longer there may only get -ERR [SYS/TEMP];
#  (c) UIDL never gives a message another UID within a session;
#  (d) after -ERR [SYS/TEMP] the server ends the session, and it deleted
#      nothing;
#  (e) QUIT's +OK means every message the session deleted is gone.
# Then the issue's reproductions as fixed cases: 1 (a shift by whole
# messages deletes an unread one), 2 (RETR and UIDL after an expunge),
# 3 (a journal that exists but cannot be opened) and 6 (reconnecting at
# once after QUIT's +OK).
import fcntl
import multiprocessing
import os
import pwd
import random
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
from pop3lib import PASSWORD, USER, Session, Tap, need_pop3d  # noqa: E402

tap = Tap()
need_pop3d(tap)
ms.need_strace(tap)         # reproduction 3 interrupts an update
SEEDS = int(os.environ.get('CONCURRENCY_SEEDS', '1000'))

# ------------------------------------------------------------- mailboxes


def message_text(rng, ident, uidl=None):
    """A message without its final newline and empty line: From_ line,
    headers (X-Seq names it, X-Flag is what a same-size rewrite changes),
    and a body with lines that need care."""
    k = int(ident.split('-')[1])
    head = ['From %s@example.org Mon Jan  1 00:%02d:%02d 2024'
            % (ident.split('-')[0], k // 60 % 60, k % 60),
            'Message-ID: <%s@test>' % ident, 'X-Seq: %s' % ident,
            'X-Flag: 0000', 'Subject: message %s' % ident]
    if uidl:
        head.append('X-UIDL: %s' % uidl)
    body = []
    for i in range(rng.randrange(1, 9)):
        r = rng.random()
        if r < 0.1:
            body.append('.leading dot %d' % i)
        elif r < 0.2:
            body.append('>From quoted %d' % i)
        elif r < 0.3 and body:
            body.append('')
        else:
            body.append('%s line %d %s' % (ident, i, 'x' * rng.randrange(60)))
    body.append('end of %s ' % ident)
    return '\n'.join(head) + '\n\n' + '\n'.join(body)


def make_message(rng, ident, uidl=None):
    """One message as stored, ending in its empty line."""
    return (message_text(rng, ident, uidl) + '\n\n').encode()


def equal_messages(rng, idents, uidls=None):
    """Messages all of one length (the last body line padded)."""
    texts = [message_text(rng, i, u) for i, u in
             zip(idents, uidls or [None] * len(idents))]
    length = max(len(t) for t in texts) + rng.randrange(50)
    return [(i, (t + 'p' * (length - len(t)) + '\n\n').encode())
            for i, t in zip(idents, texts)]


def big_message(rng, ident):
    """A message larger than pop3d's read buffer (128 KB), so that
    reading it moves the buffer over the file."""
    text = message_text(rng, ident)
    line = '%s big %s' % (ident, 'y' * 990)
    return (text + ('\n' + line) * rng.randrange(140, 300) + '\n\n').encode()


def random_mailbox(rng, tag='m'):
    n = rng.randrange(2, 6)
    idents = ['%s-%d' % (tag, k) for k in range(1, n + 1)]
    uidls = [('uidl-%d-%d' % (rng.randrange(10 ** 6), k)
              if rng.random() < 0.3 else None) for k in range(1, n + 1)]
    if rng.random() < 0.4:      # equal lengths: shifts by whole messages
        box = equal_messages(rng, idents, uidls)
    else:
        box = [(i, make_message(rng, i, u)) for i, u in zip(idents, uidls)]
    if rng.random() < 0.25:
        k = rng.randrange(n)
        box[k] = (idents[k], big_message(rng, idents[k]))
    return box


SEQ = re.compile(rb'^X-Seq: ([a-z]+-\d+)$', re.M)


def split_messages(data):
    """(bytes before the first message, [pieces]) as the scan splits."""
    starts = [0] if data.startswith(b'From ') else []
    i = data.find(b'\nFrom ')
    while i >= 0:
        if data[i - 1:i] == b'\n':
            starts.append(i + 1)
        i = data.find(b'\nFrom ', i + 1)
    if not starts:
        return data, []
    return data[:starts[0]], [data[a:b] for a, b in
                              zip(starts, starts[1:] + [len(data)])]


def served_lines(entry):
    """What RETR sends of a stored message, as lines without CR LF and
    dot-stuffing: after the From_ line, less the empty line that separates
    it from the next (or ends the file)."""
    content = entry[entry.index(b'\n') + 1:] if b'\n' in entry else b''
    if content.endswith(b'\n\n'):
        content = content[:-1]
    lines = content.split(b'\n')
    if content.endswith(b'\n') or not content:
        lines.pop()
    return lines


def top_lines(lines, k):
    if b'' in lines:
        return lines[:lines.index(b'') + 1 + k]
    return lines


# ---------------------------------------------------------------- the world

class World:
    """
    The mailbox file as the mutator left it (self.path: [(id, bytes)]),
    and the file the session has open: the same, until a rename replaced
    the mailbox (self.view then keeps the old file as it was).
    """

    def __init__(self, mbox, entries, rng):
        self.mbox, self.rng = mbox, rng
        self.path = list(entries)
        self.view = None
        self.removed = set()        # ids the mutator took out
        self.delivered = 0
        ms.write_file(mbox, self.data())

    def data(self, entries=None):
        return b''.join(d for _, d in (self.path if entries is None
                                       else entries))

    def session_view(self):
        return self.path if self.view is None else self.view

    def lock(self):
        """A delivery agent's locks: fcntl on the mailbox, then the
        dotlock MBOX.lock (Debian policy 11.6)."""
        fd = os.open(self.mbox, os.O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        for _ in range(400):
            try:
                os.close(os.open(self.mbox + '.lock',
                                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                return fd
            except FileExistsError:
                time.sleep(0.005)
        os.close(fd)
        raise RuntimeError('MBOX.lock held for 2 s')

    def unlock(self, fd):
        os.unlink(self.mbox + '.lock')
        os.close(fd)

    def rewrite_in_place(self, entries):
        fd = self.lock()
        try:
            data = self.data(entries)
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            self.unlock(fd)
        self.path = entries

    # -- the mutators; each returns what it did
    def append(self, ident=None, msg=None):
        self.delivered += 1
        if msg is None:
            ident = 'd-%d' % self.delivered
            msg = make_message(self.rng, ident)
            if self.path and self.rng.random() < 0.5:
                # as long as a message there: a shift by whole messages
                size = len(self.rng.choice(self.path)[1])
                if size > len(msg):
                    msg = msg[:-2] + b'p' * (size - len(msg)) + b'\n\n'
        fd = self.lock()
        try:
            data = self.data()
            sep = b'' if not data or data.endswith(b'\n\n') else \
                b'\n' if data.endswith(b'\n') else b'\n\n'
            os.pwrite(fd, sep + msg, len(data))
        finally:
            self.unlock(fd)
        if sep:     # the line ends close the message before
            self.path = self.path[:-1] + [(self.path[-1][0],
                                           self.path[-1][1] + sep)]
        self.path = self.path + [(ident, msg)]
        return 'MTA appends %s' % ident

    def expunge(self):
        if not self.path:
            return self.append()
        k = self.rng.randrange(len(self.path))
        gone = self.path[k][0]
        self.removed.add(gone)
        self.rewrite_in_place(self.path[:k] + self.path[k + 1:])
        return 'MUA expunges %s in place' % gone

    def flag(self, entries):
        """A same-size change to one message's X-Flag header."""
        k = self.rng.randrange(len(entries))
        ident, data = entries[k]
        new = b'X-Flag: %04d' % self.rng.randrange(1, 10000)
        if b'\nX-Flag: ' not in data:
            return entries, None
        i = data.index(b'\nX-Flag: ') + 1
        data = data[:i] + new + data[i + len(new):]
        return entries[:k] + [(ident, data)] + entries[k + 1:], ident

    def rewrite(self):
        if not self.path:
            return self.append()
        entries, ident = self.flag(self.path)
        if ident is None:
            return self.append()
        self.rewrite_in_place(entries)
        return 'MUA rewrites the X-Flag of %s (same size) in place' % ident

    def replace(self):
        """A new file renamed over the mailbox: a copy with one message
        expunged, or one flag changed, or as it was."""
        entries, what = list(self.path), 'unchanged'
        r = self.rng.random()
        if entries and r < 0.4:
            k = self.rng.randrange(len(entries))
            what = 'without %s' % entries[k][0]
            self.removed.add(entries[k][0])
            entries = entries[:k] + entries[k + 1:]
        elif entries and r < 0.8:
            entries, ident = self.flag(entries)
            if ident is not None:
                what = 'with the X-Flag of %s changed' % ident
        fd = self.lock()
        try:
            tmp = self.mbox + '.new'
            ms.write_file(tmp, self.data(entries))
            os.rename(tmp, self.mbox)
        finally:
            # the old file's lock goes with it; the dotlock is the name's
            os.unlink(self.mbox + '.lock')
            os.close(fd)
        if self.view is None:
            self.view = self.path
        self.path = entries
        return 'a new file %s is renamed over the mailbox' % what

    def truncate(self):
        if not self.path:
            return self.append()
        if self.rng.random() < 0.5 or len(self.path) == 1:
            # inside a message: its From_ line and a little of the rest
            k = self.rng.randrange(len(self.path))
            ident, data = self.path[k]
            cut = self.rng.randrange(data.index(b'\n') + 2, len(data))
            entries = self.path[:k] + [(ident, data[:cut])]
            what = 'inside %s' % ident
        else:
            k = self.rng.randrange(1, len(self.path))
            entries = self.path[:k]
            what = 'before %s' % self.path[k][0]
        for ident, _ in self.path[len(entries):]:
            self.removed.add(ident)
        self.rewrite_in_place(entries)
        return 'the file is truncated %s' % what

    MUTATORS = ('append', 'expunge', 'rewrite', 'replace', 'truncate')
    WEIGHTS = (3, 2, 2, 1.5, 1.5)

    def mutate(self, kind=None):
        kind = kind or self.rng.choices(self.MUTATORS, self.WEIGHTS)[0]
        return kind, getattr(self, kind)()


# -------------------------------------------------------------- a session

class Run:
    """One session against a World, checking the invariants as it goes."""

    def __init__(self, world, passwd, args=()):
        self.w = world
        self.s = Session(['-f', world.mbox, '-p', passwd] + list(args))
        self.log = []
        self.violations = []
        self.deleted = set()        # numbers DELE'd since the last RSET
        self.uids = {}
        self.ended = False          # the server ended the session
        self.sys_temp = False
        self.listed = []            # ids by message number at login
        self.quit = None

    def say(self, text):
        self.log.append(text)

    def bad(self, inv, text):
        self.violations.append((inv, text))
        self.say('  VIOLATION (%s) %s' % (inv, text))

    def answer(self, cmd):
        a = self.s.cmd(cmd)
        self.say('C: %s\nS: %s' % (cmd, a))
        if a is None:
            self.ended = True
        elif a.startswith(b'-ERR [SYS/TEMP]'):
            self.sys_temp = True
            if not self.s.closed(5):
                self.bad('d', '-ERR [SYS/TEMP] to %s, yet the session goes '
                         'on' % cmd)
            self.ended = True
        return a

    def multi(self):
        """A multi-line answer's lines, unstuffed; None when the server
        hung up before the final dot."""
        lines = []
        while True:
            line = self.s.line()
            if line is None:
                self.ended = True
                return None
            if line == b'.':
                return lines
            lines.append(line[1:] if line.startswith(b'.') else line)

    def login(self):
        self.s.cmd('USER ' + USER)
        a = self.s.cmd('PASS ' + PASSWORD)
        self.say('login: %s' % a)
        self.listed = [i for i, _ in self.w.path]
        return a

    def versions(self, ident):
        """The forms message ident has now, as served, in the mailbox and
        in the file the session has open."""
        out = []
        for entries in (self.w.path, self.w.session_view()):
            for i, data in entries:
                if i == ident:
                    out.append(served_lines(data))
        return out

    def retr(self, n, top=None):
        cmd = 'RETR %d' % n if top is None else 'TOP %d %d' % (n, top)
        a = self.answer(cmd)
        if a is None or self.ended:
            return
        ident = self.listed[n - 1]
        if not a.startswith(b'+OK'):
            if n not in self.deleted:
                self.bad('b', '%s of %s, not deleted: %r' % (cmd, ident, a))
            return
        if n in self.deleted:
            self.bad('b', '%s of a message the session deleted: %r'
                     % (cmd, a))
        lines = self.multi()
        if lines is None:
            self.say('S: (hung up before the final dot)')
            return
        want = self.versions(ident)
        if top is not None:
            want = [top_lines(v, top) for v in want]
        if lines not in want:
            self.bad('b', '%s served %d lines that are not %s as it is '
                     'now%s: %r' % (cmd, len(lines), ident,
                                    '' if want else ' (it is gone)',
                                    lines[:4]))

    def uidl(self, n=None):
        a = self.answer('UIDL' if n is None else 'UIDL %d' % n)
        if a is None or self.ended or not a.startswith(b'+OK'):
            return
        if n is None:
            lines = self.multi()
            if lines is None:
                return
        else:
            lines = [a[4:]]
        for line in lines:
            m = re.match(rb'^(\d+) ([\x21-\x7e]{1,70})$', line)
            if m is None:
                self.bad('c', 'UIDL answered %r: not a message number and '
                         'a UID' % line)
                continue
            num, uid = int(m.group(1)), m.group(2)
            if num in self.uids and self.uids[num] != uid:
                self.bad('c', 'message %d was UID %s, now %s' % (
                    num, self.uids[num].decode(), uid.decode()))
            self.uids.setdefault(num, uid)

    def command(self, rng):
        count = len(self.listed)
        n = rng.randrange(1, count + 1)
        r = rng.random()
        if r < 0.25:
            self.retr(n)
        elif r < 0.35:
            self.retr(n, rng.randrange(0, 4))
        elif r < 0.50:
            self.uidl(n if rng.random() < 0.4 else None)
        elif r < 0.70:
            a = self.answer('DELE %d' % n)
            if a is not None and a.startswith(b'+OK'):
                self.deleted.add(n)
        elif r < 0.76:
            a = self.answer('RSET')
            if a is not None and a.startswith(b'+OK'):
                self.deleted.clear()
        elif r < 0.84:
            self.answer('STAT')
        elif r < 0.92:
            a = self.answer('LIST')
            if a is not None and a.startswith(b'+OK') and not self.ended:
                self.multi()
        else:
            self.answer('NOOP')

    def finish(self):
        """QUIT (unless the server ended the session) and the final
        checks."""
        if not self.ended:
            self.quit = self.answer('QUIT')
            self.say('QUIT answered %r' % self.quit)
        self.s.finish()
        quit_ok = self.quit is not None and self.quit.startswith(b'+OK')
        deleted = {self.listed[n - 1] for n in self.deleted} if quit_ok \
            else set()
        if self.sys_temp and quit_ok:
            self.bad('d', 'QUIT +OK after -ERR [SYS/TEMP]')
        got = ms.read_file(self.w.mbox)
        head, pieces = split_messages(got)
        if head:
            self.bad('a', '%d bytes before the first message' % len(head))
        left = list(pieces)
        for ident, data in self.w.path:
            n = left.count(data)
            for _ in range(n):
                left.remove(data)
            if ident in deleted:
                if n:
                    self.bad('e', 'QUIT answered +OK, yet %s, which the '
                             'session deleted, is still there' % ident)
            elif n == 0:
                self.bad('a', '%s, not deleted by the session, is %s' % (
                    ident, 'gone' if not any(
                        ident.encode() in SEQ.findall(q) for q in left)
                    else 'there, but not as it was'))
            elif n > 1:
                self.bad('a', '%s is there %d times' % (ident, n))
        for q in left:
            ids = [i.decode() for i in SEQ.findall(q)]
            self.bad('a', 'a message that should not be there: %s (%d '
                     'bytes)' % (', '.join(
                         '%s, %s' % (i, 'removed by the mutator' if i in
                                     self.w.removed else 'deleted by the '
                                     'session' if i in deleted else
                                     'changed' if i in dict(self.w.path)
                                     else 'unknown') for i in ids) or
                         'no X-Seq', len(q)))


def run_seed(seed, d, passwd):
    rng = random.Random(seed)
    mbox = os.path.join(d, 'mbox')
    for f in os.listdir(d):
        if f.startswith('mbox'):
            os.unlink(os.path.join(d, f))
    w = World(mbox, random_mailbox(rng), rng)
    r = Run(w, passwd)
    kinds = []
    try:
        a = r.login()
        if a is None or not a.startswith(b'+OK'):
            r.bad('setup', 'login answered %r' % a)
            r.s.finish()
            return r, kinds
        steps = rng.randrange(3, 10)
        mutations = rng.randrange(1, 4)
        at = sorted(rng.sample(range(steps + 1), mutations))
        for i in range(steps + 1):
            while at and at[0] == i:
                at.pop(0)
                kind, what = w.mutate()
                kinds.append(kind)
                r.say('-- %s' % what)
            if i < steps and not r.ended:
                r.command(rng)
        r.finish()
    except (TimeoutError, RuntimeError, OSError) as e:
        r.bad('setup', 'the run failed: %s' % e)
        try:
            r.s.finish()
        except OSError:
            pass
    return r, kinds


def run_seeds(seeds):
    d = ms.workdir('concurrency')
    passwd = os.path.join(d, 'passwd')
    out = []
    try:
        for seed in seeds:
            r, kinds = run_seed(seed, d, passwd)
            out.append((seed, sorted(set(i for i, _ in r.violations)),
                        [v for v in r.violations][:3],
                        '\n'.join(r.log) if r.violations else '',
                        kinds, r.quit is not None and
                        r.quit.startswith(b'+OK'), r.sys_temp))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return out


# ------------------------------------------------------------ random seeds

t0 = time.time()
jobs = min(4, os.cpu_count() or 1)
chunks = [list(range(k, SEEDS, jobs * 8)) for k in range(jobs * 8)]
with multiprocessing.get_context('fork').Pool(jobs) as pool:
    results = [x for part in pool.map(run_seeds, chunks) for x in part]
results.sort()
elapsed = time.time() - t0
by_inv = {}
kinds = {}
for seed, invs, viol, log, ks, quit_ok, sys_temp in results:
    for inv in invs:
        by_inv.setdefault(inv, []).append(seed)
    for k in ks:
        kinds[k] = kinds.get(k, 0) + 1
tap.ok(len(results) == SEEDS and all(kinds.get(k, 0) >= SEEDS // 10
                                     for k in World.MUTATORS),
       '%d seeds ran, %d mutations (%s)' % (
           len(results), sum(kinds.values()),
           ', '.join('%s %d' % kv for kv in sorted(kinds.items()))))
tap.diag('%d seeds in %.1f s on %d jobs; QUIT +OK in %d, -ERR [SYS/TEMP] '
         'in %d' % (len(results), elapsed, jobs,
                    sum(1 for x in results if x[5]),
                    sum(1 for x in results if x[6])))
NAMES = {
    'a': 'every message the session did not delete is still there, byte '
         'for byte, once, and nothing else',
    'b': 'RETR and TOP serve exactly the listed message as it is when sent',
    'c': 'UIDL never changes a message\'s UID within a session',
    'd': 'after -ERR [SYS/TEMP] the session ends having deleted nothing',
    'e': 'QUIT +OK means every message the session deleted is gone',
}
tap.ok(not by_inv.get('setup'), 'every seed set up and ran',
       by_inv.get('setup', [])[:5])
for inv in sorted(NAMES):
    bad = by_inv.get(inv, [])
    first = [x for x in results if x[0] in bad[:2]]
    tap.ok(not bad, '(%s) %s: %d of %d seeds violate it' % (
        inv, NAMES[inv], len(bad), len(results)),
        'seeds %s%s\n%s' % (bad[:20], ' ...' if len(bad) > 20 else '',
                            '\n\n'.join('seed %d:\n%s' % (x[0], x[3])
                                        for x in first)))

# ---------------------------------------------------- fixed reproductions

d = ms.workdir('repro')
passwd = os.path.join(d, 'passwd')
mbox = os.path.join(d, 'mbox')


def fixed(entries, script, args=()):
    """A scripted Run: script items are commands or World methods."""
    for f in os.listdir(d):
        if f.startswith('mbox'):
            os.unlink(os.path.join(d, f))
    w = World(mbox, entries, random.Random(0))
    r = Run(w, passwd, args)
    r.login()
    for step in script:
        if r.ended:
            break
        if callable(step):
            r.say('-- %s' % step(w))
        elif step.startswith(('RETR', 'TOP')):
            n = step.split()
            r.retr(int(n[1]), int(n[2]) if len(n) > 2 else None)
        elif step.startswith('UIDL'):
            r.uidl(int(step.split()[1]) if ' ' in step else None)
        else:
            a = r.answer(step)
            if step.startswith('DELE') and a is not None and \
                    a.startswith(b'+OK'):
                r.deleted.add(int(step.split()[1]))
    r.finish()
    return r


def report(r):
    return '\n'.join(r.log)


# 1: A, B, C of equal length; RETR 2, DELE 2; an MUA expunges A and the MTA
# appends D; QUIT.
rng = random.Random(1)
equal = equal_messages(rng, ['m-1', 'm-2', 'm-3', 'd-1'])
late = equal.pop()


def expunge_first(w):
    w.removed.add(w.path[0][0])
    w.rewrite_in_place(w.path[1:])
    return 'MUA expunges %s in place' % equal[0][0]


r = fixed(equal, ['RETR 2', 'DELE 2', expunge_first,
                  lambda w: w.append(*late)])
tap.ok(not r.violations, 'reproduction 1: A, B, C of equal length, RETR 2 '
       'and DELE 2 while an MUA expunges A and the MTA appends D: C is kept '
       '(QUIT answered %r)' % r.quit, report(r))

# 2: RETR after an expunge; UIDL of X-UIDL messages after an expunge.
rng = random.Random(2)
two = [('m-%d' % k, make_message(rng, 'm-%d' % k)) for k in (1, 2, 3)]
r = fixed(two, [expunge_first, 'RETR 1', 'RETR 2'])
tap.ok(not r.violations, 'reproduction 2: RETR after an MUA expunged a '
       'message never serves bytes spliced from two messages', report(r))
rng = random.Random(3)
xuidl = [('m-%d' % k, make_message(rng, 'm-%d' % k, uidl='uidl-%d' % k))
         for k in (1, 2, 3)] + [('m-4', big_message(rng, 'm-4'))]
r = fixed(xuidl, ['UIDL', 'RETR 4', expunge_first, 'UIDL', 'UIDL 3'])
tap.ok(not r.violations, 'reproduction 2: UIDL of X-UIDL messages after an '
       'MUA expunged one (the read buffer elsewhere, on a large message): '
       'no UID changes within the session', report(r))

# 3: MBOX.pop3d root's, mode 0600, holding an interrupted update; the
# session runs as nobody (-u) and cannot open it.
if os.geteuid() != 0:
    tap.skip('reproduction 3', 'the session must run as another user')
else:
    K = 1024
    sc = ms.Scenario('interrupted', [ms.message(i, n) for i, n in enumerate(
        [3 * K, 300 * K, 2 * K, 200 * K], 1)], {1, 3})
    points, _, _ = ms.crash_points(sc, d)
    writes = [p for p in points if p[0] in ('pwrite64', 'pwritev')]
    # killed at a write from the middle on, the first that leaves the
    # mailbox half moved (where the journal's own writes fall depends on
    # its design)
    for name, when in writes[len(writes) // 2:]:
        ms.clean_mailbox(mbox, sc.box.data())
        ms.run_update(sc, mbox, passwd,
                      wrap=ms.strace_wrap(name, when, 'signal=KILL'))
        if ms.read_file(mbox) not in (sc.original(), sc.expected()):
            break
    nobody = pwd.getpwnam('nobody')
    os.chown(mbox, nobody.pw_uid, nobody.pw_gid)
    half = ms.read_file(mbox)
    journal = ms.read_file(mbox + '.pop3d')
    st = os.stat(mbox + '.pop3d')
    setup = st.st_uid == 0 and st.st_mode & 0o777 == 0o600 and \
        len(journal) > 0 and half not in (sc.original(), sc.expected())
    s = Session(['-f', mbox, '-p', passwd, '-u', 'nobody'], )
    s.cmd('USER ' + USER)
    a = s.cmd('PASS ' + PASSWORD)
    served = []
    if a is not None and a.startswith(b'+OK'):
        for n in range(1, int(a.split()[1]) + 1):
            s.cmd('RETR %d' % n)
            lines = []
            while True:
                line = s.line()
                if line is None or line == b'.':
                    break
                lines.append(line[1:] if line.startswith(b'.') else line)
            served.append(lines)
        s.cmd('DELE 1')
    q = s.cmd('QUIT')
    _, err = s.finish()
    want = [served_lines(m) for m in sc.box.msgs]
    glued = [i + 1 for i, lines in enumerate(served) if lines not in want]
    after = ms.read_file(mbox)
    tap.ok(setup and ((a is not None and a.startswith(b'-ERR [SYS/TEMP]'))
                      or (not glued and after in (sc.original(),
                                                  sc.expected()))),
           'reproduction 3: a journal that exists but cannot be opened '
           '(root\'s, 0600, session as nobody) holding an interrupted '
           'update: -ERR [SYS/TEMP], or the update is finished first; never '
           'a glued message (PASS answered %r)' % a,
           'setup ok: %s; messages served that are no message of the '
           'mailbox: %s; QUIT %r; mailbox %s by the session\nlog: %s'
           % (setup, glued, q, 'changed' if after != half else 'unchanged',
              err[-800:]))

# 6: QUIT's +OK, then at once a new session: never [IN-USE].
box = ms.Mailbox([ms.message(i, 2000) for i in (1, 2, 3)])
ms.clean_mailbox(mbox, box.data())
tries, in_use, other = 300, 0, []
nxt = Session(['-f', mbox, '-p', passwd], )
nxt.cmd('USER ' + USER)
cur = None
for i in range(tries):
    a = nxt.cmd('PASS ' + PASSWORD)
    if a is not None and a.startswith(b'-ERR [IN-USE]'):
        in_use += 1
    elif a is None or not a.startswith(b'+OK'):
        other.append(a)
    if cur is not None:
        cur.finish()
    cur = nxt
    # the next client is connected and waits; this one quits
    nxt = Session(['-f', mbox, '-p', passwd], )
    nxt.cmd('USER ' + USER)
    if a is not None and a.startswith(b'+OK'):
        cur.cmd('QUIT')
cur.finish()
nxt.cmd('QUIT')
nxt.finish()
tap.ok(in_use == 0 and not other,
       'reproduction 6: a session started the moment QUIT answered +OK is '
       'never refused [IN-USE] (%d of %d were)' % (in_use, tries), other[:3])
tap.diag('reproduction 6: [IN-USE] in %d of %d immediate reconnections'
         % (in_use, tries))
shutil.rmtree(d, ignore_errors=True)
tap.done()
