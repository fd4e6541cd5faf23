/*
 * Locks.  Delivery agents on Debian lock a mailbox with fcntl(2) and then a
 * dotlock, MBOX.lock (Debian policy 11.6); we take both, in that order, and
 * only for a scan or an update.  A second POP3 session is kept out by a
 * lock on a file of our own, MBOX.pop3d, held for the whole session:
 * delivery agents never look at it.  It holds the update's journal too.
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

#include "log.h"
#include "params.h"
#include "spool.h"

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
fcntl_lock(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EACCES)
			errno = EAGAIN;
		return -1;
	}
}

void
spool_init(struct spool *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->path = path;
	s->fd = -1;
	s->session_fd = -1;
	s->dir_fd = -1;
	s->tmp_fd = -1;
	s->tmp_errno = EACCES;	/* no session lock: no dotlock either */
	s->dir_errno = EBADF;
}

/*
 * NFS-safe dotlock: link the session's own file (dotlock_prepare()) to
 * MBOX.lock, and trust its link count rather than link()'s answer, which
 * NFS may lose.  The file's times are set first: the lock's age starts
 * now, and *now gets the file server's time from it.
 * 1: locked; 0: held by someone else; -1: cannot (errno says why).
 */
static int
dotlock_try(struct spool *s, time_t *now)
{
	struct stat st;
	int e = 0;

	if (futimens(s->tmp_fd, NULL) == -1 || fstat(s->tmp_fd, &st) == -1)
		return -1;
	*now = st.st_mtime;
	if (link(s->tmp_path, s->dotlock_path) == -1 &&
	    (e = errno) != EEXIST && e != EIO)
		return -1;
	if (fstat(s->tmp_fd, &st) == -1)
		return -1;
	if (st.st_nlink == 2)
		return 1;
	if (e == EIO && lstat(s->dotlock_path, &st) == -1 && errno == ENOENT) {
		errno = EIO;	/* not busy: link(2) itself fails */
		return -1;
	}
	return 0;
}

/*
 * Remove the dotlock if it is what st describes, looked at again: a lock
 * that someone else broke and took meanwhile is very unlikely to be
 * removed too.
 */
static int
break_lock(struct spool *s, const struct stat *st, const char *why)
{
	struct stat again;

	if (lstat(s->dotlock_path, &again) == -1 ||
	    again.st_ino != st->st_ino || again.st_dev != st->st_dev ||
	    again.st_mtime != st->st_mtime)
		return 0;
	if (unlink(s->dotlock_path) == -1) {
		log_msg(LOG_WARNING, "%s: cannot remove %s: %s",
		    s->dotlock_path, why, strerror(errno));
		return 0;
	}
	log_msg(LOG_WARNING, "%s: removed %s", s->dotlock_path, why);
	return 1;
}

/*
 * Does the file hold what a pop3d dotlock on this host holds, "PID pop3d
 * HOST"?  The PID, or 0.
 */
static long
pop3d_lock_pid(int fd)
{
	char b[HOST_NAME_MAX + 48], *p;
	size_t hl = strlen(host_name());
	ssize_t n;
	long pid;

	if ((n = read(fd, b, sizeof(b) - 1)) <= 0)
		return 0;
	b[n] = '\0';
	pid = strtol(b, &p, 10);
	if (p == b || pid <= 0 || strncmp(p, " pop3d ", 7) != 0 ||
	    strncmp(p + 7, host_name(), hl) != 0 ||
	    strcmp(p + 7 + hl, "\n") != 0)
		return 0;
	return pid;
}

/*
 * Is the dotlock one that a pop3d session left when it was killed?  Ours
 * say "PID pop3d HOST"; one from this host whose process is gone, found
 * while we hold the session lock (no live session can then hold the
 * dotlock), is taken at once.  Without this, a session killed during an
 * update would keep mail out for DOTLOCK_STALE_S.  A lock from another
 * host waits for its age: its process cannot be looked at from here.
 *
 * It is looked for while the mailbox is opened, the first time the lock
 * is wanted, and not later: no pop3d session can leave one while we hold
 * the session lock, and by then the session may open no file (sandbox.c).
 */
