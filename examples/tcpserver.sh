#!/bin/sh
# pop3d under tcpserver (ucspi-tcp): one pop3d process per POP3 connection.
# Run it from a supervisor (daemontools' run script, runit, systemd).
#
# -R -H: no ident or DNS lookups, so the greeting is immediate; -l 0: no
# local name lookup; -c: sessions in all (tcpserver has no per-address
# limit: use -x with a tcprules(1) database to refuse addresses).
# pop3d starts as root to check system accounts and drops its privileges
# itself after authentication; before login it reads the client as the
# account pop3d chrooted to /var/lib/pop3d/empty, which must exist.
#
# Virtual users instead of system accounts:
#	... "$pop3d" -p /etc/pop3d/passwd -u mail -m /var/mail/vhosts/%u
addr=0
port=110
pop3d=/usr/local/sbin/pop3d
exec tcpserver -R -H -l 0 -c 64 "$addr" "$port" "$pop3d" -m /var/mail/%u
