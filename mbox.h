/*
 * The mailbox: open it (lock, recover an interrupted update, scan), hand
 * out the bytes of its messages, compute their UIDs, and apply QUIT's
 * deletions.  It knows the mbox format, not POP3: what goes on the wire
 * is the session's business.
 */
#ifndef MBOX_H
#define MBOX_H

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "fault.h"
#include "params.h"
#include "spool.h"

#define MSG_DELETED	0x01
#define MSG_NOEOL	0x02	/* the file ends inside its last line */
#define MSG_XUIDL	0x04	/* uid comes from its X-UIDL header */
#define MSG_UID		0x08	/* uid holds its digest */
#define MSG_COPY	0x10	/* a later copy: its UID is in m->copies */
/* What the index keeps of the flags (DELETED is the session's). */
#define MSG_STORED	(MSG_NOEOL | MSG_XUIDL | MSG_UID | MSG_COPY)

/*
 * The UID rule (mbox_uid.c): an index whose UIDs were made by another
 * rule is not used.  2: CR before LF left out, bodies without Message-ID.
 */
#define MBOX_UID_RULE	2

/* One message: 48 bytes, the only per-message memory we keep. */
struct msg {
	off_t		from;		/* offset of its From_ line */
	off_t		size;		/* bytes after the From_ line, as stored */
	off_t		octets;		/* what RETR sends: CRLF ends, unstuffed */
	uint32_t	from_len;	/* the From_ line with its newline */
	uint32_t	fp;		/* fingerprint: mbox_fingerprint() */
	uint16_t	xuidl_off;	/* X-UIDL value, from the message start */
	uint8_t		xuidl_len;
	uint8_t		flags;
	unsigned char	uid[UID_BYTES];	/* digest: see mbox_uid.c */
};

/* A later copy of a message and its UID (the digest of (uid, k)). */
struct copy {
	uint32_t	i;
	unsigned char	uid[UID_BYTES];
};

/* How far an index on disk may be used (mbox_index.c). */
enum index_use { INDEX_NONE, INDEX_WHOLE, INDEX_GROWN };

struct mbox {
	struct spool	spool;		/* the file and its locks */
	struct fault	fault;		/* why the last call failed */
	struct msg	*msgs;
	size_t		count;
	off_t		scanned;	/* file size the index describes */
	dev_t		dev;
	ino_t		ino;
	struct timespec	mtime;		/* as seen when scanned */
	struct timespec	ctime;
	char		*buf;		/* MBOX_BUF_SIZE: scan, then a cache */
	off_t		buf_off;	/* what it holds for reading */
	size_t		buf_len;	/* 0: nothing (the scan used it) */
	int		uids_ready;	/* computed on the first UIDL */
	struct copy	*copies;	/* later copies' UIDs, in file order */
	size_t		ncopies;
	/* the index across sessions (mbox_index.c) */
	char		*index_path;
	char		*index_tmp;	/* written here, renamed over it */
	int		index_fd;	/* index_tmp, open; -1: none kept */
	enum index_use	index_use;
	int		index_dirty;	/* something to save */
	int		index_refused;	/* said once why; not read again */
	off_t		size;		/* the file's size with the stat below */
	time_t		stat_time;	/* when that stat was taken */
};

/*
 * Every call that can fail returns 0, or -1 with m->fault saying why
 * (mbox_peek: NULL).
 */
void	mbox_init(struct mbox *);
int	mbox_open(struct mbox *, const char *, const char *);
void	mbox_close(struct mbox *);
size_t	mbox_name_dirs(const struct mbox *, char [][PATH_MAX]);
void	mbox_totals(const struct mbox *, size_t *, uint64_t *);
void	mbox_span(const struct mbox *, size_t, off_t *, off_t *);
const char *mbox_peek(struct mbox *, off_t, size_t, size_t *);
int	mbox_check(struct mbox *, size_t, int);
int	mbox_check_all(struct mbox *);
int	mbox_uid(struct mbox *, size_t, char[UID_MAX + 1]);
int	mbox_update(struct mbox *);

/* Within the mailbox layer. */
int	mbox_scan(struct mbox *, size_t);
uint32_t mbox_fingerprint(const char *, size_t);
int	mbox_intact(struct mbox *, size_t);
int	mbox_verify_tail(struct mbox *, size_t, off_t *);
void	mbox_index_prepare(struct mbox *, const char *);
int	mbox_index_load(struct mbox *, const struct stat *, int);
void	mbox_index_save(struct mbox *);
void	mbox_index_settle(const struct mbox *);
void	mbox_index_release(struct mbox *);
const char *mbox_index_state(const struct mbox *);

#endif
