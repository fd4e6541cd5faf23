/*
 * Encoding a stored message for RETR and TOP (see wire.h for the rules).
 * One memchr(3) and one memcpy(3) a line, straight into the output
 * buffer.
 */
#include <string.h>

#include "wire.h"

/* RETR (top == 0), or TOP with its count of body lines. */
void
wire_start(struct wire *w, int top, uint64_t lines)
{
	memset(w, 0, sizeof(*w));
	w->bol = 1;
	w->last = '\n';
	w->top = top;
	w->in_headers = 1;
	w->lines_left = lines;
}

/* A line has ended: for TOP, count it and see whether we are done. */
static void
line_ended(struct wire *w)
{
	int empty = w->linelen == 0 || (w->linelen == 1 && w->last == '\r');

	if (!w->top)
		return;
	if (w->in_headers) {
		if (empty)
			w->in_headers = 0;
	} else
		w->lines_left--;
	if (!w->in_headers && w->lines_left == 0)
		w->done = 1;
}

/*
 * Encode stored bytes in[0..n) into out[0..room), room >= WIRE_MIN_ROOM.
 * Returns the bytes written; *used gets the bytes of in consumed (fewer
 * than n when out is full or TOP is done).
 */
size_t
wire_encode(struct wire *w, const char *in, size_t n, char *out, size_t room,
    size_t *used)
{
	const char *p = in, *e = in + n, *nl;
	char *d = out, *end = out + room;
	size_t len, space;

	while (p < e && !w->done && end - d >= WIRE_MIN_ROOM - 1) {
		if (w->bol) {
			if (*p == '.')
				*d++ = '.';
			w->bol = 0;
			w->linelen = 0;
		}
		/* room for the line and its CR LF */
		space = (size_t)(end - d) - 2;
		nl = memchr(p, '\n', (size_t)(e - p));
		len = (size_t)((nl ? nl : e) - p);
		if (len > space) {
			len = space;
			nl = NULL;
		}
		memcpy(d, p, len);
		d += len;
		p += len;
		w->linelen += len;
		if (len > 0)
			w->last = p[-1];
		if (nl) {
			if (wire_cr_added(w->last))
				*d++ = '\r';
			*d++ = '\n';
			p++;
			w->bol = 1;
			line_ended(w);
			w->last = '\n';
		}
	}
	*used = (size_t)(p - in);
	return (size_t)(d - out);
}

/*
 * The end of the message into out (WIRE_MIN_ROOM bytes): CR LF after a
 * last line without a newline, then the terminating dot.
 */
size_t
wire_end(struct wire *w, char *out)
{
	size_t n = 0;

	if (!w->bol) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	out[n++] = '.';
	out[n++] = '\r';
	out[n++] = '\n';
	return n;
}
