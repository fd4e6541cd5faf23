#!/usr/bin/env bash
# The shipped launch configurations, each run on a loopback port with its
# port and paths substituted: systemd/pop3d.socket + pop3d@.service (through
# systemd-socket-activate), xinetd.d/pop3 (xinetd in the foreground),
# examples/tcpserver.sh, examples/stunnel.conf (pop3s, exec mode, a
# self-signed certificate made here), the examples/inetd.conf line and
# examples/busybox-inetd.conf under busybox inetd (built from Debian's
# source by cross/build.sh: Debian's busybox has no inetd).
# Through each one a session logs in, lists and downloads a message that
# must equal the stored bytes, and leaves the mailbox untouched.

. "$(dirname "$0")/launch-lib.sh"

need python3 systemd-socket-activate systemd-analyze tcpserver xinetd \
    stunnel openssl curl
need_pop3d
setup_tmp

clients_fixture

# sessions_at_once COUNT [--tls]: open COUNT connections at once and print
# how many got a greeting; all stay open until all have been tried.
sessions_at_once()
{
	python3 - "$PORT" "$@" <<'EOF'
import socket, ssl, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held, greeted = [], 0
for _ in range(count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if "--tls" in sys.argv:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        held.append(s)
        data = b""
        deadline = time.monotonic() + 5
        while b"\r\n" not in data and time.monotonic() < deadline:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"+OK"):
            greeted += 1
    except OSError:
        pass
print(greeted)
for s in held:
    s.close()
EOF
}

# ---- systemd: pop3d.socket + pop3d@.service ----

unit=$TOP/systemd/pop3d@.service
socket_unit=$TOP/systemd/pop3d.socket
grep -qx 'Accept=yes' "$socket_unit"
ok $? "pop3d.socket: Accept=yes"
grep -qx 'ListenStream=110' "$socket_unit"
ok $? "pop3d.socket: listens on port 110"
grep -qx 'StandardInput=socket' "$unit"
ok $? "pop3d@.service: StandardInput=socket"
grep -qx 'StandardError=journal' "$unit"
ok $? "pop3d@.service: StandardError=journal"
grep -qx 'ExecStart=-/usr/local/sbin/pop3d -m /var/mail/%%u' "$unit"
ok $? "pop3d@.service: runs /usr/local/sbin/pop3d -m /var/mail/%u (%% escaped)"
grep -q '^ReadWritePaths=.*/var/mail' "$unit" &&
    grep -qx 'ProtectSystem=strict' "$unit"
ok $? "pop3d@.service: read-only system except the spool"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
case " $caps " in *" CAP_SETUID "*) ;; *) caps= ;; esac
case " $caps " in *" CAP_SETGID "*) ;; *) caps= ;; esac
[ -n "$caps" ]
ok $? "pop3d@.service: can change user and groups (CAP_SETUID CAP_SETGID)"
[ -z "$(grep -E '^(User|DynamicUser)=' "$unit" | grep -vx 'User=root')" ]
ok $? "pop3d@.service: starts as root"
mkdir -p "$TMP/units"
cp "$socket_unit" "$TMP/units/"
sed "s|/usr/local/sbin/pop3d|$POP3D|" "$unit" >"$TMP/units/pop3d@.service"
(cd "$TMP/units" && systemd-analyze verify --man=no \
    ./pop3d.socket ./pop3d@.service) >"$TMP/verify.log" 2>&1 &&
    ! grep -q . "$TMP/verify.log"
ok $? "systemd-analyze verify: no complaint" || diag_file "$TMP/verify.log"

EXTRA_ARGS=-e		# stderr is the launcher's log, not the socket
if start_socket_activate; then
	ok 0 "systemd-socket-activate listens on $PORT"
	run_session socket-activate
	peer_logged socket-activate
	stop "$PID"
else
	ok 1 "systemd-socket-activate listens"
fi

# ---- tcpserver ----

