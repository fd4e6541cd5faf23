/*
 * Privileges: after authentication the session becomes the account it
 * serves, for good, before it touches a mailbox.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "priv.h"

/*
 * Become uid/gid for good: supplementary groups, group, user, each
 * checked, then proof that root cannot come back.  extra, unless -1, is
 * kept as a supplementary group as well.
 */
int
priv_become_user(const char *name, uid_t uid, gid_t gid, gid_t extra,
    char *why, size_t size)
{
	gid_t groups[NGROUPS_MAX + 1];
	int n, have = 0;

	if (initgroups(name, gid) == -1) {
		snprintf(why, size, "initgroups %s: %s", name, strerror(errno));
		return -1;
	}
	if (extra != (gid_t)-1 && extra != gid) {
		if ((n = getgroups(NGROUPS_MAX, groups)) == -1) {
			snprintf(why, size, "getgroups: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n; i++)
			have |= groups[i] == extra;
		if (!have) {
			groups[n++] = extra;
			if (setgroups((size_t)n, groups) == -1) {
				snprintf(why, size, "setgroups: %s",
				    strerror(errno));
				return -1;
			}
		}
	}
	if (setgid(gid) == -1) {
		snprintf(why, size, "setgid %ld: %s", (long)gid,
		    strerror(errno));
		return -1;
	}
	if (setuid(uid) == -1) {
		snprintf(why, size, "setuid %ld: %s", (long)uid,
		    strerror(errno));
		return -1;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid) {
		snprintf(why, size, "still uid %ld/%ld gid %ld/%ld after the "
		    "switch", (long)getuid(), (long)geteuid(), (long)getgid(),
		    (long)getegid());
		return -1;
	}
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(why, size, "root could be regained");
		return -1;
	}
	return 0;
}

/*
 * A group-writable spool directory (Debian's /var/mail is root:mail 2775)
 * is where the dotlock and the session file go; its group stays with us,
 * as MUAs are setgid mail for the same reason.  Group 0 is never kept,
 * and nothing is kept when anyone may write there anyway.
 */
static gid_t
spool_group(const char *mailbox)
{
	const char *slash = strrchr(mailbox, '/');
	char dir[PATH_MAX];
	struct stat st;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == mailbox)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - mailbox),
		    mailbox);
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    !(st.st_mode & S_IWGRP) || (st.st_mode & S_IWOTH) ||
	    st.st_gid == 0)
		return (gid_t)-1;
	return st.st_gid;
}

/* A system account: the session is that user from here on. */
int
priv_become(const struct account *a, char *why, size_t size)
{
	if (!a->system)
		return 0;
	return priv_become_user(a->name, a->uid, a->gid,
	    spool_group(a->mailbox), why, size);
}
