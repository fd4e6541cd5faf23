#!/bin/bash
# A representative session under valgrind's memcheck: a failed login, then
# login, STAT, LIST, UIDL, RETR of every message, TOP, DELE and QUIT with
# an update that moves mail; then a login through crypt(3), whose child
# process memcheck follows too.  Zero errors, no leak reported as
# definitely lost, and the same answers and mailbox as without valgrind.
# POP3D names the binary: not an ASan build, which valgrind cannot run
# (`make check-asan` leaves this test out).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
pop3d=${POP3D:-$top/pop3d}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v valgrind >/dev/null; then
	if [ "${CI:-}" = true ]; then
		echo "1..1"
		echo "not ok 1 - valgrind is not installed"
		exit 1
	fi
	echo "1..0 # SKIP valgrind is not installed"
	exit 0
fi
echo "1..9"
n=0
fail=0
check() {	# check NAME COMMAND...: a test passes when the command does
	local name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; fail=1; fi
}

{
	printf 'CAPA\r\nUSER jack\r\nPASS wrong\r\n'
	printf 'USER hashed\r\nPASS nope\r\n'
	printf 'USER jack\r\nPASS password\r\nSTAT\r\nLIST\r\nUIDL\r\n'
	printf 'RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nTOP 2 3\r\nLIST 3\r\n'
	printf 'UIDL 4\r\nDELE 4\r\nRSET\r\nDELE 1\r\nDELE 3\r\nNOOP\r\nQUIT\r\n'
} >"$tmp/in"
mkdir "$tmp/plain" "$tmp/vg"
cp "$top/t/sessions/mbox/default" "$tmp/plain/mbox"
cp "$top/t/sessions/mbox/default" "$tmp/vg/mbox"

"$pop3d" -e -f "$tmp/plain/mbox" -p "$top/t/sessions/passwd" \
    <"$tmp/in" >"$tmp/plain.out" 2>/dev/null
valgrind -q --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --log-file="$tmp/vg.log.%p" \
    "$pop3d" -e -f "$tmp/vg/mbox" -p "$top/t/sessions/passwd" \
    <"$tmp/in" >"$tmp/vg.out" 2>"$tmp/vg.err"
rc=$?

# The crypt(3) path with the right password: the child's exit status is
# the verdict, so an error there (status 99) would also refuse the login.
printf 'USER hashed\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' |
    valgrind -q --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --log-file="$tmp/vg.log.crypt.%p" \
    "$pop3d" -e -f "$tmp/vg/mbox" -p "$top/t/sessions/passwd" \
    >"$tmp/vg2.out" 2>"$tmp/vg2.err"
rc2=$?

check "memcheck: exit status 0 (99 means errors)" \
    test "$rc" -eq 0 -a "$rc2" -eq 0
check "memcheck: nothing reported" test -z "$(cat "$tmp"/vg.log.*)"
check "the crypt(3) children ran under memcheck too" \
    test "$(ls "$tmp"/vg.log.* | wc -l)" -ge 4
check "a crypt(3) login under memcheck" \
    grep -q $'^+OK 2 [0-9]*\r$' "$tmp/vg2.out"
check "same answers as without valgrind" cmp -s "$tmp/plain.out" "$tmp/vg.out"
check "the session got as far as the update" \
    grep -q $'^+OK bye, 2 messages left\r$' "$tmp/vg.out"
retrs=$(grep -c $'^+OK [0-9]* octets\r$' "$tmp/vg.out")
check "every RETR was answered" test "$retrs" -eq 4
check "same mailbox as without valgrind" \
    cmp -s "$tmp/plain/mbox" "$tmp/vg/mbox"
check "no lock or journal file left" \
    test -z "$(ls -A "$tmp/vg" | grep -v '^mbox$')"
for f in "$tmp"/vg.log.*; do
	[ -s "$f" ] && sed 's/^/# /' "$f"
done
exit $fail