if start_tcpserver; then
	ok 0 "tcpserver listens on $PORT"
	run_session tcpserver
	peer_logged tcpserver
	stop "$PID"
else
	ok 1 "tcpserver listens"
fi

# ---- xinetd: no -e, stderr is the client's socket there ----

EXTRA_ARGS=

per_source=$(sed -n 's/^[[:space:]]*per_source[[:space:]]*=[[:space:]]*//p' \
    "$TOP/xinetd.d/pop3")
grep -Eq '^[[:space:]]*user[[:space:]]*=[[:space:]]*root$' "$TOP/xinetd.d/pop3"
ok $? "xinetd.d/pop3: runs as root"
grep -Eq '^[[:space:]]*instances[[:space:]]*=[[:space:]]*[0-9]+$' \
    "$TOP/xinetd.d/pop3" &&
    grep -Eq '^[[:space:]]*cps[[:space:]]*=[[:space:]]*[0-9]+ [0-9]+$' \
    "$TOP/xinetd.d/pop3" && [ -n "$per_source" ]
ok $? "xinetd.d/pop3: per_source, instances and cps limits"

if start_xinetd; then
	ok 0 "xinetd listens on $PORT"
	run_session xinetd
	# per_source: that many sessions from 127.0.0.1 and no more.
	greeted=$(sessions_at_once $((per_source + 2)))
	[ "$greeted" = "$per_source" ]
	ok $? "xinetd: per_source = $per_source sessions at once (got $greeted)"
	stop "$PID"
else
	ok 1 "xinetd listens"
	diag_file "$TMP/xinetd.conf"
fi

# ---- stunnel: pop3s ----

grep -Eq '^accept[[:space:]]*=[[:space:]]*995$' "$TOP/examples/stunnel.conf"
ok $? "stunnel.conf: pop3s on port 995"
EXTRA_ARGS=-e
if start_stunnel; then
	ok 0 "stunnel listens on $PORT"
	run_session stunnel --tls
	peer_logged stunnel
	printf 'QUIT\n' | openssl s_client -connect "127.0.0.1:$PORT" \
	    -quiet -verify_return_error -CAfile "$TMP/cert.pem" \
	    -verify_hostname localhost >"$TMP/s_client.out" 2>"$TMP/s_client.err"
	grep -q '^+OK' "$TMP/s_client.out"
	ok $? "stunnel: openssl s_client verifies the certificate and gets +OK" ||
	    diag_file "$TMP/s_client.err"
	timeout 30 curl -sS --cacert "$TMP/cert.pem" -u alice:wonderland \
	    "pop3s://127.0.0.1:$PORT/$message_count" 2>"$TMP/curl.err" |
	    sed 's/\r$//' >"$TMP/curl-pop3s.out"
	same_bytes "$TMP/expected/$message_count" "$TMP/curl-pop3s.out" \
	    "stunnel: curl pop3s:// (certificate checked) gets the last message" ||
	    diag_file "$TMP/curl.err"
	stop "$PID"
else
	ok 1 "stunnel listens"
	diag_file "$TMP/stunnel.conf"
fi

# ---- inetd.conf: the line's program and arguments, run as inetd would ----

EXTRA_ARGS=

line=$(grep -v '^#' "$TOP/examples/inetd.conf" | grep .)
read -r service socktype proto wait user program argv0 args <<<"$line"
[ "$service $socktype $proto $wait $user" = "pop3 stream tcp nowait root" ]
ok $? "inetd.conf: pop3 stream tcp nowait root"
[ "$program" = /usr/local/sbin/pop3d ] && [ "$argv0" = pop3d ] &&
    [ "$args" = "-m /var/mail/%u" ]
