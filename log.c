/*
 * Logging: one line a message to the syslog daemon (facility mail), or to
 * standard error with -e.  We speak the syslog socket protocol ourselves:
 * "<PRI>pop3d[PID]: text" in one datagram to /dev/log, with no time stamp
 * (the daemon adds its own).  syslog(3) would first load the time zone
 * and, in a static build, bring in a fifth of the program for it.
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

static void
log_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (log_fd == -1 &&
	    (log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	strcpy(sun.sun_path, "/dev/log");
	if (connect(log_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(log_fd);
		log_fd = -1;
	}
}

/* Connect now: a session that later runs as a user may not be able to. */
void
log_open(int to_stderr)
{
	log_stderr = to_stderr;
	if (!to_stderr)
		log_connect();
}

void
log_msg(int prio, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int head, n;

	va_start(ap, fmt);
	if (log_stderr) {
		fprintf(stderr, "pop3d[%ld]: ", (long)getpid());
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
		return;
	}
	head = snprintf(line, sizeof(line), "<%d>pop3d[%ld]: ",
	    LOG_MAIL | (prio & LOG_PRIMASK), (long)getpid());
	n = vsnprintf(line + head, sizeof(line) - (size_t)head, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += head;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* the daemon may have restarted: one new connection, then give up */
	for (int tries = 0; tries < 2; tries++) {
		if (log_fd == -1)
			log_connect();
		if (log_fd == -1 || send(log_fd, line, (size_t)n, 0) != -1)
			return;
		if (errno != ECONNREFUSED && errno != ENOTCONN &&
		    errno != ECONNRESET)
			return;
		close(log_fd);
		log_fd = -1;
	}
}
