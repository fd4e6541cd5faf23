#!/usr/bin/env python3
"""The persistent index.  A session leaves MBOX.pop3d-index; the next one
trusts it whole when the mailbox is as it was (inode, size, ctime and
mtime to the nanosecond), scans only the new mail when it only grew and
every fingerprint still holds, and otherwise scans it all.  Between two
sessions the mailbox, or the index, is changed in each way the issue
lists; the second session's every answer (STAT, LIST, UIDL, RETR and TOP
of every message) must be byte for byte the answer of a session on a
fresh copy of the changed mailbox without any index, and its login line
says how much the index was used.  Then: -i DIR, an index written as
the session's user with mode 0600, and pop3d killed at each write of the
index, never leaving a half index that is trusted."""
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxsafe as ms  # noqa: E402
import pop3lib  # noqa: E402
from pop3lib import POP3D, Tap  # noqa: E402

tap = Tap()
pop3lib.need_pop3d(tap)
d = pop3lib.tmpdir('index')
passwd = os.path.join(d, 'passwd')
pop3lib.write(passwd, 'jack:{PLAIN}password\n')


def message(i, crlf=False, twin=False, xuidl=False, size=None):
    eol = '\r\n' if crlf else '\n'
    head = ['From sender%d@example.org Mon Jan  1 00:00:%02d 2024' % (
        0 if twin else i, 0 if twin else i % 60),
            'From: sender@example.org',
            'Subject: %s' % ('twin' if twin else 'message %d' % i)]
    if not twin:
        head.append('Message-ID: <%d@index.test>' % i)
    if xuidl:
        head.append('X-UIDL: kept-%d' % i)
    body = ['body of %d' % i, '.a dotted line', '>From quoted', '']
    if size:
        body[0] += ' ' + 'x' * size
    return (eol.join(head) + eol + eol + eol.join(body) + eol).encode()


def mailbox():
    msgs = [message(i, crlf=i % 5 == 0, xuidl=i % 7 == 0)
            for i in range(1, 21)]
    msgs.insert(9, message(99, twin=True))
    msgs.insert(12, message(98, twin=True))
    return b''.join(msgs)


COMMANDS = None


def script(n):
    lines = ['USER jack', 'PASS password', 'STAT', 'LIST', 'UIDL']
    for k in range(1, n + 1):
        lines += ['RETR %d' % k, 'TOP %d 1' % k, 'UIDL %d' % k]
    return ('\r\n'.join(lines + ['QUIT']) + '\r\n').encode()