static int
left_by_dead_session(struct spool *s)
{
	long pid;
	int fd;

	if (s->session_fd == -1 || s->looked)
		return 0;
	fd = open(s->dotlock_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return 0;
	pid = pop3d_lock_pid(fd);
	close(fd);
	return pid > 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* A busy dotlock: may it be broken? */
static int
break_stale(struct spool *s, time_t now)
{
	char why[96];
	struct stat st;

	if (lstat(s->dotlock_path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if (now - st.st_mtime > DOTLOCK_STALE_S) {
		snprintf(why, sizeof(why), "stale lock, %ld seconds old "
		    "(older than %d)", (long)(now - st.st_mtime),
		    DOTLOCK_STALE_S);
		return break_lock(s, &st, why);
	}
	if (left_by_dead_session(s))
		return break_lock(s, &st, "lock left by a pop3d session that "
		    "was killed");
	return 0;
}

/*
 * The file the dotlock is made from, MBOX.lock.HOST.pop3d, created once
 * the session lock is held and kept until the session ends: each lock
 * links it to MBOX.lock, each unlock removes that name, and its times
 * renew the lock.  A confined session (sandbox.c) may still make and
 * remove names in the spool directory, but not create a file or write
 * one it has not opened.  The name is unique while we hold the session
 * lock (one session a mailbox, one name a host); one that a killed
 * session left is replaced.  Anything else of that name is left alone,
 * and the mailbox is then locked with fcntl only (spool_lock() says so).
 */
static void
dotlock_prepare(struct spool *s)
{
	size_t len = strlen(s->path) + strlen(host_name()) + 13;
	char text[HOST_NAME_MAX + 48];
	struct stat st;
	long pid = 0;
	int fd, n;

	s->tmp_errno = errno = ENOMEM;
	if ((s->tmp_path = malloc(len)) == NULL)
		return;
	snprintf(s->tmp_path, len, "%s.lock.%s.pop3d", s->path, host_name());
	fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 && errno == EEXIST) {
		if ((fd = open(s->tmp_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC)) != -1) {
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			    st.st_uid == geteuid())
				pid = pop3d_lock_pid(fd);
			close(fd);
		}
		if (pid > 0 && unlink(s->tmp_path) == 0)
			fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_EXCL |
			    O_CLOEXEC, 0644);
		else {
			fd = -1;
			errno = EEXIST;
		}
	}
	if (fd == -1) {
		s->tmp_errno = errno;
		return;
	}
	n = snprintf(text, sizeof(text), "%ld pop3d %s\n", (long)getpid(),
	    host_name());
	if (n < 0 || (size_t)n >= sizeof(text))
		n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	errno = EIO;		/* a short write sets none */
	if (write(fd, text, (size_t)n) != n) {
		s->tmp_errno = errno;
		close(fd);
		(void)unlink(s->tmp_path);
		return;
	}
	s->tmp_fd = fd;
}

/* One attempt at the dotlock, breaking a stale one: as dotlock_try(). */
static int
dotlock(struct spool *s)
{
	time_t now = 0;
	int r;

	if (s->tmp_fd == -1) {
		errno = s->tmp_errno;
		return -1;
	}
	r = dotlock_try(s, &now);
	if (r == 0 && break_stale(s, now))
		r = dotlock_try(s, &now);
	return r;
}

/*
 * fcntl(2) on the whole file, then the dotlock, as Debian policy 11.6
 * orders them.  If the dotlock is busy the fcntl lock is let go before we
 * wait: its holder may be waiting for the fcntl lock (procmail takes them
 * the other way round).  Lock timeouts are FAULT_TEMP: worth retrying.
 */
static int
take_locks(struct spool *s, struct fault *f)
{
	static int warned;
	struct timespec start;
	struct stat st;
	const char *held;
	int r, e;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (fcntl_lock(s->fd, F_WRLCK) == 0) {
			r = dotlock(s);
			if (r == 1) {
				s->dotlocked = 1;
				s->dotlock_touched = time(NULL);
				return 0;
			}
			if (r == -1)
				break;
			fcntl_lock(s->fd, F_UNLCK);
			held = s->dotlock_path;
		} else if (errno == EAGAIN)
			held = "its fcntl lock";
		else
			return fault_sys(f, FAULT_TEMP, "fcntl lock");
		if (elapsed_ms(&start) >= LOCK_WAIT_MS)
			return fault_set(f, FAULT_TEMP, "mailbox locked by "
			    "another process (%s) for %d seconds; try again "
			    "later", held, LOCK_WAIT_MS / 1000);
		nap();
	}
	/*
	 * The spool directory is not ours to write (Debian's /var/mail is
	 * root:mail 2775), or the disk is full: fcntl must do, and every
	 * delivery agent that follows Debian policy takes it too.  A dotlock
	 * that a killed session left still goes, or it would hold up
	 * delivery until it is stale.
	 */
	e = errno;
	if (s->dotlock_path != NULL && lstat(s->dotlock_path, &st) == 0 &&
	    left_by_dead_session(s))
		(void)break_lock(s, &st, "lock left by a pop3d session that "
		    "was killed");
	errno = e;
	if (!warned++)
		log_msg(LOG_NOTICE, "%s: cannot create the dotlock (%s); "
		    "locking the mailbox with fcntl only",
		    s->dotlock_path ? s->dotlock_path : s->path,
		    strerror(errno));
	return 0;
}

