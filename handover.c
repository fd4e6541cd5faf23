/*
 * Hand-over records between the pre-login child and the monitor.
 *
 *	record	= length:2 type:1 count:1 field*	(big-endian lengths)
 *	field	= length:2 byte*
 *
 * length counts what follows it.  Each type has a fixed count of fields,
 * each field a kind that bounds its length and says whether it may hold
 * a NUL (only bytes to or from the client may) or must be printable.  A
 * record that breaks any rule, or leaves a byte over, is refused whole:
 * the monitor never guesses what a hostile child meant.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "handover.h"
#include "io.h"

enum kind { K_USER, K_SECRET, K_STAMP, K_OUT, K_BYTES, K_WORD, K_TEXT };

static const size_t kind_max[] = {
	[K_USER] = USER_NAME_MAX + 1,	/* longer names are invalid anyway */
	[K_SECRET] = SASL_LINE_MAX,
	[K_STAMP] = AUTH_STAMP_MAX - 1,
	[K_OUT] = HANDOVER_OUT,
	[K_BYTES] = IN_BUF_SIZE,
	[K_WORD] = 16,
	[K_TEXT] = 256,
};

static const struct schema {
	unsigned char	type;
	unsigned char	nfields;
	unsigned char	kind[HANDOVER_FIELDS];
} schemas[] = {
	{ HO_PASS,	4, { K_USER, K_SECRET, K_OUT, K_BYTES } },
	{ HO_APOP,	5, { K_USER, K_SECRET, K_STAMP, K_OUT, K_BYTES } },
	{ HO_PLAIN,	5, { K_SECRET, K_USER, K_SECRET, K_OUT, K_BYTES } },
	{ HO_CRAM,	5, { K_USER, K_SECRET, K_STAMP, K_OUT, K_BYTES } },
	{ HO_CHALLENGE,	0, { 0 } },
	{ HO_END,	2, { K_WORD, K_USER } },
	{ HO_FATAL,	1, { K_TEXT } },
	{ HO_STLS,	1, { K_OUT } },
	{ HO_PROXY,	2, { K_WORD, K_TEXT } },
	{ HO_GO,	1, { K_STAMP } },
	{ HO_ISSUED,	1, { K_STAMP } },
	{ HO_FAILED,	0, { 0 } },
	{ HO_REFUSED,	0, { 0 } },
	{ HO_EXIT,	0, { 0 } },
};
#define NSCHEMAS	(sizeof(schemas) / sizeof(schemas[0]))

static const struct schema *
schema_of(int type)
{
	for (size_t i = 0; i < NSCHEMAS; i++)
		if (schemas[i].type == type)
			return &schemas[i];
	return NULL;
}

static int
field_ok(enum kind k, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n && k != K_BYTES && k != K_OUT; i++) {
		if (p[i] == '\0')
			return 0;
		if ((k == K_STAMP || k == K_WORD) &&
		    (p[i] < 0x21 || p[i] > 0x7e))
			return 0;
	}
	return 1;
}

/*
 * Encode a record into buf.  The length of the record, or 0 when it does
 * not fit or breaks its schema (a bug on our side, never sent).
 */
size_t
handover_encode(unsigned char *buf, size_t size, int type, int n,
    const struct ho_field *f)
{
	const struct schema *s = schema_of(type);
	size_t at = 4;

	if (s == NULL || s->nfields != n || size < at)
		return 0;
	buf[2] = (unsigned char)type;
	buf[3] = (unsigned char)n;
	for (int i = 0; i < n; i++) {
		if (f[i].len > kind_max[s->kind[i]] ||
		    !field_ok(s->kind[i], f[i].p, f[i].len) ||
		    size - at < 2 + f[i].len)
			return 0;
		buf[at++] = (unsigned char)(f[i].len >> 8);
		buf[at++] = (unsigned char)f[i].len;
		if (f[i].len > 0)
			memcpy(buf + at, f[i].p, f[i].len);
		at += f[i].len;
	}
	if (at - 2 > HANDOVER_MAX)
		return 0;
	buf[0] = (unsigned char)((at - 2) >> 8);
	buf[1] = (unsigned char)(at - 2);
	return at;
}

/*
 * Parse the whole record in buf[0..n).  0 with r filled (text fields
 * NUL-terminated), or -1 with *why saying what was wrong.
 */
