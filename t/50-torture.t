#!/usr/bin/env python3
"""The torture table: bad input, row by row, with the exact answer.

Each row is a name, the bytes a client sends (or how it misbehaves), the
mailbox the session gets, and the exact lines pop3d must answer after its
greeting (or a check on them).  For every row: pop3d ends by itself with
status 0 (no crash, no signal), answers a clear -ERR or ends cleanly, and
the mailbox directory is byte for byte what it was, with no lock or
journal file left behind.  The fixture is t/sessions/mbox/default (4
messages, 779 octets) and t/sessions/passwd (jack, "password")."""
import hashlib
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pop3lib import (PASSWD, POP3D, Tap, need, need_pop3d,  # noqa: E402
                     session_mbox, talk, tmpdir)

fixture = session_mbox('default')

LOGIN = b'USER jack\r\nPASS password\r\n'
LOGIN_OK = ['+OK send PASS', '+OK 4 messages (779 octets)']
E_LINE = '-ERR line too long or not text'
E_UNKNOWN = '-ERR unknown command'
E_TOOMANY = '-ERR too many bad commands, closing'
E_IDLE = '-ERR idle for too long, closing'
BYE = '+OK bye'
BYE4 = '+OK bye, 4 messages left'
TOP1 = ['+OK top of message follows', 'Return-Path: <alice@example.org>',
        'From: Alice <alice@example.org>', 'To: jack@example.org',
        'Subject: lunch', 'Message-ID: <1@example.org>', 'Status: RO', '', '.']
RETR4 = ['+OK 106 octets', 'From: Dave <dave@example.org>',
         'To: jack@example.org', 'Subject: short',
         'Message-ID: <4@example.org>', '', 'Bye.', '.']


def row(name, send, expect, box='fixture', mode='pipe', args=(), **kw):
    return dict(name=name, send=send, expect=expect, box=box, mode=mode,
                args=list(args), **kw)


def in_trans(name, cmds, answers, **kw):
    """A row that logs in first and quits at the end."""
    return row(name, LOGIN + cmds + b'QUIT\r\n', LOGIN_OK + answers + [BYE4],
               **kw)


def all_err_then_closed(lines):
    """Random bytes: every answer an -ERR, then the session is closed."""
    if len(lines) != 21 or lines[-1] != E_TOOMANY:
        return f'{len(lines)} lines, last {lines[-1:]!r}'
    bad = [l for l in lines if not l.startswith('-ERR ')]
    return f'not -ERR: {bad[:3]!r}' if bad else None


def garbage(seed, size):
    rnd = random.Random(seed)
    return bytes(rnd.randrange(256) for _ in range(size))


# 1,000 pipelined commands in one write; the answers are those the same
# commands get one at a time (collected first, see reference()).
PIPE_CMDS = [b'STAT', b'LIST', b'LIST 1', b'UIDL 2', b'UIDL', b'RETR 4',
             b'TOP 1 0', b'NOOP', b'LIST 9', b'XYZZY']
PIPE_SEQ = (lambda rnd: [rnd.choice(PIPE_CMDS) for _ in range(1000)])(
    random.Random(1939))

