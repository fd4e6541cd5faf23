/*
 * The AUTHORIZATION state: USER, PASS, APOP and AUTH (RFC 1939, 5034,
 * 4616, 2195), run by the unprivileged pre-login child.  It parses what
 * the client sends into a login attempt, hands that to the monitor
 * (monitor.c) with the bytes the client pipelined after it, and waits:
 * the monitor checks the secret, answers a failure after the same delay
 * whatever failed, and takes the session over on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "session.h"

/*
 * The SASL mechanisms (RFC 5034): what CAPA and a bare AUTH list, and
 * what AUTH runs.  CRAM-MD5 needs the shared secret: only when every
 * user has a {PLAIN} one, which is when the greeting has a timestamp.
 */
static enum verdict	mech_plain(struct session *, int, char **);
static enum verdict	mech_cram(struct session *, int, char **);

static const struct mech {
	const char	*name;
	int		needs_plain;
	enum verdict	(*fn)(struct session *, int, char **);
} mechs[] = {
	{ "PLAIN",	0,	mech_plain },
	{ "CRAM-MD5",	1,	mech_cram },
};
#define NMECHS	(sizeof(mechs) / sizeof(mechs[0]))

static int
offered(const struct session *s, const struct mech *m)
{
	return !m->needs_plain || s->stamp[0] != '\0';
}

/*
 * The mechanisms on one line: prefix (or none), each name after sep,
 * CR LF.  CAPA: "SASL PLAIN CRAM-MD5"; bare AUTH: one a line.
 */
void
login_mechanisms(struct session *s, const char *prefix, const char *sep)
{
	int first = 1;

	if (prefix != NULL)
		out_printf(&s->out, "%s", prefix);
	for (size_t i = 0; i < NMECHS; i++)
		if (offered(s, &mechs[i])) {
			out_printf(&s->out, "%s%s", first && prefix == NULL ?
			    "" : sep, mechs[i].name);
			first = 0;
		}
	out_put(&s->out, "\r\n", 2);
}

static struct ho_field
text(const char *p)
{
	return (struct ho_field){ p, strlen(p) };
}

/*
 * A user name as the monitor takes it: one byte past the longest valid
 * name is enough to be refused as too long, and bounds the log line.
 */
static struct ho_field
name(const char *p)
{
	size_t n = strlen(p);

	return (struct ho_field){ p, n > USER_NAME_MAX + 1 ?
	    USER_NAME_MAX + 1 : n };
}

/*
 * Hand the monitor an attempt: its two or three fields (PASS has two),
 * then our answers not yet written (the monitor writes them before its
 * own, in the same write: PIPELINING) and the bytes read past this line.
 * The monitor answers the client itself; its verdict says what is left
 * for us.
 */
static enum verdict
attempt(struct session *s, int type, struct ho_field a, struct ho_field b,
    struct ho_field c)
{
	struct ho_field f[5] = { a, b, c };
	int n = type == HO_PASS ? 4 : 5;
	struct ho_record r;
	const char *why;
	int sent;

	if (s->out.len > HANDOVER_OUT && out_flush(&s->out) == -1)
		return V_END;
	f[n - 2] = (struct ho_field){ s->out.buf, s->out.len };
	f[n - 1] = (struct ho_field){ s->in.buf + s->in.pos,
	    s->in.len - s->in.pos };
	sent = handover_send(s->ch, type, n, f);
	s->out.len = 0;
	if (sent == -1 || handover_recv(s->ch, &r, 0, &why) == -1)
		return V_END;
	switch (r.type) {
	case HO_FAILED:
		s->user[0] = '\0';
		return V_BAD;
	case HO_REFUSED:
		return V_BAD;
	case HO_EXIT:
		s->handed = 1;
		return V_END;
	default:
		return V_END;
	}
}

/*
 * -x: no credentials in the clear (Dovecot's disable_plaintext_auth).
 * The monitor refuses such an attempt too; this is the client's answer.
 */
#define TLS_REQUIRED	"[AUTH] TLS required"

enum verdict
cmd_user(struct session *s, int ac, char **av)
{
	(void)ac;
	if (s->plain_refused)
		return reply_err(s, TLS_REQUIRED);
	/* The same answer for every name: existence is not revealed. */
	snprintf(s->user, sizeof(s->user), "%s", av[0]);
	return reply_ok(s, "send PASS");
}

enum verdict
cmd_pass(struct session *s, int ac, char **av)
{
	enum verdict v;

	(void)ac;
	if (s->plain_refused) {
		explicit_bzero(av[0], strlen(av[0]));
		return reply_err(s, TLS_REQUIRED);
	}
	if (s->user[0] == '\0')
		return reply_err(s, "USER first");
	v = attempt(s, HO_PASS, name(s->user), text(av[0]), text(""));
	explicit_bzero(av[0], strlen(av[0]));
	return v;
}

