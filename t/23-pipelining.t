#!/bin/bash
# PIPELINING: answers to a batch of commands that arrived together leave
# in one write, not one write per answer; a message's closing "." is in
# the same write as its last line; and answers to a client that waits for
# each reply are not held back.
set -u
. "$(dirname "$0")/lib.sh"

need strace
need_pop3d
setup_tmp
cp "$SESSIONS/mbox/default" "$TMP/mbox"
{
	printf 'USER jack\r\nPASS password\r\n'
	for i in $(seq 100); do printf 'NOOP\r\nSTAT\r\n'; done
	printf 'LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n'
} >"$TMP/in"
# LeakSanitizer cannot work under ptrace: off for this run of an ASan build.
ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0 \
    strace -f -e trace=write,writev -o "$TMP/trace" \
    "$POP3D" -f "$TMP/mbox" -p "$SESSIONS/passwd" <"$TMP/in" >"$TMP/out"
writes=$(grep -c '^[0-9]* *write(1,' "$TMP/trace")
answers=$(grep -c $'\r$' "$TMP/out")
diag "$answers answer lines left in $writes writes to fd 1"
[ "$writes" -le 2 ]
ok $? "a pipelined batch leaves in one write" || diag "$writes writes for one batch"
grep -q '^+OK bye' "$TMP/out" && [ "$answers" -gt 200 ]
ok $? "every command answered" || diag "answers missing"

# The terminator of RETR is never a write of its own.
! grep -q 'write(1, "\.\\r\\n", 3)' "$TMP/trace"
ok $? "no lone terminator write"

# A client that waits for each answer gets it: with the input held open,
# the greeting and the USER answer arrive before more is sent.
mkfifo "$TMP/fifo"
"$POP3D" -f "$TMP/mbox" -p "$SESSIONS/passwd" <"$TMP/fifo" >"$TMP/out2" &
pid=$!
exec 3>"$TMP/fifo"
printf 'USER jack\r\n' >&3
for i in $(seq 50); do
	[ "$(grep -c $'\r$' "$TMP/out2")" -ge 2 ] && break
	sleep 0.1
done
got=$(grep -c $'\r$' "$TMP/out2")
printf 'QUIT\r\n' >&3
exec 3>&-
wait_gone "$pid" 100 || kill "$pid"
wait "$pid"
[ "$got" -ge 2 ]
ok $? "an interactive client is answered at once" || diag "answer held back ($got lines)"
done_testing
