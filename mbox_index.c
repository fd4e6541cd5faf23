/*
 * The index of a mailbox, kept across sessions, so that a poll of an
 * unchanged mailbox reads no mail: what the scan learned (offsets, sizes,
 * octet counts, fingerprints) and the UIDs once computed.
 *
 * It lives in MBOX.pop3d-index beside the mailbox, or under the directory
 * that -i names.  It is written whole to a file of our own and renamed
 * over the old one, so a crash never leaves half an index in its place;
 * and it is trusted only as far as it proves itself:
 *
 *   - a regular file (not a symlink) of the session's user, mode 0600;
 *   - this format and these rules (the fingerprint window, the UIDs);
 *   - its length what its count says, its checksum right, every record
 *     inside the mailbox it describes;
 *   - the mailbox's inode, size, ctime and mtime, to the nanosecond, as
 *     the index recorded them: then it is the mailbox, whole.  (Where the
 *     file system keeps whole seconds only, a mailbox changed within two
 *     seconds of the index is not trusted: a same-size rewrite in the
 *     same second would look the same.)
 *   - if the mailbox only grew, the caller checks every fingerprint and
 *     scans only from the last known message on.
 *
 * Anything else: a full scan, and the index is written again.
 *
 * The format is little-endian throughout, so that an index means the same
 * on every CPU: a header of INDEX_HEAD bytes, then one record of
 * INDEX_REC bytes a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "hash.h"
#include "log.h"
#include "mbox.h"

#define INDEX_MAGIC	"pop3dI1"	/* with its NUL, 8 bytes */
#define INDEX_HEAD	96
#define INDEX_REC	48
/* The rules the records follow: change either, and old indexes go. */
#define INDEX_RULES	((uint32_t)MBOX_UID_RULE << 16 | FP_WINDOW)
/* A file system that keeps whole seconds: a change this close is racy. */
#define RACY_S		2

/* Header fields, by offset. */
enum {
	H_MAGIC = 0, H_RULES = 8, H_INO = 16, H_SIZE = 24,
	H_CTIME = 32, H_CTIME_NS = 40, H_MTIME_NS = 44, H_MTIME = 48,
	H_STATTIME = 56, H_SCANNED = 64, H_COUNT = 72, H_SUM = 88
};

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
encode_msg(unsigned char *p, const struct msg *msg)
{
	put64(p, (uint64_t)msg->from);
	put64(p + 8, (uint64_t)msg->size);
	put64(p + 16, (uint64_t)msg->octets);
	put32(p + 24, msg->from_len);
	put32(p + 28, msg->fp);
	put16(p + 32, msg->xuidl_off);
	p[34] = msg->xuidl_len;
	p[35] = msg->flags & MSG_STORED;
	memcpy(p + 36, msg->uid, UID_BYTES);
}

/*
 * A record, checked against what the scan could have made of a mailbox
 * of `scanned` bytes, after the message that ended at *end.  1: good.
 */
static int
decode_msg(struct msg *msg, const unsigned char *p, uint64_t scanned,
    uint64_t *end, int first)
{
	uint64_t from = get64(p), size = get64(p + 8), octets = get64(p + 16);
	uint32_t from_len = get32(p + 24);

	msg->from = (off_t)from;
	msg->size = (off_t)size;
	msg->octets = (off_t)octets;
	msg->from_len = from_len;
	msg->fp = get32(p + 28);
	msg->xuidl_off = get16(p + 32);
	msg->xuidl_len = p[34];
	msg->flags = p[35];
	memcpy(msg->uid, p + 36, UID_BYTES);
	/* in order, one separator line (LF or CR LF) between two messages */
	if (first ? from != 0 : from < *end + 1 || from > *end + 2)
		return 0;
	if (from_len < 6 || from > scanned || from_len > scanned - from ||
	    size > scanned - from - from_len)
		return 0;
	/* CR LF lines cost what they are; LF lines one more; +2 unended */
	if (octets < size || octets > 2 * size + 2 || msg->flags & ~MSG_STORED)
		return 0;
	if (msg->flags & MSG_XUIDL && (msg->xuidl_len == 0 ||
	    msg->xuidl_len > UID_MAX ||
	    (uint64_t)msg->xuidl_off + msg->xuidl_len > from_len + size))
		return 0;
	*end = from + from_len + size;
	return 1;
}

