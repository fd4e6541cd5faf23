#!/bin/sh
# Run one libFuzzer target for a bounded time: fuzz/run.sh TARGET SECONDS.
# It reads the seed corpus fuzz/corpus/TARGET and keeps what it finds in
# fuzz/out/corpus/TARGET (the seeds stay as they are).  A crash leaves
# fuzz/out/TARGET-crash-* and fails; replay one with
# `fuzz/out/TARGET fuzz/out/TARGET-crash-...`.
# Scratch mailboxes go to /dev/shm when it is there: update.c's fsyncs
# on a disk would slow the runs down tenfold.
set -eu
target=$1
seconds=${2:-60}
cd "$(dirname "$0")/.."
bin=fuzz/out/$target

mkdir -p "fuzz/out/corpus/$target"
dict=
[ -f "fuzz/$target.dict" ] && dict=-dict=fuzz/$target.dict
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
echo "fuzz: $target for $seconds s"
# shellcheck disable=SC2086	# $dict is empty or one word
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/out/$target-" -print_final_stats=1 $dict \
    "fuzz/out/corpus/$target" "fuzz/corpus/$target" 2>"fuzz/out/$target.log" ||
{
	tail -n 60 "fuzz/out/$target.log"
	echo "fuzz: $target FAILED; inputs:" \
	    "$(ls fuzz/out/"$target"-* 2>/dev/null)"
	exit 1
}
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)' \
    "fuzz/out/$target.log" | sed "s/^/fuzz: $target: /"
