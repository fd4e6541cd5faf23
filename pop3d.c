/*
 * pop3d: one POP3 session (RFC 1939, 2449, 3206) on stdin/stdout against
 * an mbox.  main() reads the flags; the session reads commands, looks them
 * up in one table and answers through the buffered writer.  The commands
 * of the TRANSACTION state are here, those of AUTHORIZATION in login.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "session.h"

#define EX_USAGE	64

struct cmd {
	const char	*name;
	int		states;
	int		min, max;	/* arguments */
	enum verdict	(*fn)(struct session *, int, char **);
};

#define REST	(-1)	/* one argument: the rest of the line, spaces too */

static enum verdict
reply(struct session *, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static enum verdict
reply(struct session *s, const char *status, const char *fmt, va_list ap)
{
	char line[CMD_LINE_MAX + 64];
	int n;

	/* no format: the status alone (NOOP); vsnprintf(3) must not see NULL */
	n = fmt != NULL ? vsnprintf(line, sizeof(line), fmt, ap) : 0;
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	out_put(&s->out, status, strlen(status));
	if (n > 0) {
		out_put(&s->out, " ", 1);
		out_put(&s->out, line, (size_t)n);
	}
	out_put(&s->out, "\r\n", 2);
	return V_OK;
}

enum verdict
reply_ok(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "+OK", fmt, ap);
	va_end(ap);
	return V_OK;
}

enum verdict
reply_err(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply(s, "-ERR", fmt, ap);
	va_end(ap);
	return V_BAD;
}

/*
 * A message number: decimal digits only, 1..count, not deleted.  "1x",
 * "-1", "+1" and numbers past 2^64 are errors, never message 1.
 */
int
parse_number(const char *arg, uint64_t *v)
{
	uint64_t n = 0;

	if (*arg == '\0')
		return 0;
	for (; *arg; arg++) {
		if (*arg < '0' || *arg > '9')
			return 0;
		if (n > (UINT64_MAX - 9) / 10)
			return 0;
		n = n * 10 + (uint64_t)(*arg - '0');
	}
	*v = n;
	return 1;
}

/* An argument echoed in a reply: printable ASCII, at most 40 bytes. */
const char *
shown(const char *arg)
{
	static char buf[41];
	size_t i;

	for (i = 0; i < sizeof(buf) - 1 && arg[i] != '\0'; i++) {
		if (arg[i] > 0x20 && arg[i] < 0x7f)
			buf[i] = arg[i];
		else
			buf[i] = '?';
	}
	buf[i] = '\0';
	return buf;
}

static struct msg *
message(struct session *s, const char *arg, size_t *index)
{
	uint64_t n;
	struct msg *m;

	if (!parse_number(arg, &n)) {
		reply_err(s, "invalid message number: %s", shown(arg));
		return NULL;
	}
	if (n == 0 || n > s->mbox.count) {
		reply_err(s, "no such message: %s", shown(arg));
		return NULL;
	}
	m = &s->mbox.msgs[n - 1];
	if (m->flags & MSG_DELETED) {
		reply_err(s, "message %llu is deleted", (unsigned long long)n);
		return NULL;
	}
	*index = (size_t)(n - 1);
	return m;
}

void
totals(struct session *s, size_t *n, uint64_t *octets)
{
	*n = 0;
	*octets = 0;
	for (size_t i = 0; i < s->mbox.count; i++)
		if (!(s->mbox.msgs[i].flags & MSG_DELETED)) {
			(*n)++;
			*octets += (uint64_t)s->mbox.msgs[i].octets;
		}
}

const char *
code_for(int r)
{
	switch (r) {
	case MBOX_INUSE:
		return "[IN-USE]";
	case MBOX_PERM:
		return "[SYS/PERM]";
	default:
		return "[SYS/TEMP]";
	}
}

