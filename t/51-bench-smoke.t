#!/bin/bash
# Every benchmark workload once against ./pop3d over stdin/stdout,
# verified by bench/popload (octets, terminators, UIDs, no -ERR), so the
# benchmark keeps working.  No timing is checked here.  bench/smoke.sh
# prints the TAP stream.
# The tools are built as the benchmark builds them, also under make
# check-asan, whose sanitizer CFLAGS are meant for pop3d (POP3D) and the
# known-answer tests: a tool built with them is kept for later runs too.
set -u
. "$(dirname "$0")/lib.sh"

need_pop3d
setup_tmp
if ! env -u CFLAGS make -s -C "$TOP/bench" all >"$TMP/make.log" 2>&1; then
	ok 1 "build the benchmark tools (make -C bench all)"
	diag_file "$TMP/make.log"
	done_testing
fi
POP3D=$POP3D "$TOP/bench/smoke.sh"
