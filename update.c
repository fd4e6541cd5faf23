/*
 * UPDATE: apply the session's deletions to the mailbox in place.
 *
 * The file is rewritten where it is, not renamed over: a delivery agent may
 * hold it open.  Kept data after the first deleted message moves towards
 * the start and the file is cut to its new length.  Deleting only trailing
 * messages, or all of them, is a single truncate: no journal, no free
 * space needed.
 *
 * The moves run under a redo journal in MBOX.pop3d, the file whose lock
 * marks the session (journal.c), and survive a power cut as well as a
 * kill -9.  The model (ALICE, CrashMonkey): after a crash a file holds
 * what was written before its last completed fsync, plus any subset of
 * the pages written since; a new directory entry needs its directory
 * synced.  So nothing that a write would overwrite is trusted to the page
 * cache alone:
 *
 *   plan    the moves, the old size (end) and the new (final), and room
 *           for two records, synced with the directory before the mailbox
 *           is touched;
 *   epochs  the moves are cut into epochs of at most slot_cap bytes.  An
 *           epoch's record (carrying its bytes when its destination
 *           overlaps its source) is synced, then its bytes are written to
 *           their destination and synced, before the next record may take
 *           the place of the one before.  Recovery redoes the newest whole
 *           record (checksums tell a torn one) and goes on from there.
 *   cut     a NUL at the new end, synced; a MARKED record, synced; the
 *           truncate, synced; the journal emptied, synced.  After a crash
 *           a NUL at the new end means the cut has not happened, while
 *           mail appended since (starting "From ") means it has; mail
 *           delivered after a crash, behind the leftover bytes, is moved
 *           down the same way (TAIL records) before the cut.
 *
 * Two syncs an epoch: a 1 GB update with 8 MB epochs makes a few hundred.
 * With little free space the epochs shrink to what the disk holds: 64 KB
 * free is enough for any deletion.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "params.h"

#include "journal.h"
#include "log.h"
#include "update.h"

/* Only trailing messages go: one truncate, nothing to redo. */
static int
truncate_only(struct update_box *box, uint64_t first)
{
	if (ftruncate(box->spool->fd, (off_t)first) == -1)
		return fault_sys(box->fault, FAULT_TEMP, "update: truncate");
	if (fdatasync(box->spool->fd) == -1)
		return fault_sys(box->fault, FAULT_TEMP, "update: fsync");
	return 0;
}

/*
 * In words a user understands: the disk is full, and what still works.
 * need and room when we measured them; else the error the write met.
 */
static int
disk_full(struct update_box *box, uint64_t need, uint64_t room)
{
	char why[sizeof(box->fault->text)];

	if (need > 0)
		snprintf(why, sizeof(why), "%llu KB needed, %llu KB free",
		    (unsigned long long)(need + 1023) / 1024,
		    (unsigned long long)room / 1024);
	else
		snprintf(why, sizeof(why), "%s", box->fault->text);
	return fault_set(box->fault, FAULT_TEMP, "the disk is full: not "
	    "enough free space to delete these messages safely (%s); "
	    "deleting only the newest messages needs none", why);
}

/*
 * Bytes the journal may take: what the file system has free, plus what
 * the journal file holds already (it is emptied first).
 */
static uint64_t
journal_room(int fd)
{
	struct statvfs v;
	struct stat st;
	uint64_t room;

	if (fstatvfs(fd, &v) == -1)
		return UINT64_MAX;	/* ask the writes themselves */
	room = (uint64_t)v.f_bavail * v.f_frsize;
	if (fstat(fd, &st) == 0)
		room += (uint64_t)st.st_blocks * 512;
	return room;
}

