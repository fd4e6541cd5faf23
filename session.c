/*
 * One POP3 session (RFC 1939, 2449, 3206) on stdin/stdout: read a command
 * line, look it up in one table, let its handler answer through the
 * buffered writer, and flush when the client has nothing more queued.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "session.h"

struct cmd {
	const char	*name;
	int		states;
	int		min, max;	/* arguments */
	enum verdict	(*fn)(struct session *, int, char **);
};

#define REST	(-1)	/* one argument: the rest of the line, spaces too */
#define ANY	(ST_AUTH | ST_TRANS)

static enum verdict	cmd_capa(struct session *, int, char **);

static const struct cmd cmds[] = {
	/* name	  states	args		handler */
	{ "USER", ST_AUTH,	1, 1,		cmd_user },
	{ "PASS", ST_AUTH,	1, REST,	cmd_pass },	/* may hold spaces */
	{ "APOP", ST_AUTH,	2, 2,		cmd_apop },
	{ "AUTH", ST_AUTH,	0, 2,		cmd_auth },
	{ "QUIT", ANY,		0, 0,		cmd_quit },
	{ "CAPA", ANY,		0, 0,		cmd_capa },
	{ "STAT", ST_TRANS,	0, 0,		cmd_stat },
	{ "LIST", ST_TRANS,	0, 1,		cmd_list },
	{ "RETR", ST_TRANS,	1, 1,		cmd_retr },
	{ "DELE", ST_TRANS,	1, 1,		cmd_dele },
	{ "NOOP", ST_TRANS,	0, 0,		cmd_noop },
	{ "RSET", ST_TRANS,	0, 0,		cmd_rset },
	{ "TOP",  ST_TRANS,	2, 2,		cmd_top },
	{ "UIDL", ST_TRANS,	0, 1,		cmd_uidl },
	{ "LAST", ST_TRANS,	0, 0,		cmd_last },	/* RFC 1460 */
#ifdef POP3D_TEST_HOOKS
	{ "XHANDOVER", ST_AUTH,	1, 1,		cmd_xhandover },
	{ "XEXPLOIT", ST_AUTH,	1, 1,		cmd_xexploit },
#endif
	{ NULL, 0, 0, 0, NULL }
};

/*
 * RFC 2449 CAPA, the same list in both states: section 5 says that what
 * the AUTHORIZATION state offers (USER, SASL) MUST be announced in both.
 */
static enum verdict
cmd_capa(struct session *s, int ac, char **av)
{
	(void)ac;
	(void)av;
	reply_ok(s, "capability list follows");
	out_printf(&s->out, "TOP\r\nUIDL\r\nUSER\r\n");
	login_mechanisms(s, "SASL", " ");
	out_printf(&s->out, "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "EXPIRE NEVER\r\nIMPLEMENTATION pop3d-%s\r\n.\r\n",
	    POP3D_VERSION);
	return V_OK;
}

/*
 * Split the arguments at spaces.  REST takes the rest of the line as it is
 * (RFC 1939 PASS: "the server may treat spaces in the argument as part of
 * the password").  Returns the count, or -1 when it does not fit.
 */
static int
split_args(char *rest, const struct cmd *c, char **av)
{
	int ac = 0;

	if (c->max == REST) {
		if (*rest == '\0')
			return -1;
		av[0] = rest;
		return 1;
	}
	for (;;) {
		while (*rest == ' ')
			rest++;
		if (*rest == '\0')
			break;
		if (ac == c->max)
			return -1;
		av[ac++] = rest;
		while (*rest != ' ' && *rest != '\0')
			rest++;
		if (*rest == ' ')
			*rest++ = '\0';
	}
	return ac < c->min ? -1 : ac;
}

static const struct cmd *
lookup_cmd(const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (strcasecmp(c->name, name) == 0)
			return c;
	return NULL;
}