int
handover_parse(const unsigned char *buf, size_t n, struct ho_record *r,
    const char **why)
{
	const struct schema *s;
	size_t at = 4, len, used = 0;

	r->nfields = 0;
	r->used = 0;
	if (n < 4 || n > HANDOVER_MAX + 2) {
		*why = "record size out of bounds";
		return -1;
	}
	if (((size_t)buf[0] << 8 | buf[1]) != n - 2) {
		*why = "record length does not match";
		return -1;
	}
	if ((s = schema_of(buf[2])) == NULL) {
		*why = "unknown record type";
		return -1;
	}
	if (buf[3] != s->nfields) {
		*why = "wrong number of fields";
		return -1;
	}
	r->type = s->type;
	for (int i = 0; i < s->nfields; i++) {
		if (n - at < 2) {
			*why = "record ends inside a field length";
			return -1;
		}
		len = (size_t)buf[at] << 8 | buf[at + 1];
		at += 2;
		if (len > n - at) {
			*why = "field longer than the record";
			return -1;
		}
		if (len > kind_max[s->kind[i]]) {
			*why = "field too long";
			return -1;
		}
		if (!field_ok(s->kind[i], buf + at, len)) {
			*why = "field holds a byte it may not";
			return -1;
		}
		memcpy(r->text + used, buf + at, len);
		r->text[used + len] = '\0';
		r->field[i] = r->text + used;
		r->len[i] = len;
		used += len + 1;
		r->used = used;
		at += len;
	}
	if (at != n) {
		*why = "bytes left after the last field";
		return -1;
	}
	r->nfields = s->nfields;
	return 0;
}

/* Secrets do not outlive their use. */
void
handover_wipe(struct ho_record *r)
{
	explicit_bzero(r->text, r->used);
	r->used = 0;
}

static int
chan_write(struct channel *ch, const unsigned char *p, size_t n)
{
	ssize_t w;

	if (ch->mate != NULL) {
		struct channel *m = ch->mate;

		if (m->inpos == m->inlen)
			m->inpos = m->inlen = 0;
		if (n > HANDOVER_INBOX - m->inlen)
			return -1;
		memcpy(m->inbox + m->inlen, p, n);
		m->inlen += n;
		if (m->handler != NULL)
			m->handler(m->arg);
		return 0;
	}
	while (n > 0) {
		if ((w = write(ch->fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* n bytes, waiting until until_ms (0: no limit).  -1: ended or late. */
static int
chan_read(struct channel *ch, unsigned char *p, size_t n, long long until_ms,
    const char **why)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	long long left;
	ssize_t r;

	if (ch->mate != NULL) {
		if (n > ch->inlen - ch->inpos) {
			*why = "the other side said nothing";
			return -1;
		}
		memcpy(p, ch->inbox + ch->inpos, n);
		ch->inpos += n;
		return 0;
	}
	while (n > 0) {
		if (until_ms != 0) {
			if ((left = until_ms - io_now_ms()) <= 0) {
				*why = "no record in time";
				return -1;
			}
			r = poll(&pfd, 1, (int)left);
			if (r == -1 && errno != EINTR) {
				*why = strerror(errno);
				return -1;
			}
			if (r <= 0)
				continue;
		}
		if ((r = read(ch->fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			return -1;
		}
		if (r == 0) {
			*why = HO_WHY_GONE;
			errno = 0;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
handover_send(struct channel *ch, int type, int n, const struct ho_field *f)
{
	unsigned char buf[HANDOVER_MAX + 2];
	size_t len = handover_encode(buf, sizeof(buf), type, n, f);
	int r;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	r = chan_write(ch, buf, len);
	explicit_bzero(buf, len);
	return r;
}

/*
 * The next whole record, by until_ms (0: no limit).  -1 with *why when
 * the channel ended, the time ran out, or the record is malformed.
 */
int
handover_recv(struct channel *ch, struct ho_record *r, long long until_ms,
    const char **why)
{
	unsigned char buf[HANDOVER_MAX + 2];
	size_t len;
	int ret = -1;

	r->used = 0;
	if (chan_read(ch, buf, 2, until_ms, why) == -1)
		return -1;
	len = (size_t)buf[0] << 8 | buf[1];
	if (len < 2 || len > HANDOVER_MAX)
		*why = "record size out of bounds";
	else {
		/* gcc -fanalyzer cannot tell that a short read fails */
		memset(buf + 2, 0, len);
		if (chan_read(ch, buf + 2, len, until_ms, why) == 0)
			ret = handover_parse(buf, len + 2, r, why);
	}
	/* only what was read: the rest was never touched */
	explicit_bzero(buf, len < 2 || len > HANDOVER_MAX ? 2 : len + 2);
	return ret;
}

#ifdef POP3D_TEST_HOOKS
/* Test builds: bytes as they are, as a child taken over would send them. */
int
handover_raw(struct channel *ch, const unsigned char *p, size_t n)
{
	return chan_write(ch, p, n);
}
#endif
