#!/usr/bin/env bash
# pop3d -C, the setup check (as sshd -t and nginx -t): good setups exit 0
# and say what a session would do; each broken piece is named (a password
# file's malformed lines with their numbers, a missing account or
# directory, a spool pop3d cannot lock in, a stunnel file that would not
# work, a proxy list that trusts everyone) and a broken setup exits 1.

. "$(dirname "$0")/launch-lib.sh"

need python3 stunnel
need_root
need_pop3d
setup_tmp
chmod 755 "$TMP"

# check NAME WANT-STATUS OPTION...: pop3d -C OPTION..., its output in
# TMP/NAME.out; a TAP line for the exit status.
check_run()
{
	local name=$1 want=$2 status
	shift 2
	"$POP3D" -C "$@" >"$TMP/$name.out" 2>&1
	status=$?
	[ "$status" -eq "$want" ]
	ok $? "$name: pop3d -C exits $want (got $status)" ||
	    diag_file "$TMP/$name.out"
}
para()		# para NAME: the summary paragraph on one line
{
	sed -n '/^A session:/,/^$/p' "$TMP/$1.out" | tr '\n' ' '
}
says()		# says NAME REGEX [what]: the output has a matching line
{
	grep -Eq -- "$2" "$TMP/$1.out"
	ok $? "$1: says ${3:-$2}" || diag_file "$TMP/$1.out"
}

# ---- a good setup: virtual users, a Debian-like spool ----

mkdir -p "$TMP/spool"
chown root:mail "$TMP/spool"
chmod 2775 "$TMP/spool"
hash=$(printf 'secret\n' | "$POP3D" -P)
cat >"$TMP/passwd" <<EOF
# users
jack:{PLAIN}password

jill:$hash:$TMP/spool/jill
EOF
chmod 600 "$TMP/passwd"
check_run good 0 -p "$TMP/passwd" -u mail -m "$TMP/spool/%u"
says good '^ok +password file .*: root:root 0600$' "the password file's owner and mode"
says good '^ok +.*: 2 users can log in, 1 with \{PLAIN\} secrets' "2 users, 1 {PLAIN}"
says good '^ok +-u mail: sessions run as uid' "the -u account"
says good '^ok +pre-login account pop3d \(uid [0-9]+\), chroot /var/lib/pop3d/empty$' \
    "the pre-login account and its chroot"
says good "^ok +mailbox directory $TMP/spool: root:mail 2775" "the spool's owner and mode"
! grep -Eq '^(warning|error)' "$TMP/good.out"
ok $? "good: no warning, no error" || diag_file "$TMP/good.out"
para good >"$TMP/good.para"
grep -q "checked against $TMP/passwd (2 users); the session then runs as mail and serves $TMP/spool/%u, creating the dotlock MBOX.lock and its session file MBOX.pop3d in $TMP/spool" \
    "$TMP/good.para" && ! awk 'length > 72' "$TMP/good.out" | grep -q '^A session'
ok $? "good: a paragraph says what a session does" || diag_file "$TMP/good.para"
says good '^pop3d -C: 0 errors, 0 warnings: the setup is good$' "the verdict"

# System accounts on Debian's /var/mail layout: the group is kept.
check_run system 0 -m "$TMP/spool/%u"
para system | grep -q 'keeping group mail as Debian'
ok $? "system accounts, root:mail 2775: the session keeps group mail for MBOX.lock and MBOX.pop3d" ||
    diag_file "$TMP/system.out"

# ---- a broken password file: each line by its number ----

