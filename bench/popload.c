/*
 * popload: drive a POP3 server through one workload, check every answer,
 * and print how long it took.
 *
 *	popload [-P] [-c SESSIONS] [-h HOST] [-p PORT] [-u USER] [-w PASSWORD]
 *	    [-n LINES] [-t SECONDS] WORKLOAD [[--] COMMAND [ARG ...]]
 *
 * With a COMMAND the server is run directly, a socketpair on its fd 0 and 1
 * (as inetd would pass a socket), and its resource use is read with wait4;
 * without one, popload connects to HOST:PORT.
 *
 * Workloads, each after USER/PASS and ending with QUIT:
 *	stat	STAT
 *	list	STAT, LIST, UIDL
 *	retr	STAT, LIST, RETR of every message
 *	dele	STAT, LIST, RETR and DELE of every message
 *	top	STAT, LIST, TOP n LINES of every message
 *	dele1	STAT, DELE 1 (QUIT then times the update)
 *	empty	STAT, which must say the mailbox is empty
 *
 * What is verified: every status line is +OK; multi-line answers end in
 * ".CRLF" and every line in CRLF; RETR sends exactly the octets LIST
 * announced, counted after removing the stuffed dots, CRLFs included and
 * the terminator excluded (RFC 1939 section 11); TOP sends the header and
 * the blank line; LIST agrees with STAT; UIDs are unique and 1-70
 * printable characters (RFC 1939 section 7).
 *
 * -P pipelines (RFC 2449): STAT and LIST leave in one write; once their
 * answers give the message count, all the per-message commands and QUIT
 * leave in one more, and the answers are read after (USER and PASS are
 * sent one at a time: they change the server's state).
 * -c runs SESSIONS sessions at once, in separate processes, each as USER
 * with %d replaced by its number (1..SESSIONS); a COMMAND sees that name
 * in POPLOAD_USER.
 *
 * One line of key=value pairs goes to standard output.  Exit status: 0 if
 * every check passed, 1 if any failed, 2 on a timeout, 64 on bad usage.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Large enough that a long body line rarely needs two reads. */
#define IN_SIZE		(256 * 1024)

/* Status and LIST/UIDL lines: RFC 2449 allows 512 octets for responses. */
#define LINE_MAX_LEN	1024

/* RFC 1939 section 7: a unique-id is 1 to 70 characters 0x21-0x7E. */
#define UID_MAX_LEN	70

#define MAX_SESSIONS	1000

/* Errors printed per session; the rest are only counted. */
#define ERRORS_SHOWN	5

enum workload { W_STAT, W_LIST, W_RETR, W_DELE, W_TOP, W_DELE1, W_EMPTY };

static const char *const workload_names[] = {
	"stat", "list", "retr", "dele", "top", "dele1", "empty", NULL
};

struct options {
	enum workload	 workload;
	const char	*host;
	int		 port;
	const char	*user;
	const char	*password;
	int		 pipelined;
	int		 sessions;
	int		 top_lines;
	int		 timeout;
	char		**command;
};

struct conn {
	int		 fd;
	char		 in[IN_SIZE];
	size_t		 pos, len;
	const char	*pending;	/* pipelined commands not yet written */
	size_t		 pending_len;
};

/* Sent through a pipe by each session process: keep under PIPE_BUF. */
struct result {
	int		 index;
	int		 errors;
	int		 server_status;
	uint64_t	 messages;
	uint64_t	 octets;
	double		 greet_ms;
	double		 login_ms;
	double		 quit_ms;
	double		 total_ms;
	double		 server_user_s;
	double		 server_sys_s;
	long		 server_maxrss_kb;
};

enum step_kind {
	S_USER, S_PASS, S_STAT, S_LIST, S_UIDL, S_RETR, S_TOP, S_DELE, S_QUIT
};

struct step {
	enum step_kind	 kind;
	uint64_t	 n;		/* message number */
};

struct session {
	const struct options	*opt;
	struct conn		*c;
	struct result		*r;
	char			 user[256];
	pid_t			 server;
	uint64_t		 count;		/* messages, from STAT */
	uint64_t		 total;		/* octets, from STAT */
	uint64_t		*sizes;		/* from LIST, [1..count] */
	struct step		*steps;		/* commands still to send */
	size_t			 nsteps, cap;
	int			 quit_done;
};

