/*
 * A session in two processes, as popa3d and OpenSSH split theirs:
 *
 *	monitor: root (system accounts), -u's account, or whoever ran us
 *	   |	socket pair of hand-over records (handover.c)
 *	pre-login child: the -U account chrooted to -R (started as root),
 *	   	no groups, RLIMIT_NOFILE 1, RLIMIT_NPROC 0, NO_NEW_PRIVS,
 *	   	Landlock and seccomp (sandbox.c); dies with the monitor
 *
 * The child greets the client and reads every byte of AUTHORIZATION
 * (login.c); a login becomes a record.  The monitor alone holds the
 * password file or may read the shadow file: it checks the secret,
 * answers a failure after the same delay whatever failed and counts the
 * failures (here, where a child taken over by a client cannot skip
 * either), and on success sends the child away, becomes the user, opens
 * the mailbox and runs TRANSACTION itself, starting from the bytes the
 * child had read past the login.  The monitor is forked before it reads
 * the password file, so the child holds no secret, not even in freed
 * memory.  Anything odd from the child ends the session with one -ERR.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "session.h"

struct monitor {
	struct session		*s;	/* ours: answers, then TRANSACTION */
	struct auth_config	*cfg;
	const struct options	*o;
	struct channel		ch;
	pid_t			child;	/* 0: none, or reaped */
	long long		until_ms;	/* the child's last word */
	char			challenge[AUTH_STAMP_MAX];	/* "" none */
	struct timespec		tried;	/* when this attempt began */
	int			failures;
	int			done;	/* the session is over */
	int			taken;	/* TRANSACTION is ours */
	int			stls;	/* STLS: stunnel takes the connection */
	int			proxy_read;	/* the PROXY header's record */
	char			fatal[256];	/* the child could not start */
};

#define SERVER_ERROR	"[SYS/TEMP] server error, closing"

/*
 * Wait up to ms for the child to exit and reap it.  pidfd_open(2) gives
 * the bound; a kernel without it (before 5.3) waits as long as it takes.
 * 0: reaped, *status set; -1: still running.
 */
static int
wait_exit(pid_t pid, int ms, int *status)
{
#ifdef SYS_pidfd_open
	struct pollfd p = { .events = POLLIN };
	int r;

	if ((p.fd = (int)syscall(SYS_pidfd_open, pid, 0)) != -1) {
		while ((r = poll(&p, 1, ms)) == -1 && errno == EINTR)
			;
		close(p.fd);
		if (r != 1)
			return -1;
	}
#else
	(void)ms;
#endif
	*status = 0;
	while (waitpid(pid, status, 0) == -1)
		if (errno != EINTR)
			return 0;	/* ECHILD: gone already */
	return 0;
}

/*
 * The child is to be gone: reap it, killing it if it lingers.  Killing
 * needs privilege over it, which a monitor that became -u's account has
 * lost; then the session ends instead (the child dies with us: its
 * parent-death signal).  0, or -1.  *status: how it ended.
 */
static int
child_gone(struct monitor *m, int *status)
{
	*status = 0;
	if (m->child <= 0)
		return 0;
	if (wait_exit(m->child, CHILD_EXIT_MS, status) == -1) {
		(void)kill(m->child, SIGKILL);
		if (wait_exit(m->child, CHILD_EXIT_MS, status) == -1)
			return -1;
	}
	m->child = 0;
	return 0;
}

/* The session ends on our side: one -ERR, the reason in the log. */
static void
end_session(struct monitor *m, const char *why)
{
	int status;

	log_msg(LOG_ERR, "pre-login process: %s; session ended", why);
	reply_err(m->s, SERVER_ERROR);
	(void)out_flush(&m->s->out);
	m->done = 1;
	if (m->ch.fd != -1)	/* a child waiting for us reads the end */
		(void)shutdown(m->ch.fd, SHUT_RDWR);
	(void)child_gone(m, &status);
}

/*
 * The channel broke before the child said it was done: a malformed or
 * late record, or the child's end closed (then, if it died, of what).
 */