/* RFC 1939 APOP name digest: only when the greeting offered a timestamp. */
enum verdict
cmd_apop(struct session *s, int ac, char **av)
{
	(void)ac;
	if (s->plain_refused)
		return reply_err(s, TLS_REQUIRED);
	if (s->stamp[0] == '\0')
		return reply_err(s, "APOP is not offered here; use USER and "
		    "PASS or AUTH");
	return attempt(s, HO_APOP, name(av[0]), text(av[1]), text(s->stamp));
}

/*
 * One client response in a SASL exchange (RFC 5034 section 4): send the
 * challenge, read a line of up to SASL_LINE_MAX, decode it into dec
 * (NUL-terminated, size bytes).  V_OK with *len set; otherwise the answer
 * is given: cancelled with "*", not base64, too long, or input ended.
 */
static enum verdict
sasl_response(struct session *s, const char *challenge, const char *initial,
    char *dec, size_t size, size_t *len)
{
	char line[SASL_LINE_MAX];
	const char *resp = initial;
	enum verdict v = V_OK;
	int r;

	if (resp == NULL) {
		out_printf(&s->out, "+ %s\r\n", challenge);
		if (out_flush(&s->out) == -1)
			return V_END;
		r = in_line(&s->in, line, sizeof(line));
		if (r == LINE_EOF) {
			if (s->in.timed_out)
				reply_timeout(s);
			return V_END;
		}
		if (r == LINE_BAD) {
			explicit_bzero(line, sizeof(line));
			return reply_err(s, "SASL response too long or not "
			    "text");
		}
		resp = line;
	}
	if (strcmp(resp, "*") == 0)
		v = reply_err(s, "authentication cancelled");
	else if (strcmp(resp, "=") == 0) {	/* an empty initial response */
		*len = 0;
		dec[0] = '\0';
	} else if (base64_decode(resp, strlen(resp), (unsigned char *)dec,
	    size - 1, len) == -1)
		v = reply_err(s, "invalid base64 in the SASL response");
	else
		dec[*len] = '\0';
	explicit_bzero(line, sizeof(line));
	return v;
}

/*
 * RFC 4616 PLAIN: [authzid] NUL authcid NUL passwd, msg[len] == '\0'.
 * 0 with the user and password found, or -1.
 */
static int
plain_split(char *msg, size_t len, char **authcid, char **passwd)
{
	size_t zlen = strlen(msg), clen;

	if (zlen >= len)
		return -1;
	*authcid = msg + zlen + 1;
	clen = strlen(*authcid);
	if (zlen + 1 + clen >= len)
		return -1;
	*passwd = *authcid + clen + 1;
	if (zlen + 1 + clen + 1 + strlen(*passwd) != len || clen == 0 ||
	    **passwd == '\0')
		return -1;
	return 0;
}

/*
 * PLAIN, with an initial response or one asked for.  The monitor decides
 * whether the authorization identity is one we act for.
 */
static enum verdict
mech_plain(struct session *s, int ac, char **av)
{
	char dec[SASL_LINE_MAX], *authcid, *passwd;
	enum verdict v;
	size_t len = 0;

	v = sasl_response(s, "", ac == 2 ? av[1] : NULL, dec, sizeof(dec),
	    &len);
	if (v != V_OK)
		return v;
	if (plain_split(dec, len, &authcid, &passwd) == -1) {
		explicit_bzero(dec, sizeof(dec));
		return reply_err(s, "malformed PLAIN response");
	}
	v = attempt(s, HO_PLAIN, text(dec), name(authcid), text(passwd));
	explicit_bzero(dec, sizeof(dec));
	return v;
}

/*
 * RFC 2195 CRAM-MD5: a fresh challenge from the monitor; the response
 * is "user digest", the digest keyed by the user's secret.
 */
static enum verdict
mech_cram(struct session *s, int ac, char **av)
{
	char dec[SASL_LINE_MAX], challenge[AUTH_STAMP_MAX];
	char b64[AUTH_STAMP_MAX * 2], *digest;
	struct ho_record r;
	const char *why;
	enum verdict v;
	size_t len = 0;

	(void)av;
	/* RFC 5034: a server-first mechanism takes no initial response */
	if (ac == 2)
		return reply_err(s, "CRAM-MD5 takes no initial response");
	if (handover_send(s->ch, HO_CHALLENGE, 0, NULL) == -1 ||
	    handover_recv(s->ch, &r, 0, &why) == -1 || r.type != HO_ISSUED)
		return V_END;
	snprintf(challenge, sizeof(challenge), "%s", r.field[0]);
	base64_encode((const unsigned char *)challenge, strlen(challenge),
	    b64, sizeof(b64));
	v = sasl_response(s, b64, NULL, dec, sizeof(dec), &len);
	if (v != V_OK)
		return v;
	if (strlen(dec) != len || (digest = strrchr(dec, ' ')) == NULL)
		return reply_err(s, "malformed CRAM-MD5 response");
	*digest++ = '\0';
	v = attempt(s, HO_CRAM, name(dec), text(digest), text(challenge));
	explicit_bzero(dec, sizeof(dec));
	return v;
}