static volatile sig_atomic_t server_pid;
static pid_t session_pids[MAX_SESSIONS];
static volatile sig_atomic_t session_count;

static void	usage(void) __attribute__((noreturn));
static void	fail(struct session *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
usage(void)
{
	fprintf(stderr, "usage: popload [-P] [-c sessions] [-h host] "
	    "[-p port] [-u user] [-w password]\n"
	    "\t[-n lines] [-t seconds] stat|list|retr|dele|top|dele1|empty "
	    "[command [arg ...]]\n");
	exit(64);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A bounded run: past the deadline the server is killed and we give up. */
static void
on_alarm(int sig)
{
	static const char msg[] = "popload: timeout\n";
	int i;

	(void)sig;
	if (server_pid > 0)
		kill((pid_t)server_pid, SIGKILL);
	for (i = 0; i < session_count; i++)
		kill(session_pids[i], SIGKILL);
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(2);
}

static void
fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->r->errors++ >= ERRORS_SHOWN)
		return;
	fprintf(stderr, "popload: session %d: ", s->r->index);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Make room and read more.  While pipelined commands remain unsent, wait
 * for either direction, so neither side can block the other with full
 * socket buffers.  0 on data, -1 on end of input or error.
 */
static int
conn_fill(struct conn *c)
{
	struct pollfd pfd;
	ssize_t n;

	if (c->pos == c->len)
		c->pos = c->len = 0;
	else if (c->len == sizeof(c->in)) {
		memmove(c->in, c->in + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	for (;;) {
		if (c->pending_len > 0) {
			pfd.fd = c->fd;
			pfd.events = POLLIN | POLLOUT;
			if (poll(&pfd, 1, -1) == -1) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			if (pfd.revents & POLLOUT) {
				n = send(c->fd, c->pending, c->pending_len,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n > 0) {
					c->pending += n;
					c->pending_len -= (size_t)n;
				} else if (n == -1 && errno != EAGAIN &&
				    errno != EINTR)
					return -1;
			}
			if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
		}
		n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return 0;
		}
		if (n == 0 || errno != EINTR)
			return -1;
	}
}

static int
conn_write(struct conn *c, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * One short line (status, LIST, UIDL) into buf without its line end.
 * 1: a line ending in CRLF; 0: a line ending in a bare LF; -1: input
 * ended or the line is too long.
 */
static int
read_line(struct conn *c, char *buf, size_t size)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->in + c->pos, '\n', c->len - c->pos);
		if (nl != NULL)
			break;
		if (c->len - c->pos >= size)
			return -1;
		if (conn_fill(c) == -1)
			return -1;
	}
	n = (size_t)(nl - (c->in + c->pos));
	c->pos += n + 1;
	if (n >= size)
		return -1;
	memcpy(buf, nl - n, n);
	if (n > 0 && buf[n - 1] == '\r') {
		buf[n - 1] = '\0';
		return 1;
	}
	buf[n] = '\0';
	return 0;
}

/* Read a status line; 1 for +OK, 0 for -ERR (reported), -1 fatal. */
static int
status(struct session *s, const char *what, char *line, size_t size)
{
	char buf[LINE_MAX_LEN];
	int rv;

	if (line == NULL) {
		line = buf;
		size = sizeof(buf);
	}
	rv = read_line(s->c, line, size);
	if (rv == -1) {
		fail(s, "%s: connection closed or status line too long", what);
		return -1;
	}
	if (rv == 0)
		fail(s, "%s: status line ends in a bare LF", what);
	if (strncmp(line, "+OK", 3) == 0 &&
	    (line[3] == '\0' || line[3] == ' '))
		return 1;
	if (strncmp(line, "-ERR", 4) == 0) {
		fail(s, "%s: %s", what, line);
		return 0;
	}
	fail(s, "%s: not a status line: %.80s", what, line);
	return -1;
}

/*
 * Stream a multi-line body to its terminator, counting what the message
 * holds: each line's octets with CRLF, less the stuffed dot.  The scan
 * keeps only a little state per line, so lines of any length work.
 * *last_len is the length of the final line without its CRLF.
 * 0 on a clean body, -1 when the connection ended first.
 */
