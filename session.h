/*
 * The session: its state, what a command handler tells the loop, and the
 * files that share them.  monitor.c splits the session into the monitor
 * and the pre-login child, session.c runs the loop and the command table,
 * login.c answers the AUTHORIZATION commands (in the child), trans.c the
 * TRANSACTION ones, retr.c sends messages, reply.c writes what all of
 * them answer.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>

#include "auth.h"
#include "handover.h"
#include "io.h"
#include "mbox.h"
#include "params.h"
#include "priv.h"
#include "proxy.h"

enum { ST_AUTH = 1, ST_TRANS = 2 };

/* What a handler tells the loop. */
enum verdict { V_OK, V_BAD, V_QUIT, V_END };

/* How the loop ended. */
enum end { END_QUIT, END_EOF, END_IDLE, END_DEADLINE, END_BAD, END_GONE,
	END_DONE, END_PROXY };

/*
 * One session: in the pre-login child (AUTHORIZATION, ch leads to the
 * monitor) or in the monitor after login (TRANSACTION, the account and
 * the mailbox).
 */
struct session {
	int			state;
	int			bad;		/* consecutive -ERR answers */
	struct channel		*ch;		/* the child's, to the monitor */
	int			handed;		/* the monitor has the session */
	char			stamp[AUTH_STAMP_MAX];	/* APOP; "" if none */
	char			user[USER_NAME_MAX + 2];	/* USER's */
	struct account		acct;
	struct mbox		mbox;
	char			peer[64];
	struct proxy_addr	peer_addr;	/* AF_UNSPEC: not a TCP peer */
	int			proxied;	/* a trusted proxy: header first */
	int			check_header;	/* refuse a header as line 1 */
	int			stls;		/* STLS is offered (-T) */
	int			tls;		/* behind TLS already (-a) */
	int			tls_required;	/* -x */
	int			plain_refused;	/* -x, and neither TLS nor local */
	unsigned long		retr, dele;
	size_t			last;		/* LAST: highest number accessed */
	/* at the end: their buffers stay untouched until used (the fork) */
	struct in		in;
	struct out		out;
};

/* The options main() hands the session. */
struct options {
	int			timeout;	/* -t */
	int			deadline;	/* -L */
	int			strict;		/* -S */
	struct prelogin		prelogin;	/* -U, -R */
	const char		*stls;		/* -T: stunnel's configuration */
	int			after_stls;	/* -a: stunnel ran us, TLS on */
	int			tls_required;	/* -x */
	struct proxy_list	proxies;	/* -H */
	int			stderr_is_client;	/* never write fd 2 */
};

/*
 * What the monitor tells the pop3d that stunnel starts after STLS (-a),
 * through stunnel's environment: the client's address (a PROXY header's,
 * which stunnel cannot know) and the APOP timestamp of the greeting the
 * client saw.
 */
#define ENV_STLS_PEER	"POP3D_STLS_PEER"
#define ENV_STLS_STAMP	"POP3D_STLS_STAMP"

/* monitor.c */
int		monitor_run(struct auth_config *, const struct options *,
		    char *, size_t);

/* session.c */
void		session_prepare(struct session *, const struct options *);
void		session_greet(struct session *);
int		session_proxy_header(struct session *, const char **,
		    const char **);
void		session_set_peer(struct session *, const struct proxy_addr *);
enum end	session_loop(struct session *);

/* reply.c */
enum verdict	reply_ok(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
enum verdict	reply_err(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*reply_code(const struct fault *);
const char	*reply_arg(const char *);
void		 reply_timeout(struct session *);
int		 reply_number(const char *, uint64_t *);
void		 reply_log_fault(const struct session *);

/* login.c */
enum verdict	cmd_user(struct session *, int, char **);
enum verdict	cmd_pass(struct session *, int, char **);
enum verdict	cmd_apop(struct session *, int, char **);
enum verdict	cmd_auth(struct session *, int, char **);
enum verdict	cmd_stls(struct session *, int, char **);
void		login_mechanisms(struct session *, const char *, const char *);
#ifdef POP3D_TEST_HOOKS
enum verdict	cmd_xhandover(struct session *, int, char **);
enum verdict	cmd_xexploit(struct session *, int, char **);
#endif

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
