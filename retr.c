/*
 * Sending a message: the mailbox hands out its bytes, the wire encoder
 * turns them into lines with CR LF and stuffed dots straight in the output
 * buffer, and the closing dot leaves in the same write as the last line.
 */
#include "io.h"
#include "mbox.h"
#include "retr.h"
#include "wire.h"

/*
 * Message i (top == 0), or its headers and `lines` body lines, to o.  0:
 * sent; -1: the mailbox failed (m->fault) or the client went (o->failed).
 */
int
retr_send(struct out *o, struct mbox *m, size_t i, int top, uint64_t lines)
{
	struct wire w;
	off_t at, end;
	const char *p;
	size_t avail, used, room;
	char *d;

	wire_start(&w, top, lines);
	mbox_span(m, i, &at, &end);
	while (at < end && !w.done && !o->failed) {
		if ((p = mbox_peek(m, at, 1, &avail)) == NULL)
			return -1;
		if (avail == 0)		/* shorter than scanned: not ours */
			return fault_set(&m->fault, FAULT_TEMP,
			    "mailbox shrank during the session");
		if ((off_t)avail > end - at)
			avail = (size_t)(end - at);
		while (avail > 0 && !w.done && !o->failed) {
			d = out_space(o, WIRE_MIN_ROOM, &room);
			out_commit(o, wire_encode(&w, p, avail, d, room, &used));
			p += used;
			avail -= used;
			at += (off_t)used;
		}
	}
	/*
	 * The bytes just sent must still be the message: a file changed
	 * while we read it may have handed out a splice of two.  Then no
	 * terminating dot: the client sees a cut answer, not a wrong mail.
	 */
	if (!o->failed && mbox_check(m, i, 1) == -1)
		return -1;
	d = out_space(o, WIRE_MIN_ROOM, &room);
	out_commit(o, wire_end(&w, d));
	return o->failed ? -1 : 0;
}
