/*
 * UPDATE: apply the session's deletions to the mailbox in place.
 *
 * The file is rewritten where it is, not renamed over: a delivery agent may
 * hold it open.  Kept data after the first deleted message moves towards
 * the start, one block at a time, and the file is cut to its new length.
 * Deleting only trailing messages, or all of them, is a single truncate.
 *
 * Crash safety comes from a redo journal in MBOX.pop3d, the file whose lock
 * marks the session:
 *
 *   plan    at offset 0: the moves, the old size (end) and the new (final),
 *           checksummed and on disk before the mailbox is touched;
 *   slots   two records written alternately, each before the block it
 *           names is written to the mailbox.  A record carries the block's
 *           data when writing it would overwrite its own source, or when
 *           its source starts at the new end, where the marker below goes;
 *           otherwise the source is still intact and is read again on redo.
 *
 * Recovery takes the newer valid slot, writes its block again (idempotent)
 * and goes on from there, so every crash point ends in the planned result.
 * Before the final truncate a NUL is written at the new end and a MARKED
 * record says so: after a crash, a NUL there means the cut has not
 * happened, while mail appended since (starting "From ") means it has.
 * Mail appended after a crash, behind the leftover bytes, is moved down
 * in the same way (a TAIL record) before the cut, so it is never lost.
 *
 * What this covers is the process dying at any instant (kill -9, a crash):
 * the page cache keeps our writes in order.  The result and the emptied
 * journal are synced before +OK, so a power cut afterwards loses nothing;
 * one during the update itself is not covered, as syncing every block
 * would cost a disk flush per 128 KB.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "md5.h"
#include "mbox.h"
#include "pop3d.h"
#include "journal.h"
#include "update.h"

int
update_fail(struct mbox *m, const char *what)
{
	snprintf(m->reason, sizeof(m->reason), "update: %s: %s", what,
	    strerror(errno));
	return -1;
}

int
update_write(int fd, const void *p, size_t n, off_t at)
{
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, p, n, at);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
		at += w;
	}
	return 0;
}

/* Do the bytes before `at` end an empty line (or is it the start)? */
int
update_after_empty_line(struct mbox *m, off_t at)
{
	char b[3] = { 0, 0, 0 };
	off_t from = at >= 3 ? at - 3 : 0;

	if (at == 0)
		return 1;
	if (at < 2 || mbox_read(m->fd, b + 3 - (at - from), (size_t)(at - from),
	    from) == -1)
		return 0;
	return (b[1] == '\n' && b[2] == '\n') || memcmp(b, "\n\r\n", 3) == 0;
}

/*
 * Does a message start at `at`, as the scan sees it: "From " after an
 * empty line, or at the start of the file?
 */
int
update_message_starts(struct mbox *m, off_t at)
{
	char b[5];

	return mbox_read(m->fd, b, 5, at) == 0 && memcmp(b, "From ", 5) == 0 &&
	    update_after_empty_line(m, at);
}

/*
 * Mail appended at `at`: how many line-end bytes come before its first
 * "From " line, or -1 if it does not start with a message.  A delivery
 * agent that finds the file not ending in an empty line writes one (or
 * finishes the last line) first.
 */
int
update_separator_len(struct mbox *m, off_t at, off_t size)
{
	char b[4];
	int k;

	for (k = 0; k <= 4 && at + k + 5 <= size; k++) {
		if (update_message_starts(m, at + k))
			return k;
		if (mbox_read(m->fd, b, 1, at + k) == -1 ||
		    (b[0] != '\n' && b[0] != '\r'))
			break;
	}
	return -1;
}

/*
 * Is the mailbox still what we scanned, give or take mail appended since?
 * The boundaries around every deleted message and the old end must still
 * be where the index says; kept data between them moves as it now is.
 * *tail gets where appended mail starts (its first "From " line).
 */
static int
unchanged(struct mbox *m, const struct stat *st, off_t *tail)
{
	size_t i;
	int k;

	*tail = m->scanned;
	if (st->st_size < m->scanned)
		return 0;
	if (st->st_size == m->scanned &&
	    st->st_mtim.tv_sec == m->mtime.tv_sec &&
	    st->st_mtim.tv_nsec == m->mtime.tv_nsec &&
	    st->st_ctim.tv_sec == m->ctime.tv_sec &&
	    st->st_ctim.tv_nsec == m->ctime.tv_nsec)
		return 1;
	for (i = 0; i < m->count; i++) {
		if (!(m->msgs[i].flags & MSG_DELETED))
			continue;
		if (!update_message_starts(m, m->msgs[i].from))
			return 0;
		if (i + 1 < m->count && !update_message_starts(m, m->msgs[i + 1].from))
			return 0;
	}
	if (st->st_size > m->scanned) {
		/* appended mail starts with a message of its own */
		if ((k = update_separator_len(m, m->scanned, st->st_size)) < 0)
			return 0;
		*tail = m->scanned + k;
	}
	return 1;
}

/*
 * Kept regions after the first deleted one, as moves; returns the final
 * size.  Mail appended since the scan is kept region number count; if
 * the last message goes, it starts at its From_ line (tail), dropping
 * the line ends its delivery agent wrote to end that message.
 */
