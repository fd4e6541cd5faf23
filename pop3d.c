/*
 * pop3d: one POP3 session on stdin/stdout against an mbox.  main() reads
 * the options, checks what it can before a byte from the client (the
 * accounts sessions and the pre-login child run as), and hands over to
 * the session (monitor.c).
 *
 * Under xinetd and inetd standard error is the client's socket.  Then
 * nothing is ever written there: every message goes to syslog, and a
 * client of a pop3d that cannot start gets one -ERR line.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "check.h"
#include "hashpw.h"
#include "log.h"
#include "params.h"
#include "session.h"

/* sysexits(3): a wrong option or value. */
#define EX_USAGE	64

static int stderr_is_client;	/* fd 2 is the connection: never write it */
static int log_to_stderr;	/* -e */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pop3d [-f MBOX | -m TEMPLATE] [-p PASSWDFILE [-u USER]] "
	    "[-i DIR] [-t SECONDS]\n"
	    "             [-L SECONDS] [-U USER] [-R DIR] [-T STUNNELCONF | -a] "
	    "[-x]\n"
	    "             [-H PROXIES] [-S] [-e]\n"
	    "       pop3d -C [options]\n"
	    "       pop3d -P | -V | -h\n"
	    "  -f MBOX        serve this mailbox to every user\n"
	    "  -m TEMPLATE    mailbox per user, %%u = user name "
	    "(default /var/mail/%%u)\n"
	    "  -p PASSWDFILE  virtual users: lines user:secret[:mailbox];\n"
	    "                 without -p, system accounts (needs root; the "
	    "session\n"
	    "                 then runs as the user who logged in)\n"
	    "  -u USER        with -p: the account sessions run as\n"
	    "  -i DIR         keep mailbox indexes in DIR, not beside the "
	    "mailboxes\n"
	    "  -t SECONDS     idle timeout for each command line (default "
	    "%d)\n"
	    "  -L SECONDS     time a client has to log in (default %d)\n"
	    "  -U USER        the account of the process that reads the "
	    "client\n"
	    "                 before login (default %s)\n"
	    "  -R DIR         its chroot, an empty directory (default %s)\n"
	    "  -T STUNNELCONF offer STLS: on STLS, run stunnel in inetd mode "
	    "with this\n"
	    "                 configuration, whose exec runs pop3d -a\n"
	    "  -a             stunnel runs us after STLS: TLS is on, no "
	    "greeting\n"
	    "  -x             refuse USER, PASS, APOP and AUTH without TLS, "
	    "but from\n"
	    "                 loopback addresses\n"
	    "  -H PROXIES     trust PROXY protocol headers (v1, v2) from these "
	    "addresses\n"
	    "                 and networks: ADDR[/BITS][,...]; they must send "
	    "one\n"
	    "  -S             refuse to run without Landlock and seccomp\n"
	    "  -e             log to stderr instead of syslog\n"
	    "  -C             check the setup these options describe, say what "
	    "a\n"
	    "                 session would do, and exit 0 (good) or 1\n"
	    "  -P             read a password on stdin, print its crypt(3) "
	    "hash\n"
	    "  -V             print the version\n"
	    "  -h             print this help\n", IDLE_TIMEOUT_DEFAULT,
	    LOGIN_DEADLINE_DEFAULT, PRELOGIN_USER, PRELOGIN_DIR);
}

/* Is fd 2 the same open socket as fd 0 or fd 1 (xinetd, inetd)? */
static int
client_on_stderr(void)
{
	struct stat e, s;

	if (fstat(2, &e) == -1 || !S_ISSOCK(e.st_mode))
		return 0;
	for (int fd = 0; fd <= 1; fd++)
		if (fstat(fd, &s) == 0 && s.st_dev == e.st_dev &&
		    s.st_ino == e.st_ino)
			return 1;
	return 0;
}

/*
 * pop3d cannot start: say why in the log, on standard error unless that
 * is the client, and, to a client on a socket, one -ERR line and no
 * more.  show_usage adds the usage where it can be read.
 */
