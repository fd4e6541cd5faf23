/*
 * The redo journal of an update, in MBOX.pop3d (update.c tells the whole
 * scheme): the plan, the epoch records, moving the kept bytes, the final
 * cut, and replaying an interrupted update.
 *
 * The file:
 *
 *   plan    at offset 0, then the moves, checksummed;
 *   slots   two, from the first page boundary after the moves, each a
 *           record (header, the epoch's data when it carries it, trailer)
 *           of at most slot_cap data bytes; epochs use them in turn.
 *
 * Journals left by pop3d 1.0 ("J1": records without a data checksum, in
 * slots of one 128 KB block) are still finished; new ones are "J2".
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boundary.h"
#include "fileio.h"
#include "hash.h"
#include "journal.h"
#include "log.h"
#include "md5.h"
#include "params.h"

#define PLAN_MAGIC	"pop3dJ2"
#define SLOT_MAGIC	"pop3dS2"
#define PLAN_MAGIC_1	"pop3dJ1"
#define SLOT_MAGIC_1	"pop3dS1"
#define PAGE		4096
/* pop3d 1.0's slots: one block of 128 KB and a page for the rest. */
#define V1_BLOCK	(128 * 1024)
#define V1_STRIDE	(V1_BLOCK + PAGE)

enum { S_MOVE = 1, S_TAIL, S_MARKED };

struct slot {
	char		magic[8];
	uint64_t	seq;
	uint32_t	kind;
	uint32_t	has_data;
	uint64_t	move;		/* S_MOVE: the move the epoch starts in */
	uint64_t	src, dst, len;	/* S_TAIL: the move of delivered mail */
	uint64_t	off, blen;	/* the epoch: offset in the move, size */
	uint64_t	final, end;	/* S_MARKED: kept data, old end */
	uint64_t	data_sum;	/* J2: hash of the data it carries */
	unsigned char	sum[16];	/* md5 of this header, sum zeroed */
};

/* pop3d 1.0's header: the same but for data_sum. */
struct slot1 {
	char		magic[8];
	uint64_t	seq;
	uint32_t	kind;
	uint32_t	has_data;
	uint64_t	move, src, dst, len, off, blen, final, end;
	unsigned char	sum[16];
};

struct plan1 {
	char		magic[8];
	uint64_t	dev, ino, end, final, nmoves;
	unsigned char	sum[16];
};

/* Follows the data: a slot is whole only if its last bytes were written. */
struct trailer {
	uint64_t	seq;
	char		magic[8];
};

/* The kept bytes of an epoch, block by block, in the order they move. */
struct cursor {
	const struct move *mv;
	uint64_t	n;		/* moves */
	uint64_t	i, off;		/* where the next block starts */
	uint64_t	left;		/* bytes of the epoch still to come */
	uint64_t	at;		/* bytes of the epoch already passed */
};

static int
fail(struct journal *j, const char *what)
{
	return fault_sys(j->box->fault, FAULT_TEMP, what);
}

static int
sync_journal(struct journal *j)
{
	if (fdatasync(j->fd) == -1) {
		j->sync_failed = 1;
		return fail(j, "update: journal: fsync");
	}
	return 0;
}

