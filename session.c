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
	{ "STLS", ST_AUTH,	0, 0,		cmd_stls },	/* RFC 2595 */
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
	{ "XEXPLOIT", ANY,	1, 1,		cmd_xexploit },
#endif
	{ NULL, 0, 0, 0, NULL }
};

/*
 * RFC 2449 CAPA, the same list in both states: section 5 says that what
 * the AUTHORIZATION state offers (USER, SASL, STLS) MUST be announced in
 * both.  STLS is listed while the connection is in the clear (RFC 2595
 * section 4; after STLS, the pop3d behind stunnel offers none).  Under
 * -x, a connection in the clear cannot log in: USER and SASL are not
 * listed, as Dovecot leaves them out under disable_plaintext_auth.
 */
static enum verdict
cmd_capa(struct session *s, int ac, char **av)
{
	(void)ac;
	(void)av;
	reply_ok(s, "capability list follows");
	out_printf(&s->out, "TOP\r\nUIDL\r\n");
	if (s->stls)
		out_printf(&s->out, "STLS\r\n");
	if (!s->plain_refused) {
		out_printf(&s->out, "USER\r\n");
		login_mechanisms(s, "SASL", " ");
	}
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

/*
 * -x: may this session log in without TLS?  Behind stunnel after STLS
 * (-a), from a loopback address, or when standard input is no TCP
 * socket (a pipe, or stunnel's socket pair in exec mode: the launcher
 * did the networking and any TLS).  A PROXY header's client counts, not
 * the proxy: one without a client address earns no exemption.
 */
static void
plain_rule(struct session *s, int local)
{
	s->plain_refused = s->tls_required && !s->tls && !local;
}

/*
 * The client is a (PROXY header's), or NULL: a header that names none
 * (the proxy's own connection; its address stays in the log).
 */
void
session_set_peer(struct session *s, const struct proxy_addr *a)
{
	if (a == NULL) {
		plain_rule(s, 0);
		return;
	}
	s->peer_addr = *a;
	proxy_addr_text(a, s->peer, sizeof(s->peer));
	plain_rule(s, proxy_loopback(a));
}

static void
peer_name(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *env;
	int one = 1;

	snprintf(s->peer, sizeof(s->peer), "-");
	s->peer_addr.family = AF_UNSPEC;
	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, s->peer, sizeof(s->peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->
			    sin6_addr, s->peer, sizeof(s->peer));
		/* the terminator never waits for a delayed ACK */
		if (proxy_addr_from(&ss, &s->peer_addr))
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

/*
 * The client's descriptors and address, before the session forks, and
 * what its first bytes must be: from a proxy -H trusts, a PROXY header;
 * from anyone else, none.  Behind stunnel after STLS, the client's
 * address is the one the pop3d before STLS knew.
 */
void
session_prepare(struct session *s, const struct options *o)
{
	struct timeval send_limit = { o->timeout, 0 };
	struct proxy_addr a;
	const char *env;

	/*
	 * Not the 68 KB of buffers: pages the monitor touches before the
	 * fork are shared with the child, and cost a fault each afterwards.
	 */
	memset(s, 0, offsetof(struct session, in));
	in_init(&s->in, 0, o->timeout * 1000);
	out_init(&s->out, 1);
	s->state = ST_AUTH;
	mbox_init(&s->mbox);
	peer_name(s);
	s->stls = o->stls != NULL && !o->after_stls;
	s->tls = o->after_stls;
	s->tls_required = o->tls_required;
	s->proxied = s->peer_addr.family != AF_UNSPEC &&
	    proxy_trusted(&o->proxies, &s->peer_addr);
	s->check_header = !s->proxied;
	plain_rule(s, s->peer_addr.family == AF_UNSPEC ||
	    proxy_loopback(&s->peer_addr));
	if (o->after_stls && (env = getenv(ENV_STLS_PEER)) != NULL &&
	    proxy_addr_parse(env, &a))
		session_set_peer(s, &a);
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
 * Before the greeting, from a trusted proxy: its PROXY header, whole,
 * within PROXY_WAIT_MS (and the login deadline).  0: read, *verdict
 * HO_PROXY_OK with the client's address in *detail, or HO_PROXY_NONE;
 * the bytes after it stay for the line reader.  -1: none, or a bad one;
 * *detail says why, and the client has its -ERR.
 */
int
session_proxy_header(struct session *s, const char **verdict,
    const char **detail)
{
	static char text[PROXY_ADDR_TEXT];
	long long until = io_now_ms() + PROXY_WAIT_MS;
	struct proxy_header h;
	size_t used;
	int r;

	if (s->in.until_ms != 0 && s->in.until_ms < until)
		until = s->in.until_ms;
	while ((r = proxy_parse((unsigned char *)s->in.buf + s->in.pos,
	    s->in.len - s->in.pos, &h, &used, detail)) == 0) {
		if (in_more(&s->in, until) <= 0) {
			*detail = s->in.timed_out ? "no whole header in time" :
			    "the connection ended before a whole header";
			r = -1;
			break;
		}
	}
	if (r == -1) {
		*verdict = HO_PROXY_BAD;
		reply_err(s, "PROXY protocol header refused, closing");
		(void)out_flush(&s->out);
		return -1;
	}
	/*
	 * The client's bytes to the front: what the proxy relays is the
	 * client's, and a header as its first line is refused as from
	 * anyone else (header_from_untrusted).
	 */
	s->in.pos += used;
	memmove(s->in.buf, s->in.buf + s->in.pos, s->in.len - s->in.pos);
	s->in.len -= s->in.pos;
	s->in.pos = 0;
	s->check_header = 1;
	if (h.local) {
		*verdict = HO_PROXY_NONE;
		*detail = "";
		session_set_peer(s, NULL);
	} else {
		*verdict = HO_PROXY_OK;
		proxy_addr_text(&h.src, text, sizeof(text));
		*detail = text;
		session_set_peer(s, &h.src);
	}
	return 0;
}

/*
 * A PROXY header as the first line of a client (a peer that is no
 * trusted proxy, or the client a proxy relays): one that would pass for
 * another.  v2's binary signature reads as an empty line, so the first
 * bytes read are looked at too.
 */
static int
header_from_untrusted(struct session *s, int r, const char *line)
{
	if (!s->check_header)
		return 0;
	s->check_header = 0;
	return (r == LINE_OK && proxy_looks_like((const unsigned char *)line,
	    strlen(line))) ||
	    proxy_looks_like((const unsigned char *)s->in.buf, s->in.len);
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
		if (header_from_untrusted(s, r, line)) {
			reply_err(s, "PROXY protocol header refused, closing");
			e = END_PROXY;
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
