"""The one helper module of the Python tests in t/: where things are, TAP
output, what a test cannot do without (skipped here, a failure under
CI=true), temporary directories, a pop3d session driven through pipes, a
scripted session and its answers, a launcher on loopback, and the digests
clients compute.  t/mboxsafe.py adds the data-safety tests' own pieces.

A test starts:

    import os, sys
    sys.dont_write_bytecode = True	# no __pycache__ left in t/
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pop3lib import Tap, Session, need_pop3d, ...

Every wait is bounded; only processes started here are ever killed.
"""
import atexit
import base64
import grp
import hashlib
import hmac
import os
import random
import select
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time

# --------------------------------------------------------------- paths

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# POP3D and POP3D_FASTFAIL name other builds (make check-asan).
POP3D = os.path.abspath(os.environ.get("POP3D", os.path.join(TOP, "pop3d")))
# The same program with a 50 ms failure delay, for tests of refusals.
FASTFAIL = os.path.abspath(os.environ.get(
    "POP3D_FASTFAIL", os.path.join(TOP, "pop3d-fastfail")))
# The same program with 256 KB update epochs: small mailboxes, many epochs.
EPOCHS = os.path.abspath(os.environ.get(
    "POP3D_EPOCHS", os.path.join(TOP, "pop3d-epochs")))
# The clients' mailbox and users (alice, wonderland): t/4x.
FIXTURES = os.path.join(TOP, "t", "fixtures")
# The scripted sessions of t/20, their mailboxes and users.
SESSIONS = os.path.join(TOP, "t", "sessions")
# Their users: jack ("password"), spacey, hashed (crypt(3)).
PASSWD = os.path.join(SESSIONS, "passwd")
USER, PASSWORD = "jack", "password"


def session_mbox(name="default"):
    """A mailbox of t/sessions/mbox; "default" holds 4 messages, 779
    octets."""
    return os.path.join(SESSIONS, "mbox", name)


AUTH_FAIL = b"-ERR [AUTH] invalid user name or password"

# CI installs every tool the tests use and runs them as root.
CI = os.environ.get("CI") == "true"


# ----------------------------------------------------------------- TAP

class Tap:
    """TAP on standard output: a line per check, the plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        """One check; on failure diag (anything printable) says why."""
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name))
        if not cond and diag is not None:
            for line in str(diag).splitlines():
                print("#   " + line)
        sys.stdout.flush()
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name,
                       "got:  %r\nwant: %r" % (got, want))

    def skip(self, name, why):
        """A check that cannot be made here: skipped, but a failure under
        CI=true, where everything it needs is there."""
        if CI:
            return self.ok(False, "%s (CI=true: %s)" % (name, why))
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, why))
        sys.stdout.flush()
        return False

    def diag(self, text):
        """Comment lines: counts, what was run, what was not."""
        for line in str(text).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP " + why)
        sys.exit(0)

    def bail(self, why):
        """Stop the whole run: nothing after this could mean anything."""
        print("Bail out! " + why)
        sys.exit(1)

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


# ------------------------------------------------ what a test needs

def skip_or_fail(tap, why):
    """What the test cannot do without is missing: skip it here, but fail
    under CI=true, where it would hide a broken setup."""
    if CI:
        tap.ok(False, "%s (CI=true: required)" % why)
        tap.done()
    tap.skip_all(why)


def need(tap, *tools):
    """Tools the test cannot do without, on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        skip_or_fail(tap, "not installed: " + " ".join(missing))


def need_root(tap):
    if os.geteuid() != 0:
        skip_or_fail(tap, "needs root")


def need_pop3d(tap):
    """The build under test: without it the run means nothing."""
    if not os.access(POP3D, os.X_OK):
        tap.bail("%s not built: run make" % POP3D)


def make_env():
    """The environment for make: without the CC and CFLAGS that a sanitizer
    run (make check-asan) gives the tests for their own C, which would
    rebuild the plain pop3d with them (make tracks the flags)."""
    env = dict(os.environ)
    for var in ("CC", "CFLAGS", "CPPFLAGS", "LDFLAGS"):
        env.pop(var, None)
    return env


