/*
 * How the mailbox, the update and the spool report failure: a call returns
 * 0, or -1 with a struct fault filled in: what kind of failure (which the
 * session turns into an RFC 3206 response code) and why, in words for the
 * log and the client.  errno is not part of the answer.
 */
#ifndef FAULT_H
#define FAULT_H

enum fault_code {
	FAULT_TEMP = 1,		/* lock timeout, I/O error, changed: [SYS/TEMP] */
	FAULT_PERM,		/* not an mbox, not a file, no access: [SYS/PERM] */
	FAULT_INUSE		/* another session holds it: [IN-USE] */
};

struct fault {
	enum fault_code	code;
	char		text[256];
};

int	fault_set(struct fault *, enum fault_code, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	fault_sys(struct fault *, enum fault_code, const char *);

#endif