{
	echo 'jack:{PLAIN}password'
	echo '# a comment'
	echo 'no colon here'
	echo '../etc:{PLAIN}x'
	echo 'bob:$9$nosuchmethod$abc'
	printf 'long:{PLAIN}%s\n' "$(head -c 1100 /dev/zero | tr '\0' x)"
	printf 'nul:{PLAIN}a\0b\n'
	printf 'dos:{PLAIN}password\r\n'
	echo 'jack:{PLAIN}again'
	echo 'empty:'
	echo 'rel:{PLAIN}x:mail/rel'
} >"$TMP/bad-passwd"
chmod 644 "$TMP/bad-passwd"
check_run passwd 1 -p "$TMP/bad-passwd" -u mail -m "$TMP/spool/%u"
says passwd "line 3: no ':'" "line 3 has no ':'"
says passwd 'line 4: "\.\./etc" is not a user name' "line 4's user name is refused"
says passwd 'line 5 \(bob\): neither \{PLAIN\}\.\.\. nor a crypt\(3\) hash' \
    "line 5's secret is no hash crypt(3) knows"
says passwd 'line 6: longer than 1023 bytes or holding a NUL byte' "line 6 is too long"
says passwd 'line 7: longer than 1023 bytes or holding a NUL byte' "line 7 holds a NUL"
says passwd 'line 8: ends in CR' "line 8 ends in CR"
says passwd '^warning .*line 9: jack again \(line 1 first\)' "line 9 names jack again"
says passwd 'line 10 \(empty\): an empty secret' "line 10's secret is empty"
says passwd '^warning .*line 11 \(rel\): the mailbox mail/rel is a relative path' \
    "line 11's mailbox is relative"
says passwd '^warning .* is readable by others' "the file is readable by others"
! grep -Eq 'line (1|2):' "$TMP/passwd.out"
ok $? "passwd: lines 1 and 2 are fine and not named"
says passwd '^pop3d -C: 7 errors, 3 warnings' "the count"

# ---- accounts and directories ----

check_run no-u 1 -p "$TMP/passwd" -u no-such-user-pop3d -m "$TMP/spool/%u"
says no-u '^error +-u no-such-user-pop3d: no such user' "-u names no account"
check_run no-prelogin 1 -p "$TMP/passwd" -u mail -m "$TMP/spool/%u" \
    -U no-such-user-pop3d
says no-prelogin '^error +the pre-login account no-such-user-pop3d' "-U names no account"
mkdir -p "$TMP/open-chroot"
chmod 777 "$TMP/open-chroot"
check_run open-chroot 1 -p "$TMP/passwd" -u mail -m "$TMP/spool/%u" \
    -R "$TMP/open-chroot"
says open-chroot "must be a directory owned by root that only root can write" \
    "a chroot others may write"
mkdir -p "$TMP/full-chroot"
touch "$TMP/full-chroot/file"
check_run full-chroot 0 -p "$TMP/passwd" -u mail -m "$TMP/spool/%u" \
    -R "$TMP/full-chroot"
says full-chroot "^warning .*full-chroot is not empty" "a chroot that is not empty"
check_run no-spool 1 -p "$TMP/passwd" -u mail -m "$TMP/nowhere/%u"
says no-spool "^error +mailbox directory $TMP/nowhere: No such file" "a missing spool"
mkdir -p "$TMP/rootspool"
chmod 755 "$TMP/rootspool"
check_run rootspool 0 -p "$TMP/passwd" -u mail -m "$TMP/rootspool/%u"
says rootspool "^warning .*mail cannot create MBOX.lock or MBOX.pop3d there" \
    "mail cannot lock in a root:root 0755 spool"
check_run rootspool-system 0 -m "$TMP/rootspool/%u"
says rootspool-system "^warning .*a user's session cannot create MBOX.lock" \
    "a user cannot lock in it either (system accounts)"
mkdir -p "$TMP/openspool"
chmod 777 "$TMP/openspool"
check_run openspool 0 -m "$TMP/openspool/%u"
says openspool "^warning .*anyone may write it and remove others' files" \
    "a world-writable spool without the sticky bit"
