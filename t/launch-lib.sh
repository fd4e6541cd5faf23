# The launchers and clients of t/4x, on top of t/lib.sh (TAP, need, TOP,
# POP3D, TMP and the cleanup): loopback port picking, launchers started
# from the shipped configuration files in a process group of their own and
# stopped at exit, and what a client must save of each message.  Sourced by
# bash.
#
# What a client that downloads a message must get back, byte for byte:
# pop3d sends a message as it is stored between its From_ line (excluded) and
# the empty line that separates it from the next message's From_ line
# (excluded).  On the wire every line ends in CRLF and a line beginning with
# "." gets one more "." (dot-stuffing); ">From " lines are sent as stored.
# A message without a final newline at the end of the file gets a CRLF.  So a
# client that undoes the stuffing and saves with LF line ends reproduces the
# stored bytes, plus a final LF when the stored message had none.
# mbox_split (below) writes exactly those expected bytes, one file per
# message; t/41-clients.t documents what each client adds.

# shellcheck source=t/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started_pids=()

# stop_started: at exit, every launcher spawn started and stop did not.
stop_started()
{
	local pid
	for pid in "${started_pids[@]}"; do
		# Each launcher runs in its own process group (setsid), so its
		# pop3d children stop with it; the group id is the launcher's pid.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${started_pids[@]}"; do
		wait_gone "$pid" 50 || kill -KILL -- "-$pid" 2>/dev/null
	done
	started_pids=()
}
at_exit stop_started

# A random port in 20000-29999 on which nothing listens right now.  The
# launcher may still lose a race for it; start_* retry with a new port.
pick_port()
{
	local port tries=0
	while [ "$tries" -lt 50 ]; do
		port=$((20000 + RANDOM % 10000))
		if ! port_open "$port"; then
			echo "$port"
			return 0
		fi
		tries=$((tries + 1))
	done
	return 1
}

