/*
 * Fuzz target: a whole POP3 session driven by the input bytes.
 *
 * pop3d.c is built with -Dmain=pop3d_main and run as `pop3d -e -m DIR/%u
 * -p PASSWD` with the input as its standard input and its output in a
 * memfd.  Jack's mailbox, DIR/jack, is a fixture rewritten before every
 * run, so DELE and QUIT reach the update code each time.  The password
 * file knows user jack (password "password"), jill ("open sesame", no
 * mailbox yet) and users whose mailbox is missing, a directory, a FIFO, a
 * symbolic link or binary junk.  Every secret is {PLAIN}, so APOP and
 * CRAM-MD5 are offered too; crypt(3) users are left out, as its child
 * process would cost more than the rest of a run.
 *
 * One input in eight (by a hash of it) writes, instead of to the memfd, to
 * a socket that takes only a few KB and is never read: the client that
 * stops listening, so every path where a write fails is taken.
 *
 * After each run:
 *   - every line the server sent ends in CR LF (but a cut-off last one);
 *   - the mailbox holds some of the fixture's messages, in order and
 *     whole, and all of them unless the input says QUIT.
 * A broken invariant aborts, so libFuzzer reports it with the input.
 * The seed corpus starts with USER/PASS so TRANSACTION state is reached.
 * The session's log (-e) goes to /dev/null unless FUZZ_SESSION_LOG is
 * set; sanitizer reports go to the real standard error either way.
 */
/* memfd_create(2), strcasestr(3): a feature-test macro, defined on purpose */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl*) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scratch.h"

int	pop3d_main(int, char **);
int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * The fixture, one string per message, each ending where the next starts
 * (the empty separator line included).  Dot lines, ">From ", CR LF lines,
 * X-UIDL, two messages with the same headers, no final newline.  No
 * message is a prefix of another, so the check below is unambiguous.
 */
static const char *const fixture[] = {
	"From alice@example.org Mon Jan  1 00:00:00 2024\n"
	"From: alice@example.org\n"
	"Subject: one\n"
	"Status: RO\n"
	"\n"
	"Hello.\n"
	".\n"
	"..two dots\n"
	">From the quoted line\n"
	"\n",
	"From bob@example.org Mon Jan  1 00:00:01 2024\r\n"
	"From: bob@example.org\r\n"
	"Subject: crlf\r\n"
	"X-UIDL: fixture-uid-2\r\n"
	"\r\n"
	"line\r\n"
	".line\r\n"
	"\r\n",
	"From carol@example.org Mon Jan  1 00:00:02 2024\n"
	"Subject: twin\n"
	"\n"
	"first twin\n"
	"\n",
	"From carol@example.org Mon Jan  1 00:00:02 2024\n"
	"Subject: twin\n"
	"\n"
	"second twin\n"
	"\n",
	"From dave@example.org Mon Jan  1 00:00:03 2024\n"
	"Subject: empty body\n"
	"\n"
	"\n",
	"From erin@example.org Mon Jan  1 00:00:04 2024\n"
	"Subject: no final newline\n"
	"\n"
	"body\n"
	"last line",
};
#define NFIXTURE	(sizeof(fixture) / sizeof(fixture[0]))

static char mbox[300], passwd[300], lockfile[310], dotlock[310];
static char template[300];
static int in_fd = -1, out_fd = -1, saved_in = -1, saved_out = -1;
static int saved_err = -1, null_fd = -1;
static int deaf_fd = -1, deaf_client = -1;

static void
fatal(const char *what)
{
	perror(what);
	exit(1);
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz/session: invariant broken: %s\n", what);
	abort();
}

static void
put_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "we");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) == EOF)
		fatal(p);
}