def project_flags():
    """The project's preprocessor and warning flags (flags.mk), -Werror
    included, for the C a test builds of its own."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", TOP,
                        "flags"], stdout=subprocess.PIPE, env=make_env(),
                       universal_newlines=True, timeout=60)
    return r.stdout.split() + ["-Werror"]


def build(tap, *targets):
    """pop3d and pop3d-fastfail (or the targets named), up to date (make
    check builds both), for the tests that are run alone after an edit."""
    r = subprocess.run(["make", "-s", "-C", TOP] +
                       (list(targets) or ["pop3d", "pop3d-fastfail"]),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=make_env(), timeout=300)
    if r.returncode != 0:
        tap.bail("make failed: " + r.stdout.decode(errors="replace"))
    need_pop3d(tap)


# ------------------------------------------------------------ files

def tmpdir(name, mode=None):
    """A directory of our own, removed when the test ends (also when it
    dies of an exception); mode when others must reach into it."""
    d = tempfile.mkdtemp(prefix="pop3d-%s." % name,
                         dir=os.environ.get("TMPDIR", "/tmp"))
    atexit.register(shutil.rmtree, d, True)
    if mode is not None:
        os.chmod(d, mode)
    return d


def write(path, data, mode=0o600):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mail_spool(parent, name="spool", mode=0o2775):
    """A spool directory like Debian's /var/mail: root:mail 2775."""
    d = os.path.join(parent, name)
    os.mkdir(d)
    os.chown(d, 0, grp.getgrnam("mail").gr_gid)
    os.chmod(d, mode)
    return d


def user_mailbox(path, pw, data, mode=0o660):
    """A mailbox as Debian's delivery agents leave it: the user's, group
    mail, 0660."""
    write(path, data, mode)
    os.chown(path, pw.pw_uid, grp.getgrnam("mail").gr_gid)


def mbox(n):
    """An mbox of n small messages."""
    out = []
    for i in range(1, n + 1):
        out.append("From sender@example.org Mon Jan  1 00:00:0%d 2024\n"
                   "From: sender@example.org\nSubject: message %d\n\n"
                   "body of message %d\n\n" % (i % 10, i, i))
    return "".join(out).encode()


# ------------------------------------------------------------ digests

def hash_password(password):
    """A crypt(3) hash made by pop3d -P itself."""
    r = subprocess.run([POP3D, "-P"], input=password.encode() + b"\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return r.stdout.decode().strip()


def apop_digest(stamp, secret):
    return hashlib.md5(stamp + secret.encode()).hexdigest()


def cram_response(user, secret, challenge_b64):
    challenge = base64.b64decode(challenge_b64, validate=True)
    digest = hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()
    return base64.b64encode((user + " " + digest).encode())


def plain_response(authzid, user, password):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                            .encode())


# ------------------------------------------------- POP3 over pipes

def _bytes(data):
    return data.encode() if isinstance(data, str) else data


def unstuff(line):
    """A line of a multi-line answer as a client reads it."""
    return line[1:] if line.startswith(b".") else line


