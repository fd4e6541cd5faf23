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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mbox.h"
#include "pop3d.h"

/*
 * How long a scan or an update waits for a delivery to finish.  Both locks
 * are polled without blocking, so the wait is bounded and a delivery agent
 * that takes them in the other order (procmail: dotlock, then fcntl) is
 * never left waiting on us while we wait on it.
 */
#define LOCK_WAIT_MS	10000
#define LOCK_RETRY_MS	50

/*
 * A dotlock older than this is taken to be left by a crashed process and
 * removed; delivery agents hold one for seconds.  liblockfile and procmail
 * use similar ages (5 and 17 minutes).  The age is measured with the file
 * server's clock: our own temporary file's mtime, as liblockfile does.
 */
#define DOTLOCK_STALE_S	300

/* While we hold a dotlock this long, its mtime is renewed (liblockfile). */
#define DOTLOCK_TOUCH_S	60

/* This host's name, for dotlock contents and temporary names. */
static const char *
host_name(void)
{
	static char host[HOST_NAME_MAX + 1];

	if (host[0] == '\0' && (gethostname(host, sizeof(host)) == -1 ||
	    host[0] == '\0'))
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	return host;
}

static void
nap(void)
{
	struct timespec ts = { 0, LOCK_RETRY_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static long
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
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
 * which NFS may lose.  *now gets the server's time, from the new file.
 * 1: locked; 0: held by someone else; -1: cannot (errno says why).
 */
static int
dotlock_try(const char *lock, const char *tmp, time_t *now)
{
	struct stat st;
	char pid[HOST_NAME_MAX + 48];
	int fd, n, e;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 && errno == EEXIST) {
		/* our unique name: left by a crashed process with our pid */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd == -1)
		return -1;
	n = snprintf(pid, sizeof(pid), "%ld pop3d %s\n", (long)getpid(),
	    host_name());
	if (n < 0 || (size_t)n >= sizeof(pid))
		n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (write(fd, pid, (size_t)n) != n || fstat(fd, &st) == -1) {
		n = errno;
		close(fd);
		unlink(tmp);
		errno = n;
		return -1;
	}
	*now = st.st_mtime;
	e = 0;
	if (close(fd) == -1 || (link(tmp, lock) == -1 &&
	    (e = errno) != EEXIST && e != EIO)) {
		n = errno;
		unlink(tmp);
		errno = n;
		return -1;
	}
	n = stat(tmp, &st) == 0 && st.st_nlink == 2;
	unlink(tmp);
	if (n == 0 && e == EIO && lstat(lock, &st) == -1 && errno == ENOENT) {
		errno = EIO;	/* not busy: link(2) itself fails */
		return -1;
	}
	return n;
}

/*
 * Remove the dotlock if it is what st describes, looked at again: a lock
 * that someone else broke and took meanwhile is very unlikely to be
 * removed too.
 */
static int
break_lock(struct mbox *m, const struct stat *st, const char *why)
{
	struct stat again;

	if (lstat(m->dotlock_path, &again) == -1 ||
	    again.st_ino != st->st_ino || again.st_dev != st->st_dev ||
	    again.st_mtime != st->st_mtime)
		return 0;
	if (unlink(m->dotlock_path) == -1) {
		log_msg(LOG_WARNING, "%s: cannot remove %s: %s",
		    m->dotlock_path, why, strerror(errno));
		return 0;
	}
	log_msg(LOG_WARNING, "%s: removed %s", m->dotlock_path, why);
	return 1;
}

/*
 * Is the dotlock one that a pop3d session left when it was killed?  Ours
 * say "PID pop3d HOST"; one from this host whose process is gone, found
 * while we hold the session lock (no live session can then hold the
 * dotlock), is taken at once.  Without this, a session killed during an
 * update would keep mail out for DOTLOCK_STALE_S.  A lock from another
 * host waits for its age: its process cannot be looked at from here.
 */
static int
left_by_dead_session(struct mbox *m)
{
	char b[HOST_NAME_MAX + 48], *p;
	size_t hl = strlen(host_name());
	ssize_t n;
	long pid;
	int fd;

	if (m->session_fd == -1)
		return 0;
	fd = open(m->dotlock_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	b[n] = '\0';
	pid = strtol(b, &p, 10);
	if (p == b || pid <= 0 || strncmp(p, " pop3d ", 7) != 0 ||
	    strncmp(p + 7, host_name(), hl) != 0 ||
	    strcmp(p + 7 + hl, "\n") != 0)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* A busy dotlock: may it be broken? */
static int
break_stale(struct mbox *m, time_t now)
{
	char why[96];
	struct stat st;

	if (lstat(m->dotlock_path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (now - st.st_mtime > DOTLOCK_STALE_S) {
		snprintf(why, sizeof(why), "stale lock, %ld seconds old "
		    "(older than %d)", (long)(now - st.st_mtime),
		    DOTLOCK_STALE_S);
		return break_lock(m, &st, why);
	}
	if (left_by_dead_session(m))
		return break_lock(m, &st, "lock left by a pop3d session that "
		    "was killed");
	return 0;
}

/* One attempt at the dotlock, breaking a stale one. */
static int
dotlock(struct mbox *m)
{
	size_t len = strlen(m->path);
	char *tmp;
	time_t now = 0;
	int r;

	if (m->dotlock_path == NULL) {
		if ((m->dotlock_path = malloc(len + 6)) == NULL)
			return -1;
		snprintf(m->dotlock_path, len + 6, "%s.lock", m->path);
	}
	len = len + strlen(host_name()) + 64;
	if ((tmp = malloc(len)) == NULL)
		return -1;
	snprintf(tmp, len, "%s.lock.%s.%ld.%ld", m->path, host_name(),
	    (long)getpid(), (long)time(NULL));
	r = dotlock_try(m->dotlock_path, tmp, &now);
	if (r == 0 && break_stale(m, now))
		r = dotlock_try(m->dotlock_path, tmp, &now);
	free(tmp);
	return r;
}

/*
 * fcntl(2) on the whole file, then the dotlock, as Debian policy 11.6
 * orders them.  If the dotlock is busy the fcntl lock is let go before we
 * wait: its holder may be waiting for the fcntl lock (procmail takes them
 * the other way round).  Lock timeouts are [SYS/TEMP]: worth retrying.
 */
int
mbox_lock(struct mbox *m)
{
	static int warned;
	struct timespec start;
	const char *held;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (fcntl_lock(m->fd, F_WRLCK, 0) == 0) {
			r = dotlock(m);
			if (r == 1) {
				m->dotlocked = 1;
				m->dotlock_touched = time(NULL);
				return MBOX_OK;
			}
			if (r == -1)
				break;
			fcntl_lock(m->fd, F_UNLCK, 0);
			held = m->dotlock_path;
		} else if (errno == EAGAIN)
			held = "its fcntl lock";
		else {
			snprintf(m->reason, sizeof(m->reason), "fcntl lock: %s",
			    strerror(errno));
			return MBOX_TEMP;
		}
		if (elapsed_ms(&start) >= LOCK_WAIT_MS) {
			snprintf(m->reason, sizeof(m->reason), "mailbox locked "
			    "by another process (%s) for %d seconds; try "
			    "again later", held, LOCK_WAIT_MS / 1000);
			return MBOX_TEMP;
		}
		nap();
	}
	/*
	 * The spool directory is not ours to write (Debian's /var/mail is
	 * root:mail 2775): fcntl must do, and every delivery agent that
	 * follows Debian policy takes it too.
	 */
	if (!warned++)
		log_msg(LOG_NOTICE, "%s: cannot create the dotlock (%s); "
		    "locking the mailbox with fcntl only",
		    m->dotlock_path ? m->dotlock_path : m->path,
		    strerror(errno));
	return MBOX_OK;
}

/* During a long scan or update: keep our dotlock from looking stale. */
void
mbox_lock_touch(struct mbox *m)
{
	time_t now;

	if (!m->dotlocked || (now = time(NULL)) - m->dotlock_touched <
	    DOTLOCK_TOUCH_S)
		return;
	if (utimensat(AT_FDCWD, m->dotlock_path, NULL, 0) == -1)
		log_msg(LOG_WARNING, "%s: cannot renew the lock: %s",
		    m->dotlock_path, strerror(errno));
	m->dotlock_touched = now;
}

void
mbox_unlock(struct mbox *m)
{
	if (m->dotlocked && unlink(m->dotlock_path) == -1 && errno != ENOENT)
		log_msg(LOG_ERR, "%s: cannot remove the lock (%s); it is "
		    "taken as stale after %d seconds", m->dotlock_path,
		    strerror(errno), DOTLOCK_STALE_S);
	m->dotlocked = 0;
	fcntl_lock(m->fd, F_UNLCK, 0);
}

/*
 * The session lock.  The file may be removed by the session that ends (so
 * the spool does not fill with them); whoever locked an unlinked file
 * tries again, so two sessions never both believe they hold it.  It holds
 * the update journal too, so it must be ours: one planted by another user
 * in a shared spool could otherwise tell us to move mail around.
 */
int
mbox_session_lock(struct mbox *m)
{
	size_t len = strlen(m->path) + 7;
	struct stat a, b, box;
	int e;

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
			e = errno;
			snprintf(m->reason, sizeof(m->reason),
			    "another session has this mailbox");
			close(m->session_fd);
			m->session_fd = -1;
			return e == EAGAIN ? MBOX_INUSE : MBOX_TEMP;
		}
		if (fstat(m->session_fd, &a) == 0 &&
		    stat(m->session_path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(m->session_fd);
		m->session_fd = -1;
	}
	if (m->session_fd == -1) {
		snprintf(m->reason, sizeof(m->reason), "%s keeps changing",
		    m->session_path);
		return MBOX_TEMP;
	}
	if (!S_ISREG(a.st_mode) || (a.st_uid != geteuid() && (fstat(m->fd,
	    &box) == -1 || a.st_uid != box.st_uid))) {
		snprintf(m->reason, sizeof(m->reason), "%s belongs to uid %ld,"
		    " neither us nor the mailbox owner; remove it",
		    m->session_path, (long)a.st_uid);
		close(m->session_fd);
		m->session_fd = -1;
		return MBOX_PERM;
	}
	return MBOX_OK;
}
