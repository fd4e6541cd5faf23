/*
 * Privileges: the switch, for good, to the account a session runs as.
 */
#ifndef PRIV_H
#define PRIV_H

#include <stddef.h>
#include <sys/types.h>

struct account;

/* The pre-login child's identity (-U, -R), looked up before the fork. */
struct prelogin {
	const char	*user;
	const char	*dir;
	int		switched;	/* started as root: chroot, user */
	uid_t		uid;
	gid_t		gid;
};

int	priv_become(const struct account *, char *, size_t);
int	priv_become_user(const char *, uid_t, gid_t, gid_t, char *, size_t);
int	priv_prelogin_check(struct prelogin *, char *, size_t);
gid_t	priv_spool_group(const char *);
int	priv_prelogin_enter(const struct prelogin *, pid_t, char *, size_t);

#endif
