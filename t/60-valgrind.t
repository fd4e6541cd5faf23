#!/bin/bash
# A representative session under valgrind's memcheck: a failed login, then
# login, STAT, LIST, UIDL, RETR of every message, TOP, DELE and QUIT with
# an update that moves mail; then a login through crypt(3), whose child
# process memcheck follows too.  Zero errors, no leak reported as
# definitely lost, and the same answers and mailbox as without valgrind.
# POP3D_TEST names the binary: the test build, whose pre-login child can
# be left unconfined (POP3D_TEST_SANDBOX=none), as valgrind cannot run a
# process under a seccomp filter and does not know Landlock's calls; not an
# ASan build, which valgrind cannot run (`make check-asan` leaves this test
# out).  Memcheck follows the pre-login child (a fork) too.
set -u
. "$(dirname "$0")/lib.sh"
POP3D=${POP3D_TEST:-$TOP/pop3d-test}
export POP3D_TEST_SANDBOX=none
make -s -C "$TOP" pop3d-test >/dev/null 2>&1

need valgrind
need_pop3d
setup_tmp
{
	printf 'CAPA\r\nUSER jack\r\nPASS wrong\r\n'
	printf 'USER hashed\r\nPASS nope\r\n'
	printf 'USER jack\r\nPASS password\r\nSTAT\r\nLIST\r\nUIDL\r\n'
	printf 'RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nTOP 2 3\r\nLIST 3\r\n'
	printf 'UIDL 4\r\nDELE 4\r\nRSET\r\nDELE 1\r\nDELE 3\r\nNOOP\r\nQUIT\r\n'
} >"$TMP/in"
mkdir "$TMP/plain" "$TMP/vg"
cp "$SESSIONS/mbox/default" "$TMP/plain/mbox"
cp "$SESSIONS/mbox/default" "$TMP/vg/mbox"

"$POP3D" -e -f "$TMP/plain/mbox" -p "$SESSIONS/passwd" \
    <"$TMP/in" >"$TMP/plain.out" 2>/dev/null
valgrind -q --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --log-file="$TMP/vg.log.%p" \
    "$POP3D" -e -f "$TMP/vg/mbox" -p "$SESSIONS/passwd" \
    <"$TMP/in" >"$TMP/vg.out" 2>"$TMP/vg.err"
rc=$?

# The crypt(3) path with the right password: the child's exit status is
# the verdict, so an error there (status 99) would also refuse the login.
printf 'USER hashed\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' |
    valgrind -q --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --log-file="$TMP/vg.log.crypt.%p" \
    "$POP3D" -e -f "$TMP/vg/mbox" -p "$SESSIONS/passwd" \
    >"$TMP/vg2.out" 2>"$TMP/vg2.err"
rc2=$?

check "memcheck: exit status 0 (99 means errors)" \
    test "$rc" -eq 0 -a "$rc2" -eq 0
# Valgrind 3.19 does not know pidfd_open(2) (434), with which the monitor
# waits for the pre-login child; pop3d falls back to waitpid(2).  Its
# warning about that is no report about pop3d.
reports()
{
	cat "$TMP"/vg.log.* | grep -v -e 'unhandled [a-z0-9]*-linux syscall: 434$' \
	    -e 'You may be able to write your own handler' \
	    -e 'README_MISSING_SYSCALL_OR_IOCTL' \
	    -e 'Nevertheless we consider this a bug' \
	    -e 'valgrind.org/support/bug_reports.html'
}
check "memcheck: nothing reported" test -z "$(reports)"
check "the crypt(3) children ran under memcheck too" \
    test "$(ls "$TMP"/vg.log.* | wc -l)" -ge 4
check "a crypt(3) login under memcheck" \
    grep -q $'^+OK 2 [0-9]*\r$' "$TMP/vg2.out"
check "same answers as without valgrind" cmp -s "$TMP/plain.out" "$TMP/vg.out"
check "the session got as far as the update" \
    grep -q $'^+OK bye, 2 messages left\r$' "$TMP/vg.out"
retrs=$(grep -c $'^+OK [0-9]* octets\r$' "$TMP/vg.out")
check "every RETR was answered" test "$retrs" -eq 4
check "same mailbox as without valgrind" \
    cmp -s "$TMP/plain/mbox" "$TMP/vg/mbox"
check "no lock or journal file left (the index stays)" \
    test -z "$(ls -A "$TMP/vg" | grep -v '^mbox$' | grep -v '^mbox\.pop3d-index$')"
for f in "$TMP"/vg.log.*; do
	[ -s "$f" ] && diag_file "$f"
done
done_testing