static int
read_body(struct session *s, const char *what, uint64_t *octets,
    uint64_t *last_len)
{
	struct conn *c = s->c;
	uint64_t line_len = 0, count = 0, prev_len = UINT64_MAX;
	int first_dot = 0, prev_cr = 0, bare_lf = 0, crlf;
	char *start, *nl;
	size_t n;

	for (;;) {
		if (c->pos == c->len && conn_fill(c) == -1) {
			fail(s, "%s: connection closed inside a body", what);
			return -1;
		}
		start = c->in + c->pos;
		if (line_len == 0)
			first_dot = *start == '.';
		nl = memchr(start, '\n', c->len - c->pos);
		if (nl == NULL) {
			n = c->len - c->pos;
			line_len += n;
			prev_cr = start[n - 1] == '\r';
			c->pos = c->len;
			continue;
		}
		n = (size_t)(nl - start) + 1;
		c->pos += n;
		line_len += n;
		crlf = n >= 2 ? nl[-1] == '\r' : prev_cr;
		if (first_dot && line_len == (crlf ? 3u : 2u))
			break;		/* ".CRLF" */
		if (!crlf)
			bare_lf++;
		count += line_len - (first_dot ? 1 : 0);
		prev_len = line_len - (crlf ? 2 : 1);
		line_len = 0;
	}
	if (bare_lf > 0)
		fail(s, "%s: %d line(s) end in a bare LF", what, bare_lf);
	if (!crlf)
		fail(s, "%s: terminator ends in a bare LF", what);
	*octets = count;
	if (last_len != NULL)
		*last_len = prev_len;
	return 0;
}

static int
parse_u64(const char *p, const char **end, uint64_t *v)
{
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	*end = p;
	return 0;
}

static int
read_stat(struct session *s)
{
	char line[LINE_MAX_LEN];
	const char *p;

	if (status(s, "STAT", line, sizeof(line)) != 1)
		return -1;
	p = line + 3;
	if (*p++ != ' ' || parse_u64(p, &p, &s->count) == -1 ||
	    *p++ != ' ' || parse_u64(p, &p, &s->total) == -1) {
		fail(s, "STAT: cannot parse: %.80s", line);
		return -1;
	}
	if (s->opt->workload == W_EMPTY && (s->count != 0 || s->total != 0))
		fail(s, "mailbox not empty: %llu messages, %llu octets",
		    (unsigned long long)s->count,
		    (unsigned long long)s->total);
	return 0;
}

