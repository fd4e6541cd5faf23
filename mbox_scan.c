/*
 * The scan: one sequential pass over the mailbox that builds the message
 * index.  A message starts at a line beginning "From " at the start of the
 * file or right after an empty line; that empty line is the separator and
 * belongs to no message, and so does one empty line at the end of the
 * file.  Octet counts are what RETR will send, by the rules of wire.h.
 * UIDs are left to mbox_uid.c, which reads the headers (and the bodies of
 * messages without a Message-ID) only when a client asks for UIDL.  A
 * scan may start at a message the index knows (mbox_index.c), when only
 * mail was appended.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "hash.h"
#include "mbox.h"
#include "wire.h"

/* Bytes wanted at a line start: "From " or an empty CR LF line. */
#define LOOKAHEAD	8

struct scan {
	struct mbox	*m;
	char		*buf;
	size_t		pos, len;
	off_t		base;		/* file offset of buf[0] */
	off_t		end;		/* size being scanned */
	struct msg	*msgs;		/* the index being built */
	size_t		count, alloc;
	struct msg	*cur;
	int		prev_blank;
	off_t		blank_off;	/* the last empty line seen */
	char		last;		/* last byte consumed */
	int		not_mbox;	/* the file does not start "From " */
};

static int
refill(struct scan *s)
{
	size_t keep = s->len - s->pos;
	off_t want;

	spool_touch(&s->m->spool);	/* a long scan keeps its dotlock */
	memmove(s->buf, s->buf + s->pos, keep);
	s->base += (off_t)s->pos;
	s->pos = 0;
	s->len = keep;
	want = s->end - (s->base + (off_t)s->len);
	if (want > (off_t)(MBOX_BUF_SIZE - s->len))
		want = (off_t)(MBOX_BUF_SIZE - s->len);
	/* a file that shrank under our lock is not ours: ESTALE */
	if (want > 0 && fileio_read_all(s->m->spool.fd, s->buf + s->len,
	    (size_t)want, s->base + (off_t)s->len) == -1)
		return -1;
	s->len += (size_t)want;
	return 0;
}

static void
finish_message(struct scan *s, off_t content_end, int strip_blank)
{
	struct msg *msg = s->cur;

	if (msg == NULL)
		return;
	msg->size = content_end - (msg->from + msg->from_len);
	if (strip_blank)		/* the separator line was counted */
		msg->octets -= WIRE_EMPTY_LINE;
	s->cur = NULL;
}

static int
start_message(struct scan *s, off_t at)
{
	struct msg *p;

	if (s->count == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 64;
		if ((p = realloc(s->msgs, s->alloc * sizeof(*p))) == NULL)
			return -1;
		s->msgs = p;
	}
	s->cur = &s->msgs[s->count++];
	memset(s->cur, 0, sizeof(*s->cur));
	s->cur->from = at;
	return 0;
}

/*
 * Consume one line starting at s->pos: one memchr(3) a line, which is as
 * fast as counting newlines gets.
 */
static int
consume_line(struct scan *s, int is_from)
{
	off_t start = s->base + (off_t)s->pos, octets = 0, len;
	char *p, *nl, before;
	size_t seg;

	for (;;) {
		p = s->buf + s->pos;
		nl = memchr(p, '\n', s->len - s->pos);
		seg = nl ? (size_t)(nl - p) + 1 : s->len - s->pos;
		octets += (off_t)seg;
		if (nl) {
			before = s->last;	/* a line split across reads */
			if (seg >= 2)
				before = nl[-1];
			octets += wire_cr_added(before);
		}
		if (seg > 0)
			s->last = p[seg - 1];
		s->pos += seg;
		if (nl || s->base + (off_t)s->len == s->end)
			break;
		if (refill(s) == -1)
			return -1;
	}
	if (!is_from) {
		s->cur->octets += octets;
		return 0;
	}
	len = s->base + (off_t)s->pos - start;
	if (len > UINT32_MAX) {
		errno = EFBIG;
		return -1;
	}
	s->cur->from_len = (uint32_t)len;
	return 0;
}

