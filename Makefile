# pop3d: build, test, install.  CC, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX and
# DESTDIR are honoured; WARN and HARDEN stay apart from CFLAGS so a
# packager's CFLAGS keep them and a static build can say HARDEN_LD=.

CC       ?= cc
CFLAGS   ?= -O2 -g
include flags.mk
HARDEN    = -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
            -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now
LDLIBS    = -lcrypt
# crypt(3) comes from libxcrypt (-lcrypt) with glibc, from libc with musl.
# A C library without it (Debian's musl has none) builds with
#   make CRYPT_DEFS=-DNO_CRYPT LDLIBS=
# and then accepts {PLAIN} secrets only: no system accounts, no -P.
CRYPT_DEFS =

PREFIX   ?= /usr/local
SBINDIR   = $(PREFIX)/sbin
MANDIR    = $(PREFIX)/share/man/man8

# One way down: main and the session, the wire codec, the mailbox, the
# update, the spool and file I/O; authentication beside them.
OBJS = pop3d.o check.o monitor.o session.o login.o trans.o retr.o reply.o io.o \
       handover.o sandbox.o wire.o proxy.o \
       mbox.o mbox_scan.o mbox_uid.o mbox_update.o mbox_index.o update.o \
       journal.o \
       boundary.o spool.o fileio.o fault.o hash.o \
       auth.o priv.o hashpw.o base64.o md5.o log.o
SRCS = $(OBJS:.o=.c)
HDRS = $(wildcard *.h)

all: pop3d

pop3d: $(OBJS)
	$(CC) $(CFLAGS) $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

# Each object lists the headers it was built from (-MMD) in its .d file.
COMPILE = $(CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) $(CFLAGS) $(WARN) $(HARDEN)
.c.o:
	$(COMPILE) -MMD -MP -c $<
-include $(OBJS:.o=.d)

# Objects are rebuilt when the flags change (make check adds -Werror).
$(OBJS): .build-flags
.build-flags: FORCE
	@echo '$(COMPILE)' | cmp -s - $@ || echo '$(COMPILE)' > $@
FORCE:

# The flags, for the tests that build C of their own.
flags:
	@echo '$(DEFS) $(CPPFLAGS) $(WARN)'

