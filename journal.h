/*
 * The update's redo journal in MBOX.pop3d: its records, and replaying
 * them.  Private to the update layer: update.c is its only caller.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdint.h>
#include <sys/types.h>

#include "update.h"

/* At offset 0, with the moves after it; on disk before the mailbox moves. */
struct plan {
	char		magic[8];
	uint64_t	dev, ino;
	uint64_t	end;		/* mailbox size the plan covers */
	uint64_t	final;		/* size once the moves are done */
	uint64_t	nmoves;
	uint64_t	slot_cap;	/* data bytes a slot holds */
	unsigned char	sum[16];	/* md5 of this, sum zeroed, and moves */
};

struct journal {
	struct update_box *box;
	int		fd;
	int		version;	/* 2; 1: left by pop3d 1.0 */
	struct plan	plan;
	struct move	*moves;
	char		*buf;		/* MBOX_BUF_SIZE: blocks in transit */
	off_t		slots;		/* offset of slot 0 */
	off_t		stride;		/* from one slot to the next */
	uint64_t	seq;
	int		sync_failed;	/* fsync failed: never retried */
	int		abandoned;	/* journal did not fit the mailbox */
	int		touched;	/* the mailbox was written to */
};

int	journal_open(struct journal *, struct update_box *);
void	journal_close(struct journal *);
int	journal_write_plan(struct journal *);
int	journal_run(struct journal *, uint64_t, uint64_t);
int	journal_load(struct journal *, off_t);
int	journal_resume(struct journal *);
int	journal_clear(struct journal *);
off_t	journal_size(uint64_t, uint64_t);
uint64_t journal_capacity(uint64_t, uint64_t, uint64_t);

#endif
