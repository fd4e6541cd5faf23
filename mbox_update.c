/*
 * QUIT's deletions, as the mailbox sees them: is the file still the one
 * that was scanned, give or take mail delivered since?  Which kept bytes
 * must move where?  The update layer then makes the cut under its journal.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "boundary.h"
#include "mbox.h"
#include "update.h"

/*
 * Is the mailbox still what we scanned, give or take mail appended since?
 * The boundaries around every deleted message and the old end must still
 * be where the index says; kept data between them moves as it now is.
 * *tail gets where appended mail starts (its first "From " line).
 */
static int
unchanged(struct mbox *m, const struct stat *st, off_t *tail)
{
	int fd = m->spool.fd;
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
		if (!boundary_message_starts(fd, m->msgs[i].from))
			return 0;
		if (i + 1 < m->count &&
		    !boundary_message_starts(fd, m->msgs[i + 1].from))
			return 0;
	}
	if (st->st_size > m->scanned) {
		/* appended mail starts with a message of its own */
		if ((k = boundary_separator_len(fd, m->scanned,
		    st->st_size)) < 0)
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
	return r;
}

/*
 * Apply the deletions, with the mailbox locked: 0, done and on disk; -1
 * with m->fault, the mailbox changed behind us or the update failed.
 */
int
mbox_update(struct mbox *m)
{
	struct stat st, path_st;
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
	if (fstat(m->spool.fd, &st) == -1)
		r = fault_sys(&m->fault, FAULT_TEMP, "update: fstat");
	else if (stat(m->spool.path, &path_st) == -1 ||
	    path_st.st_ino != st.st_ino || path_st.st_dev != st.st_dev)
		r = fault_set(&m->fault, FAULT_TEMP, "mailbox was replaced "
		    "during the session; nothing deleted");
	else if (!unchanged(m, &st, &tail))
		r = fault_set(&m->fault, FAULT_TEMP, "mailbox was changed "
		    "during the session; nothing deleted");
	else
		r = cut(m, &st, tail);
	spool_unlock(&m->spool);
	return r;
}
