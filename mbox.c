/*
 * Opening a mailbox for a session, and streaming its messages out.  The
 * file is locked only while it is scanned (and later while it is updated),
 * so delivery goes on during the session; the session lock keeps a second
 * POP3 session away meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "md5.h"
#include "mbox.h"
#include "update.h"

static int
fail(struct mbox *m, int code, const char *what)
{
	snprintf(m->reason, sizeof(m->reason), "%s: %s", what,
	    strerror(errno));
	return code;
}

static int
open_file(struct mbox *m)
{
	struct stat st;
	int flags;

	m->fd = open(m->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (m->fd == -1) {
		switch (errno) {
		case ENOENT:
			return MBOX_OK;		/* nothing delivered yet */
		case ELOOP:
			snprintf(m->reason, sizeof(m->reason),
			    "mailbox is a symbolic link");
			return MBOX_PERM;
		case EISDIR:
		case EACCES:
		case EPERM:
		case EROFS:
		case ENOTDIR:
		case ENXIO:
			return fail(m, MBOX_PERM, "open");
		default:
			return fail(m, MBOX_TEMP, "open");
		}
	}
	if (fstat(m->fd, &st) == -1)
		return fail(m, MBOX_TEMP, "fstat");
	if (!S_ISREG(st.st_mode)) {
		snprintf(m->reason, sizeof(m->reason),
		    "mailbox is not a regular file");
		return MBOX_PERM;
	}
	/* O_NONBLOCK only kept open(2) from hanging on a FIFO */
	if ((flags = fcntl(m->fd, F_GETFL)) == -1 ||
	    fcntl(m->fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		return fail(m, MBOX_TEMP, "fcntl");
	return MBOX_OK;
}

static int
note_state(struct mbox *m)
{
	struct stat st;

	if (fstat(m->fd, &st) == -1)
		return -1;
	m->scanned = st.st_size;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->mtime = st.st_mtim;
	m->ctime = st.st_ctim;
	return 0;
}

int
mbox_open(struct mbox *m, const char *path)
{
	int r;

	memset(m, 0, sizeof(*m));
	m->path = path;
	m->fd = -1;
	m->session_fd = -1;
	if ((m->buf = malloc(MBOX_BUF_SIZE)) == NULL)
		return fail(m, MBOX_TEMP, "malloc");
	if ((r = open_file(m)) != MBOX_OK || m->fd == -1)
		return r;
	if ((r = mbox_session_lock(m)) != MBOX_OK)
		return r;
	if ((r = mbox_lock(m)) != MBOX_OK)
		return r;
	if ((r = update_recover(m)) == MBOX_OK) {
		if (note_state(m) == -1)
			r = fail(m, MBOX_TEMP, "fstat");
		else
			r = mbox_scan(m);
	}
	mbox_unlock(m);
	return r;
}

void
mbox_close(struct mbox *m)
{
	update_release(m);
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	free(m->msgs);
	free(m->buf);
	free(m->dotlock_path);
	m->msgs = NULL;
	m->buf = NULL;
	m->dotlock_path = NULL;
	m->count = 0;
}

/*
 * Copy message bytes into the output, CR LF at each line end and a dot
 * before a line that starts with one (RFC 1939 section 3).  For TOP, stop
 * after the headers, the empty line and `lines` body lines.
 */
struct sender {
	struct out	*o;
	int		bol;		/* at the beginning of a line */
	char		last;		/* last content byte sent */
	int		top;
	int		in_headers;
	size_t		linelen;
	uint64_t	lines_left;
	int		done;
};

static void
send_bytes(struct sender *s, const char *p, size_t n)
{
	const char *e = p + n, *nl;
	struct out *o = s->o;
	size_t room, len;
	char *d;

	while (p < e && !s->done) {
		if (sizeof(o->buf) - o->len < 4) {
			out_flush(o);
			if (o->failed)
				return;
		}
		d = o->buf + o->len;
		room = sizeof(o->buf) - o->len - 3;
		if (s->bol) {
			if (*p == '.')
				*d++ = '.';
			s->bol = 0;
			s->linelen = 0;
		}
		nl = memchr(p, '\n', (size_t)(e - p));
		len = (size_t)((nl ? nl : e) - p);
		if (len > room) {
			len = room;
			nl = NULL;
		}
		memcpy(d, p, len);
		d += len;
		p += len;
		s->linelen += len;
		if (len > 0)
			s->last = p[-1];
		if (nl) {
			if (s->last != '\r')
				*d++ = '\r';
			*d++ = '\n';
			p++;
			s->bol = 1;
			if (s->top) {
				int empty = s->linelen == 0 ||
				    (s->linelen == 1 && s->last == '\r');

				if (s->in_headers) {
					if (empty)
						s->in_headers = 0;
				} else
					s->lines_left--;
				if (!s->in_headers && s->lines_left == 0)
					s->done = 1;
			}
			s->last = '\n';
		}
		o->len = (size_t)(d - o->buf);
	}
}

/* All n bytes at offset at, or -1; a file shorter than that is ESTALE. */
int
mbox_read(int fd, void *p, size_t n, off_t at)
{
	ssize_t r;

	while (n > 0) {
		r = pread(fd, p, n, at);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			errno = ESTALE;
			return -1;
		}
		p = (char *)p + r;
		n -= (size_t)r;
		at += r;
	}
	return 0;
}

/*
 * Bytes of the mailbox at offset at: a pointer into the read buffer and how
 * many follow (*avail, at least need unless the file ends first; 0 at the
 * end).  One read serves many small messages in a row.
 */
const char *
mbox_peek(struct mbox *m, off_t at, size_t need, size_t *avail)
{
	off_t have = m->buf_off + (off_t)m->buf_len - at;
	ssize_t n;

	if (at < m->buf_off || have < (off_t)need || have <= 0) {
		m->buf_off = at;
		m->buf_len = 0;
		while (m->buf_len < need) {
			n = pread(m->fd, m->buf + m->buf_len,
			    MBOX_BUF_SIZE - m->buf_len, at + (off_t)m->buf_len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				snprintf(m->reason, sizeof(m->reason),
				    "read: %s", strerror(errno));
				return NULL;
			}
			if (n == 0)
				break;
			m->buf_len += (size_t)n;
		}
		have = (off_t)m->buf_len;
	}
	*avail = (size_t)have;
	return m->buf + (at - m->buf_off);
}

int
mbox_send(struct mbox *m, size_t i, int top, uint64_t lines, struct out *o)
{
	const struct msg *msg = &m->msgs[i];
	struct sender s = { .o = o, .bol = 1, .last = '\n', .top = top,
	    .in_headers = 1, .lines_left = lines };
	off_t at = msg->from + msg->from_len, end = at + msg->size;
	const char *p;
	size_t avail;

	while (at < end && !s.done && !o->failed) {
		if ((p = mbox_peek(m, at, 1, &avail)) == NULL)
			return -1;
		if (avail == 0) {	/* shorter than scanned: not ours */
			snprintf(m->reason, sizeof(m->reason),
			    "mailbox shrank during the session");
			return -1;
		}
		if ((off_t)avail > end - at)
			avail = (size_t)(end - at);
		send_bytes(&s, p, avail);
		at += (off_t)avail;
	}
	if (!s.bol)
		out_put(o, "\r\n", 2);
	out_put(o, ".\r\n", 3);
	return o->failed ? -1 : 0;
}