static enum verdict
cmd_quit(struct session *s, int ac, char **av)
{
	size_t n;
	uint64_t octets;
	sigset_t all, old;
	int r;

	(void)ac;
	(void)av;
	if (s->state != ST_TRANS) {
		reply_ok(s, "bye");
		return V_QUIT;
	}
	/* A client that cannot hear us has not seen what it deletes. */
	if (out_flush(&s->out) == -1)
		return V_END;
	/* UPDATE runs to its end: a signal now would only slow recovery. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	r = mbox_update(&s->mbox);
	sigprocmask(SIG_SETMASK, &old, NULL);
	totals(s, &n, &octets);
	if (r != MBOX_OK) {
		log_msg(LOG_ERR, "user=%s mailbox=%s: %s", s->acct.name,
		    s->acct.mailbox, s->mbox.reason);
		log_msg(LOG_INFO, "logout user=%s retr=%lu dele=0 left=%zu "
		    "bytes=%llu (update failed)", s->acct.name, s->retr,
		    s->mbox.count, (unsigned long long)s->mbox.scanned);
		reply_err(s, "%s %s", code_for(r), s->mbox.reason);
		return V_QUIT;
	}
	log_msg(LOG_INFO, "logout user=%s retr=%lu dele=%lu left=%zu "
	    "bytes=%llu", s->acct.name, s->retr, s->dele, n,
	    (unsigned long long)octets);
	reply_ok(s, "bye, %zu messages left", n);
	return V_QUIT;
}

static enum verdict
cmd_stat(struct session *s, int ac, char **av)
{
	size_t n;
	uint64_t octets;

	(void)ac;
	(void)av;
	totals(s, &n, &octets);
	return reply_ok(s, "%zu %llu", n, (unsigned long long)octets);
}

static enum verdict
cmd_list(struct session *s, int ac, char **av)
{
	struct msg *m;
	size_t i, n;
	uint64_t octets;

	if (ac == 1) {
		if ((m = message(s, av[0], &i)) == NULL)
			return V_BAD;
		return reply_ok(s, "%zu %llu", i + 1,
		    (unsigned long long)m->octets);
	}
	totals(s, &n, &octets);
	reply_ok(s, "%zu messages (%llu octets)", n,
	    (unsigned long long)octets);
	for (i = 0; i < s->mbox.count; i++)
		if (!(s->mbox.msgs[i].flags & MSG_DELETED))
			out_printf(&s->out, "%zu %llu\r\n", i + 1,
			    (unsigned long long)s->mbox.msgs[i].octets);
	out_put(&s->out, ".\r\n", 3);
	return V_OK;
}

static enum verdict
uid_failed(struct session *s)
{
	log_msg(LOG_ERR, "user=%s mailbox=%s: %s", s->acct.name,
	    s->acct.mailbox, s->mbox.reason);
	return reply_err(s, "[SYS/TEMP] cannot read the mailbox");
}

static enum verdict
cmd_uidl(struct session *s, int ac, char **av)
{
	char uid[UID_MAX + 1];
	size_t i;

	if (ac == 1) {
		if (message(s, av[0], &i) == NULL)
			return V_BAD;
		if (mbox_uid(&s->mbox, i, uid) == -1)
			return uid_failed(s);
		return reply_ok(s, "%zu %s", i + 1, uid);
	}
	/* the first UIDL reads the headers: fail before the +OK */
	if (s->mbox.count > 0 && mbox_uid(&s->mbox, 0, uid) == -1)
		return uid_failed(s);
	reply_ok(s, "unique-id listing follows");
	for (i = 0; i < s->mbox.count; i++)
		if (!(s->mbox.msgs[i].flags & MSG_DELETED)) {
			if (mbox_uid(&s->mbox, i, uid) == -1)
				return V_END;
			out_printf(&s->out, "%zu %s\r\n", i + 1, uid);
		}
	out_put(&s->out, ".\r\n", 3);
	return V_OK;
}

static enum verdict
send_message(struct session *s, size_t i, int top, uint64_t lines)
{
	if (mbox_send(&s->mbox, i, top, lines, &s->out) == -1) {
		if (!s->out.failed)
			log_msg(LOG_ERR, "user=%s mailbox=%s: %s",
			    s->acct.name, s->acct.mailbox, s->mbox.reason);
		return V_END;	/* a half-sent message: hang up */
	}
	return V_OK;
}

