#!/usr/bin/env bash
# examples/serve.sh (make serve): with each launcher it serves the demo
# mailbox on the port asked for, a client logs in as jack, and an interrupt
# (Ctrl-C) stops it and removes its copy of the mailbox.

. "$(dirname "$0")/launch-lib.sh"

need python3 systemd-socket-activate tcpserver xinetd
need_pop3d
for f in demo.mbox demo.passwd; do
	[ -f "$TOP/examples/$f" ] || skip_or_fail "examples/$f missing"
done
setup_tmp

demo_count=$(grep -c '^From ' "$TOP/examples/demo.mbox")

serve_on()
{
	# Background jobs of a script ignore SIGINT, and a shell cannot trap a
	# signal ignored on entry: env restores the default, as a terminal has.
	PORT=$1 LAUNCHER=$launcher spawn "$TMP/serve-$launcher.log" \
	    env --default-signal=INT sh "$TOP/examples/serve.sh"
}

for launcher in systemd-socket-activate tcpserver xinetd; do
	if ! try_start "serve-$launcher" serve_on; then
		ok 1 "serve.sh with $launcher listens"
		continue
	fi
	ok 0 "serve.sh with $launcher listens on $PORT"
	rm -rf "$TMP/answers"
	printf 'USER jack\nPASS password\nSTAT\nQUIT\n' |
	    python3 "$TOP/t/pop3-talk.py" --save "$TMP/answers" "$PORT" >/dev/null
	grep -q "^+OK $demo_count " "$TMP/answers/3" 2>/dev/null
	ok $? "serve.sh with $launcher: jack logs in, STAT counts $demo_count" ||
	    diag_file "$TMP/serve-$launcher.log"
	copy=$(sed -n 's/^pop3d: serving \(.*\) on 127.*/\1/p' \
	    "$TMP/serve-$launcher.log")
	[ -f "$copy" ] && cmp -s "$copy" "$TOP/examples/demo.mbox"
	ok $? "serve.sh with $launcher: serves a copy of examples/demo.mbox"
	kill -INT -- "-$PID"
	wait_gone "$PID" 100
	if ok $? "serve.sh with $launcher: an interrupt stops it"; then
		wait "$PID" 2>/dev/null
		forget "$PID"
	else
		stop "$PID"
	fi
	[ -n "$copy" ] && [ ! -e "$(dirname "$copy")" ]
	ok $? "serve.sh with $launcher: its copy is removed"
	listening "$PORT"
	[ $? -ne 0 ]
	ok $? "serve.sh with $launcher: the port is closed"
done

LAUNCHER=none PORT=1 sh "$TOP/examples/serve.sh" >/dev/null 2>&1
[ $? -eq 64 ]
ok $? "serve.sh: an unknown LAUNCHER is a usage error"

done_testing
