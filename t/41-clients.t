#!/usr/bin/env bash
# Real POP3 clients against pop3d behind a launcher on a loopback port: each
# downloads every message of t/fixtures/clients.mbox, and what it saves is
# compared byte for byte with what was stored.
#
# What pop3d sends (see t/launch-lib.sh): each message as stored between its
# From_ line (excluded) and the empty line before the next From_ line
# (excluded), CRLF line ends and dot-stuffing on the wire, ">From " lines as
# stored, a CRLF after a last line that had no newline.  A client that saves
# with LF line ends reproduces the stored bytes (plus that final LF).
#
# What each client adds, removed here before comparing (and nothing else):
#   fetchmail  (with "no rewrite", delivering to an MDA) prepends one field:
#              Received: from 127.0.0.1 [127.0.0.1]
#              <TAB>by HOST with POP3 (fetchmail-VERSION)
#              <TAB>for <USER@localhost> (single-drop); DATE
#   mpop       prepends one field unless received_header is off:
#              Received: from 127.0.0.1 (localhost [127.0.0.1])
#              <TAB>by HOST (mpop-VERSION) with POP3
#              <TAB>for <USER>; DATE
#              To an mbox it writes a From_ line before each message,
#              quotes ^>*From with one more ">" (mboxrd) and adds an empty
#              line after each message; to a maildir, nothing else.
#   getmail6   prepends "Return-Path: <SENDER>" taken from the message's own
#              Return-Path field, which it removes ("<unknown>" when there is
#              none), then "Delivered-To: unknown" and "Received: from
#              127.0.0.1 (127.0.0.1:PORT) by localhost with POP3 getmail6
#              \n  msgid:HEX; DATE" unless delivered_to/received are false;
#              Mboxrd is written like mpop's mbox.
#   curl       writes the message with its CRLF line ends (dot-stuffing
#              undone): CR before LF is removed here.
#   mutt       (pipe-message, pipe_decode unset, pipe_sep empty): nothing.
#   fdm        (to a maildir, with "set no-received"): nothing.
#   Net::POP3  (perl; get) returns the lines with LF ends, stuffing undone.
#   poplib     (t/43-poplib.t) returns the lines without CRLF, stuffing undone.

. "$(dirname "$0")/launch-lib.sh"

need python3 fetchmail mpop getmail curl mutt tmux fdm s-nail perl
perl -MNet::POP3 -e 1 2>/dev/null || skip_or_fail "perl's Net::POP3 missing"
need_launcher
need_pop3d
setup_tmp
clients_fixture
export HOME=$TMP/home
mkdir -p "$HOME"
# getmail refuses to deliver as root: then it delivers as nobody, which
# must be able to reach its destinations inside TMP.
if [ "$(id -u)" -eq 0 ]; then
	chmod 711 "$TMP"
	getmail_user='user = nobody'
	give_to_getmail() { chown -R nobody "$@"; }
else
	getmail_user=
	give_to_getmail() { :; }
fi

reset_mailbox()
{
	cp "$FIXTURES/clients.mbox" "$MBOX"
}

mailbox_unchanged()
{
	cmp -s "$FIXTURES/clients.mbox" "$MBOX"
	ok $? "$1: the mailbox is unchanged"
}

mailbox_emptied()
{
	[ -f "$MBOX" ] && [ ! -s "$MBOX" ]
	ok $? "$1: every message deleted, the mailbox is empty" ||
	    diag "$(wc -c <"$MBOX" 2>/dev/null) bytes left"
}

start_any_launcher

# ---- fetchmail ----

FETCHMAIL_RECEIVED='Received: from 127\.0\.0\.1 \[127\.0\.0\.1\]
	by \S+ with POP3 \(fetchmail-[0-9.]+\)
	for <\S+> \(single-drop\); .*'

# An MDA that saves each message it is given in the next numbered file.
save_numbered_mda

