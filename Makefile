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

PREFIX   ?= /usr/local
SBINDIR   = $(PREFIX)/sbin
MANDIR    = $(PREFIX)/share/man/man8
DOCDIR    = $(PREFIX)/share/doc/pop3d

OBJS = pop3d.o io.o auth.o mbox.o mbox_scan.o mbox_uid.o mbox_lock.o update.o \
       md5.o

all: pop3d

pop3d: $(OBJS)
	$(CC) $(CFLAGS) $(HARDEN) $(HARDEN_LD) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

.c.o:
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(HARDEN) -c $<

pop3d.o: pop3d.c pop3d.h io.h auth.h mbox.h
io.o: io.c io.h pop3d.h
auth.o: auth.c auth.h pop3d.h md5.h
mbox.o: mbox.c mbox.h io.h pop3d.h md5.h update.h
mbox_scan.o: mbox_scan.c mbox.h
mbox_uid.o: mbox_uid.c mbox.h md5.h
mbox_lock.o: mbox_lock.c mbox.h pop3d.h
update.o: update.c update.h mbox.h pop3d.h md5.h
md5.o: md5.c md5.h

# The test suite: TAP through prove, ending in the count of tests.
check: pop3d
	prove -f t/

demo: pop3d
	@bash examples/demo.sh

install: pop3d
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)
	install -m 755 pop3d $(DESTDIR)$(SBINDIR)/pop3d
	install -m 644 pop3d.8 $(DESTDIR)$(MANDIR)/pop3d.8

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/pop3d $(DESTDIR)$(MANDIR)/pop3d.8

clean:
	rm -f pop3d $(OBJS)

.PHONY: all check demo install uninstall clean
