/*
 * UIDL (RFC 1939): a message's unique id, the same in every session and
 * after other messages are deleted, without writing to the mailbox.
 *
 * It is the value of the X-UIDL header when that is 1 to 70 printable
 * characters (UIDs survive a move from a server that wrote them), else 96
 * bits of an MD5 digest as 24 hex digits; an X-UIDL of 24 lower-case hex
 * digits is not honoured, so that no X-UIDL can spell another message's
 * UID.  The digest covers the From_ line and the headers that mail readers
 * do not rewrite.  A message without a Message-ID (the field that names a
 * message, RFC 5322) adds the rest of its bytes: cron mails of the same
 * second then get UIDs that follow from what each one is, not from where
 * it stands, and one never hands its UID to another.  (Without state, a
 * lone message cannot both keep a header-only UID and never pass it on to
 * a later twin.)  Every CR right before an LF is left out: a mail reader
 * that rewrites CR LF line ends as LF changes no UID.  Only the headers
 * are read (and the bodies of messages without a Message-ID), and only
 * when a client first asks for UIDL: sessions that never do pay nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "md5.h"
#include "mbox.h"

/* Headers that mail readers rewrite in place; a UID must not follow them. */
static const char *const volatile_headers[] = {
	"Status:", "X-Status:", "X-Keywords:", "X-UID:", "X-IMAP:",
	"X-IMAPbase:", "Content-Length:", "Lines:", "X-UIDL:", NULL
};

static void
final_uid(struct md5 *ctx, unsigned char uid[UID_BYTES])
{
	unsigned char d[16];

	md5_final(ctx, d);
	memcpy(uid, d, UID_BYTES);
}

static int
header_is(const char *p, size_t avail, const char *name)
{
	size_t n = strlen(name);

	return avail >= n && strncasecmp(p, name, n) == 0;
}

static int
is_volatile(const char *p, size_t avail)
{
	/* the names start with S, X, C or L: most headers stop here */
	if (strchr("SsXxCcLl", p[0]) == NULL)
		return 0;
	for (int i = 0; volatile_headers[i]; i++)
		if (header_is(p, avail, volatile_headers[i]))
			return 1;
	return 0;
}

/*
 * Would this value read like a UID we compute (2 * UID_BYTES lower-case hex
 * digits)?  Such an X-UIDL could spell another message's UID, and the
 * check for equal UIDs below compares digests, not what UIDL shows.
 */
static int
looks_computed(const char *v, size_t len)
{
	if (len != 2 * UID_BYTES)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (strchr("0123456789abcdef", v[i]) == NULL)
			return 0;
	return 1;
}

/* The digest an X-UIDL value stands for among the UIDs. */
static void
xuidl_digest(const char *v, size_t len, unsigned char uid[UID_BYTES])
{
	struct md5 ctx;

	md5_init(&ctx);
	md5_update(&ctx, "X-UIDL", 6);
	md5_update(&ctx, v, len);
	final_uid(&ctx, uid);
}

static int
same_xuidl(const struct msg *msg, const char *v, size_t len)
{
	unsigned char d[UID_BYTES];

	xuidl_digest(v, len, d);
	return memcmp(d, msg->uid, UID_BYTES) == 0;
}

/*
 * An X-UIDL value is kept when it is 1 to 70 printable characters and
 * does not look like a UID of ours.
 */
static void
note_xuidl(struct msg *msg, off_t at, const char *p, size_t avail)
{
	const char *v = p + 7, *e, *nl;
	off_t rel;

	if (msg->flags & MSG_XUIDL || (nl = memchr(p, '\n', avail)) == NULL)
		return;
	while (v < nl && (*v == ' ' || *v == '\t'))
		v++;
	e = nl;
	while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == v || e - v > UID_MAX || looks_computed(v, (size_t)(e - v)))
		return;
	for (const char *c = v; c < e; c++)
		if (*c < 0x21 || *c > 0x7e)
			return;
	rel = at + (v - p) - msg->from;
	if (rel > UINT16_MAX)		/* 64 KB of headers before it: no */
		return;
	msg->xuidl_off = (uint16_t)rel;
	msg->xuidl_len = (uint8_t)(e - v);
	msg->flags |= MSG_XUIDL;
	/* equal X-UIDL values must compare equal below */
	xuidl_digest(v, (size_t)(e - v), msg->uid);
}

