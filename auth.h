/*
 * Authentication: who may log in, with what secret, to which mailbox.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdio.h>

#include "pop3d.h"

/* Password file lines longer than this are refused, not truncated. */
#define PASSWD_LINE_MAX	1024

struct auth_config {
	const char	*passwd;	/* -p: virtual users; NULL: system */
	const char	*mailbox;	/* -f: one mailbox for every user */
	const char	*template;	/* -m: %u is the user name */
};

struct account {
	char		name[USER_NAME_MAX + 1];
	char		*mailbox;	/* malloc(3)ed */
};

#define AUTH_OK		0
#define AUTH_FAIL	1	/* unknown user, wrong secret, refused */
#define AUTH_ERROR	2	/* could not tell: [SYS/TEMP] */

int	auth_name_ok(const char *);
int	auth_template_ok(const char *);
int	auth_lookup(FILE *, const char *, char *, char **, char **);
int	auth_pass(const struct auth_config *, const char *, const char *,
	    struct account *);
void	auth_free(struct account *);

#endif
