#!/bin/bash
# MD5, HMAC-MD5, CRAM-MD5 and APOP known answers: builds t/md5-vectors.c
# against md5.c with the project's warnings and runs it; its output is the
# TAP stream.  CC, CPPFLAGS, CFLAGS and LDFLAGS are honoured, so a sanitizer
# build of `make check` covers md5.c too.
set -u

top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/md5-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

warn="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wcast-qual -Wformat=2"

# shellcheck disable=SC2086	# flag lists are meant to split
if ! ${CC:-cc} ${CPPFLAGS:-} ${CFLAGS:--O2} $warn -D_FILE_OFFSET_BITS=64 \
    -o "$tmp/md5-vectors" "$top/t/md5-vectors.c" "$top/md5.c" \
    ${LDFLAGS:-} >"$tmp/cc.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - compile t/md5-vectors.c with ${CC:-cc}"
	sed 's/^/# /' "$tmp/cc.log"
	exit 1
fi

"$tmp/md5-vectors"