/* a and b in one malloc(3)ed string; NULL when it cannot be. */
static char *
join(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *p;

	if (na + nb >= PATH_MAX || (p = malloc(na + nb + 1)) == NULL)
		return NULL;
	memcpy(p, a, na);
	memcpy(p + na, b, nb + 1);
	return p;
}

/*
 * The index's name: beside the mailbox; or in dir, named after the
 * mailbox's file name and a hash of its whole path (two users' "jack"
 * in two spools are two indexes).
 */
static char *
index_path(const char *mailbox, const char *dir)
{
	const char *base = strrchr(mailbox, '/');
	char name[NAME_MAX + 1];

	if (dir == NULL)
		return join(mailbox, ".pop3d-index");
	snprintf(name, sizeof(name), "/%.200s.%016llx.pop3d-index",
	    base != NULL ? base + 1 : mailbox, (unsigned long long)
	    hash_bytes(mailbox, strlen(mailbox)));
	return join(dir, name);
}

/* Ours: a regular file of this user, alone, that no one else may read. */
static int
ours(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid() && st.st_nlink == 1 &&
	    (st.st_mode & 077) == 0;
}

/*
 * Make ready to keep an index: its name, and the file it will be written
 * to, created now (before a sandbox would forbid it).  Where neither can
 * be, the session runs without saving one.
 */
void
mbox_index_prepare(struct mbox *m, const char *dir)
{
	int fd;

	if ((m->index_path = index_path(m->spool.path, dir)) == NULL ||
	    (m->index_tmp = join(m->index_path, ".new")) == NULL)
		return;
	/* one session at a time has the mailbox: the name is ours now */
	fd = open(m->index_tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		log_msg(LOG_NOTICE, "%s: cannot create (%s); the mailbox is "
		    "indexed anew in every session", m->index_tmp,
		    strerror(errno));
		return;
	}
	if (!ours(fd)) {
		close(fd);
		log_msg(LOG_WARNING, "%s is not a file of this user alone; "
		    "no index is written", m->index_tmp);
		return;
	}
	m->index_fd = fd;
}

/*
 * Read the index into m: 0 with m->index_use saying how far it may be
 * used (INDEX_NONE: not at all; INDEX_WHOLE: it is the mailbox;
 * INDEX_GROWN: the mailbox is that plus what was appended since, if the
 * fingerprints agree), -1 with m->fault on a failure to allocate.  st is
 * the mailbox now.  whole_only: without the mailbox's lock, only a whole
 * index is of use; the rest waits for the lock.
 */