check_run index 1 -p "$TMP/passwd" -u mail -m "$TMP/spool/%u" -i "$TMP/no-index"
says index "^error +-i $TMP/no-index" "a missing index directory"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$POP3D" -C -m "$TMP/spool/%u" >"$TMP/nonroot.out" 2>&1
[ $? -eq 1 ] && grep -q '^error .*system accounts (no -p) need root' "$TMP/nonroot.out"
ok $? "not root, system accounts: an error that says root is needed" ||
    diag_file "$TMP/nonroot.out"

# ---- STLS: the stunnel file ----

make_cert || ok 1 "a certificate"
stls_file()	# stls_file NAME SED-OPTION...: the shipped file, edited
{
	sed -e "s|^\(cert[[:space:]]*=\).*|\1 $TMP/cert.pem|" \
	    -e "s|^\(key[[:space:]]*=\).*|\1 $TMP/key.pem|" \
	    -e "s|/usr/local/sbin/pop3d|$POP3D|" "$@" \
	    "$TOP/examples/stunnel-stls.conf" >"$TMP/$NAME.conf"
}
NAME=stls-good stls_file
check_run stls-good 0 -m "$TMP/spool/%u" -T "$TMP/stls-good.conf" -x
says stls-good "^ok +-T .*: STLS runs /usr/bin/stunnel in inetd mode, which runs pop3d -a" \
    "the shipped file, its paths set, runs pop3d -a"
para stls-good | grep 'offers STLS, which hands the connection to stunnel' |
    grep -q 'USER, PASS, APOP and AUTH are refused without TLS'

ok $? "stls-good: the paragraph tells STLS and -x"
check_run stls-missing 1 -m "$TMP/spool/%u" -T "$TMP/none.conf"
says stls-missing "^error +-T $TMP/none.conf: No such file" "a missing file"
# stls_bad NAME WHAT REGEX SED-OPTION...: an edited file that -C refuses
stls_bad()
{
	local name=$1 what=$2 regex=$3
	shift 3
	NAME=$name stls_file "$@"
	check_run "$name" 1 -m "$TMP/spool/%u" -T "$TMP/$name.conf"
	says "$name" "$regex" "$what"
}
stls_bad stls-accept "an accept line" "line [0-9]+: accept: stunnel would listen" \
    -e '$a accept = 110'
stls_bad stls-noexec "no exec line" "no exec line" -e '/^exec/d'
stls_bad stls-true "an exec that is no pop3d" "exec /bin/true: not a pop3d" \
    -e "s|^exec = .*|exec = /bin/true|"
stls_bad stls-noa "execArgs without -a" "execArgs does not give pop3d -a" \
    -e 's/pop3d -a /pop3d /'
stls_bad stls-nokey "a missing key" "line [0-9]+: key $TMP/nokey.pem: No such file" \
    -e "s|^key = .*|key = $TMP/nokey.pem|"
check_run x-alone 0 -m "$TMP/spool/%u" -x
says x-alone "^warning +-x without -T" "-x without STLS"

# ---- the proxy list ----

check_run proxies 0 -m "$TMP/spool/%u" -H 10.0.0.0/8,2001:db8::1
says proxies '^ok +-H: PROXY headers trusted from 10\.0\.0\.0/8$' "10.0.0.0/8"
says proxies '^ok +-H: PROXY headers trusted from 2001:db8::1/128$' "2001:db8::1/128"
para proxies |
    grep -q 'a connection from a trusted proxy starts with its PROXY header'
ok $? "proxies: the paragraph tells the PROXY header"
check_run everyone 0 -m "$TMP/spool/%u" -H 0.0.0.0/0
says everyone '^warning +-H 0\.0\.0\.0/0: every address may claim' "0.0.0.0/0 trusts everyone"
"$POP3D" -C -m "$TMP/spool/%u" -H 10.0.0.1/8 >"$TMP/h.out" 2>&1
[ $? -eq 64 ] && grep -q 'host bits set' "$TMP/h.out"
ok $? "-H with host bits: a usage error (64), as for a session"

done_testing
