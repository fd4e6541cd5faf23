/*
 * pop3d: one POP3 session on stdin/stdout against an mbox.  main() reads
 * the options, makes ready what needs privileges (the password file, the
 * account sessions run as), and hands over to the session (session.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth.h"
#include "hashpw.h"
#include "log.h"
#include "params.h"
#include "session.h"

/* sysexits(3): a wrong option or value. */
#define EX_USAGE	64

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pop3d [-f MBOX | -m TEMPLATE] [-p PASSWDFILE [-u USER]] "
	    "[-i DIR] [-t SECONDS] [-e]\n"
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

	while ((c = getopt(argc, argv, ":f:m:p:u:i:t:ePVh")) != -1) {
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
			if (optarg[0] != '/') {
				fprintf(stderr, "pop3d: -i: an absolute "
				    "directory\n");
				return EX_USAGE;
			}
			cfg.index_dir = optarg;
			break;
		case 'P':
			hash = 1;
			break;
		case 't':
			if (!reply_number(optarg, &t) || t == 0 ||
			    t > IDLE_TIMEOUT_MAX) {
				fprintf(stderr, "pop3d: -t: a number of "
				    "seconds from 1 to %d\n", IDLE_TIMEOUT_MAX);
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
		return hashpw_main();
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
	c = session_run(&cfg, timeout);
	auth_end(&cfg);
	return c;
}
