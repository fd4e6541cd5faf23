/*
 * pop3d: limits and the types shared between the session, the mailbox and
 * authentication.  Each limit says why it is what it is.
 */
#ifndef POP3D_H
#define POP3D_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

#define POP3D_VERSION	"1.0"

/*
 * RFC 2449 section 4: "The maximum length of a command is increased from 47
 * characters (4 character command, single space, 40 character argument, CRLF)
 * to 255 octets, including the terminating CRLF."
 */
#define CMD_LINE_MAX	255

/*
 * RFC 5034 section 4: a SASL response line may be longer than a command;
 * 4096 octets hold any PLAIN or CRAM-MD5 response a real client sends.
 */
#define SASL_LINE_MAX	4096

/* Dovecot ends a session after 20 bad commands; a client that far off is lost. */
#define BAD_COMMANDS_MAX	20

/*
 * Failed logins before the session ends.  Every failure is answered
 * FAIL_DELAY_MS after the attempt began, whatever failed (no such user,
 * wrong secret, refused account), so neither the answer nor its timing
 * tells which.  A test build may shorten the delay (make pop3d-fastfail);
 * the installed binary keeps one second.
 */
#define AUTH_FAILURES_MAX	3
#ifndef FAIL_DELAY_MS
#define FAIL_DELAY_MS		1000
#endif

/*
 * uid 0 cannot log in with a password over POP3: root's mail is read
 * through an alias.  Sites that disagree build with -DALLOW_UID0_LOGIN=1.
 */
#ifndef ALLOW_UID0_LOGIN
#define ALLOW_UID0_LOGIN	0
#endif

/* RFC 1939 section 3: an autologout timer "of at least 10 minutes". */
#define IDLE_TIMEOUT_DEFAULT	600

/* User names: longer ones are refused before they go near a path. */
#define USER_NAME_MAX	64

/*
 * Input is read in 4 KB pieces (a pipelined batch of commands fits); output
 * is gathered in 64 KB so RETR streams in large writes and a batch of
 * answers leaves in one.
 */
#define IN_BUF_SIZE	4096
#define OUT_BUF_SIZE	65536

/* Where the session logs: syslog(LOG_MAIL), or stderr with -e. */
void	log_open(int to_stderr);
void	log_msg(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
