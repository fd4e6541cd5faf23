#!/usr/bin/env bash
# Python's poplib (t/poplib-client.py) against pop3d behind a launcher on a
# loopback port: every poplib command, messages compared byte for byte.

. "$(dirname "$0")/launch-lib.sh"

need python3
need_launcher
need_pop3d
setup_tmp
clients_fixture
start_any_launcher

timeout 120 python3 "$TOP/t/poplib-client.py" "$PORT" "$TMP/expected" \
    >"$TMP/poplib.out" 2>"$TMP/poplib.err"
status=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok 0 "${line#ok - }" ;;
	"not ok - "*) ok 1 "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done <"$TMP/poplib.out"
[ "$status" -eq 0 ]
ok $? "poplib-client.py ran to its end" || diag_file "$TMP/poplib.err"

# What the session left: messages 1..N but the second.
mail_files expected "$MBOX" "$TMP/after"
mkdir -p "$TMP/expected-after"
n=0
for f in $(ls "$TMP/expected" | sort -n); do
	[ "$f" = 2 ] && continue
	n=$((n + 1))
	cp "$TMP/expected/$f" "$TMP/expected-after/$n"
done
same_dir "$TMP/expected-after" "$TMP/after" \
    "the mailbox lost message 2 and kept the others byte for byte"

done_testing
