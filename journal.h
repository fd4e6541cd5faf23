/*
 * The update's journal, shared by update.c (which plans an update and
 * checks the mailbox) and journal.c (which records and replays the moves).
 * Not part of the mailbox interface: mbox.h and update.h are.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "mbox.h"

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

/* update.c */
int	update_fail(struct mbox *, const char *);
int	update_write(int, const void *, size_t, off_t);
int	update_after_empty_line(struct mbox *, off_t);
int	update_message_starts(struct mbox *, off_t);
int	update_separator_len(struct mbox *, off_t, off_t);

/* journal.c */
int	journal_write_plan(struct journal *);
int	journal_run(struct journal *, uint64_t, uint64_t);
int	journal_resume(struct journal *);

#endif
