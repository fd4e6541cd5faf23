#!/bin/sh
# Every benchmark workload once against pop3d over stdin/stdout, each
# answer verified by popload; a generated mailbox of 20 messages with
# stuffed dots, >From lines, long lines and 8-bit text.  No root, no
# network, no timing checks.  Exit status 0 only if every check passed.
#
#	POP3D=../pop3d ./smoke.sh	(make -C bench smoke)
set -u

here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1
POP3D=${POP3D:-../pop3d}
case $POP3D in /*) ;; *) POP3D=$here/$POP3D ;; esac
[ -x "$POP3D" ] || { echo "smoke: $POP3D: not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pop3d-smoke.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
./genmbox 7 20 > "$tmp/pristine" || exit 1
{
	echo "smoke:{PLAIN}smokepw"
	for i in 1 2 3 4 5; do echo "smoke$i:{PLAIN}smokepw"; done
} > "$tmp/passwd"

n=0
failed=0
check() {	# description, then the command
	desc=$1
	shift
	n=$((n + 1))
	if "$@" > "$tmp/out" 2> "$tmp/err"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/# /' "$tmp/out" "$tmp/err"
		failed=$((failed + 1))
	fi
}

# popload with pop3d on the mailbox, then a condition on its output line.
load() {	# expect-regex popload-args...
	expect=$1
	shift
	./popload -t 60 -u smoke -w smokepw "$@" \
	    -- "$POP3D" -f "$tmp/mbox" -p "$tmp/passwd" > "$tmp/line" || {
		cat "$tmp/line"
		return 1
	}
	cat "$tmp/line"
	grep -Eq "$expect" "$tmp/line"
}
unchanged() {
	cmp "$tmp/pristine" "$tmp/mbox"
}

for mode in "" -P; do
	label=${mode:+pipelined }
	for w in stat list retr top; do
		cp "$tmp/pristine" "$tmp/mbox"
		check "${label}$w" load 'errors=0' $mode $w
		check "${label}$w leaves the mailbox byte-identical" unchanged
	done
	cp "$tmp/pristine" "$tmp/mbox"
	check "${label}top 3" load 'messages=20 .*errors=0' $mode -n 3 top
	cp "$tmp/pristine" "$tmp/mbox"
	check "${label}retr of all 20" load 'messages=20 .*errors=0' $mode retr
	check "${label}dele of all 20" load 'messages=20 .*errors=0' $mode dele
	check "${label}the mailbox is empty after dele" load 'errors=0' empty
	cp "$tmp/pristine" "$tmp/mbox"
	check "${label}dele1" load 'errors=0' $mode dele1
	check "${label}19 intact messages after dele1" \
	    load 'messages=19 .*errors=0' retr
done

concurrent() {
	for i in 1 2 3 4 5; do
		cp "$tmp/pristine" "$tmp/smoke$i" || return 1
	done
	./popload -t 60 -c 5 -u 'smoke%d' -w smokepw retr \
	    -- "$POP3D" -m "$tmp/%u" -p "$tmp/passwd" > "$tmp/line" || {
		cat "$tmp/line"
		return 1
	}
	cat "$tmp/line"
	grep -q 'sessions=5 messages=100 .*errors=0' "$tmp/line"
}
check "5 concurrent sessions on separate mailboxes" concurrent

echo "1..$n"
[ "$failed" = 0 ] || { echo "# smoke: $failed of $n checks failed"; exit 1; }
echo "# smoke: all $n checks passed"
