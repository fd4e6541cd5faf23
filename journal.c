/*
 * The redo journal of an update, in MBOX.pop3d (see update.c for the
 * whole scheme): writing the plan and the slots, moving blocks, the final
 * cut, and the recovery that replays an interrupted update.
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

#define PLAN_MAGIC	"pop3dJ1"
#define SLOT_MAGIC	"pop3dS1"
#define PAGE		4096
#define SLOT_SIZE	(MBOX_BUF_SIZE + PAGE)

enum { S_MOVE = 1, S_TAIL, S_MARKED };

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
		if (mbox_read(m->fd, m->buf, blen, (off_t)(mv->src + off)))
			return update_fail(m, "read");
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
			return update_fail(m, "journal");
		if (write_box(j, m->buf, blen, (off_t)(mv->dst + off)))
			return update_fail(m, "write");
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
		return update_fail(j->m, "journal");
	return 0;
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
			return update_fail(m, "fstat");
		if ((uint64_t)st.st_size < end) {
			errno = ESTALE;
			return update_fail(m, "mailbox shrank during update");
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
		if (update_after_empty_line(m, (off_t)final) &&
		    (skip = update_separator_len(m, (off_t)end, st.st_size)) < 0)
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
		return update_fail(m, "write");
	memset(&s, 0, sizeof(s));
	s.kind = S_MARKED;
	s.final = final;
	s.end = end;
	if (write_slot(j, &s, NULL) == -1)
		return update_fail(m, "journal");
	if (ftruncate(m->fd, (off_t)final) == -1)
		return update_fail(m, "truncate");
	if (fdatasync(m->fd) == -1) {
		j->sync_failed = 1;
		return update_fail(m, "fsync");
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
		return update_fail(m, "fstat");
	if ((uint64_t)st.st_size > final) {
		if (mbox_read(m->fd, &c, 1, (off_t)final) == -1)
			return update_fail(m, "read");
		if (c == '\0')
			return finish(j, final, end);
	}
	if (fdatasync(m->fd) == -1) {
		j->sync_failed = 1;
		return update_fail(m, "fsync");
	}
	return clear_journal(j);
}

int
journal_run(struct journal *j, uint64_t idx, uint64_t off)
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

	if (mbox_read(j->fd, s, sizeof(*s), at) == -1 ||
	    memcmp(s->magic, SLOT_MAGIC, sizeof(s->magic)) != 0)
		return 0;
	slot_sum(s, sum);
	if (memcmp(sum, s->sum, sizeof(sum)) != 0 || s->blen > MBOX_BUF_SIZE ||
	    (s->kind != S_MOVE && s->kind != S_TAIL && s->kind != S_MARKED))
		return 0;
	if (mbox_read(j->fd, &t, sizeof(t), at + (off_t)sizeof(*s) +
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
		if (!update_message_starts(j->m, (off_t)j->moves[i].src))
			return 0;
	return 1;
}

/* Write the newest recorded block again and carry on from there. */
int
journal_resume(struct journal *j)
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
		return update_fail(m, "fstat");
	need = last == NULL || last->kind == S_MOVE ? j->plan.end :
	    last->kind == S_MARKED ? last->final : last->src + last->len;
	if ((uint64_t)st.st_size < need)
		return discard(j, "mailbox is shorter than the journal says");
	if (last == NULL) {
		if (!plan_fits(j))
			return discard(j, "mailbox changed since the journal "
			    "was written");
		return journal_run(j, 0, 0);
	}
	j->seq = last->seq;
	if (last->kind == S_MARKED)
		return finish_marked(j, last->final, last->end);
	if (last->has_data) {
		off_t at = j->slots + (off_t)(last->seq % 2) * SLOT_SIZE +
		    (off_t)sizeof(*last);

		if (mbox_read(j->fd, m->buf, last->blen, at) == -1)
			return update_fail(m, "journal");
	} else if (mbox_read(m->fd, m->buf, last->blen,
	    (off_t)(last->src + last->off)) == -1)
		return update_fail(m, "read");
	if (write_box(j, m->buf, last->blen,
	    (off_t)(last->dst + last->off)) == -1)
		return update_fail(m, "write");
	if (last->kind == S_MOVE) {
		if (last->move >= j->plan.nmoves) {
			errno = EINVAL;
			return update_fail(m, "journal");
		}
		return journal_run(j, last->move, last->off + last->blen);
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

	if (mbox_read(j->fd, &j->plan, sizeof(j->plan), 0) == -1 ||
	    memcmp(j->plan.magic, PLAN_MAGIC, 8) != 0 ||
	    j->plan.nmoves > (uint64_t)size / sizeof(struct move))
		goto torn;
	if ((j->moves = calloc(j->plan.nmoves + 1, sizeof(*j->moves))) == NULL)
		return update_fail(m, "malloc");
	if (mbox_read(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
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
		return update_fail(m, "journal"), MBOX_TEMP;
	if (jst.st_size == 0)
		return MBOX_OK;		/* the usual case: nothing to finish */
	memset(&j, 0, sizeof(j));
	j.m = m;
	j.fd = m->session_fd;
	if (fstat(m->fd, &st) == -1)
		return update_fail(m, "fstat"), MBOX_TEMP;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	r = load_plan(&j, jst.st_size);
	if (r == 1) {
		log_msg(LOG_NOTICE, "%s: finishing an interrupted update",
		    m->path);
		r = journal_resume(&j);
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

int
journal_write_plan(struct journal *j)
{
	struct mbox *m = j->m;
	off_t at;

	memcpy(j->plan.magic, PLAN_MAGIC, 8);
	plan_sum(&j->plan, j->moves, j->plan.sum);
	j->slots = slots_offset(j->plan.nmoves);
	memset(m->buf, 0, MBOX_BUF_SIZE);
	if (ftruncate(j->fd, 0) == -1 ||
	    update_write(j->fd, &j->plan, sizeof(j->plan), 0) == -1 ||
	    update_write(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
	    sizeof(j->plan)) == -1)
		return -1;
	/* Claim the slots' space now: no ENOSPC once the mailbox moves. */
	for (at = j->slots; at < j->slots + 2 * SLOT_SIZE; at += MBOX_BUF_SIZE)
		if (update_write(j->fd, m->buf, MBOX_BUF_SIZE, at) == -1)
			return -1;
	return fdatasync(j->fd);
}
