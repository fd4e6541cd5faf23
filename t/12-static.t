#!/bin/bash
# make static: a static musl build under 100 KB (102,400 bytes) that
# serves the same session as the regular binary.  Debian's musl has no
# crypt(3), so it is given a password file of {PLAIN} secrets.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "1..3"
if ! command -v musl-gcc >/dev/null; then
	if [ "${CI:-}" = true ]; then
		for i in 1 2 3; do echo "not ok $i - musl-gcc is not installed"; done
		exit 1
	fi
	echo "ok 1 # skip musl-gcc is not installed"
	echo "ok 2 # skip"
	echo "ok 3 # skip"
	exit 0
fi
rm -f "$top/pop3d-static"
if ! make -s -C "$top" pop3d-static >"$tmp/log" 2>&1; then
	echo "not ok 1 - make static"
	sed 's/^/# /' "$tmp/log"
	exit 1
fi
size=$(stat -c %s "$top/pop3d-static")
echo "# pop3d-static: $size bytes"
file "$top/pop3d-static" 2>/dev/null | grep -q 'statically linked' ||
    ldd "$top/pop3d-static" 2>&1 | grep -q 'not a dynamic' &&
    echo "ok 1 - statically linked" || echo "not ok 1 - not static"
[ "$size" -lt 102400 ] && echo "ok 2 - under 100 KB" ||
    echo "not ok 2 - $size bytes"
printf 'USER jack\r\nPASS password\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 3 1\r\nDELE 1\r\nQUIT\r\n' >"$tmp/in"
for bin in pop3d pop3d-static; do
	cp "$top/t/sessions/mbox/default" "$tmp/mbox.$bin"
	"$top/$bin" -f "$tmp/mbox.$bin" -p "$top/examples/demo.passwd" <"$tmp/in" |
	    sed '1s/<[^>]*>//' >"$tmp/out.$bin"
done
cmp -s "$tmp/out.pop3d" "$tmp/out.pop3d-static" &&
    cmp -s "$tmp/mbox.pop3d" "$tmp/mbox.pop3d-static" &&
    echo "ok 3 - the same session and the same mailbox as ./pop3d" ||
    echo "not ok 3 - differs from ./pop3d"
