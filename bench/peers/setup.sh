#!/bin/bash
# Prepare this machine for bench/run.sh (needs root; safe to run again):
#  - the peers: dovecot-pop3d and mailutils-pop3d from apt, popa3d unpacked
#    into a private directory (its package conflicts with the other two);
#  - system accounts benchuser and benchuser1..N (password benchpw, hash
#    HASH_METHOD, default YESCRYPT as on Debian 12), in group mail so that
#    every server can dotlock in /var/mail;
#  - popa3d's own account and chroot directory;
#  - and a check that no mail daemon was started or listens on port 110.
#
# Usage: peers/setup.sh PEERDIR [N]
set -euo pipefail

peerdir=${1:?usage: setup.sh PEERDIR [N]}
nusers=${2:-50}
hash_method=${HASH_METHOD:-YESCRYPT}
password=benchpw

die() { echo "setup: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (popa3d, system accounts)"

# Package scripts must not start daemons: Debian asks policy-rc.d.
if [ ! -x /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	echo "setup: created /usr/sbin/policy-rc.d (deny service starts)"
fi
set +e; /usr/sbin/policy-rc.d dovecot start >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 101 ] || die "/usr/sbin/policy-rc.d does not deny service starts"

apt_install() {
	local i
	for i in $(seq 1 40); do
		if DEBIAN_FRONTEND=noninteractive apt-get install -y \
		    --no-install-recommends "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 15	# another install may hold the dpkg lock
	done
	die "apt-get install $* failed"
}

missing=
[ -x /usr/lib/dovecot/pop3 ] || missing="$missing dovecot-pop3d"
[ -x /usr/sbin/pop3d ] || missing="$missing mailutils-pop3d"
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	apt-get update -qq >/dev/null 2>&1 || true
	# shellcheck disable=SC2086
	apt_install $missing
fi

mkdir -p "$peerdir"
if [ ! -x "$peerdir/popa3d/usr/sbin/popa3d" ]; then
	echo "setup: unpacking popa3d into $peerdir/popa3d"
	(cd "$peerdir" && rm -f popa3d_*.deb &&
	    apt-get download popa3d >/dev/null 2>&1) ||
	    die "apt-get download popa3d failed"
	rm -rf "$peerdir/popa3d"
	dpkg-deb -x "$peerdir"/popa3d_*.deb "$peerdir/popa3d"
fi

# popa3d drops to this account and chroots here before parsing commands.
getent passwd popa3d >/dev/null ||
	useradd -r -M -d /var/lib/popa3d -s /usr/sbin/nologin popa3d
mkdir -p /var/lib/popa3d
chmod 755 /var/lib/popa3d

# pop3d does the same with its own account and directory (its defaults).
getent passwd pop3d >/dev/null ||
	useradd -r -U -M -d /nonexistent -s /usr/sbin/nologin pop3d
install -d -m 755 /var/lib/pop3d /var/lib/pop3d/empty

make_user() {
	if ! getent passwd "$1" >/dev/null; then
		useradd -M -d /nonexistent -s /usr/sbin/nologin -G mail "$1"
	fi
	usermod -a -G mail "$1"
	# Same password, hashed afresh each time with the chosen method.
	echo "$1:$password" | chpasswd -c "$hash_method"
}
make_user benchuser
for i in $(seq 1 "$nusers"); do
	make_user "benchuser$i"
done

# Nothing may listen on the POP3 port, and no peer daemon may be left.
if ss -ltn 2>/dev/null | awk '{print $4}' | grep -qE ':(110|995)$'; then
	die "something listens on port 110 or 995"
fi
running=$(ps -C dovecot -o pid=,stat= | awk '$2 !~ /^Z/ {print $1}' || true)
[ -z "$running" ] || die "a dovecot daemon is running (pid $running)"
echo "setup: ready ($(grep -c '^benchuser' /etc/passwd) bench accounts," \
    "hash $(getent shadow benchuser | cut -d: -f2 | cut -c1-3))"