int
mbox_index_load(struct mbox *m, const struct stat *st, int whole_only)
{
	unsigned char head[INDEX_HEAD], *rec;
	struct stat ist;
	struct hash h;
	uint64_t count, scanned, end = 0, size;
	size_t n, got, i;
	struct msg *msgs = NULL;
	int fd, racy;
	const char *why = NULL;

	m->index_use = INDEX_NONE;
	if (m->index_path == NULL || m->index_refused)
		return 0;
	fd = open(m->index_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			why = strerror(errno);
		goto refuse;
	}
	if (!ours(fd) || fstat(fd, &ist) == -1) {
		why = "not a file of this user alone";
		goto refuse;
	}
	if (fileio_read_all(fd, head, sizeof(head), 0) == -1 ||
	    memcmp(head + H_MAGIC, INDEX_MAGIC, 8) != 0 ||
	    get32(head + H_RULES) != INDEX_RULES) {
		why = "another format or version";
		goto refuse;
	}
	count = get64(head + H_COUNT);
	scanned = get64(head + H_SCANNED);
	size = get64(head + H_SIZE);
	if (count > (uint64_t)(ist.st_size - INDEX_HEAD) / INDEX_REC ||
	    (uint64_t)ist.st_size != INDEX_HEAD + count * INDEX_REC ||
	    scanned > size || count > scanned / 6) {
		why = "truncated or inconsistent";
		goto refuse;
	}
	/* is it about this file, and is it all of it? */
	if (get64(head + H_INO) != (uint64_t)st->st_ino ||
	    (uint64_t)st->st_size < scanned || (count == 0 && scanned > 0))
		goto stale;
	racy = get32(head + H_CTIME_NS) == 0 &&
	    get32(head + H_MTIME_NS) == 0 &&
	    get64(head + H_STATTIME) < get64(head + H_CTIME) + RACY_S;
	if ((uint64_t)st->st_size == size && size == scanned && !racy &&
	    get64(head + H_CTIME) == (uint64_t)st->st_ctim.tv_sec &&
	    get32(head + H_CTIME_NS) == (uint32_t)st->st_ctim.tv_nsec &&
	    get64(head + H_MTIME) == (uint64_t)st->st_mtim.tv_sec &&
	    get32(head + H_MTIME_NS) == (uint32_t)st->st_mtim.tv_nsec)
		m->index_use = INDEX_WHOLE;
	else if ((uint64_t)st->st_size > scanned && count > 0 && !whole_only)
		m->index_use = INDEX_GROWN;
	else
		goto stale;
	if ((msgs = calloc(count + 1, sizeof(*msgs))) == NULL) {
		close(fd);
		m->index_use = INDEX_NONE;
		return fault_sys(&m->fault, FAULT_TEMP, "index: malloc");
	}
	hash_init(&h);
	memset(head + H_SUM, 0, 8);
	hash_update(&h, head, sizeof(head));
	for (i = 0; i < count; i += n) {
		n = count - i < MBOX_BUF_SIZE / INDEX_REC ?
		    (size_t)(count - i) : MBOX_BUF_SIZE / INDEX_REC;
		m->buf_len = 0;
		rec = (unsigned char *)m->buf;
		if (fileio_read_all(fd, rec, n * INDEX_REC, (off_t)(INDEX_HEAD +
		    i * INDEX_REC)) == -1) {
			why = "cannot be read";
			goto refuse;
		}
		hash_update(&h, rec, n * INDEX_REC);
		for (got = 0; got < n; got++)
			if (!decode_msg(&msgs[i + got], rec + got * INDEX_REC,
			    scanned, &end, i + got == 0)) {
				why = "a record that cannot be";
				goto refuse;
			}
	}
	if (end > scanned || scanned - end > 2 ||
	    (fileio_read_all(fd, head, sizeof(head), 0) == -1) ||
	    hash_final(&h) != get64(head + H_SUM)) {
		why = "failing its checksum";
		goto refuse;
	}
	close(fd);
	free(m->msgs);
	m->msgs = msgs;
	m->count = (size_t)count;
	m->scanned = (off_t)scanned;
	/* every digest there, no copies to count: UIDL reads nothing */
	m->uids_ready = 1;
	for (i = 0; i < count; i++)
		if ((msgs[i].flags & (MSG_UID | MSG_COPY)) != MSG_UID)
			m->uids_ready = 0;
	return 0;
refuse:
	if (why != NULL)
		log_msg(LOG_WARNING, "%s: index refused (%s); the mailbox is "
		    "scanned", m->index_path, why);
	m->index_refused = why != NULL;
stale:
	if (fd != -1)
		close(fd);
	free(msgs);
	m->index_use = INDEX_NONE;
	return 0;
}

/*
 * Before the lock goes, with the stat the index will record taken under
 * it: wait until the clock is past that ctime.  A file system stamps a
 * change with a clock that ticks every few milliseconds; a mail reader
 * that takes the lock the moment we let it go and rewrites the file in
 * place, keeping its size, within the same tick would leave inode, size
 * and ctime as recorded, and the index would be trusted for a file it
 * does not describe.  After the tick its change has a later ctime.
 * (A file system of whole seconds is judged at load time instead.)
 */
