/*
 * What the session's files share: its state, what a command handler
 * tells the loop, and the replies.  pop3d.c holds the loop and the
 * TRANSACTION commands, login.c the AUTHORIZATION ones.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "io.h"
#include "mbox.h"
#include "pop3d.h"

enum { ST_AUTH = 1, ST_TRANS = 2 };

/* What a handler tells the loop. */
enum verdict { V_OK, V_BAD, V_QUIT, V_END };

struct session {
	struct in		in;
	struct out		out;
	const struct auth_config *cfg;
	int			state;
	int			bad;		/* consecutive -ERR answers */
	int			failures;	/* failed logins */
	struct timespec		tried;		/* when this attempt began */
	char			stamp[AUTH_STAMP_MAX];	/* APOP; "" if none */
	char			user[USER_NAME_MAX + 1];
	struct account		acct;
	struct mbox		mbox;
	char			peer[64];
	unsigned long		retr, dele;
};

enum verdict	reply_ok(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
enum verdict	reply_err(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*shown(const char *);
const char	*code_for(int);
void		 totals(struct session *, size_t *, uint64_t *);
int		 parse_number(const char *, uint64_t *);

/* login.c */
enum verdict	cmd_user(struct session *, int, char **);
enum verdict	cmd_pass(struct session *, int, char **);
enum verdict	cmd_apop(struct session *, int, char **);
enum verdict	cmd_auth(struct session *, int, char **);
const char	*sasl_mechanisms(const struct session *);

#endif
