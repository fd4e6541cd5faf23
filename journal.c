/*
 * The redo journal of an update, in MBOX.pop3d (update.c tells the whole
 * scheme): writing the plan and the slots, moving blocks, the final cut,
 * and replaying an interrupted update.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boundary.h"
#include "fileio.h"
#include "journal.h"
#include "log.h"
#include "md5.h"
#include "params.h"

#define PLAN_MAGIC	"pop3dJ1"
#define SLOT_MAGIC	"pop3dS1"
/* Slots start on a page and leave a page for their header and trailer. */
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

/* Where a block's bytes sit in j->buf, between a header and a trailer. */
#define BLOCK(j)	((j)->buf + sizeof(struct slot))

static int
fail(struct journal *j, const char *what)
{
	return fault_sys(j->box->fault, FAULT_TEMP, what);
}

int
journal_open(struct journal *j, struct update_box *box)
{
	memset(j, 0, sizeof(*j));
	j->box = box;
	j->fd = box->spool->session_fd;
	if ((j->buf = malloc(sizeof(struct slot) + MBOX_BUF_SIZE +
	    sizeof(struct trailer))) == NULL)
		return fail(j, "malloc");
	return 0;
}

void
journal_close(struct journal *j)
{
	free(j->buf);
	free(j->moves);
	j->buf = NULL;
	j->moves = NULL;
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

/*
 * Record what is about to happen; the mailbox write follows it.  A slot
 * with data is written from j->buf, where the block already sits between
 * the room for the header and the trailer: one write(2) a record.
 */
static int
write_slot(struct journal *j, struct slot *s)
{
	char bare[sizeof(struct slot) + sizeof(struct trailer)];
	struct trailer t;
	char *rec = s->has_data ? j->buf : bare;
	size_t data = s->has_data ? s->blen : 0;

	memcpy(s->magic, SLOT_MAGIC, sizeof(s->magic));
	s->seq = ++j->seq;
	slot_sum(s, s->sum);
	t.seq = s->seq;
	memcpy(t.magic, SLOT_MAGIC, sizeof(t.magic));
	memcpy(rec, s, sizeof(*s));
	memcpy(rec + sizeof(*s) + data, &t, sizeof(t));
	return fileio_write(j->fd, rec, sizeof(*s) + data + sizeof(t),
	    j->slots + (off_t)(s->seq % 2) * SLOT_SIZE, NULL);
}

/*
 * A write to the mailbox.  Once any byte of one has landed the mailbox is
 * no longer as it was.
 */
static int
write_box(struct journal *j, const void *p, size_t n, off_t at)
{
	size_t done;
	int r = fileio_write(j->box->spool->fd, p, n, at, &done);

	if (done > 0)
		j->touched = 1;
	return r;
}

/*
 * Copy len bytes from src down to dst (dst < src), starting off bytes in,
 * a journaled block at a time.
 */
static int
run_move(struct journal *j, int kind, uint64_t idx, const struct move *mv,
    uint64_t off)
{
	struct spool *sp = j->box->spool;
	struct slot s;

	while (off < mv->len) {
		uint64_t blen = mv->len - off;

		spool_touch(sp);
		if (blen > MBOX_BUF_SIZE)
			blen = MBOX_BUF_SIZE;
		if (fileio_read_all(sp->fd, BLOCK(j), blen,
		    (off_t)(mv->src + off)) == -1)
			return fail(j, "update: read");
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
		if (write_slot(j, &s) == -1)
			return fail(j, "update: journal");
		if (write_box(j, BLOCK(j), blen, (off_t)(mv->dst + off)) == -1)
			return fail(j, "update: write");
		off += blen;
	}
	return 0;
}

/*
 * The update is over: empty the journal, durably, so that a power cut
 * after +OK cannot bring the plan back to be applied a second time.
 */
int
journal_clear(struct journal *j)
{
	if (ftruncate(j->fd, 0) == -1 || fdatasync(j->fd) == -1)
		return fail(j, "update: journal");
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
	struct spool *sp = j->box->spool;
	struct stat st;
	struct slot s;
	int skip;

	for (;;) {
		if (fstat(sp->fd, &st) == -1)
			return fail(j, "update: fstat");
		if ((uint64_t)st.st_size < end) {
			errno = ESTALE;
			return fail(j, "update: mailbox shrank during update");
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
		if (boundary_after_empty_line(sp->fd, (off_t)final) &&
		    (skip = boundary_separator_len(sp->fd, (off_t)end,
		    st.st_size)) < 0)
			skip = 0;
		struct move tail = { end + (uint64_t)skip, final,
		    (uint64_t)st.st_size - end - (uint64_t)skip };

		log_msg(LOG_NOTICE, "%s: moving %llu bytes delivered after "
		    "an interrupted update", sp->path,
		    (unsigned long long)tail.len);
		if (run_move(j, S_TAIL, 0, &tail, 0) == -1)
			return -1;
		final += tail.len;
		end = (uint64_t)st.st_size;
	}
	if (write_box(j, "", 1, (off_t)final) == -1)
		return fail(j, "update: write");
	memset(&s, 0, sizeof(s));
	s.kind = S_MARKED;
	s.final = final;
	s.end = end;
	if (write_slot(j, &s) == -1)
		return fail(j, "update: journal");
	if (ftruncate(sp->fd, (off_t)final) == -1)
		return fail(j, "update: truncate");
	if (fdatasync(sp->fd) == -1) {
		j->sync_failed = 1;
		return fail(j, "update: fsync");
	}
	return journal_clear(j);
}

/* After a MARKED record: has the cut happened?  See update.c. */
static int
finish_marked(struct journal *j, uint64_t final, uint64_t end)
{
	struct spool *sp = j->box->spool;
	struct stat st;
	char c;

	if (fstat(sp->fd, &st) == -1)
		return fail(j, "update: fstat");
	if ((uint64_t)st.st_size > final) {
		if (fileio_read_all(sp->fd, &c, 1, (off_t)final) == -1)
			return fail(j, "update: read");
		if (c == '\0')
			return finish(j, final, end);
	}
	if (fdatasync(sp->fd) == -1) {
		j->sync_failed = 1;
		return fail(j, "update: fsync");
	}
	return journal_clear(j);
}

int
journal_run(struct journal *j, uint64_t idx, uint64_t off)
{
	for (; idx < j->plan.nmoves; idx++, off = 0)
		if (run_move(j, S_MOVE, idx, &j->moves[idx], off) == -1)
			return -1;
	return finish(j, j->plan.final, j->plan.end);
}

/* Is slot `which` whole and valid?  A torn or stale one is simply not. */
static int
read_slot(struct journal *j, int which, struct slot *s)
{
	unsigned char sum[16];
	struct trailer t;
	off_t at = j->slots + (off_t)which * SLOT_SIZE;

	if (fileio_read_all(j->fd, s, sizeof(*s), at) == -1 ||
	    memcmp(s->magic, SLOT_MAGIC, sizeof(s->magic)) != 0)
		return 0;
	slot_sum(s, sum);
	if (memcmp(sum, s->sum, sizeof(sum)) != 0 || s->blen > MBOX_BUF_SIZE ||
	    (s->kind != S_MOVE && s->kind != S_TAIL && s->kind != S_MARKED))
		return 0;
	if (fileio_read_all(j->fd, &t, sizeof(t), at + (off_t)sizeof(*s) +
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
	    "the mailbox left as it is", j->box->spool->path, why);
	j->abandoned = 1;
	return journal_clear(j);
}

/* No block was written yet: the plan's moves must start at messages. */
static int
plan_fits(struct journal *j)
{
	for (uint64_t i = 0; i < j->plan.nmoves; i++)
		if (!boundary_message_starts(j->box->spool->fd,
		    (off_t)j->moves[i].src))
			return 0;
	return 1;
}

/* Write the newest recorded block again and carry on from there. */
int
journal_resume(struct journal *j)
{
	struct spool *sp = j->box->spool;
	struct slot s[2], *last = NULL;
	struct move mv;
	struct stat st;
	uint64_t need;

	for (int i = 0; i < 2; i++)
		if (read_slot(j, i, &s[i]) && (last == NULL ||
		    s[i].seq > last->seq))
			last = &s[i];
	if (fstat(sp->fd, &st) == -1)
		return fail(j, "update: fstat");
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

		if (fileio_read_all(j->fd, BLOCK(j), last->blen, at) == -1)
			return fail(j, "update: journal");
	} else if (fileio_read_all(sp->fd, BLOCK(j), last->blen,
	    (off_t)(last->src + last->off)) == -1)
		return fail(j, "update: read");
	if (write_box(j, BLOCK(j), last->blen,
	    (off_t)(last->dst + last->off)) == -1)
		return fail(j, "update: write");
	if (last->kind == S_MOVE) {
		if (last->move >= j->plan.nmoves) {
			errno = EINVAL;
			return fail(j, "update: journal");
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

/*
 * Read and check the plan in a journal of `size` bytes.  0: j->plan and
 * j->moves hold a plan to finish, or j->plan.nmoves is 0 and there is
 * none (torn, or for another file: the journal is to be cleared); -1:
 * error.
 */
int
journal_load(struct journal *j, off_t size)
{
	struct update_box *box = j->box;
	unsigned char sum[16];

	if (fileio_read_all(j->fd, &j->plan, sizeof(j->plan), 0) == -1 ||
	    memcmp(j->plan.magic, PLAN_MAGIC, 8) != 0 ||
	    j->plan.nmoves > (uint64_t)size / sizeof(struct move))
		goto torn;
	if ((j->moves = calloc(j->plan.nmoves + 1, sizeof(*j->moves))) == NULL)
		return fail(j, "update: malloc");
	if (fileio_read_all(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
	    sizeof(j->plan)) == -1)
		goto torn;
	plan_sum(&j->plan, j->moves, sum);
	if (memcmp(sum, j->plan.sum, sizeof(sum)) != 0)
		goto torn;
	if (j->plan.dev != box->dev || j->plan.ino != box->ino) {
		log_msg(LOG_WARNING, "%s: journal belongs to another file; "
		    "discarded", box->spool->session_path);
		j->plan.nmoves = 0;
		return 0;
	}
	j->slots = slots_offset(j->plan.nmoves);
	return 0;
torn:
	/* The plan is synced before the mailbox is touched: nothing to do. */
	log_msg(LOG_NOTICE, "%s: incomplete journal discarded; the mailbox "
	    "was not changed", box->spool->session_path);
	j->plan.nmoves = 0;
	return 0;
}

int
journal_write_plan(struct journal *j)
{
	off_t at;

	memcpy(j->plan.magic, PLAN_MAGIC, 8);
	plan_sum(&j->plan, j->moves, j->plan.sum);
	j->slots = slots_offset(j->plan.nmoves);
	memset(j->buf, 0, MBOX_BUF_SIZE);
	if (ftruncate(j->fd, 0) == -1 ||
	    fileio_write(j->fd, &j->plan, sizeof(j->plan), 0, NULL) == -1 ||
	    fileio_write(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
	    sizeof(j->plan), NULL) == -1)
		return fail(j, "update: journal");
	/* Claim the slots' space now: no ENOSPC once the mailbox moves. */
	for (at = j->slots; at < j->slots + 2 * SLOT_SIZE; at += MBOX_BUF_SIZE)
		if (fileio_write(j->fd, j->buf, MBOX_BUF_SIZE, at, NULL) == -1)
			return fail(j, "update: journal");
	if (fdatasync(j->fd) == -1)
		return fail(j, "update: journal");
	return 0;
}