void
mbox_index_settle(const struct mbox *m)
{
	struct timespec now, nap = { 0, 1000000 };

	if (m->index_fd == -1 || m->ctime.tv_nsec == 0)
		return;
	for (int i = 0; i < 100; i++) {
		if (clock_gettime(CLOCK_REALTIME_COARSE, &now) == -1 ||
		    now.tv_sec > m->ctime.tv_sec ||
		    (now.tv_sec == m->ctime.tv_sec &&
		    now.tv_nsec > m->ctime.tv_nsec))
			return;
		nanosleep(&nap, NULL);
	}
}

/*
 * Write the index of m: the messages as they are in the file now (after
 * an update, where it moved them), and the stat of the file taken when
 * they were read or written under the lock.  To the file made ready at
 * open, then renamed over the old index.  A failure costs the next
 * session a scan, nothing more: it is logged, not reported.
 */
void
mbox_index_save(struct mbox *m)
{
	unsigned char head[INDEX_HEAD], *rec = (unsigned char *)m->buf;
	size_t per = MBOX_BUF_SIZE / INDEX_REC, n = 0, kept = 0;
	struct hash h;
	off_t at = INDEX_HEAD;

	if (m->index_fd == -1 || !m->index_dirty || m->spool.fd == -1 ||
	    rec == NULL)
		return;
	for (size_t i = 0; i < m->count; i++)
		kept += !(m->msgs[i].flags & MSG_DELETED);
	memset(head, 0, sizeof(head));
	memcpy(head + H_MAGIC, INDEX_MAGIC, 8);
	put32(head + H_RULES, INDEX_RULES);
	put64(head + H_INO, (uint64_t)m->ino);
	put64(head + H_SIZE, (uint64_t)m->size);
	put64(head + H_CTIME, (uint64_t)m->ctime.tv_sec);
	put32(head + H_CTIME_NS, (uint32_t)m->ctime.tv_nsec);
	put64(head + H_MTIME, (uint64_t)m->mtime.tv_sec);
	put32(head + H_MTIME_NS, (uint32_t)m->mtime.tv_nsec);
	put64(head + H_STATTIME, (uint64_t)m->stat_time);
	put64(head + H_SCANNED, (uint64_t)m->scanned);
	put64(head + H_COUNT, kept);
	hash_init(&h);
	hash_update(&h, head, sizeof(head));
	m->buf_len = 0;			/* the buffer is ours for a while */
	if (ftruncate(m->index_fd, 0) == -1)
		goto fail;
	for (size_t i = 0; i <= m->count; i++) {
		if (n == per || (i == m->count && n > 0)) {
			hash_update(&h, rec, n * INDEX_REC);
			if (fileio_write(m->index_fd, rec, n * INDEX_REC, at,
			    NULL) == -1)
				goto fail;
			at += (off_t)(n * INDEX_REC);
			n = 0;
		}
		if (i < m->count && !(m->msgs[i].flags & MSG_DELETED))
			encode_msg(rec + n++ * INDEX_REC, &m->msgs[i]);
	}
	put64(head + H_SUM, hash_final(&h));
	/* no fsync: a torn index fails its checksum, and costs a scan */
	if (fileio_write(m->index_fd, head, sizeof(head), 0, NULL) == -1 ||
	    rename(m->index_tmp, m->index_path) == -1)
		goto fail;
	close(m->index_fd);
	m->index_fd = -1;
	m->index_dirty = 0;
	return;
fail:
	log_msg(LOG_NOTICE, "%s: index not written: %s", m->index_tmp,
	    strerror(errno));
}

/* The file made ready for an index that was not written goes. */
void
mbox_index_release(struct mbox *m)
{
	if (m->index_fd != -1) {
		close(m->index_fd);
		(void)unlink(m->index_tmp);
		m->index_fd = -1;
	}
	free(m->index_path);
	free(m->index_tmp);
	m->index_path = NULL;
	m->index_tmp = NULL;
}

/*
 * For the login line: "hit" (the index was the mailbox), "grown" (only
 * mail appended since was scanned), "miss" (a full scan), "none" (no
 * mailbox file).
 */
const char *
mbox_index_state(const struct mbox *m)
{
	if (m->spool.fd == -1)
		return "none";
	return m->index_use == INDEX_WHOLE ? "hit" : m->index_use ==
	    INDEX_GROWN ? "grown" : "miss";
}