static void
lost(struct monitor *m, const char *why)
{
	char text[128];
	int status;

	if (strcmp(why, HO_WHY_GONE) == 0 && m->child > 0 &&
	    child_gone(m, &status) == 0 && WIFSIGNALED(status)) {
		snprintf(text, sizeof(text), "killed by signal %d%s",
		    WTERMSIG(status), WTERMSIG(status) == SIGSYS ?
		    " (a system call its sandbox forbids)" : "");
		why = text;
	}
	end_session(m, why);
}

/* Tell the child what became of its record. */
static void
answer(struct monitor *m, int type)
{
	(void)out_flush(&m->s->out);
	(void)handover_send(&m->ch, type, 0, NULL);
}

/* The child has no more to do: it exits, or the session ends. */
static int
release_child(struct monitor *m)
{
	int status;

	(void)handover_send(&m->ch, HO_EXIT, 0, NULL);
	if (child_gone(m, &status) == -1) {
		end_session(m, "did not exit when told to");
		return -1;
	}
	return 0;
}

/*
 * Answer a failure FAIL_DELAY_MS after the attempt began: the time a
 * crypt(3) took, or did not take, is hidden in the wait.
 */
static void
pause_after_failure(struct monitor *m)
{
	struct timespec until = m->tried;

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

/*
 * One answer for every refusal: no such user, a wrong secret, a locked,
 * expired or uid 0 account, a user APOP or CRAM-MD5 cannot serve.
 */
static void
login_failed(struct monitor *m, int r, const char *how)
{
	struct session *s = m->s;

	log_msg(LOG_NOTICE, "auth failed user=%s from=%s method=%s",
	    s->acct.name[0] ? s->acct.name : "?", s->peer, how);
	auth_free(&s->acct);
	pause_after_failure(m);
	if (r == AUTH_ERROR) {
		reply_err(s, "[SYS/TEMP] cannot check credentials now");
		answer(m, HO_FAILED);
	} else if (++m->failures >= AUTH_FAILURES_MAX) {
		reply_err(s, "[AUTH] invalid user name or password; "
		    "too many failures");
		m->done = 1;
		(void)release_child(m);
	} else {
		if (r == AUTH_AUTHZID)
			reply_err(s, "[AUTH] the authorization identity must "
			    "be empty or the user name");
		else
			reply_err(s, "[AUTH] invalid user name or password");
		answer(m, HO_FAILED);
	}
}

/*
 * The mailbox is open, the child gone: from here on the session reads
 * and writes only what it has open (sandbox.c).  0, or -1: the session
 * ended.
 */
static int
confine(struct monitor *m)
{
	char dirs[2][PATH_MAX], why[256];
	const char *names[2] = { dirs[0], dirs[1] };
	size_t n = mbox_name_dirs(&m->s->mbox, dirs);

	if (sandbox_session(names, n, why, sizeof(why)) == 0)
		return 0;
	log_msg(LOG_ERR, "user=%s: cannot confine the session: %s",
	    m->s->acct.name, why);
	reply_err(m->s, SERVER_ERROR);
	(void)out_flush(&m->s->out);
	m->done = 1;
	return -1;
}

/*
 * Credentials are checked: become the user, open the mailbox and take
 * the session, starting the line reader with the pipelined bytes.
 */
static void
enter_transaction(struct monitor *m, const char *pipelined, size_t n)
{
	struct session *s = m->s;
	int system = s->acct.system;
	char why[256];
	size_t count;
	uint64_t octets;

	/*
	 * A system account: the mailbox is opened as its user, never root.
	 * The switch is for good, and after it the child could no longer
	 * be stopped: it goes first.
	 */
	if (system && release_child(m) == -1)
		return;
	if (priv_become(&s->acct, why, sizeof(why)) == -1) {
		log_msg(LOG_ERR, "user=%s: cannot become the user: %s",
		    s->acct.name, why);
		auth_free(&s->acct);
		reply_err(s, "[SYS/PERM] cannot switch to the user");
		(void)out_flush(&s->out);
		m->done = 1;
		return;
	}
	if (mbox_open(&s->mbox, s->acct.mailbox, m->cfg->index_dir) == -1) {
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
		if (system) {
			(void)out_flush(&s->out);
			m->done = 1;
		} else
			answer(m, HO_REFUSED);
		return;
	}
	if (!system && release_child(m) == -1)
		return;
	if (confine(m) == -1)
		return;
	s->state = ST_TRANS;
	memcpy(s->in.buf, pipelined, n);
	s->in.pos = 0;
	s->in.len = n;
	mbox_totals(&s->mbox, &count, &octets);
	log_msg(LOG_INFO, "login user=%s from=%s msgs=%zu bytes=%llu "
	    "index=%s", s->acct.name, s->peer, count,
	    (unsigned long long)octets, mbox_index_state(&s->mbox));
	reply_ok(s, "%zu messages (%llu octets)", count,
	    (unsigned long long)octets);
	m->taken = 1;
}

/* A login attempt from the child; r is checked against its schema. */
static void
login(struct monitor *m, const struct ho_record *r)
{
	struct session *s = m->s;
	const char *how;
	int res;

	if (s->plain_refused) {
		end_session(m, "a login in the clear, which -x refuses");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &m->tried);
	/* the child's answers so far go first */
	out_put(&s->out, r->field[r->nfields - 2], r->len[r->nfields - 2]);
	switch (r->type) {
	case HO_PASS:
		how = "pass";
		res = auth_pass(m->cfg, r->field[0], r->field[1], &s->acct);
		break;
	case HO_PLAIN:
		how = "plain";
		if (r->len[0] > 0 && strcmp(r->field[0], r->field[1]) != 0) {
			(void)auth_begin(r->field[1], &s->acct);
			res = AUTH_AUTHZID;
		} else
			res = auth_pass(m->cfg, r->field[1], r->field[2],
			    &s->acct);
		break;
	case HO_APOP:
		how = "apop";
		if (s->stamp[0] == '\0' || strcmp(r->field[2], s->stamp) != 0) {
			end_session(m, "APOP with a timestamp not ours");
			return;
		}
		res = auth_apop(m->cfg, r->field[0], s->stamp, r->field[1],
		    &s->acct);
		break;
	default:
		how = "cram-md5";
		if (m->challenge[0] == '\0' ||
		    strcmp(r->field[2], m->challenge) != 0) {
			end_session(m, "CRAM-MD5 with a challenge not ours");
			return;
		}
		res = auth_cram(m->cfg, m->challenge, r->field[0],
		    r->field[1], &s->acct);
		m->challenge[0] = '\0';		/* one response each */
		break;
	}
	if (res != AUTH_OK)
		login_failed(m, res, how);
	else
		enter_transaction(m, r->field[r->nfields - 1],
		    r->len[r->nfields - 1]);
}

/* The child's dialogue ended: the log line it calls for. */
static void
ended(struct monitor *m, const struct ho_record *r)
{
	const char *why = r->field[0], *user = r->len[1] ? r->field[1] : "-";
	int status;

	if (strcmp(why, HO_END_IDLE) == 0)
		log_msg(LOG_INFO, "timeout user=%s from=%s", user, m->s->peer);
	else if (strcmp(why, HO_END_DEADLINE) == 0)
		log_msg(LOG_INFO, "timeout user=%s from=%s: no login in time",
		    user, m->s->peer);
	else if (strcmp(why, HO_END_QUIT) != 0 && strcmp(why, HO_END_EOF) != 0 &&
	    strcmp(why, HO_END_BAD) != 0 && strcmp(why, HO_END_GONE) != 0) {
		end_session(m, "an end it cannot have");
		return;
	}
	m->done = 1;
	(void)child_gone(m, &status);
}

/*
 * STLS: stunnel is there to take the connection, or the client hears
 * that TLS cannot start now and the session goes on in the clear (RFC
 * 2595 section 4).  On +OK the child goes; the connection is handed
 * over once it is gone (monitor_run).
 */
static void
stls(struct monitor *m, const struct ho_record *r)
{
	struct session *s = m->s;

	if (!s->stls) {
		end_session(m, "STLS, which is not offered");
		return;
	}
	out_put(&s->out, r->field[0], r->len[0]);
	if (access(STUNNEL_PATH, X_OK) == -1 || access(m->o->stls, R_OK) == -1) {
		log_msg(LOG_ERR, "STLS from=%s: cannot run %s %s: %s", s->peer,
		    STUNNEL_PATH, m->o->stls, strerror(errno));
		reply_err(s, "[SYS/TEMP] TLS is not available now");
		answer(m, HO_REFUSED);
		return;
	}
	reply_ok(s, "begin TLS negotiation");
	if (out_flush(&s->out) == -1) {
		m->done = 1;
		(void)release_child(m);
		return;
	}
	if (release_child(m) == 0) {
		m->stls = 1;
		m->done = 1;
	}
}

/*
 * The connection goes to stunnel in inetd mode: standard input and
 * output are the client's socket; the configuration names the pop3d
 * (-a) it runs behind TLS.  That pop3d learns the client's address and
 * our greeting's APOP timestamp through stunnel's environment.  Returns
 * only when the exec failed.
 */
static void
exec_stunnel(struct monitor *m)
{
	struct session *s = m->s;
	int fd;

	if (setenv(ENV_STLS_PEER, s->peer, 1) == -1 ||
	    (s->stamp[0] != '\0' ? setenv(ENV_STLS_STAMP, s->stamp, 1) :
	    unsetenv(ENV_STLS_STAMP)) == -1) {
		log_msg(LOG_ERR, "STLS from=%s: setenv: %s", s->peer,
		    strerror(errno));
		return;
	}
	log_msg(LOG_INFO, "STLS from=%s: stunnel takes the connection",
	    s->peer);
	log_close();
	/* stunnel may write to fd 2: never when it is the client */
	if (m->o->stderr_is_client &&
	    ((fd = open("/dev/null", O_WRONLY)) == -1 || dup2(fd, 2) == -1)) {
		log_msg(LOG_ERR, "STLS from=%s: /dev/null: %s", s->peer,
		    strerror(errno));
		return;
	}
	(void)signal(SIGPIPE, SIG_DFL);
	execl(STUNNEL_PATH, "stunnel", m->o->stls, (char *)NULL);
	log_msg(LOG_ERR, "STLS from=%s: exec %s: %s", s->peer, STUNNEL_PATH,
	    strerror(errno));
}

/*
 * The PROXY header, as the child read it: once, and only from a proxy
 * -H trusts; the address is parsed again here.  A refused one, or one
 * from a client (after the trusted proxy's, if any), ends the session
 * (the child has answered the client).
 */
static void
proxy_record(struct monitor *m, const struct ho_record *r)
{
	struct session *s = m->s;
	const char *verdict = r->field[0];
	struct proxy_addr a;
	int status;

	if (strcmp(verdict, HO_PROXY_UNTRUSTED) == 0 && r->len[1] == 0 &&
	    (!s->proxied || m->proxy_read)) {
		log_msg(LOG_NOTICE, "PROXY header from=%s, which -H does not "
		    "trust; session ended", s->peer);
	} else if (!s->proxied || m->proxy_read) {
		end_session(m, "a PROXY record it cannot send");
		return;
	} else if (strcmp(verdict, HO_PROXY_OK) == 0 &&
	    proxy_addr_parse(r->field[1], &a)) {
		session_set_peer(s, &a);
		m->proxy_read = 1;
		return;
	} else if (strcmp(verdict, HO_PROXY_NONE) == 0 && r->len[1] == 0) {
		session_set_peer(s, NULL);
		m->proxy_read = 1;
		return;
	} else if (strcmp(verdict, HO_PROXY_BAD) == 0) {
		log_msg(LOG_NOTICE, "PROXY header from=%s refused: %s; session "
		    "ended", s->peer, r->field[1]);
	} else {
		end_session(m, "a PROXY record of the wrong shape");
		return;
	}
	m->done = 1;
	(void)child_gone(m, &status);
}

static void
monitor_record(struct monitor *m, const struct ho_record *r)
{
	struct ho_field f;

	switch (r->type) {
	case HO_PASS:
	case HO_APOP:
	case HO_PLAIN:
	case HO_CRAM:
		login(m, r);
		break;
	case HO_CHALLENGE:
		if (m->s->stamp[0] == '\0') {
			end_session(m, "CRAM-MD5, which is not offered");
			break;
		}
		auth_stamp(m->challenge, sizeof(m->challenge));
		f = (struct ho_field){ m->challenge, strlen(m->challenge) };
		(void)handover_send(&m->ch, HO_ISSUED, 1, &f);
		break;
	case HO_END:
		ended(m, r);
		break;
	case HO_STLS:
		stls(m, r);
		break;
	case HO_PROXY:
		proxy_record(m, r);
		break;
	case HO_FATAL:
		snprintf(m->fatal, sizeof(m->fatal), "the pre-login process: "
		    "%s", r->field[0]);
		m->done = 1;
		break;
	default:
		end_session(m, "a record only the monitor sends");
		break;
	}
}

/* An APOP timestamp as auth_stamp() makes them: <printable>. */
static int
stamp_ok(const char *p)
{
	size_t n = p != NULL ? strlen(p) : 0;

	if (n < 3 || n >= AUTH_STAMP_MAX || p[0] != '<' || p[n - 1] != '>')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * The child greets when we say so, with the APOP timestamp if any.
 * Behind stunnel after STLS there is no greeting (RFC 2595 section 4:
 * the client goes on as in AUTHORIZATION); the timestamp is the one the
 * client saw, passed on by the pop3d before (exec_stunnel).
 */
static void
go(struct monitor *m, const struct options *o)
{
	struct session *s = m->s;
	const char *env = getenv(ENV_STLS_STAMP);
	struct ho_field f;

	if (m->cfg->all_plain && o->after_stls && stamp_ok(env))
		snprintf(s->stamp, sizeof(s->stamp), "%s", env);
	else if (m->cfg->all_plain)
		auth_stamp(s->stamp, sizeof(s->stamp));
	f = (struct ho_field){ s->stamp, strlen(s->stamp) };
	m->until_ms = io_now_ms() + o->deadline * 1000LL + CHILD_GRACE_MS;
	(void)handover_send(&m->ch, HO_GO, 1, &f);
}

/*
 * The child's side, in either build: wait for the word to greet, run
 * AUTHORIZATION until the monitor takes over or the dialogue ends, and
 * then say how it ended.
 */
static void
dialogue(struct session *s, const struct options *o)
{
	struct ho_record r;
	struct ho_field f[2];
	const char *verdict, *detail;
	int bad;
	const char *why, *word[] = {
		[END_QUIT] = HO_END_QUIT, [END_EOF] = HO_END_EOF,
		[END_IDLE] = HO_END_IDLE, [END_DEADLINE] = HO_END_DEADLINE,
		[END_BAD] = HO_END_BAD, [END_GONE] = HO_END_GONE,
		[END_DONE] = HO_END_EOF, [END_PROXY] = HO_END_EOF,
	};
	enum end e;

	if (handover_recv(s->ch, &r, 0, &why) == -1 || r.type != HO_GO)
		return;
	snprintf(s->stamp, sizeof(s->stamp), "%s", r.field[0]);
	s->in.until_ms = io_now_ms() + o->deadline * 1000LL;
	if (s->proxied) {
		bad = session_proxy_header(s, &verdict, &detail);
		f[0] = (struct ho_field){ verdict, strlen(verdict) };
		f[1] = (struct ho_field){ detail, strnlen(detail, 256) };
		if (handover_send(s->ch, HO_PROXY, 2, f) == -1 || bad)
			return;
	}
	if (!o->after_stls)
		session_greet(s);
	e = session_loop(s);
	if (s->handed)
		return;
	if (e == END_PROXY) {
		f[0] = (struct ho_field){ HO_PROXY_UNTRUSTED,
		    strlen(HO_PROXY_UNTRUSTED) };
		f[1] = (struct ho_field){ "", 0 };
		(void)handover_send(s->ch, HO_PROXY, 2, f);
		return;
	}
	f[0] = (struct ho_field){ word[e], strlen(word[e]) };
	f[1] = (struct ho_field){ s->user, strnlen(s->user,
	    USER_NAME_MAX + 1) };
	(void)handover_send(s->ch, HO_END, 2, f);
}

/* TRANSACTION, then the log lines a session without QUIT calls for. */
static void
transaction(struct monitor *m)
{
	struct session *s = m->s;
	enum end e = session_loop(s);

	if (e == END_IDLE)
		log_msg(LOG_INFO, "timeout user=%s from=%s", s->acct.name,
		    s->peer);
	if (e != END_QUIT)
		log_msg(LOG_INFO, "logout user=%s retr=%lu dele=0 left=%zu "
		    "(session ended without QUIT, nothing deleted)",
		    s->acct.name, s->retr, s->mbox.count);
}

#ifdef POP3D_ONE_PROCESS
/*
 * One process (the fuzz target, whose coverage a child would hide): the
 * child's records reach the monitor through this, as they come.
 */
static void
pump(void *arg)
{
	struct monitor *m = arg;
	struct ho_record r;
	const char *why;

	if (m->done || m->taken)
		return;
	if (handover_recv(&m->ch, &r, 0, &why) == -1)
		end_session(m, why);
	else
		monitor_record(m, &r);
	handover_wipe(&r);
}

static struct channel child_ch;
static struct session child_s;
static unsigned char inboxes[2][HANDOVER_INBOX];

static int
start_child(struct monitor *m, const struct options *o, char *why,
    size_t size)
{
	(void)o;
	(void)why;
	(void)size;
	child_s = *m->s;
	child_s.ch = &child_ch;
	child_ch.mate = &m->ch;
	child_ch.inbox = inboxes[0];
	child_ch.inpos = child_ch.inlen = 0;
	m->ch.mate = &child_ch;
	m->ch.inbox = inboxes[1];
	m->ch.handler = pump;
	m->ch.arg = m;
	return 0;
}
#else
/* The child: confined before it reads a byte of the client's. */
static void __attribute__((noreturn))
child_main(struct session *s, int fd, const struct options *o, pid_t monitor)
{
	static struct channel ch;
	char why[256];
	struct ho_field f;

	log_close();
	(void)close(2);		/* may be a log; the child logs nothing */
	ch.fd = fd;
	s->ch = &ch;
	if (priv_prelogin_enter(&o->prelogin, monitor, why,
	    sizeof(why)) == -1 || sandbox_prelogin(why, sizeof(why)) == -1) {
		f = (struct ho_field){ why, strlen(why) };
		(void)handover_send(&ch, HO_FATAL, 1, &f);
		_exit(1);
	}
	dialogue(s, o);
	_exit(0);
}

static int
start_child(struct monitor *m, const struct options *o, char *why,
    size_t size)
{
	pid_t self = getpid();
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(why, size, "socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((m->child = fork()) == -1) {
		snprintf(why, size, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (m->child == 0) {
		close(sv[0]);
		child_main(m->s, sv[1], o, self);
	}
	close(sv[1]);
	m->ch.fd = sv[0];
	return 0;
}
#endif

/*
 * The session.  -1 with why filled when it could not start (nothing was
 * sent to the client); 0 when it ran, however it ended.
 */
int
monitor_run(struct auth_config *cfg, const struct options *o, char *why,
    size_t size)
{
	static struct session s;
	static struct monitor m;
	struct ho_record r;
	const char *w;
	int status, ret = 0;

	session_prepare(&s, o);
	memset(&m, 0, sizeof(m));
	m.s = &s;
	m.cfg = cfg;
	m.o = o;
	m.ch.fd = -1;
	if (sandbox_probe(o->strict, why, size) == -1 ||
	    start_child(&m, o, why, size) == -1)
		return -1;
	if (auth_init(cfg, why, size) == -1) {
		ret = -1;
		goto out;
	}
	if (!o->prelogin.switched)
		log_msg(LOG_INFO, "the pre-login process runs as uid %ld, "
		    "without chroot: pop3d was not started as root",
		    (long)getuid());
	go(&m, o);
#ifdef POP3D_ONE_PROCESS
	dialogue(&child_s, o);
#endif
	while (!m.done && !m.taken) {
		if (handover_recv(&m.ch, &r, m.until_ms, &w) == -1)
			lost(&m, w);
		else
			monitor_record(&m, &r);
		handover_wipe(&r);
	}
	if (m.fatal[0] != '\0') {
		snprintf(why, size, "%s", m.fatal);
		ret = -1;
	} else if (m.taken)
		transaction(&m);
	(void)out_flush(&s.out);
out:
	if (m.ch.fd != -1)
		close(m.ch.fd);
	(void)child_gone(&m, &status);
	if (m.stls && m.child == 0)
		exec_stunnel(&m);
	mbox_close(&s.mbox);
	auth_free(&s.acct);
	return ret;
}
