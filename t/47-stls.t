#!/usr/bin/env bash
# STLS (RFC 2595) on a plain port: pop3d -T with the shipped
# examples/stunnel-stls.conf (its paths replaced, a self-signed
# certificate made here), behind systemd-socket-activate on a loopback
# port, with -x (no login in the clear but from loopback) and -H
# 127.0.0.2, so that a client speaking from 127.0.0.2 can say, in a PROXY
# header, that it is 192.0.2.7, a remote client -x applies to.
# - CAPA in the clear lists STLS, and under -x no USER or SASL for a
#   remote client, who gets "-ERR [AUTH] TLS required"; after STLS there
#   is no second greeting, CAPA lists USER and SASL and no STLS, and the
#   login works; what was pipelined after STLS is never a command;
# - openssl s_client -starttls pop3, curl --ssl-reqd, fetchmail
#   (sslproto, STLS) and mpop (tls_starttls) download every message byte
#   for byte through STLS, each certificate checked;
# - STLS when stunnel cannot run is an -ERR and the session goes on;
#   a child that sends STLS when it is not offered ends the session.

. "$(dirname "$0")/launch-lib.sh"

need python3 systemd-socket-activate stunnel openssl curl fetchmail mpop
need_pop3d
setup_tmp
clients_fixture
make_cert || { ok 1 "a self-signed certificate"; done_testing; }
export HOME=$TMP/home
mkdir -p "$HOME"

# The shipped file with the test's certificate, pop3d and arguments; in
# the foreground, so that stunnel and the pop3d behind it log to the
# launcher's log.
conf=$TOP/examples/stunnel-stls.conf
! grep -Eq '^[[:space:]]*accept[[:space:]]*=' "$conf"
ok $? "stunnel-stls.conf: no accept line (inetd mode)"
grep -Eq '^execArgs[[:space:]]*=[[:space:]]*pop3d -a ' "$conf"
ok $? "stunnel-stls.conf: runs pop3d -a"
{
	echo "foreground = yes"
	sed -e "s|^\([[:space:]]*cert[[:space:]]*=\).*|\1 $TMP/cert.pem|" \
	    -e "s|^\([[:space:]]*key[[:space:]]*=\).*|\1 $TMP/key.pem|" \
	    -e "s|/usr/local/sbin/pop3d|$POP3D|" \
	    -e "s|-m /var/mail/%u|$(test_args) -e|" "$conf"
} >"$TMP/stls.conf"

start_stls_on()
{
	spawn "$TMP/stls.log" systemd-socket-activate --accept --inetd \
	    -l "127.0.0.1:$1" "$POP3D" -e -f "$MBOX" -p "$PASSWD" \
	    -T "$TMP/stls.conf" -x -H 127.0.0.2
}
try_start stls start_stls_on || { ok 1 "the launcher listens"; done_testing; }
ok 0 "pop3d -T -x -H behind systemd-socket-activate on $PORT"

# talk NAME [--from ADDR] STEP...: proxy-talk.py's transcript in
# TMP/NAME.out
talk()
{
	local name=$1 from=()
	shift
	if [ "$1" = --from ]; then
		from=(--from "$2")
		shift 2
	fi
	timeout 60 python3 "$TOP/t/proxy-talk.py" --cafile "$TMP/cert.pem" \
	    "${from[@]}" "$PORT" "$@" >"$TMP/$name.out" 2>&1
}
has()		# has NAME REGEX: a line of the transcript matches
{
	grep -Eq -- "$2" "$TMP/$1.out"
}
stls_count()
{
	grep -c 'stunnel takes the connection' "$TMP/stls.log"
}

# ---- a remote client (192.0.2.7, through a PROXY header) ----

HDR='send:PROXY TCP4 192.0.2.7 127.0.0.1 40000 110\r\n'
talk remote --from 127.0.0.2 "$HDR" line 'send:CAPA\r\n' multi \
    'send:USER alice\r\n' line 'send:AUTH PLAIN\r\n' line \
    'send:APOP alice 0123456789abcdef0123456789abcdef\r\n' line \
    'send:STLS\r\nUSER alice\r\n' line tls \
    'send:PASS wonderland\r\n' line 'send:CAPA\r\n' multi \
    'send:STLS\r\n' line 'send:USER alice\r\n' line \
    'send:PASS wonderland\r\n' line 'send:STAT\r\n' line \
    'send:QUIT\r\n' line close
sed -n '2,/^\.$/p' "$TMP/remote.out" >"$TMP/capa-clear"
grep -qx STLS "$TMP/capa-clear" && ! grep -Eq '^(USER|SASL)' "$TMP/capa-clear"
ok $? "remote, in the clear: CAPA lists STLS, not USER or SASL (-x)" ||
    diag_file "$TMP/remote.out"
