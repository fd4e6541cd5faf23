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
#include "update.h"

#define PLAN_MAGIC	"pop3dJ1"
#define SLOT_MAGIC	"pop3dS1"
#define PAGE		4096
#define SLOT_SIZE	(MBOX_BUF_SIZE + PAGE)

enum { S_MOVE = 1, S_TAIL, S_MARKED };

struct move {
	uint64_t	src, dst, len;
};

struct plan {
	char		magic[8];
	uint64_t	dev, ino;
	uint64_t	end;		/* mailbox size the plan covers */
	uint64_t	final;		/* size once the moves are done */
	uint64_t	nmoves;
	unsigned char	sum[16];	/* md5 of this, sum zeroed, and moves */
};

struct slot {
	char		magic[8];
	uint64_t	seq;
	uint32_t	kind;
	uint32_t	has_data;
	uint64_t	move;		/* S_MOVE: index in the plan */
	uint64_t	src, dst, len;	/* the move this block belongs to */
	uint64_t	off, blen;	/* the block: offset in the move, size */
	uint64_t	final, end;	/* S_MARKED: kept data, old end */
	unsigned char	sum[16];	/* md5 of this header, sum zeroed */
};

/* Follows the data: a slot is whole only if its last bytes were written. */
struct trailer {
	uint64_t	seq;
	char		magic[8];
};

struct journal {
	struct mbox	*m;
	int		fd;
	struct plan	plan;
	struct move	*moves;
	off_t		slots;		/* offset of slot 0 */
	uint64_t	seq;
	int		sync_failed;	/* fsync failed: never retried */
	int		abandoned;	/* journal did not fit the mailbox */
	int		touched;	/* the mailbox was written to */
};

static int
set_reason(struct mbox *m, const char *what)
{
	snprintf(m->reason, sizeof(m->reason), "update: %s: %s", what,
	    strerror(errno));
	return -1;
}

static int
pwrite_all(int fd, const void *p, size_t n, off_t at)
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

static int
pread_all(int fd, void *p, size_t n, off_t at)
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

static void
plan_sum(const struct plan *p, const struct move *mv, unsigned char sum[16])
{
	struct plan copy = *p;
	struct md5 ctx;

	memset(copy.sum, 0, sizeof(copy.sum));
	md5_init(&ctx);
	md5_update(&ctx, &copy, sizeof(copy));
	md5_update(&ctx, mv, p->nmoves * sizeof(*mv));
	md5_final(&ctx, sum);
}

static void
slot_sum(const struct slot *s, unsigned char sum[16])
{
	struct slot copy = *s;
	struct md5 ctx;

	memset(copy.sum, 0, sizeof(copy.sum));
	md5_init(&ctx);
	md5_update(&ctx, &copy, sizeof(copy));
	md5_final(&ctx, sum);
}

static off_t
slots_offset(uint64_t nmoves)
{
	off_t n = (off_t)(sizeof(struct plan) + nmoves * sizeof(struct move));

	return (n + PAGE - 1) / PAGE * PAGE;
}

/* Record what is about to happen; the mailbox write follows it. */
static int
write_slot(struct journal *j, struct slot *s, const void *data)
{
	struct trailer t;
	struct iovec iov[3];
	off_t at;

	memcpy(s->magic, SLOT_MAGIC, sizeof(s->magic));
	s->seq = ++j->seq;
	slot_sum(s, s->sum);
	t.seq = s->seq;
	memcpy(t.magic, SLOT_MAGIC, sizeof(t.magic));
	iov[0].iov_base = s;
	iov[0].iov_len = sizeof(*s);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = s->has_data ? s->blen : 0;
	iov[2].iov_base = &t;
	iov[2].iov_len = sizeof(t);
	at = j->slots + (off_t)(s->seq % 2) * SLOT_SIZE;
	for (;;) {
		ssize_t w = pwritev(j->fd, iov, 3, at);
		size_t want = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		if ((size_t)w == want)
			return 0;
		/* short (full disk?): an error; a retry writes it whole */
		errno = EIO;
		return -1;
	}
}

