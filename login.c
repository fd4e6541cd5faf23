/*
 * The AUTHORIZATION state: USER, PASS, APOP and AUTH (RFC 1939, 5034,
 * 4616, 2195), the same answer and the same delay for every kind of
 * failure, and the step into TRANSACTION once the mailbox is open.  The
 * secrets themselves are checked in auth.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base64.h"
#include "log.h"
#include "priv.h"
#include "session.h"

/*
 * The SASL mechanisms (RFC 5034): what CAPA and a bare AUTH list, and
 * what AUTH runs.  CRAM-MD5 needs the shared secret: only when every
 * user has a {PLAIN} one.
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
	return !m->needs_plain || s->cfg->all_plain;
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

static void
attempt_begins(struct session *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->tried);
}

/*
 * Answer a failure FAIL_DELAY_MS after the attempt began: the time a
 * crypt(3) took, or did not take, is hidden in the wait.
 */
static void
pause_after_failure(struct session *s)
{
	struct timespec until = s->tried;

	until.tv_sec += FAIL_DELAY_MS / 1000;
	until.tv_nsec += (FAIL_DELAY_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
	    NULL) == EINTR)
		;
}

/* Credentials are checked; open the mailbox and enter TRANSACTION. */
static enum verdict
enter_transaction(struct session *s)
{
	char why[256];
	size_t n;
	uint64_t octets;

	/* A system account: the mailbox is opened as its user, never root. */
	if (priv_become(&s->acct, why, sizeof(why)) == -1) {
		log_msg(LOG_ERR, "user=%s: cannot become the user: %s",
		    s->acct.name, why);
		auth_free(&s->acct);
		reply_err(s, "[SYS/PERM] cannot switch to the user");
		return V_END;
	}
	if (mbox_open(&s->mbox, s->acct.mailbox, s->cfg->index_dir) == -1) {
		int became = s->acct.system;

		reply_log_fault(s);
		mbox_close(&s->mbox);
		auth_free(&s->acct);
		if (s->mbox.fault.code == FAULT_INUSE)
			reply_err(s, "[IN-USE] mailbox is in use by another "
			    "session");
		else
			reply_err(s, "%s cannot open the mailbox: %s",
			    reply_code(&s->mbox.fault), s->mbox.fault.text);
		/* Root is gone for good: no other user can log in now. */
		return became ? V_END : V_BAD;
	}
	s->state = ST_TRANS;
	mbox_totals(&s->mbox, &n, &octets);
	log_msg(LOG_INFO, "login user=%s from=%s msgs=%zu bytes=%llu "
	    "index=%s", s->acct.name, s->peer, n, (unsigned long long)octets,
	    mbox_index_state(&s->mbox));
	return reply_ok(s, "%zu messages (%llu octets)", n,
	    (unsigned long long)octets);
}

/*
 * One answer for every refusal: no such user, a wrong secret, a locked,
 * expired or uid 0 account, a user APOP or CRAM-MD5 cannot serve.
 */
static enum verdict
login_failed(struct session *s, int r, const char *how)
{
	log_msg(LOG_NOTICE, "auth failed user=%s from=%s method=%s",
	    s->acct.name[0] ? s->acct.name : "?", s->peer, how);
	s->user[0] = '\0';
	auth_free(&s->acct);
	pause_after_failure(s);
	if (r == AUTH_ERROR)
		return reply_err(s, "[SYS/TEMP] cannot check credentials now");
	if (++s->failures >= AUTH_FAILURES_MAX) {
		reply_err(s, "[AUTH] invalid user name or password; "
		    "too many failures");
		return V_END;
	}
	if (r == AUTH_AUTHZID)
		return reply_err(s, "[AUTH] the authorization identity must "
		    "be empty or the user name");
	return reply_err(s, "[AUTH] invalid user name or password");
}

enum verdict
cmd_user(struct session *s, int ac, char **av)
{
	(void)ac;
	/* The same answer for every name: existence is not revealed. */
	snprintf(s->user, sizeof(s->user), "%s", av[0]);
	if (strlen(av[0]) > USER_NAME_MAX)
		s->user[0] = '\1';	/* never valid, never a user */
	return reply_ok(s, "send PASS");
}

enum verdict
cmd_pass(struct session *s, int ac, char **av)
{
	int r;

	(void)ac;
	if (s->user[0] == '\0')
		return reply_err(s, "USER first");
	attempt_begins(s);
	r = auth_pass(s->cfg, s->user, av[0], &s->acct);
	explicit_bzero(av[0], strlen(av[0]));
	if (r != AUTH_OK)
		return login_failed(s, r, "pass");
	return enter_transaction(s);
}

/* RFC 1939 APOP name digest: only when the greeting offered a timestamp. */
enum verdict
cmd_apop(struct session *s, int ac, char **av)
{
	int r;

	(void)ac;
	if (s->stamp[0] == '\0')
		return reply_err(s, "APOP is not offered here; use USER and "
		    "PASS or AUTH");
	attempt_begins(s);
	r = auth_apop(s->cfg, av[0], s->stamp, av[1], &s->acct);
	if (r != AUTH_OK)
		return login_failed(s, r, "apop");
	return enter_transaction(s);
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
				reply_err(s, "idle for too long, closing");
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

/* RFC 4616 PLAIN: an initial response, or one asked for. */
static enum verdict
mech_plain(struct session *s, int ac, char **av)
{
	char dec[SASL_LINE_MAX];
	enum verdict v;
	size_t len = 0;
	int r;

	v = sasl_response(s, "", ac == 2 ? av[1] : NULL, dec, sizeof(dec),
	    &len);
	if (v != V_OK)
		return v;
	attempt_begins(s);
	r = auth_plain(s->cfg, dec, len, &s->acct);
	explicit_bzero(dec, sizeof(dec));
	if (r == AUTH_MALFORMED)
		return reply_err(s, "malformed PLAIN response");
	if (r != AUTH_OK)
		return login_failed(s, r, "plain");
	return enter_transaction(s);
}

/* RFC 2195 CRAM-MD5: a fresh challenge, the digest keyed by the secret. */
static enum verdict
mech_cram(struct session *s, int ac, char **av)
{
	char dec[SASL_LINE_MAX], challenge[AUTH_STAMP_MAX];
	char b64[AUTH_STAMP_MAX * 2];
	enum verdict v;
	size_t len = 0;
	int r;

	(void)av;
	/* RFC 5034: a server-first mechanism takes no initial response */
	if (ac == 2)
		return reply_err(s, "CRAM-MD5 takes no initial response");
	auth_stamp(challenge, sizeof(challenge));
	base64_encode((const unsigned char *)challenge, strlen(challenge),
	    b64, sizeof(b64));
	v = sasl_response(s, b64, NULL, dec, sizeof(dec), &len);
	if (v != V_OK)
		return v;
	attempt_begins(s);
	r = auth_cram(s->cfg, challenge, dec, len, &s->acct);
	explicit_bzero(dec, sizeof(dec));
	if (r == AUTH_MALFORMED)
		return reply_err(s, "malformed CRAM-MD5 response");
	if (r != AUTH_OK)
		return login_failed(s, r, "cram-md5");
	return enter_transaction(s);
}

/*
 * RFC 5034 AUTH.  Bare AUTH lists the mechanisms (as RFC 1734 clients
 * expect); a named one runs if it is offered.
 */
enum verdict
cmd_auth(struct session *s, int ac, char **av)
{
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