# fetchmail_run NAME OPTIONS UIDL [PROTOCOL]: one poll with an rc file,
# messages to the MDA; sets fetchmail_status.  PROTOCOL defaults to
# USER/PASS ("POP3 auth password"); fetchmail would otherwise pick
# CRAM-MD5 from CAPA.
fetchmail_run()
{
	local name=$1 keep=$2 uidl=$3 protocol=${4:-POP3 auth password}
	mkdir -p "$TMP/$name"
	cat >"$TMP/$name.rc" <<EOF
set no bouncemail
set no syslog
poll 127.0.0.1 with proto $protocol port $PORT $uidl
	user alice there with password "wonderland" is root here
	options $keep no rewrite sslproto ''
	mda "$TMP/save-numbered.sh $TMP/$name"
EOF
	chmod 600 "$TMP/$name.rc"
	FETCHMAILHOME=$HOME timeout 60 fetchmail --nodetach -d0 -v \
	    -f "$TMP/$name.rc" >"$TMP/$name.log" 2>&1
	fetchmail_status=$?
}

reset_mailbox
fetchmail_run fetchmail-keep 'keep fetchall' 'no uidl'
[ "$fetchmail_status" -eq 0 ]
ok $? "fetchmail keep: exit 0" || diag_file "$TMP/fetchmail-keep.log"
mail_files strip-header "$TMP/fetchmail-keep" Received "$FETCHMAIL_RECEIVED"
ok $? "fetchmail keep: one Received field added to each message"
same_dir "$TMP/expected" "$TMP/fetchmail-keep" \
    "fetchmail keep: every message as stored"
mailbox_unchanged "fetchmail keep"

# With UIDL, a second poll finds nothing new (exit 1: no mail).
rm -f "$HOME/.fetchids"
fetchmail_run fetchmail-uidl keep uidl
fetchmail_run fetchmail-uidl2 keep uidl
[ "$(ls "$TMP/fetchmail-uidl" | wc -l)" -eq "$message_count" ] &&
    [ "$fetchmail_status" -eq 1 ] &&
    [ "$(ls "$TMP/fetchmail-uidl2" | wc -l)" -eq 0 ]
ok $? "fetchmail uidl keep: the second poll fetches nothing (UIDL stable)" ||
    diag_file "$TMP/fetchmail-uidl2.log"
mailbox_unchanged "fetchmail uidl"

# The other ways fetchmail logs in.
for protocol in 'APOP' 'POP3 auth cram-md5'; do
	name=fetchmail-$(echo "$protocol" | tr -c 'a-zA-Z0-9\n' - | tr A-Z a-z)
	rm -f "$HOME/.fetchids"
	fetchmail_run "$name" 'keep fetchall' 'no uidl' "$protocol"
	if [ "$fetchmail_status" -eq 0 ] &&
	    mail_files strip-header "$TMP/$name" Received "$FETCHMAIL_RECEIVED"; then
		same_dir "$TMP/expected" "$TMP/$name" \
		    "fetchmail $protocol: every message as stored"
	else
		ok 1 "fetchmail $protocol: every message as stored"
		diag_file "$TMP/$name.log"
	fi
done

reset_mailbox
rm -f "$HOME/.fetchids"
fetchmail_run fetchmail-delete 'no keep fetchall' 'no uidl'
[ "$fetchmail_status" -eq 0 ]
ok $? "fetchmail delete: exit 0" || diag_file "$TMP/fetchmail-delete.log"
mail_files strip-header "$TMP/fetchmail-delete" Received "$FETCHMAIL_RECEIVED"
ok $? "fetchmail delete: one Received field added to each message"
same_dir "$TMP/expected" "$TMP/fetchmail-delete" \
    "fetchmail delete: every message as stored"
mailbox_emptied "fetchmail delete"

# ---- mpop ----

MPOP_RECEIVED='Received: from 127\.0\.0\.1 \([^)]*\)
	by \S+ \(mpop-[0-9.]+\) with POP3
	for <\S+>; .*'

# mpop_run NAME DELIVERY KEEP ONLY_NEW RECEIVED [AUTH]: sets mpop_status.
mpop_run()
{
	local name=$1
	cat >"$TMP/$name.rc" <<EOF
account test
host 127.0.0.1
port $PORT
tls off
auth ${6:-user}
user alice
password wonderland
delivery $2
keep $3
only_new $4
received_header $5
uidls_file $TMP/mpop.uidls
EOF
	chmod 600 "$TMP/$name.rc"
	timeout 60 mpop -C "$TMP/$name.rc" -d test >"$TMP/$name.log" 2>&1
	mpop_status=$?
}