rows = [
    # Line lengths.  RFC 2449: 255 octets including CR LF.
    row('255-octet command line is accepted',
        b'USER ' + b'a' * 248 + b'\r\nQUIT\r\n', ['+OK send PASS', BYE]),
    row('256-octet command line is refused',
        b'USER ' + b'a' * 249 + b'\r\nQUIT\r\n', [E_LINE, BYE]),
    row('10 KB command line', b'X' * 10240 + b'\r\nQUIT\r\n', [E_LINE, BYE]),
    in_trans('1 MB command line, the next command still answered',
             b'LIST ' + b'1' * (1 << 20) + b'\r\nSTAT\r\n',
             [E_LINE, '+OK 4 779']),
    row('1 MB without a line end, then EOF: nothing run, nothing deleted',
        LOGIN + b'DELE 1\r\n' + b'Q' * (1 << 20),
        LOGIN_OK + ['+OK message 1 deleted']),
    row('half a QUIT, then EOF: nothing deleted',
        LOGIN + b'DELE 1\r\nQUIT', LOGIN_OK + ['+OK message 1 deleted']),

    # NUL bytes.
    in_trans('NUL inside a command', b'ST\0AT\r\n', [E_LINE]),
    in_trans('a line that is one NUL', b'\0\r\n', [E_LINE]),
    row('NUL inside a password is no login',
        b'USER jack\r\nPASS pass\0word\r\nPASS password\r\nQUIT\r\n',
        ['+OK send PASS', E_LINE, '+OK 4 messages (779 octets)', BYE4]),

    # Bare CR and LF.
    in_trans('bare CR between two commands', b'STAT\rNOOP\r\n', [E_UNKNOWN]),
    in_trans('CR CR LF', b'NOOP\r\r\n', [E_UNKNOWN]),
    in_trans('a line that is one CR', b'\r\r\n', [E_UNKNOWN]),
    in_trans('empty line', b'\r\n', [E_UNKNOWN]),
    in_trans('bare LF ends a line', b'NOOP\nSTAT\n', ['+OK', '+OK 4 779']),
    in_trans('NOOP is a bare +OK (no NULL format reaches vsnprintf)',
             b'NOOP\r\n', ['+OK']),
    in_trans('CR inside an argument is not echoed',
             b'LIST 1\r2\r\n', ['-ERR invalid message number: 1?2']),

    # 8-bit and binary garbage.
    row('8-bit command', b'\xc3\xa9\xff\xfe\r\nQUIT\r\n', [E_UNKNOWN, BYE]),
    in_trans('8-bit and escape bytes in an argument are not echoed',
             b'RETR \xff\xfe\x1b[2J\r\n',
             ['-ERR invalid message number: ???[2J']),
    row('64 KB of binary garbage', garbage(1, 65536), all_err_then_closed),
    row('64 KB of binary garbage after login, after DELE',
        LOGIN + b'DELE 2\r\n' + garbage(2, 65536),
        lambda l: l[:3] != LOGIN_OK + ['+OK message 2 deleted'] and
        f'start {l[:3]!r}' or all_err_then_closed(l[3:])),

    # Many invalid commands.
    row('10,000 invalid commands', b'XYZZY\r\n' * 10000,
        [E_UNKNOWN] * 20 + [E_TOOMANY]),
    row('10,000 invalid commands after DELE, then QUIT: nothing deleted',
        LOGIN + b'DELE 1\r\n' + b'XYZZY\r\n' * 10000 + b'QUIT\r\n',
        LOGIN_OK + ['+OK message 1 deleted'] + [E_UNKNOWN] * 20 +
        [E_TOOMANY]),
    in_trans('10,013 invalid commands, a NOOP after every 19',
             (b'XYZZY\r\n' * 19 + b'NOOP\r\n') * 527,
             ([E_UNKNOWN] * 19 + ['+OK']) * 527),

    # Numbers.
    in_trans('LIST 0', b'LIST 0\r\n', ['-ERR no such message: 0']),
    in_trans('LIST -1', b'LIST -1\r\n', ['-ERR invalid message number: -1']),
    in_trans('LIST 99999999999999999999', b'LIST 99999999999999999999\r\n',
             ['-ERR invalid message number: 99999999999999999999']),
    in_trans('LIST 2^64 + 1 is not message 1',
             b'LIST 18446744073709551617\r\n',
             ['-ERR invalid message number: 18446744073709551617']),
    in_trans('LIST 2^32 + 1 is not message 1', b'LIST 4294967297\r\n',
             ['-ERR no such message: 4294967297']),
    in_trans('LIST 1x', b'LIST 1x\r\n', ['-ERR invalid message number: 1x']),
    in_trans('LIST +1', b'LIST +1\r\n', ['-ERR invalid message number: +1']),
    in_trans('LIST 01 is message 1', b'LIST 01\r\n', ['+OK 1 176']),
    in_trans('LIST 5 (one past the last)', b'LIST 5\r\n',
             ['-ERR no such message: 5']),
    in_trans('RETR 0', b'RETR 0\r\n', ['-ERR no such message: 0']),
    in_trans('DELE -1', b'DELE -1\r\n', ['-ERR invalid message number: -1']),
    in_trans('DELE 99999999999999999999',
             b'DELE 99999999999999999999\r\n',
             ['-ERR invalid message number: 99999999999999999999']),
    in_trans('TOP 1 -1', b'TOP 1 -1\r\n', ['-ERR invalid line count: -1']),
    in_trans('TOP 1 1x', b'TOP 1 1x\r\n', ['-ERR invalid line count: 1x']),
    in_trans('TOP 1 99999999999999999999',
             b'TOP 1 99999999999999999999\r\n',
             ['-ERR invalid line count: 99999999999999999999']),
    in_trans('TOP 0 0', b'TOP 0 0\r\n', ['-ERR no such message: 0']),
    in_trans('a deleted message is gone until RSET',
             b'DELE 1\r\nRETR 1\r\nLIST 1\r\nDELE 1\r\nRSET\r\nLIST 1\r\n',
             ['+OK message 1 deleted', '-ERR message 1 is deleted',
              '-ERR message 1 is deleted', '-ERR message 1 is deleted',
              '+OK 4 messages (779 octets)', '+OK 1 176']),

    # Tabs and extra spaces.
    in_trans('a tab is not a separator', b'LIST\t1\r\n', [E_UNKNOWN]),
    in_trans('a tab after the number', b'LIST 1\t\r\n',
             ['-ERR invalid message number: 1?']),
    in_trans('two spaces before the argument', b'LIST  1\r\n', ['+OK 1 176']),
    in_trans('a space after the argument', b'LIST 1 \r\n', ['+OK 1 176']),
    in_trans('a space before the command', b' LIST 1\r\n', [E_UNKNOWN]),
    in_trans('spaces everywhere in TOP', b'TOP  1   0  \r\n', TOP1),
    in_trans('one argument too many', b'LIST 1 2\r\n',
             ['-ERR LIST: wrong arguments']),
    in_trans('an argument where none belongs', b'STAT 1\r\n',
             ['-ERR STAT: wrong arguments']),
    in_trans('TOP without its line count', b'TOP 1\r\n',
             ['-ERR TOP: wrong arguments']),
    in_trans('lower case commands', b'stat\r\nlist 1\r\n',
             ['+OK 4 779', '+OK 1 176']),
    row('USER without a name', b'USER\r\nUSER \r\nQUIT\r\n',
        ['-ERR USER: wrong arguments', '-ERR USER: wrong arguments', BYE]),
    row('USER with two words', b'USER jack smith\r\nQUIT\r\n',
        ['-ERR USER: wrong arguments', BYE]),
    row('PASS without a password', b'USER jack\r\nPASS\r\nPASS \r\nQUIT\r\n',
        ['+OK send PASS', '-ERR PASS: wrong arguments',
         '-ERR PASS: wrong arguments', BYE]),

    # Commands in the wrong state.
    row('TRANSACTION commands before login',
        b'STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nTOP 1 0\r\nUIDL\r\nRSET\r\n'
        b'NOOP\r\nQUIT\r\n',
        [f'-ERR {c} is not valid in this state' for c in
         ('STAT', 'LIST', 'RETR', 'DELE', 'TOP', 'UIDL', 'RSET', 'NOOP')] +
        [BYE]),
    in_trans('USER and PASS after login', b'USER jack\r\nPASS password\r\n',
             ['-ERR USER is not valid in this state',
              '-ERR PASS is not valid in this state']),
    row('a NUL in a password file line hides no other user',
        LOGIN + b'QUIT\r\n', LOGIN_OK + [BYE4],
        passwd=b'bob\0x:{PLAIN}y\njack:{PLAIN}password\n'),
    row('PASS before USER', b'PASS password\r\nQUIT\r\n',
        ['-ERR USER first', BYE]),
    row('three failed logins end the session',
        b'USER jack\r\nPASS a\r\nUSER jack\r\nPASS b\r\nUSER jack\r\n'
        b'PASS c\r\nUSER jack\r\nPASS password\r\n',
        ['+OK send PASS', '-ERR [AUTH] invalid user name or password'] * 2 +
        ['+OK send PASS', '-ERR [AUTH] invalid user name or password; '
         'too many failures']),

    # Pipelining: 1,000 commands in one write, answered in order.
    row('1,000 pipelined commands in one write',
        LOGIN + b''.join(c + b'\r\n' for c in PIPE_SEQ) + b'QUIT\r\n',
        'pipelined'),

    # A client that goes away or says nothing.
    row('client closes its end mid-RETR: no SIGPIPE, nothing deleted',
        LOGIN + b'DELE 2\r\nRETR 1\r\nQUIT\r\n', None, box='big',
        mode='hangup'),
    row('client stops reading mid-RETR (a socket): the idle timeout ends it',
        LOGIN + b'DELE 2\r\nRETR 1\r\nQUIT\r\n', None, box='big',
        mode='nonreader', args=['-t', '1']),
    row('client gone before the greeting: nothing deleted',
        LOGIN + b'DELE 1\r\nDELE 2\r\nQUIT\r\n', None, mode='deaf'),
    row('a client that never sends anything', b'', [E_IDLE], mode='hold',
        args=['-t', '1']),
    row('a client silent after DELE: nothing deleted',
        LOGIN + b'DELE 1\r\n', LOGIN_OK + ['+OK message 1 deleted', E_IDLE],
        mode='hold', args=['-t', '1']),
    row('half a command, then silence', b'STA', [E_IDLE], mode='hold',
        args=['-t', '1']),

    # Mailboxes that are not mailboxes.
    row('mailbox is a directory', LOGIN + b'STAT\r\nQUIT\r\n',
        ['+OK send PASS', '-ERR [SYS/PERM] cannot open the mailbox: '
         'open: Is a directory', '-ERR STAT is not valid in this state',
         BYE], box='dir'),
    row('mailbox is a FIFO', LOGIN + b'QUIT\r\n',
        ['+OK send PASS', '-ERR [SYS/PERM] cannot open the mailbox: '
         'mailbox is not a regular file', BYE], box='fifo'),
    row('mailbox is a symbolic link', LOGIN + b'QUIT\r\n',
        ['+OK send PASS', '-ERR [SYS/PERM] cannot open the mailbox: '
         'mailbox is a symbolic link', BYE], box='symlink'),
    row('mailbox is unreadable', LOGIN + b'QUIT\r\n',
        ['+OK send PASS', '-ERR [SYS/PERM] cannot open the mailbox: '
         'open: Permission denied', BYE], box='unreadable'),
    row('mailbox is binary junk', LOGIN + b'QUIT\r\n',
        ['+OK send PASS', '-ERR [SYS/PERM] cannot open the mailbox: '
         'not an mbox: no From_ line at offset 0', BYE], box='junk'),
    row('mailbox is missing: empty, and not created',
        LOGIN + b'STAT\r\nLIST\r\nRETR 1\r\nQUIT\r\n',
        ['+OK send PASS', '+OK 0 messages (0 octets)', '+OK 0 0',
         '+OK 0 messages (0 octets)', '.', '-ERR no such message: 1',
         '+OK bye, 0 messages left'], box='missing'),
    row('mailbox is an empty file', LOGIN + b'STAT\r\nQUIT\r\n',
        ['+OK send PASS', '+OK 0 messages (0 octets)', '+OK 0 0',
         '+OK bye, 0 messages left'], box='empty'),
]