[ "$(grep -c '^-ERR \[AUTH\] TLS required$' "$TMP/remote.out")" -eq 3 ]
ok $? "remote, in the clear: USER, AUTH and APOP get -ERR [AUTH] TLS required"
has remote '^\+OK begin TLS negotiation$' && has remote '^TLS TLSv1\.[23]$'
ok $? "remote: STLS +OK, then a TLS handshake (certificate checked)"
sed -n '/^TLS /,$p' "$TMP/remote.out" >"$TMP/after-tls"
[ "$(sed -n 2p "$TMP/after-tls")" = "-ERR USER first" ]
ok $? "the USER pipelined after STLS was dropped: PASS gets -ERR USER first (no second greeting)" ||
    diag_file "$TMP/after-tls"
sed -n '/^+OK capability/,/^\.$/p' "$TMP/after-tls" >"$TMP/capa-tls"
grep -qx USER "$TMP/capa-tls" && grep -q '^SASL PLAIN' "$TMP/capa-tls" &&
    ! grep -qx STLS "$TMP/capa-tls"
ok $? "under TLS: CAPA lists USER and SASL, and no STLS" ||
    diag_file "$TMP/capa-tls"
has remote '^-ERR TLS is on already$'
ok $? "under TLS: STLS again gets -ERR"
has remote "^\+OK $message_count [0-9]+$" && has remote '^\+OK bye'
ok $? "under TLS: login, STAT, QUIT" || diag_file "$TMP/remote.out"
grep -q 'STLS from=192\.0\.2\.7: stunnel takes the connection' "$TMP/stls.log" &&
    grep -q "login user=alice from=192\.0\.2\.7 msgs=$message_count" "$TMP/stls.log"
ok $? "the log: STLS and the login behind stunnel from the PROXY header's 192.0.2.7" ||
    diag_file "$TMP/stls.log"

# A local client may log in in the clear (-x spares loopback).
talk local 'line' 'send:CAPA\r\n' multi 'send:USER alice\r\n' line \
    'send:PASS wonderland\r\n' line 'send:QUIT\r\n' line close
grep -qx STLS "$TMP/local.out" && grep -qx USER "$TMP/local.out" &&
    has local '^\+OK [0-9]+ messages'
ok $? "loopback client: CAPA lists STLS and USER, login in the clear" ||
    diag_file "$TMP/local.out"

# ---- real clients, every message byte for byte through STLS ----

# openssl s_client: RETR each message; the bodies from its output.
before=$(stls_count)
{
	printf 'USER alice\r\nPASS wonderland\r\n'
	for n in $(seq 1 "$message_count"); do printf 'RETR %s\r\n' "$n"; done
	printf 'QUIT\r\n'
} >"$TMP/s_client.in"
timeout 60 openssl s_client -starttls pop3 -connect "127.0.0.1:$PORT" \
    -quiet -verify_return_error -CAfile "$TMP/cert.pem" \
    -verify_hostname localhost <"$TMP/s_client.in" >"$TMP/s_client.out" \
    2>"$TMP/s_client.err"
python3 - "$TMP/s_client.out" "$TMP/s_client" <<'EOF'
import os, re, sys
data = open(sys.argv[1], "rb").read()
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
n, body = 0, None
for line in data.split(b"\r\n"):
    if body is None:
        if re.match(rb"^\+OK [0-9]+ octets$", line):
            n += 1
            body = []
    elif line == b".":
        with open(os.path.join(out, str(n)), "wb") as f:
            f.write(b"".join((l[1:] if l.startswith(b".") else l) + b"\n"
                             for l in body))
        body = None
    else:
        body.append(line)
EOF
same_dir "$TMP/expected" "$TMP/s_client" \
    "openssl s_client -starttls pop3: every message as stored" ||
    diag_file "$TMP/s_client.err"
[ "$(stls_count)" -gt "$before" ]
ok $? "openssl s_client went through STLS"

# curl --ssl-reqd: STLS or nothing.
before=$(stls_count)
mkdir -p "$TMP/curl"
for n in $(seq 1 "$message_count"); do
	timeout 30 curl -sS --ssl-reqd --cacert "$TMP/cert.pem" \
	    -u alice:wonderland "pop3://127.0.0.1:$PORT/$n" 2>>"$TMP/curl.err" |
	    sed 's/\r$//' >"$TMP/curl/$n"
done
same_dir "$TMP/expected" "$TMP/curl" "curl --ssl-reqd: every message as stored" ||
    diag_file "$TMP/curl.err"
[ "$(stls_count)" -ge $((before + message_count)) ]
ok $? "curl --ssl-reqd went through STLS every time"

