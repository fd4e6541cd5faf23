/*
 * The spool: a mailbox file and the locks around it.  Every lock and lock
 * file pop3d takes is taken and let go here: fcntl(2) on the mailbox, the
 * dotlock MBOX.lock, and MBOX.pop3d, the session lock that also holds the
 * update's journal.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <time.h>

#include "fault.h"

struct spool {
	const char	*path;		/* the mailbox */
	int		fd;		/* the mailbox, opened by the caller */
	int		session_fd;	/* PATH.pop3d, locked; -1: none */
	int		dir_fd;		/* its directory, to sync; -1: none */
	int		dir_errno;	/* why not */
	char		*session_path;
	char		*dotlock_path;
	char		*tmp_path;	/* linked to dotlock_path to lock */
	int		tmp_fd;		/* tmp_path, ours; -1: no dotlock */
	int		tmp_errno;	/* why not */
	int		dotlocked;
	int		looked;		/* for a killed session's dotlock */
	time_t		dotlock_touched;	/* renewed while held */
};

void	spool_init(struct spool *, const char *);
int	spool_session_lock(struct spool *, struct fault *);
int	spool_lock(struct spool *, struct fault *);
void	spool_touch(struct spool *);
void	spool_clear_stale(struct spool *);
void	spool_unlock(struct spool *);
void	spool_release(struct spool *);
int	spool_sync_dir(struct spool *);
int	spool_dir_name(const char *, char *, size_t);

#endif