/*
 * RFC 5034 AUTH.  Bare AUTH lists the mechanisms (as RFC 1734 clients
 * expect); a named one runs if it is offered.
 */
enum verdict
cmd_auth(struct session *s, int ac, char **av)
{
	if (s->plain_refused)
		return reply_err(s, TLS_REQUIRED);
	if (ac == 0) {
		reply_ok(s, "mechanisms follow");
		login_mechanisms(s, NULL, "\r\n");
		out_put(&s->out, ".\r\n", 3);
		return V_OK;
	}
	for (size_t i = 0; i < NMECHS; i++)
		if (strcasecmp(av[0], mechs[i].name) == 0 &&
		    offered(s, &mechs[i]))
			return mechs[i].fn(s, ac, av);
	return reply_err(s, "unsupported mechanism; AUTH lists them");
}

/*
 * RFC 2595 STLS: the monitor answers, and on +OK hands the connection
 * to stunnel, which runs a fresh pop3d behind TLS.  What the client sent
 * after STLS, before it could have read our answer, is dropped here and
 * never read as a command: it cannot be a TLS handshake, and a command
 * smuggled into the clear part must not count as said under TLS.
 */
enum verdict
cmd_stls(struct session *s, int ac, char **av)
{
	struct ho_field f;
	struct ho_record r;
	const char *why;
	int sent;

	(void)ac;
	(void)av;
	if (!s->stls)
		return reply_err(s, s->tls ? "TLS is on already" :
		    "STLS is not offered here");
	in_drop(&s->in, STLS_DROP_MAX);
	if (s->out.len > HANDOVER_OUT && out_flush(&s->out) == -1)
		return V_END;
	f = (struct ho_field){ s->out.buf, s->out.len };
	sent = handover_send(s->ch, HO_STLS, 1, &f);
	s->out.len = 0;
	if (sent == -1 || handover_recv(s->ch, &r, 0, &why) == -1)
		return V_END;
	if (r.type == HO_REFUSED)
		return V_BAD;
	s->handed = r.type == HO_EXIT;
	return V_END;
}

#ifdef POP3D_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Test builds only (make pop3d-test, never installed): XEXPLOIT WHAT does
 * what code injected by a client would try, before login in the child,
 * after it in the session; each must fail, and under seccomp the process
 * dies of it.  A call that works says so: +OK.  WHAT may be an absolute
 * path: open it for reading, then for writing (another user's mailbox);
 * i386 makes a 32-bit call on x86-64, whose number is another call's.
 */
enum verdict
cmd_xexploit(struct session *s, int ac, char **av)
{
	const char *w = av[0];
	long r;

	(void)ac;
	errno = 0;
	if (w[0] == '/') {
		if ((r = open(w, O_RDONLY)) == -1)
			r = open(w, O_WRONLY);
	} else if (strcmp(w, "shadow") == 0)
		r = open("/etc/shadow", O_RDONLY);
	else if (strcmp(w, "passwd") == 0)
		r = open("/etc/passwd", O_RDONLY);
	else if (strcmp(w, "tmp") == 0)
		r = open("/tmp/pop3d-exploit", O_WRONLY | O_CREAT, 0600);
	else if (strcmp(w, "exec") == 0)
		r = execl("/bin/sh", "sh", "-c", "true", (char *)NULL);
	else if (strcmp(w, "socket") == 0)
		r = socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(w, "ptrace") == 0)
		r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	else if (strcmp(w, "setuid") == 0)
		r = setuid(0);
	else if (strcmp(w, "fork") == 0) {
		if ((r = fork()) == 0)
			_exit(0);
	}
#ifdef __x86_64__
	else if (strcmp(w, "i386") == 0)	/* getpid, 20, is writev here */
		__asm__ volatile ("int $0x80" : "=a" (r) : "a" (20L) : "memory");
#endif
	else
		return reply_err(s, "XEXPLOIT what?");
	if (r == -1)
		return reply_err(s, "%s: %s", w, strerror(errno));
	return reply_ok(s, "%s worked", w);
}

/*
 * XHANDOVER HEX (make pop3d-test, never installed): XHANDOVER HEX
 * sends the bytes HEX spells to the monitor as they are, as a child
 * taken over by a client would; then waits for what the monitor does.
 */
enum verdict
cmd_xhandover(struct session *s, int ac, char **av)
{
	unsigned char raw[CMD_LINE_MAX / 2];
	size_t n = 0;
	struct ho_record r;
	const char *why;
	unsigned int b;

	(void)ac;
	while (av[0][2 * n] != '\0' && n < sizeof(raw) &&
	    sscanf(av[0] + 2 * n, "%2x", &b) == 1)
		raw[n++] = (unsigned char)b;
	if (out_flush(&s->out) == -1 || handover_raw(s->ch, raw, n) == -1)
		return V_END;
	while (handover_recv(s->ch, &r, 0, &why) == 0)
		;
	return V_END;
}
#endif