static uint64_t
make_moves(struct mbox *m, uint64_t size, off_t tail, struct move *mv,
    uint64_t *n)
{
	uint64_t dst = 0, start, end;
	int moving = 0;

	*n = 0;
	for (size_t i = 0; i <= m->count; i++) {
		if (i < m->count)
			start = (uint64_t)m->msgs[i].from;
		else
			start = (uint64_t)(moving && m->count > 0 &&
			    m->msgs[m->count - 1].flags & MSG_DELETED ?
			    tail : m->scanned);
		end = i + 1 < m->count ? (uint64_t)m->msgs[i + 1].from :
		    i < m->count ? (uint64_t)m->scanned : size;
		if (i < m->count && m->msgs[i].flags & MSG_DELETED) {
			moving = 1;
			continue;
		}
		if (end <= start)
			continue;
		if (!moving)
			dst = end;
		else if (*n > 0 && mv[*n - 1].src + mv[*n - 1].len == start)
			mv[*n - 1].len += end - start;
		else {
			mv[*n].src = start;
			mv[*n].dst = dst;
			mv[*n].len = end - start;
			(*n)++;
		}
		if (moving)
			dst += end - start;
	}
	return dst;
}

static int
apply(struct mbox *m, const struct stat *st, off_t tail)
{
	struct journal j;
	uint64_t size = (uint64_t)st->st_size, n, first = 0;
	size_t i;
	int r;

	for (i = 0; i < m->count; i++)
		if (m->msgs[i].flags & MSG_DELETED) {
			first = (uint64_t)m->msgs[i].from;
			break;
		}
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.fd = m->session_fd;
	if ((j.moves = calloc(m->count + 2, sizeof(*j.moves))) == NULL)
		return update_fail(m, "malloc");
	j.plan.final = make_moves(m, size, tail, j.moves, &n);
	j.plan.nmoves = n;
	if (n == 0) {
		/* only trailing messages go: one truncate, nothing to redo */
		free(j.moves);
		if (ftruncate(m->fd, (off_t)first) == -1)
			return update_fail(m, "truncate");
		if (fdatasync(m->fd) == -1)
			return update_fail(m, "fsync");
		return 0;
	}
	if (j.fd == -1) {
		free(j.moves);
		errno = EACCES;
		return update_fail(m, "no journal (see the log)");
	}
	j.plan.dev = (uint64_t)m->dev;
	j.plan.ino = (uint64_t)m->ino;
	j.plan.end = size;
	if (journal_write_plan(&j) == -1) {
		update_fail(m, "journal");
		if (ftruncate(j.fd, 0) == -1)
			log_msg(LOG_ERR, "%s: %s", m->session_path,
			    strerror(errno));
		free(j.moves);
		return -1;
	}
	r = journal_run(&j, 0, 0);
	if (r == -1 && !j.sync_failed) {
		/*
		 * A failed write: the journal can finish the update, so try
		 * once more now rather than leave the mailbox half moved
		 * until the next session.  A failed fsync is not retried: a
		 * second one may succeed having lost the data (the error is
		 * reported once), and +OK would then be a lie.
		 */
		log_msg(LOG_ERR, "%s: %s; retrying from the journal", m->path,
		    m->reason);
		j.seq = 0;
		if ((r = journal_resume(&j)) == 0 && j.abandoned) {
			snprintf(m->reason, sizeof(m->reason), "update: "
			    "mailbox changed under the lock; stopped");
			r = -1;
		} else if (r == 0)
			log_msg(LOG_NOTICE, "%s: update finished from the "
			    "journal", m->path);
	}
	if (r == -1 && !j.touched && ftruncate(j.fd, 0) == 0) {
		/* nothing was written to the mailbox: drop the plan too */
		log_msg(LOG_ERR, "%s: %s; nothing deleted", m->path,
		    m->reason);
		strncat(m->reason, "; nothing deleted", sizeof(m->reason) -
		    strlen(m->reason) - 1);
	} else if (r == -1)
		log_msg(LOG_ERR, "%s: %s; the next session finishes the update",
		    m->path, m->reason);
	free(j.moves);
	return r;
}

int
mbox_update(struct mbox *m)
{
	struct stat st, path_st;
	off_t tail;
	size_t i;
	int r;

	m->buf_len = 0;		/* the buffer is ours now, not a cache */
	for (i = 0; i < m->count; i++)
		if (m->msgs[i].flags & MSG_DELETED)
			break;
	if (i == m->count)
		return MBOX_OK;
	if ((r = mbox_lock(m)) != MBOX_OK)
		return r;
	if (fstat(m->fd, &st) == -1) {
		update_fail(m, "fstat");
		r = MBOX_TEMP;
	} else if (stat(m->path, &path_st) == -1 ||
	    path_st.st_ino != st.st_ino || path_st.st_dev != st.st_dev) {
		snprintf(m->reason, sizeof(m->reason),
		    "mailbox was replaced during the session; nothing deleted");
		r = MBOX_TEMP;
	} else if (!unchanged(m, &st, &tail)) {
		snprintf(m->reason, sizeof(m->reason),
		    "mailbox was changed during the session; nothing deleted");
		r = MBOX_TEMP;
	} else
		r = apply(m, &st, tail) == 0 ? MBOX_OK : MBOX_TEMP;
	mbox_unlock(m);
	return r;
}
