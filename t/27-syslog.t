#!/bin/bash
# Without -e the log goes to the syslog daemon: one datagram a line on
# /dev/log, facility mail, tagged pop3d[PID].  The test runs pop3d in a
# private mount namespace whose /dev/log is a socket of its own.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
pop3d=${POP3D:-$top/pop3d}
tmp=$(mktemp -d)
listener=
cleanup() {
	[ -n "$listener" ] && kill "$listener" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
echo "1..5"
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	for i in 1 2 3 4 5; do
		echo "not ok $i - needs root and unshare(1) for a private /dev/log"
	done
	exit 1
fi
mkdir "$tmp/dev"
: >"$tmp/dev/null"
cp "$top/t/sessions/mbox/default" "$tmp/mbox"
python3 - "$tmp/dev/log" "$tmp/got" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
end = time.time() + 20
with open(sys.argv[2], 'ab', buffering=0) as out:
    while time.time() < end:
        try:
            out.write(s.recv(4096) + b'\n')
        except socket.timeout:
            pass
PY
listener=$!
for i in $(seq 50); do [ -S "$tmp/dev/log" ] && break; sleep 0.1; done
printf 'USER jack\r\nPASS nope\r\nUSER jack\r\nPASS password\r\nDELE 1\r\nQUIT\r\n' >"$tmp/in"
unshare --mount sh -c '
	mount --make-rprivate / &&
	mount --bind /dev/null "$1/dev/null" &&
	mount --bind "$1/dev" /dev &&
	exec "$2" -f "$1/mbox" -p "$3" <"$1/in" >"$1/out" 2>"$1/err"
' sh "$tmp" "$pop3d" "$top/t/sessions/passwd"
for i in $(seq 50); do
	grep -q 'logout' "$tmp/got" 2>/dev/null && break
	sleep 0.1
done
sed 's/^/# /' "$tmp/got"
pid='[0-9][0-9]*'
grep -q "^<21>pop3d\[$pid\]: auth failed user=jack from=- method=pass$" "$tmp/got" &&
    echo "ok 1 - a failed login: mail.notice" || echo "not ok 1 - auth failed line"
grep -q "^<22>pop3d\[$pid\]: login user=jack from=- msgs=4 bytes=779$" "$tmp/got" &&
    echo "ok 2 - login: mail.info" || echo "not ok 2 - login line"
grep -q "^<22>pop3d\[$pid\]: logout user=jack retr=0 dele=1 left=3 bytes=603$" "$tmp/got" &&
    echo "ok 3 - logout: mail.info" || echo "not ok 3 - logout line"
[ ! -s "$tmp/err" ] && echo "ok 4 - nothing on stderr" || echo "not ok 4 - stderr: $(cat "$tmp/err")"
grep -q '^+OK bye' "$tmp/out" && echo "ok 5 - the session ran" || echo "not ok 5 - session output"