reset_mailbox
: >"$TMP/mpop.mbox"
rm -f "$TMP/mpop.uidls"
mpop_run mpop-mbox "mbox $TMP/mpop.mbox" on on on
[ "$mpop_status" -eq 0 ]
ok $? "mpop to mbox: exit 0" || diag_file "$TMP/mpop-mbox.log"
mail_files mboxrd "$TMP/mpop.mbox" "$TMP/mpop-mbox" &&
    mail_files strip-header "$TMP/mpop-mbox" Received "$MPOP_RECEIVED"
ok $? "mpop to mbox: mboxrd, one Received field added to each message"
same_dir "$TMP/expected" "$TMP/mpop-mbox" "mpop to mbox: every message as stored"
mailbox_unchanged "mpop to mbox"
mpop_run mpop-again "mbox $TMP/mpop.mbox" on on on
grep -c '^From ' "$TMP/mpop.mbox" >"$TMP/mpop.count"
[ "$mpop_status" -eq 0 ] && [ "$(cat "$TMP/mpop.count")" -eq "$message_count" ]
ok $? "mpop only_new: the second run fetches nothing (UIDL stable)" ||
    diag_file "$TMP/mpop-again.log"

# The other ways mpop logs in.
for auth in plain cram-md5 apop; do
	: >"$TMP/mpop-$auth.mbox"
	mpop_run "mpop-$auth" "mbox $TMP/mpop-$auth.mbox" on off off "$auth"
	if [ "$mpop_status" -eq 0 ] &&
	    mail_files mboxrd "$TMP/mpop-$auth.mbox" "$TMP/mpop-$auth"; then
		same_dir "$TMP/expected" "$TMP/mpop-$auth" \
		    "mpop auth $auth: every message as stored"
	else
		ok 1 "mpop auth $auth: every message as stored"
		diag_file "$TMP/mpop-$auth.log"
	fi
done

reset_mailbox
mkdir -p "$TMP/mpop.maildir/new" "$TMP/mpop.maildir/cur" "$TMP/mpop.maildir/tmp"
rm -f "$TMP/mpop.uidls"
mpop_run mpop-maildir "maildir $TMP/mpop.maildir" off off off
[ "$mpop_status" -eq 0 ]
ok $? "mpop to maildir, deleting: exit 0" || diag_file "$TMP/mpop-maildir.log"
mail_files maildir "$TMP/mpop.maildir" "$TMP/expected" "$TMP/mpop-maildir"
ok $? "mpop to maildir: one file per message"
same_dir "$TMP/expected" "$TMP/mpop-maildir" \
    "mpop to maildir (received_header off): every message as stored"
mailbox_emptied "mpop to maildir"

# ---- getmail6 ----

GETMAIL_RECEIVED="Received: from 127\\.0\\.0\\.1 \\(127\\.0\\.0\\.1:$PORT\\) by \\S+ with POP3 getmail6
  msgid:[0-9a-f]+; .*"

# getmail_run NAME DESTINATION-LINES OPTION-LINES [LOG]: sets
# getmail_status; the state (its UIDs) is kept in TMP/NAME.getmaildir, the
# output, with --trace, in TMP/LOG.log (default NAME).
getmail_run()
{
	local name=$1 log=${4:-$1}
	mkdir -p "$TMP/$name.getmaildir"
	printf '[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = %s\nusername = alice\npassword = wonderland\n\n[destination]\n%s\n%s\n\n[options]\nverbose = 2\n%s\n' \
	    "$PORT" "$2" "$getmail_user" "$3" >"$TMP/$name.getmaildir/getmailrc"
	timeout 60 getmail --trace --getmaildir "$TMP/$name.getmaildir" \
	    --rcfile getmailrc >"$TMP/$log.log" 2>&1
	getmail_status=$?
}

# getmail's own Return-Path, as the expected messages would have it.
cp -r "$TMP/expected" "$TMP/expected-getmail"
mail_files add-return-path "$TMP/expected-getmail"

