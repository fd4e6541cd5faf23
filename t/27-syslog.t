#!/bin/bash
# Without -e the log goes to the syslog daemon: one datagram a line on
# /dev/log, facility mail, tagged pop3d[PID].  The test runs pop3d in a
# private mount namespace whose /dev/log is a socket of its own.
set -u
. "$(dirname "$0")/lib.sh"

# root and unshare(1), for a private /dev/log
need_root
need unshare python3
need_pop3d
setup_tmp
mkdir "$TMP/dev"
: >"$TMP/dev/null"
cp "$SESSIONS/mbox/default" "$TMP/mbox"
python3 "$TOP/t/syslog-listen.py" "$TMP/dev/log" "$TMP/got" &
listener=$!
at_exit "kill $listener"
for i in $(seq 50); do [ -S "$TMP/dev/log" ] && break; sleep 0.1; done
printf 'USER jack\r\nPASS nope\r\nUSER jack\r\nPASS password\r\nDELE 1\r\nQUIT\r\n' >"$TMP/in"
unshare --mount sh -c '
	mount --make-rprivate / &&
	mount --bind /dev/null "$1/dev/null" &&
	mount --bind "$1/dev" /dev &&
	exec "$2" -f "$1/mbox" -p "$3" <"$1/in" >"$1/out" 2>"$1/err"
' sh "$TMP" "$POP3D" "$SESSIONS/passwd"
for i in $(seq 50); do
	grep -q 'logout' "$TMP/got" 2>/dev/null && break
	sleep 0.1
done
diag_file "$TMP/got"
pid='[0-9][0-9]*'
grep -q "^<21>pop3d\[$pid\]: auth failed user=jack from=- method=pass$" "$TMP/got"
ok $? "a failed login: mail.notice" || diag "auth failed line"
grep -q "^<22>pop3d\[$pid\]: login user=jack from=- msgs=4 bytes=779 index=miss$" "$TMP/got"
ok $? "login: mail.info" || diag "login line"
grep -q "^<22>pop3d\[$pid\]: logout user=jack retr=0 dele=1 left=3 bytes=603$" "$TMP/got"
ok $? "logout: mail.info" || diag "logout line"
[ ! -s "$TMP/err" ]
ok $? "nothing on stderr" || diag_file "$TMP/err"
grep -q '^+OK bye' "$TMP/out"
ok $? "the session ran" || diag_file "$TMP/out"
done_testing
