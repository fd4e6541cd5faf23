#!/bin/bash
# Scripted sessions: t/sessions/NAME.in is what the client sends, NAME.out
# exactly what pop3d must answer (CRLF kept; an APOP timestamp in the
# greeting is replaced by <TS>), NAME.mbox the mailbox before (none: no
# file), NAME.after the mailbox after (none: unchanged), NAME.args extra
# options.  Every session must also leave no lock or journal file behind.
#
# Regenerate an .out only after reading the difference: POP3D_BLESS=1.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
pop3d=${POP3D:-$top/pop3d}
dir=$top/t/sessions
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

tests=$(cd "$dir" && ls ./*.in | sed 's|^\./||; s|\.in$||')
echo "1..$(echo "$tests" | wc -l)"
n=0
fail=0
for t in $tests; do
	n=$((n + 1))
	rm -rf "$tmp/box" && mkdir "$tmp/box"
	mbox=$tmp/box/mbox
	[ -e "$dir/$t.mbox" ] && cp "$dir/$t.mbox" "$mbox"
	args=
	[ -f "$dir/$t.args" ] && args=$(cat "$dir/$t.args")
	# shellcheck disable=SC2086
	"$pop3d" $args -f "$mbox" -p "$dir/passwd" -e <"$dir/$t.in" \
	    >"$tmp/out" 2>"$tmp/log"
	rc=$?
	sed '1s/<[^>]*>/<TS>/' "$tmp/out" >"$tmp/got"
	why=
	if [ -n "${POP3D_BLESS:-}" ]; then
		cp "$tmp/got" "$dir/$t.out"
	fi
	if ! cmp -s "$tmp/got" "$dir/$t.out"; then
		why="output differs"
		diff <(cat -A "$dir/$t.out") <(cat -A "$tmp/got") | head -20 |
		    sed 's/^/# /'
	fi
	if [ -f "$dir/$t.after" ]; then
		cmp -s "$mbox" "$dir/$t.after" || why="$why; mailbox differs from $t.after"
	elif [ -e "$dir/$t.mbox" ]; then
		cmp -s "$mbox" "$dir/$t.mbox" || why="$why; mailbox changed"
	else
		[ -e "$mbox" ] && why="$why; a mailbox was created"
	fi
	left=$(cd "$tmp/box" && ls -A | grep -v '^mbox$')
	[ -n "$left" ] && why="$why; left behind: $left"
	[ $rc -eq 0 ] || why="$why; exit status $rc"
	grep -qi 'sanitizer\|runtime error' "$tmp/log" && why="$why; sanitizer report"
	if [ -z "$why" ]; then
		echo "ok $n - $t"
	else
		echo "not ok $n - $t: ${why#; }"
		sed 's/^/# log: /' "$tmp/log" | head -5
		fail=1
	fi
done
exit $fail