reset_mailbox
mkdir -p "$TMP/getmail-out"
: >"$TMP/getmail-out/mbox"
give_to_getmail "$TMP/getmail-out"
getmail_run getmail-mbox "type = Mboxrd
path = $TMP/getmail-out/mbox" "read_all = false
delete = false"
[ "$getmail_status" -eq 0 ]
ok $? "getmail to Mboxrd: exit 0" || diag_file "$TMP/getmail-mbox.log"
mail_files mboxrd "$TMP/getmail-out/mbox" "$TMP/getmail-mbox" &&
    mail_files strip-header "$TMP/getmail-mbox" Delivered-To \
	'Delivered-To: unknown' 2 &&
    mail_files strip-header "$TMP/getmail-mbox" Received "$GETMAIL_RECEIVED" 2
ok $? "getmail to Mboxrd: Delivered-To and Received fields added" ||
    head -n 8 "$TMP/getmail-mbox/1" 2>/dev/null | sed 's/^/#   /'
same_dir "$TMP/expected-getmail" "$TMP/getmail-mbox" \
    "getmail to Mboxrd: every message as stored, Return-Path on top"
mailbox_unchanged "getmail to Mboxrd"
getmail_run getmail-mbox "type = Mboxrd
path = $TMP/getmail-out/mbox" "read_all = false
delete = false" getmail-mbox-again
[ "$getmail_status" -eq 0 ] &&
    [ "$(grep -c '^From ' "$TMP/getmail-out/mbox")" -eq "$message_count" ]
ok $? "getmail read_all = false: the second run fetches nothing (UIDL stable)" ||
    diag_file "$TMP/getmail-mbox-again.log"

reset_mailbox
mkdir -p "$TMP/getmail-out/maildir/new" "$TMP/getmail-out/maildir/cur" \
    "$TMP/getmail-out/maildir/tmp"
give_to_getmail "$TMP/getmail-out"
getmail_run getmail-maildir "type = Maildir
path = $TMP/getmail-out/maildir/" "read_all = true
delete = true
received = false
delivered_to = false"
[ "$getmail_status" -eq 0 ]
ok $? "getmail to Maildir, deleting: exit 0" || diag_file "$TMP/getmail-maildir.log"
mail_files maildir "$TMP/getmail-out/maildir" "$TMP/expected" \
    "$TMP/getmail-maildir"
ok $? "getmail to Maildir: one file per message"
same_dir "$TMP/expected-getmail" "$TMP/getmail-maildir" \
    "getmail to Maildir (received, delivered_to off): every message as stored"
mailbox_emptied "getmail to Maildir"

# ---- curl ----

URL=pop3://127.0.0.1:$PORT
curl_pop3()
{
	timeout 30 curl -sS --user alice:wonderland "$@"
}

