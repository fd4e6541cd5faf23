#!/bin/bash
# Every benchmark workload once against ./pop3d over stdin/stdout,
# verified by bench/popload (octets, terminators, UIDs, no -ERR), so the
# benchmark keeps working.  No timing is checked here.
cd "$(dirname "$0")/.." && make -s -C bench all >&2 && exec bench/smoke.sh
