/*
 * QUIT's deletions, as the mailbox sees them: is the file still the one
 * that was scanned, give or take mail delivered since?  Which kept bytes
 * must move where?  The update layer then makes the cut under its journal.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mbox.h"
#include "update.h"

/*
 * Kept regions after the first deleted one, as moves; returns the final
 * size.  Mail appended since the scan is kept region number count; if
 * the last message goes, it starts at its From_ line (tail), dropping
 * the line ends its delivery agent wrote to end that message.
 */
static uint64_t
make_moves(const struct mbox *m, uint64_t size, off_t tail, struct move *mv,
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

/*
 * The cut is made: the index follows the file.  Kept messages move down
 * by what was deleted before them, each with the empty line after it;
 * what the index describes ends where the kept mail does (mail delivered
 * during the session, moved down after it, is the next session's to
 * scan).  The stat is taken under the lock, with the file as we left it.
 */
static void
follow_cut(struct mbox *m)
{
	off_t gone = 0, end, kept_end = 0;
	size_t i, n = 0;
	struct stat st;

	for (i = 0; i < m->count; i++) {
		struct msg *msg = &m->msgs[i];

		end = i + 1 < m->count ? m->msgs[i + 1].from : m->scanned;
		if (msg->flags & MSG_DELETED) {
			gone += end - msg->from;
			continue;
		}
		msg->from -= gone;
		kept_end = end - gone;
		m->msgs[n++] = *msg;
	}
	m->count = n;
	m->scanned = kept_end;
	if (fstat(m->spool.fd, &st) == -1) {
		m->index_dirty = 0;	/* no stat to stand for it */
		return;
	}
	m->size = st.st_size;
	m->ino = st.st_ino;
	m->dev = st.st_dev;
	m->mtime = st.st_mtim;
	m->ctime = st.st_ctim;
	m->stat_time = time(NULL);
	m->index_dirty = 1;
	m->uids_ready = 0;	/* copies are counted again next time */
}

/* Plan the cut and have the update layer make it. */
static int
cut(struct mbox *m, const struct stat *st, off_t tail)
{
	struct update_box box = { &m->spool, (uint64_t)m->dev,
	    (uint64_t)m->ino, &m->fault };
	struct cut c = { 0, (uint64_t)st->st_size, 0, NULL, 0 };
	int r;

	for (size_t i = 0; i < m->count; i++)
		if (m->msgs[i].flags & MSG_DELETED) {
			c.first = (uint64_t)m->msgs[i].from;
			break;
		}
	if ((c.moves = calloc(m->count + 2, sizeof(*c.moves))) == NULL)
		return fault_sys(&m->fault, FAULT_TEMP, "update: malloc");
	c.final = make_moves(m, c.end, tail, c.moves, &c.nmoves);
	r = update_run(&box, &c);
	free(c.moves);
	if (r == 0)
		follow_cut(m);
	return r;
}

/*
 * Apply the deletions, with the mailbox locked: 0, done and on disk; -1
 * with m->fault, the mailbox changed behind us or the update failed.
 * Every message that goes, and every one that moves, must still be where
 * the scan saw it (a mail reader that expunged a message meanwhile shifts
 * the others: deleting at the old offsets would delete the wrong mail);
 * only mail appended since is allowed, and kept.
 */
int
mbox_update(struct mbox *m)
{
	struct stat st;
	off_t tail;
	size_t i;
	int r;

	m->buf_len = 0;		/* the cache is stale once the file moves */
	for (i = 0; i < m->count; i++)
		if (m->msgs[i].flags & MSG_DELETED)
			break;
	if (i == m->count)
		return 0;
	if (spool_lock(&m->spool, &m->fault) == -1)
		return -1;
	if (mbox_verify_tail(m, i, &tail) == -1) {
		strncat(m->fault.text, "; nothing deleted",
		    sizeof(m->fault.text) - strlen(m->fault.text) - 1);
		r = -1;
	} else if (fstat(m->spool.fd, &st) == -1)
		r = fault_sys(&m->fault, FAULT_TEMP, "update: fstat");
	else
		r = cut(m, &st, tail);
	if (r == 0)
		mbox_index_settle(m);
	spool_unlock(&m->spool);
	return r;
}