static int
run_journaled(struct journal *j)
{
	struct update_box *box = j->box;
	struct fault *f = box->fault;
	uint64_t room = journal_room(j->fd), total = 0;
	int r;

	for (uint64_t i = 0; i < j->plan.nmoves; i++)
		total += j->moves[i].len;
	if ((j->plan.slot_cap = journal_capacity(j->plan.nmoves, total,
	    room)) == 0)
		return disk_full(box, (uint64_t)journal_size(j->plan.nmoves,
		    4096), room);
	if (journal_write_plan(j) == -1) {
		if (errno == ENOSPC || errno == EDQUOT)
			disk_full(box, 0, 0);
		if (ftruncate(j->fd, 0) == -1)
			log_msg(LOG_ERR, "%s: %s", box->spool->session_path,
			    strerror(errno));
		return -1;
	}
	r = journal_run(j, 0, 0);
	if (r == -1 && !j->sync_failed) {
		/*
		 * A failed write: the journal can finish the update, so try
		 * once more now rather than leave the mailbox half moved
		 * until the next session.  A failed fsync is not retried: a
		 * second one may succeed having lost the data (the error is
		 * reported once), and +OK would then be a lie.
		 */
		log_msg(LOG_ERR, "%s: %s; retrying from the journal",
		    box->spool->path, f->text);
		j->seq = 0;
		if ((r = journal_resume(j)) == 0 && j->abandoned)
			r = fault_set(f, FAULT_TEMP, "update: mailbox changed "
			    "under the lock; stopped");
		else if (r == 0)
			log_msg(LOG_NOTICE, "%s: update finished from the "
			    "journal", box->spool->path);
	}
	if (r == -1 && !j->touched && ftruncate(j->fd, 0) == 0) {
		/* nothing was written to the mailbox: drop the plan too */
		log_msg(LOG_ERR, "%s: %s; nothing deleted", box->spool->path,
		    f->text);
		strncat(f->text, "; nothing deleted", sizeof(f->text) -
		    strlen(f->text) - 1);
	} else if (r == -1)
		log_msg(LOG_ERR, "%s: %s; the next session finishes the update",
		    box->spool->path, f->text);
	return r;
}

/*
 * Make the cut, with the mailbox locked.  0: done and on disk; -1: not
 * done (the fault says whether the next session finishes it).
 */
int
update_run(struct update_box *box, const struct cut *cut)
{
	struct journal j;
	int r;

	if (cut->nmoves == 0)
		return truncate_only(box, cut->first);
	if (box->spool->session_fd == -1) {
		errno = EACCES;
		return fault_sys(box->fault, FAULT_TEMP,
		    "update: no journal (see the log)");
	}
	if (journal_open(&j, box) == -1)
		return -1;
	j.plan.dev = box->dev;
	j.plan.ino = box->ino;
	j.plan.end = cut->end;
	j.plan.final = cut->final;
	j.plan.nmoves = cut->nmoves;
	j.moves = cut->moves;
	r = run_journaled(&j);
	j.moves = NULL;		/* the caller's */
	journal_close(&j);
	return r;
}

/*
 * Called with the mailbox locked, before the scan: finish whatever update
 * a crash interrupted.
 */
int
update_recover(struct update_box *box)
{
	struct spool *sp = box->spool;
	struct journal j;
	struct stat jst;
	int r;

	if (sp->session_fd == -1)
		return 0;
	if (fstat(sp->session_fd, &jst) == -1)
		return fault_sys(box->fault, FAULT_TEMP, "update: journal");
	if (jst.st_size == 0)
		return 0;		/* the usual case: nothing to finish */
	if (journal_open(&j, box) == -1)
		return -1;
	r = journal_load(&j, jst.st_size);
	if (r == 0 && j.plan.nmoves > 0) {
		log_msg(LOG_NOTICE, "%s: finishing an interrupted update",
		    sp->path);
		r = journal_resume(&j);
		if (r == 0 && !j.abandoned)
			log_msg(LOG_NOTICE, "%s: interrupted update finished",
			    sp->path);
	} else if (r == 0)
		r = journal_clear(&j);
	journal_close(&j);
	if (r == -1) {
		log_msg(LOG_ERR, "%s: %s", sp->path, box->fault->text);
		box->fault->code = FAULT_TEMP;
	}
	return r;
}
