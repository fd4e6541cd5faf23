"""
Power cuts, in the persistence model of the crash-consistency literature
(ALICE, OSDI 2014; CrashMonkey, OSDI 2018), for t/36-power-cut.t.

After a power cut a file holds everything written to it before its last
completed fsync/fdatasync, plus ANY SUBSET of the 4 KB pages written since,
in any order; a truncate not yet followed by a sync of its file may or may
not have happened; a new name (create, link, rename) or a removed one
(unlink, rename) may be lost unless its directory was synced (fsync on a
directory fd).  kill -9 is the special case "everything written survives".

The recording: strace (-f -y -xx) of a whole session, every call that can
change a file or a name, with its data; strace sees system calls however
they are made (libc wrappers, syscall(2)), follows forks, and names the
file behind every descriptor.  Everything before the read that brings QUIT
is taken as durable: the files as they are just before QUIT are the start.

The replay (Model) walks the calls after QUIT keeping, per inode, the
durable content, and one list of pending items in call order: a write's
pieces split at page boundaries, truncates, and directory entry changes.
It notes crash points: the start; just before each fsync/fdatasync and at
the end (where every subset of what is pending may be what the disk
holds: sampled); just after each sync (exactly the durable state); and
after every call (kill -9: every pending item applied).  A crash state is
a point's durable state plus a subset of its pending items, applied in
their original order.

Then, for pop3d (run_task): each crash state is written into the mailbox's
directory (the mailbox keeps its inode, which the journal names), mail may
be delivered "after the crash", a session logs in, which runs the recovery,
and the mailbox is judged: the original or the planned result (plus mail
delivered), else which messages are lost, corrupted or duplicated.
"""
import os
import random
import re
import shutil
import time
import traceback

import mboxsafe as ms

PAGE = 4096
# Every subset when a point has at most this many pending items...
EXHAUSTIVE = 10
# ... else this many random ones, plus the empty and the full set.
SAMPLES = int(os.environ.get('CRASH_SAMPLES', '200'))

# Calls that change a file, a name or a descriptor, and those we do not
# model (fail loudly if one touches the mailbox's directory).
TRACED = [
    'read', 'write', 'pwrite64', 'writev', 'pwritev', 'pwritev2',
    'ftruncate', 'truncate', 'fsync', 'fdatasync', 'syncfs', 'sync',
    'open', 'openat', 'creat', 'close', 'dup', 'dup2', 'dup3', 'fcntl',
    'lseek', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'unlink',
    'unlinkat', 'mknod', 'mknodat', 'chdir', 'fchdir', 'clone', 'clone3',
    'fork', 'vfork', 'fallocate',
    # not modelled:
    'openat2', 'copy_file_range', 'sendfile', 'splice',
    'sync_file_range', 'mmap', 'msync', 'mkdir', 'mkdirat', 'rmdir',
    'symlink', 'symlinkat', 'io_uring_enter', 'close_range',
]
UNMODELLED = {'openat2', 'copy_file_range', 'sendfile', 'splice',
              'mkdir', 'mkdirat', 'rmdir', 'symlink', 'symlinkat',
              'io_uring_enter'}


class ModelError(Exception):
    """The trace holds something the model cannot replay faithfully."""


def strace_args(trace):
    """strace in front of a command: the recording into file trace."""
    return ['strace', '-f', '-qq', '-y', '-xx', '-s', '16777216',
            '-e', 'signal=none', '-e', 'trace=' + ','.join(TRACED),
            '-o', trace]


# ------------------------------------------------------------ the trace

LINE = re.compile(r'^(?:\[pid\s+)?(\d+)\]?\s+(.*)$')
FD = re.compile(r'^(-?\d+|AT_FDCWD)'
                r'(?:<((?:\\x[0-9a-f]{2})*)>(\(deleted\))?)?$')
IOV = re.compile(r'iov_base="((?:\\x[0-9a-f]{2})*)"(\.\.\.)?, iov_len=(\d+)')


def unhex(s):
    """Bytes from strace -xx's \\xNN escapes (every byte escaped)."""
    if len(s) % 4 or s.count('\\x') * 4 != len(s):
        raise ValueError('not \\xNN escapes: %r' % s[:40])
    return bytes.fromhex(s.replace('\\x', ''))


class Call:
    """One completed system call: pid, name, raw args, result."""

    def __init__(self, pid, name, args, ret, ret_path, lineno):
        self.pid, self.name, self.args = pid, name, args
        self.ret, self.ret_path, self.lineno = ret, ret_path, lineno

    def __repr__(self):
        return '%s#%d' % (self.name, self.lineno)