static int
scan_lines(struct scan *s)
{
	const char *p;
	size_t avail;
	off_t at;
	int blank, is_from;

	for (;;) {
		if (s->len - s->pos < LOOKAHEAD &&
		    s->base + (off_t)s->len < s->end && refill(s) == -1)
			return -1;
		if (s->pos == s->len)
			break;
		p = s->buf + s->pos;
		avail = s->len - s->pos;
		at = s->base + (off_t)s->pos;
		is_from = (at == 0 || s->prev_blank) && avail >= 5 &&
		    memcmp(p, "From ", 5) == 0;
		if (is_from) {
			/* the fingerprint's window, whole in the buffer */
			if (avail < FP_WINDOW &&
			    s->base + (off_t)s->len < s->end) {
				if (refill(s) == -1)
					return -1;
				p = s->buf + s->pos;
				avail = s->len - s->pos;
			}
			finish_message(s, s->prev_blank ? s->blank_off : at,
			    s->prev_blank);
			if (start_message(s, at) == -1)
				return -1;
			s->cur->fp = mbox_fingerprint(p, avail < FP_WINDOW ?
			    avail : FP_WINDOW);
		} else if (s->cur == NULL) {
			s->not_mbox = 1;
			return -1;
		}
		blank = p[0] == '\n' || (avail >= 2 && p[0] == '\r' &&
		    p[1] == '\n');
		if (consume_line(s, is_from) == -1)
			return -1;
		s->prev_blank = !is_from && blank;
		if (blank)
			s->blank_off = at;
	}
	return 0;
}

/* The file's last message ends at EOF, less one trailing empty line. */
static void
finish_last(struct scan *s)
{
	struct msg *msg = s->cur;
	off_t content;

	if (msg == NULL)
		return;
	content = msg->from + msg->from_len;
	if (s->prev_blank && s->blank_off >= content)
		finish_message(s, s->blank_off, 1);
	else {
		finish_message(s, s->end, 0);
		if (msg->size > 0 && s->last != '\n') {
			msg->flags |= MSG_NOEOL;
			msg->octets += WIRE_NOEOL;
		}
	}
}

/*
 * Index the first m->scanned bytes of the mailbox, keeping the first
 * `keep` messages the index had and scanning from where the next one
 * starts (keep == 0: the whole file).  0, or -1 and m->fault.
 */
int
mbox_scan(struct mbox *m, size_t keep)
{
	struct scan s;

	memset(&s, 0, sizeof(s));
	s.m = m;
	s.end = m->scanned;
	s.buf = m->buf;
	m->buf_len = 0;
	if (keep > 0 && keep < m->count) {
		/* that message starts after an empty line: a From_ line */
		s.msgs = m->msgs;
		s.count = keep;
		s.alloc = m->count;
		s.base = m->msgs[keep].from;
		s.prev_blank = 1;
	} else
		free(m->msgs);
	m->msgs = NULL;
	m->count = 0;
	if (scan_lines(&s) == -1) {
		if (s.not_mbox)
			fault_set(&m->fault, FAULT_PERM, "not an mbox: no "
			    "From_ line at offset 0");
		else
			fault_sys(&m->fault, FAULT_TEMP, "scan");
		free(s.msgs);
		return -1;
	}
	finish_last(&s);
	m->msgs = s.msgs;
	m->count = s.count;
	return 0;
}

/*
 * A message's fingerprint: a hash of its first bytes, p[0..n) with n at
 * most FP_WINDOW and never past the message's end, cut before its first
 * empty line.  So the window lies inside the message whatever follows it,
 * and mail appended after the message never changes it.
 */
uint32_t
mbox_fingerprint(const char *p, size_t n)
{
	const char *nl, *e = p + n;
	uint64_t h;

	for (nl = memchr(p, '\n', n); nl != NULL && nl + 1 < e;
	    nl = memchr(nl + 1, '\n', (size_t)(e - nl - 1))) {
		if (nl[1] == '\n' || (nl[1] == '\r' && nl + 2 < e &&
		    nl[2] == '\n')) {
			e = nl + 1;
			break;
		}
	}
	h = hash_bytes(p, (size_t)(e - p));
	return (uint32_t)(h ^ (h >> 32));
}
