#!/bin/bash
# base64.c, the SASL decoder: builds t/base64-vectors.c against base64.c
# with the project's warnings and runs it; its output is the TAP stream.
# CC, CPPFLAGS, CFLAGS and LDFLAGS are honoured, so a sanitizer build of
# `make check` covers base64.c too.
set -u

top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/base64-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

warn="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wpointer-arith -Wcast-qual -Wformat=2"

# shellcheck disable=SC2086	# flag lists are meant to split
if ! ${CC:-cc} ${CPPFLAGS:-} ${CFLAGS:--O2} $warn -D_FILE_OFFSET_BITS=64 \
    -o "$tmp/base64-vectors" "$top/t/base64-vectors.c" "$top/base64.c" \
    ${LDFLAGS:-} >"$tmp/cc.log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - compile t/base64-vectors.c with ${CC:-cc}"
	sed 's/^/# /' "$tmp/cc.log"
	exit 1
fi

"$tmp/base64-vectors"