/*
 * A write to the mailbox.  Once any byte of one has landed the mailbox is
 * no longer as it was (a failed pwrite(2) writes nothing: a partial one
 * returns its count).
 */
static int
write_box(struct journal *j, const void *p, size_t n, off_t at)
{
	ssize_t w;

	while (n > 0) {
		w = pwrite(j->m->fd, p, n, at);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		j->touched = 1;
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

/*
 * Copy len bytes from src down to dst (dst < src), starting off bytes in,
 * a journaled block at a time.
 */
static int
run_move(struct journal *j, int kind, uint64_t idx, const struct move *mv,
    uint64_t off)
{
	struct mbox *m = j->m;
	struct slot s;

	while (off < mv->len) {
		uint64_t blen = mv->len - off;

		mbox_lock_touch(m);
		if (blen > MBOX_BUF_SIZE)
			blen = MBOX_BUF_SIZE;
		if (pread_all(m->fd, m->buf, blen, (off_t)(mv->src + off)))
			return set_reason(m, "read");
		memset(&s, 0, sizeof(s));
		s.kind = (uint32_t)kind;
		s.move = idx;
		s.src = mv->src;
		s.dst = mv->dst;
		s.len = mv->len;
		s.off = off;
		s.blen = blen;
		/*
		 * Redo reads the block again from its source unless the
		 * record carries it.  It must carry it when this write
		 * overwrites the source, and when the source starts where
		 * the move ends (gap == blen): the end marker goes there.
		 */
		s.has_data = mv->src - mv->dst <= blen;
		if (write_slot(j, &s, m->buf) == -1)
			return set_reason(m, "journal");
		if (write_box(j, m->buf, blen, (off_t)(mv->dst + off)))
			return set_reason(m, "write");
		off += blen;
	}
	return 0;
}

/*
 * The update is over: empty the journal, durably, so that a power cut
 * after +OK cannot bring the plan back to be applied a second time.
 */
static int
clear_journal(struct journal *j)
{
	if (ftruncate(j->fd, 0) == -1 || fdatasync(j->fd) == -1)
		return set_reason(j->m, "journal");
	return 0;
}

/* Do the bytes before `at` end an empty line (or is it the start)? */
static int
after_empty_line(struct mbox *m, off_t at)
{
	char b[3] = { 0, 0, 0 };
	off_t from = at >= 3 ? at - 3 : 0;

	if (at == 0)
		return 1;
	if (at < 2 || pread_all(m->fd, b + 3 - (at - from), (size_t)(at - from),
	    from) == -1)
		return 0;
	return (b[1] == '\n' && b[2] == '\n') || memcmp(b, "\n\r\n", 3) == 0;
}

/*
 * Does a message start at `at`, as the scan sees it: "From " after an
 * empty line, or at the start of the file?
 */
static int
message_starts(struct mbox *m, off_t at)
{
	char b[5];

	return pread_all(m->fd, b, 5, at) == 0 && memcmp(b, "From ", 5) == 0 &&
	    after_empty_line(m, at);
}

/*
 * Mail appended at `at`: how many line-end bytes come before its first
 * "From " line, or -1 if it does not start with a message.  A delivery
 * agent that finds the file not ending in an empty line writes one (or
 * finishes the last line) first.
 */
static int
separator_len(struct mbox *m, off_t at, off_t size)
{
	char b[4];
	int k;

	for (k = 0; k <= 4 && at + k + 5 <= size; k++) {
		if (message_starts(m, at + k))
			return k;
		if (pread_all(m->fd, b, 1, at + k) == -1 ||
		    (b[0] != '\n' && b[0] != '\r'))
			break;
	}
	return -1;
}

/*
 * The moves are done: [0, final) is the mailbox, [final, end) is left
 * over, and anything past end was delivered after a crash.  Bring that
 * down too, then cut.
 */
static int
finish(struct journal *j, uint64_t final, uint64_t end)
{
	struct mbox *m = j->m;
	struct stat st;
	struct slot s;
	int skip;

	for (;;) {
		if (fstat(m->fd, &st) == -1)
			return set_reason(m, "fstat");
		if ((uint64_t)st.st_size < end) {
			errno = ESTALE;
			return set_reason(m, "mailbox shrank during update");
		}
		if ((uint64_t)st.st_size == end)
			break;
		/*
		 * The line ends a delivery agent wrote before its message,
		 * because the old end was not an empty line, are not wanted
		 * where the kept mail already ends in one: they would join
		 * the message before, or start the file with an empty line.
		 */
		skip = 0;
		if (after_empty_line(m, (off_t)final) &&
		    (skip = separator_len(m, (off_t)end, st.st_size)) < 0)
			skip = 0;
		struct move tail = { end + (uint64_t)skip, final,
		    (uint64_t)st.st_size - end - (uint64_t)skip };

		log_msg(LOG_NOTICE, "%s: moving %llu bytes delivered after "
		    "an interrupted update", m->path,
		    (unsigned long long)tail.len);
		if (run_move(j, S_TAIL, 0, &tail, 0) == -1)
			return -1;
		final += tail.len;
		end = (uint64_t)st.st_size;
	}
	if (write_box(j, "", 1, (off_t)final) == -1)
		return set_reason(m, "write");
	memset(&s, 0, sizeof(s));
	s.kind = S_MARKED;
	s.final = final;
	s.end = end;
	if (write_slot(j, &s, NULL) == -1)
		return set_reason(m, "journal");
	if (ftruncate(m->fd, (off_t)final) == -1)
		return set_reason(m, "truncate");
	if (fdatasync(m->fd) == -1) {
		j->sync_failed = 1;
		return set_reason(m, "fsync");
	}
	return clear_journal(j);
}

/* After a MARKED record: has the cut happened?  See the top of the file. */
static int
finish_marked(struct journal *j, uint64_t final, uint64_t end)
{
	struct mbox *m = j->m;
	struct stat st;
	char c;

	if (fstat(m->fd, &st) == -1)
		return set_reason(m, "fstat");
	if ((uint64_t)st.st_size > final) {
		if (pread_all(m->fd, &c, 1, (off_t)final) == -1)
			return set_reason(m, "read");
		if (c == '\0')
			return finish(j, final, end);
	}
	if (fdatasync(m->fd) == -1) {
		j->sync_failed = 1;
		return set_reason(m, "fsync");
	}
	return clear_journal(j);
}

static int
run_plan(struct journal *j, uint64_t idx, uint64_t off)
{
	for (; idx < j->plan.nmoves; idx++, off = 0)
		if (run_move(j, S_MOVE, idx, &j->moves[idx], off) == -1)
			return -1;
	return finish(j, j->plan.final, j->plan.end);
}

static int
read_slot(struct journal *j, int which, struct slot *s)
{
	unsigned char sum[16];
	struct trailer t;
	off_t at = j->slots + (off_t)which * SLOT_SIZE;

	if (pread_all(j->fd, s, sizeof(*s), at) == -1 ||
	    memcmp(s->magic, SLOT_MAGIC, sizeof(s->magic)) != 0)
		return 0;
	slot_sum(s, sum);
	if (memcmp(sum, s->sum, sizeof(sum)) != 0 || s->blen > MBOX_BUF_SIZE ||
	    (s->kind != S_MOVE && s->kind != S_TAIL && s->kind != S_MARKED))
		return 0;
	if (pread_all(j->fd, &t, sizeof(t), at + (off_t)sizeof(*s) +
	    (off_t)(s->has_data ? s->blen : 0)) == -1 || t.seq != s->seq ||
	    memcmp(t.magic, SLOT_MAGIC, sizeof(t.magic)) != 0)
		return 0;
	return 1;
}

/*
 * A journal that cannot belong to the mailbox as it is now (another
 * program rewrote it since the crash): applying it would do harm, and
 * keeping it would lock the user out, so it goes, loudly.
 */
static int
discard(struct journal *j, const char *why)
{
	log_msg(LOG_ERR, "%s: %s; the interrupted update is abandoned and "
	    "the mailbox left as it is", j->m->path, why);
	j->abandoned = 1;
	return clear_journal(j);
}

/* No block was written yet: the plan's moves must start at messages. */
static int
plan_fits(struct journal *j)
{
	for (uint64_t i = 0; i < j->plan.nmoves; i++)
		if (!message_starts(j->m, (off_t)j->moves[i].src))
			return 0;
	return 1;
}

/* Write the newest recorded block again and carry on from there. */
static int
resume(struct journal *j)
{
	struct mbox *m = j->m;
	struct slot s[2], *last = NULL;
	struct move mv;
	struct stat st;
	uint64_t need;

	for (int i = 0; i < 2; i++)
		if (read_slot(j, i, &s[i]) && (last == NULL ||
		    s[i].seq > last->seq))
			last = &s[i];
	if (fstat(m->fd, &st) == -1)
		return set_reason(m, "fstat");
	need = last == NULL || last->kind == S_MOVE ? j->plan.end :
	    last->kind == S_MARKED ? last->final : last->src + last->len;
	if ((uint64_t)st.st_size < need)
		return discard(j, "mailbox is shorter than the journal says");
	if (last == NULL) {
		if (!plan_fits(j))
			return discard(j, "mailbox changed since the journal "
			    "was written");
		return run_plan(j, 0, 0);
	}
	j->seq = last->seq;
	if (last->kind == S_MARKED)
		return finish_marked(j, last->final, last->end);
	if (last->has_data) {
		off_t at = j->slots + (off_t)(last->seq % 2) * SLOT_SIZE +
		    (off_t)sizeof(*last);

		if (pread_all(j->fd, m->buf, last->blen, at) == -1)
			return set_reason(m, "journal");
	} else if (pread_all(m->fd, m->buf, last->blen,
	    (off_t)(last->src + last->off)) == -1)
		return set_reason(m, "read");
	if (write_box(j, m->buf, last->blen,
	    (off_t)(last->dst + last->off)) == -1)
		return set_reason(m, "write");
	if (last->kind == S_MOVE) {
		if (last->move >= j->plan.nmoves) {
			errno = EINVAL;
			return set_reason(m, "journal");
		}
		return run_plan(j, last->move, last->off + last->blen);
	}
	mv.src = last->src;
	mv.dst = last->dst;
	mv.len = last->len;
	if (run_move(j, S_TAIL, 0, &mv, last->off + last->blen) == -1)
		return -1;
	return finish(j, last->dst + last->len, last->src + last->len);
}

/* Read and check the plan; 1: a plan to finish, 0: none, -1: error. */
static int
load_plan(struct journal *j, off_t size)
{
	struct mbox *m = j->m;
	unsigned char sum[16];

	if (pread_all(j->fd, &j->plan, sizeof(j->plan), 0) == -1 ||
	    memcmp(j->plan.magic, PLAN_MAGIC, 8) != 0 ||
	    j->plan.nmoves > (uint64_t)size / sizeof(struct move))
		goto torn;
	if ((j->moves = calloc(j->plan.nmoves + 1, sizeof(*j->moves))) == NULL)
		return set_reason(m, "malloc");
	if (pread_all(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
	    sizeof(j->plan)) == -1)
		goto torn;
	plan_sum(&j->plan, j->moves, sum);
	if (memcmp(sum, j->plan.sum, sizeof(sum)) != 0)
		goto torn;
	if (j->plan.dev != (uint64_t)m->dev || j->plan.ino != (uint64_t)m->ino) {
		log_msg(LOG_WARNING, "%s: journal belongs to another file; "
		    "discarded", m->session_path);
		return 0;
	}
	j->slots = slots_offset(j->plan.nmoves);
	return 1;
torn:
	/* The plan is synced before the mailbox is touched: nothing to do. */
	log_msg(LOG_NOTICE, "%s: incomplete journal discarded; the mailbox "
	    "was not changed", m->session_path);
	return 0;
}

/*
 * Called with the mailbox locked, before the scan: finish whatever update
 * a crash interrupted.
 */
int
update_recover(struct mbox *m)
{
	struct journal j;
	struct stat st, jst;
	int r;

	if (m->session_fd == -1)
		return MBOX_OK;
	if (fstat(m->session_fd, &jst) == -1)
		return set_reason(m, "journal"), MBOX_TEMP;
	if (jst.st_size == 0)
		return MBOX_OK;		/* the usual case: nothing to finish */
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.fd = m->session_fd;
	if (fstat(m->fd, &st) == -1)
		return set_reason(m, "fstat"), MBOX_TEMP;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	r = load_plan(&j, jst.st_size);
	if (r == 1) {
		log_msg(LOG_NOTICE, "%s: finishing an interrupted update",
		    m->path);
		r = resume(&j);
		if (r == 0 && !j.abandoned)
			log_msg(LOG_NOTICE, "%s: interrupted update finished",
			    m->path);
	} else if (r == 0 && clear_journal(&j) == -1)
		r = -1;
	free(j.moves);
	if (r == -1) {
		log_msg(LOG_ERR, "%s: %s", m->path, m->reason);
		return MBOX_TEMP;
	}
	return MBOX_OK;
}

/* Session end: the lock file goes unless it holds an unfinished update. */
void
update_release(struct mbox *m)
{
	struct stat st;

	if (m->session_fd != -1) {
		if (fstat(m->session_fd, &st) == 0 && st.st_size == 0)
			unlink(m->session_path);
		close(m->session_fd);
		m->session_fd = -1;
	}
	free(m->session_path);
	m->session_path = NULL;
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
		if (!message_starts(m, m->msgs[i].from))
			return 0;
		if (i + 1 < m->count && !message_starts(m, m->msgs[i + 1].from))
			return 0;
	}
	if (st->st_size > m->scanned) {
		/* appended mail starts with a message of its own */
		if ((k = separator_len(m, m->scanned, st->st_size)) < 0)
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
write_plan(struct journal *j)
{
	struct mbox *m = j->m;
	off_t at;

	memcpy(j->plan.magic, PLAN_MAGIC, 8);
	plan_sum(&j->plan, j->moves, j->plan.sum);
	j->slots = slots_offset(j->plan.nmoves);
	memset(m->buf, 0, MBOX_BUF_SIZE);
	if (ftruncate(j->fd, 0) == -1 ||
	    pwrite_all(j->fd, &j->plan, sizeof(j->plan), 0) == -1 ||
	    pwrite_all(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
	    sizeof(j->plan)) == -1)
		return -1;
	/* Claim the slots' space now: no ENOSPC once the mailbox moves. */
	for (at = j->slots; at < j->slots + 2 * SLOT_SIZE; at += MBOX_BUF_SIZE)
		if (pwrite_all(j->fd, m->buf, MBOX_BUF_SIZE, at) == -1)
			return -1;
	return fdatasync(j->fd);
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
		return set_reason(m, "malloc");
	j.plan.final = make_moves(m, size, tail, j.moves, &n);
	j.plan.nmoves = n;
	if (n == 0) {
		/* only trailing messages go: one truncate, nothing to redo */
		free(j.moves);
		if (ftruncate(m->fd, (off_t)first) == -1)
			return set_reason(m, "truncate");
		if (fdatasync(m->fd) == -1)
			return set_reason(m, "fsync");
		return 0;
	}
	if (j.fd == -1) {
		free(j.moves);
		errno = EACCES;
		return set_reason(m, "no journal (see the log)");
	}
	j.plan.dev = (uint64_t)m->dev;
	j.plan.ino = (uint64_t)m->ino;
	j.plan.end = size;
	if (write_plan(&j) == -1) {
		set_reason(m, "journal");
		if (ftruncate(j.fd, 0) == -1)
			log_msg(LOG_ERR, "%s: %s", m->session_path,
			    strerror(errno));
		free(j.moves);
		return -1;
	}
	r = run_plan(&j, 0, 0);
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
		if ((r = resume(&j)) == 0 && j.abandoned) {
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
		set_reason(m, "fstat");
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
