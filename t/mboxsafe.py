"""
The data-safety tests' own pieces (t/3x-*.t): mailboxes whose every byte
is known, the sessions that delete from them, syscall fault injection
with strace and torn writes, and the crash scenarios.  Paths, TAP, the
session itself and what a test needs come from t/pop3lib.py.  Imported
by the tests; not a test itself.
"""
import os
import random
import re
import shutil
import subprocess

from pop3lib import (PASSWORD, TOP, USER, Session, is_multiline,  # noqa
                     need, project_flags, skip_or_fail, tmpdir)

# Every syscall by which the update can change a file or a directory.
WRITING_SYSCALLS = [
    'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'ftruncate',
    'truncate', 'fsync', 'fdatasync', 'sync_file_range', 'fallocate',
    'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat', 'link',
    'linkat', 'openat', 'open', 'creat', 'utimensat', 'mkdir', 'symlink',
]


def need_strace(tap):
    """strace, and the right to ptrace and inject faults (a container may
    forbid it): without them there is nothing to test."""
    need(tap, 'strace')
    p = subprocess.run(['strace', '-f', '-qq', '-o', '/dev/null', '-e',
                        'inject=getpid:error=ENOSYS:when=1', 'true'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        tap.diag(p.stdout.decode(errors='replace'))
        skip_or_fail(tap, 'strace cannot trace and inject faults here')


def workdir(name):
    """A directory others can enter, with a password file for USER."""
    d = tmpdir(name, 0o755)
    with open(os.path.join(d, 'passwd'), 'w') as f:
        f.write('%s:{PLAIN}%s\n' % (USER, PASSWORD))
    return d


def files_in(d):
    """The files of a workdir: (mailbox, password file, pop3d's log)."""
    return tuple(os.path.join(d, f) for f in ('mbox', 'passwd', 'log'))


def workfiles(name):
    """A workdir and its files: (directory, mailbox, password file,
    pop3d's log)."""
    d = workdir(name)
    return (d,) + files_in(d)


# ---------------------------------------------------------------- mailboxes

def message(seq, size, crlf=False, tag='m'):
    """
    One message as stored, From_ line to its trailing empty line, exactly
    size bytes.  The body is pseudo-random text of varied line lengths (so
    a block moved to the wrong place shows), with lines that need care: a
    quoted >From, a leading dot, an empty line.
    """
    rng = random.Random('%s-%d-%d-%d' % (tag, seq, size, crlf))
    eol = '\r\n' if crlf else '\n'
    head = ('From %s%d@example.org Mon Jan  1 00:%02d:%02d 2024%s'
            'Message-ID: <%s.%d@test>%s'
            'X-Seq: %s-%d%s'
            'Subject: message %d%s%s'
            % (tag, seq, seq // 60 % 60, seq % 60, eol, tag, seq, eol,
               tag, seq, eol, seq, eol, eol))
    special = ['>From the body, quoted', '.leading dot', '', '..two dots',
               'From here, unquoted, inside a paragraph']
    body = []
    left = size - len(head) - len(eol)      # the trailing empty line
    i = 0
    while left > 200:
        if i % 17 == 5:
            text = special[(i // 17) % len(special)]
        else:
            k = rng.randrange(1, 120)
            text = '%s-%d-%d %s' % (tag, seq, i, ''.join(
                rng.choice('abcdefghijklmnopqrstuvwxyz0123456789 <>@.,;:')
                for _ in range(k)))
        body.append(text + eol)
        left -= len(text) + len(eol)
        i += 1
    last = 'end of %s-%d ' % (tag, seq)
    pad = left - len(eol)
    if pad < len(last):
        raise ValueError('message %d: %d bytes is too small' % (seq, size))
    body.append((last + 'x' * (pad - len(last)))[:pad] + eol)
    data = (head + ''.join(body) + eol).encode()
    assert len(data) == size, (len(data), size)
    return data


class Mailbox:
    """A list of messages; their concatenation is the file."""

    def __init__(self, msgs):
        self.msgs = list(msgs)

    def data(self):
        return b''.join(self.msgs)

    def without(self, numbers):
        """The file after deleting these message numbers (1-based)."""
        return b''.join(m for i, m in enumerate(self.msgs, 1)
                        if i not in numbers)


def write_file(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def append_file(path, data):
    with open(path, 'ab') as f:
        f.write(data)


def separator(data):
    """
    What a careful delivery agent writes before a message so that it
    starts after an empty line: nothing at the start of the file or after
    an empty line, else the missing line ends.
    """
    if not data or data.endswith((b'\n\n', b'\n\r\n')):
        return b''
    return b'\n' if data.endswith(b'\n') else b'\n\n'


def delivered(data, msg):
    return data + separator(data) + msg if msg else data


def deliver(path, msg):
    """Append msg as such an agent does (without its locks)."""
    with open(path, 'rb') as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 3))
        end = f.read()
    append_file(path, separator(end) + msg)


def clean_mailbox(path, data):
    """A fresh mailbox: no journal, no lock left from an earlier run."""
    for suffix in ('.pop3d', '.lock'):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass
    write_file(path, data)


def describe_difference(got, want_list):
    """A short account of how got differs from the nearest wanted file."""
    out = []
    for name, want in want_list:
        if got == want:
            return 'equal to %s' % name
        k = 0
        lim = min(len(got), len(want))
        while k < lim and got[k] == want[k]:
            k += 1
        out.append('vs %s: sizes %d/%d, first difference at byte %d: '
                   'got %r want %r' % (name, len(got), len(want), k,
                                       got[k:k + 40], want[k:k + 40]))
    return '\n'.join(out)


# ------------------------------------------------------------ sessions

def session(mbox, passwd, **kw):
    """pop3d -f mbox -p passwd on a pair of pipes (pop3lib.Session)."""
    return Session(['-f', mbox, '-p', passwd], **kw)


def quick_session(mbox, passwd, commands, log=None, pre=()):
    """Log in, run commands, QUIT; returns (PASS answer, answers, QUIT
    answer), a multi-line answer as (status, lines)."""
    s = session(mbox, passwd, log=log, pre=pre)
    answers = []
    quit_answer = None
    try:
        ok = s.login()
        if ok is not None and ok.startswith(b'+OK'):
            for c in commands:
                a = s.cmd(c)
                if a is not None and a.startswith(b'+OK') and \
                        is_multiline(c):
                    a = (a, s.multi())
                answers.append(a)
        quit_answer = s.cmd('QUIT')
    finally:
        s.finish()
    return ok, answers, quit_answer


def stat_of(mbox, passwd, log=None):
    """A read-only session: (PASS answer, STAT answer, QUIT answer)."""
    ok, answers, q = quick_session(mbox, passwd, ['STAT'], log=log)
    return ok, (answers[0] if answers else None), q


# ------------------------------------------------------- fault injection

def strace_wrap(name=None, when=None, action='signal=KILL', trace=None):
    """strace arguments: inject action on the when-th call of name."""
    if name is None:
        return ['strace', '-f', '-qq', '-o', trace or '/dev/null',
                '-e', 'trace=' + ','.join(['read'] + WRITING_SYSCALLS)]
    return ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=' + name,
            '-e', 'inject=%s:%s:when=%s' % (name, action, when)]


CALL = re.compile(r'^(?:\[pid\s+)?\d*\]?\s*([a-z0-9_]+)\((.*)$')


def update_points(trace_path, command='QUIT'):
    """
    From a trace of a whole session: the writing syscalls after the read
    that brought command, as (name, n), n counting that syscall's calls
    from the start of the process as strace's when= does.
    """
    counts = {}
    points = []
    after_quit = False
    with open(trace_path, errors='replace') as f:
        for line in f:
            m = CALL.match(line.strip())
            if not m:
                continue
            name, rest = m.group(1), m.group(2)
            if name == 'read':
                if rest.startswith('0,') and command in rest:
                    after_quit = True
                continue
            counts[name] = counts.get(name, 0) + 1
            if after_quit:
                points.append((name, counts[name]))
    return points


TORN_LIB = None


def build_torn_lib(tap, d):
    """Compile t/torn-write.c into an LD_PRELOAD library in d."""
    global TORN_LIB
    cc = os.environ.get('CC', 'cc')
    out = os.path.join(d, 'torn-write.so')
    p = subprocess.run([cc, '-shared', '-fPIC', '-O2'] +
                       project_flags() +
                       ['-o', out, os.path.join(TOP, 't', 'torn-write.c'),
                        '-ldl'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not tap.ok(p.returncode == 0, 'compile t/torn-write.c with ' + cc,
                  p.stdout.decode(errors='replace')):
        return None
    TORN_LIB = out
    return out


# ------------------------------------------------------ crash scenarios

class Scenario:
    """
    A mailbox, the messages a session deletes, mail delivered during the
    session (between the scan and QUIT) and mail delivered after a crash
    (before the next session).  The only acceptable files afterwards are
    the original and the planned result, with any mail delivered.  binary,
    when given, is the pop3d build that runs the update (the recovery is
    always the plain one).
    """

    def __init__(self, name, msgs, delete, during=b'', after=b'',
                 binary=None):
        self.name = name
        self.box = Mailbox(msgs)
        self.delete = sorted(delete)
        self.during = during
        self.after = after
        self.binary = binary

    def original(self):
        return delivered(self.box.data(), self.during)

    def expected(self):
        return delivered(self.box.without(set(self.delete)), self.during)

    def outcomes(self):
        return [('original', delivered(self.original(), self.after)),
                ('expected result', delivered(self.expected(), self.after))]


def run_update(sc, mbox, passwd, wrap=(), log=None, env=None,
               before_quit=None):
    """
    One session that deletes sc.delete, with sc.during delivered before
    QUIT (then before_quit() is called, if given).  Returns the QUIT
    answer, or None when pop3d died first.
    """
    kw = {'binary': sc.binary} if sc.binary else {}
    s = session(mbox, passwd, wrap=wrap, log=log, env=env, **kw)
    try:
        ok = s.login()
        if ok is None or not ok.startswith(b'+OK'):
            raise RuntimeError('login: %r' % ok)
        for n in sc.delete:
            a = s.cmd('DELE %d' % n)
            if a is None or not a.startswith(b'+OK'):
                raise RuntimeError('DELE %d: %r' % (n, a))
        if sc.during:
            deliver(mbox, sc.during)
        if before_quit is not None:
            before_quit()
        return s.cmd('QUIT')
    finally:
        s.finish()


def check_recovered(sc, mbox, passwd, log):
    """A fresh session opens the mailbox; the file must be an outcome."""
    ok, st, q = stat_of(mbox, passwd, log=log)
    problems = []
    if ok is None or not ok.startswith(b'+OK'):
        problems.append('recovery session: PASS answered %r' % ok)
    if q is None or not q.startswith(b'+OK'):
        problems.append('recovery session: QUIT answered %r' % q)
    got = read_file(mbox)
    outcomes = sc.outcomes()
    which = [name for name, want in outcomes if got == want]
    if not which:
        problems.append('mailbox is neither the original nor the expected '
                        'result:\n' + describe_difference(got, outcomes))
    for suffix in ('.pop3d', '.lock'):
        if os.path.exists(mbox + suffix):
            problems.append('%s left after the recovery session' % suffix)
    return (which[0] if which else None), problems


def tail_of(path, nbytes=3000):
    try:
        with open(path, 'rb') as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - nbytes))
            return f.read().decode(errors='replace')
    except OSError:
        return ''


def crash_points(sc, d=None):
    """
    Trace a clean run in d (by default a workdir of its own, removed
    after); its writing syscalls after QUIT are the points.  Returns
    (points, the QUIT answer, whether the mailbox became the result).
    """
    if d is None:
        d = workdir('points')
        try:
            return crash_points(sc, d)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    mbox = os.path.join(d, 'mbox')
    trace = os.path.join(d, 'trace')
    clean_mailbox(mbox, sc.box.data())
    answer = run_update(sc, mbox, os.path.join(d, 'passwd'),
                        wrap=strace_wrap(trace=trace))
    clean = read_file(mbox) == sc.expected()
    return update_points(trace), answer, clean


def one_point(sc, d, name, when, action):
    """
    Run the update with action injected at the when-th call of name, then
    deliver sc.after and open the mailbox again.  Returns a list of
    problems (empty: this point passed) and the outcome's name.
    """
    mbox, passwd, log = files_in(d)
    if os.path.exists(log):
        os.unlink(log)
    clean_mailbox(mbox, sc.box.data())
    problems = []
    wrap, env = strace_wrap(name, when, action), None
    if action.startswith('torn='):
        # the when-th pwrite/pwritev writes only part, then SIGKILL
        wrap = ()
        env = dict(os.environ, LD_PRELOAD=TORN_LIB, TORN_AT=str(when),
                   TORN_KEEP=action[5:])
    try:
        answer = run_update(sc, mbox, passwd, log=log, wrap=wrap, env=env)
    except (RuntimeError, TimeoutError) as e:
        return ['update session: %s' % e], None
    right_after = read_file(mbox)
    if action.startswith('error='):
        errno_text = {'error=ENOSPC': 'No space left on device',
                      'error=EIO': 'Input/output error',
                      'error=EDQUOT': 'Disk quota exceeded'}[action]
        if answer is None:
            # only when the answer itself could not be written
            if name != 'write':
                problems.append('no answer to QUIT')
        elif answer.startswith(b'+OK'):
            if right_after != sc.expected():
                problems.append('+OK to QUIT but the deletions were not '
                                'all made:\n' + describe_difference(
                                    right_after, [('expected',
                                                   sc.expected())]))
        elif answer.startswith(b'-ERR [SYS/TEMP]'):
            if name != 'write' and errno_text not in tail_of(log):
                problems.append('-ERR but the log does not say why')
        else:
            problems.append('QUIT answered %r' % answer)
        if not when.endswith('+') and right_after not in (
                sc.original(), sc.expected()):
            problems.append('a single failed call left the mailbox '
                            'inconsistent:\n' + describe_difference(
                                right_after, sc.outcomes()[:2]))
    elif answer is not None and answer.startswith(b'+OK') and \
            right_after != sc.expected():
        problems.append('+OK to QUIT before the update was done')
    if sc.after:
        deliver(mbox, sc.after)
    which, more = check_recovered(sc, mbox, passwd, log)
    problems += more
    if action.startswith('error=') and answer is not None and \
            answer.startswith(b'-ERR') and right_after == sc.original() \
            and which != 'original':
        problems.append('-ERR with the mailbox untouched, yet the next '
                        'session made the deletions')
    if problems:
        problems.append('log:\n' + tail_of(log))
    return problems, which


def _worker(args):
    sc, points, action, index, torn_lib = args
    global TORN_LIB
    TORN_LIB = torn_lib
    d = workdir('crash%d' % index)
    results = []
    try:
        for name, when in points:
            problems, which = one_point(sc, d, name, str(when), action)
            results.append((name, when, problems, which))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return results


def run_points(sc, points, action, jobs=None):
    """All points, spread over the CPUs; results in the order given."""
    import multiprocessing
    jobs = jobs or min(4, os.cpu_count() or 1)
    chunks = [[] for _ in range(jobs)]
    for i, pt in enumerate(points):
        chunks[i % jobs].append(pt)
    with multiprocessing.Pool(jobs) as pool:
        parts = pool.map(_worker, [(sc, c, action, i, TORN_LIB)
                                   for i, c in enumerate(chunks)])
    out = []
    for i in range(len(points)):
        out.append(parts[i % jobs][i // jobs])
    return out


def crash_scenarios():
    """
    The mailboxes the crash tests use.  Sizes keep each scenario's update
    within a few dozen writing syscalls, so every one can be a crash point.
    """
    K = 1024

    def box(sizes, crlf=False, tag='m'):
        return [message(i, n, crlf, tag) for i, n in enumerate(sizes, 1)]

    def mail(sizes, tag, crlf=False):
        return b''.join(box(sizes, crlf, tag))

    def open_end(msgs):
        """The last message without the empty line after it."""
        return msgs[:-1] + [msgs[-1][:-1]]

    return [
        # a deleted message smaller than a block before more than a block
        # of kept mail: every block overlaps its own source and goes
        # through the journal with its data
        Scenario('journaled blocks: delete first, middle, last',
                 box([3 * K, 700 * K, 2 * K, 500 * K, 5 * K, 1 * K]),
                 {1, 3, 6}),
        # gaps of at least a block: blocks are redone from their source
        Scenario('plain blocks: delete first, middle, last',
                 box([150 * K, 100 * K, 140 * K, 600 * K, 130 * K]),
                 {1, 3, 5}),
        # the gap equals the last block: its source starts where the new
        # end of the file is marked
        Scenario('gap equal to the last block',
                 box([2000, 2000]), {1}),
        Scenario('gap equal to the last block of a long move',
                 box([2000, 2000, 500, 133572]), {1, 3}),
        Scenario('CRLF mailbox: delete first, middle, last',
                 box([3 * K, 200 * K, 1 * K, 150 * K, 2 * K], crlf=True),
                 {1, 3, 5}),
        Scenario('mail delivered during the session, last deleted',
                 box([4 * K, 200 * K, 3 * K]), {1, 3},
                 during=mail([10 * K, 140 * K], 'new')),
        Scenario('mail delivered during the session, last kept',
                 box([4 * K, 200 * K, 3 * K]), {1},
                 during=mail([20 * K], 'new')),
        Scenario('mail delivered after the crash (journaled blocks)',
                 box([3 * K, 300 * K, 2 * K, 200 * K, 1 * K]), {1, 3, 5},
                 after=mail([150 * K], 'late')),
        Scenario('mail delivered after the crash (plain blocks)',
                 box([150 * K, 100 * K, 140 * K, 200 * K]), {1, 3},
                 after=mail([5 * K, 3 * K], 'late')),
        # the file does not end in an empty line: mail is delivered with
        # one in front, which must not stay behind a kept message's own
        Scenario('no empty line at the end, last deleted, mail delivered '
                 'during the session and after the crash',
                 open_end(box([3 * K, 200 * K, 2 * K])), {1, 3},
                 during=mail([6 * K], 'new'), after=mail([4 * K], 'late')),
        Scenario('no empty line at the end, last kept, mail delivered '
                 'during the session and after the crash',
                 open_end(box([3 * K, 200 * K])), {1},
                 during=mail([6 * K], 'new'), after=mail([4 * K], 'late')),
        Scenario('no empty line at the end, delete everything, mail '
                 'delivered during the session and after the crash',
                 open_end(box([10 * K, 20 * K])), {1, 2},
                 during=mail([6 * K], 'new'), after=mail([4 * K], 'late')),
        Scenario('delete everything',
                 box([10 * K, 20 * K, 30 * K]), {1, 2, 3}),
        Scenario('delete everything, mail delivered during the session',
                 box([10 * K, 20 * K, 30 * K]), {1, 2, 3},
                 during=mail([140 * K], 'new')),
        Scenario('delete everything, mail delivered during the session '
                 'and after the crash',
                 box([10 * K, 20 * K, 30 * K]), {1, 2, 3},
                 during=mail([140 * K], 'new'), after=mail([7 * K], 'late')),
    ]
