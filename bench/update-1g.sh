#!/bin/bash
# UPDATE on a 1 GB mailbox with message 1 deleted: every other byte moves
# down by one message.  Prints wall times, the syscalls of the update and
# their block sizes, beside `cat MBOX >/dev/null` on the same file.
# Usage: bench/update-1g.sh [MESSAGES [BYTES-PER-MESSAGE]]  (250000 4096)
# Needs: python3, strace.  Uses $TMPDIR (about 1 GB, removed at the end).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
pop3d=${POP3D:-$top/pop3d}
n=${1:-250000}
size=${2:-4096}
dir=$(mktemp -d "${TMPDIR:-/tmp}/pop3d-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
box=$dir/mbox
printf 'jack:{PLAIN}password\n' >"$dir/passwd"

python3 - "$box" "$n" "$size" <<'PY'
import sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, 'wb', buffering=1 << 20) as f:
    for i in range(1, n + 1):
        head = ('From bench%d@example.org Mon Jan  1 00:00:00 2024\n'
                'Message-ID: <%d@bench>\nSubject: message %d\n\n'
                % (i, i, i)).encode()
        line = b'%d ' % i + b'x' * 70 + b'\n'
        body = line * ((size - len(head) - 1) // len(line))
        pad = size - len(head) - len(body) - 1
        f.write(head + body + b'p' * (pad - 1) + b'\n' * (pad > 0) + b'\n')
PY
bytes=$(stat -c %s "$box")
echo "mailbox: $n messages, $bytes bytes"

secs() { python3 -c 'import sys,time; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$@"; }
now() { date +%s.%N; }

cat "$box" >/dev/null
t0=$(now); cat "$box" >/dev/null; t1=$(now)
echo "cat MBOX >/dev/null (cached): $(secs "$t0" "$t1") s"
t0=$(now); cat "$box" | cat >/dev/null; t1=$(now)
echo "cat MBOX | cat >/dev/null (cached): $(secs "$t0" "$t1") s"
t0=$(now); cp "$box" "$box.copy"; sync "$box.copy"; t1=$(now)
rm -f "$box.copy"
echo "cp MBOX COPY; sync COPY (what a copying update would cost): $(secs "$t0" "$t1") s"

t0=$(now)
printf 'USER jack\r\nPASS password\r\nSTAT\r\nQUIT\r\n' |
    "$pop3d" -f "$box" -p "$dir/passwd" >/dev/null
t1=$(now)
echo "session without deletions (scan): $(secs "$t0" "$t1") s"

cp --reflink=never "$box" "$box.orig" 2>/dev/null || cp "$box" "$box.orig"
t0=$(now)
printf 'USER jack\r\nPASS password\r\nDELE 1\r\nQUIT\r\n' |
    strace -f -o "$dir/trace" -e trace=openat,pread64,pwrite64,pwritev,ftruncate,fdatasync \
    "$pop3d" -f "$box" -p "$dir/passwd" | tail -1 | tr -d '\r'
t1=$(now)
echo "session with DELE 1, under strace: $(secs "$t0" "$t1") s"

cp "$box.orig" "$box"
sync
dev=$(df --output=source "$box" | tail -1 | sed 's|^/dev/||')
written() { awk -v d="$dev" '$3 == d { printf "%.0f\n", $10 * 512 }' /proc/diskstats; }
w0=$(written)
t0=$(now)
printf 'USER jack\r\nPASS password\r\nDELE 1\r\nQUIT\r\n' |
    "$pop3d" -f "$box" -p "$dir/passwd" >/dev/null
t1=$(now)
w1=$(written)
echo "session with DELE 1 (scan + update + fsync): $(secs "$t0" "$t1") s"
[ -n "$w0" ] && echo "written to $dev during it: $(( (w1 - w0) / 1048576 )) MB" \
    "(the whole disk, other processes included)"
cmp -s <(tail -c +$((size + 1)) "$box.orig") "$box" &&
    echo "result: byte-identical to the original less message 1"

python3 - "$dir/trace" <<'PY'
import re, sys
calls = {}
names = {}
for line in open(sys.argv[1]):
    o = re.match(r'\d+\s+openat\(AT_FDCWD, "([^"]*)".* = (\d+)$', line.strip())
    if o:
        names[int(o.group(2))] = o.group(1).rsplit('/', 1)[-1]
        continue
    m = re.match(r'\d+\s+(\w+)\((\d+)[,)].*= (\d+)$', line.strip())
    if not m:
        continue
    name, fd, ret = m.group(1), int(m.group(2)), int(m.group(3))
    c = calls.setdefault((name, fd), [0, 0, 0])
    c[0] += 1
    if name in ('pread64', 'pwrite64', 'pwritev'):
        c[1] += ret
        c[2] = max(c[2], ret)
print('syscalls of the whole session (scan, then update) on:')
for (name, fd), (n, b, big) in sorted(calls.items()):
    what = {'mbox': 'the mailbox', 'mbox.pop3d': 'the journal'}.get(
        names.get(fd), names.get(fd, 'fd %d' % fd))
    if what not in ('the mailbox', 'the journal'):
        continue
    extra = ', %d bytes, %.0f KB average, %d KB largest' % (
        b, b / n / 1024, big / 1024) if b else ''
    print('  %-10s %-12s %6d calls%s' % (name, what, n, extra))
PY
