/*
 * What every command handler shares: the +OK and -ERR lines, the RFC 3206
 * code for a mailbox failure and the log line that goes with it, and the
 * reading of numbers and arguments as the client sent them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "session.h"

static enum verdict
reply(struct session *, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static enum verdict
reply(struct session *s, const char *status, const char *fmt, va_list ap)
{
	char line[CMD_LINE_MAX + 64];
	int n;

	/* no format: the status alone (NOOP); vsnprintf(3) must not see NULL */
	n = fmt != NULL ? vsnprintf(line, sizeof(line), fmt, ap) : 0;
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	out_put(&s->out, status, strlen(status));
	if (n > 0) {
		out_put(&s->out, " ", 1);
		out_put(&s->out, line, (size_t)n);
	}
	out_put(&s->out, "\r\n", 2);
	return V_OK;
}

enum verdict
reply_ok(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "+OK", fmt, ap);
	va_end(ap);
	return V_OK;
}

enum verdict
reply_err(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "-ERR", fmt, ap);
	va_end(ap);
	return V_BAD;
}

/* RFC 3206: what a client should make of a mailbox that failed. */
const char *
reply_code(const struct fault *f)
{
	switch (f->code) {
	case FAULT_INUSE:
		return "[IN-USE]";
	case FAULT_PERM:
		return "[SYS/PERM]";
	default:
		return "[SYS/TEMP]";
	}
}

/* The mailbox failed: one log line says whose, which and why. */
void
reply_log_fault(const struct session *s)
{
	log_msg(LOG_ERR, "user=%s mailbox=%s: %s", s->acct.name,
	    s->acct.mailbox, s->mbox.fault.text);
}

/*
 * A number as a client writes it: decimal digits only.  "1x", "-1", "+1",
 * "" and numbers past 2^64 are errors, never 1.
 */
int
reply_number(const char *arg, uint64_t *v)
{
	uint64_t n = 0;

	if (*arg == '\0')
		return 0;
	for (; *arg; arg++) {
		if (*arg < '0' || *arg > '9')
			return 0;
		if (n > (UINT64_MAX - 9) / 10)
			return 0;
		n = n * 10 + (uint64_t)(*arg - '0');
	}
	*v = n;
	return 1;
}

/* An argument echoed in a reply: printable ASCII, SHOWN_ARG_MAX bytes. */
const char *
reply_arg(const char *arg)
{
	static char buf[SHOWN_ARG_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(buf) - 1 && arg[i] != '\0'; i++) {
		if (arg[i] > 0x20 && arg[i] < 0x7f)
			buf[i] = arg[i];
		else
			buf[i] = '?';
	}
	buf[i] = '\0';
	return buf;
}

/* Input ended at a deadline (in.timed_out): say which, before closing. */
void
reply_timeout(struct session *s)
{
	if (s->in.timed_out == IN_DEADLINE)
		reply_err(s, "no login in time, closing");
	else
		reply_err(s, "idle for too long, closing");
}
