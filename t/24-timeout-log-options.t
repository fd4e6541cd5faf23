#!/bin/bash
# The idle timeout, the log lines, and the command line.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
pop3d=${POP3D:-$top/pop3d}
pw=$top/t/sessions/passwd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
check() {	# check NAME COMMAND...: a test passes when the command does
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; fail=1; fi
}
echo "1..17"
cp "$top/t/sessions/mbox/default" "$tmp/mbox"

# A client that says nothing more after DELE: the timeout ends the session
# with a message, and nothing is deleted.
{ printf 'USER jack\r\nPASS password\r\nDELE 1\r\n'; sleep 4; } |
    "$pop3d" -t 1 -e -f "$tmp/mbox" -p "$pw" >"$tmp/out" 2>"$tmp/log"
check "timeout: -ERR idle for too long" grep -q $'^-ERR idle for too long, closing\r$' "$tmp/out"
check "timeout: nothing deleted" cmp -s "$tmp/mbox" "$top/t/sessions/mbox/default"
check "timeout: logged" grep -q 'timeout user=jack' "$tmp/log"
check "timeout: no lock file left" test ! -e "$tmp/mbox.pop3d" -a ! -e "$tmp/mbox.lock"

# Log lines: login and logout, with counts.
printf 'USER jack\r\nPASS password\r\nRETR 1\r\nDELE 2\r\nQUIT\r\n' |
    "$pop3d" -e -f "$tmp/mbox" -p "$pw" >"$tmp/out" 2>"$tmp/log"
check "log: login line" grep -q '^pop3d\[[0-9]*\]: login user=jack from=- msgs=4 bytes=779$' "$tmp/log"
check "log: logout line" grep -q '^pop3d\[[0-9]*\]: logout user=jack retr=1 dele=1 left=3 bytes=503$' "$tmp/log"
printf 'USER jack\r\nPASS nope\r\nQUIT\r\n' |
    REMOTE_ADDR=192.0.2.7 "$pop3d" -e -f "$tmp/mbox" -p "$pw" >"$tmp/out" 2>"$tmp/log"
check "log: failed login with the launcher's address" grep -q 'auth failed user=jack from=192.0.2.7' "$tmp/log"

# Without -e nothing reaches fd 2: under xinetd it is the client's socket.
printf 'USER jack\r\nPASS nope\r\nUSER jack\r\nPASS password\r\nLIST\r\nQUIT\r\n' |
    "$pop3d" -f "$tmp/mbox" -p "$pw" >"$tmp/out" 2>"$tmp/err"
check "no -e: nothing written to stderr" test ! -s "$tmp/err"

# Options.
"$pop3d" -V >"$tmp/out" 2>&1
check "-V prints the version" grep -q '^pop3d [0-9]' "$tmp/out"
"$pop3d" -h >"$tmp/out" 2>"$tmp/err"
check "-h prints usage on stdout, exit 0" test $? -eq 0 -a -s "$tmp/out" -a ! -s "$tmp/err"
"$pop3d" -x >"$tmp/out" 2>"$tmp/err" </dev/null
check "unknown option: exit 64" test $? -eq 64
check "unknown option: usage on stderr, nothing on stdout" grep -q usage "$tmp/err"
"$pop3d" -f </dev/null >"$tmp/out" 2>"$tmp/err"
check "missing argument: exit 64" test $? -eq 64 -a ! -s "$tmp/out"
"$pop3d" -t abc -p "$pw" </dev/null >/dev/null 2>&1
check "-t abc: exit 64" test $? -eq 64
"$pop3d" -p "$pw" extra </dev/null >/dev/null 2>&1
check "stray argument: exit 64" test $? -eq 64
"$pop3d" -m '/var/mail/%x' -p "$pw" </dev/null >/dev/null 2>&1
check "bad -m template: exit 64" test $? -eq 64

# -m maps users to mailboxes; a third passwd field overrides it.
mkdir "$tmp/spool"
cp "$top/t/sessions/mbox/default" "$tmp/spool/jack"
cp "$top/t/sessions/mbox/noeol" "$tmp/other"
printf 'jack:{PLAIN}password\njill:{PLAIN}hill:%s\n' "$tmp/other" >"$tmp/pw"
printf 'USER jack\r\nPASS password\r\nSTAT\r\nQUIT\r\n' |
    "$pop3d" -m "$tmp/spool/%u" -p "$tmp/pw" >"$tmp/out1"
printf 'USER jill\r\nPASS hill\r\nSTAT\r\nQUIT\r\n' |
    "$pop3d" -m "$tmp/spool/%u" -p "$tmp/pw" >"$tmp/out2"
check "-m %u and the passwd mailbox field" \
    eval "grep -q '^+OK 4 779' $tmp/out1 && grep -q '^+OK 2 89' $tmp/out2"
exit $fail
