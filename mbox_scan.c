/*
 * The scan: one sequential pass over the mailbox that builds the message
 * index.  A message starts at a line beginning "From " at the start of the
 * file or right after an empty line; that empty line is the separator and
 * belongs to no message.  Octet counts are what RETR will send: every line
 * ending in CR LF, without the dot-stuffing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "md5.h"
#include "mbox.h"

/*
 * At each line start we want this many bytes in the buffer, or the rest of
 * the file: enough for "From ", a header name and a whole X-UIDL line.
 */
#define LOOKAHEAD	128

/* Headers that mail readers rewrite in place; a UID must not follow them. */
static const char *const volatile_headers[] = {
	"Status:", "X-Status:", "X-Keywords:", "X-UID:", "X-IMAP:",
	"X-IMAPbase:", "Content-Length:", "Lines:", "X-UIDL:", NULL
};

struct scan {
	struct mbox	*m;
	char		*buf;
	size_t		pos, len;
	off_t		base;		/* file offset of buf[0] */
	off_t		end;		/* size being scanned */
	size_t		alloc;
	struct msg	*cur;
	struct md5	digest;
	int		in_headers;
	int		skip_header;	/* current header is volatile */
	int		prev_blank;
	off_t		blank_off;	/* the last empty line seen */
	char		last;		/* last byte consumed */
	unsigned char	xuidl_uid[16];	/* digest of the X-UIDL value */
};

static int
refill(struct scan *s)
{
	size_t keep = s->len - s->pos;
	off_t want;
	ssize_t n;

	mbox_lock_touch(s->m);		/* a long scan keeps its dotlock */
	memmove(s->buf, s->buf + s->pos, keep);
	s->base += (off_t)s->pos;
	s->pos = 0;
	s->len = keep;
	want = s->end - (s->base + (off_t)s->len);
	if (want > (off_t)(MBOX_BUF_SIZE - s->len))
		want = (off_t)(MBOX_BUF_SIZE - s->len);
	while (want > 0) {
		n = pread(s->m->fd, s->buf + s->len, (size_t)want,
		    s->base + (off_t)s->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {		/* shrank under our lock: not ours */
			errno = ESTALE;
			return -1;
		}
		s->len += (size_t)n;
		want -= n;
	}
	return 0;
}

static int
header_is(const char *p, size_t avail, const char *name)
{
	size_t n = strlen(name);

	return avail >= n && strncasecmp(p, name, n) == 0;
}

/* An X-UIDL value is kept when it is 1 to 70 printable characters. */
static void
note_xuidl(struct scan *s, const char *p, size_t avail)
{
	const char *v = p + 7, *e, *nl;
	struct md5 ctx;
	off_t rel;

	if (s->cur->flags & MSG_XUIDL)
		return;
	if ((nl = memchr(p, '\n', avail)) == NULL)
		return;
	while (v < nl && (*v == ' ' || *v == '\t'))
		v++;
	e = nl;
	while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == v || e - v > UID_MAX)
		return;
	for (const char *c = v; c < e; c++)
		if (*c < 0x21 || *c > 0x7e)
			return;
	rel = s->base + (off_t)(v - s->buf) - s->cur->from;
	if (rel > UINT32_MAX)
		return;
	s->cur->xuidl_off = (uint32_t)rel;
	s->cur->xuidl_len = (uint8_t)(e - v);
	s->cur->flags |= MSG_XUIDL;
	md5_init(&ctx);
	md5_update(&ctx, "X-UIDL", 6);
	md5_update(&ctx, v, (size_t)(e - v));
	md5_final(&ctx, s->xuidl_uid);
}

static void
finish_message(struct scan *s, off_t content_end, int strip_blank)
{
	struct msg *msg = s->cur;

	if (msg == NULL)
		return;
	msg->size = content_end - (msg->from + msg->from_len);
	if (strip_blank)
		msg->octets -= 2;	/* the separator line was counted */
	md5_final(&s->digest, msg->uid);
	if (msg->flags & MSG_XUIDL)
		memcpy(msg->uid, s->xuidl_uid, 16);
	s->cur = NULL;
}

static int
start_message(struct scan *s, off_t at)
{
	struct mbox *m = s->m;
	struct msg *p;

	if (m->count == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 64;
		if ((p = realloc(m->msgs, s->alloc * sizeof(*p))) == NULL)
			return -1;
		m->msgs = p;
	}
	s->cur = &m->msgs[m->count++];
	memset(s->cur, 0, sizeof(*s->cur));
	s->cur->from = at;
	md5_init(&s->digest);
	s->in_headers = 1;
	s->skip_header = 0;
	return 0;
}

/*
 * Consume one line starting at s->pos.  Content lines add to the octet
 * count; the From_ line and the headers feed the UID digest.
 */
