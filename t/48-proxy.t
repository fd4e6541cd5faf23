#!/usr/bin/env bash
# Behind a load balancer: a real HAProxy (a process of this test, on
# loopback) in front of two "hosts", two systemd-socket-activate
# launchers running pop3d -H 127.0.0.1 on the same spool; one gets the
# PROXY protocol v1 header (send-proxy), the other v2 (send-proxy-v2).
# Clients speak from other loopback addresses (127.0.0.5 ...), so the
# client a header names is not the proxy's address.
# - the login, logout, auth failed and timeout lines name the client;
# - a session on one host makes the other answer [IN-USE] (the session
#   lock on the shared spool), and concurrent sessions through HAProxy
#   leave every message intact;
# - straight to a host: good headers of both versions are taken, bad
#   ones, and none from a trusted address, end the session with -ERR; a
#   header from an address -H does not trust ends it too;
# - the monitor takes no PROXY record from a child that could not have
#   read one.

. "$(dirname "$0")/launch-lib.sh"

need python3 systemd-socket-activate haproxy
need_pop3d
setup_tmp
clients_fixture

# ---- two hosts and the balancer ----

start_host_on()
{
	spawn "$TMP/$HOST.log" systemd-socket-activate --accept --inetd \
	    -l "127.0.0.1:$1" "$POP3D" -e -f "$MBOX" -p "$PASSWD" \
	    -H 127.0.0.1 -L 3
}
HOST=host-a
try_start host-a start_host_on || { ok 1 "host a listens"; done_testing; }
PORT_A=$PORT PID_A=$PID
HOST=host-b
try_start host-b start_host_on || { ok 1 "host b listens"; done_testing; }
PORT_B=$PORT PID_B=$PID
ok 0 "two hosts: pop3d -H 127.0.0.1 on ports $PORT_A and $PORT_B, one spool"

haproxy_conf()
{
	cat <<EOF
global
	maxconn 100

defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s

frontend pop3
	bind 127.0.0.1:$1
	default_backend hosts

backend hosts
	balance roundrobin
	server a 127.0.0.1:$PORT_A send-proxy
	server b 127.0.0.1:$PORT_B send-proxy-v2
EOF
}
haproxy_conf 110 >"$TMP/haproxy-check.cfg"
haproxy -c -f "$TMP/haproxy-check.cfg" >"$TMP/haproxy-check.log" 2>&1
ok $? "haproxy -c: the configuration is valid" ||
    diag_file "$TMP/haproxy-check.log"
start_haproxy_on()
{
	haproxy_conf "$1" >"$TMP/haproxy.cfg"
	spawn "$TMP/haproxy.log" haproxy -db -f "$TMP/haproxy.cfg"
}
try_start haproxy start_haproxy_on || { ok 1 "haproxy listens"; done_testing; }
PORT_H=$PORT PID_H=$PID
ok 0 "haproxy listens on $PORT_H, balancing the two hosts"

# talk NAME PORT [--from ADDR] STEP...: transcript in TMP/NAME.out
talk()
{
	local name=$1 port=$2 from=()
	shift 2
	if [ "${1:-}" = --from ]; then
		from=(--from "$2")
		shift 2
	fi
	timeout 60 python3 "$TOP/t/proxy-talk.py" "${from[@]}" "$port" "$@" \
	    >"$TMP/$name.out" 2>&1
}
logs()
{
	cat "$TMP/host-a.log" "$TMP/host-b.log"
}
LOGIN='send:USER alice\r\nPASS wonderland\r\n'

# ---- the client's address in every log line ----

talk via5 "$PORT_H" --from 127.0.0.5 line "$LOGIN" line line \
    'send:RETR 1\r\n' multi 'send:QUIT\r\n' line close
talk via6 "$PORT_H" --from 127.0.0.6 line "$LOGIN" line line \
    'send:RETR 1\r\n' multi 'send:QUIT\r\n' line close
grep -q "^+OK $message_count messages" "$TMP/via5.out" &&
    grep -q "^+OK $message_count messages" "$TMP/via6.out"
ok $? "two sessions through haproxy log in" || diag_file "$TMP/via5.out"
a=$(grep -o 'login user=alice from=[^ ]*' "$TMP/host-a.log" | tr '\n' ' ')
b=$(grep -o 'login user=alice from=[^ ]*' "$TMP/host-b.log" | tr '\n' ' ')
[ "$(grep -c 'login user=alice' "$TMP/host-a.log")" -eq 1 ] &&
    [ "$(grep -c 'login user=alice' "$TMP/host-b.log")" -eq 1 ] &&
    [ "$(printf '%s\n' "$a" "$b" | sort | tr -d '\n')" = \
    "login user=alice from=127.0.0.5 login user=alice from=127.0.0.6 " ]
