/*
 * The session: its state, what a command handler tells the loop, and the
 * files that share them.  session.c runs the loop and the command table,
 * login.c answers the AUTHORIZATION commands, trans.c the TRANSACTION
 * ones, retr.c sends messages, reply.c writes what all of them answer.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "io.h"
#include "mbox.h"
#include "params.h"

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
	size_t			last;		/* LAST: highest number accessed */
};

/* session.c */
int		session_run(const struct auth_config *, int);

/* reply.c */
enum verdict	reply_ok(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
enum verdict	reply_err(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*reply_code(const struct fault *);
const char	*reply_arg(const char *);
int		 reply_number(const char *, uint64_t *);
void		 reply_log_fault(const struct session *);

/* login.c */
enum verdict	cmd_user(struct session *, int, char **);
enum verdict	cmd_pass(struct session *, int, char **);
enum verdict	cmd_apop(struct session *, int, char **);
enum verdict	cmd_auth(struct session *, int, char **);
void		login_mechanisms(struct session *, const char *, const char *);

/* trans.c */
enum verdict	cmd_quit(struct session *, int, char **);
enum verdict	cmd_stat(struct session *, int, char **);
enum verdict	cmd_list(struct session *, int, char **);
enum verdict	cmd_retr(struct session *, int, char **);
enum verdict	cmd_dele(struct session *, int, char **);
enum verdict	cmd_noop(struct session *, int, char **);
enum verdict	cmd_rset(struct session *, int, char **);
enum verdict	cmd_top(struct session *, int, char **);
enum verdict	cmd_uidl(struct session *, int, char **);
enum verdict	cmd_last(struct session *, int, char **);

#endif
