#!/bin/bash
# Scripted sessions: t/sessions/NAME.in is what the client sends, NAME.out
# exactly what pop3d must answer (CRLF kept; an APOP timestamp in the
# greeting is replaced by <TS>), NAME.mbox the mailbox before (none: no
# file), NAME.after the mailbox after (none: unchanged), NAME.args extra
# options.  Every session runs twice: cold, with no index, and warm, after
# a session that read the whole mailbox left its index (UIDs too); both
# must give the same bytes and leave the same mailbox, the warm one
# without scanning (its login line says index=hit), and neither may leave
# a lock, a journal or a half-written index behind.
#
# Regenerate an .out only after reading the difference: POP3D_BLESS=1.
set -u
. "$(dirname "$0")/lib.sh"

need_pop3d
setup_tmp
dir=$SESSIONS
prime=$(printf 'USER jack\r\nPASS password\r\nUIDL\r\nQUIT\r\n')
for t in $(cd "$dir" && ls ./*.in | sed 's|^\./||; s|\.in$||'); do
	args=
	[ -f "$dir/$t.args" ] && args=$(cat "$dir/$t.args")
	for run in cold warm; do
		rm -rf "$TMP/box" && mkdir "$TMP/box"
		mbox=$TMP/box/mbox
		[ -e "$dir/$t.mbox" ] && cp "$dir/$t.mbox" "$mbox"
		if [ $run = warm ] && [ -e "$mbox" ]; then
			# shellcheck disable=SC2086
			printf '%s\r\n' "$prime" | "$POP3D" $args -f "$mbox" \
			    -p "$dir/passwd" -e >/dev/null 2>&1
		fi
		# shellcheck disable=SC2086
		"$POP3D" $args -f "$mbox" -p "$dir/passwd" -e <"$dir/$t.in" \
		    >"$TMP/out" 2>"$TMP/log"
		rc=$?
		sed '1s/<[^>]*>/<TS>/' "$TMP/out" >"$TMP/got"
		why=
		if [ -n "${POP3D_BLESS:-}" ] && [ $run = cold ]; then
			cp "$TMP/got" "$dir/$t.out"
		fi
		if ! cmp -s "$TMP/got" "$dir/$t.out"; then
			why="output differs"
			diff <(cat -A "$dir/$t.out") <(cat -A "$TMP/got") |
			    head -20 | sed 's/^/# /'
		fi
		if [ -f "$dir/$t.after" ]; then
			cmp -s "$mbox" "$dir/$t.after" ||
			    why="$why; mailbox differs from $t.after"
		elif [ -e "$dir/$t.mbox" ]; then
			cmp -s "$mbox" "$dir/$t.mbox" || why="$why; mailbox changed"
		else
			[ -e "$mbox" ] && why="$why; a mailbox was created"
		fi
		left=$(cd "$TMP/box" && ls -A | grep -v '^mbox$' |
		    grep -v '^mbox\.pop3d-index$')
		[ -n "$left" ] && why="$why; left behind: $left"
		if [ $run = warm ] && grep -q ' login user=' "$TMP/log" &&
		    ! grep -q ' login user=.* index=\(hit\|none\)$' "$TMP/log"; then
			why="$why; the index was not used"
		fi
		[ $rc -eq 0 ] || why="$why; exit status $rc"
		grep -qi 'sanitizer\|runtime error' "$TMP/log" &&
		    why="$why; sanitizer report"
		[ -z "$why" ]
		ok $? "$t ($run)${why:+: ${why#; }}" ||
		    sed 's/^/# log: /' "$TMP/log" | head -5
	done
done
done_testing