static int
refuse(int status, int show_usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(int status, int show_usage, const char *fmt, ...)
{
	static const char err[] = "-ERR [SYS/TEMP] server not available\r\n";
	char why[512];
	struct stat st;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* a usage error is the caller's to read; a failed start, the log's */
	if (stderr_is_client || status != EX_USAGE)
		log_msg(LOG_ERR, "%s", why);
	if (!stderr_is_client && (status == EX_USAGE || !log_to_stderr)) {
		fprintf(stderr, "pop3d: %s\n", why);
		if (show_usage)
			usage(stderr);
	}
	if (fstat(1, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)!write(1, err, sizeof(err) - 1);
	return status;
}

/* A number of seconds from 1 to max, or -1. */
static int
seconds(const char *arg, int max)
{
	uint64_t t;

	if (!reply_number(arg, &t) || t == 0 || t > (uint64_t)max)
		return -1;
	return (int)t;
}

int
main(int argc, char **argv)
{
	struct auth_config cfg = { .template = "/var/mail/%u" };
	struct options o = {
		.timeout = IDLE_TIMEOUT_DEFAULT,
		.deadline = LOGIN_DEADLINE_DEFAULT,
		.prelogin = { .user = PRELOGIN_USER, .dir = PRELOGIN_DIR },
	};
	int c, hash = 0, check = 0;
	const char *bad;
	char why[512];

	stderr_is_client = client_on_stderr();
	o.stderr_is_client = stderr_is_client;
	/* Until -e is read, and for good when stderr is the client. */
	log_open(0);
	while ((c = getopt(argc, argv, ":f:m:p:u:i:t:L:U:R:T:axH:CSePVh")) != -1) {
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
		case 'i':
			if (optarg[0] != '/')
				return refuse(EX_USAGE, 0, "-i: an absolute "
				    "directory");
			cfg.index_dir = optarg;
			break;
		case 'P':
			hash = 1;
			break;
		case 't':
			if ((o.timeout = seconds(optarg, IDLE_TIMEOUT_MAX)) == -1)
				return refuse(EX_USAGE, 0, "-t: a number of "
				    "seconds from 1 to %d", IDLE_TIMEOUT_MAX);
			break;
		case 'L':
			if ((o.deadline = seconds(optarg,
			    LOGIN_DEADLINE_MAX)) == -1)
				return refuse(EX_USAGE, 0, "-L: a number of "
				    "seconds from 1 to %d", LOGIN_DEADLINE_MAX);
			break;
		case 'U':
			o.prelogin.user = optarg;
			break;
		case 'R':
			o.prelogin.dir = optarg;
			break;
		case 'T':
			o.stls = optarg;
			break;
		case 'a':
			o.after_stls = 1;
			break;
		case 'x':
			o.tls_required = 1;
			break;
		case 'H':
#ifdef POP3D_SMALL
			(void)bad;
			return refuse(EX_USAGE, 0, "-H: not in this small build "
			    "(make static); a full build reads PROXY headers");
#endif
			if (proxy_list_add(&o.proxies, optarg, &bad) == -1)
				return refuse(EX_USAGE, 0, "-H %s: %s", optarg,
				    bad);
			break;
		case 'C':
			check = 1;
			break;
		case 'S':
			o.strict = 1;
			break;
		case 'e':
			log_to_stderr = !stderr_is_client;
			break;
		case 'V':
			printf("pop3d %s\n", POP3D_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return refuse(EX_USAGE, 1, "-%c needs an argument",
			    optopt);
		default:
			return refuse(EX_USAGE, 1, "unknown option -%c",
			    optopt);
		}
	}
	if (optind != argc)
		return refuse(EX_USAGE, 1, "unexpected argument %s",
		    argv[optind]);
	if (!auth_template_ok(cfg.template))
		return refuse(EX_USAGE, 0, "-m: only %%u and %%%% may follow "
		    "%%");
	if (hash)
		return hashpw_main();
	if (o.stls != NULL && o.after_stls)
		return refuse(EX_USAGE, 1, "-T offers STLS; -a is the pop3d "
		    "behind it, which offers none");
	if (o.stls != NULL && o.stls[0] != '/')
		return refuse(EX_USAGE, 0, "-T: an absolute path");
	if (cfg.run_as != NULL && cfg.passwd == NULL)
		return refuse(EX_USAGE, 1, "-u is for -p: a system account's "
		    "session runs as that account");
	if (check)
		return check_main(&cfg, &o);
	if (log_to_stderr)
		log_open(1);
	/*
	 * What can be checked before the session forks; the password file
	 * is read, and -u's account become, in the monitor after the fork.
	 */
	if (auth_check(&cfg, why, sizeof(why)) == -1 ||
	    priv_prelogin_check(&o.prelogin, why, sizeof(why)) == -1)
		return refuse(1, 0, "%s", why);
	/* A vanished client shows up as EPIPE from write(2). */
	signal(SIGPIPE, SIG_IGN);
	if (monitor_run(&cfg, &o, why, sizeof(why)) == -1) {
		auth_end(&cfg);
		return refuse(1, 0, "%s", why);
	}
	auth_end(&cfg);
	return 0;
}
