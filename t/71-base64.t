#!/bin/bash
# base64.c, the SASL decoder: builds t/base64-vectors.c against base64.c
# with the project's warnings and runs it; its output is the TAP stream.
# CC, CPPFLAGS, CFLAGS and LDFLAGS are honoured, so a sanitizer build of
# `make check` covers base64.c too.
set -u
. "$(dirname "$0")/lib.sh"

known_answers base64-vectors base64.c
