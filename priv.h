/*
 * Privileges: the switch, for good, to the account a session runs as.
 */
#ifndef PRIV_H
#define PRIV_H

#include <stddef.h>
#include <sys/types.h>

struct account;

int	priv_become(const struct account *, char *, size_t);
int	priv_become_user(const char *, uid_t, gid_t, gid_t, char *, size_t);

#endif
