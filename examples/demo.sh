#!/bin/bash
# The classic POP3 session against a copy of examples/demo.mbox: each
# command is sent only after the previous answer arrived, so the
# transcript reads as a client would see it.  C: client, S: server.
set -eu
cd "$(dirname "$0")/.."
pop3d=${POP3D:-./pop3d}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp examples/demo.mbox "$tmp/mbox"
# As root pop3d reads the client before login as the account pop3d in
# /var/lib/pop3d/empty; where they are not made yet, nobody in an empty
# directory of our own stands in.
prelogin=()
if [ "$(id -u)" = 0 ] && ! getent passwd pop3d >/dev/null; then
	mkdir -m 755 "$tmp/empty"
	prelogin=(-U nobody -R "$tmp/empty")
fi

coproc POP { exec "$pop3d" -f "$tmp/mbox" -p examples/demo.passwd -e \
    "${prelogin[@]}" 2>"$tmp/log"; }
pid=$POP_PID

answer() {	# print one answer; multi-line ones end with a lone "."
	local line multi=$1
	IFS= read -r -t 5 line <&"${POP[0]}"
	line=${line%$'\r'}
	echo "S: $line"
	[ "$multi" = 1 ] && [ "${line#+OK}" != "$line" ] || return 0
	while IFS= read -r -t 5 line <&"${POP[0]}"; do
		line=${line%$'\r'}
		echo "S: $line"
		[ "$line" = "." ] && break
	done
}

answer 0
while read -r multi cmd; do
	echo "C: $cmd"
	printf '%s\r\n' "$cmd" >&"${POP[1]}"
	answer "$multi"
done <<'SCRIPT'
1 CAPA
0 USER jack
0 PASS password
0 STAT
1 LIST
1 UIDL
1 RETR 1
1 TOP 2 0
1 RETR 2
0 DELE 1
0 DELE 3
0 STAT
0 QUIT
SCRIPT
wait "$pid" 2>/dev/null || true
echo
echo "Log (-e sends it to stderr):"
sed 's/^/  /' "$tmp/log"
echo
echo "The mailbox now holds $(grep -c '^From ' "$tmp/mbox") messages:"
grep '^Subject:' "$tmp/mbox" | sed 's/^/  /'
