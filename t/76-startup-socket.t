#!/usr/bin/env bash
# A pop3d that cannot start, under the shipped xinetd service, where
# standard error is the client's socket: the client receives one line,
# "-ERR [SYS/TEMP] server not available", and nothing else (no error
# text, no usage); the reason goes to syslog.  xinetd runs in a private
# mount namespace whose /dev/log is a socket of this test (as in t/27).

. "$(dirname "$0")/launch-lib.sh"

need python3 xinetd unshare
need_pop3d
[ "$(id -u)" = 0 ] || skip_or_fail "needs root for a private /dev/log"
setup_tmp

MBOX=$TMP/mbox
cp "$FIXTURES/clients.mbox" "$MBOX"
mkdir "$TMP/dev"
: >"$TMP/dev/null"
spawn "$TMP/listen.log" python3 "$TOP/t/syslog-listen.py" "$TMP/dev/log" \
    "$TMP/syslog"
for i in $(seq 50); do [ -S "$TMP/dev/log" ] && break; sleep 0.1; done

# xinetd.d/pop3 with the test's port and arguments, in its own namespace.
start_private_xinetd_on()
{
	sed -e "s|^service pop3|service pop3-test|" \
	    -e "s|^{|{\n\ttype\t\t= UNLISTED\n\tbind\t\t= 127.0.0.1|" \
	    -e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $1|" \
	    -e "s|^\([[:space:]]*log_type[[:space:]]*=\).*|\1 FILE $TMP/xinetd-service.log|" \
	    -e "s|/usr/local/sbin/pop3d|$POP3D|" \
	    -e "s|-m /var/mail/%u|$ARGS|" \
	    "$TOP/xinetd.d/pop3" >"$TMP/xinetd.conf"
	spawn "$TMP/xinetd.log" unshare --mount sh -c '
		mount --make-rprivate / &&
		mount --bind /dev/null "$1/dev/null" &&
		mount --bind "$1/dev" /dev &&
		exec xinetd -dontfork -pidfile "$1/xinetd.pid" -f "$1/xinetd.conf"
	' sh "$TMP"
}

# What a client that connects receives, up to the end, as Python's repr.
receive()
{
	python3 - "$PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
data = b""
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(repr(data))
EOF
}

# case NAME ARGS LOGGED: pop3d ARGS under xinetd; the client gets the one
# line; syslog gets LOGGED (a grep pattern) at LOG_MAIL|LOG_ERR.
case_of()
{
	local name=$1 logged=$3 got
	ARGS=$2
	if ! try_start xinetd start_private_xinetd_on; then
		ok 1 "$name: xinetd listens"
		return
	fi
	got=$(receive)
	[ "$got" = "b'-ERR [SYS/TEMP] server not available\\r\\n'" ]
	ok $? "$name: the client gets one -ERR line and nothing more" ||
	    diag "got: $got"
	for i in $(seq 50); do
		grep -q "$logged" "$TMP/syslog" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "^<19>pop3d\[[0-9]*\]: $logged\$" "$TMP/syslog"
	ok $? "$name: syslog has the reason (mail.err)" || diag_file "$TMP/syslog"
	stop "$PID"
}

case_of "a missing password file" "-f $MBOX -p /etc/nonexistent" \
    '/etc/nonexistent: No such file or directory'
case_of "-e, which would log to the client" \
    "-e -f $MBOX -p /etc/nonexistent" \
    '/etc/nonexistent: No such file or directory'
case_of "an unknown option" "-f $MBOX -Z" 'unknown option -Z'
case_of "a missing pre-login directory" "-f $MBOX -R /nonexistent" \
    'the pre-login directory /nonexistent: No such file or directory .*'

done_testing
