/*
 * Opening a mailbox for a session, and reading its messages.  The file is
 * locked only while it is scanned (and later while it is updated), so
 * delivery goes on during the session; the session lock keeps a second
 * POP3 session away meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "mbox.h"
#include "update.h"

void
mbox_init(struct mbox *m)
{
	memset(m, 0, sizeof(*m));
	spool_init(&m->spool, NULL);
}

static int
open_file(struct mbox *m)
{
	struct spool *sp = &m->spool;
	struct stat st;
	int flags;

	sp->fd = open(sp->path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (sp->fd == -1) {
		switch (errno) {
		case ENOENT:
			return 0;		/* nothing delivered yet */
		case ELOOP:
			return fault_set(&m->fault, FAULT_PERM,
			    "mailbox is a symbolic link");
		case EISDIR:
		case EACCES:
		case EPERM:
		case EROFS:
		case ENOTDIR:
		case ENXIO:
			return fault_sys(&m->fault, FAULT_PERM, "open");
		default:
			return fault_sys(&m->fault, FAULT_TEMP, "open");
		}
	}
	if (fstat(sp->fd, &st) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "fstat");
	if (!S_ISREG(st.st_mode))
		return fault_set(&m->fault, FAULT_PERM,
		    "mailbox is not a regular file");
	/* O_NONBLOCK only kept open(2) from hanging on a FIFO */
	if ((flags = fcntl(sp->fd, F_GETFL)) == -1 ||
	    fcntl(sp->fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "fcntl");
	return 0;
}

static int
note_state(struct mbox *m)
{
	struct stat st;

	if (fstat(m->spool.fd, &st) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "fstat");
	m->scanned = st.st_size;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	m->mtime = st.st_mtim;
	m->ctime = st.st_ctim;
	return 0;
}

/*
 * With the mailbox locked: an update that a crash interrupted is finished
 * first, so the scan never sees a half-moved file.
 */
static int
recover_and_scan(struct mbox *m)
{
	struct update_box box = { &m->spool, 0, 0, &m->fault };
	struct stat st;

	if (fstat(m->spool.fd, &st) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "fstat");
	box.dev = (uint64_t)st.st_dev;
	box.ino = (uint64_t)st.st_ino;
	if (update_recover(&box) == -1 || note_state(m) == -1)
		return -1;
	return mbox_scan(m);
}

int
mbox_open(struct mbox *m, const char *path)
{
	int r;

	mbox_init(m);
	m->spool.path = path;
	if ((m->buf = malloc(MBOX_BUF_SIZE)) == NULL)
		return fault_sys(&m->fault, FAULT_TEMP, "malloc");
	if (open_file(m) == -1)
		return -1;
	if (m->spool.fd == -1)
		return 0;
	if (spool_session_lock(&m->spool, &m->fault) == -1 ||
	    spool_lock(&m->spool, &m->fault) == -1)
		return -1;
	r = recover_and_scan(m);
	spool_unlock(&m->spool);
	return r;
}

void
mbox_close(struct mbox *m)
{
	spool_release(&m->spool);
	if (m->spool.fd != -1)
		close(m->spool.fd);
	m->spool.fd = -1;
	free(m->msgs);
	free(m->buf);
	m->msgs = NULL;
	m->buf = NULL;
	m->count = 0;
}

/* Messages not deleted, and the octets RETR would send of them. */
void
mbox_totals(const struct mbox *m, size_t *n, uint64_t *octets)
{
	*n = 0;
	*octets = 0;
	for (size_t i = 0; i < m->count; i++)
		if (!(m->msgs[i].flags & MSG_DELETED)) {
			(*n)++;
			*octets += (uint64_t)m->msgs[i].octets;
		}
}

/* Where message i's content lies: after its From_ line, as stored. */
void
mbox_span(const struct mbox *m, size_t i, off_t *start, off_t *end)
{
	const struct msg *msg = &m->msgs[i];

	*start = msg->from + msg->from_len;
	*end = *start + msg->size;
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
		n = fileio_read(m->spool.fd, m->buf, MBOX_BUF_SIZE, at);
		if (n == -1) {
			fault_sys(&m->fault, FAULT_TEMP, "read");
			return NULL;
		}
		m->buf_len = (size_t)n;
		have = (off_t)m->buf_len;
	}
	*avail = (size_t)have;
	return m->buf + (at - m->buf_off);
}