ok $? "one login on each host (v1 and v2 headers), each from the client's address ($a| $b)" ||
    { diag_file "$TMP/host-a.log"; diag_file "$TMP/host-b.log"; }
logs | grep -q 'logout user=alice retr=1 dele=0' &&
    ! logs | grep -q 'from=127\.0\.0\.1 '
ok $? "logout lines; no line names the proxy's 127.0.0.1"

talk fail7 "$PORT_H" --from 127.0.0.7 line 'send:USER alice\r\n' line \
    'send:PASS wrong\r\n' line 'send:QUIT\r\n' line close
logs | grep -q 'auth failed user=alice from=127\.0\.0\.7 method=pass'
ok $? "auth failed user=alice from=127.0.0.7 (through haproxy)" ||
    diag_file "$TMP/fail7.out"
talk idle8 "$PORT_H" --from 127.0.0.8 line close
grep -q '^-ERR no login in time' "$TMP/idle8.out" &&
    logs | grep -q 'timeout user=- from=127\.0\.0\.8: no login in time'
ok $? "timeout user=- from=127.0.0.8: no login in time (-L 3)" ||
    diag_file "$TMP/idle8.out"

# ---- one spool, two hosts: the session lock holds across them ----

# First on one host, logged in and holding the mailbox; the next
# connection goes to the other host (round robin) and is refused.
python3 - "$PORT_H" >"$TMP/in-use.out" 2>&1 <<'EOF'
import socket, sys
port = int(sys.argv[1])
def conn(src):
    s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                 source_address=(src, 0))
    f = s.makefile("rb")
    f.readline()
    return s, f
def cmd(c, line):
    c[0].sendall(line.encode() + b"\r\n")
    return c[1].readline().decode().rstrip()
first = conn("127.0.0.5")
cmd(first, "USER alice")
print("first", cmd(first, "PASS wonderland"))
second = conn("127.0.0.6")
cmd(second, "USER alice")
print("second", cmd(second, "PASS wonderland"))
print("first", cmd(first, "QUIT"))
EOF
grep -q '^first +OK [0-9]* messages' "$TMP/in-use.out" &&
    grep -q '^second -ERR \[IN-USE\]' "$TMP/in-use.out"
ok $? "a session on one host: the other host answers -ERR [IN-USE]" ||
    diag_file "$TMP/in-use.out"
in_use_a=$(grep -c 'another session has this mailbox' "$TMP/host-a.log")
in_use_b=$(grep -c 'another session has this mailbox' "$TMP/host-b.log")
[ "$(grep -c 'login user=alice' "$TMP/host-a.log")$in_use_b" = 21 ] ||
    [ "$(grep -c 'login user=alice' "$TMP/host-b.log")$in_use_a" = 21 ]
ok $? "... the two sessions were on the two hosts (a login on one, the refusal on the other)" ||
    { diag_file "$TMP/host-a.log"; diag_file "$TMP/host-b.log"; }

# Concurrent sessions through haproxy: each reads every message (and
# waits its turn when the mailbox is in use); one deletes message 2.
python3 - "$PORT_H" "$TMP/expected" "$message_count" >"$TMP/concurrent.out" \
    2>&1 <<'EOF'
import os, socket, sys, threading, time
port, expected, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
want = [open(os.path.join(expected, str(n)), "rb").read()
        for n in range(1, count + 1)]
results = []

def session(i, delete):
    for attempt in range(400):
        s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                     source_address=("127.0.0.%d" % (10 + i), 0))
        f = s.makefile("rb")
        def cmd(line):
            s.sendall(line.encode() + b"\r\n")
            return f.readline()
        f.readline()
        cmd("USER alice")
        r = cmd("PASS wonderland")
        if r.startswith(b"-ERR [IN-USE]"):
            s.close()
            time.sleep(0.05)
            continue
        if not r.startswith(b"+OK"):
            results.append((i, "login: %r" % r))
            return
        n = int(r.split()[1])
        good = True
        for m in range(1, n + 1):
            cmd("RETR %d" % m)
            body = b""
            while True:
                line = f.readline()
                if line == b".\r\n":
                    break
                if line.startswith(b"."):
                    line = line[1:]
                body += line[:-2] + b"\n"
            if body != want[m - 1]:
                good = False
        if delete:
            cmd("DELE 2")
        r = cmd("QUIT")
        s.close()
        results.append((i, "ok" if good and r.startswith(b"+OK")
                        else "bad %r" % r))
        return
    results.append((i, "never got the mailbox"))

