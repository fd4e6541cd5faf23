/*
 * Opening a mailbox for a session, and reading its messages.  The file is
 * locked only while it is scanned (and later while it is updated), so
 * delivery goes on during the session; the session lock keeps a second
 * POP3 session away meanwhile.
 *
 * Other programs may still change the file: a delivery appends, a mail
 * reader on the server rewrites it.  Whatever is read after the scan is
 * read only once fstat(2) says the file is as scanned, or once the
 * message's fingerprint, read again, shows it is still where it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boundary.h"
#include "fileio.h"
#include "mbox.h"
#include "update.h"

void
mbox_init(struct mbox *m)
{
	memset(m, 0, sizeof(*m));
	spool_init(&m->spool, NULL);
	m->index_fd = -1;
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

/* The file as it is now: what a scan or an index is about. */
static int
note_state(struct mbox *m, struct stat *st)
{
	if (fstat(m->spool.fd, st) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "fstat");
	m->scanned = m->size = st->st_size;
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->mtime = st->st_mtim;
	m->ctime = st->st_ctim;
	m->stat_time = time(NULL);
	return 0;
}

/* Does MBOX.pop3d hold an update to finish? */
static int
journal_pending(struct mbox *m)
{
	struct stat st;

	return m->spool.session_fd != -1 &&
	    (fstat(m->spool.session_fd, &st) == -1 || st.st_size > 0);
}

/*
 * The index says the file is what it was, but for mail appended since:
 * every message it knows must still be where it was.  Then only the last
 * of them (which a delivery may have ended) and the new mail are scanned.
 */
static int
scan_grown(struct mbox *m, off_t size)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		if (!mbox_intact(m, i))
			break;
	if (i < m->count)
		m->index_use = INDEX_NONE;	/* a full scan after all */
	m->scanned = size;
	m->uids_ready = 0;
	return mbox_scan(m, i == m->count ? m->count - 1 : 0);
}

/*
 * With the mailbox locked: an update that a crash interrupted is finished
 * first, so the scan never sees a half-moved file.  Then the index, as
 * far as it holds, or a scan.
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
	if (update_recover(&box) == -1 || note_state(m, &st) == -1 ||
	    mbox_index_load(m, &st, 0) == -1)
		return -1;
	if (m->index_use == INDEX_WHOLE)
		return 0;
	m->index_dirty = 1;
	if (m->index_use == INDEX_GROWN)
		return scan_grown(m, st.st_size);
	m->uids_ready = 0;
	return mbox_scan(m, 0);
}

/*
 * Open the mailbox at path for a session, its index under index_dir (NULL:
 * beside it).  An unchanged mailbox with a whole index is not even locked:
 * nothing is read but the index.
 */
int
mbox_open(struct mbox *m, const char *path, const char *index_dir)
{
	struct stat st;
	int r;

	mbox_init(m);
	m->spool.path = path;
	if ((m->buf = malloc(MBOX_BUF_SIZE)) == NULL)
		return fault_sys(&m->fault, FAULT_TEMP, "malloc");
	if (open_file(m) == -1)
		return -1;
	if (m->spool.fd == -1)
		return 0;
	if (spool_session_lock(&m->spool, &m->fault) == -1)
		return -1;
	mbox_index_prepare(m, index_dir);
	if (!journal_pending(m)) {
		if (note_state(m, &st) == -1 ||
		    mbox_index_load(m, &st, 1) == -1)
			return -1;
		if (m->index_use == INDEX_WHOLE) {
			spool_clear_stale(&m->spool);
			return 0;
		}
	}
	if (spool_lock(&m->spool, &m->fault) == -1)
		return -1;
	r = recover_and_scan(m);
	if (r == 0)
		mbox_index_settle(m);
	spool_unlock(&m->spool);
	return r;
}

/*
 * Where the session still makes and removes names once it is confined
 * (sandbox.c): the mailbox's directory, when it holds our session file
 * (the dotlock, the session file), and the index's, when one is to be
 * written (its rename).  dirs[0..1] get PATH_MAX bytes each; how many
 * were filled.
 */
size_t
mbox_name_dirs(const struct mbox *m, char dirs[][PATH_MAX])
{
	size_t n = 0;

	if (m->spool.session_fd != -1 &&
	    spool_dir_name(m->spool.path, dirs[n], PATH_MAX) == 0)
		n++;
	if (m->index_fd != -1 &&
	    spool_dir_name(m->index_path, dirs[n], PATH_MAX) == 0 &&
	    (n == 0 || strcmp(dirs[0], dirs[n]) != 0))
		n++;
	return n;
}