def split_args(text):
    """strace's argument list split at its top-level commas."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = text.index('"', i + 1)
        elif c in '[{(<':
            depth += 1
        elif c in ']})>':
            depth -= 1
        elif c == ',' and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
        i += 1
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def parse_call(pid, text, lineno):
    m = re.match(r'^([a-z0-9_]+)\((.*)$', text, re.S)
    if not m:
        return None
    name, rest = m.group(1), m.group(2)
    # strace pads a short call's result to a column: ")    = 0"
    ends = list(re.finditer(r'\) +(?==)', rest))
    cut = ends[-1] if ends else None
    if cut is None or not rest[cut.end():].startswith('= '):
        if rest.endswith(')') or re.search(r'\) += \?$', rest):
            # no result: the process died in the call
            return Call(pid, name, split_args(rest[:rest.rfind(')')]),
                        None, None, lineno)
        raise ModelError('line %d: cannot read %r' % (lineno, text[:200]))
    args, ret = rest[:cut.start()], rest[cut.end() + 2:]
    rm = re.match(r'^(-?\d+|0x[0-9a-f]+|\?)(?:<((?:\\x[0-9a-f]{2})*)>)?',
                  ret)
    if not rm or rm.group(1) == '?':
        value = None
    else:
        value = int(rm.group(1), 0)
    ret_path = unhex(rm.group(2)) if rm and rm.group(2) is not None else None
    return Call(pid, name, split_args(args), value, ret_path, lineno)


def read_trace(path):
    """The completed calls of an strace -f -o file, in completion order."""
    calls, pending = [], {}
    with open(path, 'r', errors='strict') as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip('\n')
            m = LINE.match(line)
            pid, body = (int(m.group(1)), m.group(2)) if m else (0, line)
            if body.startswith(('+++', '---')):
                continue
            if body.endswith(' <unfinished ...>'):
                pending[pid] = body[:-len(' <unfinished ...>')]
                continue
            r = re.match(r'^<\.\.\. ([a-z0-9_]+) resumed>(.*)$', body, re.S)
            if r:
                head = pending.pop(pid, None)
                if head is None:
                    raise ModelError('line %d: resumed call never started'
                                     % lineno)
                body = head + r.group(2)
            c = parse_call(pid, body, lineno)
            if c is not None:
                calls.append(c)
    return calls


def arg_fd(a):
    """(fd number or 'AT_FDCWD', the path strace shows for it or None)."""
    m = FD.match(a)
    if not m:
        raise ModelError('not a descriptor: %r' % a[:80])
    fd = m.group(1) if m.group(1) == 'AT_FDCWD' else int(m.group(1))
    path = unhex(m.group(2)) if m.group(2) is not None else None
    if path is not None and m.group(3):
        path += b' (deleted)'
    return fd, path


def arg_str(a):
    if a.endswith('"...'):
        raise ModelError('string cut short by strace -s')
    if len(a) < 2 or a[0] != '"' or a[-1] != '"':
        raise ModelError('not a string: %r' % a[:80])
    try:
        return unhex(a[1:-1])
    except ValueError:
        raise ModelError('not a string in hex (strace -xx): %r' % a[:80])


def arg_int(a):
    return int(a.split('<')[0], 0)


def arg_iov(a):
    data = b''
    for m in IOV.finditer(a):
        if m.group(2):
            raise ModelError('iovec cut short by strace -s')
        data += unhex(m.group(1))
    return data


# ------------------------------------------------------------ the model

class Item:
    """One pending change: a page-sized piece of a write ('w'), a truncate
    ('t'), an extension by fallocate ('x': the size grows to off, with
    zeros, if it is smaller), or a directory entry ('create', 'link',
    'unlink', 'rename')."""
    __slots__ = ('seq', 'kind', 'ino', 'off', 'data', 'name', 'new', 'call')

    def __init__(self, seq, kind, ino, call, off=0, data=b'', name=None,
                 new=None):
        self.seq, self.kind, self.ino, self.call = seq, kind, ino, call
        self.off, self.data, self.name, self.new = off, data, name, new

    def is_data(self):
        return self.kind in ('w', 't', 'x')

    def __repr__(self):
        if self.kind == 'w':
            return 'w(%s@%d+%d)' % (self.ino, self.off, len(self.data))
        if self.kind in ('t', 'x'):
            return '%s(%s:%d)' % (self.kind, self.ino, self.off)
        return '%s(%s%s)' % (self.kind, os.fsdecode(self.name),
                             ' ' + os.fsdecode(self.new) if self.new else '')


def apply_data(buf, it):
    if it.kind == 'w':
        if len(buf) < it.off:
            buf.extend(bytes(it.off - len(buf)))
        buf[it.off:it.off + len(it.data)] = it.data
    elif it.kind == 'x':
        if len(buf) < it.off:
            buf.extend(bytes(it.off - len(buf)))
    else:
        if len(buf) > it.off:
            del buf[it.off:]
        else:
            buf.extend(bytes(it.off - len(buf)))


def apply_name(ns, it):
    if it.kind in ('create', 'link'):
        ns[it.name] = it.ino
    elif it.kind == 'unlink':
        if ns.get(it.name) == it.ino:
            del ns[it.name]
    elif it.kind == 'rename':
        if ns.get(it.name) == it.ino:
            del ns[it.name]
        ns[it.new] = it.ino


class Point:
    """Where a crash may happen: the durable state and what is pending.
    kind 'sample': any subset of pending; 'exact': none of it; 'kill': all
    of it."""

    def __init__(self, kind, label, dur_id, ns, data, pending):
        self.kind, self.label, self.dur_id = kind, label, dur_id
        self.ns, self.data, self.pending = ns, data, pending


class OpenFile:
    """An open file description: shared by dup'd descriptors and forks."""

    def __init__(self, path, ino, offset=0, append=False):
        self.path, self.ino, self.offset, self.append = path, ino, offset, \
            append