static enum verdict
dispatch(struct session *s, char *line)
{
	char *av[2], *rest;
	const struct cmd *c;
	int ac;

	rest = line + strcspn(line, " ");
	if (*rest == ' ')
		*rest++ = '\0';
	if ((c = lookup_cmd(line)) == NULL)
		return reply_err(s, "unknown command");
	if (!(c->states & s->state))
		return reply_err(s, "%s is not valid in this state", c->name);
	if ((ac = split_args(rest, c, av)) == -1)
		return reply_err(s, "%s: wrong arguments", c->name);
	return c->fn(s, ac, av);
}

static void
peer_name(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *env;
	int one = 1;

	snprintf(s->peer, sizeof(s->peer), "-");
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, s->peer, sizeof(s->peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, s->peer, sizeof(s->peer));
		/* the terminator never waits for a delayed ACK */
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
			(void)setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		return;
	}
	/* launchers that hand us a pipe say who is calling */
	if ((env = getenv("REMOTE_ADDR")) != NULL ||
	    (env = getenv("TCPREMOTEIP")) != NULL ||
	    (env = getenv("REMOTE_HOST")) != NULL)
		snprintf(s->peer, sizeof(s->peer), "%s", env);
}

/* The client's descriptors and address, before the session forks. */
void
session_prepare(struct session *s, int timeout)
{
	struct timeval send_limit = { timeout, 0 };

	/*
	 * Not the 68 KB of buffers: pages the monitor touches before the
	 * fork are shared with the child, and cost a fault each afterwards.
	 */
	memset(s, 0, offsetof(struct session, in));
	in_init(&s->in, 0, timeout * 1000);
	out_init(&s->out, 1);
	s->state = ST_AUTH;
	mbox_init(&s->mbox);
	peer_name(s);
	/*
	 * A client that stops reading is as idle as one that stops writing:
	 * a send blocked this long fails (EAGAIN) and ends the session, which
	 * would otherwise hold the mailbox forever.  Not a socket: no limit.
	 */
	(void)setsockopt(1, SOL_SOCKET, SO_SNDTIMEO, &send_limit,
	    sizeof(send_limit));
}

/*
 * The greeting.  The APOP timestamp only when APOP works for every user:
 * clients such as curl use APOP whenever it is offered and never fall
 * back.
 */
void
session_greet(struct session *s)
{
	if (s->stamp[0] != '\0')
		reply_ok(s, "POP3 server ready %s", s->stamp);
	else
		reply_ok(s, "POP3 server ready");
}

/*
 * Read, dispatch, answer, until the session ends; say how.  Answers are
 * written when the client has nothing more queued (PIPELINING).
 */
enum end
session_loop(struct session *s)
{
	char line[SASL_LINE_MAX];
	enum verdict v = V_OK;
	enum end e = END_DONE;
	int r;

	for (;;) {
		if (!in_pending(&s->in) && out_flush(&s->out) == -1) {
			e = END_GONE;
			break;
		}
		r = in_line(&s->in, line, CMD_LINE_MAX);
		if (r == LINE_EOF) {
			e = END_EOF;
			if (s->in.timed_out) {
				reply_timeout(s);
				e = s->in.timed_out == IN_IDLE ? END_IDLE :
				    END_DEADLINE;
			}
			break;
		}
		if (r == LINE_BAD)
			v = reply_err(s, "line too long or not text");
		else
			v = dispatch(s, line);
		explicit_bzero(line, sizeof(line));
		if (v == V_QUIT || v == V_END || s->out.failed) {
			e = v == V_QUIT ? END_QUIT : s->out.failed ? END_GONE :
			    END_DONE;
			break;
		}
		s->bad = v == V_BAD ? s->bad + 1 : 0;
		if (s->bad >= BAD_COMMANDS_MAX) {
			reply_err(s, "too many bad commands, closing");
			e = END_BAD;
			break;
		}
	}
	out_flush(&s->out);
	return e;
}
