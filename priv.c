/*
 * Privileges: after authentication the session becomes the account it
 * serves, for good, before it touches a mailbox; before authentication
 * the child that reads the client has none at all.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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
gid_t
priv_spool_group(const char *mailbox)
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
	    priv_spool_group(a->mailbox), why, size);
}

/*
 * Before the fork: started as root, the pre-login child will need its
 * account and its empty directory, and pop3d does not start without them
 * (running the child as root instead would defeat it).  The directory is
 * root's and nobody else may write it: a chroot the child could fill is
 * no chroot.  Not root: the child stays our user, unswitched.
 */
int
priv_prelogin_check(struct prelogin *p, char *why, size_t size)
{
	struct passwd *pw;
	struct stat st;

	p->switched = geteuid() == 0;
	if (!p->switched)
		return 0;
	errno = 0;
	if ((pw = getpwnam(p->user)) == NULL) {
		snprintf(why, size, "the pre-login account %s: %s (create it: "
		    "adduser --system --no-create-home %s; or name one with -U)",
		    p->user, errno ? strerror(errno) : "no such user", p->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(why, size, "the pre-login account %s: uid 0; it must "
		    "be an unprivileged account", p->user);
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	if (stat(p->dir, &st) == -1) {
		snprintf(why, size, "the pre-login directory %s: %s (create "
		    "it empty, root's, mode 0755; or name one with -R)", p->dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, size, "the pre-login directory %s must be a "
		    "directory owned by root that only root can write", p->dir);
		return -1;
	}
	return 0;
}

static int
limit(int resource, rlim_t n, const char *name, char *why, size_t size)
{
	struct rlimit rl = { n, n };

	if (setrlimit(resource, &rl) == -1) {
		snprintf(why, size, "setrlimit %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * In the child, before it reads a byte from the client: chroot to the
 * empty directory and become the pre-login account, no supplementary
 * groups (when started as root); die with the monitor; no processes, no
 * core, no way to gain privileges by exec (sandbox.c then takes away the
 * files).  0, or -1 with why filled.
 */
int
priv_prelogin_enter(const struct prelogin *p, pid_t monitor, char *why,
    size_t size)
{
	if (p->switched) {
		if (chroot(p->dir) == -1 || chdir("/") == -1) {
			snprintf(why, size, "chroot %s: %s", p->dir,
			    strerror(errno));
			return -1;
		}
		if (setgroups(0, NULL) == -1) {
			snprintf(why, size, "setgroups: %s", strerror(errno));
			return -1;
		}
		if (setgid(p->gid) == -1 || setuid(p->uid) == -1) {
			snprintf(why, size, "becoming %s: %s", p->user,
			    strerror(errno));
			return -1;
		}
		if (getuid() != p->uid || geteuid() != p->uid ||
		    getgid() != p->gid || getegid() != p->gid ||
		    getgroups(0, NULL) != 0 || setuid(0) != -1) {
			snprintf(why, size, "still privileged after becoming "
			    "%s", p->user);
			return -1;
		}
	}
	/* set after the switch, which clears it; the monitor may be gone */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 ||
	    getppid() != monitor) {
		snprintf(why, size, "the monitor is gone");
		return -1;
	}
	if (limit(RLIMIT_NPROC, 0, "NPROC", why, size) == -1 ||
	    limit(RLIMIT_CORE, 0, "CORE", why, size) == -1)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(why, size, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	return 0;
}