threads = [threading.Thread(target=session, args=(i, False))
           for i in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
session(9, True)
for i, r in sorted(results):
    print(i, r)
EOF
[ "$(grep -c ' ok$' "$TMP/concurrent.out")" -eq 7 ]
ok $? "7 sessions through haproxy, 6 at once: each read every message byte for byte" ||
    diag_file "$TMP/concurrent.out"
mail_files expected "$MBOX" "$TMP/after"
mkdir -p "$TMP/expected-after"
k=0
for n in $(seq 1 "$message_count"); do
	[ "$n" -eq 2 ] && continue
	k=$((k + 1))
	cp "$TMP/expected/$n" "$TMP/expected-after/$k"
done
same_dir "$TMP/expected-after" "$TMP/after" \
    "after the concurrent sessions and DELE 2: every other message intact"
[ "$(grep -c 'login user=alice' "$TMP/host-a.log")" -gt 2 ] &&
    [ "$(grep -c 'login user=alice' "$TMP/host-b.log")" -gt 2 ]
ok $? "both hosts served some of them"
cp "$FIXTURES/clients.mbox" "$MBOX"
stop "$PID_H"

# ---- straight to a host: good and bad headers ----

hex_v2()	# hex_v2 VER_CMD FAM BODY-HEX: a version 2 header in hex
{
	printf '0d0a0d0a000d0a515549540a%s%s%04x%s' "$1" "$2" \
	    $(( ${#3} / 2 )) "$3"
}
V2_TCP4=$(hex_v2 21 11 c00002076336640111110041)	# 192.0.2.7 -> ..., 4369 -> 65
V2_TCP6=$(hex_v2 21 21 20010db8000000000000000000000009$(printf '0%.0s' {1..32})00010002)
V2_LOCAL=$(hex_v2 20 00 '')
V2_TLV=$(hex_v2 21 11 c0000208633664011111004105000461626364040000)

# good NAME CLIENT STEP...: a header from 127.0.0.1 that host a takes,
# then a failed login, whose log line names CLIENT.
good()
{
	local name=$1 client=$2
	shift 2
	talk "$name" "$PORT_A" "$@" line 'send:USER nobody\r\n' line \
	    'send:PASS x\r\n' line 'send:QUIT\r\n' line close
	grep -q '^+OK POP3 server ready' "$TMP/$name.out" &&
	    grep -q "auth failed user=nobody from=$client method=pass" \
	    "$TMP/host-a.log"
	ok $? "$name: taken, the log names $client" || diag_file "$TMP/$name.out"
}
good v1-tcp4 192.0.2.9 'send:PROXY TCP4 192.0.2.9 198.51.100.1 1 110\r\n'
good v1-tcp6 2001:db8::7 'send:PROXY TCP6 2001:db8::7 2001:db8::1 65535 110\r\n'
good v1-mapped 192.0.2.10 'send:PROXY TCP6 ::ffff:192.0.2.10 ::1 2 110\r\n'
good v1-unknown 127.0.0.1 'send:PROXY UNKNOWN\r\n'
good v2-tcp4 192.0.2.7 "hex:$V2_TCP4"
good v2-tcp6 2001:db8::9 "hex:$V2_TCP6"
good v2-tlv 192.0.2.8 "hex:$V2_TLV"
good v2-local 127.0.0.1 "hex:$V2_LOCAL"
# a header and the client's first command in one write
talk v1-pipelined "$PORT_A" \
    'send:PROXY TCP4 192.0.2.11 198.51.100.1 1 110\r\nCAPA\r\n' line multi \
    'send:QUIT\r\n' line close
grep -q '^+OK capability' "$TMP/v1-pipelined.out"
ok $? "a command in the same write as the header is read as a command" ||
    diag_file "$TMP/v1-pipelined.out"

# bad NAME STEP...: a header from 127.0.0.1 that host a refuses
bad()
{
	local name=$1 why=$2
	shift 2
	talk "$name" "$PORT_A" "$@" close
	[ "$(head -n 1 "$TMP/$name.out")" = \
	    "-ERR PROXY protocol header refused, closing" ] &&
	    grep -q "PROXY header from=127\.0\.0\.1 refused: $why" \
	    "$TMP/host-a.log"
	ok $? "$name: -ERR and the session ends; the log says: $why" ||
	    { diag_file "$TMP/$name.out"; diag_file "$TMP/host-a.log"; }
}
bad no-header 'not a PROXY protocol header' 'send:USER alice\r\n'
bad v1-port 'v1: a bad destination port' \
    'send:PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'
bad v1-zero 'v1: a bad source port' 'send:PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'
bad v1-octal 'v1: an address that is not of its protocol' \
    'send:PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'
bad v1-family 'v1: an address that is not of its protocol' \
    'send:PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n'
bad v1-spaces 'v1: no protocol' 'send:PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n'
bad v1-more 'v1: a bad destination port, or more after it' \
    'send:PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'
bad v1-lf 'v1: a line not ended by CR LF' 'send:PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'
bad v1-long 'v1: no CR LF within 107 bytes' \
    "send:PROXY UNKNOWN $(printf 'x%.0s' {1..120})\\r\\n"
bad v1-udp 'v1: a protocol other than TCP4, TCP6, UNKNOWN' \
    'send:PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'
bad v2-version 'v2: a version other than 2' "hex:$(hex_v2 11 11 c00002076336640111110041)"
bad v2-command 'v2: a command other than LOCAL or PROXY' \
    "hex:$(hex_v2 22 11 c00002076336640111110041)"
bad v2-udp 'v2: not a stream over IPv4, IPv6 or AF_UNIX' \
    "hex:$(hex_v2 21 12 c00002076336640111110041)"
bad v2-short 'v2: shorter than its address block' "hex:$(hex_v2 21 21 c0000207)"
bad v2-tlv 'v2: malformed TLVs' "hex:$(hex_v2 21 11 c000020763366401111100410500)"
bad v2-huge 'v2: longer than pop3d reads' \
    "hex:0d0a0d0a000d0a515549540a2111ffff"
bad closed 'the connection ended before a whole header' \
    'send:PROXY TCP4 1.2.3.4' shut
# A trusted address that sends nothing is not a proxy: refused when the
# login deadline (-L 3) comes, before the PROXY wait would.
bad silent 'no whole header in time'

# ---- a header from anyone else ----

# the client behind a trusted proxy sends a header of its own
talk twice "$PORT_A" 'send:PROXY TCP4 192.0.2.12 198.51.100.1 1 110\r\n' line \
    'send:PROXY TCP4 192.0.2.13 198.51.100.1 1 110\r\n' close
grep -q '^-ERR PROXY protocol header refused, closing' "$TMP/twice.out" &&
    grep -q 'PROXY header from=192\.0\.2\.12, which -H does not trust; session ended' \
    "$TMP/host-a.log"
ok $? "a second header, from the client behind the proxy, ends the session" ||
    { diag_file "$TMP/twice.out"; diag_file "$TMP/host-a.log"; }

talk untrusted-v1 "$PORT_A" --from 127.0.0.9 line \
    'send:PROXY TCP4 192.0.2.7 198.51.100.1 1 110\r\n' close
talk untrusted-v2 "$PORT_A" --from 127.0.0.9 line "hex:$V2_TCP4" close
grep -q '^-ERR PROXY protocol header refused, closing' "$TMP/untrusted-v1.out" &&
    grep -q '^-ERR PROXY protocol header refused, closing' "$TMP/untrusted-v2.out" &&
    [ "$(grep -c 'PROXY header from=127\.0\.0\.9, which -H does not trust; session ended' \
    "$TMP/host-a.log")" -eq 2 ]
ok $? "127.0.0.9 (not trusted): a v1 or v2 header after the greeting ends the session" ||
    { diag_file "$TMP/untrusted-v1.out"; diag_file "$TMP/host-a.log"; }
talk untrusted-plain "$PORT_A" --from 127.0.0.9 line "$LOGIN" line line \
    'send:QUIT\r\n' line close
grep -q "^+OK $message_count messages" "$TMP/untrusted-plain.out" &&
    grep -q 'login user=alice from=127\.0\.0\.9 ' "$TMP/host-a.log"
ok $? "127.0.0.9 without a header: an ordinary session, logged from 127.0.0.9" ||
    diag_file "$TMP/untrusted-plain.out"

# ---- the monitor and a lying child ----

# HO_PROXY "ok" "192.0.2.1" from a child whose peer (a pipe) is no proxy
LYING_ARGS="-f $MBOX -p $PASSWD" lying_child lie \
    0011480200026f6b00093139322e302e322e31 'a PROXY record it cannot send' \
    "a child that hands over a PROXY address when none was due ends the session"

# ---- -H: what it takes ----

for spec in 10.0.0.1/8 300.1.1.1 2001:db8::/129 ::ffff:10.0.0.0/104 ''; do
	"$POP3D" -H "$spec" -f "$MBOX" </dev/null >/dev/null 2>"$TMP/h.err"
	[ $? -eq 64 ] && grep -q "^pop3d: -H $spec: " "$TMP/h.err"
	ok $? "-H '$spec': a usage error that says why ($(head -n 1 "$TMP/h.err"))"
done
printf 'QUIT\r\n' | "$POP3D" -e -H 10.0.0.0/8,2001:db8::/32,192.0.2.1 \
    -f "$MBOX" -p "$PASSWD" >"$TMP/h.out" 2>/dev/null
grep -q '^+OK POP3 server ready' "$TMP/h.out"
ok $? "-H 10.0.0.0/8,2001:db8::/32,192.0.2.1: taken"

done_testing