static enum verdict
cmd_retr(struct session *s, int ac, char **av)
{
	struct msg *m;
	size_t i;

	(void)ac;
	if ((m = message(s, av[0], &i)) == NULL)
		return V_BAD;
	reply_ok(s, "%llu octets", (unsigned long long)m->octets);
	s->retr++;
	return send_message(s, i, 0, 0);
}

static enum verdict
cmd_top(struct session *s, int ac, char **av)
{
	uint64_t lines;
	size_t i;

	(void)ac;
	if (message(s, av[0], &i) == NULL)
		return V_BAD;
	if (!parse_number(av[1], &lines))
		return reply_err(s, "invalid line count: %s", shown(av[1]));
	reply_ok(s, "top of message follows");
	return send_message(s, i, 1, lines);
}

static enum verdict
cmd_dele(struct session *s, int ac, char **av)
{
	struct msg *m;
	size_t i;

	(void)ac;
	if ((m = message(s, av[0], &i)) == NULL)
		return V_BAD;
	m->flags |= MSG_DELETED;
	s->dele++;
	return reply_ok(s, "message %zu deleted", i + 1);
}

static enum verdict
cmd_noop(struct session *s, int ac, char **av)
{
	(void)ac;
	(void)av;
	return reply_ok(s, NULL);
}

static enum verdict
cmd_rset(struct session *s, int ac, char **av)
{
	size_t n;
	uint64_t octets;

	(void)ac;
	(void)av;
	for (size_t i = 0; i < s->mbox.count; i++)
		s->mbox.msgs[i].flags &= (uint8_t)~MSG_DELETED;
	s->dele = 0;
	totals(s, &n, &octets);
	return reply_ok(s, "%zu messages (%llu octets)", n,
	    (unsigned long long)octets);
}

static enum verdict
cmd_capa(struct session *s, int ac, char **av)
{
	(void)ac;
	(void)av;
	reply_ok(s, "capability list follows");
	out_printf(&s->out, "TOP\r\nUIDL\r\n");
	if (s->state == ST_AUTH)
		out_printf(&s->out, "USER\r\nSASL %s\r\n",
		    sasl_mechanisms(s));
	out_printf(&s->out, "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
	    "EXPIRE NEVER\r\nIMPLEMENTATION pop3d-%s\r\n.\r\n",
	    POP3D_VERSION);
	return V_OK;
}

#define ANY	(ST_AUTH | ST_TRANS)

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
	{ NULL, 0, 0, 0, NULL }
};

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

static int
session(const struct auth_config *cfg, int timeout)
{
	static struct session s;
	char line[SASL_LINE_MAX];
	struct timeval send_limit = { timeout, 0 };
	enum verdict v = V_OK;
	int r;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.state = ST_AUTH;
	s.in.fd = 0;
	s.in.timeout_ms = timeout * 1000;
	s.out.fd = 1;
	s.mbox.fd = -1;
	s.mbox.session_fd = -1;
	peer_name(&s);
	/*
	 * A client that stops reading is as idle as one that stops writing:
	 * a send blocked this long fails (EAGAIN) and ends the session, which
	 * would otherwise hold the mailbox forever.  Not a socket: no limit.
	 */
	(void)setsockopt(1, SOL_SOCKET, SO_SNDTIMEO, &send_limit,
	    sizeof(send_limit));
	/*
	 * The APOP timestamp only when APOP works for every user: clients
	 * such as curl use APOP whenever it is offered and never fall back.
	 */
	if (cfg->all_plain) {
		auth_stamp(s.stamp, sizeof(s.stamp));
		reply_ok(&s, "POP3 server ready %s", s.stamp);
	} else
		reply_ok(&s, "POP3 server ready");
	for (;;) {
		if (!in_pending(&s.in) && out_flush(&s.out) == -1)
			break;
		r = in_line(&s.in, line, CMD_LINE_MAX);
		if (r == LINE_EOF) {
			if (s.in.timed_out) {
				reply_err(&s, "idle for too long, closing");
				out_flush(&s.out);
				log_msg(LOG_INFO, "timeout user=%s from=%s",
				    s.user[0] ? s.user : "-", s.peer);
			}
			break;
		}
		if (r == LINE_BAD)
			v = reply_err(&s, "line too long or not text");
		else
			v = dispatch(&s, line);
		explicit_bzero(line, sizeof(line));
		if (v == V_QUIT || v == V_END || s.out.failed)
			break;
		s.bad = v == V_BAD ? s.bad + 1 : 0;
		if (s.bad >= BAD_COMMANDS_MAX) {
			reply_err(&s, "too many bad commands, closing");
			break;
		}
	}
	out_flush(&s.out);
	if (s.state == ST_TRANS && v != V_QUIT)
		log_msg(LOG_INFO, "logout user=%s retr=%lu dele=0 left=%zu "
		    "(session ended without QUIT, nothing deleted)",
		    s.acct.name, s.retr, s.mbox.count);
	mbox_close(&s.mbox);
	auth_free(&s.acct);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pop3d [-f MBOX | -m TEMPLATE] [-p PASSWDFILE [-u USER]] "
	    "[-t SECONDS] [-e]\n"
	    "       pop3d -P | -V | -h\n"
	    "  -f MBOX        serve this mailbox to every user\n"
	    "  -m TEMPLATE    mailbox per user, %%u = user name "
	    "(default /var/mail/%%u)\n"
	    "  -p PASSWDFILE  virtual users: lines user:secret[:mailbox];\n"
	    "                 without -p, system accounts (needs root; the "
	    "session\n"
	    "                 then runs as the user who logged in)\n"
	    "  -u USER        with -p: the account sessions run as\n"
	    "  -t SECONDS     idle timeout (default %d)\n"
	    "  -e             log to stderr instead of syslog\n"
	    "  -P             read a password on stdin, print its crypt(3) "
	    "hash\n"
	    "  -V             print the version\n"
	    "  -h             print this help\n", IDLE_TIMEOUT_DEFAULT);
}

