# The one helper of the shell tests in t/, sourced by bash:
#
#	. "$(dirname "$0")/lib.sh"
#
# TAP output (ok, check, diag, diag_file, skip, skip_all, bail,
# done_testing),
# what a test cannot do without (need, need_root, need_pop3d: skipped here,
# a failure under CI=true), where things are, a private temporary directory
# and a cleanup at exit that undoes what the test asked (at_exit).  Every
# wait is bounded; the cleanup stops only what the test started.
# t/launch-lib.sh adds the launchers and clients of t/4x.  t/pop3lib.py is
# the same for the Python tests.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# POP3D names another build (make check-asan).  Launchers want an absolute
# path (xinetd's server attribute).
POP3D=${POP3D:-$TOP/pop3d}
case $POP3D in
/*) ;;
*) POP3D=$PWD/$POP3D ;;
esac
FIXTURES=$TOP/t/fixtures	# the clients' mailbox and users (t/4x)
SESSIONS=$TOP/t/sessions	# scripted sessions, their mailboxes and users

test_count=0
test_failed=0
exit_commands=()

# ---- TAP ----

# ok STATUS NAME: one TAP line for a status, as in `cmd; ok $? "name"`;
# returns the status, so `ok $? "name" || diag_file LOG` shows why.
ok()
{
	local status=$1
	shift
	test_count=$((test_count + 1))
	if [ "$status" -eq 0 ]; then
		echo "ok $test_count - $*"
	else
		echo "not ok $test_count - $*"
		test_failed=$((test_failed + 1))
	fi
	return "$status"
}

# check NAME COMMAND...: a check that passes when the command does.
check()
{
	local name=$1
	shift
	"$@"
	ok $? "$name"
}

# diag TEXT...: comment lines.
diag()
{
	printf '%s\n' "$@" | sed 's/^/# /'
}

# diag_file FILE: show a file after a failure, bounded.
diag_file()
{
	[ -f "$1" ] || return 0
	echo "# --- $1 (last 40 lines)"
	tail -n 40 "$1" | sed 's/^/#   /'
}

# skip NAME WHY: one check that cannot be made here: skipped, but a
# failure under CI=true, where everything it needs is there.
skip()
{
	if [ "${CI:-}" = true ]; then
		ok 1 "$1 (CI=true: $2)"
		return 1
	fi
	test_count=$((test_count + 1))
	echo "ok $test_count - $1 # SKIP $2"
	return 1
}

skip_all()
{
	echo "1..0 # SKIP $*"
	exit 0
}

# bail MESSAGE: stop the whole run; nothing after this could mean anything.
bail()
{
	echo "Bail out! $*"
	exit 1
}

# done_testing: the plan at the end (TAP allows it), exit status 1 when any
# check failed.
done_testing()
{
	echo "1..$test_count"
	[ "$test_failed" -eq 0 ]
	exit $?
}

# ---- what a test needs ----

# skip_or_fail MESSAGE: what this file cannot do without is missing.  It is
# skipped, except under CI=true, which installs everything and runs as
# root: there it is a failing check.
skip_or_fail()
{
	if [ "${CI:-}" = true ]; then
		ok 1 "$* (CI=true: required)"
		done_testing
	fi
	skip_all "$*"
}

# need TOOL...: every tool on PATH.
need()
{
	local missing=() tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	skip_or_fail "not installed: ${missing[*]}"
}

need_root()
{
	[ "$(id -u)" -eq 0 ] || skip_or_fail "needs root"
}

# need_pop3d: the build under test; without it the run means nothing.
need_pop3d()
{
	[ -x "$POP3D" ] || bail "$POP3D not built: run make"
}

# ---- a temporary directory, and the cleanup ----

# at_exit COMMAND: run COMMAND (eval'd, quietly) when the test ends, the
# last registered first.
at_exit()
{
	exit_commands+=("$*")
}

# setup_tmp: TMP, a private directory removed at the end (kept when KEEP_TMP
# is set).
setup_tmp()
{
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/pop3d-test.XXXXXX") || bail "mktemp"
}

run_exit_commands()
{
	local i
	for ((i = ${#exit_commands[@]} - 1; i >= 0; i--)); do
		eval "${exit_commands[i]}" >/dev/null 2>&1
	done
	exit_commands=()
	if [ -n "${TMP:-}" ] && [ -d "$TMP" ] && [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$TMP"
	fi
}
trap run_exit_commands EXIT
trap 'exit 143' TERM INT HUP

# wait_gone PID TENTHS: wait until PID has exited, at most TENTHS/10 seconds.
wait_gone()
{
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$i" -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# known_answers PROGRAM SOURCE...: build t/PROGRAM.c against SOURCE... (in
# the top directory) with the project's warnings and run it; its output is
# the TAP stream.  CC, CPPFLAGS, CFLAGS and LDFLAGS are honoured, so the
# sanitizer build of make check covers those sources too.
known_answers()
{
	local program=$1 sources=() source flags
	shift
	for source in "$@"; do
		sources+=("$TOP/$source")
	done
	setup_tmp
	# the project's flags (flags.mk), asked of make without our CC/CFLAGS
	flags=$(env -u CC -u CFLAGS -u CPPFLAGS -u LDFLAGS \
	    make -s --no-print-directory -C "$TOP" flags) || flags=
	# shellcheck disable=SC2086	# flag lists are meant to split
	if [ -z "$flags" ] || ! ${CC:-cc} ${CPPFLAGS:-} ${CFLAGS:--O2} $flags \
	    -Werror -o "$TMP/$program" "$TOP/t/$program.c" "${sources[@]}" \
	    ${LDFLAGS:-} >"$TMP/cc.log" 2>&1; then
		ok 1 "compile t/$program.c with ${CC:-cc}"
		diag_file "$TMP/cc.log"
		done_testing
	fi
	"$TMP/$program"
}
