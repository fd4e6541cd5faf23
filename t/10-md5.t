#!/bin/bash
# MD5, HMAC-MD5, CRAM-MD5 and APOP known answers: builds t/md5-vectors.c
# against md5.c with the project's warnings and runs it; its output is the
# TAP stream.  CC, CPPFLAGS, CFLAGS and LDFLAGS are honoured, so a sanitizer
# build of `make check` covers md5.c too.
set -u
. "$(dirname "$0")/lib.sh"

known_answers md5-vectors md5.c