int
main(int argc, char **argv)
{
	struct auth_config cfg = { .template = "/var/mail/%u" };
	int c, timeout = IDLE_TIMEOUT_DEFAULT, to_stderr = 0, hash = 0;
	char why[512];
	uint64_t t;

	while ((c = getopt(argc, argv, ":f:m:p:u:t:ePVh")) != -1) {
		switch (c) {
		case 'f':
			cfg.mailbox = optarg;
			break;
		case 'm':
			cfg.template = optarg;
			break;
		case 'p':
			cfg.passwd = optarg;
			break;
		case 'u':
			cfg.run_as = optarg;
			break;
		case 'P':
			hash = 1;
			break;
		case 't':
			if (!parse_number(optarg, &t) || t == 0 ||
			    t > 86400) {
				fprintf(stderr, "pop3d: -t: a number of "
				    "seconds from 1 to 86400\n");
				return EX_USAGE;
			}
			timeout = (int)t;
			break;
		case 'e':
			to_stderr = 1;
			break;
		case 'V':
			printf("pop3d %s\n", POP3D_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "pop3d: -%c needs an argument\n",
			    optopt);
			usage(stderr);
			return EX_USAGE;
		default:
			fprintf(stderr, "pop3d: unknown option -%c\n", optopt);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pop3d: unexpected argument %s\n",
		    argv[optind]);
		usage(stderr);
		return EX_USAGE;
	}
	if (!auth_template_ok(cfg.template)) {
		fprintf(stderr, "pop3d: -m: only %%u and %%%% may follow %%\n");
		return EX_USAGE;
	}
	if (hash)
		return auth_hash_password();
	if (cfg.run_as != NULL && cfg.passwd == NULL) {
		fprintf(stderr, "pop3d: -u is for -p: a system account's "
		    "session runs as that account\n");
		usage(stderr);
		return EX_USAGE;
	}
	log_open(to_stderr);
	/*
	 * Read the password file, or check we may use system accounts, and
	 * give up root where -u says so: before a byte from the client.
	 */
	if (auth_init(&cfg, why, sizeof(why)) == -1) {
		log_msg(LOG_ERR, "%s", why);
		if (!to_stderr)
			fprintf(stderr, "pop3d: %s\n", why);
		auth_end(&cfg);
		return 1;
	}
	/* A vanished client shows up as EPIPE from write(2). */
	signal(SIGPIPE, SIG_IGN);
	c = session(&cfg, timeout);
	auth_end(&cfg);
	return c;
}