class Model:
    """
    Replays a trace over the files under root.  start() takes the files
    as they are when QUIT arrives; from then on every call on them is
    replayed and crash points are noted in self.points.
    """

    def __init__(self, root, cwd):
        self.root = os.fsencode(os.path.realpath(root)).rstrip(b'/')
        self.cwd = {None: os.fsencode(cwd)}
        self.fds = {}                 # pid -> {fd: OpenFile}
        self.started = False
        self.points = []
        self.calls_after_start = 0
        self.unmodelled = []
        self.seq = 0
        self.new_inos = 0
        self.nsync = 0

    def base(self, path):
        return os.path.basename(os.fsdecode(path))

    # -- paths
    def mine(self, path):
        return path is not None and (path == self.root or
                                     path.startswith(self.root + b'/'))

    def absolute(self, pid, path, dirpath=None):
        if path.startswith(b'/'):
            return os.path.normpath(path)
        base = dirpath if dirpath is not None else \
            self.cwd.get(pid, self.cwd[None])
        return os.path.normpath(os.path.join(base, path))

    def dirfd_path(self, pid, a):
        fd, shown = arg_fd(a)
        if fd == 'AT_FDCWD':
            return self.cwd.get(pid, self.cwd[None])
        of = self.table(pid).get(fd)
        if of is not None:
            return of.path
        if shown is None:
            raise ModelError('directory descriptor %r unknown' % a)
        return shown

    def table(self, pid):
        if pid not in self.fds:
            self.fds[pid] = {}
        return self.fds[pid]

    # -- the start: the files as they are before QUIT
    def start(self, files):
        """files: {path (bytes): (inode id, content)} under root."""
        self.started = True
        self.ns = {p: ino for p, (ino, _) in files.items()}
        self.dur_ns = dict(self.ns)
        self.vol = {ino: bytearray(data) for _, (ino, data) in files.items()}
        self.dur = {ino: bytes(data) for _, (ino, data) in files.items()}
        self.dirs = {self.root}
        self.pending = []
        self.dur_id = 0
        for table in self.fds.values():
            for of in table.values():
                if of.path in self.dirs:
                    of.ino = 'dir'
                elif self.mine(of.path):
                    of.ino = self.ns.get(of.path)
        self.note('exact', 'QUIT arrives')

    def note(self, kind, label):
        self.points.append(Point(kind, label, self.dur_id,
                                 dict(self.dur_ns), dict(self.dur),
                                 tuple(self.pending)))

    def add(self, kind, ino, call, **kw):
        self.seq += 1
        it = Item(self.seq, kind, ino, call, **kw)
        self.pending.append(it)
        if it.is_data():
            apply_data(self.vol[ino], it)
        else:
            apply_name(self.ns, it)

    def write(self, call, of, data, off):
        ino = of.ino
        if ino is None:
            raise ModelError('%r: a write to %s, which the model does not '
                             'know' % (call, of.path))
        end = off + len(data)
        at = off
        while at < end:
            nxt = min(end, (at // PAGE + 1) * PAGE)
            self.add('w', ino, call, off=at, data=data[at - off:nxt - off])
            at = nxt

    def sync_file(self, ino):
        self.dur[ino] = bytes(self.vol[ino])
        self.pending = [it for it in self.pending
                        if not (it.is_data() and it.ino == ino)]
        self.dur_id += 1

    def sync_dir(self, path):
        keep = []
        for it in self.pending:
            if it.is_data():
                keep.append(it)
                continue
            names = [it.name] + ([it.new] if it.new else [])
            if any(os.path.dirname(n) == path for n in names):
                apply_name(self.dur_ns, it)
            else:
                keep.append(it)
        self.pending = keep
        self.dur_id += 1

    def sync_all(self):
        self.dur_ns = dict(self.ns)
        self.dur = {ino: bytes(b) for ino, b in self.vol.items()}
        self.pending = []
        self.dur_id += 1

    def new_inode(self):
        self.new_inos += 1
        ino = ('new', self.new_inos)
        self.vol[ino] = bytearray()
        self.dur[ino] = b''
        return ino

    # -- one call
    def feed(self, c, quit_marker=b'QUIT'):
        if c.ret is None and c.name not in ('exit', 'exit_group'):
            if self.started and any(self.mine(self._path_hint(a))
                                    for a in c.args):
                raise ModelError('%r: no result (the process died in it)'
                                 % c)
            return
        if c.ret is not None and c.ret < 0:
            return                  # failed: changed nothing
        table = self.table(c.pid)
        n = c.name
        if n == 'read' and not self.started:
            fd, _ = arg_fd(c.args[0])
            if fd == 0 and quit_marker in arg_str(c.args[1]):
                return 'quit'
            return
        if n in ('clone', 'clone3', 'fork', 'vfork'):
            if c.ret:
                flags = ' '.join(c.args)
                self.fds[c.ret] = table if 'CLONE_FILES' in flags else \
                    dict(table)
                self.cwd[c.ret] = self.cwd.get(c.pid, self.cwd[None])
            return
        if n == 'chdir':
            self.cwd[c.pid] = self.absolute(c.pid, arg_str(c.args[0]))
            return
        if n == 'fchdir':
            self.cwd[c.pid] = self.dirfd_path(c.pid, c.args[0])
            return
        if n in ('open', 'openat', 'creat'):
            return self.do_open(c, table)
        if n in ('dup', 'dup2', 'dup3') or (n == 'fcntl' and
                                             'F_DUPFD' in c.args[1]):
            fd, _ = arg_fd(c.args[0])
            if fd in table:
                table[c.ret] = table[fd]
            return
        if n == 'fcntl':
            return
        if n == 'close':
            fd, _ = arg_fd(c.args[0])
            table.pop(fd, None)
            return
        if n == 'close_range':
            if 'CLOSE_RANGE_CLOEXEC' not in c.args[2]:
                first = arg_int(c.args[0])
                try:
                    last = arg_int(c.args[1])
                except ValueError:
                    last = float('inf')     # ~0U, however strace shows it
                for fd in [f for f in table if first <= f <= last]:
                    del table[fd]
            return
        if n == 'lseek':
            fd, _ = arg_fd(c.args[0])
            if fd in table:
                table[fd].offset = c.ret
            return
        if n in ('write', 'pwrite64', 'writev', 'pwritev', 'pwritev2'):
            return self.do_write(c, table)
        if n == 'read' or not self.started:
            return
        self.calls_after_start += 1
        if n in UNMODELLED or n == 'sync_file_range' or n == 'msync' or \
                n == 'mmap':
            if any(self.mine(self._path_hint(a)) for a in c.args):
                if n in ('sync_file_range',):
                    return          # starts writeback, promises nothing
                if n == 'mmap' and 'MAP_SHARED' not in ' '.join(c.args):
                    return
                self.unmodelled.append(repr(c))
            return
        if n == 'fallocate':
            # mode 0 claims space and, past the end, grows the file with
            # zeros; FALLOC_FL_KEEP_SIZE (1) only claims space
            of = self.file_of(c, table)
            if of is None:
                return
            mode = arg_int(c.args[1])
            if mode not in (0, 1):
                self.unmodelled.append(repr(c))
                return
            if mode == 0:
                self.add('x', of.ino, c, off=arg_int(c.args[2]) +
                         arg_int(c.args[3]))
                self.note('kill', 'kill -9 after %r' % c)
            return
        if n in ('ftruncate', 'truncate'):
            if n == 'ftruncate':
                of = self.file_of(c, table)
                if of is None:
                    return
                ino = of.ino
            else:
                p = self.absolute(c.pid, arg_str(c.args[0]))
                if not self.mine(p):
                    return
                ino = self.ns[p]
            self.add('t', ino, c, off=arg_int(c.args[1]))
            self.note('kill', 'kill -9 after %r' % c)
            return
        if n in ('fsync', 'fdatasync', 'syncfs', 'sync'):
            of = self.file_of(c, table) if n != 'sync' else None
            if of is None and n != 'sync':
                return
            self.nsync += 1
            what = '%s %d (%s%s)' % ('sync', self.nsync, n, ' of ' +
                                     self.base(of.path) if of else '')
            self.note('sample', 'just before ' + what)
            if n in ('syncfs', 'sync'):
                self.sync_all()
            elif of.ino == 'dir':
                self.sync_dir(of.path)
            else:
                self.sync_file(of.ino)
            self.note('exact', 'just after ' + what)
            return
        return self.do_names(c, table)

    def _path_hint(self, a):
        try:
            if a.startswith('"'):
                return self.absolute(None, arg_str(a))
            return arg_fd(a)[1]
        except (ModelError, ValueError):
            return None

    def file_of(self, c, table):
        """The open file of a call's first argument, if it is one of ours
        (None: not ours)."""
        fd, shown = arg_fd(c.args[0])
        of = table.get(fd)
        if of is None:
            if self.mine(shown):
                raise ModelError('%r: descriptor %d of %s was not seen '
                                 'opened' % (c, fd, shown))
            return None
        if not self.mine(of.path):
            return None
        if of.ino is None and self.started:
            raise ModelError('%r: %s was opened before QUIT and is gone'
                             % (c, of.path))
        # what strace shows must be what we think the descriptor is
        if shown is not None and not shown.endswith(b' (deleted)') and \
                of.ino != 'dir' and self.started and \
                self.ns.get(shown) != of.ino:
            raise ModelError('%r: strace shows %s, the model another file'
                             % (c, shown))
        return of

    def do_open(self, c, table):
        if c.name == 'openat':
            base = self.dirfd_path(c.pid, c.args[0])
            p = self.absolute(c.pid, arg_str(c.args[1]), base)
            flags = c.args[2]
        else:
            p = self.absolute(c.pid, arg_str(c.args[0]))
            flags = 'O_WRONLY|O_CREAT|O_TRUNC' if c.name == 'creat' else \
                c.args[1]
        if c.ret_path is not None:
            p = c.ret_path
        of = OpenFile(p, None, 0, 'O_APPEND' in flags)
        table[c.ret] = of
        if not self.mine(p):
            return
        if not self.started:
            return
        if 'O_DIRECTORY' in flags or p in self.dirs:
            of.ino = 'dir'
            return
        if 'O_TMPFILE' in flags:
            self.unmodelled.append(repr(c))
            return
        self.calls_after_start += 1
        ino = self.ns.get(p)
        if ino is None:
            if 'O_CREAT' not in flags:
                raise ModelError('%r: opened %s, which the model does not '
                                 'have' % (c, p))
            ino = self.new_inode()
            self.add('create', ino, c, name=p)
        elif 'O_TRUNC' in flags and ('O_WRONLY' in flags or
                                     'O_RDWR' in flags):
            self.add('t', ino, c, off=0)
        of.ino = ino
        self.note('kill', 'kill -9 after %r' % c)

    def do_write(self, c, table):
        of = table.get(arg_fd(c.args[0])[0])
        if of is None or not self.mine(of.path):
            self.file_of(c, table)      # raises if it is ours after all
            return
        if c.name in ('writev', 'pwritev', 'pwritev2'):
            data = arg_iov(c.args[1])
        else:
            data = arg_str(c.args[1])
        data = data[:c.ret]
        if c.name in ('pwrite64', 'pwritev', 'pwritev2'):
            off = arg_int(c.args[3])
            if c.name == 'pwritev2' and off == -1:
                off = None
        else:
            off = None
        if off is None:
            if of.append and self.started:
                of.offset = len(self.vol[of.ino])
            off = of.offset
            of.offset += len(data)
        if not self.started:
            return
        self.calls_after_start += 1
        of = self.file_of(c, table)
        self.write(c, of, data, off)
        self.note('kill', 'kill -9 after %r' % c)

    def do_names(self, c, table):
        n, a = c.name, c.args
        if n in ('rename', 'link'):
            old, new = (self.absolute(c.pid, arg_str(a[0])),
                        self.absolute(c.pid, arg_str(a[1])))
        elif n in ('renameat', 'renameat2', 'linkat'):
            old = self.absolute(c.pid, arg_str(a[1]),
                                self.dirfd_path(c.pid, a[0]))
            new = self.absolute(c.pid, arg_str(a[3]),
                                self.dirfd_path(c.pid, a[2]))
        elif n in ('unlink', 'mknod'):
            old, new = self.absolute(c.pid, arg_str(a[0])), None
        elif n in ('unlinkat', 'mknodat'):
            old = self.absolute(c.pid, arg_str(a[1]),
                                self.dirfd_path(c.pid, a[0]))
            new = None
        else:
            return
        if not self.mine(old) and not self.mine(new):
            return
        if n.startswith('mknod'):
            if 'S_IFREG' not in ' '.join(a) and 'S_IF' in ' '.join(a):
                self.unmodelled.append(repr(c))
                return
            ino = self.new_inode()
            self.add('create', ino, c, name=old)
        elif n.startswith('unlink'):
            if 'AT_REMOVEDIR' in ' '.join(a):
                self.unmodelled.append(repr(c))
                return
            self.add('unlink', self.ns[old], c, name=old)
        elif n.startswith('link'):
            self.add('link', self.ns[old], c, name=new)
        else:
            if n == 'renameat2' and 'RENAME_EXCHANGE' in a[4]:
                self.unmodelled.append(repr(c))
                return
            self.add('rename', self.ns[old], c, name=old, new=new)
        self.note('kill', 'kill -9 after %r' % c)

    def finish(self):
        self.note('sample', 'at the end of the recording')

    def volatile_files(self):
        """The files as the last call left them: what the disk holds when
        nothing is lost."""
        return {p: bytes(self.vol[ino]) for p, ino in self.ns.items()}


def replay(calls, root, cwd, snapshot, quit_marker=b'QUIT'):
    """
    Run the calls through a Model; snapshot() gives the files under root
    as they were when QUIT came ({path: (inode id, content)}).  Returns
    the model; raises ModelError when QUIT never came.
    """
    m = Model(root, cwd)
    for c in calls:
        if m.feed(c, quit_marker) == 'quit':
            m.start(snapshot())
    if not m.started:
        raise ModelError('the trace has no read of %r' % quit_marker)
    m.finish()
    return m


# ------------------------------------------------------- crash states

def subsets(n, rng):
    """Index lists of subsets of n pending items: every one when n is
    small; else the empty and the full set and SAMPLES random ones, a third
    each with every item kept at even odds, at random odds, and as a
    prefix in time order with holes (writeback nearly done)."""
    if n <= EXHAUSTIVE:
        for mask in range(1 << n):
            yield [i for i in range(n) if mask >> i & 1]
        return
    yield []
    yield list(range(n))
    for k in range(SAMPLES):
        mode = k % 3
        if mode < 2:
            p = 0.5 if mode == 0 else rng.random()
            yield [i for i in range(n) if rng.random() < p]
        else:
            cut = rng.randrange(n + 1)
            yield [i for i in range(n) if
                   (i < cut and rng.random() < 0.9) or
                   (i >= cut and rng.random() < 0.03)]


def crash_states(model, seed):
    """
    The distinct crash states of a replayed trace, in a fixed order:
    (point, indices of its pending items kept).  Two states are the same
    when they keep the same items over the same durable state.
    """
    seen = set()
    out = []
    for pi, pt in enumerate(model.points):
        n = len(pt.pending)
        if pt.kind == 'exact':
            choices = [[]]
        elif pt.kind == 'kill':
            choices = [list(range(n))]
        else:
            choices = subsets(n, random.Random('%s/%d' % (seed, pi)))
        for keep in choices:
            sig = (pt.dur_id, frozenset(pt.pending[i].seq for i in keep))
            if sig in seen:
                continue
            seen.add(sig)
            out.append((pi, keep))
    return out


def materialize(pt, keep):
    """The files of a crash state: {path: (inode id, content)}."""
    ns = dict(pt.ns)
    bufs = {}
    for i in keep:
        it = pt.pending[i]
        if it.is_data():
            if it.ino not in bufs:
                bufs[it.ino] = bytearray(pt.data[it.ino])
            apply_data(bufs[it.ino], it)
        else:
            apply_name(ns, it)
    return {p: (ino, bytes(bufs[ino]) if ino in bufs else pt.data[ino])
            for p, ino in ns.items()}


def files_under(root):
    """{path: (('real', inode), content)} of the regular files under root
    (paths as the kernel names them: no symbolic links)."""
    out = {}
    for dirpath, _, names in os.walk(os.path.realpath(root)):
        for name in names:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            with open(p, 'rb') as f:
                out[os.fsencode(p)] = (('real', st.st_ino), f.read())
    return out


# ------------------------------------------------- judging a mailbox

SEQ = re.compile(rb'X-Seq: ([a-z]+-\d+)\r?\n')


def message_ids(piece):
    """The X-Seq values of the test messages in a piece of mailbox (more
    than one: messages glued together)."""
    out = []
    i = piece.find(b'\nX-Seq: ')
    while i >= 0:
        m = SEQ.match(piece, i + 1)
        if m:
            out.append(m.group(1))
        i = piece.find(b'\nX-Seq: ', i + 1)
    return out


def split_messages(data):
    """A file as the scan sees it: bytes before the first message, and
    the messages (a From_ line at the start or after an empty line, to
    the next)."""
    starts = [0] if data.startswith(b'From ') else []
    i = data.find(b'\nFrom ')
    while i >= 0:
        if data[i - 1:i] == b'\n' or data[i - 2:i] == b'\n\r':
            starts.append(i + 1)
        i = data.find(b'\nFrom ', i + 1)
    if not starts:
        return data, []
    pieces = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
    return data[:starts[0]], pieces


def known_messages(sc):
    """Every message of a scenario by its X-Seq: the mailbox's, mail
    delivered during the session and after the crash."""
    out = {}
    for blob in [sc.box.data(), sc.during, sc.after]:
        for piece in split_messages(blob)[1]:
            out[message_ids(piece)[0]] = piece
    return out


def judge(sc, got, known=None):
    """
    Which messages a file lost, corrupted or holds twice, against what
    the scenario allows: every kept message and all mail delivered must be
    there whole, once; deleted ones gone or whole.  {'lost': [...],
    'corrupted': [...], 'duplicated': [...], 'stray': bytes before the
    first message}.
    """
    known = known or known_messages(sc)
    bare = {k: v.rstrip(b'\r\n') for k, v in known.items()}
    deleted = {message_ids(sc.box.msgs[n - 1])[0] for n in sc.delete}
    head, pieces = split_messages(got)
    copies = {k: [] for k in known}
    for piece in pieces:
        ids = message_ids(piece)
        for k in ids:
            # whole: the message, give or take the empty line after it
            whole = len(ids) == 1 and piece.rstrip(b'\r\n') == bare.get(k)
            copies.setdefault(k, []).append(whole)
        if not ids:
            copies.setdefault(b'?', []).append(False)
    lost = sorted(k.decode() for k in known if k not in deleted and
                  not copies[k])
    corrupted = sorted(str(k, 'latin-1') for k, v in copies.items()
                       if not all(v))
    duplicated = sorted(str(k, 'latin-1') for k, v in copies.items()
                        if len(v) > 1)
    return {'lost': lost, 'corrupted': corrupted, 'duplicated': duplicated,
            'stray': len(head)}


# --------------------------------------------- pop3d under power cuts

def traced_update(sc, d, box, mbox, passwd, log):
    """
    The session of scenario sc under strace: DELE, mail delivered, QUIT.
    Returns (QUIT answer, trace path, the files as they were when QUIT was
    sent).
    """
    trace = os.path.join(d, 'trace')
    snap = {}
    ms.clean_mailbox(mbox, sc.box.data())
    answer = ms.run_update(sc, mbox, passwd, wrap=strace_args(trace),
                           log=log,
                           before_quit=lambda: snap.update(files_under(box)))
    return answer, trace, snap


def write_state(box, mbox, keep_dir, files, mbox_ino):
    """
    Make the directory box hold exactly the files of a crash state.  The
    mailbox keeps the inode it had (the journal names it): it is written
    in place, or parked in keep_dir while a state has no mailbox.  Other
    files are made new, their times an hour old: the machine was down a
    while, and any lock file left is stale by every delivery agent's rules.
    """
    parked = os.path.join(keep_dir, 'mbox')
    bmbox = os.fsencode(mbox)
    for name in os.listdir(box):
        p = os.path.join(box, name)
        if p != mbox:
            os.unlink(p)
    here = os.path.exists(mbox) and os.stat(mbox).st_ino == mbox_ino[1]
    if os.path.exists(mbox) and not here:
        os.unlink(mbox)         # a new file of the last state
    want = bmbox in files and files[bmbox][0] == mbox_ino
    if want and not here:
        os.rename(parked, mbox)
    elif here and not want:
        os.rename(mbox, parked)
    old = time.time() - 3600
    for p, (ino, data) in files.items():
        if p == bmbox and ino == mbox_ino:
            with open(p, 'r+b') as f:
                f.write(data)
                f.truncate(len(data))
        else:
            with open(p, 'wb') as f:
                f.write(data)
            os.chmod(p, 0o600)
            os.utime(p, (old, old))


def recover_and_judge(sc, mbox, passwd, log, known=None):
    """Mail delivered after the crash, then a session logs in (the
    recovery), STAT, QUIT.  Returns (outcome, problems, judgement)."""
    if sc.after:
        ms.deliver(mbox, sc.after)
    if os.path.exists(log):
        os.unlink(log)
    try:
        ok, st, q = ms.stat_of(mbox, passwd, log=log)
    except Exception as e:      # a hung session: its own failure
        ok = st = q = None
        problems = ['recovery session: %s' % e]
    else:
        problems = []
    if ok is None or not ok.startswith(b'+OK'):
        problems.append('recovery session: PASS answered %r' % ok)
    elif q is None or not q.startswith(b'+OK'):
        problems.append('recovery session: QUIT answered %r' % q)
    got = ms.read_file(mbox) if os.path.exists(mbox) else b''
    which = [name for name, want in sc.outcomes() if got == want]
    j = judge(sc, got, known)
    if not which:
        problems.append('mailbox is neither the original nor the planned '
                        'result: lost %s, corrupted %s, duplicated %s%s' % (
                            j['lost'], j['corrupted'], j['duplicated'],
                            ', %d stray bytes in front' % j['stray']
                            if j['stray'] else ''))
    for suffix in ('.pop3d', '.lock'):
        if os.path.exists(mbox + suffix):
            problems.append('%s left after the recovery session' % suffix)
    if problems:
        problems.append('log: ' + ms.tail_of(log, 600).replace('\n', ' | '))
    return (which[0] if which else None), problems, j


def run_task(args):
    """
    One worker's share of one scenario: its own traced update (the
    mailbox inode must be its own), the crash states from it, and every
    jobs-th state from number k.  Returns a dict of counts and examples.
    """
    sc, k, jobs = args
    t0 = time.time()
    d = os.path.realpath(ms.workdir('powercut%d' % k))
    box = os.path.join(d, 'box')
    keep_dir = os.path.join(d, 'keep')
    os.mkdir(box)
    os.mkdir(keep_dir)
    mbox = os.path.join(box, 'mbox')
    passwd = os.path.join(d, 'passwd')
    log = os.path.join(d, 'log')
    res = {'k': k, 'error': None, 'states': 0, 'ok': 0, 'outcomes': {},
           'failed': [], 'lost': 0, 'corrupted': 0, 'duplicated': 0,
           'not_ok_answer': 0, 'examples': []}
    try:
        answer, trace, snap = traced_update(sc, d, box, mbox, passwd, log)
        res['answer'] = answer
        res['clean'] = ms.read_file(mbox) == sc.expected()
        mbox_ino = ('real', os.stat(mbox).st_ino)
        model = replay(read_trace(trace), box, os.getcwd(), lambda: snap)
        os.unlink(trace)
        real = {p: data for p, (_, data) in files_under(box).items()}
        res['replayed'] = model.volatile_files() == real
        res['unmodelled'] = model.unmodelled
        res['calls'] = model.calls_after_start
        res['syncs'] = sum(1 for p in model.points if p.kind == 'sample') - 1
        states = crash_states(model, sc.name)
        known = known_messages(sc)
        res['shape'] = (len(model.points), len(states))
        for i, (pi, keep) in enumerate(states):
            if i % jobs != k:
                continue
            pt = model.points[pi]
            files = materialize(pt, keep)
            write_state(box, mbox, keep_dir, files, mbox_ino)
            which, problems, j = recover_and_judge(sc, mbox, passwd, log,
                                                   known)
            res['states'] += 1
            res['outcomes'][which] = res['outcomes'].get(which, 0) + 1
            for what in ('lost', 'corrupted', 'duplicated'):
                res[what] += len(j[what])
            if problems:
                res['failed'].append((pt.label, len(keep),
                                      len(pt.pending), j))
                if problems[0].startswith('recovery session'):
                    res['not_ok_answer'] += 1
                if len(res['examples']) < 3:
                    res['examples'].append(
                        'crash %s, %d of %d pending items kept:\n  %s' % (
                            pt.label, len(keep), len(pt.pending),
                            '\n  '.join(problems)))
            else:
                res['ok'] += 1
    except Exception:       # noqa: B902 - reported, never hidden
        res['error'] = traceback.format_exc()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    res['seconds'] = time.time() - t0
    return res
