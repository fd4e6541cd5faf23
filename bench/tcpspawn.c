/*
 * tcpspawn: a minimal inetd for the benchmark.  It listens on 127.0.0.1,
 * and for each connection forks a server with the socket on fd 0 and 1,
 * as inetd's "nowait" services get it; then it reports what that server
 * cost, read with wait4 when it exits.
 *
 *	tcpspawn [-D] [-e ERRFILE] [-n CONNECTIONS] [-p PORT] [-r RUSAGEFILE]
 *	    [-t SECONDS] [-w PORTFILE] COMMAND [ARG ...]
 *	tcpspawn -x [-r RUSAGEFILE] [-t SECONDS] COMMAND [ARG ...]
 *
 * Every server under test goes through this one launcher, so launcher
 * differences (tcpserver sets TCP_NODELAY, inetd does not) cannot
 * favour any of them.  Like inetd it leaves the socket options alone;
 * -D sets TCP_NODELAY, to see what a server gains from it.
 *
 * Without -p a free port between 20000 and 29999 is picked at random.
 * The port is written to PORTFILE (or standard output) once the socket
 * listens.  After CONNECTIONS servers have exited (default 1) tcpspawn
 * exits; after SECONDS (default 600) it kills the servers it started and
 * exits with status 3.  Each exited server adds one line to RUSAGEFILE:
 *
 *	pid=N status=N user_s=F sys_s=F maxrss_kb=N wall_ms=F
 *
 * where the times and maxrss include the server's own waited-for
 * children (Linux wait4 semantics), so privilege-separated servers are
 * measured whole.  Server stderr goes to ERRFILE, or /dev/null.
 *
 * -x listens on nothing: it runs COMMAND once on its own descriptors and
 * reports the same line, for a server started by someone else (Dovecot's
 * post-login script runs its pop3 process this way).  The exit status is
 * then COMMAND's.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN	1000

/* Tries at a random port before giving up: the range is shared. */
#define PORT_TRIES	200

struct child {
	pid_t	pid;
	double	start_ms;
};

static struct child children[MAX_CHILDREN];
static volatile sig_atomic_t nchildren;

static void	usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: tcpspawn [-D] [-e errfile] [-n connections] "
	    "[-p port] [-r rusagefile]\n"
	    "\t[-t seconds] [-w portfile] command [arg ...]\n"
	    "       tcpspawn -x [-r rusagefile] [-t seconds] command "
	    "[arg ...]\n");
	exit(64);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
on_alarm(int sig)
{
	static const char msg[] = "tcpspawn: timeout, servers killed\n";
	int i;

	(void)sig;
	for (i = 0; i < nchildren; i++)
		if (children[i].pid > 0)
			kill(children[i].pid, SIGKILL);
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(3);
}

