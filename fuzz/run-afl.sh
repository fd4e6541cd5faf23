#!/bin/sh
# AFL++ on one target for a bounded time: fuzz/run-afl.sh TARGET SECONDS.
# The target is fuzz/out/afl-TARGET (afl-clang-fast with ASan and UBSan,
# the libFuzzer entry point behind AFL++'s persistent-mode driver).  Its
# findings go to fuzz/out/afl-TARGET.d/; any crash fails the run.
set -eu
target=$1
seconds=${2:-60}
cd "$(dirname "$0")/.."
out=fuzz/out/afl-$target.d
rm -rf "$out"
dict=
[ -f "fuzz/$target.dict" ] && dict="-x fuzz/$target.dict"
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
# no UI on a pipe; CI machines neither pin CPUs nor set the governor
AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_BIN_CHECK=0 \
    afl-fuzz -V "$seconds" -m none -t 2000 -i "fuzz/corpus/$target" \
    -o "$out" $dict -- "fuzz/out/afl-$target" >"$out.log" 2>&1 || {
	tail -n 40 "$out.log"
	echo "fuzz-afl: $target: afl-fuzz failed"
	exit 1
}
stats=$out/default/fuzzer_stats
for k in execs_done execs_per_sec corpus_count saved_crashes saved_hangs; do
	grep "^$k " "$stats" | sed "s/^/fuzz-afl: $target: /"
done
crashes=$(find "$out/default/crashes" -name 'id:*' | wc -l)
if [ "$crashes" -ne 0 ]; then
	echo "fuzz-afl: $target: $crashes crashes in $out/default/crashes"
	exit 1
fi
