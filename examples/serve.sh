#!/bin/sh
# serve.sh: try pop3d with a mail client, from the source tree.
#
# Serves a copy of examples/demo.mbox (user jack, password "password") on
# 127.0.0.1:1110 through the first launcher installed here:
# systemd-socket-activate, else tcpserver, else xinetd.  Runs in the
# foreground; Ctrl-C stops it and removes the copy.  `make serve` runs it.
#
#	curl -u jack:password pop3://127.0.0.1:1110/1
#
# Environment: PORT (1110), POP3D (./pop3d), MBOX (a mailbox to serve in
# place of the demo copy, changed by the clients' deletions), LAUNCHER
# (systemd-socket-activate, tcpserver or xinetd: use that one).
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
port=${PORT:-1110}
pop3d=${POP3D:-$top/pop3d}

if [ ! -x "$pop3d" ]; then
	echo "serve.sh: $pop3d is not built: run make" >&2
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pop3d-serve.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run COMMAND...: the launcher in the background, stopped with SIGTERM on
# Ctrl-C (xinetd ignores SIGINT); returns when it has exited.
run()
{
	"$@" &
	launcher_pid=$!
	trap 'kill -TERM $launcher_pid 2>/dev/null' INT TERM
	wait $launcher_pid
	status=$?
	# A trapped signal ends the first wait early: wait for the exit.
	if kill -0 $launcher_pid 2>/dev/null; then
		wait $launcher_pid
	fi
	return $status
}
# pop3d warns about a password file that others can read: serve a copy.
passwd=$tmp/demo.passwd
cp "$here/demo.passwd" "$passwd" && chmod 600 "$passwd" || exit 1
if [ -n "${MBOX:-}" ]; then
	mbox=$MBOX
else
	mbox=$tmp/demo.mbox
	cp "$here/demo.mbox" "$mbox" || exit 1
fi

# As root pop3d reads the client before login as the account pop3d in
# /var/lib/pop3d/empty; where they are not made yet, nobody in an empty
# directory of our own stands in.
prelogin=
if [ "$(id -u)" = 0 ] && ! getent passwd pop3d >/dev/null; then
	mkdir -m 755 "$tmp/empty" || exit 1
	prelogin="-U nobody -R $tmp/empty"
fi

launcher=${LAUNCHER:-}
if [ -z "$launcher" ]; then
	for launcher in systemd-socket-activate tcpserver xinetd ""; do
		command -v "$launcher" >/dev/null 2>&1 && break
	done
fi
if [ -z "$launcher" ]; then
	echo "serve.sh: no launcher: install systemd (systemd-socket-activate)," \
	    "ucspi-tcp (tcpserver) or xinetd" >&2
	exit 1
fi

echo "pop3d: serving $mbox on 127.0.0.1:$port (user jack, password \"password\")"
echo "       try: curl -u jack:password pop3://127.0.0.1:$port/ ; Ctrl-C stops"
case $launcher in
systemd-socket-activate)
	echo "       launcher: systemd-socket-activate"
	# -e: the session log on this terminal (stderr is not the socket).
	run systemd-socket-activate --accept --inetd -l "127.0.0.1:$port" \
	    "$pop3d" -f "$mbox" -p "$passwd" -e $prelogin
	;;
tcpserver)
	echo "       launcher: tcpserver"
	run tcpserver -R -H -l 0 -c 16 127.0.0.1 "$port" \
	    "$pop3d" -f "$mbox" -p "$passwd" -e $prelogin
	;;
xinetd)
	echo "       launcher: xinetd (log: syslog; stderr is the client's socket)"
	# The shipped service file, as an unlisted service on the demo port.
	sed -e 's|^service pop3|service pop3-demo|' \
	    -e 's|^{|{\n\ttype\t\t= UNLISTED\n\tbind\t\t= 127.0.0.1|' \
	    -e "s|^\\([[:space:]]*port[[:space:]]*=\\).*|\\1 $port|" \
	    -e "s|^\\([[:space:]]*user[[:space:]]*=\\).*|\\1 $(id -un)|" \
	    -e "s|/usr/local/sbin/pop3d|$pop3d|" \
	    -e "s|-m /var/mail/%u|-f $mbox -p $passwd $prelogin|" \
	    "$top/xinetd.d/pop3" >"$tmp/xinetd.conf"
	run xinetd -dontfork -pidfile "$tmp/xinetd.pid" -f "$tmp/xinetd.conf"
	;;
*)
	echo "serve.sh: unknown launcher $launcher" >&2
	exit 64
	;;
esac