# fetchmail: sslproto with no ssl means STLS, and fetchmail insists on it.
# It checks the certificate's names against the host it polls, 127.0.0.1,
# and not its IP addresses: sslcommonname names the certificate's.
FETCHMAIL_RECEIVED='Received: from 127\.0\.0\.1 \[127\.0\.0\.1\]
	by \S+ with POP3S? \(fetchmail-[0-9.]+\)
	for <\S+> \(single-drop\); .*'
save_numbered_mda
mkdir -p "$TMP/fetchmail"
cat >"$TMP/fetchmail.rc" <<EOF
set no bouncemail
set no syslog
poll 127.0.0.1 with proto POP3 auth password port $PORT no uidl
	user alice there with password "wonderland" is root here
	options keep fetchall no rewrite sslproto 'TLS1.2+' sslcertck
	sslcertfile "$TMP/cert.pem" sslcommonname localhost
	mda "$TMP/save-numbered.sh $TMP/fetchmail"
EOF
chmod 600 "$TMP/fetchmail.rc"
before=$(stls_count)
FETCHMAILHOME=$HOME timeout 60 fetchmail --nodetach -d0 -v \
    -f "$TMP/fetchmail.rc" >"$TMP/fetchmail.log" 2>&1
ok $? "fetchmail sslproto TLS1.2+ sslcertck: exit 0" ||
    diag_file "$TMP/fetchmail.log"
grep -q 'POP3> STLS' "$TMP/fetchmail.log" && [ "$(stls_count)" -gt "$before" ]
ok $? "fetchmail said STLS"
mail_files strip-header "$TMP/fetchmail" Received "$FETCHMAIL_RECEIVED"
ok $? "fetchmail: one Received field added to each message"
same_dir "$TMP/expected" "$TMP/fetchmail" "fetchmail through STLS: every message as stored"

# mpop: tls_starttls on.
cat >"$TMP/mpop.rc" <<EOF
account test
host 127.0.0.1
port $PORT
tls on
tls_starttls on
tls_trust_file $TMP/cert.pem
auth user
user alice
password wonderland
delivery mbox $TMP/mpop.mbox
keep on
only_new off
received_header off
uidls_file $TMP/mpop.uidls
EOF
chmod 600 "$TMP/mpop.rc"
: >"$TMP/mpop.mbox"
before=$(stls_count)
timeout 60 mpop -C "$TMP/mpop.rc" -d test >"$TMP/mpop.log" 2>&1
ok $? "mpop tls_starttls on: exit 0" || diag_file "$TMP/mpop.log"
[ "$(stls_count)" -gt "$before" ]
ok $? "mpop went through STLS"
mail_files mboxrd "$TMP/mpop.mbox" "$TMP/mpop"
same_dir "$TMP/expected" "$TMP/mpop" "mpop through STLS: every message as stored"
cmp -s "$FIXTURES/clients.mbox" "$MBOX"
ok $? "the mailbox is unchanged"

stop "$PID"

# ---- STLS that cannot go on, and a child that lies ----

# (each command once the answer before it is in: what follows STLS at
# once is dropped)
TOP=$TOP python3 - "$POP3D" "$MBOX" "$PASSWD" "$TMP/no-such.conf" \
    >"$TMP/nostunnel.out" 2>"$TMP/nostunnel.err" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["TOP"], "t"))
from pop3lib import Session
s = Session(["-f", sys.argv[2], "-p", sys.argv[3], "-T", sys.argv[4]],
            binary=sys.argv[1])
print(s.cmd("STLS").decode())
print(s.cmd("CAPA").decode())
s.multi()
print(s.cmd("QUIT").decode())
sys.stderr.write(s.finish()[1])
EOF
sed -n 1p "$TMP/nostunnel.out" | grep -q '^-ERR \[SYS/TEMP\] TLS is not available now' &&
    sed -n 2p "$TMP/nostunnel.out" | grep -q '^+OK capability' &&
    grep -q 'STLS from=.*cannot run' "$TMP/nostunnel.err"
ok $? "a -T file that cannot be read: STLS gets -ERR [SYS/TEMP], the session goes on" ||
    diag_file "$TMP/nostunnel.out"
printf 'STLS\r\nQUIT\r\n' | "$POP3D" -e -f "$MBOX" -p "$PASSWD" \
    >"$TMP/notls.out" 2>/dev/null
sed -n 2p "$TMP/notls.out" | grep -q '^-ERR STLS is not offered here'
ok $? "without -T: STLS gets -ERR, and CAPA has no STLS"
# an HO_STLS record (type T, one empty field) from the child
LYING_ARGS="-f $MBOX -p $PASSWD" lying_child lie 000454010000 \
    'STLS, which is not offered' \
    "a child that hands over STLS when it is not offered ends the session"
"$POP3D" -T "$TMP/stls.conf" -a -f "$MBOX" </dev/null >/dev/null 2>"$TMP/ta.err"
[ $? -eq 64 ]
ok $? "-T and -a together: a usage error"

done_testing