int
spool_lock(struct spool *s, struct fault *f)
{
	int r = take_locks(s, f);

	s->looked = 1;
	return r;
}

/*
 * Without taking the locks (a poll the index serves whole): a dotlock
 * that a killed pop3d session left still goes, or delivery would wait on
 * it until it is stale.  Only a session may call it, with the session
 * lock held: then no live pop3d on this host holds the dotlock.
 */
void
spool_clear_stale(struct spool *s)
{
	struct stat st;

	if (s->dotlock_path != NULL && lstat(s->dotlock_path, &st) == 0 &&
	    S_ISREG(st.st_mode) && left_by_dead_session(s))
		(void)break_lock(s, &st, "lock left by a pop3d session that "
		    "was killed");
	s->looked = 1;
}

/* During a long scan or update: keep our dotlock from looking stale. */
void
spool_touch(struct spool *s)
{
	time_t now;

	if (!s->dotlocked || (now = time(NULL)) - s->dotlock_touched <
	    DOTLOCK_TOUCH_S)
		return;
	if (futimens(s->tmp_fd, NULL) == -1)
		log_msg(LOG_WARNING, "%s: cannot renew the lock: %s",
		    s->dotlock_path, strerror(errno));
	s->dotlock_touched = now;
}

/*
 * Is MBOX.lock still ours?  A lock broken as stale and taken by another
 * process is theirs to remove.
 */
static int
lock_is_ours(const struct spool *s)
{
	struct stat lock, own;

	return lstat(s->dotlock_path, &lock) == 0 &&
	    fstat(s->tmp_fd, &own) == 0 && lock.st_ino == own.st_ino &&
	    lock.st_dev == own.st_dev;
}

void
spool_unlock(struct spool *s)
{
	if (s->dotlocked && lock_is_ours(s) && unlink(s->dotlock_path) == -1 &&
	    errno != ENOENT)
		log_msg(LOG_ERR, "%s: cannot remove the lock (%s); it is "
		    "taken as stale after %d seconds", s->dotlock_path,
		    strerror(errno), DOTLOCK_STALE_S);
	s->dotlocked = 0;
	if (s->fd != -1)
		fcntl_lock(s->fd, F_UNLCK);
}

