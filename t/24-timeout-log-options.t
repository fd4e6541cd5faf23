#!/bin/bash
# The idle timeout, the log lines, and the command line.
set -u
. "$(dirname "$0")/lib.sh"

need_pop3d
setup_tmp
pw=$SESSIONS/passwd
cp "$SESSIONS/mbox/default" "$TMP/mbox"

# A client that says nothing more after DELE: the timeout ends the session
# with a message, and nothing is deleted.
{ printf 'USER jack\r\nPASS password\r\nDELE 1\r\n'; sleep 4; } |
    "$POP3D" -t 1 -e -f "$TMP/mbox" -p "$pw" >"$TMP/out" 2>"$TMP/log"
check "timeout: -ERR idle for too long" grep -q $'^-ERR idle for too long, closing\r$' "$TMP/out"
check "timeout: nothing deleted" cmp -s "$TMP/mbox" "$SESSIONS/mbox/default"
check "timeout: logged" grep -q 'timeout user=jack' "$TMP/log"
check "timeout: no lock file left" test ! -e "$TMP/mbox.pop3d" -a ! -e "$TMP/mbox.lock"

# Log lines: login and logout, with counts.
printf 'USER jack\r\nPASS password\r\nRETR 1\r\nDELE 2\r\nQUIT\r\n' |
    "$POP3D" -e -f "$TMP/mbox" -p "$pw" >"$TMP/out" 2>"$TMP/log"
check "log: login line" grep -q '^pop3d\[[0-9]*\]: login user=jack from=- msgs=4 bytes=779 index=miss$' "$TMP/log"
check "log: logout line" grep -q '^pop3d\[[0-9]*\]: logout user=jack retr=1 dele=1 left=3 bytes=503$' "$TMP/log"
printf 'USER jack\r\nPASS nope\r\nQUIT\r\n' |
    REMOTE_ADDR=192.0.2.7 "$POP3D" -e -f "$TMP/mbox" -p "$pw" >"$TMP/out" 2>"$TMP/log"
check "log: failed login with the launcher's address" grep -q 'auth failed user=jack from=192.0.2.7' "$TMP/log"

# Without -e nothing reaches fd 2: under xinetd it is the client's socket.
printf 'USER jack\r\nPASS nope\r\nUSER jack\r\nPASS password\r\nLIST\r\nQUIT\r\n' |
    "$POP3D" -f "$TMP/mbox" -p "$pw" >"$TMP/out" 2>"$TMP/err"
check "no -e: nothing written to stderr" test ! -s "$TMP/err"

# Options.
"$POP3D" -V >"$TMP/out" 2>&1
check "-V prints the version" grep -q '^pop3d [0-9]' "$TMP/out"
"$POP3D" -h >"$TMP/out" 2>"$TMP/err"
check "-h prints usage on stdout, exit 0" test $? -eq 0 -a -s "$TMP/out" -a ! -s "$TMP/err"
"$POP3D" -Z >"$TMP/out" 2>"$TMP/err" </dev/null
check "unknown option: exit 64" test $? -eq 64
check "unknown option: usage on stderr, nothing on stdout" grep -q usage "$TMP/err"
"$POP3D" -f </dev/null >"$TMP/out" 2>"$TMP/err"
check "missing argument: exit 64" test $? -eq 64 -a ! -s "$TMP/out"
"$POP3D" -t abc -p "$pw" </dev/null >/dev/null 2>&1
check "-t abc: exit 64" test $? -eq 64
"$POP3D" -p "$pw" extra </dev/null >/dev/null 2>&1
check "stray argument: exit 64" test $? -eq 64
"$POP3D" -m '/var/mail/%x' -p "$pw" </dev/null >/dev/null 2>&1
check "bad -m template: exit 64" test $? -eq 64

# -m maps users to mailboxes; a third passwd field overrides it.
mkdir "$TMP/spool"
cp "$SESSIONS/mbox/default" "$TMP/spool/jack"
cp "$SESSIONS/mbox/noeol" "$TMP/other"
printf 'jack:{PLAIN}password\njill:{PLAIN}hill:%s\n' "$TMP/other" >"$TMP/pw"
printf 'USER jack\r\nPASS password\r\nSTAT\r\nQUIT\r\n' |
    "$POP3D" -m "$TMP/spool/%u" -p "$TMP/pw" >"$TMP/out1"
printf 'USER jill\r\nPASS hill\r\nSTAT\r\nQUIT\r\n' |
    "$POP3D" -m "$TMP/spool/%u" -p "$TMP/pw" >"$TMP/out2"
check "-m %u and the passwd mailbox field" \
    eval "grep -q '^+OK 4 779' $TMP/out1 && grep -q '^+OK 2 89' $TMP/out2"
done_testing
