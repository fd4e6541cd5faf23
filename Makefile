# pop3d: build, test, install.  CC, CFLAGS, CPPFLAGS, LDFLAGS, PREFIX and
# DESTDIR are honoured; WARN and HARDEN stay apart from CFLAGS so a
# packager's CFLAGS keep them and a static build can say HARDEN_LD=.

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wcast-qual -Wformat=2
HARDEN    = -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
            -fPIE
HARDEN_LD = -pie -Wl,-z,relro,-z,now
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -D_DEFAULT_SOURCE
LDLIBS    = -lcrypt
# crypt(3) comes from libxcrypt (-lcrypt) with glibc, from libc with musl.
# A C library without it (Debian's musl has none) builds with
#   make CRYPT_DEFS=-DNO_CRYPT LDLIBS=
# and then accepts {PLAIN} secrets only: no system accounts, no -P.
CRYPT_DEFS =

PREFIX   ?= /usr/local
SBINDIR   = $(PREFIX)/sbin
MANDIR    = $(PREFIX)/share/man/man8

OBJS = pop3d.o log.o io.o auth.o base64.o mbox.o mbox_scan.o mbox_uid.o \
       mbox_lock.o update.o md5.o
SRCS = $(OBJS:.o=.c)
HDRS = pop3d.h io.h auth.h base64.h mbox.h update.h md5.h

all: pop3d

pop3d: $(OBJS)
	$(CC) $(CFLAGS) $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

.c.o:
	$(CC) $(CPPFLAGS) $(CRYPT_DEFS) $(CFLAGS) $(WARN) $(HARDEN) -c $<

pop3d.o: pop3d.c pop3d.h io.h auth.h base64.h mbox.h
io.o: io.c io.h pop3d.h
log.o: log.c pop3d.h
auth.o: auth.c auth.h pop3d.h md5.h
base64.o: base64.c base64.h
mbox.o: mbox.c mbox.h io.h pop3d.h md5.h update.h
mbox_scan.o: mbox_scan.c mbox.h
mbox_uid.o: mbox_uid.c mbox.h md5.h
mbox_lock.o: mbox_lock.c mbox.h pop3d.h
update.o: update.c update.h mbox.h pop3d.h md5.h
md5.o: md5.c md5.h

# The same program with a 50 ms failure delay instead of one second, so
# tests of refused logins stay fast; never installed.
pop3d-fastfail: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(CRYPT_DEFS) -DFAIL_DELAY_MS=50 $(CFLAGS) $(WARN) \
	    $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(SRCS) $(LDLIBS)

# A small static binary for routers: musl-gcc when it is installed.
# Debian's musl has no crypt(3), so that build takes {PLAIN} secrets only.
MUSL_CC  = musl-gcc
static: pop3d-static
pop3d-static: $(SRCS) $(HDRS)
	if command -v $(MUSL_CC) >/dev/null; then \
		$(MUSL_CC) $(CPPFLAGS) -DNO_CRYPT -Os $(WARN) \
		    -fstack-protector-strong -static -s -ffunction-sections \
		    -fdata-sections -fno-asynchronous-unwind-tables \
		    -Wl,--gc-sections,--build-id=none,-z,noseparate-code \
		    -o $@ $(SRCS); \
	else \
		$(CC) $(CPPFLAGS) $(CRYPT_DEFS) -Os $(WARN) -static -s \
		    -o $@ $(SRCS) $(LDLIBS); \
	fi
	@ls -l $@

# The test suite: TAP through prove, ending in the count of tests.
check: pop3d pop3d-fastfail
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
SYSTEMDDIR = $(PREFIX)/lib/systemd/system
EXAMPLEDIR = $(PREFIX)/share/pop3d
FIXPATH    = sed 's|/usr/local/|$(PREFIX)/|g'
CONFIGS    = xinetd.d/pop3 examples/inetd.conf examples/stunnel.conf

serve: pop3d
	@sh examples/serve.sh

install: pop3d
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR) \
	    $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(EXAMPLEDIR)/xinetd.d
	install -m 755 pop3d $(DESTDIR)$(SBINDIR)/pop3d
	$(FIXPATH) pop3d.8 > $(DESTDIR)$(MANDIR)/pop3d.8
	$(FIXPATH) systemd/pop3d.socket > $(DESTDIR)$(SYSTEMDDIR)/pop3d.socket
	$(FIXPATH) systemd/pop3d@.service > $(DESTDIR)$(SYSTEMDDIR)/pop3d@.service
	for f in $(CONFIGS) examples/tcpserver.sh; do \
		$(FIXPATH) $$f > $(DESTDIR)$(EXAMPLEDIR)/$${f#examples/} || exit 1; \
	done
	chmod 644 $(DESTDIR)$(MANDIR)/pop3d.8 $(DESTDIR)$(SYSTEMDDIR)/pop3d.socket \
	    $(DESTDIR)$(SYSTEMDDIR)/pop3d@.service $(DESTDIR)$(EXAMPLEDIR)/xinetd.d/pop3 \
	    $(DESTDIR)$(EXAMPLEDIR)/inetd.conf $(DESTDIR)$(EXAMPLEDIR)/stunnel.conf
	chmod 755 $(DESTDIR)$(EXAMPLEDIR)/tcpserver.sh

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pop3d $(DESTDIR)$(MANDIR)/pop3d.8 \
	    $(DESTDIR)$(SYSTEMDDIR)/pop3d.socket \
	    $(DESTDIR)$(SYSTEMDDIR)/pop3d@.service \
	    $(DESTDIR)$(EXAMPLEDIR)/xinetd.d/pop3 \
	    $(DESTDIR)$(EXAMPLEDIR)/inetd.conf \
	    $(DESTDIR)$(EXAMPLEDIR)/stunnel.conf \
	    $(DESTDIR)$(EXAMPLEDIR)/tcpserver.sh
	-rmdir $(DESTDIR)$(EXAMPLEDIR)/xinetd.d $(DESTDIR)$(EXAMPLEDIR)

clean:
	rm -f pop3d pop3d-fastfail pop3d-static $(OBJS)

.PHONY: all static check demo serve bench bench-smoke install uninstall \
	clean