static void
write_mailbox(void)
{
	FILE *f = fopen(mbox, "we");

	if (f == NULL)
		fatal(mbox);
	for (size_t i = 0; i < NFIXTURE; i++)
		if (fputs(fixture[i], f) == EOF)
			fatal(mbox);
	if (fclose(f) == EOF)
		fatal(mbox);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[320];
	const char *dir;
	int pair[2], small = 1;
	FILE *f;

	(void)argc;
	(void)argv;
	dir = scratch_dir("session");
	snprintf(mbox, sizeof(mbox), "%s/jack", dir);
	snprintf(template, sizeof(template), "%s/%%u", dir);
	snprintf(passwd, sizeof(passwd), "%s/passwd", dir);
	snprintf(lockfile, sizeof(lockfile), "%s.pop3d", mbox);
	snprintf(dotlock, sizeof(dotlock), "%s.lock", mbox);
	/* mailboxes that are not mailboxes */
	snprintf(path, sizeof(path), "%s/dir", dir);
	if (mkdir(path, 0700) == -1)
		fatal(path);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) == -1)
		fatal(path);
	snprintf(path, sizeof(path), "%s/link", dir);
	if (symlink(mbox, path) == -1)
		fatal(path);
	snprintf(path, sizeof(path), "%s/junk", dir);
	put_file(path, "\x7f" "ELF\1\1\1\0\0\0\0\0\0\0\0\0\2\0>\0\1\0\0\0");
	if ((f = fopen(passwd, "we")) == NULL)
		fatal(passwd);
	fprintf(f, "# fuzz fixture\n"
	    "jack:{PLAIN}password\n"
	    "jill:{PLAIN}open sesame:\n"
	    "none:{PLAIN}password:%s/missing\n"
	    "dir:{PLAIN}password:%s/dir\n"
	    "fifo:{PLAIN}password:%s/fifo\n"
	    "link:{PLAIN}password:%s/link\n"
	    "junk:{PLAIN}password:%s/junk\n",
	    dir, dir, dir, dir, dir);
	if (fclose(f) == EOF)
		fatal(passwd);
	if ((in_fd = memfd_create("fuzz-session-in", MFD_CLOEXEC)) == -1 ||
	    (out_fd = memfd_create("fuzz-session-out", MFD_CLOEXEC)) == -1)
		fatal("memfd_create");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1)
		fatal("socketpair");
	deaf_fd = pair[0];
	deaf_client = pair[1];
	/* the smallest send buffer, and a full one fails at once */
	if (setsockopt(deaf_fd, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)) == -1 || fcntl(deaf_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(deaf_client, F_SETFL, O_NONBLOCK) == -1)
		fatal("deaf socket");
	if ((saved_in = dup(0)) == -1 || (saved_out = dup(1)) == -1 ||
	    (saved_err = dup(2)) == -1)
		fatal("dup");
	if (getenv("FUZZ_SESSION_LOG") == NULL &&
	    (null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		fatal("/dev/null");
	__sanitizer_set_report_fd((void *)(intptr_t)saved_err);
	return 0;
}

static char *
read_all(int fd, size_t *len)
{
	struct stat st;
	char *b;

	if (fstat(fd, &st) == -1)
		fatal("fstat");
	*len = (size_t)st.st_size;
	if ((b = malloc(*len + 1)) == NULL)
		fatal("malloc");
	if (*len > 0 && pread(fd, b, *len, 0) != (ssize_t)*len)
		fatal("pread");
	b[*len] = '\0';
	return b;
}

static void
check_text(const char *o, size_t len, int whole)
{
	if (len < 5 || memcmp(o, "+OK ", 4) != 0)
		die("no greeting");
	if (whole && (o[len - 2] != '\r' || o[len - 1] != '\n'))
		die("output does not end in CR LF");
	for (size_t i = 0; i < len; i++)
		if (o[i] == '\n' && (i == 0 || o[i - 1] != '\r'))
			die("a bare LF in the output");
}

static void
check_output(void)
{
	size_t len;
	char *o = read_all(out_fd, &len);

	check_text(o, len, 1);
	free(o);
}

/* What the deaf client was sent, drained for the next run. */
static void
check_deaf_output(void)
{
	static char o[1 << 20];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(o) &&
	    (n = read(deaf_client, o + len, sizeof(o) - len)) > 0)
		len += (size_t)n;
	if (len == sizeof(o))
		die("the deaf socket took a megabyte");
	check_text(o, len, 0);
}

static uint64_t
hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t k = 0; k < size; k++)
		h = (h ^ data[k]) * 0x100000001b3ULL;
	return h;
}

/* The mailbox is the fixture with some messages gone, never anything else. */
static void
check_mailbox(int quit)
{
	size_t len, at = 0, kept = 0;
	int fd = open(mbox, O_RDONLY | O_CLOEXEC);
	char *m;

	if (fd == -1)
		fatal(mbox);
	m = read_all(fd, &len);
	close(fd);

	for (size_t i = 0; i < NFIXTURE; i++) {
		size_t n = strlen(fixture[i]);

		if (len - at >= n && memcmp(m + at, fixture[i], n) == 0) {
			at += n;
			kept++;
		}
	}
	if (at != len)
		die("the mailbox is not a subset of its messages");
	if (!quit && kept != NFIXTURE)
		die("messages deleted without QUIT");
	free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "pop3d", "-e", "-m", template, "-p", passwd, "-t",
	    "5", NULL };
	int deaf = hash(data, size) % 8 == 0;
	char *text;

	write_mailbox();
	(void)unlink(lockfile);
	(void)unlink(dotlock);
	if (ftruncate(in_fd, 0) == -1 || ftruncate(out_fd, 0) == -1 ||
	    pwrite(in_fd, data, size, 0) != (ssize_t)size ||
	    lseek(in_fd, 0, SEEK_SET) == -1 || lseek(out_fd, 0, SEEK_SET) == -1)
		fatal("memfd");
	if (dup2(in_fd, 0) == -1 || dup2(deaf ? deaf_fd : out_fd, 1) == -1 ||
	    (null_fd != -1 && dup2(null_fd, 2) == -1))
		fatal("dup2");
	optind = 0;		/* glibc: start getopt(3) afresh */
	if (pop3d_main(8, argv) != 0)
		die("pop3d_main failed");
	if (dup2(saved_in, 0) == -1 || dup2(saved_out, 1) == -1 ||
	    dup2(saved_err, 2) == -1)
		fatal("dup2");
	if (deaf)
		check_deaf_output();
	else
		check_output();
	if ((text = malloc(size + 1)) == NULL)
		fatal("malloc");
	memcpy(text, data, size);
	text[size] = '\0';
	/* a NUL ends the search early: then assume QUIT may be there */
	check_mailbox(strcasestr(text, "QUIT") != NULL ||
	    memchr(data, '\0', size) != NULL);
	free(text);
	return 0;
}