/*
 * A Message-ID with a value on its first line, after at most one space:
 * any other counts as none, and such a message only costs a read of its
 * body.
 */
static int
is_message_id(const char *p, size_t avail)
{
	size_t k = 11;

	if (!header_is(p, avail, "Message-ID:"))
		return 0;
	k += avail > k && p[k] == ' ';
	return avail > k && (unsigned char)p[k] > ' ';
}

/*
 * Digest the From_ line and the headers, up to the empty line; without a
 * Message-ID (or an X-UIDL, which is the UID), on to the end.  The CR of
 * each CR LF is left out; a CR that ends what one read brought waits for
 * the next, which starts with it.
 */
static int
digest_message(struct mbox *m, struct msg *msg)
{
	off_t at = msg->from, end = msg->from + msg->from_len + msg->size;
	int bol = 1, body = 0, skip = 0, has_id = 0;
	unsigned char digest[UID_BYTES];
	const char *p, *nl;
	struct md5 ctx;
	size_t avail, n;

	md5_init(&ctx);
	while (at < end) {
		/*
		 * At a line start, enough to tell the header's name.  The
		 * From_ line goes through the header's tests too: "From " is
		 * neither empty nor any name they look for.
		 */
		if ((p = mbox_peek(m, at, bol ? HEADER_LOOK : 2, &avail)) ==
		    NULL)
			return -1;
		if (avail == 0)
			break;
		if ((off_t)avail > end - at)
			avail = (size_t)(end - at);
		if (bol && !body) {
			if (p[0] == '\n' || (avail >= 2 && p[0] == '\r' &&
			    p[1] == '\n')) {
				if (has_id || msg->flags & MSG_XUIDL)
					break;
				body = 1;
				skip = 0;
			} else if (p[0] != ' ' && p[0] != '\t') {
				skip = is_volatile(p, avail);
				if (header_is(p, avail, "X-UIDL:"))
					note_xuidl(msg, at, p, avail);
				has_id |= is_message_id(p, avail);
			}
		}
		nl = memchr(p, '\n', avail);
		n = nl ? (size_t)(nl - p) + 1 : avail;
		/* a lone CR (a file cut short) goes, or nothing would */
		if (nl == NULL && n > 1 && p[n - 1] == '\r' &&
		    at + (off_t)n < end)
			n--;
		if (!skip && nl && n >= 2 && p[n - 2] == '\r') {
			md5_update(&ctx, p, n - 2);
			md5_update(&ctx, "\n", 1);
		} else if (!skip)
			md5_update(&ctx, p, n);
		at += (off_t)n;
		bol = nl != NULL;
	}
	final_uid(&ctx, digest);
	if (!(msg->flags & MSG_XUIDL))
		memcpy(msg->uid, digest, UID_BYTES);
	return 0;
}

/* qsort(3) has no context argument; the session is single-threaded. */
static const struct msg *sort_msgs;

static int
copy_cmp(const void *a, const void *b)
{
	uint32_t i = ((const struct copy *)a)->i, j = ((const struct copy *)b)->i;

	return (i > j) - (i < j);
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int c = memcmp(sort_msgs[i].uid, sort_msgs[j].uid, UID_BYTES);

	return c != 0 ? c : (i > j) - (i < j);
}

/*
 * UIDs must be unique.  Equal digests come from copies of one message:
 * the same header with the same Message-ID, the same bytes (up to line
 * ends and rewritten headers) without one, or a repeated X-UIDL.  The k-th
 * copy in file order gets the digest of (uid, k), which stays put as long
 * as the earlier copies do; a client that has one copy has them all.
 * The message keeps its own digest (the index stores it, and copies are
 * counted again when mail arrives); the copies' UIDs go to m->copies.
 */