ok $? "inetd.conf: /usr/local/sbin/pop3d pop3d -m /var/mail/%u"
# inetd hands pop3d the connection on fd 0 and 1, as the socket pair here.
args=${args/-m \/var\/mail\/%u/$(test_args)}
rm -rf "$TMP/inetd.answers"
# shellcheck disable=SC2086
printf '%s' "$SESSION" | python3 "$TOP/t/pop3-talk.py" \
    --save "$TMP/inetd.answers" --exec "${program/\/usr\/local\/sbin\/pop3d/$POP3D}" \
    $args >"$TMP/inetd.transcript"
check_session inetd "$TMP/inetd.answers"

# ---- busybox inetd, as routers run it: no -e, stderr is the socket ----

line=$(grep -v '^#' "$TOP/examples/busybox-inetd.conf" | grep .)
read -r service socktype proto wait user program argv0 args <<<"$line"
limit=${wait#nowait.}
[ "$service $socktype $proto $user" = "110 stream tcp root" ] &&
    [ "$wait" = "nowait.$limit" ] && [ "$limit" -gt 0 ] 2>/dev/null
ok $? "busybox-inetd.conf: 110 stream tcp nowait.N root" || diag "$line"
[ "$program" = /usr/local/sbin/pop3d ] && [ "$argv0" = pop3d ] &&
    [ "$args" = "-m /var/mail/%u" ]
ok $? "busybox-inetd.conf: /usr/local/sbin/pop3d pop3d -m /var/mail/%u"

# connections_greeted COUNT: COUNT connections one after the other, each
# closed after the greeting; prints how many got one.
connections_greeted()
{
	python3 - "$PORT" "$1" <<'EOF'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
greeted = 0
for _ in range(count):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            if s.recv(512).startswith(b"+OK"):
                greeted += 1
    except OSError:
        pass
print(greeted)
EOF
}

EXTRA_ARGS=
if ! have_busybox_inetd; then
	skip "busybox inetd serves a session" "$WHY"
elif start_busybox_inetd; then
	ok 0 "busybox inetd listens on $PORT"
	run_session busybox-inetd
	stop "$PID"
	# nowait.N: the Nth connection within a minute pauses the service
	# (busybox closes it and stops listening for a minute).
	if start_busybox_inetd; then
		greeted=$(connections_greeted $((limit + 1)))
		[ "$greeted" -eq $((limit - 1)) ] && ! listening "$PORT"
		ok $? "busybox inetd: nowait.$limit serves $((limit - 1)) connections in a row, then pauses (got $greeted)" ||
		    diag_file "$TMP/busybox-inetd.log"
		stop "$PID"
	else
		ok 1 "busybox inetd listens again"
	fi
else
	ok 1 "busybox inetd listens"
	diag_file "$TMP/busybox-inetd.conf"
fi

# ---- virtual users, as the files' comments show them (-p ... -u mail) ----

# The commented ExecStart of pop3d@.service, through systemd-socket-activate:
# password file and spool directory moved into TMP.  Mailboxes belong to
# "mail"; bob's is root's alone, so his session fails only if pop3d really
# became "mail" before opening it.
virtual_command()
{
	exec_start --virtual -e "s|/etc/pop3d/passwd|$TMP/vpasswd|" \
	    -e "s|/var/mail/vhosts/|$TMP/vhosts/|"
}
start_virtual_on()
{
	local argv
	mapfile -t argv < <(virtual_command)
	spawn "$TMP/virtual.log" systemd-socket-activate --accept --inetd \
	    -l "127.0.0.1:$1" "${argv[@]}" -e
}
grep -q -- '-u mail' <<<"$(virtual_command | tr '\n' ' ')"
ok $? "pop3d@.service: the virtual-user variant runs sessions as mail"
chmod 711 "$TMP"
mkdir -p "$TMP/vhosts"
printf 'alice:{PLAIN}wonderland\nbob:{PLAIN}builder\n' >"$TMP/vpasswd"
chmod 600 "$TMP/vpasswd"
cp "$FIXTURES/clients.mbox" "$TMP/vhosts/alice"
echo "From root Mon Jan  6 09:00:00 2025" >"$TMP/vhosts/bob"
chmod 600 "$TMP/vhosts/alice" "$TMP/vhosts/bob"
chown mail:mail "$TMP/vhosts" "$TMP/vhosts/alice"
if try_start virtual start_virtual_on; then
	ok 0 "virtual users: systemd-socket-activate listens on $PORT"
	rm -rf "$TMP/virtual.answers"
	printf 'USER alice\nPASS wonderland\nRETR 2\nDELE 1\nQUIT\n' |
	    python3 "$TOP/t/pop3-talk.py" --save "$TMP/virtual.answers" "$PORT" \
	    >/dev/null
	same_bytes "$TMP/expected/2" "$TMP/virtual.answers/3.body" \
	    "virtual users: alice retrieves a message"
	mail_files expected "$TMP/vhosts/alice" "$TMP/virtual.after"
	grep -q '^+OK' "$TMP/virtual.answers/5" 2>/dev/null &&
	    [ "$(ls "$TMP/virtual.after" | wc -l)" -eq $((message_count - 1)) ] &&
	    [ "$(stat -c %U "$TMP/vhosts/alice")" = mail ]
	ok $? "virtual users: DELE and QUIT as mail, the mailbox still mail's" ||
	    diag_file "$TMP/virtual.log"
	rm -rf "$TMP/virtual.answers"
	printf 'USER bob\nPASS builder\nQUIT\n' |
	    python3 "$TOP/t/pop3-talk.py" --save "$TMP/virtual.answers" "$PORT" \
	    >/dev/null
	grep -q '^-ERR \[SYS/PERM\]' "$TMP/virtual.answers/2" 2>/dev/null
	ok $? "virtual users: a mailbox only root can read is refused (privileges dropped)" ||
	    diag_file "$TMP/virtual.answers/2"
	stop "$PID"
else
	ok 1 "virtual users: systemd-socket-activate listens"
fi

# ---- the shipped command lines as they are: pop3d accepts them ----

# The arguments each file gives pop3d, unchanged (system accounts, as root);
# a greeting shows that pop3d starts a session with them.
shipped_args()
{
	case $1 in
	systemd) sed -n 's/^ExecStart=[-@:+!]*[^ ]* //p' "$TOP/systemd/pop3d@.service" |
	    sed 's/%%/%/g' ;;
	xinetd) sed -n 's/^[[:space:]]*server_args[[:space:]]*=[[:space:]]*//p' \
	    "$TOP/xinetd.d/pop3" ;;
	inetd) grep -v '^#' "$TOP/examples/inetd.conf" | grep . |
	    awk '{ for (i = 8; i <= NF; i++) printf "%s%s", $i, i < NF ? " " : "\n" }' ;;
	tcpserver) sed -n 's/^exec tcpserver .*"$pop3d" //p' \
	    "$TOP/examples/tcpserver.sh" ;;
	stunnel) sed -n 's/^execArgs[[:space:]]*=[[:space:]]*[^ ]* //p' \
	    "$TOP/examples/stunnel.conf" ;;
	busybox) grep -v '^#' "$TOP/examples/busybox-inetd.conf" | grep . |
	    awk '{ for (i = 8; i <= NF; i++) printf "%s%s", $i, i < NF ? " " : "\n" }' ;;
	esac
}
for file in systemd xinetd inetd tcpserver stunnel busybox; do
	args=$(shipped_args "$file")
	# shellcheck disable=SC2086
	printf 'QUIT\r\n' | timeout 10 "$POP3D" $args >"$TMP/shipped.out" \
	    2>"$TMP/shipped.err"
	[ "$args" = "-m /var/mail/%u" ] && head -n 1 "$TMP/shipped.out" | grep -q '^+OK'
	ok $? "$file: pop3d starts a session with the shipped arguments ($args)" ||
	    diag_file "$TMP/shipped.err"
done

done_testing
