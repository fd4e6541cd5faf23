#!/bin/bash
# The pop3d benchmark: the same mailboxes, the same client (popload), the
# same launcher (tcpspawn) for pop3d, popa3d, Dovecot and GNU mailutils
# pop3d; runs interleaved server by server; medians and ratios to pop3d.
#
# Run as root (popa3d and mailutils authenticate system accounts and switch
# to them; the mailboxes live in /var/mail as popa3d requires):
#
#	make -C bench run		# default: 20 messages, ~100 MB, and
#					# the poll of ~1 GB
#	make -C bench run FULL=1	# every workload on ~1 GB too
#
# Environment:
#	POP3D=../pop3d		the binary under test (skipped with a note if
#				missing)
#	POP3D_BASE=PATH		another pop3d build, run as server "pop3d-base"
#				beside it with the same options, so that a
#				change is measured against its base in one run
#	SERVERS="pop3d popa3d dovecot mailutils"
#	REPS=N			runs per case and server (default 7 on the
#				small mailbox, 3 on the others)
#	NODELAY=1		the launcher sets TCP_NODELAY, as tcpserver
#				does; the "inetd" cases always run without it,
#				as inetd, xinetd and systemd do
#	POP3D_SECRET=shadow	pop3d's password file gets the yescrypt hash
#				that /etc/shadow holds for the peers; "plain"
#				gives it {PLAIN}benchpw instead
#	CASES="small/stat ..."	run only these cases (names as in the table)
#	TIMEOUT=300		seconds allowed for one run
#
# Results: bench/out/results-DATE.txt (the tables, also on stdout),
# bench/out/raw-DATE.tsv (every run), bench/out/results.txt (the latest).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 1

FULL=${FULL:-0}
POP3D=${POP3D:-../pop3d}
SERVERS=${SERVERS:-pop3d popa3d dovecot mailutils}
POP3D_BASE=${POP3D_BASE:-}
if [ -n "$POP3D_BASE" ]; then
	case " $SERVERS " in *" pop3d-base "*) ;; *) SERVERS=$(echo "$SERVERS" |
	    sed 's/\bpop3d\b/pop3d pop3d-base/') ;; esac
fi
NODELAY=${NODELAY:-1}
POP3D_SECRET=${POP3D_SECRET:-shadow}
TIMEOUT=${TIMEOUT:-300}
CONCURRENT=50
PASSWORD=benchpw
SPOOL=/var/mail

out=$here/out
data=$out/data
run=$out/run
stamp=$(date +%Y%m%d-%H%M%S)
raw=$out/raw-$stamp.tsv
results=$out/results-$stamp.txt

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (see the header of run.sh)"
for t in genmbox popload tcpspawn rusage.so; do
	[ -e "$t" ] || die "$t missing: run make in bench/ first"
done
command -v python3 >/dev/null || die "python3 is needed for the tables"

