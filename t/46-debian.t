#!/usr/bin/env bash
# The Debian package (debian/), built, installed, used and purged on this
# system as an admin would (root):
# - dpkg-buildpackage -us -uc -b in a copy of the tree builds a .deb that
#   lintian passes with no error or warning, holding exactly what
#   `make install PREFIX=/usr` installs, plus the Debian docs;
# - dpkg -i installs it with the socket unit and the xinetd service
#   switched off, and the example password file works once uncommented;
# - the installed pop3d serves a session through the installed socket unit
#   (systemd-socket-activate with its settings) and through xinetd with
#   the installed service file after its one edit (disable = no);
# - its postinst creates the pre-login account pop3d (a system account)
#   and the empty chroot /var/lib/pop3d/empty, root's, 0755, and can run
#   again; the installed pop3d -C finds the setup good;
# - dpkg --purge leaves nothing of it behind but the account (Debian
#   keeps system accounts: files the uid owns would pass to its next
#   holder).
#
# The chroot directory, when this system has it already (CI makes it
# for the other tests), is taken away for the install, so that postinst
# is seen making it, and put back at the end.

. "$(dirname "$0")/launch-lib.sh"

need dpkg-buildpackage dh lintian python3 systemd-socket-activate \
    systemd-analyze xinetd man
need_root
setup_tmp

# GNU mailutils' pop3d is /usr/sbin/pop3d too: the package conflicts with
# it.  Where it is installed (the benchmark installs it), it steps aside
# for the test: removed (its conffiles kept), and installed again at the
# end from its own .deb, which must be at hand before it goes.
restore_mailutils()
{
	dpkg -i "$mailutils_deb" >"$TMP/mailutils-restore.log" 2>&1
}
if dpkg-query -W -f='${db:Status-Status}' mailutils-pop3d 2>/dev/null |
    grep -qx installed; then
	mailutils_version=$(dpkg-query -W -f='${Version}' mailutils-pop3d)
	mailutils_deb=$(ls /var/cache/apt/archives/mailutils-pop3d_"${mailutils_version//:/%3a}"_*.deb 2>/dev/null | head -1)
	if [ -z "$mailutils_deb" ]; then
		(cd "$TMP" && apt-get download "mailutils-pop3d=$mailutils_version") \
		    >"$TMP/mailutils-download.log" 2>&1
		mailutils_deb=$(ls "$TMP"/mailutils-pop3d_*.deb 2>/dev/null | head -1)
	fi
	if [ -z "$mailutils_deb" ]; then
		skip_or_fail "mailutils-pop3d $mailutils_version is installed (/usr/sbin/pop3d, which the package conflicts with) and its .deb is not at hand to put it back"
	fi
	cp "$mailutils_deb" "$TMP/" && mailutils_deb=$TMP/${mailutils_deb##*/}
	dpkg -r mailutils-pop3d >"$TMP/mailutils-remove.log" 2>&1 ||
	    bail "dpkg -r mailutils-pop3d: $(tail -1 "$TMP/mailutils-remove.log")"
	at_exit restore_mailutils
	diag "mailutils-pop3d $mailutils_version steps aside for the test (dpkg -r; dpkg -i at the end)"
fi

# leftovers: what of a pop3d package is on this system: the paths it
# installs, and its names in systemd's and dpkg's state.
leftovers()
{
	local path
	for path in /usr/sbin/pop3d /usr/share/man/man8/pop3d.8.gz \
	    /usr/share/pop3d /usr/share/doc/pop3d /etc/xinetd.d/pop3 \
	    /lib/systemd/system/pop3d.socket /lib/systemd/system/pop3d@.service; do
		[ -e "$path" ] && echo "$path"
	done
	find /etc/systemd/system /var/lib/systemd /var/lib/dpkg/info -maxdepth 3 \
	    \( -name pop3d -o -name 'pop3d.*' -o -name 'pop3d@*' \) 2>/dev/null
}
leftovers | sort >"$TMP/before"
if [ -s "$TMP/before" ]; then
	ok 1 "nothing of a pop3d package on this system before the test"
	diag_file "$TMP/before"
	done_testing
fi

# Every name where a package or its maintainer scripts could leave one,
# but man-db's cache, which its trigger rebuilds as manuals come and go.
system_names()
{
	find /etc /usr /var/lib /var/cache /var/spool /var/mail /opt /srv \
	    -xdev -path /var/cache/man -prune -o -print 2>/dev/null | sort
}

# ---- build ----

version=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
[ "$version" = "$(sed -n 's/^#define[[:space:]]*POP3D_VERSION[[:space:]]*"\(.*\)"$/\1/p' \
    "$TOP/params.h")" ]
ok $? "debian/changelog's version ($version) is pop3d's (params.h)"

# A copy of the tree as git has it (else all of it, cleaned), built where
# its products land beside it; the sanitizer flags of make check-asan are
# not the package's.
build=$TMP/build
src=$build/pop3d-$version
mkdir -p "$src"
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 cp --parents -t "$src")
else
	cp -a "$TOP/." "$src" && make -s -C "$src" clean >/dev/null &&
	    rm -rf "$src/cross/out"