tap = Tap()
ok = tap.ok
need_pop3d(tap)
if os.geteuid() == 0:
    need(tap, 'setpriv')    # the unreadable row runs as nobody


def snapshot(d):
    """Every entry below d: its type and, for files, a digest.  The index
    a session leaves (MBOX.pop3d-index) is meant to stay: not counted."""
    snap = {}
    for name in sorted(os.listdir(d)):
        if name.endswith('.pop3d-index'):
            continue
        p = os.path.join(d, name)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            with open(p, 'rb') as f:
                snap[name] = ('file', st.st_mode,
                              hashlib.sha256(f.read()).hexdigest())
        elif stat.S_ISLNK(st.st_mode):
            snap[name] = ('link', os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            snap[name] = ('dir', snapshot(p))
        else:
            snap[name] = ('other', stat.S_IFMT(st.st_mode))
    return snap


def make_box(kind, d):
    """The mailbox a row gets, in d; its path."""
    mbox = os.path.join(d, 'mbox')
    if kind == 'fixture':
        shutil.copy(fixture, mbox)
    elif kind == 'big':
        with open(fixture, 'rb') as f:
            tail = f.read()
        body = b''.join(b'line %07d of a long message\n' % i
                        for i in range(150000))
        with open(mbox, 'wb') as f:
            f.write(b'From big@example.org Mon Nov 23 09:00:00 2026\n'
                    b'Subject: big\n\n' + body + b'\n' + tail)
    elif kind == 'dir':
        os.mkdir(mbox)
        with open(os.path.join(mbox, 'inside'), 'w') as f:
            f.write('untouched\n')
    elif kind == 'fifo':
        os.mkfifo(mbox)
    elif kind == 'symlink':
        shutil.copy(fixture, os.path.join(d, 'target'))
        os.symlink('target', mbox)
    elif kind == 'unreadable':
        shutil.copy(fixture, mbox)
        os.chmod(mbox, 0)
    elif kind == 'junk':
        with open(mbox, 'wb') as f:
            f.write(b'\x7fELF\x02\x01\x01' + garbage(3, 4096))
    elif kind == 'empty':
        open(mbox, 'wb').close()
    elif kind != 'missing':
        raise ValueError(kind)
    return mbox


def command(r, mbox, passwd):
    cmd = [POP3D, '-e', '-f', mbox, '-p', passwd] + r['args']
    if r['box'] == 'unreadable' and os.geteuid() == 0:
        # root reads anything: the session runs as nobody instead
        cmd = ['setpriv', '--reuid=65534', '--regid=65534',
               '--clear-groups'] + cmd
    return cmd


def run(r, cmd):
    """Run one row; returns (status, output, log, seconds)."""
    start = time.monotonic()
    if r['mode'] == 'pipe':
        p = subprocess.run(cmd, input=r['send'], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout, p.stderr, time.monotonic() - start
    if r['mode'] == 'deaf':
        rd, wr = os.pipe()
        os.close(rd)
        p = subprocess.run(cmd, input=r['send'], stdout=wr,
                           stderr=subprocess.PIPE, timeout=60)
        os.close(wr)
        return p.returncode, b'', p.stderr, time.monotonic() - start
    if r['mode'] == 'nonreader':
        # a socket, as under inetd; the client never reads from its end
        client, server = socket.socketpair()
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=server,
                             stderr=subprocess.PIPE)
        server.close()
        p.stdin.write(r['send'])
        p.stdin.flush()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return 'hung', b'', b'', time.monotonic() - start
        secs = time.monotonic() - start
        client.close()
        p.stdin.close()
        log = p.stderr.read()
        p.stderr.close()
        return p.returncode, b'', log, secs
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(r['send'])
    p.stdin.flush()
    out = b''
    if r['mode'] == 'hangup':
        out = p.stdout.read(65536)
        p.stdout.close()
    try:
        # hold: stdin stays open, as a client that says nothing more
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return 'hung', out, b'', time.monotonic() - start
    secs = time.monotonic() - start
    p.stdin.close()
    if r['mode'] == 'hold':
        out = p.stdout.read()
        p.stdout.close()
    log = p.stderr.read()
    p.stderr.close()
    return p.returncode, out, log, secs


def reference(passwd):
    """Each pipelined command's answer, one session per command."""
    answers = {}
    for c in PIPE_CMDS:
        with tempfile.TemporaryDirectory() as d:
            mbox = make_box('fixture', d)
            _, _, p = talk(['-f', mbox, '-p', passwd],
                           [b'USER jack', b'PASS password', c])
            lines = p.stdout.decode('latin-1').split('\r\n')[3:-1]
            answers[c] = lines
    return answers


def check_output(r, out, expect):
    text = out.decode('latin-1')
    if not text.startswith('+OK ') or '\r\n' not in text:
        return f'no greeting: {text[:80]!r}'
    lines = text.split('\r\n')
    if lines[-1] != '':
        return f'output does not end in CR LF: {lines[-1][:80]!r}'
    lines = lines[1:-1]
    if callable(expect):
        return expect(lines)
    if lines == expect:
        return None
    for i, (a, b) in enumerate(zip(lines, expect)):
        if a != b:
            return f'line {i + 2}: got {a[:100]!r}, want {b[:100]!r}'
    return (f'{len(lines)} lines, want {len(expect)}; '
            f'tail {lines[len(expect):][:3]!r} / {expect[len(lines):][:3]!r}')


tmp = tmpdir('torture', 0o755)    # the unreadable row runs as nobody
passwd = os.path.join(tmp, 'passwd')
shutil.copy(PASSWD, passwd)
os.chmod(passwd, 0o644)
answers = reference(passwd)
for i, r in enumerate(rows):
    box = os.path.join(tmp, f'box{i}')
    os.mkdir(box)
    os.chmod(box, 0o755)
    mbox = make_box(r['box'], box)
    pw = passwd
    if 'passwd' in r:
        pw = os.path.join(tmp, f'passwd{i}')
        with open(pw, 'wb') as f:
            f.write(r['passwd'])
    before = snapshot(box)
    status, out, log, secs = run(r, command(r, mbox, pw))
    name = r['name']
    if status == 'hung':
        ok(False, f'{name}: pop3d ends by itself', 'killed after 30 s')
        continue
    ok(status == 0, f'{name}: pop3d ends with status 0',
       f'status {status}\n{log.decode("latin-1")[-2000:]}')
    expect = r['expect']
    if expect == 'pipelined':
        expect = LOGIN_OK + [l for c in PIPE_SEQ for l in answers[c]] + \
            [BYE4]
    if r['mode'] == 'hangup':
        why = None
        if not out.startswith(b'+OK '):
            why = f'no greeting: {out[:80]!r}'
        elif len(out) < 65536:
            why = f'only {len(out)} bytes before the hangup'
        ok(why is None, f'{name}: the message was being sent', why)
        ok(b'logout' not in log or b'dele=0' in log,
           f'{name}: no update logged', log.decode('latin-1')[-500:])
    elif r['mode'] == 'nonreader':
        ok(secs < 10, f'{name}: ends within seconds', f'{secs:.1f} s')
        ok(b'dele=0' in log or b'nothing deleted' in log,
           f'{name}: the log says nothing was deleted',
           log.decode('latin-1')[-500:])
    elif r['mode'] != 'deaf':
        why = check_output(r, out, expect)
        ok(why is None, f'{name}: answers', why)
    if r['mode'] == 'hold':
        ok(0.9 <= secs < 10, f'{name}: ends after the 1 s timeout',
           f'{secs:.1f} s')
    after = snapshot(box)
    ok(after == before, f'{name}: mailbox unchanged, nothing left behind',
       f'before {before}\nafter  {after}')
tap.done()
