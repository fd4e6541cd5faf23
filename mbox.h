/*
 * The mailbox: open, lock, scan into a small index, stream messages out,
 * and apply deletions in a crash-safe update.  Every byte of mailbox I/O
 * happens behind this interface.
 */
#ifndef MBOX_H
#define MBOX_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct out;

/* Results of the calls below, mapped by the session onto RFC 3206 codes. */
#define MBOX_OK		0
#define MBOX_INUSE	1	/* another session holds it: [IN-USE] */
#define MBOX_TEMP	2	/* lock timeout, I/O error, changed: [SYS/TEMP] */
#define MBOX_PERM	3	/* not an mbox, not a file, no access: [SYS/PERM] */

#define MSG_DELETED	0x01
#define MSG_NOEOL	0x02	/* the file ends inside its last line */
#define MSG_XUIDL	0x04	/* uid comes from its X-UIDL header */

#define UID_MAX		70	/* RFC 1939: 1 to 70 characters */
#define UID_BYTES	12	/* 96 bits of MD5: 24 hex digits, and unique */

/* Scan, stream and update in 128 KB pieces: few syscalls, small RSS. */
#ifndef MBOX_BUF_SIZE		/* the fuzz build uses 256 to reach the edges */
#define MBOX_BUF_SIZE	(128 * 1024)
#endif

/* One message: 48 bytes, the only per-message memory we keep. */
struct msg {
	off_t		from;		/* offset of its From_ line */
	off_t		size;		/* bytes after the From_ line, as stored */
	off_t		octets;		/* what RETR sends: CRLF ends, unstuffed */
	uint32_t	from_len;	/* the From_ line with its newline */
	uint32_t	xuidl_off;	/* X-UIDL value, from the message start */
	uint8_t		xuidl_len;
	uint8_t		flags;
	unsigned char	uid[UID_BYTES];	/* digest of From_ line and headers */
};

struct mbox {
	const char	*path;
	int		fd;		/* -1: no file, an empty mailbox */
	int		session_fd;	/* PATH.pop3d: session lock and journal */
	char		*session_path;
	int		dotlocked;
	char		*dotlock_path;
	time_t		dotlock_touched;	/* renewed while held */
	struct msg	*msgs;
	size_t		count;
	off_t		scanned;	/* file size the index describes */
	dev_t		dev;
	ino_t		ino;
	struct timespec	mtime;		/* as seen when scanned */
	struct timespec	ctime;
	char		reason[256];	/* why the last call failed */
	char		*buf;		/* I/O buffer: scan, stream, update */
	off_t		buf_off;	/* what it holds for streaming */
	size_t		buf_len;	/* 0: nothing (the scan used it) */
	int		uids_ready;	/* computed on the first UIDL */
};

int	mbox_open(struct mbox *, const char *);
void	mbox_close(struct mbox *);
int	mbox_send(struct mbox *, size_t, int, uint64_t, struct out *);
int	mbox_read(int, void *, size_t, off_t);
const char *mbox_peek(struct mbox *, off_t, size_t, size_t *);

/* mbox_uid.c */
int	mbox_uid(struct mbox *, size_t, char[UID_MAX + 1]);
int	mbox_update(struct mbox *);

/* mbox_lock.c */
int	mbox_lock(struct mbox *);
void	mbox_unlock(struct mbox *);
void	mbox_lock_touch(struct mbox *);
int	mbox_session_lock(struct mbox *);

/* mbox_scan.c */
int	mbox_scan(struct mbox *);

#endif