fi
(cd "$src" && env -u CC -u CFLAGS -u CPPFLAGS -u LDFLAGS \
    dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b" || diag_file "$TMP/build.log"
arch=$(dpkg --print-architecture)
deb=$build/pop3d_${version}_$arch.deb
changes=$build/pop3d_${version}_$arch.changes
[ -f "$deb" ] && [ -f "$changes" ]
ok $? "it made pop3d_${version}_$arch.deb and .changes" || done_testing

lintian --fail-on error,warning "$changes" >"$TMP/lintian.log" 2>&1
status=$?
grep -v '^running with root privileges' "$TMP/lintian.log" >"$TMP/lintian.tags"
[ "$status" -eq 0 ] && ! grep -q '^[EW]:' "$TMP/lintian.tags"
ok $? "lintian: no error, no warning" || diag_file "$TMP/lintian.tags"

# What the package holds: make install PREFIX=/usr, the man page
# compressed, and Debian's README, changelog and copyright.
dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -v '/$' | sort >"$TMP/contents"
cat >"$TMP/contents.want" <<'EOF'
./etc/xinetd.d/pop3
./lib/systemd/system/pop3d.socket
./lib/systemd/system/pop3d@.service
./usr/sbin/pop3d
./usr/share/doc/pop3d/README.gz
./usr/share/doc/pop3d/changelog.gz
./usr/share/doc/pop3d/copyright
./usr/share/man/man8/pop3d.8.gz
./usr/share/pop3d/busybox-inetd.conf
./usr/share/pop3d/inetd.conf
./usr/share/pop3d/passwd.example
./usr/share/pop3d/stunnel-stls.conf
./usr/share/pop3d/stunnel.conf
./usr/share/pop3d/tcpserver.sh
EOF
cmp -s "$TMP/contents.want" "$TMP/contents"
ok $? "dpkg -c: the binary, its manual, the units, the xinetd service, the launcher files, the example password file" ||
    diff "$TMP/contents.want" "$TMP/contents" | sed 's/^/#   /'
make -s -C "$src" install PREFIX=/usr DESTDIR="$TMP/installed" \
    >"$TMP/install.log" 2>&1
(cd "$TMP/installed" && find . -type f | sed 's|/man8/pop3d\.8$|&.gz|' |
    sort) >"$TMP/make-install"
grep -v '^\./usr/share/doc/' "$TMP/contents" | cmp -s - "$TMP/make-install"
ok $? "the package holds what make install PREFIX=/usr installs" ||
    diff <(grep -v '^\./usr/share/doc/' "$TMP/contents") "$TMP/make-install" |
    sed 's/^/#   /'

# ---- install ----

purge()
{
	dpkg --purge pop3d >"$TMP/purge.log" 2>&1
}
# The pre-login chroot as this system had it: taken away now, put back
# at the end (the other tests need it).
CHROOT=/var/lib/pop3d/empty
restore_chroot()
{
	install -d -m 755 -o root -g root /var/lib/pop3d "$CHROOT"
}
had_account=0
getent passwd pop3d >/dev/null && had_account=1
if [ -d "$CHROOT" ]; then
	if [ -n "$(ls -A "$CHROOT")" ] || [ "$(stat -c %U "$CHROOT")" != root ]; then
		ok 1 "$CHROOT is empty and root's before the test"
		done_testing
	fi
	at_exit restore_chroot
	rmdir "$CHROOT" && rmdir --ignore-fail-on-non-empty /var/lib/pop3d
fi
system_names >"$TMP/names.before"
dpkg -i "$deb" >"$TMP/dpkg-i.log" 2>&1
ok $? "dpkg -i pop3d_${version}_$arch.deb" || { diag_file "$TMP/dpkg-i.log"; done_testing; }
at_exit purge
dpkg-query -L pop3d | sort >"$TMP/files"

[ "$(/usr/sbin/pop3d -V)" = "pop3d $version" ]
ok $? "/usr/sbin/pop3d -V says $version"
[ "$(man -w pop3d 2>/dev/null)" = /usr/share/man/man8/pop3d.8.gz ]
ok $? "man -w pop3d finds /usr/share/man/man8/pop3d.8.gz"
dpkg-query -W -f='${Conffiles}\n' pop3d | grep -q '^ /etc/xinetd.d/pop3 '
ok $? "/etc/xinetd.d/pop3 is a conffile"
grep -Eq '^[[:space:]]*disable[[:space:]]*=[[:space:]]*yes$' /etc/xinetd.d/pop3
ok $? "/etc/xinetd.d/pop3: disable = yes"
[ -z "$(find /etc/systemd/system -name 'pop3d*' 2>/dev/null)" ] &&
    [ "$(systemctl is-enabled pop3d.socket 2>/dev/null)" = disabled ]
ok $? "pop3d.socket is installed, not enabled"

unit=/lib/systemd/system/pop3d@.service
socket_unit=/lib/systemd/system/pop3d.socket
grep -qx 'Accept=yes' "$socket_unit" &&
    grep -qx 'ListenStream=110' "$socket_unit"
ok $? "installed pop3d.socket: port 110, Accept=yes"
grep -qx 'ExecStart=-/usr/sbin/pop3d -m /var/mail/%%u' "$unit"
ok $? "installed pop3d@.service runs /usr/sbin/pop3d -m /var/mail/%u"
systemd-analyze verify --man=no "$socket_unit" "$unit" >"$TMP/verify.log" 2>&1 &&
    ! grep -q . "$TMP/verify.log"
ok $? "systemd-analyze verify: no complaint about the installed units" ||
    diag_file "$TMP/verify.log"

# The example password file: as installed, comments alone (pop3d starts
# with it); uncommented, its users log in with the password it names.
printf 'QUIT\r\n' | /usr/sbin/pop3d -e -f /dev/null \
    -p /usr/share/pop3d/passwd.example >"$TMP/example.out" 2>"$TMP/example.err"
grep -q '^+OK' "$TMP/example.out"
ok $? "passwd.example as installed: pop3d starts with it" ||
    diag_file "$TMP/example.err"
clients_fixture
cp "$SESSIONS/mbox/default" "$TMP/jack.mbox"
sed -e 's/^#\([a-z]*:\)/\1/' -e "s|/srv/mail/jack|$TMP/jack.mbox|" \
    /usr/share/pop3d/passwd.example >"$TMP/passwd.example"
chmod 600 "$TMP/passwd.example"
for user in jill:"$message_count" jack:4; do
	printf 'USER %s\r\nPASS example\r\nSTAT\r\nQUIT\r\n' "${user%:*}" |
	    /usr/sbin/pop3d -e -f "$MBOX" -p "$TMP/passwd.example" \
	    >"$TMP/example.out" 2>"$TMP/example.err"
	grep -q "^+OK ${user#*:} " "$TMP/example.out"
	ok $? "passwd.example uncommented: ${user%:*} logs in with \"example\" and sees ${user#*:} messages" ||
	    diag_file "$TMP/example.out"
done

# ---- the pre-login account and chroot ----

IFS=: read -r _ _ uid gid _ home shell < <(getent passwd pop3d)
if [ "$had_account" -eq 1 ]; then
	diag "the account pop3d was there before dpkg -i: postinst left it"
fi
[ -n "$uid" ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] &&
    [ "$(getent group "$gid" | cut -d: -f1)" = pop3d ] &&
    [ "$home" = /nonexistent ] && [ ! -e /nonexistent ] &&
    [ "$shell" = /usr/sbin/nologin ]
ok $? "the account pop3d: a system uid ($uid), group pop3d, home /nonexistent, no shell" ||
    diag "$(getent passwd pop3d)"
[ "$(stat -c '%U:%G %a' "$CHROOT" 2>/dev/null)" = "root:root 755" ] &&
    [ -z "$(ls -A "$CHROOT")" ]
ok $? "postinst made $CHROOT: empty, root:root 0755" ||
    diag "$(ls -ld "$CHROOT" 2>&1)"
/var/lib/dpkg/info/pop3d.postinst configure "$version" >"$TMP/postinst.log" 2>&1 &&
    [ "$(getent passwd pop3d | cut -d: -f3)" = "$uid" ]
ok $? "postinst configure runs again: the same account" ||
    diag_file "$TMP/postinst.log"
/usr/sbin/pop3d -C -m /var/mail/%u >"$TMP/check.out" 2>&1
ok $? "the installed pop3d -C: the setup is good" || diag_file "$TMP/check.out"
grep -q "^ok .*pre-login account pop3d (uid $uid), chroot $CHROOT\$" "$TMP/check.out"
ok $? "pop3d -C sees the account and the chroot postinst made"

# ---- sessions through the installed files ----

POP3D=/usr/sbin/pop3d
SERVICE_UNIT=$unit
EXTRA_ARGS=-e		# stderr is the launcher's log, not the socket
if start_socket_activate; then
	ok 0 "installed socket unit: systemd-socket-activate listens on $PORT"
	run_session installed-socket-unit
	peer_logged installed-socket-unit socket-activate
	stop "$PID"
else
	ok 1 "installed socket unit: systemd-socket-activate listens"
fi

# The admin's one edit: disable = no.
sed 's/^\([[:space:]]*disable[[:space:]]*=\).*/\1 no/' /etc/xinetd.d/pop3 \
    >"$TMP/xinetd.pop3"
XINETD_FILE=$TMP/xinetd.pop3
EXTRA_ARGS=
if start_xinetd; then
	ok 0 "installed xinetd service: xinetd listens on $PORT"
	run_session installed-xinetd
	stop "$PID"
else
	ok 1 "installed xinetd service: xinetd listens"
	diag_file "$TMP/xinetd.conf"
fi

# ---- purge ----

purge
ok $? "dpkg --purge pop3d" || diag_file "$TMP/purge.log"
! dpkg-query -L pop3d >/dev/null 2>&1 &&
    ! dpkg-query -W pop3d >/dev/null 2>&1
ok $? "dpkg -L pop3d: dpkg knows no pop3d any more"
gone=0
while read -r path; do
	if [ -e "$path" ] && [ ! -d "$path" ]; then
		diag "left: $path"
		gone=1
	fi
done <"$TMP/files"
for dir in /usr/share/pop3d /usr/share/doc/pop3d; do
	[ -e "$dir" ] && { diag "left: $dir"; gone=1; }
done
ok "$gone" "every file the package installed is gone"
[ ! -e "$CHROOT" ] && [ ! -e /var/lib/pop3d ]
ok $? "purge removed $CHROOT and /var/lib/pop3d"
getent passwd pop3d >/dev/null
ok $? "purge left the system account pop3d, as Debian does"
system_names >"$TMP/names.after"
diff "$TMP/names.before" "$TMP/names.after" >"$TMP/names.diff"
ok $? "no name in /etc, /usr, /var/lib, /var/cache ... that was not there before dpkg -i" ||
    diag_file "$TMP/names.diff"
restore_chroot

done_testing
