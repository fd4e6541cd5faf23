/*
 * The update: QUIT's deletions applied to the mailbox in place, under a
 * redo journal, and the recovery that finishes an update a crash
 * interrupted.  The mailbox layer decides what moves; this layer moves it
 * so that no crash loses a byte.
 */
#ifndef UPDATE_H
#define UPDATE_H

#include <stdint.h>

#include "fault.h"
#include "spool.h"

/* Kept bytes moving down the file: len bytes from src to dst (dst < src). */
struct move {
	uint64_t	src, dst, len;
};

/* The mailbox as the update sees it. */
struct update_box {
	struct spool	*spool;		/* the file, its locks, the journal */
	uint64_t	dev, ino;	/* the file a journal may speak of */
	struct fault	*fault;		/* why a call failed */
};

/* What QUIT asks for. */
struct cut {
	uint64_t	first;		/* where the first deleted message starts */
	uint64_t	end;		/* the file's size now */
	uint64_t	final;		/* its size after the moves */
	struct move	*moves;		/* none: truncate at first */
	uint64_t	nmoves;
};

int	update_run(struct update_box *, const struct cut *);
int	update_recover(struct update_box *);

#endif