class Session:
    """
    One pop3d process whose standard input and output are the connection,
    as under inetd, run as BINARY -e ARGS.  binary defaults to POP3D
    (FASTFAIL when refusals should cost 50 ms, not a second); pre is a
    command to run it with (setpriv ...); wrap a tracer in front of that
    (strace ...), under which LeakSanitizer cannot work and is turned off.
    pop3d's log (standard error) is appended to the file log, or kept for
    finish().  The greeting is read at once into self.greeting.

    Lines come without their CR LF; every read waits at most timeout
    seconds, then raises TimeoutError.
    """

    def __init__(self, args, binary=POP3D, pre=(), wrap=(), log=None,
                 env=None, timeout=30):
        if wrap:
            env = dict(env if env is not None else os.environ)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
                ":detect_leaks=0"
        self.log = open(log, "ab") if log else None
        self.p = subprocess.Popen(
            list(pre) + list(wrap) + [binary, "-e"] + list(args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log or subprocess.PIPE, env=env)
        self.timeout = timeout
        self.buf = b""
        self.pos = 0
        self.eof = False
        try:
            self.greeting = self.line()
        except TimeoutError:
            self.finish(0)
            raise

    def send(self, data):
        """A line (str or bytes) and CR LF; False when pop3d is gone."""
        try:
            self.p.stdin.write(_bytes(data) + b"\r\n")
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def line(self, timeout=None):
        """The next line without CR LF; at the end of the output what is
        left of a line cut short, then None."""
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        fd = self.p.stdout.fileno()
        end = self.buf.find(b"\n", self.pos)
        while end < 0 and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from pop3d")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if chunk:
                    self.buf = self.buf[self.pos:] + chunk
                    self.pos = 0
                    end = self.buf.find(b"\n")
                else:
                    self.eof = True
        if end < 0:
            rest, self.buf, self.pos = self.buf[self.pos:], b"", 0
            return rest or None
        line = self.buf[self.pos:end]
        self.pos = end + 1
        return line[:-1] if line.endswith(b"\r") else line

    def cmd(self, data, timeout=None):
        """Send a command, read its status line; None when pop3d is gone."""
        if not self.send(data):
            return None
        return self.line(timeout)

    def multi(self):
        """The lines of a multi-line answer up to the final dot, as a
        client reads them (dot-stuffing undone)."""
        lines = []
        while True:
            line = self.line()
            if line is None or line == b".":
                return lines
            lines.append(unstuff(line))

    def login(self, user=USER, password=PASSWORD):
        """USER and PASS; the PASS answer, or the greeting when that was
        no +OK (None: pop3d said nothing)."""
        if self.greeting is None or not self.greeting.startswith(b"+OK"):
            return self.greeting
        self.cmd("USER " + user)
        return self.cmd("PASS " + password)

    def closed(self, timeout=None):
        """True when pop3d has ended its side (output at EOF)."""
        try:
            return self.line(timeout) is None
        except TimeoutError:
            return False

    def finish(self, timeout=None):
        """Close stdin, wait for the exit (then kill); (status, the log
        text unless it went to a file)."""
        try:
            self.p.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.p.wait(self.timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
        err = b""
        if self.p.stderr:
            # to its end, unless a child of pop3d's still holds it
            fd = self.p.stderr.fileno()
            deadline = time.monotonic() + 5
            while select.select([fd], [], [], max(
                    0, deadline - time.monotonic()))[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                err += chunk
            self.p.stderr.close()
        self.p.stdout.close()
        if self.log:
            self.log.close()
        return self.p.returncode, err.decode(errors="replace")

    def stamp(self):
        g = self.greeting or b""
        if b"<" not in g:
            return None
        return g[g.index(b"<"):g.rindex(b">") + 1]


# --------------------------------------------- a scripted session

MULTILINE_ALWAYS = {"RETR", "TOP", "CAPA"}
MULTILINE_WITHOUT_ARG = {"LIST", "UIDL", "AUTH"}


def is_multiline(command):
    """Whether +OK to this command starts a multi-line answer."""
    words = (command.decode("latin-1") if isinstance(command, bytes)
             else command).split()
    if not words:
        return False
    verb = words[0].upper()
    return verb in MULTILINE_ALWAYS or (verb in MULTILINE_WITHOUT_ARG and
                                        len(words) == 1)


class Answer:
    """One command's answer: the status line and, for a multi-line
    answer, its lines as a client reads them (else None)."""

    def __init__(self, command, status, lines=None):
        self.command = command
        self.status = status
        self.lines = lines

    @property
    def ok(self):
        return self.status.startswith(b"+OK")

    @property
    def body(self):
        """The lines LF-ended, as a client saves them; None if not
        multi-line."""
        if self.lines is None:
            return None
        return b"".join(line + b"\n" for line in self.lines)


def parse_answers(data, commands):
    """What pop3d sent to these commands: (greeting, [Answer, ...]),
    the list ending where the output does."""
    pos = 0

    def line():
        nonlocal pos
        end = data.find(b"\r\n", pos)
        if end < 0:
            return None
        text = data[pos:end]
        pos = end + 2
        return text

    greeting = line()
    answers = []
    for command in commands:
        status = line()
        if status is None:
            break
        lines = None
        if status.startswith(b"+OK") and is_multiline(command):
            lines = []
            while True:
                text = line()
                if text is None or text == b".":
                    break
                lines.append(unstuff(text))
        answers.append(Answer(command, status, lines))
    return greeting, answers


def talk(args, commands, binary=POP3D, pre=(), timeout=60):
    """
    A pipelining client: every command at once, then the end of input,
    to BINARY -e ARGS run by pre.  Returns (greeting, answers, the ended
    process with its stdout and stderr).
    """
    script = b"".join(_bytes(c) + b"\r\n" for c in commands)
    p = subprocess.run(list(pre) + [binary, "-e"] + list(args),
                       input=script, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    greeting, answers = parse_answers(p.stdout, commands)
    return greeting, answers, p


# --------------------------------------------------- processes, launcher

def proc_status(pid):
    """/proc/PID/status as a dict of its fields."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_limits(pid):
    """/proc/PID/limits: {name: [soft, hard]}."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.readlines()[1:]:
            out[line[:26].strip()] = line[26:].split()[:2]
    return out


def proc_ids(pid):
    """(uids, gids, groups) of a process, as /proc reports them."""
    uids = gids = groups = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key == "Uid":
                uids = [int(x) for x in val.split()]
            elif key == "Gid":
                gids = [int(x) for x in val.split()]
            elif key == "Groups":
                groups = sorted(int(x) for x in val.split())
    return uids, gids, groups


class Accounts:
    """
    System accounts a test creates (useradd -M, chpasswd), named with a
    random tag, and removes when it ends.  add() returns the name; sh()
    runs an account tool, retrying while another useradd holds the lock
    on /etc/passwd.
    """

    def __init__(self, tap):
        self.tap = tap
        self.tag = "p3t" + "".join(random.choice(
            string.ascii_lowercase + string.digits) for _ in range(6))
        self.created = []
        atexit.register(self.remove)

    def sh(self, *argv, stdin=None):
        for _ in range(50):
            r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            if r.returncode == 0:
                return
            if b"lock" not in r.stdout:
                break
            time.sleep(0.2)
        self.tap.bail("%s: %s" % (" ".join(argv),
                                  r.stdout.decode(errors="replace")))

    def add(self, suffix, password=None, extra=()):
        name = self.tag + suffix
        self.created.append(name)
        self.sh("useradd", "-M", "-N", "-g", "users", "-d", "/nonexistent",
                "-s", "/usr/sbin/nologin", *extra, name)
        if password is not None:
            self.sh("chpasswd", stdin=("%s:%s\n" % (name, password)).encode())
        return name

    def remove(self):
        for name in self.created:
            subprocess.run(["userdel", "-f", name], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)


class Launcher:
    """BINARY -e ARGS behind systemd-socket-activate on 127.0.0.1, a
    random port in 20000-29999, retried on collision; its log in
    self.log."""

    def __init__(self, args, binary=POP3D, logdir=None):
        self.log = os.path.join(logdir or tmpdir("launcher"), "pop3d.log")
        for _ in range(20):
            self.port = random.randint(20000, 29999)
            self.logf = open(self.log, "ab")
            self.p = subprocess.Popen(
                ["systemd-socket-activate", "-l",
                 "127.0.0.1:%d" % self.port, "--inetd", "-a",
                 binary, "-e"] + args,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self.logf, start_new_session=True)
            if self._listening():
                return
            self.stop()
        raise RuntimeError("no free port for the launcher")

    def _listening(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                return False	# could not bind: another port
            with open("/proc/net/tcp") as f:
                want = ":%04X" % self.port
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[1] == "0100007F" + want and fields[3] == "0A":
                        return True
            time.sleep(0.05)
        return False

    def stop(self):
        if self.p.poll() is None:
            # our launcher and the sessions it started share its group
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
        self.logf.close()

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()


# ------------------------------------ routers' CPUs: cross builds, qemu

# The architectures cross/build.sh builds pop3d for, with Debian's cross
# compiler (its triplet) and the qemu-user that runs the result.
CROSS = {
    "mips": ("mips-linux-gnu", "qemu-mips"),	# 32-bit big-endian
    "armhf": ("arm-linux-gnueabihf", "qemu-arm"),
    "arm64": ("aarch64-linux-gnu", "qemu-aarch64"),
}


def cross_pop3d(tap, archs):
    """
    pop3d built statically for each architecture by cross/build.sh (from
    Debian's cross compilers and libxcrypt's source, once, under
    cross/out), and a wrapper that runs it under qemu-user, named
    explicitly rather than through binfmt_misc, which a container may
    lack: {arch: (binary, wrapper)}.  Missing tools or Debian sources skip
    the test (a failure under CI=true); a failed build is a failed check.
    """
    tools = ["apt-get", "dpkg-source", "autoreconf", "libtoolize", "make",
             "flock"]
    for arch in archs:
        tools += [CROSS[arch][0] + "-gcc", CROSS[arch][1]]
    need(tap, *tools)
    script = os.path.join(TOP, "cross", "build.sh")
    r = subprocess.run(["sh", script, "fetch"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=make_env(), timeout=600)
    if r.returncode != 0:
        skip_or_fail(tap, "Debian sources for cross/build.sh: " +
                     r.stdout.decode(errors="replace").strip())
    r = subprocess.run(["sh", script, "pop3d"] + list(archs),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=make_env(), timeout=1800)
    if not tap.ok(r.returncode == 0, "cross/build.sh pop3d " +
                  " ".join(archs), r.stdout.decode(errors="replace")):
        tap.done()
    d = tmpdir("cross")
    built = {}
    for arch in archs:
        binary = os.path.join(TOP, "cross", "out", "pop3d-" + arch)
        wrapper = os.path.join(d, "pop3d-" + arch)
        write(wrapper, '#!/bin/sh\nexec %s %s "$@"\n' % (CROSS[arch][1],
                                                         binary), 0o755)
        built[arch] = (binary, wrapper)
    return built
