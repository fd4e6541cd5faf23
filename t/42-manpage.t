#!/usr/bin/env bash
# pop3d.8: renders without a warning, documents every option that
# `pop3d -h` lists and every option of the interface, and its examples
# agree with the launch configurations shipped beside it.

. "$(dirname "$0")/launch-lib.sh"

need groff man
need_pop3d
setup_tmp

page=$TOP/pop3d.8

# groff and man exit 0 even when they warn: the warnings are on stderr.
groff -ww -z -man "$page" >"$TMP/groff.out" 2>&1
[ $? -eq 0 ] && [ ! -s "$TMP/groff.out" ]
ok $? "groff -ww -z -man: no warning" || diag_file "$TMP/groff.out"

MANWIDTH=80 man --warnings -l "$page" >"$TMP/man.txt" 2>"$TMP/man.err"
[ $? -eq 0 ] && [ ! -s "$TMP/man.err" ]
ok $? "man --warnings -l: no warning" || diag_file "$TMP/man.err"

for section in NAME SYNOPSIS DESCRIPTION OPTIONS 'PASSWORD FILE' \
    'MAILBOX FORMAT' LOGGING 'EXIT STATUS' FILES 'SEE ALSO'; do
	grep -qx "$section" "$TMP/man.txt"
	ok $? "section $section"
done

# An option is documented when it heads an item (.TP then .B or .BI).
documented()
{
	awk -v opt="\\\\-$1" '
		prev == ".TP" && ($1 == ".B" || $1 == ".BI") && $2 == opt { found = 1 }
		{ prev = $0 }
		END { exit !found }' "$page"
}

"$POP3D" -h >"$TMP/help" 2>&1
ok $? "pop3d -h exits 0"
options=$(grep -o -- '-[A-Za-z]\b' "$TMP/help" | cut -c2 | sort -u | tr -d '\n')
[ -n "$options" ]
ok $? "pop3d -h lists options ($options)"
for ((i = 0; i < ${#options}; i++)); do
	letter=${options:i:1}
	documented "$letter"
	ok $? "-$letter (in pop3d -h) is documented"
done

# The interface every launcher and script relies on.
for letter in f m p u t e P V h; do
	documented "$letter"
	ok $? "-$letter (interface) is documented"
	# pop3d knows it: no "unknown option" (the run may fail otherwise:
	# -P waits for a password, the rest for a session; stdin is empty).
	timeout 10 "$POP3D" "-$letter" x </dev/null >"$TMP/opt.out" 2>&1
	! grep -qi 'unknown option' "$TMP/opt.out"
	ok $? "-$letter is an option pop3d accepts" || diag_file "$TMP/opt.out"
done

# Unknown options: usage on stderr and 64, as EXIT STATUS says.
"$POP3D" -Z >"$TMP/z.out" 2>"$TMP/z.err"
status=$?
[ "$status" -eq 64 ] && [ -s "$TMP/z.err" ] && [ ! -s "$TMP/z.out" ]
ok $? "unknown option: usage on stderr, exit 64 (got $status)"
grep -A1 '^\.B 64$' "$page" | grep -qi usage
ok $? "EXIT STATUS documents 64 as a usage error"

# The log lines the page documents are the ones pop3d writes.
for line in 'login user=' 'logout user=' 'auth failed user='; do
	grep -q "^\\.B \"$line" "$page"
	ok $? "LOGGING documents \"$line...\""
done
cp "$FIXTURES/clients.mbox" "$TMP/mbox"	# its index is left beside it
printf 'USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS wonderland\r\nQUIT\r\n' |
    timeout 30 "$POP3D" -f "$TMP/mbox" \
	-p "$FIXTURES/clients.passwd" -e >/dev/null 2>"$TMP/log"
grep -Eq 'auth failed user=alice from=[^ ]+ method=pass$' "$TMP/log" &&
    grep -Eq 'login user=alice from=[^ ]+ msgs=6 bytes=[0-9]+ index=[a-z]+$' "$TMP/log" &&
    grep -Eq 'logout user=alice retr=0 dele=0 left=6 bytes=[0-9]+$' "$TMP/log"
ok $? "pop3d -e writes the documented log lines" || diag_file "$TMP/log"

# Examples in the page match the shipped files (tabs and runs of blanks
# compare equal).
squeeze()
{
	tr -s ' \t' '  '
}
inetd_line=$(grep -v '^#' "$TOP/examples/inetd.conf" | grep . | squeeze)
sed 's/\\-/-/g' "$page" | squeeze | grep -qxF "$inetd_line"
ok $? "the inetd.conf example is examples/inetd.conf's line"
busybox_line=$(grep -v '^#' "$TOP/examples/busybox-inetd.conf" | grep . | squeeze)
sed 's/\\-/-/g' "$page" | squeeze | grep -qxF "$busybox_line"
ok $? "the busybox inetd example is examples/busybox-inetd.conf's line"
exec_line=$(grep '^ExecStart=' "$TOP/systemd/pop3d@.service")
sed 's/\\-/-/g' "$page" | grep -qxF "$exec_line"
ok $? "the ExecStart example is systemd/pop3d@.service's"
for key in server server_args user per_source instances cps; do
	shipped=$(sed -n "s/^[[:space:]]*$key[[:space:]]*=[[:space:]]*//p" \
	    "$TOP/xinetd.d/pop3")
	sed 's/\\-/-/g' "$page" |
	    grep -Eq "^[[:space:]]*$key[[:space:]]*= $shipped\$"
	ok $? "the xinetd example's $key is xinetd.d/pop3's ($shipped)"
done
for key in exec execArgs; do
	shipped=$(sed -n "s/^$key[[:space:]]*=[[:space:]]*//p" \
	    "$TOP/examples/stunnel.conf")
	sed 's/\\-/-/g' "$page" | grep -Eq "^$key[[:space:]]*= $shipped\$"
	ok $? "the stunnel example's $key is examples/stunnel.conf's"
done

done_testing
