/*
 * UPDATE: apply the session's deletions to the mailbox in place.
 *
 * The file is rewritten where it is, not renamed over: a delivery agent may
 * hold it open.  Kept data after the first deleted message moves towards
 * the start, one block at a time, and the file is cut to its new length.
 * Deleting only trailing messages, or all of them, is a single truncate.
 *
 * Crash safety comes from a redo journal in MBOX.pop3d, the file whose lock
 * marks the session (journal.c):
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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int
run_journaled(struct journal *j)
{
	struct update_box *box = j->box;
	struct fault *f = box->fault;
	int r;

	if (journal_write_plan(j) == -1) {
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
