/*
 * Line input and buffered output for the session.  Input is bounded where
 * it is read; output leaves in large writes, and only when the client has
 * nothing more queued for us (RFC 2449 PIPELINING) or the buffer is full.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* A reader of fd with this idle limit; the buffer is left as it is. */
void
in_init(struct in *in, int fd, int timeout_ms)
{
	in->fd = fd;
	in->timeout_ms = timeout_ms;
	in->until_ms = 0;
	in->timed_out = 0;
	in->pos = in->len = 0;
}

void
out_init(struct out *o, int fd)
{
	o->fd = fd;
	o->failed = 0;
	o->len = 0;
}

/* Milliseconds on CLOCK_MONOTONIC: what deadlines are measured in. */
long long
io_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait for input until until_ms, then read what is there after the bytes
 * held.  1: read some; 0: input ended, or the time ran out (timed_out
 * set to which); -1: an error.
 */
static int
read_until(struct in *in, long long until_ms, int which)
{
	struct pollfd p = { .fd = in->fd, .events = POLLIN };
	long long left;
	ssize_t n;
	int r;

	for (;;) {
		if ((left = until_ms - io_now_ms()) <= 0) {
			in->timed_out = which;
			return 0;
		}
		r = poll(&p, 1, (int)left);
		if (r == 0 || (r == -1 && errno == EINTR))
			continue;	/* the deadline is taken above */
		if (r == -1)
			return -1;
		n = read(in->fd, in->buf + in->len, sizeof(in->buf) - in->len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return (int)n;
		in->len += (size_t)n;
		return 1;
	}
}

/*
 * The buffer is used up: refill it, waiting until the line's deadline
 * (*line_until, set on the first wait for this line) or the state's,
 * whichever comes first; timing out says which passed.
 */
static int
in_fill(struct in *in, long long *line_until)
{
	if (*line_until == 0)
		*line_until = io_now_ms() + in->timeout_ms;
	in->pos = in->len = 0;
	if (in->until_ms != 0 && in->until_ms < *line_until)
		return read_until(in, in->until_ms, IN_DEADLINE);
	return read_until(in, *line_until, IN_IDLE);
}

/*
 * Next line, CR LF or LF stripped.  LINE_OK: a line; LINE_EOF: input ended,
 * even mid-line (a half-sent QUIT is not a QUIT), or a deadline passed
 * (in->timed_out says which: the line's own, timeout_ms from the first
 * wait for it, or the state's);
 * LINE_BAD: longer than size - 1 or holds a NUL.  A long line is read to its
 * end and dropped here, so the next call starts at the next command.
 */
int
in_line(struct in *in, char *buf, size_t size)
{
	long long line_until = 0;
	size_t n = 0;
	int over = 0;
	char *nl;
	size_t chunk;

	for (;;) {
		if (in->pos == in->len && in_fill(in, &line_until) <= 0)
			return LINE_EOF;
		nl = memchr(in->buf + in->pos, '\n', in->len - in->pos);
		chunk = (nl ? (size_t)(nl - in->buf) : in->len) - in->pos;
		if (!over && n + chunk < size) {
			memcpy(buf + n, in->buf + in->pos, chunk);
			n += chunk;
		} else
			over = 1;
		in->pos += chunk;
		if (nl) {
			in->pos++;
			break;
		}
	}
	if (over)
		return LINE_BAD;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return memchr(buf, '\0', n) != NULL ? LINE_BAD : LINE_OK;
}

/*
 * Read more into the buffer, after the bytes not yet taken, waiting
 * until until_ms at most (the PROXY header, read before the greeting).
 * 1: read some; 0: input ended, the buffer is full, or the time ran out
 * (timed_out set); -1: an error.
 */
int
in_more(struct in *in, long long until_ms)
{
	if (in->pos > 0) {
		memmove(in->buf, in->buf + in->pos, in->len - in->pos);
		in->len -= in->pos;
		in->pos = 0;
	}
	if (in->len == sizeof(in->buf))
		return 0;
	return read_until(in, until_ms, IN_DEADLINE);
}

/*
 * Drop what the client has sent and we have not read as commands: the
 * buffer, and what the descriptor holds right now, up to max bytes
 * (STLS: what was pipelined after it is never a command).
 */
void
in_drop(struct in *in, size_t max)
{
	size_t dropped = 0;
	ssize_t n;

	in->pos = in->len = 0;
	while (dropped < max && in_pending(in)) {
		n = read(in->fd, in->buf, sizeof(in->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		dropped += (size_t)n;
	}
	in->pos = in->len = 0;
}

/* Is more input already here?  Then answers can wait for one write. */
int
in_pending(struct in *in)
{
	struct pollfd p = { .fd = in->fd, .events = POLLIN };

	if (in->pos < in->len)
		return 1;
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int
out_flush(struct out *o)
{
	size_t done = 0;
	ssize_t n;

	while (!o->failed && done < o->len) {
		n = write(o->fd, o->buf + done, o->len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			o->failed = 1;
		else
			done += (size_t)n;
	}
	o->len = 0;
	return o->failed ? -1 : 0;
}

void
out_put(struct out *o, const void *p, size_t n)
{
	size_t room;

	while (n > 0) {
		room = sizeof(o->buf) - o->len;
		if (room == 0) {
			out_flush(o);
			continue;
		}
		if (room > n)
			room = n;
		memcpy(o->buf + o->len, p, room);
		o->len += room;
		p = (const char *)p + room;
		n -= room;
	}
}

/*
 * Room to write into the buffer directly, at least min bytes (flushing
 * first if need be); *room gets how much.  out_commit() then says how
 * much was written.
 */
char *
out_space(struct out *o, size_t min, size_t *room)
{
	if (sizeof(o->buf) - o->len < min)
		out_flush(o);
	*room = sizeof(o->buf) - o->len;
	return o->buf + o->len;
}

void
out_commit(struct out *o, size_t n)
{
	o->len += n;
}

/*
 * v in decimal at p (IO_DECIMAL_MAX bytes at most); returns the end.
 * LIST and UIDL write two numbers a message, and printf(3) would be most
 * of a poll's time.
 */
char *
io_decimal(char *p, uint64_t v)
{
	char digits[IO_DECIMAL_MAX], *d = digits + sizeof(digits);

	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	memcpy(p, d, (size_t)(digits + sizeof(digits) - d));
	return p + (digits + sizeof(digits) - d);
}

void
out_printf(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	out_put(o, line, (size_t)n);
}
