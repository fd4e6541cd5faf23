/*
 * Locks.  Delivery agents on Debian lock a mailbox with fcntl(2) and then a
 * dotlock, MBOX.lock (Debian policy 11.6); we take both, in that order, and
 * only for a scan or an update.  A second POP3 session is kept out by a
 * lock on a file of our own, MBOX.pop3d, held for the whole session:
 * delivery agents never look at it.
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

#include "mbox.h"
#include "pop3d.h"

/* How long we wait for a delivery to finish before giving up. */
#define LOCK_WAIT_MS	10000
#define LOCK_RETRY_MS	50

/*
 * A dotlock older than this is taken to be left by a crashed process and
 * removed; delivery agents hold one for seconds.  liblockfile and procmail
 * use similar ages (5 and 17 minutes).
 */
#define DOTLOCK_STALE_S	300

static void
nap(void)
{
	struct timespec ts = { 0, LOCK_RETRY_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static int
fcntl_lock(int fd, short type, int wait)
{
	struct flock fl;
	int tries = LOCK_WAIT_MS / LOCK_RETRY_MS;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -1;
		if (!wait || tries-- <= 0) {
			errno = EAGAIN;
			return -1;
		}
		nap();
	}
}

/*
 * NFS-safe dotlock: create a uniquely named file beside the mailbox, link
 * it to MBOX.lock, and trust the link count rather than link()'s answer,
 * which NFS may lose.  1: locked; 0: held by someone else; -1: cannot.
 */
static int
dotlock_try(const char *lock, const char *tmp)
{
	struct stat st;
	char pid[32];
	int fd, n;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write(fd, pid, (size_t)n) != n || close(fd) == -1) {
		unlink(tmp);
		return -1;
	}
	if (link(tmp, lock) == -1 && errno != EEXIST && errno != EIO) {
		unlink(tmp);
		return -1;
	}
	n = stat(tmp, &st) == 0 && st.st_nlink == 2;
	unlink(tmp);
	return n;
}

static int
dotlock(struct mbox *m)
{
	char host[HOST_NAME_MAX + 1], *tmp;
	int tries = LOCK_WAIT_MS / LOCK_RETRY_MS, r;
	size_t len = strlen(m->path);
	struct stat st;

	if (m->dotlock_path == NULL) {
		if ((m->dotlock_path = malloc(len + 6)) == NULL)
			return -1;
		snprintf(m->dotlock_path, len + 6, "%s.lock", m->path);
	}
	if (gethostname(host, sizeof(host)) == -1)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	len = len + strlen(host) + 64;
	if ((tmp = malloc(len)) == NULL)
		return -1;
	snprintf(tmp, len, "%s.lock.%s.%ld.%ld", m->path, host,
	    (long)getpid(), (long)time(NULL));
	for (;;) {
		if ((r = dotlock_try(m->dotlock_path, tmp)) != 0)
			break;
		if (stat(m->dotlock_path, &st) == 0 &&
		    time(NULL) - st.st_mtime > DOTLOCK_STALE_S) {
			log_msg(LOG_WARNING, "%s: removing stale lock, "
			    "%ld seconds old", m->dotlock_path,
			    (long)(time(NULL) - st.st_mtime));
			unlink(m->dotlock_path);
			continue;
		}
		if (tries-- <= 0) {
			errno = EAGAIN;
			r = -2;
			break;
		}
		nap();
	}
	free(tmp);
	return r;
}

int
mbox_lock(struct mbox *m)
{
	static int warned;
	int r;

	if (fcntl_lock(m->fd, F_WRLCK, 1) == -1) {
		snprintf(m->reason, sizeof(m->reason), "fcntl lock: %s",
		    errno == EAGAIN ? "held by another process" :
		    strerror(errno));
		return errno == EAGAIN ? MBOX_INUSE : MBOX_TEMP;
	}
	r = dotlock(m);
	if (r == 1) {
		m->dotlocked = 1;
		return MBOX_OK;
	}
	if (r == -2) {
		fcntl_lock(m->fd, F_UNLCK, 0);
		snprintf(m->reason, sizeof(m->reason), "%s is held",
		    m->dotlock_path);
		return MBOX_INUSE;
	}
	/* The spool directory is not ours to write: fcntl must do. */
	if (!warned++)
		log_msg(LOG_NOTICE, "%s: cannot create (%s); locking with "
		    "fcntl only", m->dotlock_path ? m->dotlock_path : m->path,
		    strerror(errno));
	return MBOX_OK;
}

void
mbox_unlock(struct mbox *m)
{
	if (m->dotlocked)
		unlink(m->dotlock_path);
	m->dotlocked = 0;
	fcntl_lock(m->fd, F_UNLCK, 0);
}

/*
 * The session lock.  The file may be removed by the session that ends (so
 * the spool does not fill with them); whoever locked an unlinked file
 * tries again, so two sessions never both believe they hold it.
 */
int
mbox_session_lock(struct mbox *m)
{
	size_t len = strlen(m->path) + 7;
	struct stat a, b;

	if ((m->session_path = malloc(len)) == NULL)
		return MBOX_TEMP;
	snprintf(m->session_path, len, "%s.pop3d", m->path);
	for (int tries = 0; tries < 10; tries++) {
		m->session_fd = open(m->session_path, O_RDWR | O_CREAT |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (m->session_fd == -1) {
			log_msg(LOG_NOTICE, "%s: cannot create (%s); a second "
			    "session is not detected and deletions that move "
			    "mail are refused", m->session_path,
			    strerror(errno));
			return MBOX_OK;
		}
		if (fcntl_lock(m->session_fd, F_WRLCK, 0) == -1) {
			snprintf(m->reason, sizeof(m->reason),
			    "another session has this mailbox");
			close(m->session_fd);
			m->session_fd = -1;
			return errno == EAGAIN ? MBOX_INUSE : MBOX_TEMP;
		}
		if (fstat(m->session_fd, &a) == 0 &&
		    stat(m->session_path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return MBOX_OK;
		close(m->session_fd);
		m->session_fd = -1;
	}
	snprintf(m->reason, sizeof(m->reason), "%s keeps changing",
	    m->session_path);
	return MBOX_TEMP;
}
