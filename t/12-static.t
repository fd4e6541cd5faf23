#!/bin/bash
# make static: a static musl build under 136 KB (139,264 bytes) that
# serves the same session as the regular binary.  Debian's musl has no
# crypt(3), so it is given a password file of {PLAIN} secrets.
set -u
. "$(dirname "$0")/lib.sh"

need musl-gcc
setup_tmp
rm -f "$TOP/pop3d-static"
if ! make -s -C "$TOP" pop3d-static >"$TMP/log" 2>&1; then
	ok 1 "make pop3d-static"
	diag_file "$TMP/log"
	done_testing
fi
size=$(stat -c %s "$TOP/pop3d-static")
diag "pop3d-static: $size bytes"
{ file "$TOP/pop3d-static" 2>/dev/null | grep -q 'statically linked' ||
    ldd "$TOP/pop3d-static" 2>&1 | grep -q 'not a dynamic'; }
ok $? "statically linked"
[ "$size" -lt 139264 ]
ok $? "under 136 KB" || diag "$size bytes"
printf 'USER jack\r\nPASS password\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 3 1\r\nDELE 1\r\nQUIT\r\n' >"$TMP/in"
for bin in pop3d pop3d-static; do
	cp "$SESSIONS/mbox/default" "$TMP/mbox.$bin"
	"$TOP/$bin" -f "$TMP/mbox.$bin" -p "$TOP/examples/demo.passwd" <"$TMP/in" |
	    sed '1s/<[^>]*>//' >"$TMP/out.$bin"
done
cmp -s "$TMP/out.pop3d" "$TMP/out.pop3d-static" &&
    cmp -s "$TMP/mbox.pop3d" "$TMP/mbox.pop3d-static"
ok $? "the same session and the same mailbox as ./pop3d"
done_testing