case $POP3D in /*) ;; *) POP3D=$here/$POP3D ;; esac
if [ ! -x "$POP3D" ]; then
	note "NOTE: $POP3D does not exist yet: pop3d is left out of this run"
	SERVERS=$(echo "$SERVERS" | sed 's/\bpop3d\b//')
fi

"$here/peers/setup.sh" "$out/peers" "$CONCURRENT" || die "setup failed"
mkdir -p "$data" "$run"

# --- mailboxes --------------------------------------------------------------

# name seed amount: generated once, then reused (same seed, same bytes).
mailbox() {
	local f=$data/$1.mbox
	if [ ! -s "$f" ]; then
		note "generating $1 ($3, seed $2)"
		./genmbox "$2" "$3" > "$f.tmp" && mv "$f.tmp" "$f" ||
		    die "genmbox failed"
	fi
	echo "$f"
}
declare -A PRISTINE
PRISTINE[small]=$(mailbox small 1 20)
PRISTINE[medium]=$(mailbox medium 2 100M)
PRISTINE[large]=$(mailbox large 3 1G)
# The mail a poll finds new: 100 messages appended after the last session.
NEW100=$(mailbox new100 7 100)

# Every run starts from a fresh copy: servers rewrite mailboxes (mailutils
# and Dovecot add Status/X-UID headers even when nothing is deleted).  The
# mtime is set a minute back: popa3d waits up to a second on a mailbox
# changed within the current second, which a copy made just now would be.
restore() {	# pristine user
	local f=$SPOOL/$2
	rm -f "$f.lock"
	cp "$1" "$f.tmp" && mv "$f.tmp" "$f" || die "cannot copy to $f"
	chown "$2:mail" "$f" && chmod 600 "$f"
	touch -d "@$(( $(date +%s) - 60 ))" "$f"
	# Written back now, not by the kernel in the middle of a timed run.
	sync "$f"
}

# --- servers ----------------------------------------------------------------

passwd_pop3d=$run/pop3d.passwd
: > "$passwd_pop3d"
for u in benchuser $(seq -f 'benchuser%g' 1 $CONCURRENT); do
	if [ "$POP3D_SECRET" = plain ]; then
		echo "$u:{PLAIN}$PASSWORD"
	else
		echo "$u:$(getent shadow "$u" | cut -d: -f2)"
	fi
done >> "$passwd_pop3d"
chmod 600 "$passwd_pop3d"

mailutils_conf=$run/mailutils.conf
cat > "$mailutils_conf" <<EOF
# GNU mailutils pop3d for the benchmark: defaults (system accounts through
# PAM, mailboxes in $SPOOL), logging to syslog.
logging { facility mail; };
EOF

# The command each inetd-style server runs for one connection.
server_command() {	# server sessions
	local bin=$POP3D
	case $1 in
	pop3d|pop3d-base)
		[ "$1" = pop3d-base ] && bin=$POP3D_BASE
		if [ "$2" = 1 ]; then
			echo "$bin -f $SPOOL/benchuser -p $passwd_pop3d $pop3d_drop"
		else
			echo "$bin -m $SPOOL/%u -p $passwd_pop3d"
		fi ;;
	popa3d)
		echo "$out/peers/popa3d/usr/sbin/popa3d" ;;
	mailutils)
		echo "/usr/sbin/pop3d --inetd --config-file=$mailutils_conf" ;;
	esac
}
# Drop to the mailbox's owner like the peers do, where pop3d offers -u.
pop3d_drop=
if [ -x "$POP3D" ] && "$POP3D" -h 2>&1 | grep -q -- '-u '; then
	pop3d_drop="-u benchuser"
fi

# Dovecot is a daemon: one private instance for the whole run.
dv=$run/dovecot
dovecot_master=
dovecot_port=
start_dovecot() {
	local i
	rm -rf "$dv"
	mkdir -p "$dv/run" "$dv/state" "$dv/home"
	chmod 755 "$dv" "$dv/home"
	: > "$dv/rusage"
	chmod 666 "$dv/rusage"
	for u in benchuser $(seq -f 'benchuser%g' 1 $CONCURRENT); do
		mkdir -p "$dv/home/$u"
		chown "$u" "$dv/home/$u"
	done
	for i in $(seq 1 50); do
		dovecot_port=$(( 20000 + RANDOM % 10000 ))
		ss -ltn | awk '{print $4}' | grep -q ":$dovecot_port\$" ||
		    break
	done
	sed -e "s|@RUNDIR@|$dv|g" -e "s|@PORT@|$dovecot_port|g" \
	    -e "s|@PRELOAD@|$here/rusage.so|g" -e "s|@RUSAGE@|$dv/rusage|g" \
	    peers/dovecot.conf.in > "$dv/dovecot.conf"
	dovecot -F -c "$dv/dovecot.conf" > "$dv/master.out" 2>&1 &
	dovecot_master=$!
	for i in $(seq 1 200); do
		ss -ltn | awk '{print $4}' | grep -q ":$dovecot_port\$" &&
		    return 0
		sleep 0.05
	done
	cat "$dv/master.out" "$dv/dovecot.log" >&2 2>/dev/null
	die "dovecot did not start"
}
stop_dovecot() {
	local i
	[ -n "$dovecot_master" ] || return 0
	kill "$dovecot_master" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$dovecot_master" 2>/dev/null || break
		sleep 0.05
	done
	dovecot_master=
}

# CPU time of the Dovecot master and all its service processes, in ns.
dovecot_cpu_ns() {
	local p t sum=0
	for p in $dovecot_master $(pgrep -P "$dovecot_master"); do
		read -r t _ < "/proc/$p/schedstat" 2>/dev/null || continue
		sum=$(( sum + t ))
	done
	echo $sum
}
# Wait (bounded) until no session process is left.
dovecot_idle() {
	local i p busy
	for i in $(seq 1 200); do
		busy=0
		for p in $(pgrep -P "$dovecot_master"); do
			case $(cat "/proc/$p/comm" 2>/dev/null) in
			pop3|pop3-login) busy=1 ;;
			esac
		done
		[ $busy = 0 ] && return 0
		sleep 0.02
	done
	note "dovecot sessions still running after 4 s"
}

cleanup() {
	stop_dovecot
	[ -n "${spawn_pid:-}" ] && kill "$spawn_pid" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- one run ----------------------------------------------------------------

# One session, not measured: what a poll before this one left (an index).
prime() {	# server workload
	local port u pid
	if [ "$1" = dovecot ]; then
		./popload -t "$TIMEOUT" -p "$dovecot_port" -w "$PASSWORD" "$2" \
		    > /dev/null 2>> "$run/prime.err"
		dovecot_idle
		return
	fi
	rm -f "$run/port"
	# shellcheck disable=SC2046
	./tcpspawn -n 1 -t $(( TIMEOUT + 30 )) -w "$run/port" \
	    -r /dev/null -e "$run/$1.err" $(server_command "$1" 1) &
	pid=$!
	for u in $(seq 1 500); do
		[ -s "$run/port" ] && break
		sleep 0.01
	done
	port=$(cat "$run/port" 2>/dev/null) || die "tcpspawn did not start"
	./popload -t "$TIMEOUT" -p "$port" -w "$PASSWORD" "$2" > /dev/null \
	    2>> "$run/prime.err"
	wait "$pid"
}

# Mail delivered since the last poll: 100 messages, the mtime a minute
# back (popa3d waits on a mailbox changed within the current second).
deliver_new() {
	cat "$NEW100" >> "$SPOOL/benchuser"
	touch -d "@$(( $(date +%s) - 60 ))" "$SPOOL/benchuser"
	sync "$SPOOL/benchuser"
}

# case: size/workload[+P|-inetd|-x50|-warm|-grown]; prints one TSV row to
# $raw.  -warm: after an unmeasured poll of the same mailbox (what a
# server keeps across sessions counts); -grown: that, then 100 messages.
run_one() {	# server case rep
	local server=$1 case=$2 rep=$3 size workload variant
	local opts=() sessions=1 nodelay=$NODELAY port rc u warm=
	local cpu_ms=NA rss=NA exits=0 before after mark
	size=${case%%/*}
	workload=${case#*/}
	case $workload in
	*+P) workload=${workload%+P}; opts+=(-P) ;;
	*-inetd) workload=${workload%-inetd}; nodelay=0 ;;
	*-warm) workload=${workload%-warm}; warm=warm ;;
	*-grown) workload=${workload%-grown}; warm=grown ;;
	*-x$CONCURRENT) workload=${workload%-x$CONCURRENT}
		sessions=$CONCURRENT
		opts+=(-c "$CONCURRENT" -u 'benchuser%d') ;;
	esac
	if [ "$sessions" = 1 ]; then
		restore "${PRISTINE[$size]}" benchuser
	else
		for u in $(seq 1 $CONCURRENT); do
			restore "${PRISTINE[$size]}" "benchuser$u"
		done
	fi
	[ "$server" = dovecot ] && rm -rf "$dv"/home/*/mail
	rm -f "$SPOOL"/benchuser*.pop3d-index
	if [ -n "$warm" ]; then
		prime "$server" "$workload"
		[ "$warm" = grown ] && deliver_new
	fi
	rm -f "$run/popload.out" "$run/popload.err"
	if [ "$server" = dovecot ]; then
		mark=$(wc -l < "$dv/rusage")
		before=$(dovecot_cpu_ns)
		./popload -t "$TIMEOUT" -p "$dovecot_port" -w "$PASSWORD" \
		    "${opts[@]}" "$workload" > "$run/popload.out" \
		    2> "$run/popload.err"
		rc=$?
		dovecot_idle
		after=$(dovecot_cpu_ns)
		# No process substitution here: bash 5.2 can then hang in a
		# later wait for a child that is long gone.
		read -r cpu_ms rss <<< "$(tail -n +$(( mark + 1 )) "$dv/rusage" |
		    awk -v ns=$(( after - before )) '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			  cpu += f["user_s"] + f["sys_s"]
			  if ((f["name"] == "pop3" || f["name"] == "pop3-login") &&
			      f["maxrss_kb"] > rss) rss = f["maxrss_kb"] }
			END { printf "%.3f %d\n", cpu * 1000 + ns / 1e6, rss }')"
	else
		rm -f "$run/port" "$run/rusage"
		# shellcheck disable=SC2046
		./tcpspawn $( [ "$nodelay" = 1 ] && echo -D ) -n "$sessions" \
		    -t $(( TIMEOUT + 30 )) -w "$run/port" -r "$run/rusage" \
		    -e "$run/$server.err" $(server_command "$server" "$sessions") &
		spawn_pid=$!
		for u in $(seq 1 500); do
			[ -s "$run/port" ] && break
			sleep 0.01
		done
		port=$(cat "$run/port" 2>/dev/null) || die "tcpspawn did not start"
		./popload -t "$TIMEOUT" -p "$port" -w "$PASSWORD" "${opts[@]}" \
		    "$workload" > "$run/popload.out" 2> "$run/popload.err"
		rc=$?
		# tcpspawn exits once its server has; it has its own deadline.
		for u in $(seq 1 $(( (TIMEOUT + 60) * 20 ))); do
			kill -0 "$spawn_pid" 2>/dev/null || break
			sleep 0.05
		done
		spawn_pid=
		read -r cpu_ms rss exits <<< "$(awk '
			{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			  cpu += f["user_s"] + f["sys_s"]
			  if (f["maxrss_kb"] > rss) rss = f["maxrss_kb"]
			  if (f["status"] != 0) bad++ }
			END { printf "%.3f %d %d\n", cpu * 1000, rss, bad }' "$run/rusage")"
		if [ "$exits" != 0 ]; then
			echo "$server $case #$rep: $exits server(s) exited non-zero" \
			    >> "$out/errors-$stamp.txt"
			[ "$rc" = 0 ] && rc=1
		fi
	fi
	# Fetch-and-delete-all must leave an empty mailbox (noted, not failed:
	# a server may keep a placeholder, as some do for UIDVALIDITY).
	if [ "$workload" = dele ] && [ "$sessions" = 1 ] &&
	    [ -s "$SPOOL/benchuser" ]; then
		echo "$server $case #$rep: note: $(stat -c %s "$SPOOL/benchuser") bytes left in the mailbox after deleting everything" \
		    >> "$out/errors-$stamp.txt"
	fi
	if [ -s "$run/popload.err" ]; then
		sed "s|^|$server $case #$rep: |" "$run/popload.err" |
		    head -5 >> "$out/errors-$stamp.txt"
	fi
	awk -v server="$server" -v case="$case" -v rep="$rep" -v rc="$rc" \
	    -v cpu="$cpu_ms" -v rss="$rss" '
		{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
		END {
			if (!("total_ms" in f)) f["errors"] = 1
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			    case, server, rep, rc, f["errors"] + 0,
			    f["total_ms"], f["greet_ms"], f["login_ms"],
			    f["quit_ms"], cpu, rss, f["octets"], f["messages"]
		}' "$run/popload.out" >> "$raw"
}

# The physical floor: read the same file with cat, and through a pipe.
floor_one() {	# size rep
	local f=$SPOOL/benchuser t0 t1 t2 bytes
	restore "${PRISTINE[$1]}" benchuser
	bytes=$(stat -c %s "$f")
	t0=$EPOCHREALTIME
	cat "$f" > /dev/null
	t1=$EPOCHREALTIME
	cat "$f" | cat > /dev/null
	t2=$EPOCHREALTIME
	awk -v s="$1" -v rep="$2" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
	    -v bytes="$bytes" 'BEGIN {
		printf "%s/cat\tfloor\t%s\t0\t0\t%.3f\t\t\t\t\t\t%s\t\n",
		    s, rep, (t1 - t0) * 1000, bytes
		printf "%s/cat|cat\tfloor\t%s\t0\t0\t%.3f\t\t\t\t\t\t%s\t\n",
		    s, rep, (t2 - t1) * 1000, bytes
	}' >> "$raw"
}

# --- the plan ---------------------------------------------------------------

all_cases="small/stat small/list small/retr small/dele small/top
small/list+P small/retr+P small/dele+P small/top+P
small/retr-inetd small/top-inetd small/retr-x$CONCURRENT
medium/stat medium/list medium/retr medium/dele medium/top
medium/list+P medium/retr+P medium/dele+P medium/top+P medium/dele1
medium/list-warm medium/list-grown large/list large/list-warm
large/list-grown"
[ "$FULL" = 1 ] && all_cases="$all_cases
large/stat large/retr large/dele large/top large/retr+P large/dele1"
CASES=${CASES:-$all_cases}

printf 'case\tserver\trep\trc\terrors\ttotal_ms\tgreet_ms\tlogin_ms\tquit_ms\tcpu_ms\tmaxrss_kb\toctets\tmessages\n' > "$raw"
case " $SERVERS " in *" dovecot "*) start_dovecot ;; esac

{
	echo "# pop3d benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "# host: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -sr)"
	echo "# servers: $SERVERS"
	for s in $SERVERS; do
		case $s in
		pop3d|pop3d-base) echo "#   $s: $($(server_command "$s" 1 | cut -d' ' -f1) -V 2>&1 | head -1): $(server_command "$s" 1 | sed "s|$here/||g"); x$CONCURRENT: $(server_command "$s" $CONCURRENT | sed "s|$here/||g")" ;;
		popa3d) echo "#   popa3d $(dpkg-deb -f "$out"/peers/popa3d_*.deb Version) (Debian package, unpacked): popa3d (inetd mode; PAM; /var/mail/USER)" ;;
		dovecot) echo "#   dovecot $(dovecot --version): dovecot -F -c peers/dovecot.conf.in (daemon; pop3-login + pop3 processes; passdb shadow, userdb passwd; mbox INBOX=/var/mail/%u)" ;;
		mailutils) echo "#   $(/usr/sbin/pop3d --version | head -1): /usr/sbin/pop3d --inetd --config-file=mailutils.conf (PAM; /var/mail/USER)" ;;
		esac
	done
	echo "# launcher: tcpspawn$( [ "$NODELAY" = 1 ] && echo ' with TCP_NODELAY (as tcpserver)'), inetd cases without"
	echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates wall times, not CPU times)"
	echo "# password hash: $(getent shadow benchuser | cut -d'$' -f2 | sed 's/^y$/yescrypt/;s/^6$/sha512crypt/') for all servers$( [ "$POP3D_SECRET" = plain ] && echo ' but pop3d ({PLAIN})')"
	for s in "${!PRISTINE[@]}"; do
		echo "# mailbox $s: $(grep -c '^From [^ ]*@' "${PRISTINE[$s]}") messages, $(stat -c %s "${PRISTINE[$s]}") bytes"
	done
} > "$out/header-$stamp.txt"

t_start=$EPOCHSECONDS
for c in $CASES; do
	size=${c%%/*}
	[ -n "${PRISTINE[$size]:-}" ] || { note "skip $c: no $size mailbox"; continue; }
	reps=${REPS:-$( [ "$size" = small ] && echo 7 || echo 3 )}
	note "$c: $reps runs each of $SERVERS"
	for rep in $(seq 1 "$reps"); do
		for s in $SERVERS; do
			run_one "$s" "$c" "$rep"
		done
	done
done
for size in "${!PRISTINE[@]}"; do
	reps=${REPS:-$( [ "$size" = small ] && echo 7 || echo 3 )}
	for rep in $(seq 1 "$reps"); do
		floor_one "$size" "$rep"
	done
done
stop_dovecot
if ss -ltn | awk '{print $4}' | grep -qE ':(110|995|'"${dovecot_port:-0}"')$'; then
	note "WARNING: a POP3 port is still listening after the run"
fi

{
	cat "$out/header-$stamp.txt"
	echo "# wall time of the whole benchmark: $(( EPOCHSECONDS - t_start )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	python3 "$here/summarize.py" "$raw" $SERVERS
	errors=$out/errors-$stamp.txt
	if grep -qv ': note: ' "$errors" 2>/dev/null; then
		echo
		echo "## Verification failures (first 40 lines)"
		echo
		grep -v ': note: ' "$errors" | head -40 | sed 's/^/    /'
	fi
	if grep -q ': note: ' "$errors" 2>/dev/null; then
		echo
		echo "## Notes (runs: server case: note)"
		echo
		grep ': note: ' "$errors" | sed 's/ #[0-9]*: note:/:/' |
		    sort | uniq -c | sed 's/^ */    /'
	fi
} | tee "$results"
rm -f "$out/header-$stamp.txt"
cp "$results" "$out/results.txt"