reset_mailbox
curl_pop3 "$URL/" >"$TMP/curl.list" 2>"$TMP/curl.err"
for f in "$TMP"/expected/*; do
	# The size LIST gives is what RETR sends: each LF counts as CRLF.
	echo "$(basename "$f") $(($(wc -c <"$f") + $(wc -l <"$f")))"
done | sort -n >"$TMP/expected.list"
tr -d '\r' <"$TMP/curl.list" >"$TMP/curl.list.lf"
same_bytes "$TMP/expected.list" "$TMP/curl.list.lf" \
    "curl LIST: every size is the octets RETR sends"
mkdir -p "$TMP/curl"
for n in $(seq 1 "$message_count"); do
	curl_pop3 "$URL/$n" | sed 's/\r$//' >"$TMP/curl/$n"
done
same_dir "$TMP/expected" "$TMP/curl" "curl RETR: every message as stored"
curl_pop3 -X UIDL "$URL/" | tr -d '\r' >"$TMP/curl.uidl"
[ "$(cut -d' ' -f1 "$TMP/curl.uidl" | tr '\n' ' ')" = \
    "$(seq 1 "$message_count" | tr '\n' ' ')" ] &&
    [ "$(cut -d' ' -f2 "$TMP/curl.uidl" | sort -u | wc -l)" -eq "$message_count" ] &&
    ! cut -d' ' -f2 "$TMP/curl.uidl" | grep -Eqv '^[!-~]{1,70}$'
ok $? "curl UIDL: one unique printable id of 1-70 characters per message" ||
    diag_file "$TMP/curl.uidl"
curl_pop3 -X 'TOP 1 0' "$URL/" | sed 's/\r$//' >"$TMP/curl.top"
sed '/^$/q' "$TMP/expected/1" >"$TMP/expected.top"
same_bytes "$TMP/expected.top" "$TMP/curl.top" "curl TOP 1 0: the header"
curl_pop3 -X 'TOP 5 1' "$URL/" | sed 's/\r$//' >"$TMP/curl.top5"
sed '/^$/{n;q}' "$TMP/expected/5" >"$TMP/expected.top5"
same_bytes "$TMP/expected.top5" "$TMP/curl.top5" \
    "curl TOP 5 1: the header and the long first line"
for auth in '+APOP' 'PLAIN' 'CRAM-MD5' '*'; do
	curl_pop3 --login-options "AUTH=$auth" "$URL/2" 2>"$TMP/curl.err" |
	    sed 's/\r$//' >"$TMP/curl.auth"
	cmp -s "$TMP/expected/2" "$TMP/curl.auth"
	ok $? "curl AUTH=$auth: RETR 2" || diag_file "$TMP/curl.err"
done
curl_pop3 -X 'DELE 1' -I "$URL/" >"$TMP/curl.dele" 2>"$TMP/curl.err"
ok $? "curl DELE 1: accepted" || diag_file "$TMP/curl.err"
curl_pop3 "$URL/" | tr -d '\r' >"$TMP/curl.list2"
[ "$(wc -l <"$TMP/curl.list2")" -eq $((message_count - 1)) ]
ok $? "curl DELE 1: gone after QUIT, $((message_count - 1)) left"
mail_files expected "$MBOX" "$TMP/after-dele"
mkdir -p "$TMP/expected-after-dele"
for n in $(seq 2 "$message_count"); do
	cp "$TMP/expected/$n" "$TMP/expected-after-dele/$((n - 1))"
done
same_dir "$TMP/expected-after-dele" "$TMP/after-dele" \
    "curl DELE 1: the other messages kept byte for byte"
curl_pop3 "$URL/1" | sed 's/\r$//' >"$TMP/curl.first"
same_bytes "$TMP/expected/2" "$TMP/curl.first" "curl: message 2 is now message 1"

# ---- mutt, in tmux since it needs a terminal ----

TMUX_SOCKET=pop3d-test-$$
unset TMUX		# a private server even when the tests run inside tmux
at_exit "tmux -L $TMUX_SOCKET kill-server"
cat >"$TMP/muttrc" <<EOF
set folder=$TMP/mutt
set spoolfile=$TMP/mutt/spool
set pop_pass="wonderland"
# USER/PASS: what SASL mechanisms mutt has depends on installed modules.
set pop_authenticators="user"
set pop_reconnect=no
set ssl_starttls=no
set ssl_force_tls=no
set pipe_split=yes
set pipe_decode=no
set pipe_sep=""
set wait_key=no
set quit=yes
set move=no
set delete=yes
set sort=mailbox-order
set header_cache=""
set message_cachedir=""
set mail_check=0
EOF

# mutt_run NAME KEYS: mutt opens the POP mailbox and runs KEYS; waits
# at most 30 s for it to quit.
mutt_run()
{
	local name=$1 keys=$2 i=0
	mkdir -p "$TMP/$name" "$TMP/mutt"
	cat >"$TMP/$name.sh" <<EOF
#!/bin/sh
mutt -n -F "$TMP/muttrc" -f "pop://alice@127.0.0.1:$PORT/" \\
    -e 'push "$keys"' 2>"$TMP/$name.err"
echo \$? >"$TMP/$name.status"
EOF
	tmux -L "$TMUX_SOCKET" new-session -d -x 160 -y 40 \
	    "sh $TMP/$name.sh"
	while tmux -L "$TMUX_SOCKET" has-session 2>/dev/null; do
		if [ "$i" -ge 300 ]; then
			tmux -L "$TMUX_SOCKET" capture-pane -p |
			    sed 's/^/#   /' | grep -v '^#   $'
			tmux -L "$TMUX_SOCKET" kill-server
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

reset_mailbox
mutt_run mutt-pipe "<tag-pattern>~A<enter><tag-prefix><pipe-message>$TMP/save-numbered.sh $TMP/mutt-pipe<enter><quit>"
[ "$(cat "$TMP/mutt-pipe.status" 2>/dev/null)" = 0 ]
ok $? "mutt: opened the POP mailbox and quit" || diag_file "$TMP/mutt-pipe.err"
same_dir "$TMP/expected" "$TMP/mutt-pipe" "mutt pipe-message: every message as stored"
mailbox_unchanged "mutt"

reset_mailbox
mutt_run mutt-delete "<tag-pattern>~A<enter><tag-prefix><delete-message><quit>"
[ "$(cat "$TMP/mutt-delete.status" 2>/dev/null)" = 0 ]
ok $? "mutt delete: quit" || diag_file "$TMP/mutt-delete.err"
mailbox_emptied "mutt delete"

# ---- fdm, and the UIDs leave-on-server clients trust ----

# fdm run as root fetches as debianfdm (group nogroup) and delivers as its
# default-user, nobody: its cache and maildirs live where both can write.
FDM=$TMP/fdm
mkdir -p "$FDM"
if [ "$(id -u)" -eq 0 ]; then
	chown nobody:nogroup "$FDM"
	chmod 770 "$FDM"
	fdm_user='set default-user "nobody"'
else
	fdm_user=
fi

# fdm_run NAME: one fetch of the new messages (new-only, the cache in
# FDM/cache), leaving them on the server, each into the maildir FDM/NAME;
# sets fdm_status and fdm_count (the messages it saved).
fdm_run()
{
	cat >"$TMP/$1.conf" <<EOF
set lock-file "$FDM/lock"
$fdm_user
set no-received
account "pop" pop3 server "127.0.0.1" port $PORT user "alice" pass "wonderland" new-only cache "$FDM/cache" no-apop keep
action "save" maildir "$FDM/$1"
match all action "save"
EOF
	chmod 600 "$TMP/$1.conf"
	timeout 60 fdm -v -f "$TMP/$1.conf" fetch >"$TMP/$1.log" 2>&1
	fdm_status=$?
	fdm_count=$(find "$FDM/$1/new" "$FDM/$1/cur" -type f 2>/dev/null | wc -l)
}

reset_mailbox
fdm_run fdm-all
[ "$fdm_status" -eq 0 ]
ok $? "fdm new-only: exit 0" || diag_file "$TMP/fdm-all.log"
mail_files maildir "$FDM/fdm-all" "$TMP/expected" "$TMP/fdm-all"
ok $? "fdm: one file per message"
same_dir "$TMP/expected" "$TMP/fdm-all" "fdm: every message as stored"
mailbox_unchanged "fdm"
fdm_run fdm-again
[ "$fdm_status" -eq 0 ] && [ "$fdm_count" -eq 0 ]
ok $? "fdm new-only: the second run fetches nothing (UIDL stable)" ||
    diag_file "$TMP/fdm-again.log"

# s-nail opens a mailbox whose message 7 is stored with CR LF line ends and
# quits: it writes Status: O into every message and message 7 with LF.
# RETR sends the same bytes before and after, and so must UIDL.
cp "$SESSIONS/mbox/crlf7" "$MBOX"
rm -f "$FDM/cache"
fdm_run fdm-crlf
[ "$fdm_status" -eq 0 ] && [ "$fdm_count" -eq 8 ]
ok $? "fdm: the 8 messages of a mailbox with a CR LF message" ||
    diag_file "$TMP/fdm-crlf.log"
env -u MBOX HOME="$HOME" timeout 60 s-nail -n -N -f "$MBOX" \
    </dev/null >"$TMP/s-nail.log" 2>&1
[ "$(grep -c '^Status: O$' "$MBOX")" -eq 8 ] && ! grep -q $'\r' "$MBOX"
ok $? "s-nail rewrote the mailbox: Status: O added, CR LF now LF" ||
    diag_file "$TMP/s-nail.log"
fdm_run fdm-crlf-again
[ "$fdm_status" -eq 0 ] && [ "$fdm_count" -eq 0 ]
ok $? "fdm after s-nail's rewrite: nothing new, no second copy" ||
    diag_file "$TMP/fdm-crlf-again.log"

# Two cron mails with the same From_ line and header: fdm fetches the
# first, the second arrives, another client deletes the first.  The second
# must not inherit the first's UID, or fdm never fetches it.
cp "$SESSIONS/mbox/twin-first" "$MBOX"
rm -f "$FDM/cache"
fdm_run fdm-twin
[ "$fdm_status" -eq 0 ] && [ "$fdm_count" -eq 1 ]
ok $? "fdm: the first of two cron mails" || diag_file "$TMP/fdm-twin.log"
cp "$SESSIONS/mbox/twins" "$MBOX"
curl_pop3 -X 'DELE 1' -I "$URL/" >"$TMP/curl-twin.log" 2>&1 &&
    cmp -s "$SESSIONS/mbox/twin-second" "$MBOX"
ok $? "curl deleted the first cron mail" || diag_file "$TMP/curl-twin.log"
fdm_run fdm-twin-second
mbox_split "$SESSIONS/mbox/twin-second" "$TMP/expected-twin"
[ "$fdm_status" -eq 0 ] && [ "$fdm_count" -eq 1 ] &&
    cmp -s "$TMP/expected-twin/1" \
    "$(find "$FDM/fdm-twin-second" -type f | head -n 1)"
ok $? "fdm fetches the second cron mail after the first was deleted" ||
    diag_file "$TMP/fdm-twin-second.log"

# ---- Net::POP3 (perl): every message, UIDL and LAST ----

cat >"$TMP/netpop3.pl" <<'EOF'
# netpop3.pl PORT DIR: every message into DIR/N; prints the UIDs and what
# LAST answers before, after each RETR and after RSET.
use strict;
use warnings;
use Net::POP3;

my ($port, $dir) = @ARGV;
my $pop = Net::POP3->new('127.0.0.1', Port => $port, Timeout => 30)
    or die "connect: $@";
defined $pop->login('alice', 'wonderland') or die 'login failed';
my $list = $pop->list or die 'LIST failed';
my $uidl = $pop->uidl or die 'UIDL failed';
print 'last ', $pop->last // 'none', "\n";
for my $n (sort { $a <=> $b } keys %$list) {
	my $lines = $pop->get($n) or die "RETR $n failed";
	open(my $f, '>', "$dir/$n") or die "$dir/$n: $!";
	binmode $f;
	print $f @$lines;
	close $f or die "$dir/$n: $!";
	print "uid $n $uidl->{$n} last ", $pop->last // 'none', "\n";
}
$pop->reset;		# its value says nothing when none was deleted
$pop->ok or die 'RSET failed';
print 'reset last ', $pop->last // 'none', "\n";
$pop->quit or die 'QUIT failed';
EOF

reset_mailbox
mkdir -p "$TMP/netpop3"
timeout 60 perl "$TMP/netpop3.pl" "$PORT" "$TMP/netpop3" >"$TMP/netpop3.out" \
    2>"$TMP/netpop3.err"
ok $? "Net::POP3: exit 0" || diag_file "$TMP/netpop3.err"
same_dir "$TMP/expected" "$TMP/netpop3" "Net::POP3: every message as stored"
mailbox_unchanged "Net::POP3"
{
	echo "last 0"
	for n in $(seq 1 "$message_count"); do echo "last $n"; done
	echo "reset last 0"
} >"$TMP/netpop3.last"
sed 's/^uid [0-9]* [^ ]* //' "$TMP/netpop3.out" >"$TMP/netpop3.got"
same_bytes "$TMP/netpop3.last" "$TMP/netpop3.got" \
    "Net::POP3 last: 0, the number of each message retrieved, 0 after RSET"
[ "$(grep '^uid ' "$TMP/netpop3.out" | cut -d' ' -f3 | sort -u |
    wc -l)" -eq "$message_count" ]
ok $? "Net::POP3 uidl: one UID per message, all distinct" ||
    diag_file "$TMP/netpop3.out"

done_testing
