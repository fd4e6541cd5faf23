/*
 * Logging: one line a message to the syslog daemon (facility mail), or to
 * standard error with -e.  We speak the syslog socket protocol ourselves:
 * "<PRI>pop3d[PID]: text" in one datagram to /dev/log, with no time stamp
 * (the daemon adds its own).  syslog(3) would first load the time zone
 * and, in a static build, bring in a fifth of the program for it.
 *
 * Log lines carry what clients typed (user names, a launcher's address
 * from the environment): every byte that is not printable ASCII, and the
 * backslash, is written as \xNN here, for every line, so no caller can
 * forget.  An ESC or a CR never reaches a terminal or a log parser.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "params.h"


static int log_stderr;
static int log_fd = -1;
static int log_confined;	/* no new connection: sandbox.c */

static void
log_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (log_confined)
		return;
	if (log_fd == -1 &&
	    (log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	strcpy(sun.sun_path, "/dev/log");
	if (connect(log_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(log_fd);
		log_fd = -1;
	}
}

/* The child before login logs nothing itself: the monitor does. */
void
log_close(void)
{
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
}

/*
 * The session is about to be confined (sandbox.c): it may make no socket
 * from now on.  Lines go to the connection made at startup; if the
 * daemon restarts and drops it, the rest of the session's are lost.
 */
void
log_confine(void)
{
	log_confined = 1;
}

/* Connect now: a session that later runs as a user may not be able to. */
void
log_open(int to_stderr)
{
	log_stderr = to_stderr;
	if (!to_stderr)
		log_connect();
	else
		log_close();
}

/*
 * text as dst can hold it (size > 0, NUL-terminated): printable ASCII as
 * it is, anything else as \xNN; a sequence is never cut in half.
 */
static size_t
log_escape(char *dst, size_t size, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			if (n + 1 >= size)
				break;
			dst[n++] = (char)*p;
		} else {
			if (n + 4 >= size)
				break;
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[*p >> 4];
			dst[n++] = hex[*p & 15];
		}
	}
	dst[n] = '\0';
	return n;
}

void
log_msg(int prio, const char *fmt, ...)
{
	char raw[LOG_LINE_MAX], line[LOG_LINE_MAX];
	va_list ap;
	int head;
	size_t n;

	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (log_stderr) {
		(void)log_escape(line, sizeof(line), raw);
		fprintf(stderr, "pop3d[%ld]: %s\n", (long)getpid(), line);
		return;
	}
	head = snprintf(line, sizeof(line), "<%d>pop3d[%ld]: ",
	    LOG_MAIL | (prio & LOG_PRIMASK), (long)getpid());
	if (head < 0 || (size_t)head >= sizeof(line))
		return;
	n = (size_t)head + log_escape(line + head, sizeof(line) - (size_t)head,
	    raw);
	/* the daemon may have restarted: one new connection, then give up */
	for (int tries = 0; tries < 2; tries++) {
		if (log_fd == -1)
			log_connect();
		if (log_fd == -1 || send(log_fd, line, n, 0) != -1)
			return;
		if (errno != ECONNREFUSED && errno != ENOTCONN &&
		    errno != ECONNRESET)
			return;
		close(log_fd);
		log_fd = -1;
	}
}

/* s, at most max bytes of it, at dst; how many (no NUL is written). */
static size_t
put(char *dst, const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0') {
		dst[n] = s[n];
		n++;
	}
	return n;
}

/*
 * From a signal handler: text, which the caller made printable, in one
 * line by write(2) or send(2) alone, no formatting, no new connection.
 */
void
log_signal_safe(int prio, const char *text)
{
	char line[LOG_LINE_MAX], digits[24];
	size_t n = 0, d = 0;
	long pid = (long)getpid();

	if (log_stderr)
		line[n++] = 'p';	/* "pop3d[PID]: text\n" */
	else {
		prio = LOG_MAIL | (prio & LOG_PRIMASK);
		line[n++] = '<';
		do
			digits[d++] = (char)('0' + prio % 10);
		while ((prio /= 10) > 0);
		while (d > 0)
			line[n++] = digits[--d];
		line[n++] = '>';
		line[n++] = 'p';
	}
	n += put(line + n, "op3d[", 5);
	do
		digits[d++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	while (d > 0)
		line[n++] = digits[--d];
	n += put(line + n, "]: ", 3);
	n += put(line + n, text, sizeof(line) - n - 1);
	if (log_stderr) {
		line[n++] = '\n';
		(void)!write(2, line, n);
	} else if (log_fd != -1)
		(void)send(log_fd, line, n, 0);
}