static int
consume_line(struct scan *s, int is_from)
{
	int hashing = is_from || (s->in_headers && !s->skip_header);
	off_t start = s->base + (off_t)s->pos;
	off_t octets = 0;
	char *p, *nl;
	size_t seg;

	for (;;) {
		p = s->buf + s->pos;
		nl = memchr(p, '\n', s->len - s->pos);
		seg = nl ? (size_t)(nl - p) + 1 : s->len - s->pos;
		if (hashing)
			md5_update(&s->digest, p, seg);
		octets += (off_t)seg;
		if (nl && (seg >= 2 ? nl[-1] : s->last) != '\r')
			octets++;
		if (seg > 0)
			s->last = p[seg - 1];
		s->pos += seg;
		if (nl)
			break;
		if (s->base + (off_t)s->len == s->end)
			break;
		if (refill(s) == -1)
			return -1;
	}
	if (is_from) {
		off_t len = s->base + (off_t)s->pos - start;

		if (len > UINT32_MAX) {
			errno = EFBIG;
			return -1;
		}
		s->cur->from_len = (uint32_t)len;
	} else
		s->cur->octets += octets;
	return 0;
}

static int
scan_lines(struct scan *s)
{
	struct mbox *m = s->m;
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
			finish_message(s, s->prev_blank ? s->blank_off : at,
			    s->prev_blank);
			if (start_message(s, at) == -1)
				return -1;
		} else if (s->cur == NULL) {
			snprintf(m->reason, sizeof(m->reason),
			    "not an mbox: no From_ line at offset 0");
			return MBOX_PERM;
		}
		blank = p[0] == '\n' || (avail >= 2 && p[0] == '\r' &&
		    p[1] == '\n');
		if (!is_from && s->in_headers) {
			if (blank)
				s->in_headers = 0;
			else if (p[0] != ' ' && p[0] != '\t') {
				s->skip_header = 0;
				for (int i = 0; volatile_headers[i]; i++)
					if (header_is(p, avail,
					    volatile_headers[i]))
						s->skip_header = 1;
				if (header_is(p, avail, "X-UIDL:"))
					note_xuidl(s, p, avail);
			}
		}
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
			msg->octets += 2;
		}
	}
}

/* qsort(3) has no context argument; the scan is single-threaded. */
static const struct msg *sort_msgs;

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int c = memcmp(sort_msgs[i].uid, sort_msgs[j].uid, 16);

	return c != 0 ? c : (i > j) - (i < j);
}

/*
 * UIDs must be unique.  Equal digests come from byte-identical headers (or
 * a repeated X-UIDL); the k-th copy in file order gets the digest of
 * (uid, k), which stays put as long as the earlier copies do.
 */
static int
make_uids_unique(struct mbox *m)
{
	unsigned char first[16];
	uint32_t *order, k = 0;
	struct md5 ctx;
	size_t i;

	if (m->count < 2)
		return 0;
	if (m->count > UINT32_MAX) {
		errno = EFBIG;
		return -1;
	}
	if ((order = malloc(m->count * sizeof(*order))) == NULL)
		return -1;
	for (i = 0; i < m->count; i++)
		order[i] = (uint32_t)i;
	sort_msgs = m->msgs;
	qsort(order, m->count, sizeof(*order), uid_cmp);
	memcpy(first, m->msgs[order[0]].uid, 16);
	for (i = 1; i < m->count; i++) {
		struct msg *o = &m->msgs[order[i]];

		if (memcmp(o->uid, first, 16) != 0) {
			memcpy(first, o->uid, 16);
			k = 0;
			continue;
		}
		k++;
		md5_init(&ctx);
		md5_update(&ctx, first, 16);
		md5_update(&ctx, &k, sizeof(k));
		md5_final(&ctx, o->uid);
		o->flags &= (uint8_t)~MSG_XUIDL;
	}
	free(order);
	return 0;
}

int
mbox_scan(struct mbox *m)
{
	struct scan s;
	int r;

	memset(&s, 0, sizeof(s));
	s.m = m;
	s.end = m->scanned;
	s.buf = m->buf;
	s.alloc = 0;
	free(m->msgs);
	m->msgs = NULL;
	m->count = 0;
	if ((r = scan_lines(&s)) != 0) {
		if (r == -1)
			snprintf(m->reason, sizeof(m->reason), "scan: %s",
			    strerror(errno));
		return r == -1 ? MBOX_TEMP : r;
	}
	finish_last(&s);
	if (make_uids_unique(m) == -1) {
		snprintf(m->reason, sizeof(m->reason), "scan: %s",
		    strerror(errno));
		return MBOX_TEMP;
	}
	return MBOX_OK;
}