def serve(box, args=(), commands=None):
    """One session; (answers without the greeting, log)."""
    n = 0
    if commands is None:
        with open(box, 'rb') as f:
            n = len(re.findall(rb'(?:^|\n\r?\n)From ', f.read()))
        commands = script(n + 5)
    r = subprocess.run([POP3D, '-e', '-f', box, '-p', passwd] + list(args),
                       input=commands, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    out = r.stdout.split(b'\n', 1)[1] if b'\n' in r.stdout else b''
    return out, r.stderr.decode(errors='replace')


def index_state(log):
    m = re.search(r' login user=\S+ .* index=(\w+)', log)
    return m.group(1) if m else None


def fresh_answers(box):
    """The answers for a copy of box with no index anywhere near it."""
    other = os.path.join(d, 'fresh')
    shutil.rmtree(other, ignore_errors=True)
    os.mkdir(other)
    copy = os.path.join(other, 'mbox')
    shutil.copyfile(box, copy)
    out, log = serve(copy)
    return out, index_state(log)


def case(name, mutate, want_state, check_log=None, prime=True):
    box_dir = os.path.join(d, 'box')
    shutil.rmtree(box_dir, ignore_errors=True)
    os.mkdir(box_dir)
    box = os.path.join(box_dir, 'mbox')
    ms.write_file(box, mailbox())
    if prime:
        _, log = serve(box)
        if index_state(log) != 'miss' or \
                not os.path.exists(box + '.pop3d-index'):
            tap.ok(False, '%s: the first session left an index' % name, log)
            return
    mutate(box)
    got, log = serve(box)
    want, fresh_state = fresh_answers(box)
    state = index_state(log)
    tap.ok(got == want and fresh_state == 'miss' and state == want_state and
           (check_log is None or check_log in log),
           '%s: the same answers as a fresh copy without an index (%d '
           'bytes), index=%s' % (name, len(got), want_state),
           'state %s (fresh %s); same answers: %s\n%s' % (
               state, fresh_state, got == want, log[-1500:]))
    again, log = serve(box)
    tap.ok(again == want and index_state(log) in ('hit', 'none'),
           '%s: ... and the session after it finds the index whole' % name,
           log[-800:])


def append(k):
    def mutate(box):
        with open(box, 'ab') as f:
            for i in range(k):
                f.write(message(1000 + i))
    return mutate


def rewrite(box, data):
    """As an MUA does: the same inode, written in place, cut to size."""
    with open(box, 'r+b') as f:
        f.write(data)
        f.truncate(len(data))


def expunge_third(box):
    data = ms.read_file(box)
    starts = [m.start() for m in re.finditer(rb'(?:^|(?<=\n\n))From ', data)]
    rewrite(box, data[:starts[2]] + data[starts[3]:])


def same_size(box):
    data = bytearray(ms.read_file(box))
    at = data.index(b'body of 15')
    data[at:at + 10] = b'BODY OF 15'
    rewrite(box, bytes(data))


def same_size_old_mtime(box):
    st = os.stat(box)
    same_size(box)
    os.utime(box, ns=(st.st_atime_ns, st.st_mtime_ns))


def truncate_last(box):
    data = ms.read_file(box)
    rewrite(box, data[:data.rindex(b'\nFrom ') + 1])


def renamed(box):
    new = box + '.tmp'
    ms.write_file(new, ms.read_file(box))
    os.rename(new, box)


def header_changed_and_grown(box):
    data = bytearray(ms.read_file(box))
    at = data.index(b'Subject: message 2\n')
    data[at:at + 18] = b'Subject: MESSAGE 2'
    rewrite(box, bytes(data))
    append(3)(box)


def no_final_newline_then_grown(box):
    data = ms.read_file(box)
    rewrite(box, data.rstrip(b'\n'))
    # the index of that file first, then a delivery finishes its line
    serve(box)
    with open(box, 'ab') as f:
        f.write(b'\n\n' + message(2000))


def index_bytes(box, change):
    path = box + '.pop3d-index'
    data = bytearray(ms.read_file(path))
    change(data)
    st = os.stat(path)
    ms.write_file(path, bytes(data))
    os.chmod(path, st.st_mode & 0o777)


def flip(data):
    data[len(data) // 2] ^= 0x40


case('unchanged', lambda box: None, 'hit')
case('one message appended', append(1), 'grown')
case('1,000 messages appended', append(1000), 'grown')
case('an MUA expunged message 3, rewriting the same inode', expunge_third,
     'miss')
case('a same-size rewrite of a body', same_size, 'miss')
case('a same-size rewrite, then touch -d back to the old mtime',
     same_size_old_mtime, 'miss')
case('the last message truncated away', truncate_last, 'miss')
case('replaced by rename', renamed, 'miss')
case('a header rewritten, then mail appended (a fingerprint fails)',
     header_changed_and_grown, 'miss')
case('a last line without its newline, then a delivery ends it',
     no_final_newline_then_grown, 'grown')
case('a corrupted index', lambda box: index_bytes(box, flip), 'miss',
     'index refused')
case('a truncated index', lambda box: index_bytes(box, lambda b: b.__delitem__(
    slice(len(b) - 20, len(b)))), 'miss', 'truncated')


def other_version(data):
    data[8] ^= 1


case('an index of another version', lambda box: index_bytes(
    box, other_version), 'miss', 'another format or version')


def symlinked(box):
    path = box + '.pop3d-index'
    os.rename(path, path + '.elsewhere')
    os.symlink(path + '.elsewhere', path)


case('a symlinked index', symlinked, 'miss', 'index refused')
if os.geteuid() == 0:
    nobody = pwd.getpwnam('nobody')
    case('an index of another user', lambda box: os.chown(
        box + '.pop3d-index', nobody.pw_uid, nobody.pw_gid), 'miss',
        'not a file of this user')
else:
    tap.skip('an index of another user', 'needs root')

# UPDATE leaves a correct index: after DELE and QUIT, the next session
# reads nothing but the index, and answers as a fresh copy.
box = os.path.join(d, 'box', 'mbox')
ms.write_file(box, mailbox())
serve(box)
serve(box, commands=b'USER jack\r\nPASS password\r\nDELE 1\r\nDELE 7\r\n'
      b'DELE 22\r\nQUIT\r\n')
got, log = serve(box)
want, _ = fresh_answers(box)
tap.ok(got == want and index_state(log) == 'hit',
       'after DELE 1, 7 and 22 and QUIT the index follows the update: the '
       'next session needs no scan and answers as a fresh copy', log[-800:])
st = os.stat(box + '.pop3d-index')
tap.ok(st.st_mode & 0o777 == 0o600 and st.st_uid == os.geteuid() and
       not os.path.exists(box + '.pop3d-index.new'),
       'the index is mode 0600, the session user\'s, and nothing half '
       'written is left beside it', oct(st.st_mode))

# -i DIR: the indexes of two mailboxes of the same name in one directory.
idir = os.path.join(d, 'indexes')
os.mkdir(idir, 0o700)
boxes = []
for sub in ('a', 'b'):
    os.mkdir(os.path.join(d, sub))
    boxes.append(os.path.join(d, sub, 'jack'))
    ms.write_file(boxes[-1], mailbox() if sub == 'a' else
                  mailbox()[:5000].rsplit(b'\nFrom ', 1)[0] + b'\n')
states = []
for b in boxes:
    serve(b, ['-i', idir])
for b in boxes:
    got, log = serve(b, ['-i', idir])
    states.append(index_state(log) == 'hit' and got == fresh_answers(b)[0]
                  and not os.path.exists(b + '.pop3d-index'))
tap.ok(all(states) and len(os.listdir(idir)) == 2,
       '-i DIR: two mailboxes called jack get an index each in DIR, none '
       'beside them', os.listdir(idir))

# Killed at each write of a session's end, while it writes its index: the
# next session trusts nothing half written.
ms.need_strace(tap)
box = os.path.join(d, 'box', 'mbox')
ms.write_file(box, mailbox())
for f in os.listdir(os.path.dirname(box)):
    if f != 'mbox':
        os.unlink(os.path.join(os.path.dirname(box), f))
trace = os.path.join(d, 'trace')


def prime_session(wrap=()):
    """A session that computes the UIDs and quits, under strace."""
    s = ms.session(box, passwd, wrap=wrap)
    try:
        if s.login() is not None:
            s.cmd('UIDL')
            s.multi()
            s.cmd('QUIT')
    finally:
        s.finish()


prime_session(ms.strace_wrap(trace=trace))
points = ms.update_points(trace)
want = None
bad = []
for name, when in points:
    ms.write_file(box, mailbox())
    for f in os.listdir(os.path.dirname(box)):
        if f != 'mbox':
            os.unlink(os.path.join(os.path.dirname(box), f))
    prime_session(ms.strace_wrap(name, when, 'signal=KILL'))
    got, log = serve(box)
    if want is None:
        want, _ = fresh_answers(box)
    if got != want:
        bad.append('%s #%d: %s' % (name, when, log[-400:]))
tap.ok(len(points) >= 3 and not bad,
       'killed at each of %d writing syscalls after QUIT (the index '
       'among them): the next session answers as a fresh copy' %
       len(points), '\n'.join(bad[:3]))
tap.done()
