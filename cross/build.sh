#!/bin/sh
# Static pop3d for routers' CPUs, and the busybox with inetd that t/40
# runs, built from Debian's packages and sources (README "Routers").
#
#	cross/build.sh fetch		libxcrypt's and busybox's Debian sources
#	cross/build.sh pop3d ARCH...	cross/out/pop3d-ARCH (mips, armhf, arm64)
#	cross/build.sh busybox		cross/out/busybox, with inetd
#
# Debian 12 has no libcrypt-dev for the cross architectures (and no
# big-endian MIPS port at all), so libxcrypt is built from Debian's source
# as a static library for each, into cross/out/xcrypt-ARCH; pop3d is then
# linked statically against it and glibc by `make pop3d-static` with the
# cross compiler.  Debian's busybox packages have no inetd applet, so
# busybox is built from Debian's source with inetd and little else.
#
# The sources come from apt-get source, which needs a deb-src line (.ci/run
# adds one).  Everything is built under cross/out, ignored by git, and only
# when missing: a second run costs a few seconds.  Logs: cross/out/*.log.
set -eu
# Flags for other builds (make check-asan gives the tests sanitizer
# CFLAGS) must not reach the cross compilers; WERROR does.
unset CC CFLAGS CPPFLAGS LDFLAGS

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/cross/out
src=$out/src
jobs=$(nproc 2>/dev/null || echo 2)

die()
{
	echo "cross/build.sh: $*" >&2
	exit 1
}

# run LOG CMD...: CMD's output to LOG; on failure the log's end and exit.
run()
{
	log=$1
	shift
	if ! "$@" >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "failed: $* (log: $log)"
	fi
}

# The GNU triplet of an architecture as Debian names its cross compilers.
triplet()
{
	case $1 in
	mips)	echo mips-linux-gnu ;;		# 32-bit big-endian
	armhf)	echo arm-linux-gnueabihf ;;	# 32-bit ARMv7, hard float
	arm64)	echo aarch64-linux-gnu ;;
	*)	die "unknown architecture $1 (mips, armhf, arm64)" ;;
	esac
}

# fetch PACKAGE: its Debian source in $src, downloaded once.
fetch()
{
	ls "$src/$1"_*.dsc >/dev/null 2>&1 && return 0
	mkdir -p "$src"
	(cd "$src" && apt-get source --download-only "$1") >"$out/fetch-$1.log" 2>&1 ||
	    die "apt-get source $1 failed (a deb-src line and apt-get update" \
		"are needed; .ci/run adds them): see $out/fetch-$1.log"
}

# unpack PACKAGE DIR: the source with Debian's patches applied, once.
unpack()
{
	[ -f "$2/.unpacked" ] && return 0
	fetch "$1"
	rm -rf "$2"
	run "$out/unpack-$1.log" dpkg-source -x \
	    "$(ls "$src/$1"_*.dsc | tail -n 1)" "$2"
	touch "$2/.unpacked"
}

# xcrypt ARCH: a static libcrypt.a and crypt.h in $out/xcrypt-ARCH (the
# source unpacked and its configure made first), with the strong methods (yescrypt, bcrypt, ...) and glibc's ($6$, $5$, $1$).
xcrypt()
{
	prefix=$out/xcrypt-$1
	[ -f "$prefix/lib/libcrypt.a" ] && return 0
	build=$out/libxcrypt/build-$1
	log=$out/xcrypt-$1.log
	rm -rf "$build" "$prefix" "$log"
	mkdir -p "$build"
	(
		cd "$build"
		run "$log" ../configure --host="$(triplet "$1")" \
		    --prefix="$prefix" --enable-static --disable-shared \
		    --disable-obsolete-api --enable-hashes=strong,glibc \
		    --disable-dependency-tracking
		run "$log" make -j"$jobs"
		run "$log" make install
	)
}

# pop3d ARCH: cross/out/pop3d-ARCH.  `make pop3d-static` runs in a copy of
# the sources, so the objects of the native build in the tree stay as
# they are; WERROR from the environment is passed on (make check sets it).
pop3d()
{
	xcrypt "$1"
	copy=$out/pop3d-$1.src
	mkdir -p "$copy"
	(cd "$top" && cp -p ./*.c ./*.h Makefile flags.mk "$copy/")
	run "$out/pop3d-$1.log" make -C "$copy" pop3d-static \
	    CC="$(triplet "$1")-gcc" \
	    CPPFLAGS="-I$out/xcrypt-$1/include" LDFLAGS="-L$out/xcrypt-$1/lib"
	if ! cmp -s "$copy/pop3d-static" "$out/pop3d-$1"; then
		cp "$copy/pop3d-static" "$out/pop3d-$1.new"
		mv "$out/pop3d-$1.new" "$out/pop3d-$1"
	fi
}

# busybox: cross/out/busybox, static, with the inetd applet (and none of
# its built-in services).
busybox()
{
	[ -x "$out/busybox" ] && return 0
	unpack busybox "$out/busybox-src"
	build=$out/busybox-build
	log=$out/busybox.log
	rm -rf "$build" "$log"
	mkdir -p "$build"
	run "$log" make -C "$out/busybox-src" O="$build" allnoconfig
	sed -i -e 's/^# CONFIG_INETD is not set$/CONFIG_INETD=y/' \
	    -e 's/^# CONFIG_STATIC is not set$/CONFIG_STATIC=y/' \
	    -e 's/^# CONFIG_BUSYBOX is not set$/CONFIG_BUSYBOX=y/' \
	    "$build/.config"
	yes '' | run "$log" make -C "$build" oldconfig
	for option in INETD STATIC BUSYBOX; do
		grep -qx "CONFIG_$option=y" "$build/.config" ||
		    die "busybox: CONFIG_$option did not stick (see $build/.config)"
	done
	run "$log" make -C "$build" -j"$jobs" busybox
	cp "$build/busybox" "$out/busybox"
}

[ $# -ge 1 ] || die "usage: cross/build.sh fetch | pop3d ARCH... | busybox"
mkdir -p "$out"
# One build at a time in cross/out (two tests may ask at once).
exec 9>"$out/.lock"
flock 9
what=$1
shift
case $what in
fetch)
	fetch libxcrypt
	fetch busybox
	;;
pop3d)
	[ $# -ge 1 ] || die "pop3d: which architectures? (mips armhf arm64)"
	# The architectures side by side: libxcrypt's configure runs one
	# small program at a time and leaves a second core idle.
	unpack libxcrypt "$out/libxcrypt"
	if [ ! -x "$out/libxcrypt/configure" ]; then
		(cd "$out/libxcrypt" && run "$out/xcrypt-autogen.log" ./autogen.sh)
	fi
	pids=
	for arch in "$@"; do
		triplet "$arch" >/dev/null
		pop3d "$arch" &
		pids="$pids $!"
	done
	failed=0
	for pid in $pids; do
		wait "$pid" || failed=1
	done
	[ "$failed" -eq 0 ] || die "a build failed: see the logs in $out"
	;;
busybox)
	busybox
	;;
*)
	die "unknown command $what (fetch, pop3d, busybox)"
	;;
esac