static int
read_list(struct session *s)
{
	char line[LINE_MAX_LEN];
	const char *p;
	uint64_t n, size, seen = 0, sum = 0;
	int rv;

	if (status(s, "LIST", NULL, 0) != 1)
		return -1;
	free(s->sizes);
	if ((s->sizes = calloc(s->count + 1, sizeof(*s->sizes))) == NULL) {
		fail(s, "LIST: out of memory");
		return -1;
	}
	for (;;) {
		if ((rv = read_line(s->c, line, sizeof(line))) == -1) {
			fail(s, "LIST: connection closed or line too long");
			return -1;
		}
		if (rv == 0)
			fail(s, "LIST: line ends in a bare LF");
		if (strcmp(line, ".") == 0)
			break;
		if (parse_u64(line, &p, &n) == -1 || *p++ != ' ' ||
		    parse_u64(p, &p, &size) == -1 || *p != '\0') {
			fail(s, "LIST: cannot parse: %.80s", line);
			continue;
		}
		if (n == 0 || n > s->count || s->sizes[n] != 0 || size == 0) {
			fail(s, "LIST: unexpected entry: %.80s", line);
			continue;
		}
		s->sizes[n] = size;
		seen++;
		sum += size;
	}
	if (seen != s->count || sum != s->total)
		fail(s, "LIST: %llu messages of %llu octets, STAT said %llu "
		    "of %llu", (unsigned long long)seen,
		    (unsigned long long)sum, (unsigned long long)s->count,
		    (unsigned long long)s->total);
	return 0;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
read_uidl(struct session *s)
{
	char line[LINE_MAX_LEN], **uids;
	const char *p, *q;
	uint64_t n, seen = 0, i;
	int rv, bad = 0;

	if (status(s, "UIDL", NULL, 0) != 1)
		return -1;
	if ((uids = calloc(s->count + 1, sizeof(*uids))) == NULL) {
		fail(s, "UIDL: out of memory");
		return -1;
	}
	for (;;) {
		if ((rv = read_line(s->c, line, sizeof(line))) == -1) {
			fail(s, "UIDL: connection closed or line too long");
			bad = -1;
			break;
		}
		if (rv == 0)
			fail(s, "UIDL: line ends in a bare LF");
		if (strcmp(line, ".") == 0)
			break;
		if (parse_u64(line, &p, &n) == -1 || *p++ != ' ' ||
		    n == 0 || n > s->count || uids[n - 1] != NULL) {
			fail(s, "UIDL: unexpected entry: %.80s", line);
			continue;
		}
		for (q = p; *q >= 0x21 && *q <= 0x7e; q++)
			continue;
		if (*q != '\0' || q == p || q - p > UID_MAX_LEN) {
			fail(s, "UIDL: bad unique-id: %.80s", line);
			continue;
		}
		if ((uids[n - 1] = strdup(p)) == NULL) {
			fail(s, "UIDL: out of memory");
			bad = -1;
			break;
		}
		seen++;
	}
	if (bad == 0 && seen != s->count)
		fail(s, "UIDL: %llu entries for %llu messages",
		    (unsigned long long)seen, (unsigned long long)s->count);
	if (bad == 0 && seen == s->count) {
		qsort(uids, seen, sizeof(*uids), compare_strings);
		for (i = 1; i < seen; i++)
			if (strcmp(uids[i - 1], uids[i]) == 0)
				fail(s, "UIDL: duplicate unique-id %s",
				    uids[i]);
	}
	for (i = 0; i < s->count; i++)
		free(uids[i]);
	free(uids);
	return bad;
}

/* The answer to RETR n or TOP n k, checked against LIST. */
static int
read_message(struct session *s, int top, uint64_t n)
{
	char what[64];
	uint64_t octets, last_len;
	int rv;

	snprintf(what, sizeof(what), "%s %llu", top ? "TOP" : "RETR",
	    (unsigned long long)n);
	if ((rv = status(s, what, NULL, 0)) != 1)
		return rv;
	if (read_body(s, what, &octets, &last_len) == -1)
		return -1;
	s->r->messages++;
	s->r->octets += octets;
	if (s->sizes == NULL || n > s->count)
		return 1;
	if (!top && octets != s->sizes[n])
		fail(s, "%s: %llu octets sent, LIST said %llu", what,
		    (unsigned long long)octets,
		    (unsigned long long)s->sizes[n]);
	if (top && octets > s->sizes[n])
		fail(s, "%s: %llu octets sent, more than the %llu of LIST",
		    what, (unsigned long long)octets,
		    (unsigned long long)s->sizes[n]);
	if (top && s->opt->top_lines == 0 && last_len != 0)
		fail(s, "%s: does not end with the blank line after the "
		    "header", what);
	return 1;
}

/* Grow the plan by one step. */
static int
plan_add(struct session *s, enum step_kind kind, uint64_t n)
{
	struct step *grown;
	size_t cap;

	if (s->nsteps == s->cap) {
		cap = s->cap == 0 ? 16 : s->cap * 2;
		if ((grown = realloc(s->steps, cap * sizeof(*grown))) == NULL) {
			fail(s, "out of memory");
			return -1;
		}
		s->steps = grown;
		s->cap = cap;
	}
	s->steps[s->nsteps].kind = kind;
	s->steps[s->nsteps].n = n;
	s->nsteps++;
	return 0;
}

static int
step_format(const struct session *s, const struct step *st, char *buf,
    size_t size)
{
	unsigned long long n = (unsigned long long)st->n;

	switch (st->kind) {
	case S_USER:
		return snprintf(buf, size, "USER %s\r\n", s->user);
	case S_PASS:
		return snprintf(buf, size, "PASS %s\r\n", s->opt->password);
	case S_STAT:
		return snprintf(buf, size, "STAT\r\n");
	case S_LIST:
		return snprintf(buf, size, "LIST\r\n");
	case S_UIDL:
		return snprintf(buf, size, "UIDL\r\n");
	case S_RETR:
		return snprintf(buf, size, "RETR %llu\r\n", n);
	case S_TOP:
		return snprintf(buf, size, "TOP %llu %d\r\n", n,
		    s->opt->top_lines);
	case S_DELE:
		return snprintf(buf, size, "DELE %llu\r\n", n);
	case S_QUIT:
		return snprintf(buf, size, "QUIT\r\n");
	}
	return -1;
}

static int
step_read(struct session *s, const struct step *st)
{
	char what[64];

	switch (st->kind) {
	case S_USER:
		return status(s, "USER", NULL, 0) == 1 ? 0 : -1;
	case S_PASS:
		return status(s, "PASS", NULL, 0) == 1 ? 0 : -1;
	case S_STAT:
		return read_stat(s);
	case S_LIST:
		return read_list(s);
	case S_UIDL:
		return read_uidl(s);
	case S_RETR:
	case S_TOP:
		return read_message(s, st->kind == S_TOP, st->n) == -1 ? -1 : 0;
	case S_DELE:
		snprintf(what, sizeof(what), "DELE %llu",
		    (unsigned long long)st->n);
		return status(s, what, NULL, 0) == -1 ? -1 : 0;
	case S_QUIT:
		return status(s, "QUIT", NULL, 0) == 1 ? 0 : -1;
	}
	return -1;
}

/*
 * Carry out the plan: one command, then its answer; or, pipelined, every
 * command in one write and then every answer.  A -ERR is counted and the
 * plan goes on, since the answers stay in step; a broken answer stops it.
 */
static int
plan_run(struct session *s, int pipelined)
{
	struct conn *c = s->c;
	char *buf = NULL, *p;
	size_t i, size;
	double t = 0;
	int n, rv = 0;

	size = s->nsteps * 64 + 256;
	if ((buf = malloc(size)) == NULL) {
		fail(s, "out of memory");
		return -1;
	}
	if (pipelined) {
		for (p = buf, i = 0; i < s->nsteps; i++) {
			n = step_format(s, &s->steps[i], p,
			    size - (size_t)(p - buf));
			if (n < 0 || (size_t)n >= size - (size_t)(p - buf)) {
				fail(s, "command too long");
				goto out;
			}
			p += n;
		}
		c->pending = buf;
		c->pending_len = (size_t)(p - buf);
	}
	for (i = 0; i < s->nsteps; i++) {
		if (s->steps[i].kind == S_QUIT)
			t = now_ms();
		if (!pipelined) {
			n = step_format(s, &s->steps[i], buf, size);
			if (n < 0 || (size_t)n >= size ||
			    conn_write(c, buf, (size_t)n) == -1) {
				fail(s, "write: %s", strerror(errno));
				rv = -1;
				break;
			}
		}
		if (step_read(s, &s->steps[i]) == -1) {
			rv = -1;
			break;
		}
		if (s->steps[i].kind == S_QUIT) {
			s->r->quit_ms = now_ms() - t;
			s->quit_done = 1;
		}
	}
out:
	c->pending = NULL;
	c->pending_len = 0;
	s->nsteps = 0;
	free(buf);
	return rv;
}

static int
connect_tcp(struct session *s)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)s->opt->port);
	if (inet_pton(AF_INET, s->opt->host, &sin.sin_addr) != 1) {
		fail(s, "bad address %s", s->opt->host);
		return -1;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		fail(s, "socket: %s", strerror(errno));
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno == EINTR)
			continue;
		fail(s, "connect %s:%d: %s", s->opt->host, s->opt->port,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The server on one end of a socketpair, as fd 0 and 1, like inetd does. */
static int
spawn_server(struct session *s)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		fail(s, "socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		fail(s, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		if (dup2(sv[1], 0) == -1 || dup2(sv[1], 1) == -1)
			_exit(127);
		if (sv[1] > 1)
			close(sv[1]);
		setenv("POPLOAD_USER", s->user, 1);
		signal(SIGPIPE, SIG_DFL);
		execvp(s->opt->command[0], s->opt->command);
		fprintf(stderr, "popload: %s: %s\n", s->opt->command[0],
		    strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	s->server = pid;
	server_pid = pid;
	return sv[0];
}

static void
reap_server(struct session *s)
{
	struct rusage ru;
	int st;

	if (s->server <= 0)
		return;
	while (wait4(s->server, &st, 0, &ru) == -1) {
		if (errno != EINTR) {
			fail(s, "wait4: %s", strerror(errno));
			return;
		}
	}
	server_pid = 0;
	s->server = 0;
	s->r->server_status = WIFEXITED(st) ? WEXITSTATUS(st) :
	    128 + WTERMSIG(st);
	s->r->server_user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	s->r->server_sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	s->r->server_maxrss_kb = ru.ru_maxrss;
	if (s->r->server_status != 0)
		fail(s, "server exited with status %d", s->r->server_status);
}

/* One whole session: greeting to QUIT, then the server's exit. */
static void
run_session(struct session *s)
{
	const struct options *o = s->opt;
	struct conn *c = s->c;
	double t0;
	uint64_t n;
	int fd;

	t0 = now_ms();
	fd = o->command != NULL ? spawn_server(s) : connect_tcp(s);
	if (fd == -1)
		return;
	c->fd = fd;
	c->pos = c->len = 0;
	c->pending = NULL;
	c->pending_len = 0;
	if (status(s, "greeting", NULL, 0) != 1)
		goto out;
	s->r->greet_ms = now_ms() - t0;
	/* Logging in is never pipelined: it changes the server's state. */
	if (plan_add(s, S_USER, 0) == -1 || plan_add(s, S_PASS, 0) == -1 ||
	    plan_run(s, 0) == -1)
		goto out;
	s->r->login_ms = now_ms() - t0 - s->r->greet_ms;
	if (plan_add(s, S_STAT, 0) == -1)
		goto out;
	switch (o->workload) {
	case W_STAT:
	case W_EMPTY:
		break;
	case W_LIST:
		if (plan_add(s, S_LIST, 0) == -1 || plan_add(s, S_UIDL, 0))
			goto out;
		break;
	case W_DELE1:
		if (plan_add(s, S_DELE, 1) == -1)
			goto out;
		break;
	case W_RETR:
	case W_DELE:
	case W_TOP:
		/* The message count must be known before the batch. */
		if (plan_add(s, S_LIST, 0) == -1 || plan_run(s, o->pipelined))
			goto out;
		for (n = 1; n <= s->count; n++) {
			if (plan_add(s, o->workload == W_TOP ? S_TOP : S_RETR,
			    n) == -1)
				goto out;
			if (o->workload == W_DELE && plan_add(s, S_DELE, n))
				goto out;
		}
		break;
	}
	if (plan_add(s, S_QUIT, 0) == -1 || plan_run(s, o->pipelined) == -1)
		goto out;
	s->r->total_ms = now_ms() - t0;
	/* Whatever follows QUIT's answer is a protocol error. */
	if (c->pos < c->len || conn_fill(c) == 0)
		fail(s, "data after the QUIT answer");
out:
	if (!s->quit_done && s->r->errors == 0)
		fail(s, "session ended before QUIT was answered");
	if (s->r->total_ms == 0)
		s->r->total_ms = now_ms() - t0;
	close(fd);
	reap_server(s);
	free(s->sizes);
	s->sizes = NULL;
	free(s->steps);
	s->steps = NULL;
	s->nsteps = s->cap = 0;
}

/* USER with its %d, if any, replaced by the session number. */
static void
session_init(struct session *s, const struct options *o, struct result *r,
    int index)
{
	const char *mark;

	memset(s, 0, sizeof(*s));
	memset(r, 0, sizeof(*r));
	s->opt = o;
	s->r = r;
	r->index = index;
	if ((mark = strstr(o->user, "%d")) != NULL)
		snprintf(s->user, sizeof(s->user), "%.*s%d%s",
		    (int)(mark - o->user), o->user, index, mark + 2);
	else
		snprintf(s->user, sizeof(s->user), "%s", o->user);
	if ((s->c = malloc(sizeof(*s->c))) == NULL) {
		perror("popload: malloc");
		exit(1);
	}
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const struct options *o, struct result *rs, int n, double wall)
{
	struct result sum;
	double greet[MAX_SESSIONS], login[MAX_SESSIONS];
	int i;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < n; i++) {
		sum.errors += rs[i].errors;
		sum.messages += rs[i].messages;
		sum.octets += rs[i].octets;
		sum.quit_ms += rs[i].quit_ms;
		sum.server_user_s += rs[i].server_user_s;
		sum.server_sys_s += rs[i].server_sys_s;
		if (rs[i].server_maxrss_kb > sum.server_maxrss_kb)
			sum.server_maxrss_kb = rs[i].server_maxrss_kb;
		greet[i] = rs[i].greet_ms;
		login[i] = rs[i].login_ms;
	}
	qsort(greet, (size_t)n, sizeof(double), compare_doubles);
	qsort(login, (size_t)n, sizeof(double), compare_doubles);
	printf("workload=%s pipelined=%d sessions=%d messages=%llu "
	    "octets=%llu errors=%d greet_ms=%.3f login_ms=%.3f quit_ms=%.3f "
	    "total_ms=%.3f",
	    workload_names[o->workload], o->pipelined, n,
	    (unsigned long long)sum.messages, (unsigned long long)sum.octets,
	    sum.errors, greet[n / 2], login[n / 2], sum.quit_ms / n, wall);
	if (o->command != NULL)
		printf(" server_user_s=%.6f server_sys_s=%.6f "
		    "server_maxrss_kb=%ld", sum.server_user_s,
		    sum.server_sys_s, sum.server_maxrss_kb);
	printf("\n");
	fflush(stdout);
}

/* SESSIONS processes, released together, each reporting through a pipe. */
static int
run_concurrent(const struct options *o)
{
	static struct result rs[MAX_SESSIONS];
	struct session s;
	pid_t pids[MAX_SESSIONS];
	double t0;
	ssize_t got;
	size_t off;
	int go[2], results[2], i, st, errors = 0;
	char byte;

	if (pipe(go) == -1 || pipe(results) == -1) {
		perror("popload: pipe");
		return 1;
	}
	for (i = 0; i < o->sessions; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("popload: fork");
			return 1;
		}
		if (pids[i] == 0) {
			struct result r;

			session_count = 0;
			alarm((unsigned)o->timeout);
			close(go[1]);
			close(results[0]);
			session_init(&s, o, &r, i + 1);
			/* Blocks until the parent closes the write end. */
			while (read(go[0], &byte, 1) == -1 && errno == EINTR)
				continue;
			run_session(&s);
			if (write(results[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			_exit(r.errors > 0);
		}
		session_pids[i] = pids[i];
		session_count = i + 1;
	}
	close(go[0]);
	close(results[1]);
	t0 = now_ms();
	close(go[1]);
	for (i = 0; i < o->sessions; i++) {
		for (off = 0; off < sizeof(rs[i]); off += (size_t)got) {
			got = read(results[0], (char *)&rs[i] + off,
			    sizeof(rs[i]) - off);
			if (got <= 0) {
				if (got == -1 && errno == EINTR) {
					got = 0;
					continue;
				}
				fprintf(stderr, "popload: a session died\n");
				rs[i].errors = 1;
				break;
			}
		}
	}
	report(o, rs, o->sessions, now_ms() - t0);
	for (i = 0; i < o->sessions; i++) {
		while (waitpid(pids[i], &st, 0) == -1 && errno == EINTR)
			continue;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			errors++;
	}
	return errors > 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct session s;
	struct result r;
	char *end;
	int ch, i;

	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.user = "benchuser";
	o.password = "benchpw";
	o.sessions = 1;
	o.timeout = 600;
	/* '+': stop at the workload, so the server's own flags pass through. */
	while ((ch = getopt(argc, argv, "+c:h:n:p:Pt:u:w:")) != -1) {
		switch (ch) {
		case 'c':
			o.sessions = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.sessions < 1 ||
			    o.sessions > MAX_SESSIONS)
				usage();
			break;
		case 'h':
			o.host = optarg;
			break;
		case 'n':
			o.top_lines = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.top_lines < 0)
				usage();
			break;
		case 'p':
			o.port = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.port < 1 || o.port > 65535)
				usage();
			break;
		case 'P':
			o.pipelined = 1;
			break;
		case 't':
			o.timeout = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.timeout < 1)
				usage();
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'w':
			o.password = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; workload_names[i] != NULL; i++)
		if (strcmp(argv[0], workload_names[i]) == 0)
			break;
	if (workload_names[i] == NULL)
		usage();
	o.workload = (enum workload)i;
	if (argc > 1 && strcmp(argv[1], "--") == 0) {
		argc--;
		argv++;
	}
	if (argc > 1)
		o.command = argv + 1;
	else if (o.port == 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)o.timeout);
	if (o.sessions > 1)
		return run_concurrent(&o);
	session_init(&s, &o, &r, 1);
	run_session(&s);
	report(&o, &r, 1, r.total_ms);
	return r.errors > 0;
}