int
journal_open(struct journal *j, struct update_box *box)
{
	memset(j, 0, sizeof(*j));
	j->box = box;
	j->fd = box->spool->session_fd;
	j->version = 2;
	if ((j->buf = malloc(MBOX_BUF_SIZE)) == NULL)
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

/* The header's checksum; pop3d 1.0 summed its shorter header. */
static void
slot_sum(const struct journal *j, const struct slot *s, unsigned char sum[16])
{
	struct slot copy = *s;
	struct slot1 old;
	struct md5 ctx;

	memset(copy.sum, 0, sizeof(copy.sum));
	md5_init(&ctx);
	if (j->version == 1) {
		memcpy(&old, &copy, offsetof(struct slot1, sum));
		memset(old.sum, 0, sizeof(old.sum));
		md5_update(&ctx, &old, sizeof(old));
	} else
		md5_update(&ctx, &copy, sizeof(copy));
	md5_final(&ctx, sum);
}

static size_t
header_size(const struct journal *j)
{
	return j->version == 1 ? sizeof(struct slot1) : sizeof(struct slot);
}

static off_t
slot_at(const struct journal *j, uint64_t seq)
{
	return j->slots + (off_t)(seq % 2) * j->stride;
}

/* Where the slots start, and the size of a journal with this plan. */
static off_t
slots_offset(uint64_t nmoves)
{
	off_t n = (off_t)(sizeof(struct plan) + nmoves * sizeof(struct move));

	return (n + PAGE - 1) / PAGE * PAGE;
}

static off_t
stride_of(uint64_t cap)
{
	off_t n = (off_t)(sizeof(struct slot) + cap + sizeof(struct trailer));

	return (n + PAGE - 1) / PAGE * PAGE;
}

off_t
journal_size(uint64_t nmoves, uint64_t cap)
{
	return slots_offset(nmoves) + 2 * stride_of(cap);
}

/*
 * How many bytes an epoch may carry, for `total` bytes to move and `room`
 * bytes of disk for the journal: EPOCH_MAX, less for a small update, and
 * less again where the disk cannot hold two such slots.  0: not even a
 * slot of one page fits.
 */
uint64_t
journal_capacity(uint64_t nmoves, uint64_t total, uint64_t room)
{
	uint64_t cap, base = (uint64_t)journal_size(nmoves, 0), extra;

	cap = total < EPOCH_MAX ? (total + PAGE - 1) / PAGE * PAGE : EPOCH_MAX;
	if ((uint64_t)journal_size(nmoves, cap) <= room)
		return cap;
	if (room < base)
		return 0;
	/* the smallest slot is a page; beyond it, whole pages */
	extra = (room - base) / 2 / PAGE * PAGE;
	cap = extra + PAGE - sizeof(struct slot) - sizeof(struct trailer);
	return cap < EPOCH_MAX ? cap : EPOCH_MAX;
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

static void
cursor_start(struct cursor *c, const struct move *mv, uint64_t n,
    uint64_t i, uint64_t off, uint64_t len)
{
	c->mv = mv;
	c->n = n;
	c->i = i;
	c->off = off;
	c->left = len;
	c->at = 0;
}

/* The next block: within one move, at most MBOX_BUF_SIZE.  0: no more. */
static int
cursor_next(struct cursor *c, uint64_t *src, uint64_t *dst, size_t *len)
{
	uint64_t l;

	while (c->left > 0 && c->i < c->n) {
		l = c->mv[c->i].len - c->off;
		if (l == 0) {
			c->i++;
			c->off = 0;
			continue;
		}
		if (l > c->left)
			l = c->left;
		if (l > MBOX_BUF_SIZE)
			l = MBOX_BUF_SIZE;
		*src = c->mv[c->i].src + c->off;
		*dst = c->mv[c->i].dst + c->off;
		*len = (size_t)l;
		c->off += l;
		c->left -= l;
		c->at += l;
		return 1;
	}
	return 0;
}

/*
 * Does the epoch overwrite its own source?  Its destination is one run
 * of bytes; its sources lie above it.  If they meet, a power cut could
 * leave some of those bytes neither at their source nor their
 * destination: they go to the journal first.  Bytes below the epoch's
 * sources were moved by earlier epochs, already on disk.
 */
static int
overlaps(const struct move *mv, uint64_t n, uint64_t i, uint64_t off,
    uint64_t len)
{
	uint64_t d0 = mv[i].dst + off, d1 = d0 + len, l;

	for (; len > 0 && i < n; i++, off = 0) {
		l = mv[i].len - off;
		if (l > len)
			l = len;
		/* d1 too: the end marker goes there when the moves are done */
		if (mv[i].src + off <= d1 && mv[i].src + off + l > d0)
			return 1;
		len -= l;
	}
	return 0;
}

/*
 * Write the record of an epoch into its slot: the header, the data when
 * it carries it (read from the mailbox, block by block, and hashed), the
 * trailer.  The caller syncs.
 */
static int
write_record(struct journal *j, struct slot *s, const struct move *mv,
    uint64_t n)
{
	int fd = j->box->spool->fd;
	off_t at = slot_at(j, s->seq), data = at + (off_t)header_size(j);
	struct cursor c;
	struct trailer t;
	struct hash h;
	uint64_t src, dst;
	size_t len;

	hash_init(&h);
	if (s->has_data) {
		cursor_start(&c, mv, n, s->kind == S_TAIL ? 0 : s->move,
		    s->off, s->blen);
		for (uint64_t k = c.at; cursor_next(&c, &src, &dst, &len);
		    k = c.at) {
			if (fileio_read_all(fd, j->buf, len, (off_t)src) == -1)
				return fail(j, "update: read");
			hash_update(&h, j->buf, len);
			if (fileio_write(j->fd, j->buf, len, data + (off_t)k,
			    NULL) == -1)
				return fail(j, "update: journal");
		}
	}
	s->data_sum = hash_final(&h);
	memcpy(s->magic, j->version == 1 ? SLOT_MAGIC_1 : SLOT_MAGIC,
	    sizeof(s->magic));
	slot_sum(j, s, s->sum);
	if (j->version == 1) {
		struct slot1 old;

		memcpy(&old, s, offsetof(struct slot1, sum));
		memcpy(old.sum, s->sum, sizeof(old.sum));
		if (fileio_write(j->fd, &old, sizeof(old), at, NULL) == -1)
			return fail(j, "update: journal");
	} else if (fileio_write(j->fd, s, sizeof(*s), at, NULL) == -1)
		return fail(j, "update: journal");
	t.seq = s->seq;
	memcpy(t.magic, s->magic, sizeof(t.magic));
	if (fileio_write(j->fd, &t, sizeof(t), data + (off_t)(s->has_data ?
	    s->blen : 0), NULL) == -1)
		return fail(j, "update: journal");
	return 0;
}

/*
 * Move an epoch's bytes to their destinations, from the mailbox itself
 * (the blocks go in order, so each source is read before a later block
 * can overwrite it) or, on redo of one that carries its data, from its
 * record.  The caller syncs.
 */
static int
move_epoch(struct journal *j, const struct slot *s, const struct move *mv,
    uint64_t n, int from_record)
{
	struct spool *sp = j->box->spool;
	off_t data = slot_at(j, s->seq) + (off_t)header_size(j);
	struct cursor c;
	uint64_t src, dst;
	size_t len;
	int r;

	cursor_start(&c, mv, n, s->kind == S_TAIL ? 0 : s->move, s->off,
	    s->blen);
	for (uint64_t k = c.at; cursor_next(&c, &src, &dst, &len); k = c.at) {
		spool_touch(sp);
		if (from_record)
			r = fileio_read_all(j->fd, j->buf, len, data + (off_t)k);
		else
			r = fileio_read_all(sp->fd, j->buf, len, (off_t)src);
		if (r == -1)
			return fail(j, from_record ? "update: journal" :
			    "update: read");
		if (write_box(j, j->buf, len, (off_t)dst) == -1)
			return fail(j, "update: write");
	}
	return 0;
}

/*
 * A failed fsync is not trusted, nor simply repeated: the kernel may have
 * dropped the pages it failed to write and report success the second
 * time.  What it covered is written again, then synced once more; a
 * second failure ends the update (the next session finishes it).
 */
static int
sync_failed_once(struct journal *j, int tries, const char *what)
{
	if (tries > 0) {
		j->sync_failed = 1;
		return 0;
	}
	log_msg(LOG_ERR, "%s: %s: fsync: %s; writing it again",
	    j->box->spool->path, what, strerror(errno));
	return 1;
}

static int
record_durably(struct journal *j, struct slot *s, const struct move *mv,
    uint64_t n)
{
	for (int tries = 0;; tries++) {
		if (write_record(j, s, mv, n) == -1)
			return -1;
		if (fdatasync(j->fd) == 0)
			return 0;
		if (!sync_failed_once(j, tries, "journal"))
			return fail(j, "update: journal: fsync");
	}
}

static int
move_durably(struct journal *j, const struct slot *s, const struct move *mv,
    uint64_t n, int from_record)
{
	for (int tries = 0;; tries++) {
		/* again: the sources it overwrote are in its record */
		if (move_epoch(j, s, mv, n, from_record ||
		    (tries > 0 && s->has_data)) == -1)
			return -1;
		if (fdatasync(j->box->spool->fd) == 0)
			return 0;
		if (!sync_failed_once(j, tries, "update"))
			return fail(j, "update: fsync");
	}
}

/*
 * One epoch: its record on disk first (with its data when the move
 * overwrites its own source), then the bytes at their destinations, on
 * disk before the next record may take the place of the one before this.
 * Two syncs an epoch, whatever its size; a slot's capacity bounds it.
 */
static int
run_epoch(struct journal *j, int kind, const struct move *mv, uint64_t n,
    uint64_t idx, uint64_t off, uint64_t len)
{
	struct slot s;

	memset(&s, 0, sizeof(s));
	s.kind = (uint32_t)kind;
	s.seq = ++j->seq;
	s.move = idx;
	if (kind == S_TAIL) {
		s.src = mv[0].src;
		s.dst = mv[0].dst;
		s.len = mv[0].len;
	}
	s.off = off;
	s.blen = len;
	s.has_data = (uint32_t)overlaps(mv, n, kind == S_TAIL ? 0 : idx, off,
	    len);
	if (record_durably(j, &s, mv, n) == -1)
		return -1;
	return move_durably(j, &s, mv, n, 0);
}

/* Kept bytes from (idx, off) to the end of the moves, and the next cut. */
static uint64_t
epoch_len(const struct journal *j, const struct move *mv, uint64_t n,
    uint64_t idx, uint64_t off)
{
	uint64_t len = 0, cap = j->plan.slot_cap;

	for (; idx < n && len < cap; idx++, off = 0)
		len += mv[idx].len - off;
	return len < cap ? len : cap;
}

/* Advance (idx, off) by len kept bytes. */
static void
advance(const struct move *mv, uint64_t n, uint64_t *idx, uint64_t *off,
    uint64_t len)
{
	while (len > 0 && *idx < n) {
		uint64_t l = mv[*idx].len - *off;

		if (l > len) {
			*off += len;
			return;
		}
		len -= l;
		(*idx)++;
		*off = 0;
	}
	while (*idx < n && *off == mv[*idx].len) {
		(*idx)++;
		*off = 0;
	}
}

/* Every epoch from (idx, off) to the end of these moves. */
static int
run_moves(struct journal *j, int kind, const struct move *mv, uint64_t n,
    uint64_t idx, uint64_t off)
{
	uint64_t len;

	advance(mv, n, &idx, &off, 0);
	while (idx < n) {
		len = epoch_len(j, mv, n, idx, off);
		if (run_epoch(j, kind, mv, n, idx, off, len) == -1)
			return -1;
		advance(mv, n, &idx, &off, len);
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
	for (int tries = 0;; tries++) {
		if (ftruncate(j->fd, 0) == -1)
			return fail(j, "update: journal");
		if (fdatasync(j->fd) == 0)
			return 0;
		if (!sync_failed_once(j, tries, "journal"))
			return fail(j, "update: journal: fsync");
	}
}

/* Write n bytes at `at` in the mailbox, or cut it there (p == NULL). */
static int
box_durably(struct journal *j, const void *p, size_t n, off_t at)
{
	for (int tries = 0;; tries++) {
		if (p != NULL && write_box(j, p, n, at) == -1)
			return fail(j, "update: write");
		if (p == NULL && ftruncate(j->box->spool->fd, at) == -1)
			return fail(j, "update: truncate");
		if (fdatasync(j->box->spool->fd) == 0)
			return 0;
		if (!sync_failed_once(j, tries, "update"))
			return fail(j, "update: fsync");
	}
}

/*
 * The moves are done: [0, final) is the mailbox, [final, end) is left
 * over, and anything past end was delivered after a crash.  Bring that
 * down too, then cut: a NUL at the new end, on disk; a MARKED record
 * saying so, on disk; the truncate, on disk; the journal emptied.  After
 * a crash, a NUL at final means the cut has not happened, while mail
 * appended since (starting "From ") means it has.
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
		if (run_moves(j, S_TAIL, &tail, 1, 0, 0) == -1)
			return -1;
		final += tail.len;
		end = (uint64_t)st.st_size;
	}
	if (box_durably(j, "", 1, (off_t)final) == -1)
		return -1;
	memset(&s, 0, sizeof(s));
	s.kind = S_MARKED;
	s.seq = ++j->seq;
	s.final = final;
	s.end = end;
	if (record_durably(j, &s, NULL, 0) == -1 ||
	    box_durably(j, NULL, 0, (off_t)final) == -1)
		return -1;
	return journal_clear(j);
}

/* After a MARKED record: has the cut happened? */
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
	if (box_durably(j, NULL, 0, st.st_size) == -1)
		return -1;
	return journal_clear(j);
}

int
journal_run(struct journal *j, uint64_t idx, uint64_t off)
{
	if (run_moves(j, S_MOVE, j->moves, j->plan.nmoves, idx, off) == -1)
		return -1;
	return finish(j, j->plan.final, j->plan.end);
}

/*
 * Is the record in slot `which` whole: its header and trailer, and for
 * J2 the data it carries, by their checksums?  A torn or stale one is
 * simply not.
 */
static int
read_slot(struct journal *j, int which, struct slot *s)
{
	off_t at = j->slots + (off_t)which * j->stride;
	size_t hs = header_size(j);
	unsigned char sum[16];
	struct slot1 old;
	struct trailer t;
	struct hash h;
	uint64_t left, cap = j->version == 1 ? V1_BLOCK : j->plan.slot_cap;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (j->version == 1) {
		if (fileio_read_all(j->fd, &old, sizeof(old), at) == -1)
			return 0;
		memcpy(s, &old, offsetof(struct slot1, sum));
		memcpy(s->sum, old.sum, sizeof(s->sum));
	} else if (fileio_read_all(j->fd, s, sizeof(*s), at) == -1)
		return 0;
	if (memcmp(s->magic, j->version == 1 ? SLOT_MAGIC_1 : SLOT_MAGIC,
	    sizeof(s->magic)) != 0)
		return 0;
	slot_sum(j, s, sum);
	if (memcmp(sum, s->sum, sizeof(sum)) != 0 || s->blen > cap ||
	    (s->kind != S_MOVE && s->kind != S_TAIL && s->kind != S_MARKED))
		return 0;
	if (fileio_read_all(j->fd, &t, sizeof(t), at + (off_t)hs +
	    (off_t)(s->has_data ? s->blen : 0)) == -1 || t.seq != s->seq ||
	    memcmp(t.magic, s->magic, sizeof(t.magic)) != 0)
		return 0;
	if (j->version == 1)
		return 1;
	hash_init(&h);
	for (left = s->has_data ? s->blen : 0; left > 0; left -= len) {
		len = left < MBOX_BUF_SIZE ? (size_t)left : MBOX_BUF_SIZE;
		if (fileio_read_all(j->fd, j->buf, len, at + (off_t)hs +
		    (off_t)(s->blen - left)) == -1)
			return 0;
		hash_update(&h, j->buf, len);
	}
	return hash_final(&h) == s->data_sum;
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

/* No epoch was recorded yet: the plan's moves must start at messages. */
static int
plan_fits(struct journal *j)
{
	for (uint64_t i = 0; i < j->plan.nmoves; i++)
		if (!boundary_message_starts(j->box->spool->fd,
		    (off_t)j->moves[i].src))
			return 0;
	return 1;
}

/* Redo the newest recorded epoch and carry on from there. */
int
journal_resume(struct journal *j)
{
	struct spool *sp = j->box->spool;
	struct slot s[2], *last = NULL;
	struct move tail;
	struct stat st;
	uint64_t need, idx, off;

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
	if (last->kind == S_MOVE) {
		if (last->move >= j->plan.nmoves) {
			errno = EINVAL;
			return fail(j, "update: journal");
		}
		if (move_durably(j, last, j->moves, j->plan.nmoves,
		    last->has_data != 0) == -1)
			return -1;
		idx = last->move;
		off = last->off;
		advance(j->moves, j->plan.nmoves, &idx, &off, last->blen);
		return journal_run(j, idx, off);
	}
	tail.src = last->src;
	tail.dst = last->dst;
	tail.len = last->len;
	if (move_durably(j, last, &tail, 1, last->has_data != 0) == -1 ||
	    run_moves(j, S_TAIL, &tail, 1, 0, last->off + last->blen) == -1)
		return -1;
	return finish(j, last->dst + last->len, last->src + last->len);
}

/* pop3d 1.0's plan, into ours. */
static int
load_plan1(struct journal *j)
{
	struct plan1 p;
	struct md5 ctx;
	unsigned char sum[16], want[16];

	if (fileio_read_all(j->fd, &p, sizeof(p), 0) == -1)
		return -1;
	memcpy(want, p.sum, sizeof(want));
	memset(p.sum, 0, sizeof(p.sum));
	md5_init(&ctx);
	md5_update(&ctx, &p, sizeof(p));
	md5_update(&ctx, j->moves, p.nmoves * sizeof(*j->moves));
	md5_final(&ctx, sum);
	if (memcmp(sum, want, sizeof(sum)) != 0)
		return -1;
	j->version = 1;
	j->plan.dev = p.dev;
	j->plan.ino = p.ino;
	j->plan.end = p.end;
	j->plan.final = p.final;
	j->plan.nmoves = p.nmoves;
	j->plan.slot_cap = V1_BLOCK;
	j->slots = (off_t)((sizeof(p) + p.nmoves * sizeof(struct move) +
	    PAGE - 1) / PAGE * PAGE);
	j->stride = V1_STRIDE;
	return 0;
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
	char magic[8];
	uint64_t nmoves;
	off_t first;

	if (fileio_read_all(j->fd, magic, sizeof(magic), 0) == -1)
		goto torn;
	if (memcmp(magic, PLAN_MAGIC_1, sizeof(magic)) == 0) {
		first = offsetof(struct plan1, nmoves);
		j->version = 1;
	} else if (memcmp(magic, PLAN_MAGIC, sizeof(magic)) == 0)
		first = offsetof(struct plan, nmoves);
	else
		goto torn;
	if (fileio_read_all(j->fd, &nmoves, sizeof(nmoves), first) == -1 ||
	    nmoves == 0 || nmoves > (uint64_t)size / sizeof(struct move))
		goto torn;
	if ((j->moves = calloc(nmoves + 1, sizeof(*j->moves))) == NULL)
		return fail(j, "update: malloc");
	if (fileio_read_all(j->fd, j->moves, nmoves * sizeof(*j->moves),
	    j->version == 1 ? (off_t)sizeof(struct plan1) :
	    (off_t)sizeof(struct plan)) == -1)
		goto torn;
	if (j->version == 1) {
		if (load_plan1(j) == -1)
			goto torn;
	} else {
		if (fileio_read_all(j->fd, &j->plan, sizeof(j->plan), 0) == -1)
			goto torn;
		plan_sum(&j->plan, j->moves, sum);
		if (memcmp(sum, j->plan.sum, sizeof(sum)) != 0 ||
		    j->plan.slot_cap == 0 || j->plan.slot_cap > EPOCH_MAX)
			goto torn;
		j->slots = slots_offset(j->plan.nmoves);
		j->stride = stride_of(j->plan.slot_cap);
	}
	if (j->plan.dev != box->dev || j->plan.ino != box->ino) {
		log_msg(LOG_WARNING, "%s: journal belongs to another file; "
		    "discarded", box->spool->session_path);
		j->plan.nmoves = 0;
		return 0;
	}
	return 0;
torn:
	/* The plan is synced before the mailbox is touched: nothing to do. */
	log_msg(LOG_NOTICE, "%s: incomplete journal discarded; the mailbox "
	    "was not changed", box->spool->session_path);
	j->version = 2;
	j->plan.nmoves = 0;
	return 0;
}

/*
 * The plan, and room for both slots claimed now: no ENOSPC once the
 * mailbox moves.  On disk, its directory entry too, before the mailbox
 * is touched.  j->plan.slot_cap is set by the caller.
 */
int
journal_write_plan(struct journal *j)
{
	off_t size;
	int e;

	memcpy(j->plan.magic, PLAN_MAGIC, 8);
	plan_sum(&j->plan, j->moves, j->plan.sum);
	j->slots = slots_offset(j->plan.nmoves);
	j->stride = stride_of(j->plan.slot_cap);
	size = journal_size(j->plan.nmoves, j->plan.slot_cap);
	if (ftruncate(j->fd, 0) == -1 ||
	    fileio_write(j->fd, &j->plan, sizeof(j->plan), 0, NULL) == -1 ||
	    fileio_write(j->fd, j->moves, j->plan.nmoves * sizeof(*j->moves),
	    sizeof(j->plan), NULL) == -1)
		return fail(j, "update: journal");
	if ((e = posix_fallocate(j->fd, 0, size)) != 0) {
		errno = e;
		return fail(j, "update: journal");
	}
	if (sync_journal(j) == -1)
		return -1;
	if (spool_sync_dir(j->box->spool) == -1)
		return fail(j, "update: sync the spool directory");
	return 0;
}