# The same program with a 50 ms failure delay instead of one second, so
# tests of refused logins stay fast; never installed.
pop3d-fastfail: $(SRCS) $(HDRS) .build-flags
	$(CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -DFAIL_DELAY_MS=50 $(CFLAGS) $(WARN) \
	    $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

# The same program with 256 KB epochs, so that the crash tests' small
# mailboxes take updates of many epochs; never installed.
pop3d-epochs: $(SRCS) $(HDRS) .build-flags
	$(CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -DEPOCH_MAX=262144 $(CFLAGS) \
	    $(WARN) $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

# The test build: fastfail plus hidden commands that do what a child
# taken over by a client would (login.c, POP3D_TEST_HOOKS); never installed.
pop3d-test: $(SRCS) $(HDRS) .build-flags
	$(CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -DFAIL_DELAY_MS=50 -DPOP3D_TEST_HOOKS \
	    $(CFLAGS) $(WARN) $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

# A small static binary for routers (README "Routers").  musl-gcc when it
# is installed and CC builds for the same CPU: Debian's musl has no
# crypt(3), so that build takes {PLAIN} secrets only.  Otherwise $(CC)
# links glibc and libcrypt.a statically, every crypt(3) method included:
# so a cross compiler (CC=mips-linux-gnu-gcc, with CPPFLAGS and LDFLAGS
# naming a static libxcrypt built for it) or MUSL_CC= on the host builds
# with glibc.  Plain -static, not -static-pie: MIPS and ARM have no
# rcrt1.o.
MUSL_CC  = musl-gcc
STATIC_SMALL = -Os -fstack-protector-strong -static -s -ffunction-sections \
            -fdata-sections -fno-asynchronous-unwind-tables \
            -Wl,--gc-sections,--build-id=none,-z,noseparate-code
static: pop3d-static
pop3d-static: $(SRCS) $(HDRS) .build-flags
	if [ -n "$(MUSL_CC)" ] && command -v $(MUSL_CC) >/dev/null && \
	    [ "$$($(CC) -dumpmachine | cut -d- -f1)" = \
	      "$$($(MUSL_CC) -dumpmachine | cut -d- -f1)" ]; then \
		$(MUSL_CC) $(DEFS) $(CPPFLAGS) -DNO_CRYPT -DPOP3D_SMALL $(WARN) \
		    $(STATIC_SMALL) $(LDFLAGS) -o $@ $(SRCS); \
	else \
		$(CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -U_FORTIFY_SOURCE \
		    -D_FORTIFY_SOURCE=2 $(WARN) $(STATIC_SMALL) $(LDFLAGS) \
		    -o $@ $(SRCS) $(LDLIBS); \
	fi
	@ls -l $@

# Static pop3d for routers' CPUs, cross/out/pop3d-ARCH, with Debian's cross
# compilers and a static libxcrypt built for each from Debian's source
# (cross/build.sh says how; README "Routers").
CROSS_ARCHS = mips armhf arm64
cross:
	sh cross/build.sh pop3d $(CROSS_ARCHS)

# make check is what CI runs: static analysis, each fuzz target for a
# short while, the suite, and the suite again under ASan and UBSan (its
# TAP summary comes last).  make test is the suite alone.
CHECK_FUZZ_SECONDS = 20

CHECK_MAKE = $(MAKE) --no-print-directory WERROR=-Werror

check:
	@$(CHECK_MAKE) pop3d pop3d-fastfail pop3d-epochs pop3d-test
	@$(CHECK_MAKE) analyze
	@$(CHECK_MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS)
	WERROR=-Werror prove -f t/
	@$(CHECK_MAKE) check-asan

test: pop3d pop3d-fastfail pop3d-epochs pop3d-test
	prove -f t/

demo: pop3d
	@bash examples/demo.sh

# The benchmark against popa3d, Dovecot and GNU mailutils (root; see
# bench/README.md); bench-smoke runs each workload once, unmeasured.
bench: all
	$(MAKE) -C bench run
bench-smoke: all
	$(MAKE) -C bench smoke

# The shipped files name /usr/local/...: installed, they name $(PREFIX)/...
# With PREFIX=/usr (the Debian package) the units go to /lib/systemd/system,
# where Debian 12's debhelper looks (on a merged-/usr system the same
# directory as /usr/lib/systemd/system).  xinetd reads /etc/xinetd.d
# alone: the service goes there switched off (disable = yes), and a file
# already there is the admin's and is kept.
SYSTEMDDIR = $(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system
XINETDDIR  = /etc/xinetd.d
EXAMPLEDIR = $(PREFIX)/share/pop3d
FIXPATH    = sed 's|/usr/local/|$(PREFIX)/|g'
XINETD_OFF = $(FIXPATH) xinetd.d/pop3 | \
             sed 's/^\([[:space:]]*disable[[:space:]]*=\).*/\1 yes/'
EXAMPLES   = inetd.conf busybox-inetd.conf stunnel.conf stunnel-stls.conf \
             passwd.example

serve: pop3d
	@sh examples/serve.sh

install: pop3d
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR) \
	    $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(XINETDDIR) $(DESTDIR)$(EXAMPLEDIR)
	install -m 755 pop3d $(DESTDIR)$(SBINDIR)/pop3d
	$(FIXPATH) pop3d.8 > $(DESTDIR)$(MANDIR)/pop3d.8
	$(FIXPATH) systemd/pop3d.socket > $(DESTDIR)$(SYSTEMDDIR)/pop3d.socket
	$(FIXPATH) systemd/pop3d@.service > $(DESTDIR)$(SYSTEMDDIR)/pop3d@.service
	for f in $(EXAMPLES) tcpserver.sh; do \
		$(FIXPATH) examples/$$f > $(DESTDIR)$(EXAMPLEDIR)/$$f || exit 1; \
		chmod 644 $(DESTDIR)$(EXAMPLEDIR)/$$f; \
	done
	chmod 755 $(DESTDIR)$(EXAMPLEDIR)/tcpserver.sh
	chmod 644 $(DESTDIR)$(MANDIR)/pop3d.8 $(DESTDIR)$(SYSTEMDDIR)/pop3d.socket \
	    $(DESTDIR)$(SYSTEMDDIR)/pop3d@.service
	if [ -e $(DESTDIR)$(XINETDDIR)/pop3 ]; then \
		echo "install: $(DESTDIR)$(XINETDDIR)/pop3 is there: kept"; \
	else \
		$(XINETD_OFF) > $(DESTDIR)$(XINETDDIR)/pop3 && \
		chmod 644 $(DESTDIR)$(XINETDDIR)/pop3; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pop3d $(DESTDIR)$(MANDIR)/pop3d.8 \
	    $(DESTDIR)$(SYSTEMDDIR)/pop3d.socket \
	    $(DESTDIR)$(SYSTEMDDIR)/pop3d@.service \
	    $(EXAMPLES:%=$(DESTDIR)$(EXAMPLEDIR)/%) \
	    $(DESTDIR)$(EXAMPLEDIR)/tcpserver.sh
	-rmdir $(DESTDIR)$(EXAMPLEDIR)
	if $(XINETD_OFF) | cmp -s - $(DESTDIR)$(XINETDDIR)/pop3; then \
		rm -f $(DESTDIR)$(XINETDDIR)/pop3; \
	elif [ -e $(DESTDIR)$(XINETDDIR)/pop3 ]; then \
		echo "uninstall: $(DESTDIR)$(XINETDDIR)/pop3 was changed: kept"; \
	fi

clean:
	rm -f pop3d pop3d-fastfail pop3d-epochs pop3d-test pop3d-static pop3d-asan \
	    pop3d-asan-fastfail \
	    $(OBJS) $(OBJS:.o=.d) .build-flags
	rm -rf fuzz/out asan-log

# --- Hardening: sanitizers, fuzzing, static analysis ----------------------

# pop3d-asan: AddressSanitizer and UBSan; the first report ends the process.
SAN_CC     = $(CC)
SAN_CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all

pop3d-asan: $(SRCS) $(HDRS) .build-flags
	$(SAN_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) $(SAN_CFLAGS) $(WARN) -o $@ \
	    $(SRCS) $(LDLIBS)

pop3d-asan-fastfail: $(SRCS) $(HDRS) .build-flags
	$(SAN_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -DFAIL_DELAY_MS=50 $(SAN_CFLAGS) \
	    $(WARN) -o $@ $(SRCS) $(LDLIBS)

# The suite again with POP3D=pop3d-asan and POP3D_FASTFAIL (tests that
# build C get CC and CFLAGS).  Reports are also logged under asan-log/, so
# one fails the run even in a test that only looked at the output.  Left
# out: t/25-memory.t measures RSS, which ASan multiplies; t/60-valgrind.t
# runs the plain build, as valgrind cannot run an ASan binary; t/36 replays
# thousands of power-cut states through the recovery, which t/30 and t/31
# already run under ASan (a quarter of an hour more for no new path).  The
# LD_PRELOAD fault injector of t/30 comes before gcc's libasan: allowed.
# Also left out: the tests that build pop3d of their own, cross-compiled
# for qemu-user (t/14, t/15) or as the Debian package (t/46).
SAN_SKIP = t/25-memory.t t/60-valgrind.t t/36-power-cut.t t/14-cross.t \
           t/15-cross-4g.t t/46-debian.t
SAN_ASAN = detect_leaks=1:verify_asan_link_order=0
SAN_ENV  = POP3D=$(CURDIR)/pop3d-asan \
           POP3D_FASTFAIL=$(CURDIR)/pop3d-asan-fastfail \
           CC="$(SAN_CC)" CFLAGS="$(SAN_CFLAGS)" \
           ASAN_OPTIONS=$(SAN_ASAN):log_path=$(CURDIR)/asan-log/asan \
           UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/asan-log/ubsan

check-asan: pop3d pop3d-fastfail pop3d-epochs pop3d-test pop3d-asan pop3d-asan-fastfail
	@rm -rf asan-log && mkdir asan-log
	$(SAN_ENV) prove -f $(filter-out $(SAN_SKIP),$(wildcard t/*.t))
	@if [ -n "$$(ls asan-log)" ]; then cat asan-log/*; \
	    echo "check-asan: sanitizer reports above"; exit 1; fi

# Fuzz targets (fuzz/*.c): libFuzzer with ASan and UBSan, each run for
# FUZZ_SECONDS from the seed corpus in fuzz/corpus/TARGET; new inputs and
# crashes go to fuzz/out/.  The I/O buffers shrink to a few bytes so small
# inputs reach their edges (lines split across reads, messages across
# blocks, multi-block update moves), and a failed login does not pause.
# The session runs in one process (POP3D_ONE_PROCESS): a pre-login child's
# coverage would be invisible to the fuzzer.
FUZZ_CC      = clang
FUZZ_SECONDS = 60
FUZZ_FLAGS   = -g -O1 -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
               -DFAIL_DELAY_MS=0 -DPOP3D_ONE_PROCESS $(FUZZ_SMALL)
FUZZ_SMALL   = -DIN_BUF_SIZE=7 -DOUT_BUF_SIZE=64 -DMBOX_BUF_SIZE=256
FUZZ_TARGETS = session scan passwd base64 index handover proxy
FUZZ_LIBSRCS = $(filter-out pop3d.c,$(SRCS))

fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-build: $(FUZZ_TARGETS:%=fuzz/out/%)

fuzz-run-%: fuzz/out/%
	@sh fuzz/run.sh $* $(FUZZ_SECONDS)

fuzz/out/session: fuzz/session.c fuzz/main.h fuzz/scratch.h $(SRCS) $(HDRS)
	@mkdir -p fuzz/out
	$(FUZZ_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) $(FUZZ_FLAGS) $(WARN) \
	    -Dmain=pop3d_main \
	    -include fuzz/main.h -c -o fuzz/out/pop3d-main.o pop3d.c
	$(FUZZ_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) $(FUZZ_FLAGS) $(WARN) \
	    -o $@ fuzz/session.c \
	    fuzz/out/pop3d-main.o $(FUZZ_LIBSRCS) $(LDLIBS)

fuzz/out/scan fuzz/out/passwd fuzz/out/index: fuzz/out/%: fuzz/%.c fuzz/scratch.h $(SRCS) $(HDRS)
	@mkdir -p fuzz/out
	$(FUZZ_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) $(FUZZ_FLAGS) $(WARN) -o $@ $< \
	    $(FUZZ_LIBSRCS) $(LDLIBS)

fuzz/out/handover: fuzz/handover.c handover.c handover.h io.c io.h params.h
	@mkdir -p fuzz/out
	$(FUZZ_CC) $(DEFS) $(CPPFLAGS) $(FUZZ_FLAGS) $(WARN) -o $@ fuzz/handover.c \
	    handover.c io.c

fuzz/out/proxy: fuzz/proxy.c proxy.c proxy.h params.h
	@mkdir -p fuzz/out
	$(FUZZ_CC) $(DEFS) $(CPPFLAGS) $(FUZZ_FLAGS) $(WARN) -o $@ fuzz/proxy.c proxy.c

fuzz/out/base64: fuzz/base64.c base64.c base64.h
	@mkdir -p fuzz/out
	$(FUZZ_CC) $(DEFS) $(CPPFLAGS) $(FUZZ_FLAGS) $(WARN) -o $@ fuzz/base64.c base64.c

# AFL++ on the session target (stdin harness: afl-clang-fast links the same
# LLVMFuzzerTestOneInput to its driver).  Crashes fail the target.
AFL_CC = afl-clang-fast

fuzz/out/afl-session: fuzz/session.c fuzz/main.h $(SRCS) $(HDRS)
	@mkdir -p fuzz/out
	AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(AFL_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -g -O1 \
	    -fsanitize=fuzzer -DFAIL_DELAY_MS=0 -DPOP3D_ONE_PROCESS $(FUZZ_SMALL) \
	    $(WARN) -Dmain=pop3d_main \
	    -include fuzz/main.h -c -o fuzz/out/afl-pop3d-main.o pop3d.c
	AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(AFL_CC) $(DEFS) $(CPPFLAGS) $(CRYPT_DEFS) -g -O1 \
	    -fsanitize=fuzzer -DFAIL_DELAY_MS=0 -DPOP3D_ONE_PROCESS $(FUZZ_SMALL) \
	    $(WARN) -o $@ fuzz/session.c \
	    fuzz/out/afl-pop3d-main.o $(FUZZ_LIBSRCS) $(LDLIBS)

fuzz-afl: fuzz/out/afl-session
	@sh fuzz/run-afl.sh session $(FUZZ_SECONDS)

# gcc -fanalyzer, cppcheck and clang-tidy (checks in .clang-tidy); each
# must be clean, or a warning is explained at its line.
analyze:
	@ANALYZE_DEFS='$(DEFS) $(CPPFLAGS)' ANALYZE_WARN='$(WARN)' sh .ci/analyze

.PHONY: all flags static cross check test demo serve bench bench-smoke install uninstall \
	clean check-asan fuzz fuzz-build fuzz-afl analyze