/* The session ends: what it learned goes to the index, the locks go. */
void
mbox_close(struct mbox *m)
{
	mbox_index_save(m);
	mbox_index_release(m);
	spool_release(&m->spool);
	if (m->spool.fd != -1)
		close(m->spool.fd);
	m->spool.fd = -1;
	free(m->msgs);
	free(m->copies);
	free(m->buf);
	m->msgs = NULL;
	m->copies = NULL;
	m->buf = NULL;
	m->count = 0;
	m->ncopies = 0;
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

/*
 * Has the file changed since the scan: another size, mtime or ctime, or
 * (if path) another inode at the path?  0: no; 1: yes (the read cache,
 * which may hold old bytes, is dropped); -1: fstat failed.
 */
static int
changed(struct mbox *m, int path)
{
	struct stat st, path_st;

	if (m->spool.fd == -1)
		return 0;
	if (fstat(m->spool.fd, &st) == -1)
		return fault_sys(&m->fault, FAULT_TEMP, "fstat");
	if (st.st_size == m->size && st.st_ino == m->ino &&
	    st.st_dev == m->dev &&
	    st.st_mtim.tv_sec == m->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == m->mtime.tv_nsec &&
	    st.st_ctim.tv_sec == m->ctime.tv_sec &&
	    st.st_ctim.tv_nsec == m->ctime.tv_nsec && (!path ||
	    (stat(m->spool.path, &path_st) == 0 &&
	    path_st.st_ino == st.st_ino && path_st.st_dev == st.st_dev)))
		return 0;
	m->buf_len = 0;
	return 1;
}

/*
 * Is message i still where the scan saw it: a "From " line after an empty
 * line at its offset, with the same fingerprint?  Read from the file, not
 * from the cache.
 */
int
mbox_intact(struct mbox *m, size_t i)
{
	const struct msg *msg = &m->msgs[i];
	off_t left = msg->from_len + msg->size;
	char b[3 + FP_WINDOW], *p = b + 3;
	size_t n = left < FP_WINDOW ? (size_t)left : FP_WINDOW;
	size_t before = msg->from < 3 ? (size_t)msg->from : 3;

	/* one read: the empty line before it, and the fingerprint's window */
	if (fileio_read_all(m->spool.fd, p - before, before + n,
	    msg->from - (off_t)before) == -1 || mbox_fingerprint(p, n) != msg->fp)
		return 0;
	return boundary_empty_before(p, before, msg->from);
}

/*
 * Could the bytes p[0..n), appended after the scanned part, be the start
 * of a delivery still being written: line ends, then "From "?
 */
static int
delivery_begins(const char *p, size_t n)
{
	size_t k = 0;

	while (k < n && k < 4 && (p[k] == '\n' || p[k] == '\r'))
		k++;
	return n - k < 5 ? memcmp(p + k, "From ", n - k) == 0 :
	    memcmp(p + k, "From ", 5) == 0;
}

/*
 * The end of the scanned part: the size is the same, or what follows is
 * mail appended since (a "From " line after the line ends a delivery
 * agent adds).  Without the locks (locked == 0) a delivery may be half
 * written: its first bytes are enough.  *tail, unless NULL, gets where
 * that mail starts.
 */
static int
end_intact(struct mbox *m, int locked, off_t *tail)
{
	struct stat st;
	char b[9];
	ssize_t n;
	int k;

	if (tail != NULL)
		*tail = m->scanned;
	if (fstat(m->spool.fd, &st) == -1 || st.st_size < m->scanned)
		return 0;
	if (st.st_size == m->scanned)
		return 1;
	if (!locked) {
		n = fileio_read(m->spool.fd, b, sizeof(b), m->scanned);
		return n > 0 && delivery_begins(b, (size_t)n);
	}
	if ((k = boundary_separator_len(m->spool.fd, m->scanned,
	    st.st_size)) < 0)
		return 0;
	if (tail != NULL)
		*tail = m->scanned + k;
	return 1;
}

/* The path names another file now (a mail reader renamed one over it). */
static int
replaced(struct mbox *m)
{
	struct stat st;

	return stat(m->spool.path, &st) == -1 || st.st_ino != m->ino ||
	    st.st_dev != m->dev;
}

static int
changed_behind_us(struct mbox *m)
{
	if (replaced(m))
		return fault_set(&m->fault, FAULT_TEMP, "the mailbox was "
		    "replaced by another program during the session; log in "
		    "again");
	return fault_set(&m->fault, FAULT_TEMP, "the mailbox was changed by "
	    "another program during the session; log in again");
}

/*
 * Before reading message i (RETR, TOP, UIDL), and again once it is read
 * (sent == 1: then a file renamed over the mailbox meanwhile does not
 * matter, the bytes came from the one we have): is it the message the
 * scan listed?  An unchanged file, or one where only mail was appended,
 * says yes.  0, or -1 with m->fault.
 */
int
mbox_check(struct mbox *m, size_t i, int sent)
{
	int r;

	if ((r = changed(m, !sent)) <= 0)
		return r;
	if (replaced(m) || !mbox_intact(m, i))
		return changed_behind_us(m);
	if (i + 1 < m->count ? !mbox_intact(m, i + 1) :
	    !end_intact(m, 0, NULL))
		return changed_behind_us(m);
	return 0;
}

/* Before UIDL lists them all: every message not deleted. */
int
mbox_check_all(struct mbox *m)
{
	int r;

	if ((r = changed(m, 1)) <= 0)
		return r;
	if (replaced(m))
		return changed_behind_us(m);
	for (size_t i = 0; i < m->count; i++)
		if (!(m->msgs[i].flags & MSG_DELETED) && !mbox_intact(m, i))
			return changed_behind_us(m);
	if (!end_intact(m, 0, NULL))
		return changed_behind_us(m);
	return 0;
}

/*
 * At QUIT, with the mailbox locked: every message from `first` on is still
 * where the scan saw it, and the rest of the file is mail appended since,
 * starting at *tail.  0, or -1 with m->fault.
 */
int
mbox_verify_tail(struct mbox *m, size_t first, off_t *tail)
{
	int r;

	*tail = m->scanned;
	if ((r = changed(m, 1)) <= 0)
		return r;
	if (replaced(m))
		return changed_behind_us(m);
	for (size_t i = first; i < m->count; i++)
		if (!mbox_intact(m, i))
			return changed_behind_us(m);
	if (!end_intact(m, 1, tail))
		return changed_behind_us(m);
	return 0;
}