static int
listen_on(int *port)
{
	struct sockaddr_in sin;
	int fd, tries, one = 1;

	for (tries = 0; tries < PORT_TRIES; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (*port == 0 || tries > 0)
			*port = 20000 + (int)((unsigned)rand() % 10000);
		sin.sin_port = htons((uint16_t)*port);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(fd, 128) == 0)
			return fd;
		close(fd);
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

static void
report(FILE *out, pid_t pid, int st, const struct rusage *ru, double wall)
{
	fprintf(out, "pid=%ld status=%d user_s=%.6f sys_s=%.6f maxrss_kb=%ld "
	    "wall_ms=%.3f\n", (long)pid,
	    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
	    ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6,
	    ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6,
	    ru->ru_maxrss, wall);
	fflush(out);
}

/*
 * Reap what has exited; wait for one if block is set.  Returns how many
 * were reaped; *status is the last one's exit status.
 */
static int
reap(FILE *out, int block, int *status)
{
	struct rusage ru;
	pid_t pid;
	int st, i, reaped = 0;

	for (;;) {
		pid = wait4(-1, &st, block && reaped == 0 ? 0 : WNOHANG, &ru);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			return reaped;
		for (i = 0; i < nchildren; i++)
			if (children[i].pid == pid)
				break;
		report(out, pid, st, &ru, i < nchildren ?
		    now_ms() - children[i].start_ms : 0);
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (i < nchildren)
			children[i].pid = -children[i].pid;
		reaped++;
	}
}

int
main(int argc, char **argv)
{
	const char *errfile = "/dev/null", *portfile = NULL, *rufile = NULL;
	FILE *out, *pf;
	char *end;
	int ch, lfd, cfd, efd, port = 0, want = 1, timeout = 600, nodelay = 0;
	int accepted = 0, done = 0, one = 1, exec_only = 0, status = 0;
	pid_t pid;

	while ((ch = getopt(argc, argv, "+De:n:p:r:t:w:x")) != -1) {
		switch (ch) {
		case 'D':
			nodelay = 1;
			break;
		case 'e':
			errfile = optarg;
			break;
		case 'n':
			want = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || want < 1 || want > MAX_CHILDREN)
				usage();
			break;
		case 'p':
			port = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || port < 1 || port > 65535)
				usage();
			break;
		case 'r':
			rufile = optarg;
			break;
		case 't':
			timeout = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || timeout < 1)
				usage();
			break;
		case 'w':
			portfile = optarg;
			break;
		case 'x':
			exec_only = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();

	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)timeout);
	out = stdout;
	if (rufile != NULL && (out = fopen(rufile, "a")) == NULL) {
		fprintf(stderr, "tcpspawn: %s: %s\n", rufile, strerror(errno));
		return 1;
	}
	if (exec_only) {
		children[0].start_ms = now_ms();
		if ((pid = fork()) == -1) {
			fprintf(stderr, "tcpspawn: fork: %s\n",
			    strerror(errno));
			return 1;
		}
		if (pid == 0) {
			signal(SIGPIPE, SIG_DFL);
			alarm(0);
			execvp(argv[0], argv);
			_exit(127);
		}
		children[0].pid = pid;
		nchildren = 1;
		if (reap(out, 1, &status) == 0)
			return 1;
		return status;
	}
	if ((lfd = listen_on(&port)) == -1) {
		fprintf(stderr, "tcpspawn: listen: %s\n", strerror(errno));
		return 1;
	}
	if (portfile != NULL) {
		/* Written whole then renamed, so a reader never sees half. */
		char tmp[4096];

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		if ((pf = fopen(tmp, "w")) == NULL ||
		    fprintf(pf, "%d\n", port) < 0 || fclose(pf) == EOF ||
		    rename(tmp, portfile) == -1) {
			fprintf(stderr, "tcpspawn: %s: %s\n", portfile,
			    strerror(errno));
			return 1;
		}
	} else {
		printf("%d\n", port);
		fflush(stdout);
	}

	while (accepted < want) {
		if ((cfd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "tcpspawn: accept: %s\n",
			    strerror(errno));
			return 1;
		}
		if (nodelay)
			setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
		children[accepted].start_ms = now_ms();
		if ((pid = fork()) == -1) {
			fprintf(stderr, "tcpspawn: fork: %s\n",
			    strerror(errno));
			return 1;
		}
		if (pid == 0) {
			close(lfd);
			efd = open(errfile, O_WRONLY | O_CREAT | O_APPEND,
			    0644);
			if (dup2(cfd, 0) == -1 || dup2(cfd, 1) == -1 ||
			    (efd != -1 && dup2(efd, 2) == -1))
				_exit(127);
			if (cfd > 2)
				close(cfd);
			if (efd > 2)
				close(efd);
			signal(SIGPIPE, SIG_DFL);
			alarm(0);
			execvp(argv[0], argv);
			_exit(127);
		}
		close(cfd);
		children[accepted].pid = pid;
		nchildren = ++accepted;
		done += reap(out, 0, &status);
	}
	close(lfd);
	while (done < want) {
		if ((ch = reap(out, 1, &status)) == 0)
			break;		/* no children left */
		done += ch;
	}
	return 0;
}