static int
make_unique(struct mbox *m)
{
	unsigned char first[UID_BYTES], kb[4];
	uint32_t *order, k = 0, ncopies = 0;
	struct md5 ctx;
	size_t i;

	free(m->copies);
	m->copies = NULL;
	m->ncopies = 0;
	for (i = 0; i < m->count; i++)
		m->msgs[i].flags &= (uint8_t)~MSG_COPY;
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
	for (i = 1; i < m->count; i++)
		ncopies += memcmp(m->msgs[order[i]].uid,
		    m->msgs[order[i - 1]].uid, UID_BYTES) == 0;
	if (ncopies > 0 && (m->copies = calloc(ncopies,
	    sizeof(*m->copies))) == NULL) {
		free(order);
		return -1;
	}
	memcpy(first, m->msgs[order[0]].uid, UID_BYTES);
	for (i = 1; i < m->count; i++) {
		struct msg *o = &m->msgs[order[i]];
		struct copy *c;

		if (memcmp(o->uid, first, UID_BYTES) != 0) {
			memcpy(first, o->uid, UID_BYTES);
			k = 0;
			continue;
		}
		if (m->copies == NULL)	/* counted above: not reached */
			break;
		k++;
		/* little-endian on every host: UIDs must not follow the CPU */
		kb[0] = (unsigned char)k;
		kb[1] = (unsigned char)(k >> 8);
		kb[2] = (unsigned char)(k >> 16);
		kb[3] = (unsigned char)(k >> 24);
		c = &m->copies[m->ncopies++];
		c->i = order[i];
		md5_init(&ctx);
		md5_update(&ctx, first, UID_BYTES);
		md5_update(&ctx, kb, sizeof(kb));
		final_uid(&ctx, c->uid);
		o->flags |= MSG_COPY;
	}
	free(order);
	/* in file order, for the lookup below */
	if (m->ncopies > 1)
		qsort(m->copies, m->ncopies, sizeof(*m->copies), copy_cmp);
	return 0;
}

/*
 * Digests for the messages that have none yet (after an index, only the
 * mail appended since), then the copies among all of them.
 */
static int
make_uids(struct mbox *m)
{
	for (size_t i = 0; i < m->count; i++)
		if (!(m->msgs[i].flags & MSG_UID)) {
			if (digest_message(m, &m->msgs[i]) == -1)
				return -1;
			m->msgs[i].flags |= MSG_UID;
			m->index_dirty = 1;
		}
	if (make_unique(m) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "UIDs");
	m->uids_ready = 1;
	return 0;
}

static const unsigned char *
copy_uid(const struct mbox *m, size_t i)
{
	size_t lo = 0, hi = m->ncopies;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->copies[mid].i == i)
			return m->copies[mid].uid;
		if (m->copies[mid].i < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return m->msgs[i].uid;		/* not reached: flagged copies are in */
}

/* Message i's UID as text: 0, or -1 if the headers could not be read. */
int
mbox_uid(struct mbox *m, size_t i, char uid[UID_MAX + 1])
{
	const struct msg *msg = &m->msgs[i];
	const unsigned char *d = msg->uid;
	const char *p;
	size_t avail;

	if (!m->uids_ready && make_uids(m) == -1)
		return -1;
	if (msg->flags & MSG_COPY)
		d = copy_uid(m, i);
	else if (msg->flags & MSG_XUIDL) {
		/*
		 * The value is read again from the file: it must be the one
		 * whose digest was taken, or the UID would change silently.
		 */
		p = mbox_peek(m, msg->from + msg->xuidl_off, msg->xuidl_len,
		    &avail);
		if (p == NULL)
			return -1;
		if (avail < msg->xuidl_len ||
		    !same_xuidl(msg, p, msg->xuidl_len))
			return fault_set(&m->fault, FAULT_TEMP, "the mailbox "
			    "was changed by another program during the "
			    "session; log in again");
		memcpy(uid, p, msg->xuidl_len);
		uid[msg->xuidl_len] = '\0';
		return 0;
	}
	for (int k = 0; k < UID_BYTES; k++) {
		uid[2 * k] = "0123456789abcdef"[d[k] >> 4];
		uid[2 * k + 1] = "0123456789abcdef"[d[k] & 15];
	}
	uid[2 * UID_BYTES] = '\0';
	return 0;
}