port_open()
{
	# bash's /dev/tcp: connect and close at once.
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_listen PORT PID: wait up to 10 s for PORT to accept connections while
# PID (the launcher) is alive.  Returns 1 when the launcher died or timed out.
wait_listen()
{
	local i=0
	while [ "$i" -lt 100 ]; do
		kill -0 "$2" 2>/dev/null || return 1
		if listening "$1"; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Whether something listens on 127.0.0.1:PORT, without connecting: a test
# connection would make an inetd-style launcher start a session.
listening()
{
	local hexport
	hexport=$(printf '%04X' "$1")
	grep -q "^ *[0-9]*: 0100007F:$hexport 00000000:0000 0A" /proc/net/tcp 2>/dev/null ||
	    grep -q "^ *[0-9]*: 00000000:$hexport 00000000:0000 0A" /proc/net/tcp 2>/dev/null
}

# spawn LOGFILE CMD...: start CMD in its own session and process group, stdin
# from /dev/null, output to LOGFILE; sets SPAWNED_PID and remembers it for the
# cleanup.
spawn()
{
	local log=$1
	shift
	setsid "$@" </dev/null >"$log" 2>&1 &
	SPAWNED_PID=$!
	started_pids+=("$SPAWNED_PID")
}

# stop PID: stop one launcher started by spawn, and its process group.
stop()
{
	kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	wait_gone "$1" 50 || kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	forget "$1"
}

# forget PID: a process started by spawn has ended; the cleanup leaves it.
forget()
{
	local p keep=()
	for p in "${started_pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	started_pids=("${keep[@]}")
}

# try_start NAME FUNCTION: call FUNCTION PORT with fresh ports until its
# launcher listens (at most 5 tries).  FUNCTION starts the launcher with
# spawn; on success PORT and PID are set.
try_start()
{
	local name=$1 fn=$2 tries=0
	while [ "$tries" -lt 5 ]; do
		PORT=$(pick_port) || return 1
		"$fn" "$PORT"
		PID=$SPAWNED_PID
		if wait_listen "$PORT" "$PID"; then
			return 0
		fi
		diag "$name did not listen on $PORT (try $((tries + 1)))"
		diag_file "$TMP/$name.log"
		stop "$PID"
		tries=$((tries + 1))
	done
	return 1
}

# The pop3d arguments the tests use instead of the shipped
# "-m /var/mail/%u": one mailbox, one password file, set by the caller,
# and EXTRA_ARGS (say -e, where stderr goes to the launcher's log).
test_args()
{
	echo "-f $MBOX -p $PASSWD${EXTRA_ARGS:+ $EXTRA_ARGS}"
}

# ---- launchers, each from the file shipped in the source tree ----

# The launch files the start_* functions read: the source tree's, unless a
# test names installed ones (t/46-debian.t).
SERVICE_UNIT=$TOP/systemd/pop3d@.service
XINETD_FILE=$TOP/xinetd.d/pop3

# exec_start [--virtual] SED-OPTION...: the ExecStart= of SERVICE_UNIT
# (with --virtual the commented one, for virtual users), unescaped as
# systemd would (a leading "-" drops, "%%" is "%"), the binary replaced by
# POP3D, then edited by the sed options.  Prints one argument per line.
exec_start()
{
	local line='^ExecStart='
	if [ "${1:-}" = --virtual ]; then
		line='^#[[:space:]]*ExecStart='
		shift
	fi
	sed -n "s/$line//p" "$SERVICE_UNIT" |
	    sed -e 's/^[-@:+!]*//' -e 's/%%/%/g' \
		-e "s|^/usr/local/sbin/pop3d|$POP3D|" "$@" | tr ' ' '\n'
}

# systemd: the unit's command with the test's arguments.
unit_command()
{
	exec_start -e "s|-m /var/mail/%u|$(test_args)|"
}

start_socket_activate_on()
{
	local argv
	mapfile -t argv < <(unit_command)
	spawn "$TMP/socket-activate.log" systemd-socket-activate --accept --inetd \
	    -l "127.0.0.1:$1" "${argv[@]}"
}

start_socket_activate()
{
	try_start socket-activate start_socket_activate_on
}

# tcpserver: examples/tcpserver.sh with its variables set to the test's.
start_tcpserver_on()
{
	sed -e "s|^addr=.*|addr=127.0.0.1|" -e "s|^port=.*|port=$1|" \
	    -e "s|/usr/local/sbin/pop3d|$POP3D|" \
	    -e "s|-m /var/mail/%u|$(test_args)|" \
	    "$TOP/examples/tcpserver.sh" >"$TMP/tcpserver.sh"
	spawn "$TMP/tcpserver.log" sh "$TMP/tcpserver.sh"
}

start_tcpserver()
{
	try_start tcpserver start_tcpserver_on
}

# xinetd: XINETD_FILE renamed to an unlisted service on a test port, bound
# to loopback, logging to a file; run in the foreground with -f.
start_xinetd_on()
{
	sed -e "s|^service pop3|service pop3-test|" \
	    -e "s|^{|{\n\ttype\t\t= UNLISTED\n\tbind\t\t= 127.0.0.1|" \
	    -e "s|^\([[:space:]]*port[[:space:]]*=\).*|\1 $1|" \
	    -e "s|^\([[:space:]]*log_type[[:space:]]*=\).*|\1 FILE $TMP/xinetd-service.log|" \
	    -e "s|/usr/local/sbin/pop3d|$POP3D|" \
	    -e "s|-m /var/mail/%u|$(test_args)|" \
	    "$XINETD_FILE" >"$TMP/xinetd.conf"
	spawn "$TMP/xinetd.log" xinetd -dontfork -pidfile "$TMP/xinetd.pid" \
	    -f "$TMP/xinetd.conf"
}

start_xinetd()
{
	try_start xinetd start_xinetd_on
}

# A self-signed certificate for stunnel, made once per test run.
make_cert()
{
	[ -f "$TMP/cert.pem" ] && return 0
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/openssl.log" 2>&1
}

# stunnel: examples/stunnel.conf in the foreground, accept on a test port,
# certificate and key from make_cert, exec'ing pop3d with the test's arguments.
start_stunnel_on()
{
	sed -e "s|^\([[:space:]]*accept[[:space:]]*=\).*|\1 127.0.0.1:$1|" \
	    -e "s|^\([[:space:]]*cert[[:space:]]*=\).*|\1 $TMP/cert.pem|" \
	    -e "s|^\([[:space:]]*key[[:space:]]*=\).*|\1 $TMP/key.pem|" \
	    -e "s|^\([[:space:]]*pid[[:space:]]*=\).*|\1 $TMP/stunnel.pid|" \
	    -e "s|^\([[:space:]]*foreground[[:space:]]*=\).*|\1 yes|" \
	    -e "s|^\([[:space:]]*output[[:space:]]*=\).*|\1 $TMP/stunnel-output.log|" \
	    -e "s|/usr/local/sbin/pop3d|$POP3D|" \
	    -e "s|-m /var/mail/%u|$(test_args)|" \
	    "$TOP/examples/stunnel.conf" >"$TMP/stunnel.conf"
	spawn "$TMP/stunnel.log" stunnel "$TMP/stunnel.conf"
}

start_stunnel()
{
	make_cert || return 1
	try_start stunnel start_stunnel_on
}

# busybox inetd: the line of examples/busybox-inetd.conf, its service
# replaced by 127.0.0.1:PORT, in the foreground logging to stderr (-f -e).
# BUSYBOX is set by have_busybox_inetd.
start_busybox_inetd_on()
{
	grep -v '^#' "$TOP/examples/busybox-inetd.conf" | grep . |
	    sed -e "s|^[^[:space:]]*|127.0.0.1:$1|" \
		-e "s|/usr/local/sbin/pop3d|$POP3D|" \
		-e "s|-m /var/mail/%u|$(test_args)|" >"$TMP/busybox-inetd.conf"
	spawn "$TMP/busybox-inetd.log" "$BUSYBOX" inetd -f -e \
	    "$TMP/busybox-inetd.conf"
}

start_busybox_inetd()
{
	try_start busybox-inetd start_busybox_inetd_on
}

# have_busybox_inetd: BUSYBOX, a busybox with the inetd applet, which
# Debian's busybox packages leave out: BUSYBOX from the environment, else
# the one cross/build.sh builds from Debian's source (once, under
# cross/out).  Fails with the reason in WHY.
have_busybox_inetd()
{
	BUSYBOX=${BUSYBOX:-$TOP/cross/out/busybox}
	if [ ! -x "$BUSYBOX" ] && [ "$BUSYBOX" = "$TOP/cross/out/busybox" ]; then
		diag "building busybox with inetd (cross/build.sh busybox)"
		if ! sh "$TOP/cross/build.sh" busybox >"$TMP/busybox-build.log" 2>&1; then
			diag_file "$TMP/busybox-build.log"
			WHY="cross/build.sh busybox failed"
			return 1
		fi
	fi
	if ! "$BUSYBOX" --list 2>/dev/null | grep -qx inetd; then
		WHY="$BUSYBOX has no inetd applet"
		return 1
	fi
}

# need_launcher: one of the launchers start_any_launcher tries (xinetd, its
# last resort, is not required).
need_launcher()
{
	command -v systemd-socket-activate >/dev/null 2>&1 || need tcpserver
}

# start_any_launcher: pop3d behind the first launcher installed here, for
# tests that need any one of them; LAUNCHER names it.  When none listens, a
# failing check ends the test.
start_any_launcher()
{
	local status=1
	if command -v systemd-socket-activate >/dev/null 2>&1; then
		LAUNCHER=systemd-socket-activate
		start_socket_activate
		status=$?
	elif command -v tcpserver >/dev/null 2>&1; then
		LAUNCHER=tcpserver
		start_tcpserver
		status=$?
	elif command -v xinetd >/dev/null 2>&1; then
		LAUNCHER=xinetd
		start_xinetd
		status=$?
	fi
	if [ "$status" -ne 0 ]; then
		ok 1 "a launcher listens"
		done_testing
	fi
	diag "pop3d behind $LAUNCHER on 127.0.0.1:$PORT"
}

# clients_fixture: the clients' mailbox and users from t/fixtures (alice,
# wonderland) in TMP: MBOX, PASSWD, TMP/expected/N (what a client must save
# of message N, see mbox_split) and message_count.
clients_fixture()
{
	MBOX=$TMP/mbox
	PASSWD=$TMP/passwd
	cp "$FIXTURES/clients.mbox" "$MBOX"
	cp "$FIXTURES/clients.passwd" "$PASSWD"
	chmod 600 "$PASSWD"	# pop3d warns about a password file others can read
	mbox_split "$FIXTURES/clients.mbox" "$TMP/expected"
	message_count=$(ls "$TMP/expected" | wc -l)
}

# ---- a session through a launcher ----

# SESSION: a read-only session of the clients' fixture (clients_fixture)
# through a launcher: run_session sends it, check_session checks the answers.
SESSION='USER alice
PASS wonderland
STAT
LIST
UIDL
RETR 1
TOP 3 0
QUIT
'

# check_session NAME DIR: the answers saved by pop3-talk.py for SESSION.
check_session()
{
	local name=$1 dir=$2
	grep -q '^+OK' "$dir/0" 2>/dev/null
	ok $? "$name: greeting" || diag_file "$TMP/$name.log"
	grep -q '^+OK' "$dir/2" 2>/dev/null
	ok $? "$name: login"
	grep -q "^+OK $message_count [0-9][0-9]*\$" "$dir/3" 2>/dev/null
	ok $? "$name: STAT counts $message_count messages" || diag_file "$dir/3"
	[ "$(wc -l <"$dir/4.body" 2>/dev/null)" -eq "$message_count" ]
	ok $? "$name: LIST lists $message_count messages"
	[ "$(cut -d' ' -f1 "$dir/5.body" 2>/dev/null | tr '\n' ' ')" = \
	    "$(seq 1 "$message_count" | tr '\n' ' ')" ]
	ok $? "$name: UIDL lists them in order"
	same_bytes "$TMP/expected/1" "$dir/6.body" \
	    "$name: RETR 1 is the stored message"
	sed '/^$/q' "$TMP/expected/3" >"$TMP/expected-top"
	same_bytes "$TMP/expected-top" "$dir/7.body" \
	    "$name: TOP 3 0 is the stored header and the empty line"
	grep -q '^+OK' "$dir/8" 2>/dev/null
	ok $? "$name: QUIT"
	cmp -s "$FIXTURES/clients.mbox" "$MBOX"
	ok $? "$name: mailbox unchanged by a read-only session"
}

# peer_logged NAME [LAUNCHER]: pop3d, run with -e, logged the login with the
# client's address, found through the launcher (socket, TCPREMOTEIP or
# REMOTE_HOST), in the log of the launcher started as LAUNCHER (NAME).
peer_logged()
{
	local log=$TMP/${2:-$1}.log
	grep -Eq "login user=alice from=127\.0\.0\.1 msgs=$message_count " \
	    "$log"
	ok $? "$1: pop3d logs the login from 127.0.0.1" || diag_file "$log"
}

# run_session NAME [--tls]: SESSION through the launcher listening on PORT.
run_session()
{
	local name=$1
	shift
	rm -rf "$TMP/$name.answers"
	printf '%s' "$SESSION" | python3 "$TOP/t/pop3-talk.py" "$@" \
	    --save "$TMP/$name.answers" "$PORT" >"$TMP/$name.transcript"
	check_session "$name" "$TMP/$name.answers"
}

# save_numbered_mda: TMP/save-numbered.sh, an MDA (fetchmail's) that
# saves each message it is given in DIR/N, N the next free number.
save_numbered_mda()
{
	cat >"$TMP/save-numbered.sh" <<'EOF'
#!/bin/sh
# save-numbered.sh DIR: stdin into DIR/N, N the next free number.
n=$(ls "$1" | wc -l)
cat >"$1/$((n + 1))"
EOF
	chmod +x "$TMP/save-numbered.sh"
}

# lying_child NAME HEX LOGTEXT WHAT: pop3d-test (POP3D_TEST) whose
# pre-login child hands the monitor the record HEX spells (XHANDOVER,
# test builds only); the session must end with the monitor's -ERR and
# LOGTEXT in the log.  Extra pop3d arguments in LYING_ARGS.
lying_child()
{
	local name=$1 hex=$2 text=$3 what=$4 bin=${POP3D_TEST:-$TOP/pop3d-test}
	if [ ! -x "$bin" ]; then
		skip "$what" "no pop3d-test"
		return
	fi
	# shellcheck disable=SC2086
	printf 'XHANDOVER %s\r\n' "$hex" | "$bin" -e ${LYING_ARGS:-} \
	    >"$TMP/$name.out" 2>"$TMP/$name.err"
	grep -q '^-ERR \[SYS/TEMP\] server error, closing' "$TMP/$name.out" &&
	    grep -q "$text; session ended" "$TMP/$name.err"
	ok $? "$what" || { diag_file "$TMP/$name.out"; diag_file "$TMP/$name.err"; }
}

# ---- expected messages ----

# mbox_split MBOX DIR: DIR/1, DIR/2 ... the bytes a client must save for each
# message (see the top of this file and t/mail-files.py).
mbox_split()
{
	python3 "$TOP/t/mail-files.py" expected "$1" "$2"
}

# mail_files COMMAND ARGS...: t/mail-files.py (reading client mailboxes).
mail_files()
{
	python3 "$TOP/t/mail-files.py" "$@"
}

# same_bytes EXPECTED GOT NAME: a TAP line; on a difference, show it.
same_bytes()
{
	if cmp -s "$1" "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diff -u "$1" "$2" 2>&1 | head -n 30 | cut -c1-200 | sed 's/^/#   /'
		[ -e "$2" ] || diag "$2 missing"
		return 1
	fi
}

# same_dir EXPECTEDDIR GOTDIR NAME: the files 1..N in both are identical.
same_dir()
{
	local f n=0 bad=0
	for f in "$1"/*; do
		n=$((n + 1))
		if ! cmp -s "$f" "$2/$(basename "$f")"; then
			bad=1
			diag "$3: message $(basename "$f") differs"
			diff -u "$f" "$2/$(basename "$f")" 2>&1 | head -n 20 |
			    cut -c1-200 | sed 's/^/#   /'
		fi
	done
	if [ "$(find "$2" -maxdepth 1 -type f | wc -l)" -ne "$n" ]; then
		bad=1
		diag "$3: expected $n messages, got $(ls "$2" | tr '\n' ' ')"
	fi
	ok "$bad" "$3"
}
