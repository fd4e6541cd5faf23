#!/bin/bash
# PIPELINING: answers to a batch of commands that arrived together leave
# in one write, not one write per answer; a message's closing "." is in
# the same write as its last line; and answers to a client that waits for
# each reply are not held back.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
pop3d=${POP3D:-$top/pop3d}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..4"
if ! command -v strace >/dev/null; then
	for i in 1 2 3 4; do echo "not ok $i - strace is not installed"; done
	exit 1
fi
cp "$top/t/sessions/mbox/default" "$tmp/mbox"
{
	printf 'USER jack\r\nPASS password\r\n'
	for i in $(seq 100); do printf 'NOOP\r\nSTAT\r\n'; done
	printf 'LIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n'
} >"$tmp/in"
strace -f -e trace=write,writev -o "$tmp/trace" \
    "$pop3d" -f "$tmp/mbox" -p "$top/t/sessions/passwd" <"$tmp/in" >"$tmp/out"
writes=$(grep -c '^[0-9]* *write(1,' "$tmp/trace")
answers=$(grep -c $'\r$' "$tmp/out")
echo "# $answers answer lines left in $writes writes to fd 1"
[ "$writes" -le 2 ] && echo "ok 1 - a pipelined batch leaves in one write" ||
    echo "not ok 1 - $writes writes for one batch"
grep -q '^+OK bye' "$tmp/out" && [ "$answers" -gt 200 ] &&
    echo "ok 2 - every command answered" || echo "not ok 2 - answers missing"

# The terminator of RETR is never a write of its own.
if grep -q 'write(1, "\.\\r\\n", 3)' "$tmp/trace"; then
	echo "not ok 3 - a lone terminator write"
else
	echo "ok 3 - no lone terminator write"
fi

# A client that waits for each answer gets it: with the input held open,
# the greeting and the USER answer arrive before more is sent.
mkfifo "$tmp/fifo"
"$pop3d" -f "$tmp/mbox" -p "$top/t/sessions/passwd" <"$tmp/fifo" >"$tmp/out2" &
pid=$!
exec 3>"$tmp/fifo"
printf 'USER jack\r\n' >&3
for i in $(seq 50); do
	[ "$(grep -c $'\r$' "$tmp/out2")" -ge 2 ] && break
	sleep 0.1
done
got=$(grep -c $'\r$' "$tmp/out2")
printf 'QUIT\r\n' >&3
exec 3>&-
wait $pid
[ "$got" -ge 2 ] && echo "ok 4 - an interactive client is answered at once" ||
    echo "not ok 4 - answer held back ($got lines)"