/* The directory a file is in, as its path names it: 0, or -1 (ENAMETOOLONG). */
int
spool_dir_name(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (slash == NULL)
		n = snprintf(dir, size, ".");
	else
		n = snprintf(dir, size, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The directory the mailbox is in, opened for fsync(2); -1 with errno. */
static int
open_dir(const struct spool *s)
{
	char dir[PATH_MAX];

	if (spool_dir_name(s->path, dir, sizeof(dir)) == -1)
		return -1;
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * MBOX.pop3d could not be opened.  A spool directory we may not write is
 * a setup pop3d serves without a session lock (deletions that move mail
 * are then refused); a file that exists is another matter: it may hold an
 * update a crash interrupted, and serving the mailbox without finishing
 * it would hand out half-moved mail.
 */
static int
session_file_unusable(struct spool *s, struct fault *f)
{
	struct stat st;
	int e = errno;

	if (lstat(s->session_path, &st) == -1 && errno == ENOENT &&
	    (e == EACCES || e == EPERM || e == EROFS)) {
		log_msg(LOG_NOTICE, "%s: cannot create (%s); a second session "
		    "is not detected and deletions that move mail are refused",
		    s->session_path, strerror(e));
		return 0;
	}
	log_msg(LOG_ERR, "%s: cannot open (%s); it may hold an unfinished "
	    "update, so the mailbox is not served until its owner fixes or "
	    "removes it", s->session_path, strerror(e));
	return fault_set(f, FAULT_TEMP, "%s cannot be opened (%s)",
	    s->session_path, strerror(e));
}

/*
 * The session lock.  The file may be removed by the session that ends (so
 * the spool does not fill with them); whoever locked an unlinked file
 * tries again, so two sessions never both believe they hold it.  It holds
 * the update journal too, so it must be ours: one planted by another user
 * in a shared spool could otherwise tell us to move mail around.
 */
int
spool_session_lock(struct spool *s, struct fault *f)
{
	size_t len = strlen(s->path) + 7;
	struct stat a, b, box;
	int e;

	if ((s->session_path = malloc(len)) == NULL ||
	    (s->dotlock_path = malloc(len)) == NULL)
		return fault_sys(f, FAULT_TEMP, "malloc");
	snprintf(s->session_path, len, "%s.pop3d", s->path);
	snprintf(s->dotlock_path, len, "%s.lock", s->path);
	for (int tries = 0; tries < SESSION_LOCK_TRIES; tries++) {
		s->session_fd = open(s->session_path, O_RDWR | O_CREAT |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
		if (s->session_fd == -1)
			return session_file_unusable(s, f);
		if (fstat(s->session_fd, &a) == -1 || !S_ISREG(a.st_mode)) {
			close(s->session_fd);
			s->session_fd = -1;
			log_msg(LOG_ERR, "%s is not a regular file; the mailbox "
			    "is not served until it is removed",
			    s->session_path);
			return fault_set(f, FAULT_TEMP, "%s is not a regular "
			    "file", s->session_path);
		}
		if (fcntl_lock(s->session_fd, F_WRLCK) == -1) {
			e = errno;
			close(s->session_fd);
			s->session_fd = -1;
			return fault_set(f, e == EAGAIN ? FAULT_INUSE :
			    FAULT_TEMP, "another session has this mailbox");
		}
		if (stat(s->session_path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(s->session_fd);
		s->session_fd = -1;
	}
	if (s->session_fd == -1)
		return fault_set(f, FAULT_TEMP, "%s keeps changing",
		    s->session_path);
	if (a.st_uid != geteuid() && (fstat(s->fd, &box) == -1 ||
	    a.st_uid != box.st_uid)) {
		close(s->session_fd);
		s->session_fd = -1;
		log_msg(LOG_ERR, "%s belongs to uid %ld, neither us nor the "
		    "mailbox owner; the mailbox is not served until it is "
		    "removed", s->session_path, (long)a.st_uid);
		return fault_set(f, FAULT_TEMP, "%s belongs to uid %ld, "
		    "neither us nor the mailbox owner; remove it",
		    s->session_path, (long)a.st_uid);
	}
	/* now, while every path may still be opened: an update syncs it */
	if ((s->dir_fd = open_dir(s)) == -1)
		s->dir_errno = errno;
	dotlock_prepare(s);
	return 0;
}

/*
 * The session ends: its lock file goes, unless it holds an unfinished
 * update, which the next session finishes.
 */
void
spool_release(struct spool *s)
{
	struct stat st;

	if (s->tmp_fd != -1) {
		close(s->tmp_fd);
		(void)unlink(s->tmp_path);
		s->tmp_fd = -1;
	}
	if (s->session_fd != -1) {
		if (fstat(s->session_fd, &st) == 0 && st.st_size == 0)
			unlink(s->session_path);
		close(s->session_fd);
		s->session_fd = -1;
	}
	if (s->dir_fd != -1)
		close(s->dir_fd);
	s->dir_fd = -1;
	free(s->session_path);
	free(s->dotlock_path);
	free(s->tmp_path);
	s->session_path = NULL;
	s->dotlock_path = NULL;
	s->tmp_path = NULL;
}

/*
 * The spool directory to disk: a file's new name (the journal's) survives
 * a power cut only once its directory is synced.  0, or -1 with errno.
 * It was opened with the session lock: a confined session opens nothing.
 */
int
spool_sync_dir(struct spool *s)
{
	if (s->dir_fd == -1) {
		errno = s->dir_errno;
		return -1;
	}
	return fsync(s->dir_fd);
}
