#!/bin/bash
# Every benchmark workload once against ./pop3d over stdin/stdout,
# verified by bench/popload (octets, terminators, UIDs, no -ERR), so the
# benchmark keeps working.  No timing is checked here.
# The tools are built as the benchmark builds them, also under make
# check-asan, whose sanitizer CFLAGS are meant for pop3d (POP3D) and the
# known-answer tests: a tool built with them is kept for later runs too.
cd "$(dirname "$0")/.." && env -u CFLAGS make -s -C bench all >&2 &&
    exec bench/smoke.sh
