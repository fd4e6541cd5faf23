"""Helpers for the python tests in t/: TAP output, a pop3d session driven
through pipes, a launcher on loopback, and the digests clients compute.

Every wait is bounded; only processes started here are ever killed.
"""
import atexit
import base64
import hashlib
import hmac
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POP3D = os.path.join(TOP, "pop3d")
# The same program with a 50 ms failure delay, for tests of refusals.
FASTFAIL = os.path.join(TOP, "pop3d-fastfail")
AUTH_FAIL = b"-ERR [AUTH] invalid user name or password"


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
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

    def skip_all(self, why):
        print("1..0 # SKIP " + why)
        sys.exit(0)

    def bail(self, why):
        print("Bail out! " + why)
        sys.exit(1)

    def done(self):
        print("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)


def need(tap, *tools):
    """Tools a test cannot do without: skip, but fail under CI=true."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI") == "true":
            tap.bail("missing under CI: " + " ".join(missing))
        tap.skip_all("not installed: " + " ".join(missing))


def need_root(tap):
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            tap.bail("this test needs root under CI")
        tap.skip_all("needs root")


def build(tap):
    """pop3d and pop3d-fastfail, up to date (make check builds both)."""
    r = subprocess.run(["make", "-s", "-C", TOP, "pop3d", "pop3d-fastfail"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    if r.returncode != 0:
        tap.bail("make failed: " + r.stdout.decode(errors="replace"))


def tmpdir(name):
    """A directory removed when the test ends."""
    d = tempfile.mkdtemp(prefix=name + ".",
                         dir=os.environ.get("TMPDIR", "/tmp"))
    atexit.register(shutil.rmtree, d, True)
    return d


def write(path, data, mode=0o600):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def mbox(n):
    """An mbox of n small messages."""
    out = []
    for i in range(1, n + 1):
        out.append("From sender@example.org Mon Jan  1 00:00:0%d 2024\n"
                   "From: sender@example.org\nSubject: message %d\n\n"
                   "body of message %d\n\n" % (i % 10, i, i))
    return "".join(out).encode()


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


class Session:
    """One pop3d process with its stdin and stdout as the connection."""

    def __init__(self, args, binary=FASTFAIL, preexec=None):
        self.p = subprocess.Popen([binary, "-e"] + args,
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  preexec_fn=preexec)
        self.buf = b""
        self.eof = False
        self.greeting = self.line()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self.p.stdin.write(data + b"\r\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass

    def line(self, timeout=10):
        """The next line without CR LF, or None at end of output."""
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from pop3d")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if chunk:
                    self.buf += chunk
                else:
                    self.eof = True
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line[:-1] if line.endswith(b"\r") else line

    def cmd(self, data, timeout=10):
        self.send(data)
        return self.line(timeout)

    def multi(self):
        """The lines of a multi-line answer, up to the final dot."""
        lines = []
        while True:
            line = self.line()
            if line is None or line == b".":
                return lines
            lines.append(line)

    def closed(self, timeout=10):
        """True when pop3d has ended its side (output at EOF)."""
        try:
            return self.line(timeout) is None
        except TimeoutError:
            return False

    def finish(self, timeout=10):
        """Close stdin, wait for the exit; (status, stderr text)."""
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
        err = self.p.stderr.read().decode(errors="replace")
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode, err

    def stamp(self):
        g = self.greeting or b""
        if b"<" not in g:
            return None
        return g[g.index(b"<"):g.rindex(b">") + 1]


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


class Launcher:
    """pop3d behind systemd-socket-activate on 127.0.0.1, a random port
    in 20000-29999, retried on collision; its log in self.log."""

    def __init__(self, args, binary=FASTFAIL, logdir=None):
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
